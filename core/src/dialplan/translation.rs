//! Rule translations: .NET replacement templates ([MS-SIPRE] 2.2.8.2 `Translation`), parsed at
//! load into tokens and expanded over fancy-regex captures.
//!
//! A .NET template is never handed to fancy-regex's `replace`: the two read `$` differently.
//! The rules below follow `RegexParser.ScanDollar` in the .NET reference source (default,
//! non-ECMAScript mode) and were checked on Mono 6.8:
//!
//! - `$` + digits: *all* the digits are read as one number; if that is a group number it is a
//!   reference, otherwise the `$` is literal. So `$1a` is group 1 then "a" (fancy-regex: group
//!   "1a"), and `$10` with two groups is the literal text "$10" (fancy-regex: empty group 10).
//!   The "longest valid group number" reading is .NET's ECMAScript mode only; Mono gives
//!   `+1425555$102` for `+1425555$10$2` over `^(\d)(\d)$` on "12".
//! - `${n}` / `${name}`: a reference when it names a group and is closed by `}`, else literal `$`.
//! - `$$` is one `$`; `$&` the match; `` $` `` / `$'` the text before / after it; `$_` the whole
//!   input; `$+` the highest-numbered group (empty when it did not take part).
//! - any other `$` is literal. Nothing else is special (no backslash escapes).

use super::pattern::GroupMap;

/// One piece of a parsed translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(String),
    /// A group, by its .NET number (0 = the whole match).
    Group(usize),
    /// `` $` ``
    Before,
    /// `$'`
    After,
    /// `$+`
    LastGroup,
    /// `$_`
    Input,
}

/// Why a translation cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslationError {
    #[error("a group number in the translation is larger than .NET allows (2^31-1)")]
    GroupNumberTooLarge,
    #[error("the translation is longer than {0} characters")]
    TooLong(usize),
}

/// The longest translation accepted.
pub const MAX_TRANSLATION_CHARS: usize = 1024;

/// A parsed translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    tokens: Vec<Token>,
}

impl Translation {
    /// Parse a .NET replacement template against the groups of its rule's pattern.
    pub fn parse(template: &str, groups: &GroupMap) -> Result<Translation, TranslationError> {
        let t: Vec<char> = template.chars().collect();
        if t.len() > MAX_TRANSLATION_CHARS {
            return Err(TranslationError::TooLong(MAX_TRANSLATION_CHARS));
        }
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < t.len() {
            if t[i] != '$' {
                literal.push(t[i]);
                i += 1;
                continue;
            }
            match scan_dollar(&t, i + 1, groups)? {
                Some((token, next)) => {
                    match token {
                        Token::Literal(s) => literal.push_str(&s),
                        other => {
                            if !literal.is_empty() {
                                tokens.push(Token::Literal(std::mem::take(&mut literal)));
                            }
                            tokens.push(other);
                        }
                    }
                    i = next;
                }
                None => {
                    literal.push('$');
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Translation { tokens })
    }

    /// The parsed tokens.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Expand over a match of the rule's pattern in `input`.
    pub fn expand(&self, input: &str, caps: &fancy_regex::Captures<'_, str>, groups: &GroupMap) -> String {
        let group = |n: usize| {
            groups.fancy_index(n).and_then(|fi| caps.get(fi)).map(|m| m.as_str()).unwrap_or_default().to_owned()
        };
        let (start, end) = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or((0, 0));
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::Group(n) => out.push_str(&group(*n)),
                Token::LastGroup => out.push_str(&group(groups.last())),
                Token::Before => out.push_str(input.get(..start).unwrap_or_default()),
                Token::After => out.push_str(input.get(end..).unwrap_or_default()),
                Token::Input => out.push_str(input),
            }
        }
        out
    }
}

/// Read what follows a `$` at `t[i]`: the token and the position after it, or `None` when the
/// `$` is literal.
fn scan_dollar(t: &[char], i: usize, groups: &GroupMap) -> Result<Option<(Token, usize)>, TranslationError> {
    let Some(&first) = t.get(i) else { return Ok(None) };
    // `${` opens a braced reference only when something follows the brace (as in .NET).
    let angled = first == '{' && i + 1 < t.len();
    let j = if angled { i + 1 } else { i };
    let c = t[j];
    if c.is_ascii_digit() {
        let mut k = j;
        let mut n: u64 = 0;
        while let Some(d) = t.get(k).and_then(|ch| ch.to_digit(10)) {
            n = n * 10 + u64::from(d);
            if n > i32::MAX as u64 {
                return Err(TranslationError::GroupNumberTooLarge);
            }
            k += 1;
        }
        if angled {
            if t.get(k) != Some(&'}') {
                return Ok(None);
            }
            k += 1;
        }
        let valid = usize::try_from(n).ok().filter(|&n| groups.fancy_index(n).is_some());
        return Ok(valid.map(|n| (Token::Group(n), k)));
    }
    if angled {
        if !is_word_char(c) {
            return Ok(None);
        }
        let mut k = j;
        while t.get(k).is_some_and(|&ch| is_word_char(ch)) {
            k += 1;
        }
        if t.get(k) != Some(&'}') {
            return Ok(None);
        }
        let name: String = t[j..k].iter().collect();
        return Ok(groups.number_of(&name).map(|n| (Token::Group(n), k + 1)));
    }
    let token = match c {
        '$' => Token::Literal("$".into()),
        '&' => Token::Group(0),
        '`' => Token::Before,
        '\'' => Token::After,
        '+' => Token::LastGroup,
        '_' => Token::Input,
        _ => return Ok(None),
    };
    Ok(Some((token, i + 1)))
}

/// .NET's `RegexCharClass.IsBoundaryWordChar`: `\w` plus the zero-width joiners.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\u{200C}' || c == '\u{200D}'
}
