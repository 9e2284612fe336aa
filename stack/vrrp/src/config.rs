//! A `vrrp_instance` block's settings, with keepalived 2.2.7's defaults and
//! the checks its parser and `vrrp_complete_instance` make.
//!
//! Two kinds of bad value are told apart, as keepalived does:
//! - values its parser refuses (VRID 0, priority 0, an advert interval under
//!   10 ms, ...) are [`ConfigError`]s here (keepalived ignores the keyword
//!   and carries on with a default, which would hide the mistake);
//! - values it accepts and then adjusts with a warning (advert interval
//!   above 40.95 s or not in 10 ms steps, `nopreempt` with priority 255 or
//!   initial state MASTER, `garp_master_repeat 0`, ...) are adjusted the
//!   same way by [`Config::effective`], and listed by [`Config::warnings`].

use crate::timers::{self, TIMER_HZ};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;
use thiserror::Error;

/// Keepalived's `VRRP_PRIO_OWNER`: the router that owns the addresses.
pub const PRIORITY_OWNER: u8 = 255;
/// Keepalived's `VRRP_PRIO_DFL`.
pub const PRIORITY_DEFAULT: u8 = 100;

/// The `state` keyword of a `vrrp_instance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Master,
    Backup,
}

/// One VRRP instance's configuration. Field names follow keepalived's
/// keywords; [`Config::new`] fills keepalived's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// `virtual_router_id`, 1–255.
    pub vrid: u8,
    /// `priority`, 1–255; 255 marks the address owner.
    pub priority: u8,
    /// `advert_int` (seconds, may be fractional; 10 ms – 255 s accepted,
    /// then rounded to 10 ms and capped at 40.95 s for VRRPv3).
    pub advert_int: Duration,
    /// `true` unless `nopreempt` is given.
    pub preempt: bool,
    /// `preempt_delay`, 0–1000 s.
    pub preempt_delay: Duration,
    /// The instance's source address (interface primary address or
    /// `unicast_src_ip`): sent in adverts and compared on priority ties.
    pub primary_ip: Ipv4Addr,
    /// `virtual_ipaddress`. The first 255 are advertised; keepalived moves
    /// any beyond that to the excluded list (still configured, not sent).
    pub vips: Vec<Ipv4Addr>,
    /// `unicast_peer`; empty means multicast to 224.0.0.18.
    pub unicast_peers: Vec<Ipv4Addr>,
    /// `state MASTER|BACKUP`; `None` derives it from the priority.
    pub initial_state: Option<InitialState>,
    /// `garp_master_delay`, whole seconds (default 5 s; 0 disables the
    /// second burst).
    pub garp_master_delay: Duration,
    /// `garp_master_repeat` (default 5; 0 is turned into 1).
    pub garp_master_repeat: u32,
    /// `garp_master_refresh`, whole seconds (default 0: no refresh).
    pub garp_master_refresh: Duration,
    /// `garp_master_refresh_repeat` (default 1; 0 is turned into 1).
    pub garp_master_refresh_repeat: u32,
    /// `garp_lower_prio_delay`, whole seconds. Keepalived's default is the
    /// global `vrrp_garp_master_delay`, 5 s.
    pub garp_lower_prio_delay: Duration,
    /// `garp_lower_prio_repeat`. Keepalived's default is the global
    /// `vrrp_garp_master_repeat`, 5; 0 disables.
    pub garp_lower_prio_repeat: u32,
    /// `lower_prio_no_advert` (default false: a master that hears a lower
    /// priority advert answers with its own at once).
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert` (default false).
    pub higher_prio_send_advert: bool,
    /// `down_timer_adverts`, 1–100 (default 3).
    pub down_timer_adverts: u32,
    /// `skip_check_adv_addr` (default false): a backup skips the VIP list
    /// check for adverts from the master it already knows.
    pub skip_check_adv_addr: bool,
    /// `check_unicast_src` (default false): unicast adverts must come from a
    /// configured peer.
    pub check_unicast_src: bool,
}

/// A configuration value keepalived's parser would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum ConfigError {
    #[error("virtual_router_id {0} not valid: expected 1..=255")]
    Vrid(u8),
    #[error("priority {0} not valid: expected 1..=255")]
    Priority(u8),
    #[error("advert_int {0:?} not valid: expected 0.01 s ..= 255 s")]
    AdvertInt(Duration),
    #[error("preempt_delay {0:?} not valid: expected 0 ..= 1000 s")]
    PreemptDelay(Duration),
    #[error("{name} {value:?} not valid: expected whole seconds up to {max_secs} s")]
    WholeSeconds {
        name: &'static str,
        value: Duration,
        max_secs: u64,
    },
    #[error("down_timer_adverts {0} not valid: expected 1..=100")]
    DownTimerAdverts(u32),
    #[error("no virtual_ipaddress: VRRPv3 needs at least one")]
    NoVips,
    #[error("primary_ip {0} not valid: expected a unicast source address")]
    PrimaryIp(Ipv4Addr),
    #[error("unicast_peer {0} not valid: expected a unicast address")]
    UnicastPeer(Ipv4Addr),
}

/// The values keepalived actually runs with after `vrrp_complete_instance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effective {
    pub priority: u8,
    /// Advert interval in µs, in 10 ms steps, at most 40.95 s.
    pub advert_int_us: u64,
    pub nopreempt: bool,
    pub preempt_delay_us: u64,
    /// Start by going MASTER after 1 µs (address owner wanting MASTER).
    pub owner_start: bool,
    /// The addresses carried in adverts (first 255).
    pub advertised_vips: Vec<Ipv4Addr>,
    pub garp_master_repeat: u32,
    pub garp_master_refresh_repeat: u32,
}

impl Config {
    /// A configuration with keepalived's defaults for everything but the
    /// identity of the instance.
    pub fn new(vrid: u8, primary_ip: Ipv4Addr, vips: Vec<Ipv4Addr>) -> Self {
        Self {
            vrid,
            priority: PRIORITY_DEFAULT,
            advert_int: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            primary_ip,
            vips,
            unicast_peers: Vec::new(),
            initial_state: None,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp_master_refresh: Duration::ZERO,
            garp_master_refresh_repeat: 1,
            garp_lower_prio_delay: Duration::from_secs(5),
            garp_lower_prio_repeat: 5,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            down_timer_adverts: 3,
            skip_check_adv_addr: false,
            check_unicast_src: false,
        }
    }

    /// Checks the ranges keepalived's parser accepts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vrid == 0 {
            return Err(ConfigError::Vrid(self.vrid));
        }
        if self.priority == 0 {
            return Err(ConfigError::Priority(self.priority));
        }
        let adv = timers::to_us(self.advert_int);
        if !(TIMER_HZ / 100..=255 * TIMER_HZ).contains(&adv) {
            return Err(ConfigError::AdvertInt(self.advert_int));
        }
        if timers::to_us(self.preempt_delay) > 1000 * TIMER_HZ {
            return Err(ConfigError::PreemptDelay(self.preempt_delay));
        }
        let max_garp_delay = u64::from(u32::MAX) / TIMER_HZ;
        for (name, value, max_secs) in [
            ("garp_master_delay", self.garp_master_delay, max_garp_delay),
            (
                "garp_lower_prio_delay",
                self.garp_lower_prio_delay,
                max_garp_delay,
            ),
            (
                "garp_master_refresh",
                self.garp_master_refresh,
                u64::from(u32::MAX),
            ),
        ] {
            if value.subsec_nanos() != 0 || value.as_secs() > max_secs {
                return Err(ConfigError::WholeSeconds {
                    name,
                    value,
                    max_secs,
                });
            }
        }
        if !(1..=100).contains(&self.down_timer_adverts) {
            return Err(ConfigError::DownTimerAdverts(self.down_timer_adverts));
        }
        if self.vips.is_empty() {
            return Err(ConfigError::NoVips);
        }
        if self.primary_ip.is_unspecified()
            || self.primary_ip.is_multicast()
            || self.primary_ip.is_broadcast()
        {
            return Err(ConfigError::PrimaryIp(self.primary_ip));
        }
        if let Some(&peer) = self
            .unicast_peers
            .iter()
            .find(|p| p.is_unspecified() || p.is_multicast() || p.is_broadcast())
        {
            return Err(ConfigError::UnicastPeer(peer));
        }
        Ok(())
    }

    /// True when adverts go to unicast peers instead of the multicast group.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// The settings after keepalived's adjustments.
    pub fn effective(&self) -> Effective {
        let want_master = match self.initial_state {
            Some(InitialState::Master) => true,
            Some(InitialState::Backup) => false,
            None => self.priority == PRIORITY_OWNER,
        };
        // nopreempt is cleared for the owner and for initial state MASTER;
        // preempt_delay is cleared for initial state MASTER and nopreempt.
        let mut nopreempt = !self.preempt;
        if self.priority == PRIORITY_OWNER || want_master {
            nopreempt = false;
        }
        let mut preempt_delay_us = timers::to_us(self.preempt_delay);
        if want_master || nopreempt {
            preempt_delay_us = 0;
        }
        Effective {
            priority: self.priority,
            advert_int_us: timers::normalise_advert_int_us(timers::to_us(self.advert_int)),
            nopreempt,
            preempt_delay_us,
            owner_start: want_master && self.priority == PRIORITY_OWNER,
            advertised_vips: self.vips.iter().copied().take(255).collect(),
            garp_master_repeat: self.garp_master_repeat.max(1),
            garp_master_refresh_repeat: self.garp_master_refresh_repeat.max(1),
        }
    }

    /// The configuration warnings keepalived would log for this instance.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let want_master = self.initial_state == Some(InitialState::Master)
            || (self.initial_state.is_none() && self.priority == PRIORITY_OWNER);
        let adv = timers::to_us(self.advert_int);
        if adv >= 4096 * timers::TIMER_CENTI_HZ {
            w.push(format!(
                "VRRPv3 advertisement interval {:.2}s is out of range. Must be less than 40.96s. Setting to 40.95s",
                adv as f64 / TIMER_HZ as f64
            ));
        } else if !adv.is_multiple_of(timers::TIMER_CENTI_HZ) {
            w.push(format!(
                "VRRPv3 advertisement interval {:.6}s must be in units of 10ms - rounding",
                adv as f64 / TIMER_HZ as f64
            ));
        }
        if self.vips.len() > 255 {
            w.push(format!(
                "Number of VIPs ({}) exceeds maximum/space available in packet (max 255 addresses) - excess moved to eVIPs",
                self.vips.len()
            ));
        }
        if self.priority == PRIORITY_OWNER && !self.preempt {
            w.push("nopreempt is incompatible with priority 255. resetting nopreempt".into());
        }
        if want_master && !self.preempt && self.priority != PRIORITY_OWNER {
            w.push("Warning - nopreempt will not work with initial state MASTER - clearing".into());
        }
        if want_master && !self.preempt_delay.is_zero() {
            w.push(
                "Warning - preempt delay will not work with initial state MASTER - clearing".into(),
            );
        } else if !self.preempt && !self.preempt_delay.is_zero() {
            w.push("preempt_delay is incompatible with nopreempt mode - resetting".into());
        }
        if self.garp_master_repeat == 0 {
            w.push("garp_master_repeat must be greater than 0, setting to 1".into());
        }
        if self.garp_master_refresh_repeat == 0 {
            w.push("garp_master_refresh_repeat must be greater than 0, setting to 1".into());
        }
        w
    }

    /// Master_Down_Interval for this instance's configured priority when the
    /// master advertises `master_adver_int`, with keepalived's µs rounding:
    /// `down_timer_adverts × master_adver_int + skew`.
    pub fn master_down_interval(&self, master_adver_int: Duration) -> Duration {
        timers::from_us(timers::master_down_us(
            self.down_timer_adverts,
            self.priority,
            timers::to_us(master_adver_int),
        ))
    }

    /// Skew_Time for this instance's priority.
    pub fn skew_time(&self, master_adver_int: Duration) -> Duration {
        timers::from_us(timers::skew_for_priority_us(
            self.priority,
            timers::to_us(master_adver_int),
        ))
    }
}

impl fmt::Display for InitialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InitialState::Master => "MASTER",
            InitialState::Backup => "BACKUP",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::VRRP_GROUP;

    fn cfg() -> Config {
        Config::new(
            51,
            Ipv4Addr::new(10, 0, 0, 1),
            vec![Ipv4Addr::new(10, 0, 0, 100)],
        )
    }

    #[test]
    fn defaults_are_keepalived_defaults() {
        let c = cfg();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.priority, 100);
        assert_eq!(c.advert_int, Duration::from_secs(1));
        assert!(c.preempt);
        assert_eq!(c.garp_master_delay, Duration::from_secs(5));
        assert_eq!(c.garp_master_repeat, 5);
        assert_eq!(c.garp_master_refresh, Duration::ZERO);
        assert_eq!(c.garp_master_refresh_repeat, 1);
        assert_eq!(c.garp_lower_prio_repeat, 5);
        assert_eq!(c.garp_lower_prio_delay, Duration::from_secs(5));
        assert_eq!(c.down_timer_adverts, 3);
        assert!(!c.lower_prio_no_advert);
        assert!(!c.higher_prio_send_advert);
    }

    #[test]
    fn master_down_interval_for_100_and_90_at_one_second() {
        let mut c = cfg();
        assert_eq!(
            c.master_down_interval(Duration::from_secs(1)),
            Duration::from_micros(3_609_375)
        );
        c.priority = 90;
        // 3 + 166/256 s = 3.6484375 s, truncated by keepalived to 3.648437 s.
        assert_eq!(
            c.master_down_interval(Duration::from_secs(1)),
            Duration::from_micros(3_648_437)
        );
        assert_eq!(
            c.skew_time(Duration::from_secs(1)),
            Duration::from_micros(648_437)
        );
    }

    #[test]
    fn parser_ranges_are_errors() {
        let mut c = cfg();
        c.vrid = 0;
        assert_eq!(c.validate(), Err(ConfigError::Vrid(0)));
        let mut c = cfg();
        c.priority = 0;
        assert_eq!(c.validate(), Err(ConfigError::Priority(0)));
        let mut c = cfg();
        c.advert_int = Duration::from_millis(9);
        assert!(matches!(c.validate(), Err(ConfigError::AdvertInt(_))));
        c.advert_int = Duration::from_millis(10);
        assert_eq!(c.validate(), Ok(()));
        c.advert_int = Duration::from_secs(255);
        assert_eq!(c.validate(), Ok(()));
        c.advert_int = Duration::from_millis(255_001);
        assert!(matches!(c.validate(), Err(ConfigError::AdvertInt(_))));
        let mut c = cfg();
        c.preempt_delay = Duration::from_secs(1001);
        assert!(matches!(c.validate(), Err(ConfigError::PreemptDelay(_))));
        let mut c = cfg();
        c.garp_master_delay = Duration::from_millis(1500);
        assert!(matches!(
            c.validate(),
            Err(ConfigError::WholeSeconds { .. })
        ));
        let mut c = cfg();
        c.down_timer_adverts = 0;
        assert_eq!(c.validate(), Err(ConfigError::DownTimerAdverts(0)));
        let mut c = cfg();
        c.vips.clear();
        assert_eq!(c.validate(), Err(ConfigError::NoVips));
        let mut c = cfg();
        c.primary_ip = Ipv4Addr::UNSPECIFIED;
        assert!(matches!(c.validate(), Err(ConfigError::PrimaryIp(_))));
        let mut c = cfg();
        c.unicast_peers = vec![VRRP_GROUP];
        assert!(matches!(c.validate(), Err(ConfigError::UnicastPeer(_))));
    }

    #[test]
    fn keepalived_adjustments() {
        let mut c = cfg();
        c.advert_int = Duration::from_secs(100);
        assert_eq!(c.effective().advert_int_us, 40_950_000);
        c.advert_int = Duration::from_millis(1234);
        assert_eq!(c.effective().advert_int_us, 1_230_000);
        assert_eq!(c.warnings().len(), 1);

        // nopreempt and preempt_delay are cleared by initial state MASTER.
        let mut c = cfg();
        c.preempt = false;
        c.initial_state = Some(InitialState::Master);
        assert!(!c.effective().nopreempt);
        assert!(
            !c.effective().owner_start,
            "non-owner MASTER starts as BACKUP"
        );
        let mut c = cfg();
        c.preempt_delay = Duration::from_secs(10);
        c.initial_state = Some(InitialState::Master);
        assert_eq!(c.effective().preempt_delay_us, 0);
        // preempt_delay is cleared by nopreempt.
        let mut c = cfg();
        c.preempt = false;
        c.preempt_delay = Duration::from_secs(10);
        let e = c.effective();
        assert!(e.nopreempt);
        assert_eq!(e.preempt_delay_us, 0);
        // Owner: nopreempt cleared; starts MASTER unless state BACKUP given.
        let mut c = cfg();
        c.priority = 255;
        c.preempt = false;
        assert!(!c.effective().nopreempt);
        assert!(c.effective().owner_start);
        c.initial_state = Some(InitialState::Backup);
        assert!(!c.effective().owner_start);
        // garp repeats of 0 become 1.
        let mut c = cfg();
        c.garp_master_repeat = 0;
        assert_eq!(c.effective().garp_master_repeat, 1);
    }

    #[test]
    fn only_255_vips_are_advertised() {
        let mut c = cfg();
        c.vips = (0..300u32)
            .map(|i| Ipv4Addr::from(0x0a01_0000 + i))
            .collect();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.effective().advertised_vips.len(), 255);
    }
}
