//! Keepalived's timer arithmetic, in its own units.
//!
//! Keepalived keeps every VRRP interval as an unsigned count of microseconds
//! (`TIMER_HZ` = 1 000 000) and the VRRPv3 wire carries centiseconds. The
//! skew time is computed with a reduced integer formula so that it fits in 32
//! bits, which truncates the half-microseconds the RFC's exact fraction would
//! give. Reproducing those integer steps is what makes our master-down timer
//! equal to keepalived's to the microsecond.

use std::time::Duration;

/// Microseconds per second, keepalived's `TIMER_HZ`.
pub const TIMER_HZ: u64 = 1_000_000;
/// Microseconds per centisecond, keepalived's `TIMER_CENTI_HZ`.
pub const TIMER_CENTI_HZ: u64 = 10_000;
/// The largest advertisement interval a 12-bit VRRPv3 field can carry, in
/// centiseconds (40.95 s).
pub const MAX_ADVERT_INT_CS: u64 = (1 << 12) - 1;

/// A duration in whole microseconds, truncating anything finer (keepalived
/// cannot represent it either).
pub fn to_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Microseconds back to a `Duration`.
pub fn from_us(us: u64) -> Duration {
    Duration::from_micros(us)
}

/// Skew for `pri_val` (normally `256 - priority`), VRRPv3 flavour:
/// `pri_val * (master_adver_int / 10 ms) * 625 / 16` µs. 625/16 is 10 000/256,
/// so this is `pri_val/256` of the interval, truncated to whole µs.
pub fn skew_us(pri_val: u64, master_adver_int_us: u64) -> u64 {
    (pri_val * (master_adver_int_us / TIMER_CENTI_HZ) * 625) / 16
}

/// Skew time for a router of `priority` (RFC 5798 §6.1 Skew_Time).
pub fn skew_for_priority_us(priority: u8, master_adver_int_us: u64) -> u64 {
    skew_us(256 - u64::from(priority), master_adver_int_us)
}

/// Master_Down_Interval: `down_timer_adverts × master_adver_int + skew`.
/// Keepalived makes the multiplier configurable (`down_timer_adverts`,
/// default 3 as in the RFC).
pub fn master_down_us(down_timer_adverts: u32, priority: u8, master_adver_int_us: u64) -> u64 {
    u64::from(down_timer_adverts) * master_adver_int_us
        + skew_for_priority_us(priority, master_adver_int_us)
}

/// Keepalived's VRRPv3 normalisation of a configured advert interval
/// (`vrrp_complete_instance`): intervals of 40.96 s or more are clamped to
/// 40.95 s, others are rounded half-up to whole centiseconds, and a result
/// of zero becomes 10 ms.
pub fn normalise_advert_int_us(us: u64) -> u64 {
    if us >= (MAX_ADVERT_INT_CS + 1) * TIMER_CENTI_HZ {
        return MAX_ADVERT_INT_CS * TIMER_CENTI_HZ;
    }
    if us.is_multiple_of(TIMER_CENTI_HZ) {
        return us;
    }
    let rounded = us + TIMER_CENTI_HZ / 2;
    let rounded = rounded - rounded % TIMER_CENTI_HZ;
    if rounded == 0 {
        TIMER_CENTI_HZ
    } else {
        rounded
    }
}

/// Formats microseconds as keepalived's `%g`-ish seconds for logs
/// ("3.648437").
pub fn fmt_secs(us: u64) -> String {
    let secs = us / TIMER_HZ;
    let frac = us % TIMER_HZ;
    if frac == 0 {
        format!("{secs}")
    } else {
        let s = format!("{secs}.{frac:06}");
        s.trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_for_priority_90_at_one_second_truncates_half_microsecond() {
        // RFC: 166/256 s = 0.6484375 s; keepalived's integer formula gives 648437 µs.
        assert_eq!(skew_for_priority_us(90, 1_000_000), 648_437);
    }

    #[test]
    fn master_down_for_100_and_90_at_one_second() {
        assert_eq!(master_down_us(3, 100, 1_000_000), 3_000_000 + 609_375);
        assert_eq!(master_down_us(3, 90, 1_000_000), 3_648_437);
    }

    #[test]
    fn owner_skew_is_one_256th() {
        assert_eq!(skew_for_priority_us(255, 1_000_000), 3_906); // 3906.25 truncated
    }

    #[test]
    fn advert_int_normalisation_matches_keepalived() {
        assert_eq!(normalise_advert_int_us(1_000_000), 1_000_000);
        assert_eq!(normalise_advert_int_us(1_234_567), 1_230_000);
        assert_eq!(normalise_advert_int_us(1_235_000), 1_240_000);
        assert_eq!(normalise_advert_int_us(40_960_000), 40_950_000);
        assert_eq!(normalise_advert_int_us(255_000_000), 40_950_000);
        assert_eq!(normalise_advert_int_us(40_950_000), 40_950_000);
        assert_eq!(normalise_advert_int_us(4_000), 10_000);
        assert_eq!(normalise_advert_int_us(15_000), 20_000);
    }

    #[test]
    fn seconds_formatting() {
        assert_eq!(fmt_secs(3_648_437), "3.648437");
        assert_eq!(fmt_secs(5_000_000), "5");
        assert_eq!(fmt_secs(1_500_000), "1.5");
    }
}
