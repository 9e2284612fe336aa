use super::*;
use hasim_data::checkers::no_lost_acknowledged_writes;
use hasim_data::history::{History, Op, OpKind, Outcome};

const LAG: Duration = Duration::from_millis(500);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A primary and a replica with messages delivered at once.
struct Pair {
    nodes: BTreeMap<String, KvNode>,
}

impl Pair {
    fn new() -> Self {
        let mut p = Pair {
            nodes: BTreeMap::new(),
        };
        p.nodes
            .insert("db1".into(), KvNode::new("db1", Role::Primary, LAG));
        p.nodes.insert(
            "db2".into(),
            KvNode::new(
                "db2",
                Role::Replica {
                    primary: "db1".into(),
                },
                LAG,
            ),
        );
        let a = p.nodes.get_mut("db2").unwrap().start(ms(0));
        p.route("db2", ms(0), a);
        p
    }

    fn input(&mut self, node: &str, now: Duration, input: Input) -> Vec<Action> {
        let a = self.nodes.get_mut(node).unwrap().handle(now, input);
        self.route(node, now, a)
    }

    fn route(&mut self, from: &str, now: Duration, actions: Vec<Action>) -> Vec<Action> {
        let mut replies = Vec::new();
        for a in actions {
            match a {
                Action::Send { to, msg } => {
                    let more = self.nodes.get_mut(&to).unwrap().handle(
                        now,
                        Input::Peer {
                            from: from.into(),
                            msg,
                        },
                    );
                    replies.extend(self.route(&to, now, more));
                }
                reply => replies.push(reply),
            }
        }
        replies
    }

    fn write(
        &mut self,
        node: &str,
        now: Duration,
        value: u64,
    ) -> Result<Option<BTreeSet<u64>>, String> {
        let req = Request::Write {
            id: value,
            key: "k".into(),
            value,
        };
        match self.input(node, now, Input::Request(1, req)).remove(0) {
            Action::Reply(_, r) => r.result,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn acknowledged_on_the_primary_then_applied_after_the_lag() {
    let mut p = Pair::new();
    assert_eq!(p.write("db1", ms(10), 1), Ok(None));
    assert!(
        p.nodes["db2"].values("k").is_empty(),
        "acknowledged before any replica has it"
    );
    p.input("db2", ms(509), Input::Timeout);
    assert!(p.nodes["db2"].values("k").is_empty());
    p.input("db2", ms(510), Input::Timeout);
    assert_eq!(p.nodes["db2"].values("k"), [1].into());
}

#[test]
fn a_replica_refuses_writes() {
    let mut p = Pair::new();
    assert_eq!(p.write("db2", ms(10), 1), Err(READ_ONLY.into()));
}

fn acked(value: u64, at: Duration, node: &str) -> Op {
    Op {
        client: "c".into(),
        kind: OpKind::Write {
            key: "k".into(),
            value,
        },
        invoked: at,
        completed: Some((at, Outcome::Ok(None))),
        node: Some(node.into()),
    }
}

#[test]
fn promotion_loses_what_the_replica_had_not_received_and_the_checker_sees_it() {
    let mut p = Pair::new();
    assert_eq!(p.write("db1", ms(10), 1), Ok(None));
    p.input("db2", ms(600), Input::Timeout);
    // db1 acknowledges 2 and dies before shipping it (its message is lost).
    let req = Request::Write {
        id: 2,
        key: "k".into(),
        value: 2,
    };
    let a = p
        .nodes
        .get_mut("db1")
        .unwrap()
        .handle(ms(700), Input::Request(1, req));
    assert!(matches!(&a[0], Action::Reply(_, r) if r.result.is_ok()));
    p.input("db2", ms(800), Input::SetRole(Role::Primary));
    assert_eq!(p.write("db2", ms(900), 3), Ok(None));
    let h = History {
        ops: vec![
            acked(1, ms(10), "db1"),
            acked(2, ms(700), "db1"),
            acked(3, ms(900), "db2"),
        ],
        final_reads: [("k".to_string(), p.nodes["db2"].values("k"))].into(),
        ..History::default()
    };
    let v = no_lost_acknowledged_writes(&h);
    assert_eq!(v.violations.len(), 1, "{:?}", v.violations);
    assert!(v.violations[0].detail.contains("k=2"));
}

#[test]
fn promotion_keeps_what_had_arrived_and_drops_what_had_not() {
    let mut p = Pair::new();
    assert_eq!(p.write("db1", ms(10), 1), Ok(None));
    assert_eq!(p.write("db1", ms(400), 2), Ok(None));
    // At 600 ms entry 1 has arrived (due at 510 ms) though no timer ran yet;
    // entry 2 (due at 900 ms) has not.
    p.input("db2", ms(600), Input::SetRole(Role::Primary));
    assert_eq!(p.nodes["db2"].values("k"), [1].into());
    p.input("db2", ms(1000), Input::Timeout);
    assert_eq!(p.nodes["db2"].values("k"), [1].into());
}

#[test]
fn after_a_split_brain_the_old_primary_catches_up_but_its_own_writes_stay_local() {
    let mut p = Pair::new();
    assert_eq!(p.write("db1", ms(10), 1), Ok(None));
    p.input("db2", ms(600), Input::Timeout);
    // Partition: db2 is promoted while db1 still takes writes.
    p.input("db2", ms(1000), Input::SetRole(Role::Primary));
    p.nodes.get_mut("db1").unwrap().replicas.clear();
    assert_eq!(p.write("db1", ms(1100), 2), Ok(None));
    assert_eq!(p.write("db2", ms(1200), 3), Ok(None));
    // Heal: db1 becomes a replica of db2.
    p.input(
        "db1",
        ms(2000),
        Input::SetRole(Role::Replica {
            primary: "db2".into(),
        }),
    );
    p.input("db1", ms(2600), Input::Timeout);
    assert_eq!(p.nodes["db1"].values("k"), [1, 2, 3].into());
    assert_eq!(
        p.nodes["db2"].values("k"),
        [1, 3].into(),
        "db1's write during the split never reached db2"
    );
}
