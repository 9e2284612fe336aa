//! Messages of the `crmd` CPG group.

use hasim_pcmk_proto::{CibVersion, ExecRequest};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Wire {
    /// An election vote: `age` is the voter's seniority in ms (larger is
    /// older; see `Controld::age`).
    Vote {
        from: String,
        age: u64,
    },
    NoVote {
        from: String,
        to: String,
    },
    /// A node without a DC asks for a join offer.
    Announce {
        from: String,
    },
    JoinOffer {
        dc: String,
        join: u64,
    },
    JoinRequest {
        from: String,
        dc: String,
        join: u64,
        version: CibVersion,
    },
    JoinAck {
        dc: String,
        join: u64,
    },
    JoinConfirm {
        from: String,
        dc: String,
        join: u64,
    },
    /// DC → target: run an operation of a transition.
    Exec {
        dc: String,
        transition: u64,
        action: usize,
        target: String,
        target_rc: i32,
        req: ExecRequest,
        /// A remote node the target relays the operation to (the graph
        /// action's node when `target` is its router node).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on: Option<String>,
    },
    /// Target → DC: an action's result (after it is in the CIB).
    Result {
        from: String,
        dc: String,
        transition: u64,
        action: usize,
        ok: bool,
        rc: i32,
    },
    /// A recurring operation failed outside any transition.
    Failure {
        from: String,
        rsc: String,
        op: String,
        interval_ms: u64,
        rc: i32,
    },
}
