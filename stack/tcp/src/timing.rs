//! Linux's TCP timing formulas as pure functions.
//!
//! Read from Linux's `net/ipv4/tcp_timer.c`, `tcp_input.c` and
//! `include/net/tcp.h`; restated here in our own words.
//!
//! * **RTO** (`tcp_rtt_estimator`, `__tcp_set_rto`): smoothed RTT plus a
//!   variance term that never falls below `TCP_RTO_MIN`, so on a LAN the RTO
//!   is about 200 ms + SRTT. Before the first sample it is 1 s. Each expiry
//!   doubles it (`icsk_backoff`) up to `TCP_RTO_MAX`.
//! * **tcp_retries2** is a *time*, not a count (`retransmits_timed_out`,
//!   `tcp_model_timeout`): the time the retransmissions would take had the
//!   RTO started at `TCP_RTO_MIN` and doubled `retries2` times, capped at
//!   `TCP_RTO_MAX`. It is checked when the retransmission timer fires,
//!   against the time since the first retransmission's segment was sent.
//!   With 15 this is 924.6 s, with 5 12.6 s, with 3 3.0 s.
//! * **SYN / SYN-ACK** retries are counts: the connection fails at the
//!   expiry after the last allowed retransmission (6 → 127 s).
//! * **Keepalive** (`tcp_keepalive_timer`): the first probe after `keepidle`
//!   without receiving anything, then one every `keepintvl`; when the timer
//!   fires with `keepcnt` probes unanswered the socket is reset. With
//!   `TCP_USER_TIMEOUT` set, it is reset instead at the first firing at which
//!   the idle time has reached the user timeout and a probe is out.

use std::time::Duration;

/// `tcp_model_timeout`: how long retransmissions may go on before a
/// connection with `boundary` as its `tcp_retries2` is timed out.
pub fn model_timeout(boundary: u32, rto_base: Duration, rto_max: Duration) -> Duration {
    let base = rto_base.as_micros().max(1);
    let max = rto_max.as_micros();
    // ilog2(rto_max / rto_base): the doublings before the cap is reached.
    let thresh = (max / base).max(1).ilog2();
    let us = if boundary <= thresh {
        ((2u128 << boundary) - 1) * base
    } else {
        ((2u128 << thresh) - 1) * base + u128::from(boundary - thresh) * max
    };
    Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
}

/// The RTO after `backoff` doublings, capped at `rto_max`.
pub fn backed_off(rto: Duration, backoff: u32, rto_max: Duration) -> Duration {
    let factor = 1u32.checked_shl(backoff.min(31)).unwrap_or(u32::MAX);
    rto.checked_mul(factor).unwrap_or(rto_max).min(rto_max)
}

/// Rounds `d` up to whole jiffies of a `hz` kernel (`usecs_to_jiffies`).
pub fn to_jiffies(d: Duration, hz: Option<u32>) -> Duration {
    let Some(hz) = hz.filter(|&h| h > 0) else {
        return d;
    };
    let jiffy = 1_000_000_000u128 / u128::from(hz);
    let n = d.as_nanos().div_ceil(jiffy);
    Duration::from_nanos(u64::try_from(n * jiffy).unwrap_or(u64::MAX))
}

/// When a kernel timer armed at `now` to expire `delay` later really fires.
///
/// Linux's timer wheel (`kernel/time/timer.c`, `calc_wheel_index`) files a
/// timer `delta` jiffies ahead in level `n` when `delta < 63 << 3n`, and
/// fires it at the next multiple of that level's granularity (`8^n`
/// jiffies) strictly after its expiry, so a timer is never early and is late
/// by up to one granule: 1 jiffy below 63 jiffies, 8 below 504, 64 below
/// 4032, 512 below 32256, and so on. `phase` is the jiffies counter's offset
/// at time zero. With `hz` `None`, timers fire exactly.
pub fn wheel_fire_time(
    now: Duration,
    delay: Duration,
    hz: Option<u32>,
    phase: Duration,
) -> Duration {
    let Some(hz) = hz.filter(|&h| h > 0) else {
        return now + delay;
    };
    let jiffy = 1_000_000_000u128 / u128::from(hz);
    let now_j = (now + phase).as_nanos() / jiffy;
    let delta = delay.as_nanos().div_ceil(jiffy);
    let expires = now_j + delta;
    let mut level = 0u32;
    while level < 8 && delta >= 63u128 << (3 * level) {
        level += 1;
    }
    let gran = 1u128 << (3 * level);
    let bucket = (expires / gran + 1) * gran;
    let fire = Duration::from_nanos(u64::try_from(bucket * jiffy).unwrap_or(u64::MAX));
    fire.saturating_sub(phase).max(now + delay)
}

/// When `connect` gives up on an unanswered SYN: the SYN and `retries`
/// retransmissions, each after a doubled RTO from `rto_init`.
pub fn syn_timeout(retries: u32, rto_init: Duration, rto_max: Duration) -> Duration {
    (0..=retries)
        .map(|k| backed_off(rto_init, k, rto_max))
        .sum()
}

/// How long after the last segment received keepalive declares a silent peer
/// dead: `idle + cnt × intvl`, or with a user timeout the first timer firing
/// at or after it that has a probe out.
pub fn keepalive_detection(
    idle: Duration,
    intvl: Duration,
    cnt: u32,
    user_timeout: Option<Duration>,
) -> Duration {
    match user_timeout {
        None => idle + intvl * cnt,
        Some(ut) => {
            let mut at = idle + intvl;
            while at < ut && !intvl.is_zero() {
                at += intvl;
            }
            at
        }
    }
}

/// Linux's RTT estimator (Jacobson/Karels with Linux's variance floor).
///
/// Times are microseconds; `srtt8` is 8 × SRTT and `mdev4` 4 × the mean
/// deviation, as the kernel keeps them. `rttvar` is the variance term of the
/// RTO, at least `rto_min`; it decays toward the largest deviation seen in
/// the last window of data (`rtt_seq`) once per window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    srtt8: u64,
    mdev4: u64,
    mdev_max: u64,
    rttvar: u64,
    window_end: u64,
    rto_min: u64,
}

impl RttEstimator {
    /// An estimator without samples.
    pub fn new(rto_min: Duration) -> Self {
        RttEstimator {
            srtt8: 0,
            mdev4: 0,
            mdev_max: 0,
            rttvar: 0,
            window_end: 0,
            rto_min: micros(rto_min),
        }
    }

    /// Whether a sample has been taken.
    pub fn has_sample(&self) -> bool {
        self.srtt8 != 0
    }

    /// Smoothed RTT.
    pub fn srtt(&self) -> Duration {
        Duration::from_micros(self.srtt8 >> 3)
    }

    /// Takes an RTT sample. `acked` is the stream offset acknowledged by the
    /// sample's ACK and `sent` the offset of the next byte to send, which
    /// delimit the estimator's once-per-window variance decay.
    pub fn sample(&mut self, rtt: Duration, acked: u64, sent: u64) {
        let m = micros(rtt).max(1);
        if self.srtt8 == 0 {
            self.srtt8 = m << 3;
            self.mdev4 = m << 1;
            self.rttvar = self.mdev4.max(self.rto_min);
            self.mdev_max = self.rttvar;
            self.window_end = sent;
            return;
        }
        let srtt = self.srtt8 >> 3;
        let err = i128::from(m) - i128::from(srtt);
        self.srtt8 = u64::try_from(i128::from(self.srtt8) + err)
            .unwrap_or(1)
            .max(1);
        let mdev_q = i128::from(self.mdev4 >> 2);
        let mut dev = err.abs() - mdev_q;
        // A sample below the smoothed RTT moves the deviation only an eighth
        // as much when it would raise it (Linux's "Eifel" damping).
        if err < 0 && dev > 0 {
            dev >>= 3;
        }
        self.mdev4 = u64::try_from(i128::from(self.mdev4) + dev).unwrap_or(0);
        if self.mdev4 > self.mdev_max {
            self.mdev_max = self.mdev4;
            self.rttvar = self.rttvar.max(self.mdev_max);
        }
        if acked > self.window_end {
            if self.mdev_max < self.rttvar {
                self.rttvar -= (self.rttvar - self.mdev_max) >> 2;
            }
            self.window_end = sent;
            self.mdev_max = self.rto_min;
        }
    }

    /// The RTO: SRTT + variance term, capped at `rto_max`; `init` before
    /// any sample.
    pub fn rto(&self, init: Duration, rto_max: Duration) -> Duration {
        if self.srtt8 == 0 {
            return init;
        }
        Duration::from_micros((self.srtt8 >> 3) + self.rttvar).min(rto_max)
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(120);

    #[test]
    fn retries2_is_a_time_computed_from_rto_min() {
        // ip-sysctl.rst: "The default value of 15 yields a hypothetical
        // timeout of 924.6 seconds".
        assert_eq!(model_timeout(15, MIN, MAX), Duration::from_millis(924_600));
        assert_eq!(model_timeout(5, MIN, MAX), Duration::from_millis(12_600));
        assert_eq!(model_timeout(3, MIN, MAX), Duration::from_millis(3_000));
        assert_eq!(model_timeout(6, MIN, MAX), Duration::from_millis(25_400));
        // Nine doublings reach 102.4 s; the tenth is capped at 120 s.
        assert_eq!(model_timeout(9, MIN, MAX), Duration::from_millis(204_600));
        assert_eq!(model_timeout(10, MIN, MAX), Duration::from_millis(324_600));
        // Not retries × RTO.
        assert_ne!(model_timeout(15, MIN, MAX), MIN * 15);
    }

    #[test]
    fn syn_gives_up_after_127_s_with_six_retries() {
        let init = Duration::from_secs(1);
        assert_eq!(syn_timeout(6, init, MAX), Duration::from_secs(127));
        assert_eq!(syn_timeout(5, init, MAX), Duration::from_secs(63));
        assert_eq!(syn_timeout(0, init, MAX), Duration::from_secs(1));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backed_off(MIN, 0, MAX), MIN);
        assert_eq!(backed_off(MIN, 3, MAX), Duration::from_millis(1600));
        assert_eq!(backed_off(MIN, 10, MAX), MAX);
        assert_eq!(backed_off(MIN, 200, MAX), MAX);
    }

    #[test]
    fn keepalive_defaults_take_two_hours_eleven_minutes() {
        let d = keepalive_detection(Duration::from_secs(7200), Duration::from_secs(75), 9, None);
        assert_eq!(d, Duration::from_secs(7875));
        let fuel = keepalive_detection(Duration::from_secs(30), Duration::from_secs(3), 8, None);
        assert_eq!(fuel, Duration::from_secs(54));
    }

    #[test]
    fn keepalive_with_user_timeout_stops_at_first_firing_past_it() {
        let s = Duration::from_secs;
        assert_eq!(keepalive_detection(s(5), s(1), 9, Some(s(7))), s(7));
        assert_eq!(keepalive_detection(s(5), s(2), 9, Some(s(8))), s(9));
        // A user timeout shorter than the idle time still waits for a probe.
        assert_eq!(keepalive_detection(s(5), s(1), 9, Some(s(1))), s(6));
    }

    #[test]
    fn jiffies_round_up_and_the_wheel_is_never_early() {
        let ms = Duration::from_millis;
        assert_eq!(
            to_jiffies(Duration::from_micros(200_030), Some(250)),
            ms(204)
        );
        assert_eq!(
            to_jiffies(Duration::from_micros(200_030), Some(1000)),
            ms(201)
        );
        assert_eq!(to_jiffies(ms(200), None), ms(200));
        // 204 ms = 51 jiffies at 250 Hz: level 0, one jiffy late.
        assert_eq!(wheel_fire_time(ms(0), ms(204), Some(250), ms(0)), ms(208));
        // 6.528 s = 1632 jiffies: level 2, fires on the next 64-jiffy boundary.
        let f = wheel_fire_time(ms(1000), ms(6528), Some(250), ms(0));
        assert!(f > ms(7528) && f <= ms(7528 + 256), "{f:?}");
        assert_eq!(f.as_millis() % 256, 0);
        assert_eq!(wheel_fire_time(ms(3), ms(5), None, ms(0)), ms(8));
    }

    #[test]
    fn lan_rto_is_rto_min_plus_srtt() {
        let mut e = RttEstimator::new(MIN);
        assert_eq!(e.rto(Duration::from_secs(1), MAX), Duration::from_secs(1));
        e.sample(Duration::from_micros(100), 1, 2);
        assert_eq!(
            e.rto(Duration::from_secs(1), MAX),
            Duration::from_micros(200_100)
        );
        for k in 0..50 {
            e.sample(Duration::from_micros(100), 2 + k, 3 + k);
        }
        assert_eq!(
            e.rto(Duration::from_secs(1), MAX),
            Duration::from_micros(200_100)
        );
    }

    #[test]
    fn wan_rto_follows_variance() {
        let mut e = RttEstimator::new(MIN);
        e.sample(Duration::from_millis(300), 1, 2);
        // First sample: SRTT 300 ms, variance 2 × 300 = 600 ms.
        assert_eq!(
            e.rto(Duration::from_secs(1), MAX),
            Duration::from_millis(900)
        );
        assert_eq!(e.srtt(), Duration::from_millis(300));
    }
}
