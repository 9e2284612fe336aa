//! One VRRP instance: keepalived's state machine as a sans-IO core.
//!
//! The functions mirror keepalived's own split so that each can be checked
//! against it: `receive` is `vrrp_dispatcher_read`, `check` is
//! `vrrp_check_packet`, `backup_rx` is `vrrp_state_backup`, `master_rx` is
//! `vrrp_state_master_rx`, `master_tx` is `vrrp_state_master_tx`,
//! `goto_master`/`become_master`/`leave_master` are the functions of the same
//! names, and `set_timer` is `vrrp_init_instance_sands`.

use crate::config::{Config, ConfigError, Effective, PRIORITY_OWNER};
use crate::packet::{Advert, Ipv4Datagram, RawHeader, VERSION_3, VRRP_GROUP, VRRP_TTL};
use crate::stats::{DropReason, Stats};
use crate::timers::{self, TIMER_CENTI_HZ};
use crate::types::{Action, Destination, Reason, State};
use std::cmp::Ordering;
use std::net::Ipv4Addr;
use std::time::Duration;

/// What the receive path knows about a packet besides its VRRP bytes.
#[derive(Debug, Clone, Copy)]
struct RxMeta {
    /// Sender as the socket reports it (keepalived's `pkt_saddr`).
    src: Ipv4Addr,
    /// Source and destination for the checksum pseudo-header.
    pseudo_src: Ipv4Addr,
    pseudo_dst: Ipv4Addr,
    /// IPv4 destination, when an IP header was seen.
    dst: Option<Ipv4Addr>,
    /// IPv4 TTL, when an IP header was seen.
    ttl: Option<u8>,
    /// (IPv4 total length, bytes received), when an IP header was seen.
    ip_len: Option<(usize, usize)>,
}

/// A gratuitous-ARP burst scheduled for later (keepalived's
/// `vrrp_gratuitous_arp_thread` and `vrrp_lower_prio_gratuitous_arp_thread`
/// timer threads). Like keepalived, leaving MASTER does not cancel it; it
/// sends nothing if the addresses are no longer set when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DelayedGarp {
    at: Duration,
    repeat: u32,
}

/// A VRRP instance.
#[derive(Debug, Clone)]
pub struct Vrrp {
    cfg: Config,
    eff: Effective,
    /// Priority used in adverts and comparisons; lowered to 254 when another
    /// router also claims to be the owner.
    effective_priority: u8,
    state: State,
    /// The master's interval as learned from its adverts (µs).
    master_adver_int_us: u64,
    /// Keepalived's `ms_down_timer`: what `set_timer` adds in BACKUP. Kept
    /// as a `Duration` so that re-arming with the remaining time keeps a
    /// deadline exact even when `now` has sub-microsecond precision.
    ms_down_timer: Duration,
    /// Keepalived's `sands`: when the state's timer fires.
    sands: Option<Duration>,
    /// When preemption of a lower-priority master becomes allowed.
    preempt_time: Option<Duration>,
    /// True while the VIPs are configured (keepalived's `vipset`).
    vipset: bool,
    garp_refresh_timer: Option<Duration>,
    delayed_garps: Vec<DelayedGarp>,
    /// Last master heard from and its priority (keepalived's `master_saddr`,
    /// `master_priority`).
    master_saddr: Option<Ipv4Addr>,
    master_priority: u8,
    /// Why we would become MASTER if the down timer fired now (keepalived's
    /// SNMP `next_master_reason`).
    next_master_reason: Reason,
    stats: Stats,
}

impl Vrrp {
    /// A stopped instance (state INIT) for a valid configuration.
    pub fn new(cfg: Config) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let eff = cfg.effective();
        Ok(Self {
            effective_priority: eff.priority,
            master_adver_int_us: eff.advert_int_us,
            ms_down_timer: Duration::ZERO,
            eff,
            cfg,
            state: State::Init,
            sands: None,
            preempt_time: None,
            vipset: false,
            garp_refresh_timer: None,
            delayed_garps: Vec::new(),
            master_saddr: None,
            master_priority: 0,
            next_master_reason: Reason::MasterDownTimerExpired,
            stats: Stats::default(),
        })
    }

    /// The configuration as given.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Priority currently advertised (the configured one unless an owner
    /// conflict lowered it to 254).
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// The master's advert interval this instance currently uses.
    pub fn master_adver_int(&self) -> Duration {
        timers::from_us(self.master_adver_int_us)
    }

    /// The last master heard from (BACKUP state) and its priority.
    pub fn master(&self) -> Option<(Ipv4Addr, u8)> {
        self.master_saddr.map(|a| (a, self.master_priority))
    }

    /// Whether the virtual addresses are currently configured by us.
    pub fn vips_set(&self) -> bool {
        self.vipset
    }

    /// When `handle_timeout` must next be called.
    pub fn next_timeout(&self) -> Option<Duration> {
        let garp = self.delayed_garps.iter().map(|g| g.at).min();
        match (self.sands, garp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Start the instance (keepalived's `vrrp_init_state` + `vrrp_init_sands`).
    ///
    /// An address owner that wants MASTER (priority 255 and no `state
    /// BACKUP`) is given a 1 µs master-down timer and goes MASTER when it
    /// fires; every other instance enters BACKUP with a full
    /// Master_Down_Interval. `state MASTER` on a non-owner does not make it
    /// MASTER any sooner.
    pub fn start(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        if !matches!(self.state, State::Init | State::Stop) {
            return out;
        }
        let from = self.state;
        self.effective_priority = self.eff.priority;
        self.master_adver_int_us = self.eff.advert_int_us;
        self.preempt_time = None;
        self.master_saddr = None;
        self.master_priority = 0;
        self.delayed_garps.clear();
        self.garp_refresh_timer = None;
        if self.eff.owner_start {
            // Keepalived sets state BACKUP silently with a 1 µs timer; we stay
            // INIT for that microsecond so no unreported state is visible.
            self.state = State::Init;
            self.ms_down_timer = timers::from_us(1);
            self.next_master_reason = Reason::AddressOwner;
            self.sands = Some(now.saturating_add(timers::from_us(1)));
        } else {
            self.ms_down_timer = timers::from_us(self.master_down_us());
            self.next_master_reason = Reason::MasterDownTimerExpired;
            self.transition(&mut out, from, State::Backup, Reason::Startup);
            self.set_timer(now);
        }
        out
    }

    /// Handle a VRRP message (no IP header) received from `src`.
    ///
    /// Without an IP header the TTL and the multicast/unicast destination
    /// cannot be checked; the checksum is verified with the destination this
    /// instance expects (224.0.0.18, or `primary_ip` for a unicast instance),
    /// so a packet sent to the wrong kind of destination fails the checksum.
    pub fn handle_packet(&mut self, now: Duration, src: Ipv4Addr, bytes: &[u8]) -> Vec<Action> {
        let pseudo_dst = if self.cfg.is_unicast() {
            self.cfg.primary_ip
        } else {
            VRRP_GROUP
        };
        let meta = RxMeta {
            src,
            pseudo_src: src,
            pseudo_dst,
            dst: None,
            ttl: None,
            ip_len: None,
        };
        self.receive(now, meta, bytes)
    }

    /// Handle a whole IPv4 datagram as keepalived's raw socket receives it;
    /// adds keepalived's TTL, total-length and destination-kind checks.
    pub fn handle_ipv4_datagram(&mut self, now: Duration, bytes: &[u8]) -> Vec<Action> {
        match Ipv4Datagram::parse(bytes) {
            Ok(d) => {
                let meta = RxMeta {
                    src: d.src,
                    pseudo_src: d.src,
                    pseudo_dst: d.dst,
                    dst: Some(d.dst),
                    ttl: Some(d.ttl),
                    ip_len: Some((d.tot_len, bytes.len())),
                };
                self.receive(now, meta, d.payload)
            }
            Err(e) => {
                self.stats.packets_received += 1;
                self.stats.count_drop(match e {
                    crate::packet::DecodeError::TooShort { .. } => DropReason::TooShort,
                    _ => DropReason::IpHeader,
                });
                Vec::new()
            }
        }
    }

    /// Fire whatever timers are due at `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        // Each step moves the main timer past `now` or removes a GARP timer
        // (a zero master-down timer is consumed by the transition it
        // causes). Only a clock at `Duration::MAX`, where deadlines saturate,
        // could leave a MASTER timer due after firing; stop then.
        loop {
            let main_due = self.sands.filter(|&t| t <= now);
            let garp_due = self
                .delayed_garps
                .iter()
                .enumerate()
                .filter(|(_, g)| g.at <= now)
                .min_by_key(|(i, g)| (g.at, *i))
                .map(|(i, g)| (i, g.at));
            let main_first = match (main_due, garp_due) {
                (None, None) => break,
                (Some(m), Some((_, g))) => m <= g,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            if main_first {
                self.fire_main(now, &mut out);
                if self.state == State::Master && self.sands.is_some_and(|t| t <= now) {
                    break;
                }
            } else if let Some((i, _)) = garp_due {
                let g = self.delayed_garps.remove(i);
                self.send_link_update(&mut out, g.repeat);
            }
        }
        out
    }

    /// Stop the instance: a MASTER sends a priority-0 advert and releases its
    /// addresses (keepalived's `restore_vrrp_interfaces`); a BACKUP just stops.
    pub fn shutdown(&mut self, _now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Stop {
            return out;
        }
        if self.state == State::Master {
            self.send_adv(&mut out, 0);
            self.stats.priority_zero_sent += 1;
        }
        self.release_vips(&mut out);
        let from = self.state;
        self.sands = None;
        self.delayed_garps.clear();
        self.garp_refresh_timer = None;
        self.preempt_time = None;
        self.transition(&mut out, from, State::Stop, Reason::Shutdown);
        out
    }

    /// The effective timers, in the words keepalived's `--dump-conf` /
    /// SIGUSR1 data dump uses for them.
    pub fn describe_timers(&self) -> String {
        let adv = self.eff.advert_int_us;
        let mut lines = vec![
            format!(" VRRP Instance = VI_{}", self.cfg.vrid),
            "   VRRP Version = 3".to_string(),
            format!("   State = {}", self.state),
        ];
        if self.state == State::Backup {
            if let Some((addr, prio)) = self.master() {
                lines.push(format!("   Master router = {addr}"));
                lines.push(format!("   Master priority = {prio}"));
            }
            lines.push(format!(
                "   Master advert int = {:.2} sec",
                self.master_adver_int_us as f64 / timers::TIMER_HZ as f64
            ));
        }
        lines.push(match self.sands {
            Some(t) => format!("   Read timeout = {}", timers::fmt_secs(timers::to_us(t))),
            None => "   Read timeout = DISABLED".to_string(),
        });
        lines.push(format!(
            "   Master down timer = {} usecs",
            self.ms_down_timer.as_micros()
        ));
        lines.push(format!(
            "   Gratuitous ARP delay = {}",
            self.cfg.garp_master_delay.as_secs()
        ));
        lines.push(format!(
            "   Gratuitous ARP repeat = {}",
            self.eff.garp_master_repeat
        ));
        lines.push(format!(
            "   Gratuitous ARP refresh = {}",
            self.cfg.garp_master_refresh.as_secs()
        ));
        lines.push(format!(
            "   Gratuitous ARP refresh repeat = {}",
            self.eff.garp_master_refresh_repeat
        ));
        lines.push(format!(
            "   Gratuitous ARP lower priority delay = {}",
            self.cfg.garp_lower_prio_delay.as_secs()
        ));
        lines.push(format!(
            "   Gratuitous ARP lower priority repeat = {}",
            self.cfg.garp_lower_prio_repeat
        ));
        lines.push(format!(
            "   Down timer adverts = {}",
            self.cfg.down_timer_adverts
        ));
        lines.push(format!(
            "   Send advert after receive lower priority advert = {}",
            !self.cfg.lower_prio_no_advert
        ));
        lines.push(format!(
            "   Send advert after receive higher priority advert = {}",
            self.cfg.higher_prio_send_advert
        ));
        lines.push(format!("   Virtual Router ID = {}", self.cfg.vrid));
        lines.push(format!("   Priority = {}", self.cfg.priority));
        lines.push(format!(
            "   Effective priority = {}",
            self.effective_priority
        ));
        lines.push(format!("   Advert interval = {} milli-sec", adv / 1000));
        if self.state == State::Backup {
            lines.push(format!(
                "   Master advert interval = {} milli-sec",
                self.master_adver_int_us / 1000
            ));
        }
        lines.push(format!(
            "   Preempt = {}",
            if self.eff.nopreempt {
                "disabled"
            } else {
                "enabled"
            }
        ));
        if self.eff.preempt_delay_us > 0 {
            lines.push(format!(
                "   Preempt delay = {} secs",
                timers::fmt_secs(self.eff.preempt_delay_us)
            ));
        }
        lines.push(format!(
            "   Skew time = {} usecs",
            timers::skew_for_priority_us(self.effective_priority, self.master_adver_int_us)
        ));
        lines.push(format!(
            "   Master down interval = {} usecs",
            self.master_down_us()
        ));
        lines.join("\n")
    }

    // ----- timers -------------------------------------------------------

    /// Keepalived's `VRRP_MS_DOWN_TIMER` for the current priority and
    /// learned master interval.
    fn master_down_us(&self) -> u64 {
        timers::master_down_us(
            self.cfg.down_timer_adverts,
            self.effective_priority,
            self.master_adver_int_us,
        )
    }

    /// `vrrp_init_instance_sands`: MASTER fires after its own advert
    /// interval, BACKUP after `ms_down_timer`, counted from `now`.
    fn set_timer(&mut self, now: Duration) {
        self.sands = match self.state {
            State::Master => Some(now.saturating_add(timers::from_us(self.eff.advert_int_us))),
            State::Backup => Some(now.saturating_add(self.ms_down_timer)),
            State::Init | State::Stop => None,
        };
    }

    fn fire_main(&mut self, now: Duration, out: &mut Vec<Action>) {
        match self.state {
            // Only the owner's 1 µs start timer runs in INIT.
            State::Init | State::Backup => {
                let reason = self.next_master_reason;
                self.goto_master(now, out, reason);
            }
            State::Master => self.master_tx(now, out),
            State::Stop => {}
        }
        self.set_timer(now);
    }

    // ----- transitions --------------------------------------------------

    fn transition(&mut self, out: &mut Vec<Action>, from: State, to: State, reason: Reason) {
        self.state = to;
        if from != to {
            self.stats.transitions += 1;
            out.push(Action::StateChanged { from, to, reason });
        }
    }

    /// `vrrp_state_goto_master`: advert first (so the old master can drop
    /// the addresses before our ARPs), then the MASTER work.
    fn goto_master(&mut self, now: Duration, out: &mut Vec<Action>, reason: Reason) {
        let from = self.state;
        self.state = State::Master;
        self.set_timer(now);
        self.send_adv(out, self.effective_priority);
        if !self.vipset {
            self.transition(out, from, State::Master, reason);
            self.become_master(now, out);
        }
    }

    /// `vrrp_state_become_master`.
    fn become_master(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.stats.become_master += 1;
        self.master_adver_int_us = self.eff.advert_int_us;
        out.push(Action::AddVips(self.cfg.vips.clone()));
        self.vipset = true;
        self.send_link_update(out, self.eff.garp_master_repeat);
        if !self.cfg.garp_master_refresh.is_zero() {
            self.garp_refresh_timer = Some(now.saturating_add(self.cfg.garp_master_refresh));
        }
        if !self.cfg.garp_master_delay.is_zero() {
            self.delayed_garps.push(DelayedGarp {
                at: now.saturating_add(self.cfg.garp_master_delay),
                repeat: self.eff.garp_master_repeat,
            });
        }
    }

    /// `vrrp_state_master_tx`: the periodic advert, plus the GARP refresh
    /// when it is due (checked only at advert time, as keepalived does).
    fn master_tx(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.send_adv(out, self.effective_priority);
        if let Some(t) = self.garp_refresh_timer {
            if now > t {
                self.send_link_update(out, self.eff.garp_master_refresh_repeat);
                self.garp_refresh_timer = Some(now.saturating_add(self.cfg.garp_master_refresh));
            }
        }
    }

    /// `vrrp_state_leave_master` towards BACKUP (no advert is sent).
    fn leave_master(&mut self, now: Duration, out: &mut Vec<Action>, reason: Reason) {
        self.preempt_time = None;
        self.transition(out, State::Master, State::Backup, reason);
        self.release_vips(out);
        self.ms_down_timer = timers::from_us(self.master_down_us());
        self.set_timer(now);
        self.stats.release_master += 1;
    }

    fn release_vips(&mut self, out: &mut Vec<Action>) {
        if self.vipset {
            out.push(Action::RemoveVips(self.cfg.vips.clone()));
            self.vipset = false;
        }
    }

    // ----- sending ------------------------------------------------------

    /// `vrrp_send_adv`: one message to the group, or one per unicast peer
    /// (each with its own checksum, since the pseudo-header differs).
    fn send_adv(&mut self, out: &mut Vec<Action>, priority: u8) {
        let cs = u16::try_from((self.eff.advert_int_us / TIMER_CENTI_HZ) & 0x0fff).unwrap_or(0);
        let advert = Advert::new(
            self.cfg.vrid,
            priority,
            cs,
            self.eff.advertised_vips.clone(),
        );
        if self.cfg.is_unicast() {
            for &peer in &self.cfg.unicast_peers {
                out.push(Action::Send {
                    dest: Destination::Unicast(peer),
                    packet: advert.encode(self.cfg.primary_ip, peer),
                });
            }
        } else {
            out.push(Action::Send {
                dest: Destination::Multicast,
                packet: advert.encode(self.cfg.primary_ip, VRRP_GROUP),
            });
        }
        self.stats.adverts_sent += 1;
    }

    /// `vrrp_send_link_update`: `repeat` rounds of one GARP per address, only
    /// while the addresses are set.
    fn send_link_update(&mut self, out: &mut Vec<Action>, repeat: u32) {
        if !self.vipset {
            return;
        }
        for _ in 0..repeat {
            out.push(Action::GratuitousArp(self.cfg.vips.clone()));
        }
    }

    // ----- receiving ----------------------------------------------------

    /// `vrrp_dispatcher_read` for one packet.
    fn receive(&mut self, now: Duration, meta: RxMeta, bytes: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        self.stats.packets_received += 1;
        let Some(header) = RawHeader::read(bytes) else {
            self.stats.count_drop(DropReason::TooShort);
            return out;
        };
        if header.vrid != self.cfg.vrid {
            self.stats.count_drop(DropReason::UnknownVrid);
            return out;
        }
        match self.state {
            State::Init | State::Stop => {
                self.stats.count_drop(DropReason::NotRunning);
                return out;
            }
            State::Backup => self.backup_rx(now, &meta, &header, bytes),
            State::Master => {
                if let Some(reason) = self.master_rx(now, &mut out, &meta, &header, bytes) {
                    self.leave_master(now, &mut out, reason);
                }
            }
        }
        // Keepalived re-arms the timer after every packet, except for a
        // MASTER configured not to answer lower-priority adverts. A MASTER
        // therefore postpones its next advert on any packet for its VRID,
        // even one it then rejects.
        if self.state != State::Master || !self.cfg.lower_prio_no_advert {
            self.set_timer(now);
        }
        out
    }

    /// `vrrp_check_packet`, in keepalived's order of checks.
    fn check(
        &mut self,
        meta: &RxMeta,
        h: &RawHeader,
        bytes: &[u8],
        check_vip_addr: bool,
    ) -> Result<Advert, DropReason> {
        let unicast = self.cfg.is_unicast();
        if bytes.len() != h.expected_len() {
            return Err(DropReason::Length);
        }
        if !unicast && meta.ttl.is_some_and(|t| t != VRRP_TTL) {
            return Err(DropReason::Ttl);
        }
        if h.version != VERSION_3 {
            return Err(DropReason::Version);
        }
        if h.kind != crate::packet::TYPE_ADVERTISEMENT {
            return Err(DropReason::Type);
        }
        let vip_cnt = self.eff.advertised_vips.len();
        if check_vip_addr && usize::from(h.count) != vip_cnt {
            return Err(DropReason::AddressCount);
        }
        if let Some((tot_len, len)) = meta.ip_len {
            if tot_len != len {
                return Err(DropReason::Length);
            }
        }
        if crate::packet::vrrp_checksum(meta.pseudo_src, meta.pseudo_dst, bytes) != 0 {
            return Err(DropReason::Checksum);
        }
        if meta.dst.is_some_and(|d| d.is_multicast() == unicast) {
            return Err(DropReason::DestinationKind);
        }
        self.stats.adverts_received += 1;
        let advert = Advert::from_checked(h, bytes);
        if check_vip_addr {
            if advert.addresses.len() != vip_cnt
                || !self
                    .eff
                    .advertised_vips
                    .iter()
                    .all(|v| advert.addresses.contains(v))
            {
                return Err(DropReason::AddressList);
            }
            if unicast && self.cfg.check_unicast_src && !self.cfg.unicast_peers.contains(&meta.src)
            {
                return Err(DropReason::UnicastSource);
            }
        }
        if advert.priority == 0 {
            self.stats.priority_zero_received += 1;
        }
        self.stats.adverts_accepted += 1;
        Ok(advert)
    }

    fn check_counting(
        &mut self,
        meta: &RxMeta,
        h: &RawHeader,
        bytes: &[u8],
        check_vip_addr: bool,
    ) -> Option<Advert> {
        match self.check(meta, h, bytes, check_vip_addr) {
            Ok(a) => Some(a),
            Err(reason) => {
                self.stats.count_drop(reason);
                None
            }
        }
    }

    /// `vrrp_state_backup`.
    fn backup_rx(&mut self, now: Duration, meta: &RxMeta, h: &RawHeader, bytes: &[u8]) {
        let check_addr = !self.cfg.skip_check_adv_addr || self.master_saddr != Some(meta.src);
        let accepted = match self.check_counting(meta, h, bytes, check_addr) {
            None => false,
            Some(a) if a.priority == 0 => {
                // The master is stepping down: take over after Skew_Time.
                self.ms_down_timer = timers::from_us(timers::skew_for_priority_us(
                    self.effective_priority,
                    self.master_adver_int_us,
                ));
                self.next_master_reason = Reason::PriorityZeroAdvert;
                true
            }
            Some(a)
                if self.eff.nopreempt
                    || a.priority >= self.effective_priority
                    || (self.eff.preempt_delay_us > 0
                        && self.preempt_time.is_none_or(|t| t > now)) =>
            {
                // RFC 5798: learn the master's interval from its advert.
                self.master_adver_int_us = u64::from(a.max_advert_int_cs) * TIMER_CENTI_HZ;
                self.ms_down_timer = timers::from_us(self.master_down_us());
                self.master_saddr = Some(meta.src);
                self.master_priority = a.priority;
                self.next_master_reason = Reason::MasterDownTimerExpired;
                if self.eff.preempt_delay_us > 0 {
                    if a.priority >= self.effective_priority {
                        self.preempt_time = None;
                    } else if self.preempt_time.is_none() {
                        self.preempt_time =
                            Some(now.saturating_add(timers::from_us(self.eff.preempt_delay_us)));
                    }
                }
                true
            }
            Some(_) => {
                // Lower priority and we may preempt: discard it and let our
                // down timer run out.
                self.next_master_reason = Reason::PreemptedLowerPriorityMaster;
                self.master_saddr = Some(meta.src);
                false
            }
        };
        if !accepted {
            // Keep the deadline where it was: the timer re-armed after this
            // packet must fire at the same instant.
            self.ms_down_timer = self.sands.map_or(Duration::ZERO, |t| t.saturating_sub(now));
        }
    }

    /// `vrrp_state_master_rx`; returns the reason to go BACKUP, if any.
    fn master_rx(
        &mut self,
        now: Duration,
        out: &mut Vec<Action>,
        meta: &RxMeta,
        h: &RawHeader,
        bytes: &[u8],
    ) -> Option<Reason> {
        let a = self.check_counting(meta, h, bytes, true)?;
        let addr_cmp = meta.src.cmp(&self.cfg.primary_ip);
        let ours = self.effective_priority;
        let higher = a.priority > ours || (a.priority == ours && addr_cmp == Ordering::Greater);
        if a.priority == 0 || (self.cfg.higher_prio_send_advert && higher) {
            self.send_adv(out, ours);
            if a.priority == 0 {
                return None;
            }
        }
        if a.priority == ours && addr_cmp != Ordering::Equal && ours == PRIORITY_OWNER {
            // Two address owners: keepalived reports a configuration error
            // and lowers its own priority to 254, which makes it yield below.
            self.effective_priority = PRIORITY_OWNER - 1;
        }
        let ours = self.effective_priority;
        if a.priority < ours || (a.priority == ours && addr_cmp == Ordering::Less) {
            // A lower-priority master exists (typically after a partition
            // healed): answer at once so it yields ("forcing new election"),
            // and refresh the neighbours' ARP caches.
            if !self.cfg.lower_prio_no_advert {
                self.send_adv(out, ours);
            }
            if self.cfg.garp_lower_prio_repeat > 0 {
                self.send_link_update(out, self.cfg.garp_lower_prio_repeat);
                if !self.cfg.garp_lower_prio_delay.is_zero() {
                    self.delayed_garps.push(DelayedGarp {
                        at: now.saturating_add(self.cfg.garp_lower_prio_delay),
                        repeat: self.cfg.garp_lower_prio_repeat,
                    });
                }
            }
            return None;
        }
        if a.priority > ours || (a.priority == ours && addr_cmp == Ordering::Greater) {
            self.master_adver_int_us = u64::from(a.max_advert_int_cs) * TIMER_CENTI_HZ;
            self.master_priority = a.priority;
            return Some(if a.priority > ours {
                Reason::HigherPriorityAdvert
            } else {
                Reason::EqualPriorityHigherAddress
            });
        }
        // Equal priority from our own address: keepalived warns and ignores.
        None
    }
}
