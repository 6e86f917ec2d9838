//! Clock skew between this computer and the registrar (REFERENCE.md §4.1, [MS-SIP] 3.1.5.1).
//!
//! A 401/407 challenge carries a `Date` header (RFC 3261 20.17: an RFC 1123 date, the same
//! IMF-fixdate RFC 7231 7.1.1.1 defines, always GMT). The schemes tolerate only so much skew
//! between client and server — NTLM 15 minutes, Kerberos 5 minutes (REFERENCE.md §4.1) — and a
//! domain controller refuses credentials beyond that with nothing in the SIP answer to say why,
//! so the client compares the challenge's `Date` with its own clock and names the real cause.
//!
//! TLS-DSK carries no timestamp the pool checks (the user certificate's validity is checked on
//! the pool's clock), so it has no tolerance here; a large skew is still worth a warning.
//!
//! Sans-I/O: the local time is passed in.

use std::time::{Duration, SystemTime};

use crate::sip::Message;

/// Skew NTLM tolerates (REFERENCE.md §4.1).
pub const NTLM_TOLERANCE: Duration = Duration::from_secs(15 * 60);
/// Skew Kerberos tolerates (REFERENCE.md §4.1; the Active Directory default).
pub const KERBEROS_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The skew a scheme tolerates; `None` for schemes that carry no checked timestamp (TLS-DSK).
pub fn tolerance(scheme: &str) -> Option<Duration> {
    if scheme.eq_ignore_ascii_case("NTLM") {
        Some(NTLM_TOLERANCE)
    } else if scheme.eq_ignore_ascii_case("Kerberos") {
        Some(KERBEROS_TOLERANCE)
    } else {
        None
    }
}

/// Parses a SIP/HTTP date (`Sun, 22 Nov 2026 06:45:56 GMT`; the obsolete RFC 850 and asctime
/// forms are accepted too, as RFC 7231 asks of recipients). `None` when it is not a date.
pub fn parse_date(value: &str) -> Option<SystemTime> {
    // A Date header is about 29 bytes; refuse anything far longer before parsing.
    if value.len() > 64 {
        return None;
    }
    httpdate::parse_http_date(value.trim()).ok()
}

/// Formats a time as a SIP `Date` header value (IMF-fixdate).
pub fn format_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// The registrar's clock (from a `Date` header) next to this computer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSkew {
    /// What the server's `Date` said.
    pub server: SystemTime,
    /// This computer's clock when the message arrived.
    pub local: SystemTime,
}

impl ClockSkew {
    /// Reads the `Date` header of `msg`; `None` when it is absent or not a date.
    pub fn of_message(msg: &Message, local: SystemTime) -> Option<ClockSkew> {
        let server = parse_date(msg.header("Date")?)?;
        Some(ClockSkew { server, local })
    }

    /// How far apart the two clocks are (whichever is ahead). `Date` has one-second resolution,
    /// so the local time is compared at that resolution too.
    pub fn difference(&self) -> Duration {
        let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Duration::from_secs(secs(self.server).abs_diff(secs(self.local)))
    }

    /// True when the skew is above `tolerance`.
    pub fn exceeds(&self, tolerance: Duration) -> bool {
        self.difference() > tolerance
    }

    /// Both times and the difference, for an error message: `the registrar's clock says …, this
    /// computer's says …: 1 h 0 min 0 s apart (the registrar is behind)`.
    pub fn describe(&self) -> String {
        let which = if self.server < self.local { "the registrar is behind" } else { "the registrar is ahead" };
        format!(
            "the registrar's clock says {}, this computer's says {}: {} apart ({which})",
            format_date(self.server),
            format_date(self.local),
            human(self.difference())
        )
    }
}

/// `1 h 2 min 3 s`, `16 min 0 s`, `42 s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec} s"),
        (0, min, sec) => format!("{min} min {sec} s"),
        (h, min, sec) => format!("{h} h {min} min {sec} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Limits, parse_message};

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn dates_parse_and_format_as_sip_writes_them() {
        // RFC 3261 20.17's example.
        assert_eq!(parse_date("Sat, 13 Nov 2010 23:29:00 GMT"), Some(at(1_289_690_940)));
        assert_eq!(format_date(at(1_289_690_940)), "Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(parse_date(" Sunday, 06-Nov-94 08:49:37 GMT "), Some(at(784_111_777)), "RFC 850");
        assert_eq!(parse_date("Sun Nov  6 08:49:37 1994"), Some(at(784_111_777)), "asctime");
        for bad in ["", "yesterday", "Sat, 13 Nov 2010 25:29:00 GMT", &"x".repeat(100)] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn skew_is_measured_against_the_scheme_tolerance() {
        let text = "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nDate: Sat, 13 Nov 2010 23:29:00 GMT\r\nContent-Length: 0\r\n\r\n";
        let msg = parse_message(text.as_bytes(), &Limits::default()).unwrap().message;
        let local = at(1_289_690_940 + 3600);
        let skew = ClockSkew::of_message(&msg, local).unwrap();
        assert_eq!(skew.difference(), Duration::from_secs(3600));
        assert!(skew.exceeds(tolerance("NTLM").unwrap()) && skew.exceeds(tolerance("kerberos").unwrap()));
        assert_eq!(tolerance("TLS-DSK"), None);
        assert_eq!(
            skew.describe(),
            "the registrar's clock says Sat, 13 Nov 2010 23:29:00 GMT, this computer's says Sun, 14 Nov 2010 00:29:00 GMT: 1 h 0 min 0 s apart (the registrar is behind)"
        );
        // Ten minutes: within NTLM's tolerance, beyond Kerberos's.
        let skew = ClockSkew { server: at(1000), local: at(1600) };
        assert!(!skew.exceeds(NTLM_TOLERANCE) && skew.exceeds(KERBEROS_TOLERANCE));
        assert!(skew.describe().contains("10 min 0 s apart (the registrar is behind)"));
        assert!(ClockSkew { server: at(1600), local: at(1000) }.describe().ends_with("(the registrar is ahead)"));
        let no_date = text.replace("Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n", "");
        let msg = parse_message(no_date.as_bytes(), &Limits::default()).unwrap().message;
        assert_eq!(ClockSkew::of_message(&msg, local), None);
        assert_eq!(human(Duration::from_secs(42)), "42 s");
    }
}
