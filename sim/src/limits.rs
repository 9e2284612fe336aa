//! The allowed range of every duration, count and rate a scenario or the
//! command line can set.
//!
//! Every duration in a scenario file is read through one of the bounded
//! deserializers below, so a value out of range is refused while the file is
//! parsed, with the file, line and column of the value and the allowed range.
//! Because no scenario duration can exceed [`MAX_RUN`], sums of two of them
//! (a fault's `at` plus its `jitter`, a nemesis fault's start plus its length)
//! cannot overflow `Duration`, and simulated time stays far below madsim's
//! limits.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// The longest simulated run: one year (365.25 days, humantime's `1year`).
pub const MAX_RUN: Duration = Duration::from_secs(31_557_600);
/// The shortest simulated run.
pub const MIN_RUN: Duration = Duration::from_millis(1);
/// One day: the upper bound of per-event delays (boot, latency, timeouts).
pub const DAY: Duration = Duration::from_secs(24 * 3600);
/// The shortest client request interval: a faster client would flood the
/// event log without telling anything a 1 ms client does not.
pub const MIN_CLIENT_INTERVAL: Duration = Duration::from_millis(1);
/// The shortest Corosync test-load interval, per node (the throughput
/// scenario uses 200 us).
pub const MIN_LOAD_INTERVAL: Duration = Duration::from_micros(100);
/// The longest Corosync test-load interval.
pub const MAX_LOAD_INTERVAL: Duration = Duration::from_secs(3600);
/// The shortest nemesis fault.
pub const MIN_NEMESIS_LENGTH: Duration = Duration::from_millis(1);
/// The most faults a nemesis may draw in one run.
pub const MAX_NEMESIS_FAULTS: u64 = 10_000;
/// The most seeds in one campaign.
pub const MAX_CAMPAIGN_SEEDS: u64 = 1_000_000_000;
/// The most threads a campaign may use.
pub const MAX_JOBS: usize = 1024;
/// The largest scenario file read.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;
/// The largest corosync.conf read (corosync's own parser reads line by line;
/// real files are a few KB).
pub const MAX_COROSYNC_CONF_BYTES: u64 = 1 << 20;
/// The largest CIB read by `hasim schedule` (real CIBs stay below a few MB;
/// Pacemaker compresses above 1 MB).
pub const MAX_CIB_BYTES: u64 = 64 << 20;
/// The most seeds per grid point of a sweep: every seed's disturbance plan
/// is drawn before the sweep starts, and each point runs every seed.
pub const MAX_SWEEP_SEEDS: u64 = 100_000;
/// The largest campaign summary `hasim merge` reads (one failure record per
/// failing seed; a million failing seeds stay well below this).
pub const MAX_SUMMARY_BYTES: u64 = 256 << 20;

/// `value` if it lies in `[min, max]`, otherwise a message giving the range.
pub fn check_range(value: Duration, min: Duration, max: Duration) -> Result<Duration, String> {
    if value < min || value > max {
        Err(format!(
            "expected a duration from {} to {}, found {}",
            show(min),
            show(max),
            show(value)
        ))
    } else {
        Ok(value)
    }
}

/// A duration as a person writes it (`1year`, `30s`, `200us`).
pub fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}`: {e}; expected a duration such as \"1s\", \"250ms\" or \"200us\""
        ))
    })
}

fn within<'de, D: Deserializer<'de>>(
    d: D,
    min: Duration,
    max: Duration,
) -> Result<Duration, D::Error> {
    check_range(read(d)?, min, max).map_err(serde::de::Error::custom)
}

/// Declare a deserializer for `Duration` and one for `Option<Duration>` that
/// accept only `[min, max]`.
macro_rules! bounded {
    ($name:ident, $optional:ident, $min:expr, $max:expr) => {
        pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
            within(d, $min, $max)
        }
        #[allow(dead_code)]
        pub fn $optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            within(d, $min, $max).map(Some)
        }
    };
}

// The length of a run.
bounded!(run_length, opt_run_length, MIN_RUN, MAX_RUN);
// An instant within a run, or a spread of instants (fault `at`, `jitter`,
// nemesis `start` and `stop`, `max_outage`).
bounded!(instant, opt_instant, Duration::ZERO, MAX_RUN);
// A delay that may be zero: latency, jitter, reorder window, boot delay,
// nemesis gap, VRRP preempt delay (the VRRP core narrows it further).
bounded!(delay, opt_delay, Duration::ZERO, DAY);
// A period that must be positive: ARP cache lifetime, client timeout, VRRP
// advert interval (the VRRP core narrows it to keepalived's range).
bounded!(period, opt_period, Duration::from_micros(1), DAY);
// A client's request interval.
bounded!(
    client_interval,
    opt_client_interval,
    MIN_CLIENT_INTERVAL,
    DAY
);
// A Corosync test-load interval.
bounded!(
    load_interval,
    opt_load_interval,
    MIN_LOAD_INTERVAL,
    MAX_LOAD_INTERVAL
);
// A nemesis fault length.
bounded!(nemesis_length, opt_nemesis_length, MIN_NEMESIS_LENGTH, DAY);

/// Deserialize a probability (0 to 1), refusing anything else at its position.
pub fn probability<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let p = f64::deserialize(d)?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(serde::de::Error::custom(format!(
            "expected a probability from 0 to 1, found {p}"
        )))
    }
}

/// [`probability`] for an optional key.
pub fn opt_probability<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    probability(d).map(Some)
}

/// A probability: a number from 0 to 1 (NaN is not one).
pub fn check_probability(name: &str, p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("expected `{name}` from 0 to 1, found {p}"))
    }
}

/// `n` if it is a number of seeds per sweep point in `1..=MAX_SWEEP_SEEDS`.
pub fn check_sweep_seeds(n: u64) -> Result<u64, String> {
    if (1..=MAX_SWEEP_SEEDS).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "expected a number of seeds per point from 1 to {MAX_SWEEP_SEEDS}, found {n}"
        ))
    }
}

/// A sweep file's `seeds`, range-checked so the error carries its line.
pub fn sweep_seeds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    check_sweep_seeds(u64::deserialize(d)?).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct T {
        #[serde(deserialize_with = "run_length")]
        d: Duration,
    }

    fn parse(text: &str) -> Result<Duration, toml::de::Error> {
        toml::from_str::<T>(text).map(|t| t.d)
    }

    #[test]
    fn in_range_is_accepted() {
        assert_eq!(parse("d = \"10s\"").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("d = \"1year\"").unwrap(), MAX_RUN);
    }

    #[test]
    fn zero_tiny_huge_and_overflowing_are_refused_with_the_range() {
        for bad in ["0s", "1us", "366days", "1000000h", "18446744073709551615s"] {
            let e = parse(&format!("d = \"{bad}\"")).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("expected a duration"), "{bad}: {text}");
            assert_eq!(e.span(), Some(4..6 + bad.len()), "{bad}");
        }
        let e = parse("d = \"99999999999999999999999s\"").unwrap_err();
        assert!(e.to_string().contains("expected a duration"), "{e}");
    }

    #[test]
    fn probabilities_refuse_nan_and_out_of_range() {
        assert!(check_probability("loss", 0.5).is_ok());
        assert!(check_probability("loss", f64::NAN).is_err());
        assert!(check_probability("loss", 1.5).is_err());
        assert!(check_probability("loss", -0.0).is_ok());
    }
}
