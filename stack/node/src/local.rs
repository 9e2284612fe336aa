//! The in-node channel: how daemons on one machine reach each other, as
//! Pacemaker's daemons reach corosync through libcpg and libquorum and one
//! another through libqb IPC.
//!
//! Every daemon registers a named endpoint and gets a process id and an
//! inbox. Messages are typed where corosync defines the API (CPG, quorum)
//! and opaque bytes between other daemons. Delivery is in order and
//! immediate; a message to an endpoint that does not exist (not started, or
//! gone) is dropped, as a write to a closed IPC socket fails.

use hasim_cpg::{Member, Reason};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The endpoint name of the corosync daemon (CPG and quorum).
pub const COROSYNC: &str = "corosync";

/// Process ids start here, so they never look like node ids in a trace.
const FIRST_PID: u32 = 1000;

/// What one daemon says to another on the same node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalMessage {
    /// libcpg `cpg_join`: the sender joins `group`.
    CpgJoin { group: String },
    /// libcpg `cpg_leave`.
    CpgLeave { group: String },
    /// libcpg `cpg_mcast_joined` (agreed order).
    CpgMcast { group: String, payload: Vec<u8> },
    /// The `cpg_confchg_fn` callback, to each local member of `group`.
    CpgConfChg {
        group: String,
        members: Vec<Member>,
        left: Vec<(Member, Reason)>,
        joined: Vec<(Member, Reason)>,
    },
    /// The `cpg_deliver_fn` callback, to each local member of `group`.
    CpgDeliver {
        group: String,
        from: Member,
        payload: Vec<u8>,
    },
    /// libquorum `quorum_trackstart`: send the current view now and every
    /// change from now on.
    QuorumTrack,
    /// The quorum notification callback.
    Quorum { quorate: bool, members: Vec<u32> },
    /// Bytes between two daemons (controller to executor, ...).
    Ipc(Vec<u8>),
}

/// A message with its sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub from: String,
    pub pid: u32,
    pub message: LocalMessage,
}

/// Where a registered daemon's messages arrive.
pub type LocalInbox = mpsc::UnboundedReceiver<Envelope>;

struct Entry {
    pid: u32,
    sender: mpsc::UnboundedSender<Envelope>,
}

/// One machine's switchboard. Cheap to clone; a new one per boot, so a power
/// cycle drops every registration.
#[derive(Clone, Default)]
pub struct Switchboard {
    endpoints: Arc<Mutex<BTreeMap<String, Entry>>>,
    next_pid: Arc<Mutex<u32>>,
}

/// A daemon's own end of the switchboard.
pub struct Endpoint {
    pub board: Switchboard,
    pub name: String,
    pub pid: u32,
    pub inbox: LocalInbox,
}

impl Switchboard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `name` (replacing an earlier registration of the same name)
    /// and hand out its process id, in registration order.
    pub fn register(&self, name: &str) -> Endpoint {
        let (sender, inbox) = mpsc::unbounded_channel();
        let pid = match self.next_pid.lock() {
            Ok(mut next) => {
                *next += 1;
                FIRST_PID + *next - 1
            }
            Err(_) => FIRST_PID,
        };
        if let Ok(mut endpoints) = self.endpoints.lock() {
            endpoints.insert(name.to_string(), Entry { pid, sender });
        }
        Endpoint {
            board: self.clone(),
            name: name.to_string(),
            pid,
            inbox,
        }
    }

    /// The endpoint that has process id `pid`, if any.
    pub fn name_of(&self, pid: u32) -> Option<String> {
        let endpoints = self.endpoints.lock().ok()?;
        endpoints
            .iter()
            .find(|(_, e)| e.pid == pid)
            .map(|(name, _)| name.clone())
    }

    /// Send `message` from `from` to `to`; false if `to` is not there.
    pub fn send(&self, from: &str, to: &str, message: LocalMessage) -> bool {
        let Ok(endpoints) = self.endpoints.lock() else {
            return false;
        };
        let Some(pid) = endpoints.get(from).map(|e| e.pid) else {
            return false;
        };
        let Some(target) = endpoints.get(to) else {
            return false;
        };
        let envelope = Envelope {
            from: from.to_string(),
            pid,
            message,
        };
        target.sender.send(envelope).is_ok()
    }
}

impl Endpoint {
    /// Send from this endpoint.
    pub fn send(&self, to: &str, message: LocalMessage) -> bool {
        self.board.send(&self.name, to, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_arrive_in_order_with_the_senders_pid() {
        let board = Switchboard::new();
        let mut corosync = board.register(COROSYNC);
        let client = board.register("client");
        assert_ne!(client.pid, corosync.pid);
        for group in ["a", "b"] {
            let group = group.to_string();
            assert!(client.send(COROSYNC, LocalMessage::CpgJoin { group }));
        }
        let first = corosync.inbox.try_recv().unwrap();
        let second = corosync.inbox.try_recv().unwrap();
        assert_eq!((first.from.as_str(), first.pid), ("client", client.pid));
        assert_eq!(first.message, LocalMessage::CpgJoin { group: "a".into() });
        assert_eq!(second.message, LocalMessage::CpgJoin { group: "b".into() });
        assert_eq!(board.name_of(client.pid).as_deref(), Some("client"));
    }

    #[test]
    fn a_message_to_a_missing_endpoint_is_dropped() {
        let board = Switchboard::new();
        let client = board.register("client");
        assert!(!client.send(COROSYNC, LocalMessage::QuorumTrack));
    }
}
