use super::*;
use std::collections::BTreeMap;

const LATENCY: Duration = Duration::from_millis(1);

fn s(x: f64) -> Duration {
    Duration::from_secs_f64(x)
}

fn cfg(name: &str, cluster: &[&str]) -> GaleraConfig {
    GaleraConfig {
        name: name.into(),
        cluster: cluster.iter().map(|c| c.to_string()).collect(),
        evs: EvsTimeouts::default(),
        keepalive_period: Duration::from_secs(1),
        uuid: "5ee99582-bb8d-11e2-b8e3-23de375c1d30".into(),
    }
}

fn empty_disk() -> Disk {
    Disk {
        grastate: Grastate::running("5ee99582-bb8d-11e2-b8e3-23de375c1d30"),
        committed: 0,
        data: BTreeMap::new(),
    }
}

/// Nodes joined by a network with a fixed latency and cuttable links.
struct Cluster {
    nodes: BTreeMap<String, GaleraNode>,
    queue: BTreeMap<(Duration, u64), (String, String, Msg)>,
    counter: u64,
    cut: BTreeSet<(String, String)>,
    now: Duration,
    replies: Vec<(Duration, String, Response)>,
    grastate: BTreeMap<String, Grastate>,
}

impl Cluster {
    fn new(names: &[&str]) -> Cluster {
        let mut c = Cluster {
            nodes: names
                .iter()
                .map(|n| (n.to_string(), GaleraNode::new(cfg(n, names), empty_disk())))
                .collect(),
            queue: BTreeMap::new(),
            counter: 0,
            cut: BTreeSet::new(),
            now: Duration::ZERO,
            replies: Vec::new(),
            grastate: BTreeMap::new(),
        };
        for (i, n) in names.iter().enumerate() {
            c.input(n, Input::Start { bootstrap: i == 0 });
        }
        c
    }

    fn input(&mut self, node: &str, input: Input) {
        let now = self.now;
        // A node taken out of `nodes` is paused: what reaches it is lost.
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        let actions = n.handle(now, input);
        for a in actions {
            match a {
                Action::Send { to, msg } => {
                    if !self.cut.contains(&(node.to_string(), to.clone())) {
                        self.counter += 1;
                        self.queue
                            .insert((now + LATENCY, self.counter), (node.to_string(), to, msg));
                    }
                }
                Action::Reply(_, r) => self.replies.push((now, node.to_string(), r)),
                Action::WriteGrastate(g) => {
                    self.grastate.insert(node.to_string(), g);
                }
                Action::Committed { .. } | Action::StateReceived | Action::WriteViewState(_) => {}
            }
        }
    }

    fn run_until(&mut self, end: Duration) {
        loop {
            let timers = self
                .nodes
                .values()
                .filter_map(GaleraNode::next_timeout)
                .min();
            let msg = self.queue.keys().next().map(|k| k.0);
            let Some(t) = [timers, msg]
                .into_iter()
                .flatten()
                .min()
                .filter(|&t| t <= end)
            else {
                break;
            };
            self.now = t;
            while let Some(e) = self.queue.first_entry() {
                if e.key().0 > t {
                    break;
                }
                let (from, to, msg) = e.remove();
                self.input(&to, Input::Peer { from, msg });
            }
            let due: Vec<String> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.next_timeout().is_some_and(|x| x <= t))
                .map(|(k, _)| k.clone())
                .collect();
            for n in due {
                self.input(&n, Input::Timeout);
            }
        }
        self.now = end;
    }

    fn partition(&mut self, a: &[&str], b: &[&str]) {
        for x in a {
            for y in b {
                self.cut.insert((x.to_string(), y.to_string()));
                self.cut.insert((y.to_string(), x.to_string()));
            }
        }
    }

    fn write(&mut self, node: &str, id: u64, key: &str, value: u64) {
        self.input(
            node,
            Input::Request(
                1,
                Request::Write {
                    id,
                    key: key.into(),
                    value,
                },
            ),
        );
    }

    fn reply(&self, id: u64) -> Option<&(Duration, String, Response)> {
        self.replies.iter().find(|(_, _, r)| r.id == id)
    }
}

const THREE: [&str; 3] = ["n1", "n2", "n3"];

#[test]
fn nodes_join_the_bootstrapped_component_and_replicate_in_one_order() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    assert!(c.nodes.values().all(GaleraNode::is_primary));
    // Different keys: concurrent writes to one key would conflict.
    for (i, n) in ["n2", "n3", "n1", "n2"].iter().enumerate() {
        c.write(n, i as u64, &format!("k{i}"), 100 + i as u64);
    }
    c.run_until(s(3.1));
    for id in 0..4 {
        assert_eq!(
            c.reply(id).map(|r| r.2.result.clone()),
            Some(Ok(None)),
            "write {id}"
        );
    }
    for n in c.nodes.values() {
        for i in 0..4u64 {
            assert_eq!(n.values(&format!("k{i}")), [100 + i].into());
        }
        assert_eq!(n.seqno(), 4);
    }
    assert_eq!(c.grastate["n2"].seqno, -1, "grastate says -1 while running");
}

#[test]
fn a_cut_off_node_refuses_with_1047_after_the_suspect_timeout() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(10.0));
    c.partition(&["n1"], &["n2", "n3"]);
    c.write("n1", 1, "k", 1);
    c.write("n2", 2, "k", 2);
    c.run_until(s(14.0));
    // Neither side can commit while the view still holds all three.
    assert!(c.reply(1).is_none() && c.reply(2).is_none());
    c.run_until(s(16.0));
    let (t1, _, r1) = c.reply(1).unwrap();
    assert_eq!(r1.result, Err(NOT_PRIMARY.to_string()));
    assert!(*t1 >= s(14.9) && *t1 <= s(15.6), "{t1:?}");
    // n2's write went to the old orderer n1: aborted when n2 takes over.
    assert_eq!(c.reply(2).unwrap().2.result, Err(CERT_FAILURE.to_string()));
    assert!(!c.nodes["n1"].is_primary());
    assert!(c.nodes["n2"].is_primary() && c.nodes["n3"].is_primary());
    c.write("n3", 3, "k", 3);
    c.input(
        "n1",
        Input::Request(
            2,
            Request::Read {
                id: 4,
                key: "k".into(),
            },
        ),
    );
    c.run_until(s(16.1));
    assert_eq!(c.reply(3).unwrap().2.result, Ok(None));
    assert_eq!(c.reply(4).unwrap().2.result, Err(NOT_PRIMARY.to_string()));
    // Heal: n1 rejoins with a state transfer and has the majority's write.
    c.cut.clear();
    c.run_until(s(20.0));
    assert!(c.nodes["n1"].is_primary());
    assert_eq!(c.nodes["n1"].values("k"), [3].into());
}

#[test]
fn an_even_split_leaves_no_primary_component() {
    let four = ["n1", "n2", "n3", "n4"];
    let mut c = Cluster::new(&four);
    c.run_until(s(5.0));
    assert!(c.nodes.values().all(GaleraNode::is_primary));
    c.partition(&["n1", "n2"], &["n3", "n4"]);
    c.run_until(s(12.0));
    assert!(c.nodes.values().all(|n| !n.is_primary()));
}

#[test]
fn concurrent_writes_to_one_key_fail_certification_on_all_but_the_first() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    c.write("n2", 1, "k", 1);
    c.write("n3", 2, "k", 2);
    c.run_until(s(3.1));
    let results: Vec<_> = [1, 2]
        .iter()
        .map(|&id| c.reply(id).unwrap().2.result.clone())
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.contains(&Err(CERT_FAILURE.to_string())));
    let k: Vec<_> = c.nodes.values().map(|n| n.values("k")).collect();
    assert!(k.iter().all(|v| v == &k[0] && v.len() == 1));
}

#[test]
fn clean_shutdown_and_crash_recovery_positions() {
    let mut c = Cluster::new(&["n1"]);
    c.run_until(s(1.0));
    c.write("n1", 1, "k", 1);
    c.run_until(s(1.1));
    let crashed = c.nodes["n1"].disk();
    c.input("n1", Input::Shutdown);
    let g = &c.grastate["n1"];
    assert_eq!((g.seqno, g.safe_to_bootstrap), (1, true));
    // After a crash the file says -1; the engine's seqno is recovered.
    assert_eq!(crashed.grastate.seqno, -1);
    let back = GaleraNode::new(cfg("n1", &["n1"]), crashed);
    assert_eq!(back.seqno(), 1);
    assert_eq!(back.values("k"), [1].into());
}

#[test]
fn writes_to_one_key_from_one_node_never_conflict() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    c.write("n2", 1, "k", 1);
    c.write("n2", 2, "k", 2);
    c.run_until(s(3.1));
    for id in [1, 2] {
        assert_eq!(c.reply(id).unwrap().2.result, Ok(None));
    }
    assert!(c.nodes.values().all(|n| n.values("k") == [1, 2].into()));
}

#[test]
fn writes_keep_committing_after_a_lower_named_node_rejoins() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    c.partition(&["n1"], &["n2", "n3"]);
    c.run_until(s(10.0));
    c.write("n2", 1, "k", 1);
    c.run_until(s(10.1));
    assert_eq!(c.reply(1).unwrap().2.result, Ok(None));
    c.cut.clear();
    // n1 rejoins (and orders from then on) while writes keep coming.
    let mut id = 2;
    while c.now < s(14.0) {
        c.write("n3", id, "k", id);
        id += 1;
        let next = c.now + s(0.05);
        c.run_until(next);
    }
    c.run_until(s(15.0));
    for i in 2..id {
        assert!(c.reply(i).is_some(), "write {i} never answered");
    }
    assert!(c.nodes["n1"].is_primary());
    let k: Vec<_> = c.nodes.values().map(|n| n.values("k")).collect();
    assert!(k.iter().all(|v| v == &k[0]), "{k:?}");
    let acked: BTreeSet<u64> = c
        .replies
        .iter()
        .filter(|(_, _, r)| r.result.is_ok())
        .map(|(_, _, r)| r.id)
        .collect();
    assert!(acked.iter().all(|v| k[0].contains(v)));
}

#[test]
fn a_node_the_others_no_longer_hear_leaves_the_component_it_still_hears() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    // n3 hears n1 and n2, they do not hear n3 (as after a pause).
    for to in ["n1", "n2"] {
        c.cut.insert(("n3".to_string(), to.to_string()));
    }
    c.run_until(s(12.0));
    assert!(c.nodes["n1"].is_primary() && c.nodes["n2"].is_primary());
    assert!(!c.nodes["n3"].is_primary());
    c.write("n3", 1, "k", 1);
    c.run_until(s(12.1));
    assert_eq!(c.reply(1).unwrap().2.result, Err(NOT_PRIMARY.to_string()));
}

#[test]
fn a_write_the_orderer_acknowledged_survives_its_loss_before_the_commit_went_out() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    c.write("n1", 1, "k", 7);
    // Every Ordered and Ack is delivered (1 ms each way), then n1 commits
    // and answers; its Commit messages are cut with it.
    c.run_until(s(3.0015));
    c.partition(&["n1"], &["n2", "n3"]);
    c.run_until(s(3.01));
    assert_eq!(c.reply(1).unwrap().2.result, Ok(None));
    c.run_until(s(12.0));
    for n in ["n2", "n3"] {
        assert!(c.nodes[n].is_primary(), "{n}");
        assert_eq!(c.nodes[n].values("k"), [7].into(), "{n}");
    }
}

#[test]
fn nodes_that_lost_quorum_reform_the_component_when_they_meet_again() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    c.write("n2", 1, "k", 5);
    c.run_until(s(3.1));
    c.partition(&["n1"], &["n2", "n3"]);
    c.partition(&["n2"], &["n3"]);
    c.run_until(s(12.0));
    assert!(c.nodes.values().all(|n| !n.is_primary()));
    c.cut.clear();
    c.run_until(s(16.0));
    assert!(c.nodes.values().all(|n| n.is_primary()));
    assert!(c.nodes.values().all(|n| n.values("k") == [5].into()));
    c.write("n3", 2, "k", 6);
    c.run_until(s(16.1));
    assert_eq!(c.reply(2).unwrap().2.result, Ok(None));
}

#[test]
fn a_member_whose_orderer_turns_non_primary_steps_down_and_both_reform_later() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    c.partition(&["n1"], &["n2", "n3"]);
    c.run_until(s(10.0));
    // n2 (now the orderer of {n2, n3}) stops hearing n3; n3 still hears n2.
    c.cut.insert(("n3".to_string(), "n2".to_string()));
    c.run_until(s(17.0));
    assert!(!c.nodes["n2"].is_primary());
    assert!(
        !c.nodes["n3"].is_primary(),
        "n3 kept a component its orderer left"
    );
    c.cut.remove(&("n3".to_string(), "n2".to_string()));
    c.run_until(s(20.0));
    assert!(c.nodes["n2"].is_primary() && c.nodes["n3"].is_primary());
}

#[test]
fn a_member_that_restarts_before_it_is_missed_is_admitted_again() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    c.write("n2", 1, "k", 9);
    c.run_until(s(3.1));
    // n3 restarts from an empty disk at once: still a member for n1.
    c.nodes.insert(
        "n3".to_string(),
        GaleraNode::new(cfg("n3", &THREE), empty_disk()),
    );
    c.input("n3", Input::Start { bootstrap: false });
    c.run_until(s(6.0));
    assert!(c.nodes["n3"].is_primary());
    assert_eq!(c.nodes["n3"].values("k"), [9].into());
}

#[test]
fn a_paused_orderer_that_lost_its_quorum_does_not_stay_primary_alone() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    c.partition(&["n1"], &["n2", "n3"]);
    c.run_until(s(10.0));
    // n2 orders {n2, n3}; it pauses and n3 is left non-primary.
    let n2 = c.nodes.remove("n2").unwrap();
    c.run_until(s(17.0));
    assert!(!c.nodes["n3"].is_primary());
    // n2 resumes: it hears n3 waiting before it misses anyone.
    c.nodes.insert("n2".to_string(), n2);
    c.input(
        "n2",
        Input::Peer {
            from: "n3".into(),
            msg: Msg::Keepalive { view: None },
        },
    );
    assert!(!c.nodes["n2"].is_primary(), "n2 kept a component of one");
    c.run_until(s(20.0));
    assert!(c.nodes["n2"].is_primary() && c.nodes["n3"].is_primary());
}

#[test]
fn a_node_that_hears_a_primary_peer_joins_it_instead_of_reforming_a_second_one() {
    let mut c = Cluster::new(&THREE);
    c.run_until(s(3.0));
    c.partition(&["n1"], &["n2", "n3"]);
    c.partition(&["n2"], &["n3"]);
    c.run_until(s(12.0));
    assert!(c.nodes.values().all(|n| !n.is_primary()));
    // n1 has re-formed the component and admitted n3; n2 hears n1 say so,
    // and an older `Waiting` from n3 that makes n2 the most advanced of a
    // quorum of the last component.
    let seqno = c.nodes["n2"].seqno();
    let feed = [
        (
            "n3",
            Msg::Waiting {
                last_prim: THREE.iter().map(|n| n.to_string()).collect(),
                seqno,
            },
        ),
        (
            "n1",
            Msg::Keepalive {
                view: Some(["n1".to_string(), "n3".to_string()].into()),
            },
        ),
    ];
    c.now = s(12.5);
    for (from, msg) in feed {
        c.input(
            "n2",
            Input::Peer {
                from: from.into(),
                msg,
            },
        );
    }
    c.now = s(14.0);
    c.input("n2", Input::Timeout);
    assert!(!c.nodes["n2"].is_primary(), "a second primary component");
}
