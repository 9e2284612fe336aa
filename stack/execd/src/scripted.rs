//! Operations of agents that ask questions while they run
//! ([`hasim_agents::galera`]): the executor replays the script with the
//! answers it has, carries out the new effects and log lines, and asks the
//! next question: of mysqld through the node ([`HostAction::Ask`]), of
//! the attribute manager ([`LocalMsg::AttrQuery`]), of the CIB it was last
//! sent (`crm_mon`, answered at once), or of the clock (a timer). The
//! operation's timeout still holds: a script still waiting then is killed,
//! as lrmd kills the agent's process group.

use std::time::Duration;

use hasim_agents::galera::{self, Answer, Ask, Progress};
use hasim_agents::{crm_mon, AgentState};
use hasim_pcmk_proto::{AgentRef, Event, HostAction, LocalMsg, OpStatus, TimerId};

use crate::{Action, Daemon, Execd};

/// The node endpoint mysqld's control answers on.
pub const MYSQLD: &str = "mysqld";

/// A scripted operation in progress.
#[derive(Debug, Default)]
pub struct Script {
    answers: Vec<Answer>,
    /// Effects and log lines already carried out.
    emitted: usize,
    logged: usize,
}

/// Whether `agent`'s operations run as a script.
pub fn runs_as_script(agent: &AgentRef) -> bool {
    agent.class == "ocf" && agent.provider.as_deref() == Some("heartbeat") && agent.kind == "galera"
}

impl Execd {
    /// The operation's simulated duration is over: run the script, and
    /// arm the kill at the operation's timeout.
    pub(crate) fn begin_script(&mut self, now: Duration, call_id: u64, out: &mut Vec<Action>) {
        let Some(run) = self.running.get(&call_id) else {
            return;
        };
        let deadline = run.started + Duration::from_millis(run.req.timeout_ms);
        self.scripts.insert(call_id, Script::default());
        out.push(Action::SetTimer {
            id: TimerId(format!("kill:{call_id}")),
            after: deadline.saturating_sub(now),
        });
        self.advance(now, call_id, out);
    }

    /// The answer to question `ask`; a stale one (its operation was
    /// killed) is dropped.
    pub(crate) fn answer(&mut self, now: Duration, ask: u64, a: Answer, out: &mut Vec<Action>) {
        let Some(call_id) = self.asks.remove(&ask) else {
            return;
        };
        let Some(script) = self.scripts.get_mut(&call_id) else {
            return;
        };
        script.answers.push(a);
        self.advance(now, call_id, out);
    }

    /// The timeout of a scripted operation: it ends as timed out.
    pub(crate) fn kill(&mut self, now: Duration, call_id: u64, out: &mut Vec<Action>) {
        if self.scripts.remove(&call_id).is_none() {
            return;
        }
        self.asks.retain(|_, c| *c != call_id);
        let Some(run) = self.running.remove(&call_id) else {
            return;
        };
        let before = self.states.get(&run.req.rsc).copied().unwrap_or_default();
        self.complete(now, call_id, run, before, 1, OpStatus::Timeout, out);
    }

    fn advance(&mut self, now: Duration, call_id: u64, out: &mut Vec<Action>) {
        loop {
            let (Some(run), Some(script)) =
                (self.running.get(&call_id), self.scripts.get(&call_id))
            else {
                return;
            };
            let req = &run.req;
            let action = galera::Action {
                rsc: &req.rsc,
                node: &self.node,
                op: &req.op,
                probe: req.op == "monitor" && req.interval_ms == 0,
                params: &req.params,
            };
            let (progress, record) = galera::step(&action, &script.answers);
            let (rsc, op) = (req.rsc.clone(), req.op.clone());
            let (emitted, logged) = (script.emitted, script.logged);
            let total_logged = record.log.len();
            for text in record.log.into_iter().skip(logged) {
                out.push(Action::Report(Event::AgentLog {
                    node: self.node.clone(),
                    rsc: rsc.clone(),
                    op: op.clone(),
                    text,
                }));
            }
            let effects: Vec<_> = record.effects.into_iter().skip(emitted).collect();
            if let Some(script) = self.scripts.get_mut(&call_id) {
                script.emitted += effects.len();
                script.logged = total_logged;
            }
            self.effects(call_id, effects, out);
            let ask = match progress {
                Progress::Done(rc, after) => return self.end_script(now, call_id, rc, after, out),
                Progress::Ask(Ask::Promoted) => {
                    let up = self
                        .cib
                        .as_deref()
                        .is_some_and(|cib| crm_mon::promoted_instance(cib, &rsc));
                    if let Some(script) = self.scripts.get_mut(&call_id) {
                        script.answers.push(Answer::Promoted(up));
                    }
                    continue;
                }
                Progress::Ask(ask) => ask,
            };
            self.ask(call_id, ask, out);
            return;
        }
    }

    fn ask(&mut self, call_id: u64, ask: Ask, out: &mut Vec<Action>) {
        let id = self.next_ask;
        self.next_ask += 1;
        self.asks.insert(id, call_id);
        out.push(match ask {
            // Answered by `advance` from the CIB before it gets here.
            Ask::Promoted => return,
            Ask::Mysqld(command) => Action::Host(HostAction::Ask {
                service: MYSQLD.into(),
                call: id,
                request: command.render(),
            }),
            Ask::Attrs(names) => Action::Send {
                to: Daemon::Attrd,
                msg: LocalMsg::AttrQuery { call: id, names },
            },
            Ask::Sleep(d) => Action::SetTimer {
                id: TimerId(format!("wake:{id}")),
                after: d,
            },
        });
    }

    fn end_script(
        &mut self,
        now: Duration,
        call_id: u64,
        rc: i32,
        after: AgentState,
        out: &mut Vec<Action>,
    ) {
        self.scripts.remove(&call_id);
        out.push(Action::CancelTimer(TimerId(format!("kill:{call_id}"))));
        let Some(run) = self.running.remove(&call_id) else {
            return;
        };
        let before = self.states.get(&run.req.rsc).copied().unwrap_or_default();
        self.states.insert(run.req.rsc.clone(), after);
        self.complete(now, call_id, run, before, rc, OpStatus::Done, out);
    }
}
