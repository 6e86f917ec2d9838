//! Rule patterns: .NET regular expressions ([MC-RegEx], the syntax [MS-SIPRE] 2.2.8.2 names for
//! `Pattern`) checked, then compiled with fancy-regex.
//!
//! fancy-regex reads most .NET syntax the same way (lookaround, atomic groups, named groups,
//! lazy quantifiers), but some constructs compile in both engines and match differently. Those
//! are refused at load, so a profile never normalizes a number differently from the Lync client
//! without anyone knowing. Each refusal below was checked against both engines (fancy-regex
//! 0.20.0, and Mono 6.8, whose `System.Text.RegularExpressions` is the .NET Framework reference
//! source) — see protocol/DEPENDENCIES.md §9 for the first list:
//!
//! - class subtraction `[a-z-[aeiou]]` (a union to fancy-regex), any other `[` inside a class
//!   (`[[a]]` is a nested class to fancy-regex, a literal `[` to .NET) and the class operators
//!   `&&`, `--`, `~~` (literal characters to .NET);
//! - balancing groups `(?<-name>…)` / `(?<a-b>…)`, explicitly numbered groups `(?<3>…)` and a
//!   name used twice (one group to .NET, two to fancy-regex);
//! - `\p{IsBlock}` (Unicode blocks) and any property that is not a .NET general category;
//! - inline options `n` (explicit capture renumbers groups) and `x` (different whitespace rules);
//! - `{,n}` (a quantifier to fancy-regex, literal text to .NET) and any other literal `{`;
//! - `\<`, `\>`, `\b{…}` (word-boundary forms to fancy-regex, literals to .NET);
//! - conditionals `(?(…)…)`, and numeric backreferences when the pattern mixes named and unnamed
//!   groups (.NET numbers named groups after all unnamed ones, see [`GroupMap`]);
//! - syntax .NET itself rejects but fancy-regex accepts (possessive `*+`, `(?P<n>…)`, `\K`,
//!   `\h`, …), since the server's engine would never have produced such a rule.
//!
//! Anchors need no translation: `^`, `$`, `\A`, `\Z`, `\z` differ between the engines only around
//! a newline, and a dialed string never holds one after [`super::strip_formatting`].

use std::fmt;

/// Why a pattern is refused. Offsets are character positions in the pattern, from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("character class subtraction `-[` at {at} is .NET-only (fancy-regex reads it as a union)")]
    ClassSubtraction { at: usize },
    #[error("`[` inside a character class at {at} means a nested class to fancy-regex; escape it as `\\[`")]
    NestedClass { at: usize },
    #[error("`{op}` inside a character class at {at} is a set operator to fancy-regex but literal to .NET")]
    ClassOperator { at: usize, op: String },
    #[error("balancing group `(?<{name}>` at {at} is .NET-only")]
    BalancingGroup { at: usize, name: String },
    #[error("explicitly numbered group `(?<{name}>` at {at} changes .NET group numbering; use a name")]
    NumberedGroup { at: usize, name: String },
    #[error("group name `{name}` is used twice (one group to .NET, two to fancy-regex)")]
    DuplicateName { name: String },
    #[error("`\\p{{{name}}}` at {at} is a .NET Unicode block, which fancy-regex does not know")]
    UnicodeBlock { at: usize, name: String },
    #[error("`\\p{{{name}}}` at {at} is not a .NET general category")]
    UnknownProperty { at: usize, name: String },
    #[error("inline option `{option}` at {at} behaves differently in fancy-regex")]
    InlineOption { at: usize, option: char },
    #[error("conditional `(?(` at {at} is not supported")]
    Conditional { at: usize },
    #[error("grouping construct `{text}` at {at} is not .NET syntax")]
    UnknownGroup { at: usize, text: String },
    #[error("`{text}` at {at} is not a .NET quantifier; escape a literal brace as `\\{{`")]
    Brace { at: usize, text: String },
    #[error("escape `{text}` at {at} means something else (or nothing) in .NET")]
    Escape { at: usize, text: String },
    #[error("quantifier `{text}` at {at} is not .NET syntax (nested or possessive quantifier)")]
    NestedQuantifier { at: usize, text: String },
    #[error(
        "numeric backreference at {at} in a pattern with both named and unnamed groups: .NET numbers them differently"
    )]
    AmbiguousBackreference { at: usize },
    #[error("the pattern ends inside {what}")]
    Unterminated { what: &'static str },
    #[error("the pattern is longer than {0} characters")]
    TooLong(usize),
    #[error("fancy-regex cannot compile it: {0}")]
    Compile(String),
    #[error("internal check failed: {0}")]
    GroupMismatch(String),
}

/// The longest pattern accepted (real rules are a few dozen characters).
pub const MAX_PATTERN_CHARS: usize = 1024;

/// How many backtracking steps one match may take before giving up (rules come from a server).
pub const BACKTRACK_LIMIT: usize = 20_000;

/// .NET general categories accepted in `\p{…}` / `\P{…}` ([MC-RegEx]; .NET also accepts `IsBlock`
/// names, which are refused).
const GENERAL_CATEGORIES: &[&str] = &[
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "Z", "Zs", "Zl", "Zp", "C", "Cc",
    "Cf", "Cs", "Co", "Cn", "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So",
];

/// Capture groups in .NET numbering mapped to fancy-regex group indices.
///
/// .NET numbers unnamed groups first, left to right, then named groups in order of appearance
/// ("named capture groups are always ordered last, after non-named capture groups", .NET
/// "Grouping Constructs"); fancy-regex numbers all groups left to right. Checked with Mono:
/// `^(?<a>\d)(\d)$` on "12" gives `$1` = "2", `$2` = "1". Index 0 (whole match) maps to 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMap {
    /// `fancy[n]` = the fancy-regex group index of .NET group `n`.
    fancy: Vec<usize>,
    /// Named groups: (.NET name, .NET number).
    names: Vec<(String, usize)>,
}

impl GroupMap {
    /// The highest .NET group number (0 when the pattern has no groups).
    pub fn last(&self) -> usize {
        self.fancy.len() - 1
    }

    /// The fancy-regex index of .NET group `n`, if it exists.
    pub fn fancy_index(&self, n: usize) -> Option<usize> {
        self.fancy.get(n).copied()
    }

    /// The .NET number of the group with this name.
    pub fn number_of(&self, name: &str) -> Option<usize> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, num)| *num)
    }
}

/// A checked, compiled rule pattern.
#[derive(Clone)]
pub struct CompiledPattern {
    pub regex: fancy_regex::Regex,
    pub groups: GroupMap,
}

impl fmt::Debug for CompiledPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledPattern").field("pattern", &self.regex.as_str()).field("groups", &self.groups).finish()
    }
}

/// Check a .NET pattern for constructs fancy-regex would read differently, then compile it.
pub fn compile(pattern: &str) -> Result<CompiledPattern, PatternError> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(PatternError::TooLong(MAX_PATTERN_CHARS));
    }
    let groups = scan(pattern)?;
    let regex = fancy_regex::RegexBuilder::new(pattern)
        .backtrack_limit(BACKTRACK_LIMIT)
        .delegate_size_limit(1 << 20)
        .delegate_dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| PatternError::Compile(e.to_string()))?;
    let map = group_map(&groups, &regex)?;
    Ok(CompiledPattern { regex, groups: map })
}

/// A capture group found by the scanner, in order of its opening parenthesis.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Group {
    Unnamed,
    Named(String),
}

/// Build the .NET → fancy-regex group map, and make sure fancy-regex saw the same groups.
fn group_map(groups: &[Group], regex: &fancy_regex::Regex) -> Result<GroupMap, PatternError> {
    let theirs: Vec<Option<String>> = regex.capture_names().skip(1).map(|n| n.map(str::to_owned)).collect();
    let ours: Vec<Option<String>> = groups
        .iter()
        .map(|g| match g {
            Group::Unnamed => None,
            Group::Named(n) => Some(n.clone()),
        })
        .collect();
    if ours != theirs {
        return Err(PatternError::GroupMismatch(format!("groups {ours:?}, fancy-regex saw {theirs:?}")));
    }
    let mut fancy = vec![0];
    fancy.extend(groups.iter().enumerate().filter(|(_, g)| **g == Group::Unnamed).map(|(i, _)| i + 1));
    let mut names = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if let Group::Named(name) = g {
            names.push((name.clone(), fancy.len()));
            fancy.push(i + 1);
        }
    }
    Ok(GroupMap { fancy, names })
}

/// Walk the pattern the way .NET's parser tokenizes it, refusing divergent constructs and
/// collecting capture groups.
fn scan(pattern: &str) -> Result<Vec<Group>, PatternError> {
    let p: Vec<char> = pattern.chars().collect();
    let mut groups = Vec::new();
    let mut numeric_backref: Option<usize> = None;
    let mut i = 0;
    // Whether the previous token can take a quantifier suffix that would nest (`a*+`).
    let mut after_quantifier = false;
    while i < p.len() {
        let c = p[i];
        let was_quantifier = after_quantifier;
        after_quantifier = false;
        match c {
            '\\' => {
                let (len, backref) = scan_escape(&p, i, false)?;
                if backref && numeric_backref.is_none() {
                    numeric_backref = Some(i);
                }
                i += len;
            }
            '[' => i = scan_class(&p, i)?,
            '(' => i = scan_group_open(&p, i, &mut groups)?,
            '{' => {
                let len =
                    quantifier_len(&p, i).ok_or_else(|| PatternError::Brace { at: i, text: snippet(&p, i, 6) })?;
                if was_quantifier {
                    return Err(PatternError::NestedQuantifier { at: i, text: snippet(&p, i, len) });
                }
                i += len;
                after_quantifier = true;
                i = lazy_suffix(&p, i);
            }
            '*' | '+' | '?' => {
                if was_quantifier {
                    return Err(PatternError::NestedQuantifier { at: i, text: c.to_string() });
                }
                i += 1;
                after_quantifier = true;
                i = lazy_suffix(&p, i);
            }
            _ => i += 1,
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for g in &groups {
        if let Group::Named(name) = g {
            if seen.contains(&name.as_str()) {
                return Err(PatternError::DuplicateName { name: name.clone() });
            }
            seen.push(name);
        }
    }
    let mixed = groups.contains(&Group::Unnamed) && !seen.is_empty();
    if let (true, Some(at)) = (mixed, numeric_backref) {
        return Err(PatternError::AmbiguousBackreference { at });
    }
    Ok(groups)
}

/// After a quantifier, a `?` makes it lazy (allowed); the position after it.
fn lazy_suffix(p: &[char], i: usize) -> usize {
    if p.get(i) == Some(&'?') { i + 1 } else { i }
}

/// Length of a .NET quantifier `{n}`, `{n,}` or `{n,m}` starting at `i`, if it is one.
fn quantifier_len(p: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let digits = |j: &mut usize| {
        let start = *j;
        while p.get(*j).is_some_and(char::is_ascii_digit) {
            *j += 1;
        }
        *j > start
    };
    if !digits(&mut j) {
        return None;
    }
    if p.get(j) == Some(&',') {
        j += 1;
        digits(&mut j);
    }
    (p.get(j) == Some(&'}')).then_some(j + 1 - i)
}

/// A short piece of the pattern for error messages.
fn snippet(p: &[char], i: usize, len: usize) -> String {
    p[i..(i + len).min(p.len())].iter().collect()
}

/// Check the escape at `p[i] == '\\'`; returns its length and whether it is a numeric
/// backreference.
fn scan_escape(p: &[char], i: usize, in_class: bool) -> Result<(usize, bool), PatternError> {
    let Some(&c) = p.get(i + 1) else {
        return Err(PatternError::Unterminated { what: "an escape" });
    };
    let bad = |len: usize| Err(PatternError::Escape { at: i, text: snippet(p, i, len) });
    match c {
        'w' | 'W' | 's' | 'S' | 'd' | 'D' | 'a' | 'e' | 'f' | 'n' | 'r' | 't' | 'v' => Ok((2, false)),
        'A' | 'G' | 'Z' | 'z' if !in_class => Ok((2, false)),
        'b' | 'B' => {
            if p.get(i + 2) == Some(&'{') && !in_class {
                return bad(3);
            }
            Ok((2, false))
        }
        'p' | 'P' => scan_property(p, i).map(|len| (len, false)),
        'x' => hex_escape(p, i, 2).map(|len| (len, false)),
        'u' => hex_escape(p, i, 4).map(|len| (len, false)),
        'c' => match p.get(i + 2) {
            Some(ch) if ch.is_ascii_alphabetic() => Ok((3, false)),
            _ => bad(3),
        },
        'k' if !in_class => {
            // `\k<name>`; `\k'name'` is .NET too but not fancy-regex, refused as unknown.
            if p.get(i + 2) != Some(&'<') {
                return bad(3);
            }
            let end = p[i..].iter().position(|&ch| ch == '>').ok_or(PatternError::Unterminated { what: "\\k<…>" })?;
            let numeric = p.get(i + 3).is_some_and(char::is_ascii_digit);
            Ok((end + 1, numeric))
        }
        '1'..='9' if !in_class => {
            let mut j = i + 1;
            while p.get(j).is_some_and(char::is_ascii_digit) {
                j += 1;
            }
            Ok((j - i, true))
        }
        // `\0` and octal escapes: fancy-regex has no octal; refused rather than guessed.
        '0'..='9' => bad(2),
        // `\<` / `\>` are word boundaries to fancy-regex, literal characters to .NET.
        '<' | '>' => bad(2),
        ch if ch.is_alphanumeric() || ch == '_' => bad(2),
        _ => Ok((2, false)),
    }
}

/// `\xHH` / `\uHHHH`: exactly `n` hex digits in .NET (fancy-regex also takes `\x{…}`).
fn hex_escape(p: &[char], i: usize, n: usize) -> Result<usize, PatternError> {
    let ok = (0..n).all(|k| p.get(i + 2 + k).is_some_and(char::is_ascii_hexdigit));
    if ok { Ok(2 + n) } else { Err(PatternError::Escape { at: i, text: snippet(p, i, 2 + n) }) }
}

/// `\p{Name}` / `\P{Name}`: only .NET general categories.
fn scan_property(p: &[char], i: usize) -> Result<usize, PatternError> {
    if p.get(i + 2) != Some(&'{') {
        return Err(PatternError::Escape { at: i, text: snippet(p, i, 3) });
    }
    let close = p[i..].iter().position(|&ch| ch == '}').ok_or(PatternError::Unterminated { what: "\\p{…}" })?;
    let name: String = p[i + 3..i + close].iter().collect();
    if name.starts_with("Is") {
        return Err(PatternError::UnicodeBlock { at: i, name });
    }
    if !GENERAL_CATEGORIES.contains(&name.as_str()) {
        return Err(PatternError::UnknownProperty { at: i, name });
    }
    Ok(close + 1)
}

/// Check a character class starting at `p[i] == '['`; returns the position after its `]`.
fn scan_class(p: &[char], i: usize) -> Result<usize, PatternError> {
    let mut j = i + 1;
    if p.get(j) == Some(&'^') {
        j += 1;
    }
    // A `]` first in the class is a literal in both engines.
    if p.get(j) == Some(&']') {
        j += 1;
    }
    while let Some(&c) = p.get(j) {
        match c {
            ']' => return Ok(j + 1),
            '\\' => j += scan_escape(p, j, true)?.0,
            '[' if j > 0 && p[j - 1] == '-' => return Err(PatternError::ClassSubtraction { at: j - 1 }),
            '[' => return Err(PatternError::NestedClass { at: j }),
            '&' | '-' | '~' if p.get(j + 1) == Some(&c) => {
                return Err(PatternError::ClassOperator { at: j, op: format!("{c}{c}") });
            }
            _ => j += 1,
        }
    }
    Err(PatternError::Unterminated { what: "a character class" })
}

/// Check the group opening at `p[i] == '('`, record capture groups; returns the position after
/// the opening construct (the group body is scanned by the caller's loop).
fn scan_group_open(p: &[char], i: usize, groups: &mut Vec<Group>) -> Result<usize, PatternError> {
    if p.get(i + 1) != Some(&'?') {
        groups.push(Group::Unnamed);
        return Ok(i + 1);
    }
    let unknown = |len: usize| Err(PatternError::UnknownGroup { at: i, text: snippet(p, i, len) });
    match p.get(i + 2) {
        Some(':' | '=' | '!' | '>') => Ok(i + 3),
        Some('#') => {
            let close =
                p[i..].iter().position(|&ch| ch == ')').ok_or(PatternError::Unterminated { what: "(?#…)" })?;
            Ok(i + close + 1)
        }
        Some('(') => Err(PatternError::Conditional { at: i }),
        Some('<') if matches!(p.get(i + 3), Some('=' | '!')) => Ok(i + 4),
        Some(&open @ ('<' | '\'')) => {
            let close_ch = if open == '<' { '>' } else { '\'' };
            let rel = p[i + 3..]
                .iter()
                .position(|&ch| ch == close_ch)
                .ok_or(PatternError::Unterminated { what: "a group name" })?;
            let name: String = p[i + 3..i + 3 + rel].iter().collect();
            if name.contains('-') {
                return Err(PatternError::BalancingGroup { at: i, name });
            }
            if name.starts_with(|ch: char| ch.is_ascii_digit()) {
                return Err(PatternError::NumberedGroup { at: i, name });
            }
            if name.is_empty() || !name.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
                return unknown(rel + 4);
            }
            groups.push(Group::Named(name));
            Ok(i + 4 + rel)
        }
        Some(_) => {
            // Inline options `(?imsx-imsx)` or `(?imsx-imsx:…)`.
            let mut j = i + 2;
            while let Some(&ch) = p.get(j) {
                match ch {
                    'i' | 'm' | 's' | '-' => j += 1,
                    'n' | 'x' | 'N' | 'X' => return Err(PatternError::InlineOption { at: j, option: ch }),
                    ')' | ':' if j > i + 2 => return Ok(j + 1),
                    _ => return unknown(j + 1 - i),
                }
            }
            Err(PatternError::Unterminated { what: "an inline option group" })
        }
        None => Err(PatternError::Unterminated { what: "a group" }),
    }
}
