//! cpg driven by real Totem cores on the totem crate's deterministic harness.

#[path = "../../totem/tests/harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;

use harness::*;
use hasim_cpg::{Cpg, CpgInput, CpgOutput, Member, Reason};
use hasim_totem::{NodeId, TotemConfig};

struct Cluster {
    sim: Sim,
    cpg: BTreeMap<NodeId, Cpg>,
    seen: BTreeMap<(NodeId, u64), usize>,
    outs: BTreeMap<NodeId, Vec<CpgOutput>>,
}

impl Cluster {
    fn new(ids: &[NodeId], seed: u64) -> Cluster {
        let t = TotemConfig {
            token: Some(1000),
            ..Default::default()
        }
        .effective(ids.len());
        let mut sim = Sim::new(seed, ids, default_setup(ids.to_vec(), t, 1, false));
        sim.start_all();
        Cluster {
            sim,
            cpg: ids.iter().map(|i| (*i, Cpg::new(*i))).collect(),
            seen: BTreeMap::new(),
            outs: BTreeMap::new(),
        }
    }

    fn call(&mut self, id: NodeId, input: CpgInput) {
        let Some(c) = self.cpg.get_mut(&id) else {
            return;
        };
        for o in c.handle(input) {
            match o {
                CpgOutput::TotemMcast(b) => self.sim.mcast_payload(id, b),
                other => self.outs.entry(id).or_default().push(other),
            }
        }
    }

    /// Advance time, feeding Totem's upcalls into each node's cpg.
    fn run(&mut self, d: std::time::Duration) {
        let end = self.sim.now + d;
        while self.sim.now < end {
            let step = self.sim.now + ms(1);
            self.sim.run_until(step);
            for id in self.sim.running() {
                let n = &self.sim.nodes[&id];
                let key = (id, n.boot);
                let from = self.seen.get(&key).copied().unwrap_or(0);
                let evs: Vec<TotemEvent> = n.record.events[from..].to_vec();
                self.seen.insert(key, from + evs.len());
                for e in evs {
                    let input = match e {
                        TotemEvent::ConfChg(c) => CpgInput::TotemConfChg(c),
                        TotemEvent::Deliver(d) => CpgInput::TotemDeliver(d),
                    };
                    self.call(id, input);
                }
            }
        }
    }

    fn stop(&mut self, id: NodeId) {
        self.sim.stop(id);
        self.cpg.remove(&id);
    }

    fn start(&mut self, id: NodeId) {
        self.sim.start(id);
        self.cpg.insert(id, Cpg::new(id));
    }
}

#[test]
fn daemons_see_the_same_group_and_messages() {
    let ids = [1, 2, 3];
    let mut c = Cluster::new(&ids, 1);
    c.run(ms(5000));
    for id in ids {
        c.call(
            id,
            CpgInput::Join {
                group: "crmd".into(),
                pid: id * 100,
            },
        );
    }
    c.run(ms(500));
    let all: Vec<Member> = ids
        .iter()
        .map(|i| Member {
            node: *i,
            pid: i * 100,
        })
        .collect();
    for id in ids {
        assert_eq!(c.cpg[&id].group_members("crmd"), all, "node {id}");
    }
    for round in 0..5u8 {
        for id in ids {
            c.call(
                id,
                CpgInput::Mcast {
                    group: "crmd".into(),
                    pid: id * 100,
                    payload: vec![id as u8, round],
                },
            );
        }
    }
    c.run(ms(500));
    let delivered = |c: &Cluster, id| -> Vec<Vec<u8>> {
        c.outs[&id]
            .iter()
            .filter_map(|o| match o {
                CpgOutput::Deliver { payload, .. } => Some(payload.clone()),
                _ => None,
            })
            .collect()
    };
    let d1 = delivered(&c, 1);
    assert_eq!(d1.len(), 15);
    assert_eq!(delivered(&c, 2), d1);
    assert_eq!(delivered(&c, 3), d1);

    // Node 3 crashes: the others see its daemon leave with NODEDOWN.
    c.stop(3);
    c.run(ms(6000));
    for id in [1, 2] {
        assert!(c.outs[&id].iter().any(|o| matches!(o,
            CpgOutput::ConfChg { left, .. }
                if left == &vec![(Member { node: 3, pid: 300 }, Reason::NodeDown)])));
        assert_eq!(c.cpg[&id].group_members("crmd").len(), 2);
    }

    // It comes back and its daemon joins again: everyone agrees once more.
    c.start(3);
    c.call(
        3,
        CpgInput::Join {
            group: "crmd".into(),
            pid: 301,
        },
    );
    c.run(ms(8000));
    let expect = vec![
        Member { node: 1, pid: 100 },
        Member { node: 2, pid: 200 },
        Member { node: 3, pid: 301 },
    ];
    for id in ids {
        assert_eq!(c.cpg[&id].group_members("crmd"), expect, "node {id}");
    }
    // (cpg payloads are not unique across senders, so only the membership
    // checker applies here; ordering is asserted on the deliveries above.)
    check_membership_agreement(&c.sim.records()).unwrap();
}

#[test]
fn partition_and_merge_converge_with_nodedown_and_nodeup() {
    let ids = [1, 2, 3];
    let mut c = Cluster::new(&ids, 2);
    c.run(ms(5000));
    for id in ids {
        c.call(
            id,
            CpgInput::Join {
                group: "pacemakerd".into(),
                pid: id,
            },
        );
    }
    c.run(ms(500));
    c.sim.partition(&[&[1, 2], &[3]]);
    c.run(ms(8000));
    assert_eq!(c.cpg[&1].group_members("pacemakerd").len(), 2);
    assert_eq!(
        c.cpg[&3].group_members("pacemakerd"),
        vec![Member { node: 3, pid: 3 }]
    );
    let saw = |c: &Cluster, id: NodeId, m: Member, r: Reason, joined: bool| {
        c.outs[&id].iter().any(|o| match o {
            CpgOutput::ConfChg {
                left, joined: j, ..
            } => {
                if joined {
                    j.contains(&(m, r))
                } else {
                    left.contains(&(m, r))
                }
            }
            _ => false,
        })
    };
    assert!(saw(
        &c,
        1,
        Member { node: 3, pid: 3 },
        Reason::NodeDown,
        false
    ));
    assert!(saw(
        &c,
        3,
        Member { node: 1, pid: 1 },
        Reason::NodeDown,
        false
    ));
    c.sim.heal();
    c.run(ms(15000));
    let all: Vec<Member> = ids.iter().map(|i| Member { node: *i, pid: *i }).collect();
    for id in ids {
        assert_eq!(c.cpg[&id].group_members("pacemakerd"), all, "node {id}");
    }
    assert!(saw(&c, 1, Member { node: 3, pid: 3 }, Reason::NodeUp, true));
    assert!(saw(&c, 3, Member { node: 2, pid: 2 }, Reason::NodeUp, true));
    check_membership_agreement(&c.sim.records()).unwrap();
}
