//! Wall-clock timestamps for real-mode output, so takeovers can be timed
//! from the daemon's own lines (RFC 3339, UTC, microseconds).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `now` as `2026-12-01T05:20:03.123456Z`.
pub fn rfc3339(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// Year, month and day of `days` after 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's days-to-civil algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 (a leap day in a century leap year) 12:34:56.789 UTC.
        let t = UNIX_EPOCH + Duration::from_micros(951_827_696_789_000);
        assert_eq!(rfc3339(t), "2000-02-29T12:34:56.789000Z");
        // 2026-12-01T05:20:00Z.
        let t = UNIX_EPOCH + Duration::from_secs(1_796_102_400);
        assert_eq!(rfc3339(t), "2026-12-01T05:20:00.000000Z");
    }
}
