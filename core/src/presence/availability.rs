//! Availability numbers and activity tokens of the `state` category ([MS-PRES]; Lync 2013 SDK "state/availability
//! element", vector `LYNCSDK_state-availability-ranges.txt`; published values from pidgin-sipe, CLIENT-NOTES §8.4).
//!
//! Presence is a number, not an enum, on the wire: every endpoint and the server's aggregation script publish an
//! `availability` value and watchers map it to a status by range. Lync 2013 uses these ranges:
//! 0–4499 Available, 4500–5999 Available-Idle, 6000–7499 Busy, 7500–8999 Busy-Idle, 9000–11999 Do Not Disturb,
//! 12000–14999 Be Right Back, 15000–17999 Away, 18000 and higher Offline.
//!
//! pidgin-sipe still reads the older OCS 2007 ranges ([MS-PRES] 3.7.5.5), where values below 3000 mean offline.
//! We follow the Lync 2013 SDK table, which is what the server and Lync 2013 clients use; the only value below
//! 3000 seen in practice is 0 ("unset"), which servers do not aggregate into `aggregateState`.

/// The status a watcher shows for an availability number (Lync 2013 ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Availability {
    Available,
    AvailableIdle,
    Busy,
    BusyIdle,
    DoNotDisturb,
    BeRightBack,
    Away,
    Offline,
}

impl Availability {
    /// Every status, in range order.
    pub const ALL: [Availability; 8] = [
        Availability::Available,
        Availability::AvailableIdle,
        Availability::Busy,
        Availability::BusyIdle,
        Availability::DoNotDisturb,
        Availability::BeRightBack,
        Availability::Away,
        Availability::Offline,
    ];

    /// The status of an availability number by the Lync 2013 ranges.
    pub fn from_value(value: u32) -> Availability {
        match value {
            0..=4499 => Availability::Available,
            4500..=5999 => Availability::AvailableIdle,
            6000..=7499 => Availability::Busy,
            7500..=8999 => Availability::BusyIdle,
            9000..=11999 => Availability::DoNotDisturb,
            12000..=14999 => Availability::BeRightBack,
            15000..=17999 => Availability::Away,
            _ => Availability::Offline,
        }
    }

    /// The number a client publishes for this status (pidgin-sipe's values, the middle of each range), or `None`
    /// for the idle states, which the server derives from machine state and a client does not set.
    pub fn publish_value(self) -> Option<u32> {
        match self {
            Availability::Available => Some(3500),
            Availability::Busy => Some(6500),
            Availability::DoNotDisturb => Some(9500),
            Availability::BeRightBack => Some(12500),
            Availability::Away => Some(15500),
            Availability::Offline => Some(18500),
            Availability::AvailableIdle | Availability::BusyIdle => None,
        }
    }

    /// The inclusive range of numbers that mean this status (Offline ends at `u32::MAX`).
    pub fn range(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Availability::Available => 0..=4499,
            Availability::AvailableIdle => 4500..=5999,
            Availability::Busy => 6000..=7499,
            Availability::BusyIdle => 7500..=8999,
            Availability::DoNotDisturb => 9000..=11999,
            Availability::BeRightBack => 12000..=14999,
            Availability::Away => 15000..=17999,
            Availability::Offline => 18000..=u32::MAX,
        }
    }
}

/// Activity tokens (`state/activity[@token]`) Lync and pidgin-sipe publish and read (CLIENT-NOTES §8.4).
///
/// An activity refines the availability (Busy + `on-the-phone`), and a `<custom>` text inside `<activity>`
/// overrides the token's display text. Unknown tokens are kept as strings by the parsers, never refused.
pub mod activity {
    pub const AVAILABLE: &str = "available";
    pub const ONLINE: &str = "online";
    pub const IDLE: &str = "idle";
    pub const BUSY: &str = "busy";
    pub const BUSY_IDLE: &str = "busyidle";
    pub const DO_NOT_DISTURB: &str = "do-not-disturb";
    pub const BE_RIGHT_BACK: &str = "be-right-back";
    pub const AWAY: &str = "away";
    pub const OUT_TO_LUNCH: &str = "out-to-lunch";
    pub const INVISIBLE: &str = "invisible";
    pub const OFFLINE: &str = "offline";
    /// Busy range: in a VoIP or PSTN call (published in `phoneState`).
    pub const ON_THE_PHONE: &str = "on-the-phone";
    /// Busy range: in a conference call.
    pub const IN_A_CONFERENCE: &str = "in-a-conference";
    /// Busy range: a meeting from the calendar (published in `calendarState`).
    pub const IN_A_MEETING: &str = "in-a-meeting";
    /// From the calendar's out-of-office setting.
    pub const OUT_OF_OFFICE: &str = "out-of-office";
    /// Do-not-disturb as seen by the Workgroup container (aggregation 2 downgrades DND to this).
    pub const URGENT_INTERRUPTIONS_ONLY: &str = "urgent-interruptions-only";
    /// Do-not-disturb range: presenting (screen sharing).
    pub const IN_PRESENTATION: &str = "in-presentation";

    /// Every token above.
    pub const ALL: &[&str] = &[
        AVAILABLE,
        ONLINE,
        IDLE,
        BUSY,
        BUSY_IDLE,
        DO_NOT_DISTURB,
        BE_RIGHT_BACK,
        AWAY,
        OUT_TO_LUNCH,
        INVISIBLE,
        OFFLINE,
        ON_THE_PHONE,
        IN_A_CONFERENCE,
        IN_A_MEETING,
        OUT_OF_OFFICE,
        URGENT_INTERRUPTIONS_ONLY,
        IN_PRESENTATION,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of `LYNCSDK_state-availability-ranges.txt`, range by range, ends included.
    #[test]
    fn maps_the_lync_2013_ranges() {
        let table = [
            (0, 4499, Availability::Available),
            (4500, 5999, Availability::AvailableIdle),
            (6000, 7499, Availability::Busy),
            (7500, 8999, Availability::BusyIdle),
            (9000, 11999, Availability::DoNotDisturb),
            (12000, 14999, Availability::BeRightBack),
            (15000, 17999, Availability::Away),
            (18000, u32::MAX, Availability::Offline),
        ];
        for (low, high, status) in table {
            assert_eq!(Availability::from_value(low), status, "{low}");
            assert_eq!(Availability::from_value(high), status, "{high}");
            assert_eq!(status.range(), low..=high);
        }
        // The vector's example: 15500 is Away (the page calls it "Out of Office").
        assert_eq!(Availability::from_value(15500), Availability::Away);
    }

    #[test]
    fn published_values_fall_in_their_own_range() {
        let expected = [3500, 6500, 9500, 12500, 15500, 18500];
        let published: Vec<u32> = Availability::ALL.iter().filter_map(|a| a.publish_value()).collect();
        assert_eq!(published, expected);
        for status in Availability::ALL {
            if let Some(value) = status.publish_value() {
                assert_eq!(Availability::from_value(value), status);
            }
        }
        assert_eq!(Availability::AvailableIdle.publish_value(), None);
        assert_eq!(Availability::BusyIdle.publish_value(), None);
    }

    #[test]
    fn activity_tokens_are_distinct() {
        let mut tokens = activity::ALL.to_vec();
        tokens.sort_unstable();
        tokens.dedup();
        assert_eq!(tokens.len(), activity::ALL.len());
    }
}
