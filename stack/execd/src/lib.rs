//! Pacemaker's executor (pacemaker-execd) as a sans-IO core.
//!
//! Operations of one resource run one at a time, as lrmd serializes them.
//! Each runs for the duration the scenario's behaviour table gives; one
//! that would outlast its timeout (or hangs) is killed at the timeout and
//! reported with op-status Timeout, rc 1, as lib/services does after
//! SIGKILLing the agent's process group. A recurring operation runs at
//! once and then every interval until cancelled (a stop cancels the
//! resource's recurring operations); its result goes to the controller
//! the first time and whenever the rc changes. Durations inside a range
//! are drawn from the seed given to the constructor, per call.
//!
//! An agent that talks to the world while it runs (galera: mysqld, the
//! attribute manager, the CIB) runs as a script after that duration (see
//! [`scripted`]): its questions become actions, their answers come back as
//! inputs, and the operation ends when the script does or its timeout
//! kills it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use hasim_agents::{metadata, perform, AgentState, BehaviourTable, Effect, Outcome};
use hasim_cib::Element;
use hasim_pcmk_proto::{
    wall_seconds, Action, Daemon, Event, ExecRequest, ExecResult, HostAction, Input, LocalMsg,
    OpStatus, TimerId,
};

mod scripted;
use scripted::Script;
pub use scripted::MYSQLD;

/// OCF "not installed".
const RC_NOT_INSTALLED: i32 = 5;

struct Running {
    req: ExecRequest,
    started: Duration,
    outcome: Outcome,
    timed_out: bool,
    recurring: bool,
}

/// One node's executor.
pub struct Execd {
    node: String,
    seed: u64,
    table: BehaviourTable,
    states: BTreeMap<String, AgentState>,
    next_call: u64,
    running: BTreeMap<u64, Running>,
    busy: BTreeMap<String, u64>,
    waiting: BTreeMap<String, VecDeque<(ExecRequest, bool)>>,
    /// key "rsc|op|interval" → (request, last rc reported).
    recurring: BTreeMap<String, (ExecRequest, Option<i32>)>,
    arps: BTreeMap<String, (String, String, u32, Duration)>,
    /// Scripted operations in progress, by call id.
    scripts: BTreeMap<u64, Script>,
    /// Outstanding questions of scripts: ask id → call id.
    asks: BTreeMap<u64, u64>,
    next_ask: u64,
    /// The local CIB as the controller last saw it (for `crm_mon`).
    cib: Option<Arc<Element>>,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn rec_key(r: &ExecRequest) -> String {
    format!("{}|{}|{}", r.rsc, r.op, r.interval_ms)
}

impl Execd {
    pub fn new(node: &str, seed: u64, table: BehaviourTable) -> Execd {
        Execd {
            node: node.to_string(),
            seed,
            table,
            states: BTreeMap::new(),
            next_call: 1,
            running: BTreeMap::new(),
            busy: BTreeMap::new(),
            waiting: BTreeMap::new(),
            recurring: BTreeMap::new(),
            arps: BTreeMap::new(),
            scripts: BTreeMap::new(),
            asks: BTreeMap::new(),
            next_ask: 1,
            cib: None,
        }
    }

    /// The behaviour table (a scenario may add rules while running).
    pub fn table_mut(&mut self) -> &mut BehaviourTable {
        &mut self.table
    }

    /// Whether `rsc` is active here (as the agent would find it).
    pub fn active(&self, rsc: &str) -> bool {
        self.states.get(rsc).is_some_and(|s| s.active())
    }

    /// Every resource active here, by id (for an abrupt stop of the node's
    /// Pacemaker, which takes them all down at once).
    pub fn active_resources(&self) -> Vec<String> {
        self.states
            .iter()
            .filter(|(_, s)| s.active())
            .map(|(r, _)| r.clone())
            .collect()
    }

    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => {
                let table = std::mem::take(&mut self.table);
                *self = Execd::new(&self.node, self.seed, table);
            }
            Input::Local { msg, .. } => match msg {
                LocalMsg::Exec(req) => self.submit(now, req, false, &mut out),
                LocalMsg::ExecCancel {
                    rsc,
                    op,
                    interval_ms,
                } => {
                    let key = format!("{rsc}|{op}|{interval_ms}");
                    if self.recurring.remove(&key).is_some() {
                        out.push(Action::CancelTimer(TimerId(format!("rec:{key}"))));
                    }
                }
                LocalMsg::CibUpdated { cib, .. } => self.cib = Some(cib),
                LocalMsg::AttrAnswer { call, values } => self.answer(
                    now,
                    call,
                    hasim_agents::galera::Answer::Attrs(values),
                    &mut out,
                ),
                LocalMsg::HostAnswer { call, answer } => {
                    let parsed = hasim_galera::control::Answer::parse(&answer)
                        .unwrap_or_else(hasim_galera::control::Answer::Error);
                    let answer = hasim_agents::galera::Answer::Mysqld(parsed);
                    self.answer(now, call, answer, &mut out)
                }
                _ => {}
            },
            Input::Timer(TimerId(t)) => self.timer(now, &t, &mut out),
            _ => {}
        }
        out
    }

    fn timer(&mut self, now: Duration, t: &str, out: &mut Vec<Action>) {
        if let Some(id) = t.strip_prefix("op:").and_then(|c| c.parse::<u64>().ok()) {
            self.finish(now, id, out);
        } else if let Some(key) = t.strip_prefix("rec:") {
            if let Some((req, _)) = self.recurring.get(key) {
                let req = req.clone();
                self.submit(now, req, true, out);
            }
        } else if let Some(key) = t.strip_prefix("arp:") {
            self.arp(key, out);
        } else if let Some(ask) = t.strip_prefix("wake:").and_then(|c| c.parse().ok()) {
            self.answer(now, ask, hasim_agents::galera::Answer::Woke, out);
        } else if let Some(id) = t.strip_prefix("kill:").and_then(|c| c.parse::<u64>().ok()) {
            self.kill(now, id, out);
        }
    }

    fn arp(&mut self, key: &str, out: &mut Vec<Action>) {
        let Some((ip, nic, left, every)) = self.arps.get_mut(key) else {
            return;
        };
        out.push(Action::Host(HostAction::GratuitousArp {
            ip: ip.clone(),
            nic: nic.clone(),
        }));
        *left = left.saturating_sub(1);
        if *left > 0 {
            out.push(Action::SetTimer {
                id: TimerId(format!("arp:{key}")),
                after: *every,
            });
        } else {
            self.arps.remove(key);
        }
    }

    fn submit(&mut self, now: Duration, req: ExecRequest, rerun: bool, out: &mut Vec<Action>) {
        if self.busy.contains_key(&req.rsc) {
            self.waiting
                .entry(req.rsc.clone())
                .or_default()
                .push_back((req, rerun));
            return;
        }
        if req.op == "stop" {
            let prefix = format!("{}|", req.rsc);
            let keys: Vec<String> = self
                .recurring
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            for k in keys {
                self.recurring.remove(&k);
                out.push(Action::CancelTimer(TimerId(format!("rec:{k}"))));
            }
        }
        let recurring = req.interval_ms > 0;
        if recurring && !rerun {
            self.recurring.insert(rec_key(&req), (req.clone(), None));
        }
        let call_id = self.next_call;
        self.next_call += 1;
        let draw = splitmix(self.seed ^ call_id.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let (mut took, outcome) = self.table.decide(&req.rsc, &self.node, &req.op, now, draw);
        let timeout = Duration::from_millis(req.timeout_ms);
        let timed_out = outcome == Outcome::Hang || took > timeout;
        if timed_out {
            took = timeout;
        }
        if metadata(&req.agent).is_none() {
            took = Duration::ZERO;
        }
        self.busy.insert(req.rsc.clone(), call_id);
        self.running.insert(
            call_id,
            Running {
                req,
                started: now,
                outcome,
                timed_out,
                recurring,
            },
        );
        out.push(Action::SetTimer {
            id: TimerId(format!("op:{call_id}")),
            after: took,
        });
    }

    fn finish(&mut self, now: Duration, call_id: u64, out: &mut Vec<Action>) {
        let Some(run) = self.running.get(&call_id) else {
            return;
        };
        let scripted = scripted::runs_as_script(&run.req.agent);
        if scripted && !run.timed_out && run.outcome == Outcome::Natural {
            self.begin_script(now, call_id, out);
            return;
        }
        let Some(run) = self.running.remove(&call_id) else {
            return;
        };
        let before = self.states.get(&run.req.rsc).copied().unwrap_or_default();
        let (rc, status) = if metadata(&run.req.agent).is_none() {
            (RC_NOT_INSTALLED, OpStatus::NotInstalled)
        } else if run.timed_out {
            (1, OpStatus::Timeout)
        } else {
            let req = &run.req;
            let (rc, after, fx) = perform(&req.agent, &req.params, before, &req.op, run.outcome);
            self.states.insert(req.rsc.clone(), after);
            self.effects(call_id, fx, out);
            (rc, OpStatus::Done)
        };
        self.complete(now, call_id, run, before, rc, status, out);
    }

    /// Report a finished operation, re-arm a recurring one and start the
    /// resource's next queued operation.
    #[allow(clippy::too_many_arguments)]
    fn complete(
        &mut self,
        now: Duration,
        call_id: u64,
        run: Running,
        before: AgentState,
        rc: i32,
        status: OpStatus,
        out: &mut Vec<Action>,
    ) {
        let req = run.req;
        self.busy.remove(&req.rsc);
        let after = self.states.get(&req.rsc).copied().unwrap_or_default();
        let result = ExecResult {
            request: req.clone(),
            call_id,
            rc,
            status,
            exec_ms: now.saturating_sub(run.started).as_millis() as u64,
            finished_at: wall_seconds(now),
        };
        self.report(
            &result,
            before.active() != after.active(),
            after.active(),
            out,
        );
        let key = rec_key(&req);
        let mut notify = true;
        if run.recurring {
            match self.recurring.get_mut(&key) {
                Some((_, last)) => {
                    notify = *last != Some(rc);
                    *last = Some(rc);
                    out.push(Action::SetTimer {
                        id: TimerId(format!("rec:{key}")),
                        after: Duration::from_millis(req.interval_ms),
                    });
                }
                None => notify = false,
            }
        }
        if notify {
            out.push(Action::Send {
                to: Daemon::Controld,
                msg: LocalMsg::ExecDone(result),
            });
        }
        let next = self.waiting.get_mut(&req.rsc).and_then(|q| q.pop_front());
        if let Some((next, rerun)) = next {
            self.submit(now, next, rerun, out);
        }
    }

    fn report(&self, r: &ExecResult, flipped: bool, active: bool, out: &mut Vec<Action>) {
        out.push(Action::Report(Event::ResourceOp {
            node: self.node.clone(),
            rsc: r.request.rsc.clone(),
            op: r.request.op.clone(),
            interval_ms: r.request.interval_ms,
            call_id: r.call_id,
            rc: r.rc,
            status: format!("{:?}", r.status),
            exec_ms: r.exec_ms,
        }));
        if flipped {
            out.push(Action::Report(Event::ResourceActive {
                node: self.node.clone(),
                rsc: r.request.rsc.clone(),
                active,
            }));
        }
    }

    fn effects(&mut self, call_id: u64, fx: Vec<Effect>, out: &mut Vec<Action>) {
        for e in fx {
            match e {
                Effect::Host(h) => out.push(Action::Host(h)),
                Effect::ArpBurst {
                    ip,
                    nic,
                    count,
                    interval,
                } => {
                    let key = call_id.to_string();
                    self.arps.insert(key.clone(), (ip, nic, count, interval));
                    self.arp(&key, out);
                }
                Effect::Attr {
                    target,
                    name,
                    value,
                } => out.push(Action::Send {
                    to: Daemon::Attrd,
                    msg: LocalMsg::AttrUpdate {
                        target,
                        name,
                        value: match value {
                            Some(v) => hasim_pcmk_proto::AttrValue::Set(v),
                            None => hasim_pcmk_proto::AttrValue::Delete,
                        },
                        dampen: None,
                    },
                }),
            }
        }
    }
}
