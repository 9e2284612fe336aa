//! The fencer core (Pacemaker's `pacemaker-fenced`), sans-IO.
//!
//! Contract: [`Fencer::handle`]`(now, input) -> Vec<FencerAction>`. The
//! driver delivers the fencer's CPG group membership and messages (agreed
//! order), the fencing configuration from the CIB, which devices run on
//! this node, fence requests from the local controller, device-agent
//! results, timer expiries and random values drawn from the run's seed. It
//! carries out the actions: multicast on the group, notices to the local
//! controller, run or kill a fence agent, set or cancel a timer, draw a
//! random value (answered with [`FencerInput::Random`] before any other
//! input), and report events.
//!
//! Roles as in daemons/fenced: the node whose controller asks is the
//! *requester* ([`requester`]: query, choose executor, timeouts, topology,
//! final result); the node chosen runs the device ([`executor`]: delays,
//! agent runs, retries). The choice of peer follows fenced_remote.c
//! ([`peers`]).

mod executor;
mod peers;
mod requester;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use hasim_cpg::Member;
use hasim_totem::NodeId;
use serde::Serialize;

use crate::config::{FenceAction, FencingConfig};
use crate::wire::{FenceRecord, FencerMsg};
use executor::LocalExec;
use requester::RemoteOp;

/// A fence request from the local controller (`stonith_api fence_with_delay`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceRequest {
    /// The controller's call id, echoed in the result.
    pub client_call: u64,
    pub target: String,
    pub action: FenceAction,
    /// Requested delay in seconds (priority-fencing-delay, else 0); -1
    /// disables every device delay.
    pub delay: i64,
}

/// What a fence agent run ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentResult {
    Ok,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FencerInput {
    /// Current members of the fencer's CPG group (after a configuration change).
    Membership {
        members: Vec<Member>,
    },
    /// A group message in agreed order.
    Deliver {
        from: Member,
        payload: Vec<u8>,
    },
    Config(Box<FencingConfig>),
    /// A stonith resource started or stopped on this node (verified devices).
    DeviceRunning {
        device: String,
        running: bool,
    },
    Request(FenceRequest),
    AgentDone {
        call: u64,
        result: AgentResult,
    },
    Timer {
        id: u64,
    },
    /// Answer to [`FencerAction::DrawRandom`]: a raw value like C's `rand()`.
    Random {
        request: u64,
        value: u32,
    },
}

/// One fence agent invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRun {
    pub call: u64,
    pub device: String,
    pub agent: String,
    pub address: String,
    pub plug: u16,
    pub target: String,
    pub action: FenceAction,
    /// The driver must not wait longer; the fencer kills the run at this timeout.
    pub timeout: Duration,
}

/// A message for the local controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ControllerNotice {
    /// Result of this controller's own request.
    Result {
        client_call: u64,
        record: FenceRecord,
    },
    /// Any finished fencing operation (every node's controller is told).
    Notify(FenceRecord),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FencerAction {
    Mcast(Vec<u8>),
    ToController(ControllerNotice),
    RunAgent(AgentRun),
    KillAgent { call: u64 },
    SetTimer { id: u64, at: Duration },
    CancelTimer { id: u64 },
    DrawRandom { request: u64 },
    Report(FencerEvent),
}

/// Typed report events (serde), one per step of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum FencerEvent {
    Requested {
        op: String,
        target: String,
        action: FenceAction,
        delay: i64,
    },
    /// concurrent-fencing is off and another operation is in flight.
    Queued {
        target: String,
    },
    ExecutorChosen {
        op: String,
        executor: String,
        device: Option<String>,
        level: u32,
    },
    DelayStarted {
        op: String,
        device: String,
        delay: u64,
        base: u64,
        max: u64,
    },
    AgentStarted {
        op: String,
        device: String,
        attempt: u32,
        timeout_ms: u64,
    },
    AgentFinished {
        op: String,
        device: String,
        ok: bool,
        timed_out: bool,
        reason: String,
    },
    /// stonith-watchdog-timeout: waiting for the target to self-fence.
    WatchdogWait {
        op: String,
        target: String,
        wait_ms: u64,
    },
    Finished(FenceRecord),
    Malformed {
        from: NodeId,
        error: String,
    },
}

/// What a timer is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TimerKind {
    Query(String),
    Total(String),
    One(String),
    Watchdog(String),
    Delay(String),
    Agent(String),
}

#[derive(Debug, Clone)]
pub struct Fencer {
    me: String,
    names: BTreeMap<NodeId, String>,
    cfg: FencingConfig,
    members: BTreeSet<NodeId>,
    running: BTreeSet<String>,
    ops: BTreeMap<String, RemoteOp>,
    queue: VecDeque<FenceRequest>,
    execs: BTreeMap<String, LocalExec>,
    timers: BTreeMap<u64, TimerKind>,
    draws: BTreeMap<u64, String>,
    calls: BTreeMap<u64, String>,
    history: Vec<FenceRecord>,
    next_id: u64,
}

/// fenced_remote.c TIMEOUT_MULTIPLY_FACTOR, applied in integer seconds
/// (`int x = seconds * 1.2` truncates).
fn times_1_2(seconds: u64) -> u64 {
    seconds * 12 / 10
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Fencer {
    /// `names`: node id -> node name, for every node of the cluster.
    pub fn new(me: &str, names: BTreeMap<NodeId, String>, cfg: FencingConfig) -> Fencer {
        Fencer {
            me: me.to_string(),
            names,
            cfg,
            members: BTreeSet::new(),
            running: BTreeSet::new(),
            ops: BTreeMap::new(),
            queue: VecDeque::new(),
            execs: BTreeMap::new(),
            timers: BTreeMap::new(),
            draws: BTreeMap::new(),
            calls: BTreeMap::new(),
            history: Vec::new(),
            next_id: 1,
        }
    }

    /// Fence history: every finished operation this node heard of, in order.
    pub fn history(&self) -> &[FenceRecord] {
        &self.history
    }

    /// Names of the nodes whose fencer is in our group now.
    pub fn member_names(&self) -> Vec<String> {
        self.members
            .iter()
            .filter_map(|id| self.names.get(id).cloned())
            .collect()
    }

    pub fn config(&self) -> &FencingConfig {
        &self.cfg
    }

    pub fn handle(&mut self, now: Duration, input: FencerInput) -> Vec<FencerAction> {
        let mut out = Vec::new();
        match input {
            FencerInput::Membership { members } => {
                self.members = members.iter().map(|m| m.node).collect();
            }
            FencerInput::Deliver { from, payload } => match FencerMsg::decode(&payload) {
                Ok(msg) => self.on_message(now, msg, &mut out),
                Err(error) => out.push(FencerAction::Report(FencerEvent::Malformed {
                    from: from.node,
                    error,
                })),
            },
            FencerInput::Config(cfg) => self.cfg = *cfg,
            FencerInput::DeviceRunning { device, running } => {
                if running {
                    self.running.insert(device);
                } else {
                    self.running.remove(&device);
                }
            }
            FencerInput::Request(req) => self.on_request(now, req, &mut out),
            FencerInput::AgentDone { call, result } => {
                self.on_agent_done(now, call, result, &mut out)
            }
            FencerInput::Timer { id } => self.on_timer(now, id, &mut out),
            FencerInput::Random { request, value } => self.on_random(now, request, value, &mut out),
        }
        out
    }

    fn on_message(&mut self, now: Duration, msg: FencerMsg, out: &mut Vec<FencerAction>) {
        match msg {
            FencerMsg::Query {
                op,
                origin,
                target,
                action,
                ..
            } => self.on_query(op, origin, &target, action, out),
            FencerMsg::QueryReply {
                op,
                from,
                to,
                devices,
            } if to == self.me => self.on_query_reply(now, &op, from, devices, out),
            FencerMsg::Fence {
                op,
                origin,
                to,
                target,
                action,
                device,
                timeout,
                delay,
            } if to == self.me => {
                let order = executor::Order {
                    op,
                    origin,
                    target,
                    action,
                    device,
                    timeout,
                    delay,
                };
                self.on_fence(now, order, out)
            }
            FencerMsg::FenceReply {
                op,
                from,
                to,
                device,
                ok,
                timed_out,
                reason,
                delay,
            } if to == self.me => {
                let reply = requester::Reply {
                    from,
                    device,
                    ok,
                    timed_out,
                    reason,
                    delay,
                };
                self.on_fence_reply(now, &op, reply, out)
            }
            FencerMsg::Result(record) => {
                self.history.push(record.clone());
                out.push(FencerAction::ToController(ControllerNotice::Notify(record)));
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, now: Duration, id: u64, out: &mut Vec<FencerAction>) {
        let Some(kind) = self.timers.remove(&id) else {
            return;
        };
        match kind {
            TimerKind::Query(op) => self.on_query_timeout(now, &op, out),
            TimerKind::Total(op) => self.on_total_timeout(now, &op, out),
            TimerKind::One(op) => self.on_one_timeout(now, &op, out),
            TimerKind::Watchdog(op) => self.on_watchdog_done(now, &op, out),
            TimerKind::Delay(op) => self.on_delay_done(now, &op, out),
            TimerKind::Agent(op) => self.on_agent_timeout(now, &op, out),
        }
    }

    fn set_timer(&mut self, at: Duration, kind: TimerKind, out: &mut Vec<FencerAction>) -> u64 {
        let id = self.fresh_id();
        self.timers.insert(id, kind);
        out.push(FencerAction::SetTimer { id, at });
        id
    }

    fn cancel_timer(&mut self, id: Option<u64>, out: &mut Vec<FencerAction>) {
        if let Some(id) = id {
            if self.timers.remove(&id).is_some() {
                out.push(FencerAction::CancelTimer { id });
            }
        }
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn mcast(&self, msg: &FencerMsg, out: &mut Vec<FencerAction>) {
        out.push(FencerAction::Mcast(msg.encode()));
    }

    /// Number of fencers in our group (`fencing_active_peers`).
    fn active_peers(&self) -> u32 {
        self.members.len() as u32
    }
}

#[cfg(test)]
mod tests;
