//! Inputs and actions shared by every Pacemaker core.

use std::time::Duration;

use hasim_cpg::{Member, Reason};

use crate::events::Event;
use crate::messages::LocalMsg;
use crate::NodeId;

/// The daemons of one node, for local (IPC) messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Daemon {
    Based,
    Attrd,
    Execd,
    Controld,
    /// The fencer (another crate); the controller only sends it
    /// [`LocalMsg::FenceRequest`] and expects [`LocalMsg::FenceResult`].
    Fenced,
}

impl Daemon {
    /// The CPG group the daemon joins (Pacemaker's names).
    pub fn cpg_group(self) -> &'static str {
        match self {
            Daemon::Based => "cib",
            Daemon::Attrd => "attrd",
            Daemon::Execd => "lrmd",
            Daemon::Controld => "crmd",
            Daemon::Fenced => "stonith-ng",
        }
    }
}

/// A timer id, unique within one core's timer table. Setting a timer that
/// exists replaces it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub String);

impl TimerId {
    pub fn new(s: impl Into<String>) -> TimerId {
        TimerId(s.into())
    }
}

/// A CPG configuration change of the core's group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfChange {
    pub members: Vec<Member>,
    pub left: Vec<(Member, Reason)>,
    pub joined: Vec<(Member, Reason)>,
}

/// Everything a core can be told.
#[derive(Debug, Clone)]
pub enum Input {
    /// The core's process starts (after a boot or power-on). The driver
    /// must deliver this first.
    Start,
    /// CPG configuration change for the core's group.
    ConfChange(ConfChange),
    /// A CPG message of the core's group, in agreed order (own messages
    /// included, as CPG delivers them).
    Deliver { from: Member, data: Vec<u8> },
    /// Quorum change (votequorum).
    Quorum { quorate: bool, members: Vec<NodeId> },
    /// A message from another daemon of the same node.
    Local { from: Daemon, msg: LocalMsg },
    /// A timer set by [`Action::SetTimer`] expired.
    Timer(TimerId),
    /// A client/operator request (cibadmin-like, from the scenario timeline).
    Client(crate::messages::CibOp),
    /// The result of [`Action::Load`]: the stored bytes, if any.
    Loaded { key: String, data: Option<Vec<u8>> },
}

/// Everything a core can ask its driver to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// Multicast bytes to the core's CPG group.
    Multicast(Vec<u8>),
    /// Send a message to another daemon on this node.
    Send {
        to: Daemon,
        msg: LocalMsg,
    },
    /// Set (or replace) a timer.
    SetTimer {
        id: TimerId,
        after: Duration,
    },
    CancelTimer(TimerId),
    /// Write bytes to the node's disk (survives power cycles).
    Store {
        key: String,
        data: Vec<u8>,
    },
    /// Read bytes from the node's disk; answered by [`Input::Loaded`].
    Load {
        key: String,
    },
    /// Something for the trace and the checkers.
    Report(Event),
    /// Something the host must do (resource agents' side effects).
    Host(crate::messages::HostAction),
}
