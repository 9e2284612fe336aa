//! The contract between hasim's Pacemaker daemon cores (`hasim-based`,
//! `hasim-attrd`, `hasim-execd`, `hasim-controld`) and whatever drives them
//! (the node driver in the simulator or in real mode, or the in-memory
//! harness in `hasim-pcmk-harness`).
//!
//! Every core is sans-IO: `handle(now, Input) -> Vec<Action>`. The driver
//! delivers CPG configuration changes and messages of the core's group,
//! quorum changes, messages from the other daemons of the same node, timer
//! expiries, client requests and disk reads; it carries out the actions
//! (multicast, local message, timers, disk, host actions) and records the
//! reported [`Event`]s, which the [`checkers`] read.

pub mod checkers;
pub mod cibops;
pub mod contract;
pub mod events;
pub mod messages;
pub mod timeline;
pub mod version;

pub use contract::{Action, ConfChange, Daemon, Input, TimerId};
pub use events::{Event, TimedEvent};
pub use hasim_cpg::{Member, Reason};
pub use messages::*;
pub use version::CibVersion;

/// Node ids are Corosync node ids.
pub type NodeId = u32;

/// Seconds since the Unix epoch at simulated time zero. The CIB stores
/// wall-clock seconds (last-failure, last-rc-change, execution-date); the
/// cores derive them from simulated time so runs are reproducible.
pub const EPOCH_BASE: i64 = 1_800_000_000;

/// Wall-clock seconds for a simulated instant.
pub fn wall_seconds(now: std::time::Duration) -> i64 {
    EPOCH_BASE + now.as_secs() as i64
}

/// Serialize a CPG payload. Payloads are JSON: readable in traces and
/// stable across builds.
pub fn encode<T: serde::Serialize>(msg: &T) -> Vec<u8> {
    serde_json::to_vec(msg).unwrap_or_default()
}

/// Deserialize a CPG payload; `None` for bytes that are not a message of
/// this type (a core ignores them, as Pacemaker drops malformed messages).
pub fn decode<T: serde::de::DeserializeOwned>(data: &[u8]) -> Option<T> {
    serde_json::from_slice(data).ok()
}
