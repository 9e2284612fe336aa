//! Sans-IO Totem single-ring ordering and membership protocol, as Corosync
//! 3.1.7 runs it (exec/totemsrp.c, exec/totemconfig.c).
//!
//! Layers, each sans-IO:
//! - [`config`]: raw corosync.conf totem values and the effective timers
//!   corosync derives from them.
//! - [`wire`]: versioned byte encoding of every Totem message.
//! - [`srp`]: the protocol state machine (ordering, flow control, membership,
//!   extended virtual synchrony).
//! - [`crypto`]: secauth envelope (authenticated encryption, replay window).
//! - [`link`]: knet-style per-peer link health and failover for redundant links.
//! - [`node`]: glues the above into one `handle(now, input) -> actions` core.

pub mod config;
pub mod crypto;
pub mod invariants;
pub mod link;
pub mod node;
pub mod srp;
pub mod wire;

pub use config::{ConfigError, EffectiveTimers, TotemConfig};
pub use node::{NodeAction, NodeInput, NodeSetup, NodeStats, TotemNode};
pub use srp::{ConfChg, ConfKind, Delivery, Dest, MembState, Quirks, Srp};
pub use wire::{Guarantee, NodeId, RingId};
