//! Time zones (`--tz`): UTC instants to the wall-clock time of an IANA zone and back, with
//! daylight saving time from the compiled-in time-zone database (`chrono-tz`), never a
//! fixed offset. Reports bucket and print wall-clock times, as course staff read them.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone};

/// A time zone: UTC or an IANA zone such as `America/Chicago`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Zone(Option<chrono_tz::Tz>);

impl Zone {
    /// Coordinated Universal Time (no conversion).
    pub const UTC: Zone = Zone(None);

    /// Parses an IANA zone name (`America/Chicago`, `Europe/Berlin`, `UTC`).
    pub fn parse(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("z") {
            return Ok(Zone::UTC);
        }
        name.parse::<chrono_tz::Tz>()
            .map(|tz| Zone(Some(tz)))
            .map_err(|_| {
                format!(
                    "unknown time zone {name:?}: give an IANA name such as America/Chicago, \
                 Europe/Berlin or UTC"
                )
            })
    }

    /// The zone's IANA name (`UTC` for UTC).
    pub fn name(&self) -> &'static str {
        match self.0 {
            None => "UTC",
            Some(tz) => tz.name(),
        }
    }

    /// Whether this is UTC.
    pub fn is_utc(&self) -> bool {
        self.0.is_none()
    }

    /// The wall-clock time (as microseconds of a naive time) of a UTC instant.
    pub fn to_local(&self, utc_us: i64) -> i64 {
        let Some(tz) = self.0 else { return utc_us };
        let Some(t) = DateTime::from_timestamp_micros(utc_us) else {
            return utc_us;
        };
        let offset = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
        utc_us + i64::from(offset.local_minus_utc()) * 1_000_000
    }

    /// The UTC instant of a wall-clock time. In the hour a clock skips, the time an hour
    /// later; in the hour a clock repeats, the earlier of the two.
    pub fn from_local(&self, local_us: i64) -> i64 {
        let Some(tz) = self.0 else { return local_us };
        let Some(naive) = DateTime::from_timestamp_micros(local_us).map(|t| t.naive_utc()) else {
            return local_us;
        };
        let resolve = |n: NaiveDateTime| match tz.from_local_datetime(&n) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp_micros()),
            LocalResult::None => None,
        };
        resolve(naive)
            .or_else(|| resolve(naive + chrono::Duration::hours(1)))
            .unwrap_or(local_us)
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{format_timestamp_pg, parse_timestamp};

    fn local(zone: &str, utc: &str) -> String {
        let z = Zone::parse(zone).unwrap();
        format_timestamp_pg(z.to_local(parse_timestamp(utc).unwrap()))
    }

    #[test]
    fn chicago_follows_daylight_saving_time() {
        // 2024-03-10 is the day Chicago moves from CST (-6) to CDT (-5) at 2:00.
        assert_eq!(
            local("America/Chicago", "2024-03-10T07:30:00Z"),
            "2024-03-10T01:30:00+00:00"
        );
        assert_eq!(
            local("America/Chicago", "2024-03-11T13:30:00Z"),
            "2024-03-11T08:30:00+00:00"
        );
        // A question at 9 pm in Illinois is the next day in UTC.
        assert_eq!(
            local("America/Chicago", "2024-11-06T03:00:00Z"),
            "2024-11-05T21:00:00+00:00"
        );
        assert_eq!(
            local("UTC", "2024-03-10T07:30:00Z"),
            "2024-03-10T07:30:00+00:00"
        );
    }

    #[test]
    fn wall_clock_times_back_to_utc() {
        let z = Zone::parse("America/Chicago").unwrap();
        let at = |s| parse_timestamp(s).unwrap();
        assert_eq!(
            z.from_local(at("2024-03-10T01:30:00")),
            at("2024-03-10T07:30:00Z")
        );
        // 02:30 does not exist that night: an hour later, 03:30 CDT.
        assert_eq!(
            z.from_local(at("2024-03-10T02:30:00")),
            at("2024-03-10T07:30:00Z") + 3_600_000_000
        );
        // 01:30 on 2024-11-03 happens twice: the first (CDT).
        assert_eq!(
            z.from_local(at("2024-11-03T01:30:00")),
            at("2024-11-03T06:30:00Z")
        );
        for s in ["2024-01-15T12:00:00Z", "2024-07-04T23:59:59Z"] {
            assert_eq!(z.from_local(z.to_local(at(s))), at(s));
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            Zone::parse("America/Chicago").unwrap().name(),
            "America/Chicago"
        );
        assert!(Zone::parse("utc").unwrap().is_utc());
        let e = Zone::parse("Mars/Olympus").unwrap_err();
        assert!(e.contains("Mars/Olympus") && e.contains("IANA"), "{e}");
    }
}
