//! Lexical building blocks of RFC 3261 §25 on winnow: tokens, quoted strings, separators with
//! their optional whitespace, and generic parameters.
//!
//! Header values reach these parsers already unfolded (continuation lines joined), so linear
//! whitespace here is only SP and HTAB.

use std::borrow::Cow;

use winnow::combinator::{alt, cut_err};
use winnow::error::{ContextError, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::stream::Accumulate;
use winnow::token::take_while;

/// winnow's result type used by every grammar function of this module.
pub(crate) type PResult<T> = winnow::ModalResult<T, ContextError>;

/// RFC 3261 `token` characters.
pub(crate) fn is_token_char(c: char) -> bool {
    u8::try_from(c).is_ok_and(is_token_byte)
}

/// RFC 3261 `token` bytes, looked up in a table (every header name and parameter is made of them).
pub(crate) fn is_token_byte(b: u8) -> bool {
    const TOKEN: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            table[b] = c.is_ascii_alphanumeric()
                || matches!(c, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~');
            b += 1;
        }
        table
    };
    TOKEN[usize::from(b)]
}

/// Characters of a generic-param value that is not quoted: `token` or `host` (IPv6 references
/// and bare IPv6 addresses in `received=` bring `[`, `]` and `:`).
fn is_gen_value_byte(b: u8) -> bool {
    is_token_byte(b) || matches!(b, b'[' | b']' | b':')
}

pub(crate) fn label(s: &'static str) -> StrContext {
    StrContext::Label(s)
}

pub(crate) fn expected(s: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(s))
}

/// `*(SP / HTAB)`.
///
/// This and the other lexical pieces ([`token`], [`sep`]) are written out rather than combined from winnow's
/// `take_while` and `literal`: they run several times per parameter of every header a message is validated for,
/// and as combinators they were a fifth of the parse time. They consume, fail and describe failures as the
/// combinators did.
pub(crate) fn ws<'a>(i: &mut &'a str) -> PResult<&'a str> {
    let rest = i.trim_start_matches([' ', '\t']);
    let taken = &i[..i.len() - rest.len()];
    *i = rest;
    Ok(taken)
}

/// A `token`.
pub(crate) fn token<'a>(i: &mut &'a str) -> PResult<&'a str> {
    let len = i.bytes().position(|b| !is_token_byte(b)).unwrap_or(i.len());
    if len == 0 {
        let mut e = ContextError::new();
        e.push(expected("a token"));
        return Err(ErrMode::Backtrack(e));
    }
    let (taken, rest) = i.split_at(len);
    *i = rest;
    Ok(taken)
}

/// `take_while(min.., pred)` written out over bytes. `pred` must refuse every byte of a multi-byte character or
/// accept them all, so that the text is cut only where a character begins. Fails as `take_while` does:
/// backtracking, without context, the input left as it was.
pub(crate) fn take_bytes_while<'a>(
    min: usize,
    pred: impl Fn(u8) -> bool,
) -> impl FnMut(&mut &'a str) -> PResult<&'a str> {
    move |i: &mut &'a str| {
        let len = i.bytes().position(|b| !pred(b)).unwrap_or(i.len());
        debug_assert!(i.is_char_boundary(len), "take_bytes_while's predicate split a character");
        if len < min {
            return Err(ErrMode::Backtrack(ContextError::new()));
        }
        let (taken, rest) = i.split_at(len);
        *i = rest;
        Ok(taken)
    }
}

/// A `quoted-string`, returned raw (with its quotes and escapes). Scanned by bytes: every byte that matters is ASCII.
pub(crate) fn quoted_string<'a>(i: &mut &'a str) -> PResult<&'a str> {
    let start = *i;
    '"'.parse_next(i)?;
    let bytes = start.as_bytes();
    let fail = |i: &mut &'a str, at: usize, what: &'static str| {
        *i = &start[at..];
        let mut e = ContextError::new();
        e.push(expected(what));
        Err(ErrMode::Cut(e))
    };
    let mut at = 1;
    loop {
        let Some(off) = bytes[at..].iter().position(|b| matches!(b, b'"' | b'\\' | b'\r' | b'\n')) else {
            return fail(i, bytes.len(), "a closing quote");
        };
        at += off;
        match bytes[at] {
            b'"' => {
                *i = &start[at + 1..];
                return Ok(&start[..at + 1]);
            }
            // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
            b'\\' => match bytes.get(at + 1) {
                Some(&next) if next.is_ascii() && next != b'\n' && next != b'\r' => at += 2,
                _ => return fail(i, at, "a valid escape"),
            },
            _ => return fail(i, at, "a closing quote"),
        }
    }
}

/// The text of a raw `quoted-string` without its quotes and with quoted-pairs resolved.
pub fn unquote(raw: &str) -> Cow<'_, str> {
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return Cow::Borrowed(raw);
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `SWS sep SWS` for a one-character separator (SEMI, COMMA, EQUAL, SLASH, COLON).
pub(crate) fn sep<'a>(c: char) -> impl Parser<&'a str, char, ErrMode> {
    move |i: &mut &'a str| {
        let after_ws = i.trim_start_matches([' ', '\t']);
        match after_ws.strip_prefix(c) {
            Some(rest) => {
                *i = rest.trim_start_matches([' ', '\t']);
                Ok(c)
            }
            // Where `delimited(ws, c, ws)` stopped: after the whitespace.
            None => {
                *i = after_ws;
                Err(ErrMode::Backtrack(ContextError::new()))
            }
        }
    }
}

type ErrMode = winnow::error::ErrMode<ContextError>;

/// One generic parameter: `name [= value]`, value a token, host or quoted-string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    name: Box<str>,
    /// The value exactly as written (a quoted value keeps its quotes).
    raw_value: Option<Box<str>>,
}

impl Param {
    /// A parameter with a value; `raw_value` is written as given (quote it yourself if needed).
    pub fn new(name: &str, raw_value: Option<&str>) -> Param {
        Param { name: name.into(), raw_value: raw_value.map(Into::into) }
    }
    /// The parameter name as written.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The value as written, quotes included.
    pub fn raw_value(&self) -> Option<&str> {
        self.raw_value.as_deref()
    }
    /// The value with quotes removed and escapes resolved (`None` for a flag parameter).
    pub fn value(&self) -> Option<Cow<'_, str>> {
        self.raw_value.as_deref().map(unquote)
    }
}

/// An ordered list of parameters (`;name=value`), names compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<Param>);

impl Params {
    /// True when a parameter of this name is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|p| p.name.eq_ignore_ascii_case(name))
    }
    /// The first parameter of this name.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
    /// The unquoted value of the first parameter of this name; `Some("")` for a flag parameter.
    pub fn value(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|p| p.value().unwrap_or(Cow::Borrowed("")))
    }
    /// All parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.0.iter()
    }
    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Appends a parameter.
    pub fn push(&mut self, param: Param) {
        self.0.push(param);
    }
    /// Writes `;name=value` for each parameter.
    pub fn write_to(&self, out: &mut String) {
        for p in &self.0 {
            out.push(';');
            out.push_str(&p.name);
            if let Some(v) = &p.raw_value {
                out.push('=');
                out.push_str(v);
            }
        }
    }
}

/// `generic-param = token [ EQUAL gen-value ]`, as written: its name and raw value.
///
/// This and [`params_into`] are written out: `opt(preceded(sep('='), cut_err(value)))` and
/// `repeat(0.., preceded(sep(';'), cut_err(generic_param)))` as combinators cost a tenth of the parse time.
fn generic_param<'a>(i: &mut &'a str) -> PResult<(&'a str, Option<&'a str>)> {
    let name = token.context(label("parameter name")).parse_next(i)?;
    let before = *i;
    if sep('=').parse_next(i).is_err() {
        *i = before;
        return Ok((name, None));
    }
    let value = cut_err(alt((quoted_string, take_bytes_while(1, is_gen_value_byte))))
        .context(expected("a parameter value"))
        .parse_next(i)?;
    Ok((name, Some(value)))
}

/// Parameters are collected into [`Params`] as they are parsed; a check that keeps nothing collects into `()`.
impl<'a> Accumulate<(&'a str, Option<&'a str>)> for Params {
    fn initial(capacity: Option<usize>) -> Self {
        Params(Vec::with_capacity(capacity.unwrap_or(0)))
    }
    fn accumulate(&mut self, (name, raw_value): (&'a str, Option<&'a str>)) {
        self.0.push(Param::new(name, raw_value));
    }
}

/// `*( SEMI generic-param )`: an empty parameter (`;;`) is an error.
pub(crate) fn params(i: &mut &str) -> PResult<Params> {
    params_into(i)
}

/// [`params`] into any collection of `(name, raw value)`: `()` checks them without copying anything.
pub(crate) fn params_into<'a, C: Accumulate<(&'a str, Option<&'a str>)>>(i: &mut &'a str) -> PResult<C> {
    let mut params = C::initial(None);
    loop {
        let before = *i;
        if sep(';').parse_next(i).is_err() {
            *i = before;
            return Ok(params);
        }
        params.accumulate(generic_param(i).map_err(ErrMode::cut)?);
    }
}

/// Splits a header value at top-level commas (not inside quotes or `<...>`), trimming
/// whitespace. Used for headers whose grammar is a comma-separated list.
pub fn split_commas(value: &str) -> Vec<&str> {
    comma_items(value).collect()
}

/// [`split_commas`] without collecting: the items one by one.
pub(crate) fn comma_items(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let value = rest?;
        let bytes = value.as_bytes();
        // Jumps from one byte that matters to the next: outside quotes and angle brackets a comma, a quote or
        // '<'; inside '<...>' its end or a quote; inside quotes an escape or the closing quote. Every byte looked
        // for is ASCII, and no byte of a multi-byte character is.
        let (mut in_quote, mut in_angle) = (false, false);
        let mut at = 0;
        while at < bytes.len() {
            let tail = &bytes[at..];
            let found = match (in_quote, in_angle) {
                (true, _) => memchr::memchr2(b'\\', b'"', tail),
                (false, true) => memchr::memchr2(b'>', b'"', tail),
                (false, false) => memchr::memchr3(b',', b'"', b'<', tail),
            };
            let Some(off) = found else { break };
            let idx = at + off;
            at = idx + 1;
            match (in_quote, bytes[idx]) {
                (true, b'\\') => at += 1, // the escaped byte, whatever it is
                (true, _) => in_quote = false,
                (false, b'"') => in_quote = true,
                (false, b'<') => in_angle = true,
                (false, b'>') => in_angle = false,
                (false, _) => {
                    rest = Some(&value[idx + 1..]);
                    return Some(value[..idx].trim_matches([' ', '\t']));
                }
            }
        }
        rest = None;
        Some(value.trim_matches([' ', '\t']))
    })
}

/// `1*DIGIT` as an integer of type `T`, refusing overflow.
pub(crate) fn digits<'a>(i: &mut &'a str) -> PResult<&'a str> {
    take_while(1.., |c: char| c.is_ascii_digit()).context(expected("digits")).parse_next(i)
}

/// Renders a winnow error as a short reason (what was expected, and where).
pub(crate) fn describe(err: &winnow::error::ParseError<&str, ContextError>) -> String {
    let ctx = err.inner().to_string().replace('\n', "; ");
    let at = err.offset();
    if ctx.is_empty() { format!("unexpected input at offset {at}") } else { format!("{ctx} (at offset {at})") }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn quoted_strings_with_escapes() {
        let mut i = r#""J Rosenberg \\\"" <sip:x>"#;
        let q = quoted_string(&mut i).unwrap();
        assert_eq!(q, r#""J Rosenberg \\\"""#);
        assert_eq!(unquote(q), r#"J Rosenberg \""#);
        assert_eq!(i, " <sip:x>");
        let mut bad = "\"unterminated";
        assert!(quoted_string(&mut bad).is_err());
    }

    #[test]
    fn params_with_spaces_and_quotes() {
        let mut i = " ;   tag    = 1918181833n ; +sip.instance=\"<urn:uuid:a>\";lr";
        let p = params(&mut i).unwrap();
        assert_eq!(i, "");
        assert_eq!(p.value("TAG").unwrap(), "1918181833n");
        assert_eq!(p.value("+sip.instance").unwrap(), "<urn:uuid:a>");
        assert_eq!(p.value("lr").unwrap(), "");
        let mut empty = ";;";
        assert!(params(&mut empty).is_err());
    }

    /// The split as first written, a char at a time: the jumping one must cut exactly where it cuts.
    fn split_commas_char_by_char(value: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let (mut in_quote, mut in_angle, mut escaped) = (false, false, false);
        let mut start = 0;
        for (idx, c) in value.char_indices() {
            if in_quote {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_quote = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_quote = true,
                '<' => in_angle = true,
                '>' => in_angle = false,
                ',' if !in_angle => {
                    out.push(value[start..idx].trim_matches([' ', '\t']));
                    start = idx + 1;
                }
                _ => {}
            }
        }
        out.push(value[start..].trim_matches([' ', '\t']));
        out
    }

    #[test]
    fn comma_split_cuts_where_the_char_by_char_split_cuts() {
        let alphabet = [",", "\"", "<", ">", "\\", "a", " ", "é"];
        let mut tried = 0;
        // Every string of up to five symbols from the alphabet.
        every_string(&alphabet, 5, |text| {
            assert_eq!(split_commas(text), split_commas_char_by_char(text), "{text:?}");
            tried += 1;
        });
        assert_eq!(tried, 37_449);
    }

    /// Calls `check` with every string of at most `max_len` symbols from `alphabet`.
    pub(crate) fn every_string(alphabet: &[&str], max_len: u32, mut check: impl FnMut(&str)) {
        let mut text = String::new();
        for len in 0..=max_len {
            for mut n in 0..alphabet.len().pow(len) {
                text.clear();
                for _ in 0..len {
                    text.push_str(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                check(&text);
            }
        }
    }

    /// Runs `parser` on `input`: what it returned (an error as its debug text) and what it left.
    fn run<'a, O: std::fmt::Debug>(
        mut parser: impl Parser<&'a str, O, ErrMode>,
        input: &'a str,
    ) -> (Result<String, String>, &'a str) {
        let mut rest = input;
        let out = parser.parse_next(&mut rest).map(|o| format!("{o:?}")).map_err(|e| format!("{e:?}"));
        (out, rest)
    }

    /// `quoted_string` as first written, a char at a time.
    fn quoted_string_char_by_char<'a>(i: &mut &'a str) -> PResult<&'a str> {
        let start = *i;
        '"'.parse_next(i)?;
        cut_err(|i: &mut &'a str| {
            loop {
                let mut chars = i.char_indices();
                match chars.next() {
                    None => return winnow::combinator::fail.context(expected("a closing quote")).parse_next(i),
                    Some((_, '"')) => {
                        *i = &i[1..];
                        return Ok(());
                    }
                    Some((_, '\\')) => match chars.next() {
                        Some((n, c)) if c.is_ascii() && c != '\n' && c != '\r' => *i = &i[n + 1..],
                        _ => return winnow::combinator::fail.context(expected("a valid escape")).parse_next(i),
                    },
                    Some((_, '\r' | '\n')) => {
                        return winnow::combinator::fail.context(expected("a closing quote")).parse_next(i);
                    }
                    Some((_, c)) => *i = &i[c.len_utf8()..],
                }
            }
        })
        .parse_next(i)?;
        Ok(&start[..start.len() - i.len()])
    }

    #[test]
    fn the_written_out_quoted_string_does_what_the_char_by_char_one_did() {
        let alphabet = ["\"", "\\", "a", "\r", "\n", "é", " "];
        every_string(&alphabet, 6, |text| {
            let ours = run(|i: &mut &str| quoted_string(i).map(str::to_owned), text);
            let theirs = run(|i: &mut &str| quoted_string_char_by_char(i).map(str::to_owned), text);
            assert_eq!(ours, theirs, "{text:?}");
        });
    }

    #[test]
    fn the_written_out_lexical_pieces_do_what_the_combinators_did() {
        use winnow::combinator::delimited;
        let combined_ws = |i: &mut &str| take_while(0.., [' ', '\t']).parse_next(i).map(str::to_owned);
        let combined_token = |i: &mut &str| {
            take_while(1.., |c: char| c.is_ascii() && is_token_byte(c as u8))
                .context(expected("a token"))
                .parse_next(i)
                .map(str::to_owned)
        };
        let alphabet = [" ", "\t", ";", "a", "-", "é", "\"", "="];
        every_string(&alphabet, 4, |text| {
            let ours_ws = run(|i: &mut &str| ws(i).map(str::to_owned), text);
            assert_eq!(ours_ws, run(combined_ws, text), "ws {text:?}");
            let ours_token = run(|i: &mut &str| token(i).map(str::to_owned), text);
            assert_eq!(ours_token, run(combined_token, text), "token {text:?}");
            let combined_sep = delimited(combined_ws, ';', combined_ws);
            assert_eq!(run(sep(';'), text), run(combined_sep, text), "sep {text:?}");
        });
    }

    #[test]
    fn the_written_out_parameter_list_does_what_the_combinators_did() {
        use winnow::combinator::{opt, preceded, repeat};
        fn combined_param<'a>(i: &mut &'a str) -> PResult<(&'a str, Option<&'a str>)> {
            let name = token.context(label("parameter name")).parse_next(i)?;
            let value = opt(preceded(
                sep('='),
                cut_err(alt((quoted_string, take_while(1.., |c: char| c.is_ascii() && is_gen_value_byte(c as u8)))))
                    .context(expected("a parameter value")),
            ))
            .parse_next(i)?;
            Ok((name, value))
        }
        let combined = |i: &mut &str| {
            repeat(0.., preceded(sep(';'), cut_err(combined_param)))
                .parse_next(i)
                .map(|list: Vec<(&str, Option<&str>)>| format!("{list:?}"))
        };
        let ours = |i: &mut &str| params_into(i).map(|list: Vec<(&str, Option<&str>)>| format!("{list:?}"));
        let alphabet = [";", "=", "a", " ", "\"", "[", ",", "é", "\\"];
        every_string(&alphabet, 5, |text| {
            assert_eq!(run(ours, text), run(combined, text), "{text:?}");
        });
    }

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v = r#"NTLM realm="a, b", targetname="x", <sip:a,b@c>, z"#;
        assert_eq!(split_commas(v), vec![r#"NTLM realm="a, b""#, r#"targetname="x""#, "<sip:a,b@c>", "z"]);
    }
}
