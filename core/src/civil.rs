//! Calendar dates and times of day in UTC from Unix time, for the texts that show them (certificate expiries,
//! WS-Trust `Lifetime`, trace timestamps), without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millisecond: u32,
}

impl CivilTime {
    /// The UTC date and time of `t` (times before 1970 read as 1970-01-01 00:00:00).
    pub fn of(t: SystemTime) -> CivilTime {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let mut c = CivilTime::from_unix(since.as_secs());
        c.millisecond = since.subsec_millis();
        c
    }

    /// The UTC date and time `secs` seconds after 1970-01-01 00:00:00. Days to a civil date by Howard Hinnant's
    /// `civil_from_days`.
    pub fn from_unix(secs: u64) -> CivilTime {
        let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
        CivilTime {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            millisecond: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let c = |s| {
            let t = CivilTime::from_unix(s);
            (t.year, t.month, t.day, t.hour, t.minute, t.second)
        };
        assert_eq!(c(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(c(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(c(1_795_232_270), (2026, 11, 21, 3, 37, 50));
        assert_eq!(c(4_102_444_799), (2099, 12, 31, 23, 59, 59));
        let t = CivilTime::of(UNIX_EPOCH + std::time::Duration::from_millis(1_366_082_250_168));
        assert_eq!((t.month, t.day, t.year, t.hour, t.minute, t.second, t.millisecond), (4, 16, 2013, 3, 17, 30, 168));
    }
}
