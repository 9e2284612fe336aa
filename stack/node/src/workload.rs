//! A CPG workload: a process on the node that joins one CPG group through
//! corosync's in-node channel and, once its own join is delivered,
//! multicasts a numbered message at a fixed interval. Every membership
//! change and every delivery it gets is reported, so a test (or a checker)
//! can compare what each member saw and in which order.

use crate::daemon::{DaemonAction, DaemonCore, DaemonInput};
use crate::host::{CpgMember, NodeEvent};
use hasim_cpg::{Member, Reason};
use std::time::Duration;

/// The group the workload uses unless told otherwise.
pub const DEFAULT_GROUP: &str = "hasim-load";

/// The workload's one timer: the next message is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SendNext;

/// The workload's core.
pub struct CpgWorkload {
    group: String,
    node: u32,
    pid: u32,
    interval: Duration,
    counter: u64,
    /// Sending starts once the workload's own join is delivered.
    joined: bool,
}

type Actions = Vec<DaemonAction<SendNext>>;

impl CpgWorkload {
    /// The workload of process `pid` on node `node`.
    pub fn new(group: impl Into<String>, node: u32, pid: u32, interval: Duration) -> Self {
        CpgWorkload {
            group: group.into(),
            node,
            pid,
            interval,
            counter: 0,
            joined: false,
        }
    }

    fn me(&self) -> Member {
        Member {
            node: self.node,
            pid: self.pid,
        }
    }

    fn confchg(&mut self, now: Duration, input: ConfChg) -> Actions {
        let mut out = Vec::new();
        let me = self.me();
        if !self.joined && input.joined.iter().any(|(m, _)| *m == me) {
            self.joined = true;
            out.push(DaemonAction::SetTimer(SendNext, now + self.interval));
        }
        out.push(DaemonAction::Report(NodeEvent::CpgConfChg {
            group: input.group,
            pid: self.pid,
            members: input.members.iter().map(|m| member(m, None)).collect(),
            left: input
                .left
                .iter()
                .map(|(m, r)| member(m, Some(*r)))
                .collect(),
            joined: input
                .joined
                .iter()
                .map(|(m, r)| member(m, Some(*r)))
                .collect(),
        }));
        out
    }

    fn send(&mut self, now: Duration) -> Actions {
        self.counter += 1;
        vec![
            DaemonAction::Report(NodeEvent::CpgSent {
                group: self.group.clone(),
                pid: self.pid,
                counter: self.counter,
            }),
            DaemonAction::CpgMcast {
                group: self.group.clone(),
                payload: self.counter.to_be_bytes().to_vec(),
            },
            DaemonAction::SetTimer(SendNext, now + self.interval),
        ]
    }

    fn deliver(&self, group: String, from: Member, payload: &[u8]) -> Actions {
        let Some(counter) = payload.try_into().ok().map(u64::from_be_bytes) else {
            return Vec::new();
        };
        vec![DaemonAction::Report(NodeEvent::CpgDeliver {
            group,
            pid: self.pid,
            sender: from.node,
            sender_pid: from.pid,
            counter,
        })]
    }
}

/// The parts of a CPG membership change the workload reads.
struct ConfChg {
    group: String,
    members: Vec<Member>,
    left: Vec<(Member, Reason)>,
    joined: Vec<(Member, Reason)>,
}

fn member(m: &Member, reason: Option<Reason>) -> CpgMember {
    CpgMember {
        node: m.node,
        pid: m.pid,
        reason: reason.map(|r| reason_name(r).to_string()),
    }
}

/// `cpg_reason_t` as the trace spells it.
pub fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::Join => "join",
        Reason::Leave => "leave",
        Reason::NodeDown => "nodedown",
        Reason::NodeUp => "nodeup",
        Reason::ProcDown => "procdown",
    }
}

impl DaemonCore for CpgWorkload {
    type Timer = SendNext;

    fn handle(&mut self, now: Duration, input: DaemonInput<SendNext>) -> Actions {
        match input {
            DaemonInput::Start => vec![DaemonAction::CpgJoin {
                group: self.group.clone(),
            }],
            DaemonInput::CpgConfChg {
                group,
                members,
                left,
                joined,
            } => self.confchg(
                now,
                ConfChg {
                    group,
                    members,
                    left,
                    joined,
                },
            ),
            DaemonInput::CpgDeliver {
                group,
                from,
                payload,
            } => self.deliver(group, from, &payload),
            DaemonInput::Timer(SendNext) => self.send(now),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(node: u32, pid: u32) -> DaemonInput<SendNext> {
        let m = Member { node, pid };
        DaemonInput::CpgConfChg {
            group: DEFAULT_GROUP.into(),
            members: vec![m],
            left: Vec::new(),
            joined: vec![(m, Reason::Join)],
        }
    }

    #[test]
    fn sends_only_after_its_own_join_is_delivered() {
        let mut w = CpgWorkload::new(DEFAULT_GROUP, 1, 1000, Duration::from_millis(100));
        let start = w.handle(Duration::ZERO, DaemonInput::Start);
        assert_eq!(start.len(), 1);
        let other = w.handle(Duration::ZERO, joined(2, 1000));
        assert!(!other
            .iter()
            .any(|a| matches!(a, DaemonAction::SetTimer(..))));
        let mine = w.handle(Duration::from_millis(5), joined(1, 1000));
        assert!(mine.contains(&DaemonAction::SetTimer(
            SendNext,
            Duration::from_millis(105)
        )));
        let sent = w.handle(Duration::from_millis(105), DaemonInput::Timer(SendNext));
        assert!(sent.contains(&DaemonAction::CpgMcast {
            group: DEFAULT_GROUP.into(),
            payload: 1u64.to_be_bytes().to_vec()
        }));
    }

    #[test]
    fn a_delivery_is_reported_with_sender_and_counter() {
        let w = CpgWorkload::new(DEFAULT_GROUP, 1, 1000, Duration::from_millis(100));
        let from = Member { node: 3, pid: 1001 };
        let out = w.deliver(DEFAULT_GROUP.into(), from, &7u64.to_be_bytes());
        assert_eq!(
            out,
            vec![DaemonAction::Report(NodeEvent::CpgDeliver {
                group: DEFAULT_GROUP.into(),
                pid: 1000,
                sender: 3,
                sender_pid: 1001,
                counter: 7
            })]
        );
        assert!(w.deliver(DEFAULT_GROUP.into(), from, &[1, 2]).is_empty());
    }
}
