//! Recorded operations and connections.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hasim_tcp::CloseReason;

/// What an operation asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Insert `value` (unique in the run) under `key`.
    Write {
        /// Key.
        key: String,
        /// Value.
        value: u64,
    },
    /// Read every value under `key`.
    Read {
        /// Key.
        key: String,
    },
}

impl OpKind {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            OpKind::Write { key, .. } | OpKind::Read { key } => key,
        }
    }
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged; a read carries the values it saw.
    Ok(Option<BTreeSet<u64>>),
    /// Refused for certain (e.g. error 1047 from a non-primary Galera node,
    /// connection refused): the write did not happen.
    Failed(String),
    /// Unknown: timed out or the connection died with the request in flight;
    /// a write may or may not have happened.
    Unknown(String),
}

/// One operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Client name.
    pub client: String,
    /// What it asked.
    pub kind: OpKind,
    /// When the client sent it.
    pub invoked: Duration,
    /// When and how it ended; `None` if still pending at the end of the run.
    pub completed: Option<(Duration, Outcome)>,
    /// The database node that executed it, when the answer says (as
    /// `@@hostname` would).
    pub node: Option<String>,
}

impl Op {
    /// The acknowledgement time, if the operation succeeded.
    pub fn acked_at(&self) -> Option<Duration> {
        match &self.completed {
            Some((t, Outcome::Ok(_))) => Some(*t),
            _ => None,
        }
    }
}

/// One client connection's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnLife {
    /// Client name.
    pub client: String,
    /// When the connection was established.
    pub opened: Duration,
    /// When the client learned it was gone, and why.
    pub closed: Option<(Duration, CloseReason)>,
    /// When the server side vanished (its node died or its VIP moved), as
    /// the world knows it; `None` if it never did.
    pub server_lost: Option<Duration>,
}

/// Everything recorded in a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Operations in invocation order.
    pub ops: Vec<Op>,
    /// Client connections.
    pub conns: Vec<ConnLife>,
    /// The reads made after faults healed and the database settled: key →
    /// values.
    pub final_reads: BTreeMap<String, BTreeSet<u64>>,
    /// When the run ended.
    pub end: Duration,
}
