//! Messages fencers exchange over CPG (the `stonith-ng` group).
//!
//! Same roles as fenced_remote.c's XML messages: a query broadcast, query
//! replies to the requester, the fence request to the chosen executor, its
//! reply to the requester, and the requester's broadcast of the final
//! result that every node records in its history. Everything is
//! multicast in agreed order; `to` names the one node a message is for.
//! Encoded as JSON: readable in traces, and a bad payload is a decode
//! error, never a panic.

use serde::{Deserialize, Serialize};

use crate::config::FenceAction;

/// A capable device as a query reply describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceOffer {
    pub device: String,
    /// Running (started and monitored) on the replying node.
    pub verified: bool,
    /// `pcmk_<action>_timeout` when set, seconds.
    pub action_timeout: Option<u64>,
    /// Maximum delay as reported (see `rules::reported_delay`).
    pub delay_max: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FencerMsg {
    Query {
        op: String,
        origin: String,
        target: String,
        action: FenceAction,
        timeout: u64,
    },
    QueryReply {
        op: String,
        from: String,
        to: String,
        devices: Vec<DeviceOffer>,
    },
    Fence {
        op: String,
        origin: String,
        to: String,
        target: String,
        action: FenceAction,
        /// Device to use (topology), or any capable one.
        device: Option<String>,
        timeout: u64,
        /// Requested delay (priority-fencing-delay), -1 disables delays.
        delay: i64,
    },
    FenceReply {
        op: String,
        from: String,
        to: String,
        device: Option<String>,
        ok: bool,
        timed_out: bool,
        reason: String,
        delay: u64,
    },
    /// The requester's final result, for every node's history and controller.
    Result(FenceRecord),
}

/// One finished fencing operation (fence history entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceRecord {
    pub op: String,
    pub target: String,
    pub action: FenceAction,
    pub origin: String,
    /// Node that ran the device (the target itself for watchdog fencing).
    pub executor: Option<String>,
    pub device: Option<String>,
    /// Topology level used (0 without topology).
    pub level: u32,
    /// Delay the executor applied, seconds.
    pub delay: u64,
    /// Requested at / finished at, milliseconds of the run's clock.
    pub started_ms: u64,
    pub completed_ms: u64,
    pub ok: bool,
    pub reason: String,
}

impl FencerMsg {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<FencerMsg, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("fencer message: {e}"))
    }
}
