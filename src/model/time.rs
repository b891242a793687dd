//! Times as the exporters write them: ISO-8601 with any offset (PostgreSQL, pandas,
//! JavaScript) or epoch milliseconds, read to microseconds since the epoch (UTC) and written
//! back character for character. A small proleptic Gregorian calendar, no time-zone data.

/// Microseconds per day.
const DAY_US: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    s.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Whether an ISO-8601 time names its offset (`Z` or `±HH[:MM]` after the time): one that
/// does not is a wall-clock time, read in the zone of `--tz`.
pub fn has_offset(s: &str) -> bool {
    let t = s.trim();
    t.len() > 10 && (t.ends_with(['Z', 'z']) || t[11..].contains(['+', '-']))
}

/// Parses an ISO-8601 time as the exporters write it, to microseconds since the epoch (UTC).
///
/// Accepts `T` or a space between date and time, 0 to 9 fractional digits (beyond 6 are
/// truncated), and `Z`, `±HH`, `±HHMM`, `±HH:MM` or no offset at all (read as UTC, which is
/// what the database stores). A date alone is midnight UTC.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)? as i64;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (month, day) = (digits(b, 5, 2)?, digits(b, 8, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut us = days_from_civil(year, month, day) * DAY_US;
    if b.len() == 10 {
        return Some(us);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (h, mi) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
    if b.get(13) != Some(&b':') || h > 23 || mi > 59 {
        return None;
    }
    let mut i = 16;
    let mut sec = 0;
    if b.get(i) == Some(&b':') {
        sec = digits(b, 17, 2)?;
        if sec > 60 {
            return None;
        }
        i = 19;
    }
    let mut frac_us = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                frac_us = frac_us * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            frac_us *= 10;
        }
    }
    us += (i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec)) * 1_000_000 + frac_us;
    let offset_min: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = i64::from(digits(b, i + 1, 2)?);
            let rest = &b[i + 3..];
            let om = match rest {
                [] => 0,
                [b':', m1, m2] | [m1, m2] if m1.is_ascii_digit() && m2.is_ascii_digit() => {
                    i64::from((m1 - b'0') * 10 + (m2 - b'0'))
                }
                _ => return None,
            };
            let total = oh * 60 + om;
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    Some(us - offset_min * 60_000_000)
}

fn push_2(out: &mut String, v: u32) {
    out.push(char::from(b'0' + (v / 10) as u8));
    out.push(char::from(b'0' + (v % 10) as u8));
}

fn push_date_time(out: &mut String, us: i64) -> i64 {
    let days = us.div_euclid(DAY_US);
    let rem = us.rem_euclid(DAY_US);
    let (y, m, d) = civil_from_days(days);
    out.push_str(&format!("{y:04}"));
    out.push('-');
    push_2(out, m);
    out.push('-');
    push_2(out, d);
    out.push('T');
    let secs = (rem / 1_000_000) as u32;
    push_2(out, secs / 3600);
    out.push(':');
    push_2(out, secs / 60 % 60);
    out.push(':');
    push_2(out, secs % 60);
    rem % 1_000_000
}

/// How PostgreSQL (through Supabase and pandas) writes a UTC time: `2024-06-26T17:26:27.5+00:00`,
/// fractional digits trimmed of trailing zeros. The form of row `created_at` in most exports.
pub fn format_timestamp_pg(us: i64) -> String {
    let mut out = String::with_capacity(32);
    let frac = push_date_time(&mut out, us);
    if frac != 0 {
        let f = format!(".{frac:06}");
        out.push_str(f.trim_end_matches('0'));
    }
    out.push_str("+00:00");
    out
}

/// How JavaScript's `toISOString` writes a time: `2025-02-12T18:46:25.000Z`. The form of
/// `createdAt` / `updatedAt` in conversation objects.
pub fn format_timestamp_js(us: i64) -> String {
    let mut out = String::with_capacity(24);
    let frac = push_date_time(&mut out, us);
    out.push_str(&format!(".{:03}Z", frac / 1000));
    out
}

/// The `YYYY-MM` month (UTC) of a time in microseconds.
pub fn format_month(us: i64) -> String {
    let (y, m, _) = civil_from_days(us.div_euclid(DAY_US));
    format!("{y:04}-{m:02}")
}

/// The current time in microseconds since the epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_offset_and_precision() {
        let utc = parse_timestamp("2024-06-26T17:26:27.5+00:00").unwrap();
        assert_eq!(format_timestamp_pg(utc), "2024-06-26T17:26:27.5+00:00");
        let west = parse_timestamp("2023-08-14T16:35:40.508062-07:00").unwrap();
        assert_eq!(
            format_timestamp_pg(west),
            "2023-08-14T23:35:40.508062+00:00"
        );
        let js = parse_timestamp("2025-02-12T18:46:25.000Z").unwrap();
        assert_eq!(format_timestamp_js(js), "2025-02-12T18:46:25.000Z");
        assert_eq!(format_timestamp_pg(js), "2025-02-12T18:46:25+00:00");
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("1969-12-31 23:59:59.999999+00"), Some(-1));
        assert_eq!(
            parse_timestamp("2024-01-01T05:30:00+0530"),
            parse_timestamp("2024-01-01T00:00:00Z")
        );
        for bad in [
            "",
            "2024",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00+",
            "x024-01-01",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn offsets_are_told_apart_from_wall_clock_times() {
        for (s, has) in [
            ("2024-03-10", false),
            ("2024-03-10T01:30:00", false),
            ("2024-03-10 01:30", false),
            ("2024-03-10T01:30:00Z", true),
            ("2024-03-10T01:30:00-06:00", true),
            ("2024-03-10T01:30:00+0530", true),
        ] {
            assert_eq!(has_offset(s), has, "{s}");
        }
    }

    #[test]
    fn months_are_utc() {
        let at = |s| parse_timestamp(s).unwrap();
        assert_eq!(format_month(at("2024-03-31T23:59:59Z")), "2024-03");
        assert_eq!(format_month(at("2024-03-31T20:00:00-05:00")), "2024-04");
        assert_eq!(format_month(-1), "1969-12");
    }

    #[test]
    fn epoch_ms_of_2025_backend_formats_as_utc() {
        let us = 1_761_340_896_123 * 1000;
        assert_eq!(format_timestamp_pg(us), "2025-10-24T21:21:36.123+00:00");
    }
}
