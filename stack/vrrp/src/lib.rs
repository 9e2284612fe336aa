//! Sans-IO VRRPv3 (IPv4) state machine that behaves as Keepalived 2.2.7's
//! `vrrp_instance` does.
//!
//! The core takes `(now, input)` and returns [`Action`]s; it owns no clock,
//! socket or randomness. The driver calls [`Vrrp::start`], feeds received
//! messages to [`Vrrp::handle_packet`] (VRRP bytes only) or
//! [`Vrrp::handle_ipv4_datagram`] (a whole IPv4 packet, as keepalived's raw
//! socket sees it), calls [`Vrrp::handle_timeout`] once `now` reaches
//! [`Vrrp::next_timeout`], and finally [`Vrrp::shutdown`].
//!
//! # What keepalived does, and where it differs from RFC 5798
//!
//! Read from keepalived-2.2.7 (`keepalived/vrrp/vrrp.c`, `vrrp_scheduler.c`,
//! `vrrp_parser.c`, `vrrp_data.c`, `vrrp_daemon.c`, `vrrp_arp.c`,
//! `include/vrrp.h`, `core/global_data.c`, `lib/timer.h`, `lib/utils.c`);
//! described here in our own words.
//!
//! **Units and rounding** (`include/vrrp.h`, `lib/timer.h`). All intervals
//! are unsigned microseconds. The skew is computed as
//! `(256 − priority) × (master_adver_int / 10 ms) × 625 / 16` µs, i.e. the
//! RFC's `(256 − priority) × Master_Adver_Interval / 256` truncated to whole
//! µs, and the master-down timer is `down_timer_adverts × master_adver_int +
//! skew` (`down_timer_adverts` defaults to 3). Priority 90 at 1 s gives
//! 3.648437 s where the RFC's exact value is 3.6484375 s; priority 100 gives
//! 3.609375 s. See [`timers`].
//!
//! **Configuration** (`vrrp_parser.c`, `vrrp_complete_instance` in
//! `vrrp.c`, `global_data.c`). Priority 1–255 (default 100; 255 = owner).
//! `advert_int` is read as a decimal of 0.01–255 s; for VRRPv3 it is then
//! rounded half-up to 10 ms and capped at 40.95 s, the 12-bit centisecond
//! field. `preempt_delay` 0–1000 s. `nopreempt` is cleared for priority 255
//! and for `state MASTER`; `preempt_delay` is cleared by `state MASTER` and by
//! `nopreempt`. Without `state`, priority 255 means MASTER. Defaults:
//! `garp_master_delay` 5 s, `garp_master_repeat` 5, `garp_master_refresh` off
//! (repeat 1), `garp_lower_prio_repeat`/`_delay` = the global GARP repeat and
//! delay (5, 5 s), `lower_prio_no_advert` false, `higher_prio_send_advert`
//! false. Keepalived's *default protocol* is VRRPv2; this core is VRRPv3
//! (keepalived's `vrrp_version 3`). See [`Config`].
//!
//! **Start** (`vrrp_init_state` in `vrrp_scheduler.c`). An address owner
//! wanting MASTER enters BACKUP with a 1 µs down timer and so becomes MASTER
//! at once (the RFC: straight from Initialize). Everyone else enters BACKUP
//! with a full master-down timer — including a non-owner configured `state
//! MASTER`, for which that keyword only clears `nopreempt`/`preempt_delay`.
//! We keep the owner in INIT for that microsecond rather than report a BACKUP
//! state keepalived never announces.
//!
//! **BACKUP** (`vrrp_state_backup`). A priority-0 advert sets the down timer
//! to the skew time. An advert is accepted (timer restarted with a full
//! master-down interval, master interval learned from the advert as VRRPv3
//! requires) when we are `nopreempt`, when its priority is ≥ ours — equal
//! priority is accepted whatever the sender's address, as in the RFC — or
//! while a preempt delay runs. Otherwise it is discarded and our timer keeps
//! running, so we take over when it expires (preemption). Keepalived's
//! `preempt_delay` starts at the first lower-priority advert received, not
//! at start-up, and is cancelled by a higher or equal one. Invalid packets
//! never move the timer.
//!
//! **MASTER** (`vrrp_state_master_rx`, `vrrp_state_master_tx`). Adverts go
//! out every `advert_int` (the configured one; a master forgets any learned
//! interval). On a priority-0 advert it answers at once. On a higher
//! priority, or equal priority from a numerically higher address (compared as
//! host-order integers, `inet_inaddrcmp` in `lib/utils.c`), it goes BACKUP
//! without sending anything (unless `higher_prio_send_advert`), removes its
//! addresses and restarts its down timer from the new master's interval. On a
//! *lower* priority (or equal from a lower address) it stays MASTER but,
//! unlike the RFC which just discards the advert, answers at once with its
//! own advert ("forcing new election") and sends `garp_lower_prio_repeat`
//! gratuitous ARPs now and again after `garp_lower_prio_delay`: this is how a
//! healed split brain resolves. Two owners (both 255) make the receiver lower
//! itself to 254 and yield. The dispatcher (`vrrp_dispatcher_read`) re-arms
//! a master's advert timer after *every* packet for its VRID — valid or not —
//! unless `lower_prio_no_advert` is set.
//!
//! **Becoming MASTER** (`vrrp_state_goto_master`, `vrrp_state_become_master`).
//! The advert goes first, then the addresses are added, then
//! `garp_master_repeat` rounds of gratuitous ARP, and another round set
//! `garp_master_delay` later (a timer not cancelled on leaving MASTER; it
//! sends nothing if the addresses are gone). `garp_master_refresh` resends
//! ARPs at the first advert after each refresh period.
//!
//! **Shutdown** (`restore_vrrp_interfaces` in `vrrp.c`, called from
//! `vrrp_daemon.c`). A MASTER sends one priority-0 advert and releases its
//! addresses; a BACKUP sends nothing.
//!
//! **Packet checks** (`vrrp_check_packet`), in keepalived's order, each a
//! drop counted in [`Stats`]: length against the address count, TTL 255
//! (multicast only), version 3, type 1, address count equal to ours, IPv4
//! total length, checksum over the IPv4 pseudo-header, multicast vs unicast
//! destination; then (after counting the advert as received) every one of our
//! VIPs must be in the advert, and with `check_unicast_src` the sender must be
//! a peer. `skip_check_adv_addr` skips the VIP checks for the known master.
//! VRRPv3 adverts with a different interval are *not* dropped (only VRRPv2
//! drops those). Unknown VRIDs and packets in INIT are ignored. With
//! [`Vrrp::handle_packet`] there is no IP header: TTL and destination cannot
//! be checked, and the checksum is verified against the destination the
//! instance expects.

pub mod config;
mod instance;
pub mod packet;
pub mod stats;
pub mod timers;
mod types;

pub use config::{Config, ConfigError, Effective, InitialState};
pub use instance::Vrrp;
pub use packet::{Advert, DecodeError, VRRP_GROUP};
pub use stats::{DropReason, Stats};
pub use types::{Action, Destination, Reason, State};
