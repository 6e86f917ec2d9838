//! `ms-diagnostics` / `ms-diagnostics-public` (SIP) and `X-Ms-diagnostics` (HTTP) headers:
//! `<code>;reason="...";source="..."` ([MS-OCAUTHWS] ABNF; [MS-OCER] codes). Only the numeric
//! code should drive behaviour; reason and source are for people.

use super::grammar::{params, ws};
use winnow::prelude::*;

/// A parsed diagnostics header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    pub code: u32,
    pub reason: Option<String>,
    pub source: Option<String>,
}

impl Diagnostics {
    /// Parses a header value; `None` when it does not start with a numeric code.
    pub fn parse(value: &str) -> Option<Diagnostics> {
        let value = value.trim();
        let digits_end = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
        let code = value[..digits_end].parse().ok()?;
        let mut rest = &value[digits_end..];
        let p = (params, ws).parse_next(&mut rest).ok().map(|(p, _)| p).unwrap_or_default();
        Some(Diagnostics {
            code,
            reason: p.value("reason").map(|r| r.into_owned()),
            source: p.value("source").map(|s| s.into_owned()),
        })
    }

    /// `ErrorCode=1003,source=pool.contoso.com,Reason=User does not exist` — the shape
    /// Test-CsRegistration prints in its Diagnosis field.
    pub fn to_diagnosis(&self) -> String {
        let mut out = format!("ErrorCode={}", self.code);
        if let Some(s) = &self.source {
            out.push_str(&format!(",source={s}"));
        }
        if let Some(r) = &self.reason {
            out.push_str(&format!(",Reason={r}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ms_diagnostics() {
        let d = Diagnostics::parse(r#"1003;reason="User does not exist";source="atl-cs-001.litwareinc.com""#).unwrap();
        assert_eq!(d.code, 1003);
        assert_eq!(d.reason.as_deref(), Some("User does not exist"));
        assert_eq!(d.to_diagnosis(), "ErrorCode=1003,source=atl-cs-001.litwareinc.com,Reason=User does not exist");
        let d = Diagnostics::parse(r#"28020;source="server.contoso.com";reason="No valid security token.""#).unwrap();
        assert_eq!(d.code, 28020);
        assert!(Diagnostics::parse("reason=\"x\"").is_none());
    }
}
