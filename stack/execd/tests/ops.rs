use std::collections::BTreeMap;
use std::time::Duration;

use hasim_agents::{BehaviourRule, BehaviourTable, Outcome};
use hasim_execd::Execd;
use hasim_pcmk_proto::{
    Action, AgentRef, Daemon, ExecRequest, HostAction, Input, LocalMsg, OpStatus, TimerId,
};

/// Drive one executor with its own timer table; returns results sent to the controller and host actions.
struct Bench {
    e: Execd,
    now: Duration,
    timers: BTreeMap<TimerId, Duration>,
    results: Vec<(Duration, hasim_pcmk_proto::ExecResult)>,
    host: Vec<(Duration, HostAction)>,
}

impl Bench {
    fn new(table: BehaviourTable) -> Bench {
        Bench {
            e: Execd::new("n1", 7, table),
            now: Duration::ZERO,
            timers: BTreeMap::new(),
            results: vec![],
            host: vec![],
        }
    }
    fn feed(&mut self, input: Input) {
        for a in self.e.handle(self.now, input) {
            match a {
                Action::SetTimer { id, after } => {
                    self.timers.insert(id, self.now + after);
                }
                Action::CancelTimer(id) => {
                    self.timers.remove(&id);
                }
                Action::Send {
                    to: Daemon::Controld,
                    msg: LocalMsg::ExecDone(r),
                } => self.results.push((self.now, r)),
                Action::Host(h) => self.host.push((self.now, h)),
                _ => {}
            }
        }
    }
    fn run_until(&mut self, end: Duration) {
        loop {
            let next = self
                .timers
                .iter()
                .min_by_key(|(id, t)| (**t, (*id).clone()))
                .map(|(id, t)| (id.clone(), *t));
            match next {
                Some((id, t)) if t <= end => {
                    self.timers.remove(&id);
                    self.now = t;
                    self.feed(Input::Timer(id));
                }
                _ => break,
            }
        }
        self.now = end;
    }
    fn exec(&mut self, rsc: &str, kind: &str, op: &str, interval_ms: u64, timeout_ms: u64) {
        let provider = if kind == "IPaddr2" {
            "heartbeat"
        } else {
            "pacemaker"
        };
        let mut params = BTreeMap::new();
        params.insert("ip".to_string(), "10.0.0.5".to_string());
        let req = ExecRequest {
            rsc: rsc.into(),
            agent: AgentRef {
                class: "ocf".into(),
                provider: Some(provider.into()),
                kind: kind.into(),
            },
            op: op.into(),
            interval_ms,
            timeout_ms,
            params,
            key: format!("{op}-{rsc}"),
        };
        self.feed(Input::Local {
            from: Daemon::Controld,
            msg: LocalMsg::Exec(req),
        });
    }
}

fn s(x: u64) -> Duration {
    Duration::from_secs(x)
}

#[test]
fn hang_is_killed_at_timeout_and_reported_as_timeout() {
    let rule = BehaviourRule {
        rsc: "d".into(),
        node: None,
        op: Some("start".into()),
        from: s(0),
        times: None,
        duration: (s(1), s(1)),
        outcome: Outcome::Hang,
    };
    let mut b = Bench::new(BehaviourTable::new(vec![rule]));
    b.exec("d", "Dummy", "start", 0, 20_000);
    b.run_until(s(19));
    assert!(b.results.is_empty());
    b.run_until(s(21));
    let (at, r) = &b.results[0];
    assert_eq!((*at, r.rc, r.status), (s(20), 1, OpStatus::Timeout));
    assert!(!b.e.active("d"));
}

#[test]
fn recurring_monitor_reports_changes_and_stops_with_stop() {
    let fail = BehaviourRule {
        rsc: "d".into(),
        node: Some("n1".into()),
        op: Some("monitor".into()),
        from: s(45),
        times: Some(1),
        duration: (s(0), s(0)),
        outcome: Outcome::Rc(7),
    };
    let mut b = Bench::new(BehaviourTable::new(vec![fail]));
    b.exec("d", "Dummy", "monitor", 0, 20_000); // probe
    b.exec("d", "Dummy", "start", 0, 20_000);
    b.exec("d", "Dummy", "monitor", 10_000, 20_000);
    b.run_until(s(44));
    let rcs: Vec<(String, i32)> = b
        .results
        .iter()
        .map(|(_, r)| (r.request.op.clone(), r.rc))
        .collect();
    assert_eq!(
        rcs,
        vec![
            ("monitor".into(), 7),
            ("start".into(), 0),
            ("monitor".into(), 0)
        ]
    );
    b.run_until(s(60));
    let (at, last) = b.results.last().unwrap();
    assert_eq!((last.request.interval_ms, last.rc), (10_000, 7));
    assert!(
        *at >= s(45) && *at < s(56),
        "failure seen at the first monitor after 45 s: {at:?}"
    );
    assert!(!b.e.active("d"));
    let n = b.results.len();
    b.exec("d", "Dummy", "stop", 0, 20_000);
    b.run_until(s(200));
    assert_eq!(b.results.len(), n + 1, "no monitor results after the stop");
}

#[test]
fn ipaddr2_sends_five_arps_200ms_apart() {
    let mut b = Bench::new(BehaviourTable::new(vec![]));
    b.exec("vip", "IPaddr2", "start", 0, 20_000);
    b.run_until(s(5));
    let arps: Vec<Duration> = b
        .host
        .iter()
        .filter(|(_, h)| matches!(h, HostAction::GratuitousArp { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(arps.len(), 5);
    assert_eq!(arps[4] - arps[0], Duration::from_millis(800));
    assert!(matches!(b.host[0].1, HostAction::AddAddress { .. }));
    assert_eq!(
        b.results[0].0, arps[0],
        "start returns before the ARPs finish"
    );
}
