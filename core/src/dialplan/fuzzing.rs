//! The dial-plan pattern compiler and translation parser, reachable from the fuzz targets (`fuzz/`) only:
//! this module exists under `--cfg fuzzing` and is re-exported by `crate::fuzzing`.

use super::pattern::{self, CompiledPattern, PatternError};
use super::translation::{Token, Translation, TranslationError};

/// A compiled pattern with its translation, as one location-profile rule holds them.
pub struct FuzzRule {
    compiled: CompiledPattern,
    translation: Option<Translation>,
}

/// Compiles `pattern` ([`pattern::compile`]) and, when it compiles, parses `translation` against its groups.
pub fn compile(pattern: &str, translation: &str) -> Result<(FuzzRule, Result<(), TranslationError>), PatternError> {
    let compiled = pattern::compile(pattern)?;
    let parsed = Translation::parse(translation, &compiled.groups);
    let status = parsed.as_ref().map(|_| ()).map_err(Clone::clone);
    Ok((FuzzRule { compiled, translation: parsed.ok() }, status))
}

impl FuzzRule {
    /// fancy-regex's number of capture groups (the whole match included).
    pub fn captures_len(&self) -> usize {
        self.compiled.regex.captures_len()
    }

    /// The highest .NET group number.
    pub fn last_group(&self) -> usize {
        self.compiled.groups.last()
    }

    /// The fancy-regex index of .NET group `n`.
    pub fn fancy_index(&self, n: usize) -> Option<usize> {
        self.compiled.groups.fancy_index(n)
    }

    /// The parsed translation's tokens (empty when it did not parse).
    pub fn tokens(&self) -> &[Token] {
        self.translation.as_ref().map_or(&[], Translation::tokens)
    }

    /// Matches `input` and expands the translation over the match, as `LocationProfile::normalize` does for a
    /// whole-string match: `Ok(None)` when nothing matches, `Err` when the backtrack limit was hit.
    pub fn apply(&self, input: &str) -> Result<Option<String>, String> {
        let caps = match self.compiled.regex.captures(input) {
            Ok(Some(caps)) => caps,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        Ok(self.translation.as_ref().map(|t| t.expand(input, &caps, &self.compiled.groups)))
    }
}
