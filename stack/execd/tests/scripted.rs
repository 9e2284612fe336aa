//! Scripted agents (galera): questions go out as actions, answers come
//! back as inputs, the operation ends when the script does or at its
//! timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use hasim_agents::BehaviourTable;
use hasim_execd::Execd;
use hasim_galera::control::{Answer, Command, Recovery};
use hasim_pcmk_proto::{
    Action, AgentRef, AttrValue, Daemon, ExecRequest, ExecResult, HostAction, Input, LocalMsg,
    OpStatus, TimerId,
};

fn galera(op: &str, timeout_ms: u64) -> ExecRequest {
    ExecRequest {
        rsc: "galera".into(),
        agent: AgentRef {
            class: "ocf".into(),
            provider: Some("heartbeat".into()),
            kind: "galera".into(),
        },
        op: op.into(),
        interval_ms: 0,
        timeout_ms,
        params: [("wsrep_cluster_address", "gcomm://n1,n2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        key: "k".into(),
    }
}

/// An executor with a fake mysqld (answering when `mysqld_answers`) and a
/// fake attribute manager holding `attrs`.
struct World {
    e: Execd,
    now: Duration,
    timers: BTreeMap<TimerId, Duration>,
    mysqld_answers: bool,
    attrs: BTreeMap<String, BTreeMap<String, String>>,
    commands: Vec<Command>,
    results: Vec<ExecResult>,
}

impl World {
    fn new(mysqld_answers: bool) -> World {
        World {
            e: Execd::new("n2", 1, BehaviourTable::default()),
            now: Duration::ZERO,
            timers: BTreeMap::new(),
            mysqld_answers,
            attrs: BTreeMap::new(),
            commands: Vec::new(),
            results: Vec::new(),
        }
    }

    fn feed(&mut self, input: Input) {
        let mut queue = vec![input];
        while let Some(input) = queue.pop() {
            for a in self.e.handle(self.now, input) {
                if let Some(reply) = self.act(a) {
                    queue.push(reply);
                }
            }
        }
    }

    fn act(&mut self, a: Action) -> Option<Input> {
        let local = |msg| {
            Some(Input::Local {
                from: Daemon::Execd,
                msg,
            })
        };
        match a {
            Action::SetTimer { id, after } => {
                self.timers.insert(id, self.now + after);
            }
            Action::CancelTimer(id) => {
                self.timers.remove(&id);
            }
            Action::Host(HostAction::Ask { call, request, .. }) => {
                let command = Command::parse(&request).unwrap();
                self.commands.push(command);
                if !self.mysqld_answers {
                    return None;
                }
                let answer = match command {
                    Command::Recover => Answer::Recovered(Recovery {
                        grastate_seqno: Some(-1),
                        last_commit: 12,
                        safe_to_bootstrap: Some(false),
                    }),
                    Command::Status => Answer::Stopped,
                    _ => Answer::Ok,
                };
                let answer = answer.render();
                return local(LocalMsg::HostAnswer { call, answer });
            }
            Action::Send {
                to: Daemon::Attrd,
                msg:
                    LocalMsg::AttrUpdate {
                        target,
                        name,
                        value,
                        ..
                    },
            } => {
                let per_node = self.attrs.entry(name).or_default();
                match value {
                    AttrValue::Set(v) => per_node.insert(target, v),
                    _ => per_node.remove(&target),
                };
            }
            Action::Send {
                to: Daemon::Attrd,
                msg: LocalMsg::AttrQuery { call, names },
            } => {
                let values = names
                    .iter()
                    .map(|n| (n.clone(), self.attrs.get(n).cloned().unwrap_or_default()))
                    .collect();
                return local(LocalMsg::AttrAnswer { call, values });
            }
            Action::Send {
                to: Daemon::Controld,
                msg: LocalMsg::ExecDone(r),
            } => self.results.push(r),
            _ => {}
        }
        None
    }

    fn run_until(&mut self, end: Duration) {
        while let Some((id, at)) = self
            .timers
            .iter()
            .min_by_key(|(id, at)| (**at, (*id).clone()))
            .map(|(id, at)| (id.clone(), *at))
        {
            if at > end {
                break;
            }
            self.timers.remove(&id);
            self.now = at;
            self.feed(Input::Timer(id));
        }
    }

    fn exec(&mut self, req: ExecRequest) {
        let msg = LocalMsg::Exec(req);
        self.feed(Input::Local {
            from: Daemon::Controld,
            msg,
        });
    }
}

#[test]
fn galera_start_asks_mysqld_and_records_its_seqno_in_attrd() {
    let mut w = World::new(true);
    w.attrs
        .entry("galera-last-committed".into())
        .or_default()
        .insert("n1".into(), "30".into());
    w.exec(galera("start", 120_000));
    w.run_until(Duration::from_secs(1));
    assert_eq!(w.results.len(), 1);
    assert_eq!((w.results[0].rc, w.results[0].status), (0, OpStatus::Done));
    assert_eq!(w.commands, vec![Command::Status, Command::Recover]);
    assert_eq!(w.attrs["galera-last-committed"]["n2"], "12");
    assert_eq!(w.attrs["galera-safe-to-bootstrap"]["n2"], "0");
    // Both nodes reported when the start read them back: n1 has the
    // highest seqno and gets the bootstrap attribute and the score.
    assert_eq!(w.attrs["galera-bootstrap"]["n1"], "true");
    assert_eq!(w.attrs["master-galera"]["n1"], "100");
    assert!(w.e.active("galera"));
}

#[test]
fn a_galera_action_whose_mysqld_never_answers_times_out() {
    let mut w = World::new(false);
    w.exec(galera("start", 20_000));
    w.run_until(Duration::from_secs(60));
    assert_eq!(w.results.len(), 1);
    assert_eq!(
        (w.results[0].rc, w.results[0].status),
        (1, OpStatus::Timeout)
    );
    assert_eq!(w.results[0].exec_ms, 20_000);
    assert!(!w.e.active("galera"));
}
