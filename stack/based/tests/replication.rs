//! Three CIB managers on an in-memory CPG (agreed order = one global queue).

use std::collections::VecDeque;
use std::time::Duration;

use hasim_based::{disk_image, Based};
use hasim_pcmk_proto::{cibops, Action, CibOp, ConfChange, Daemon, Input, LocalMsg, Member};

struct Net {
    nodes: Vec<Based>,
    disks: Vec<Vec<(String, Vec<u8>)>>,
    up: Vec<bool>,
    queue: VecDeque<(usize, Vec<u8>)>,
    /// Local messages each node's based sent to attrd.
    to_attrd: Vec<(usize, String)>,
}

impl Net {
    fn new(n: usize) -> Net {
        Net {
            nodes: (0..n).map(|i| Based::new(&format!("n{}", i + 1))).collect(),
            disks: vec![Vec::new(); n],
            up: vec![false; n],
            queue: VecDeque::new(),
            to_attrd: Vec::new(),
        }
    }
    fn feed(&mut self, i: usize, input: Input) {
        let actions = self.nodes[i].handle(Duration::ZERO, input);
        for a in actions {
            match a {
                Action::Multicast(d) => self.queue.push_back((i, d)),
                Action::Load { key } => {
                    let data = self.disks[i]
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, d)| d.clone());
                    self.feed(i, Input::Loaded { key, data });
                }
                Action::Store { key, data } => {
                    self.disks[i].retain(|(k, _)| *k != key);
                    self.disks[i].push((key, data));
                }
                Action::Send {
                    to: Daemon::Attrd,
                    msg,
                } => self.to_attrd.push((i, format!("{msg:?}"))),
                _ => {}
            }
        }
    }
    fn members(&self) -> Vec<Member> {
        (0..self.nodes.len())
            .filter(|&i| self.up[i])
            .map(|i| Member {
                node: i as u32 + 1,
                pid: 1,
            })
            .collect()
    }
    fn confchg(&mut self) {
        let members = self.members();
        for i in 0..self.nodes.len() {
            if self.up[i] {
                let cc = ConfChange {
                    members: members.clone(),
                    left: vec![],
                    joined: vec![],
                };
                self.feed(i, Input::ConfChange(cc));
            }
        }
    }
    fn run(&mut self) {
        while let Some((from, data)) = self.queue.pop_front() {
            for i in 0..self.nodes.len() {
                if self.up[i] {
                    let from = Member {
                        node: from as u32 + 1,
                        pid: 1,
                    };
                    self.feed(
                        i,
                        Input::Deliver {
                            from,
                            data: data.clone(),
                        },
                    );
                }
            }
        }
    }
    fn versions(&self) -> Vec<String> {
        (0..self.nodes.len())
            .filter(|&i| self.up[i])
            .map(|i| format!("{}", self.nodes[i].version()))
            .collect()
    }
}

const CONFIG: &str = r#"<cib admin_epoch="0" epoch="3" num_updates="0"><configuration><crm_config/><nodes/><resources><primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/></resources><constraints/></configuration><status/></cib>"#;

#[test]
fn primary_replicates_patches_and_rejoiner_is_synced() {
    let mut net = Net::new(3);
    net.disks[0] = disk_image(CONFIG).unwrap();
    for i in 0..3 {
        net.up[i] = true;
        net.feed(i, Input::Start);
    }
    net.confchg();
    assert_eq!(net.versions(), ["0.3.0", "0.0.0", "0.0.0"]);
    // Node 1 becomes primary (DC) and syncs its copy to all.
    net.feed(
        0,
        Input::Local {
            from: Daemon::Controld,
            msg: LocalMsg::CibPrimary(true),
        },
    );
    net.feed(
        0,
        Input::Local {
            from: Daemon::Controld,
            msg: LocalMsg::CibSync { from: None },
        },
    );
    net.run();
    assert_eq!(net.versions(), ["0.3.0"; 3]);
    // An operator update on node 3 goes through the primary to all.
    net.feed(
        2,
        Input::Client(cibops::set_property("maintenance-mode", "true")),
    );
    net.run();
    assert_eq!(net.versions(), ["0.4.0"; 3]);
    let d: Vec<_> = net
        .nodes
        .iter()
        .map(|n| hasim_based::tree::digest(n.cib()))
        .collect();
    assert!(d.iter().all(|x| *x == d[0]));
    // Node 3 loses power, misses an update, restarts from disk.
    net.up[2] = false;
    net.confchg();
    net.feed(
        1,
        Input::Client(CibOp::Delete {
            tag: "primitive".into(),
            id: "d".into(),
        }),
    );
    net.run();
    assert_eq!(net.versions(), ["0.5.0"; 2]);
    net.up[2] = true;
    net.feed(2, Input::Start);
    assert_eq!(
        net.nodes[2].version().to_string(),
        "0.4.0",
        "disk copy survives"
    );
    net.confchg();
    net.run();
    // Its next patch does not apply (0.4.0 vs 0.5.x): it asks for a sync.
    net.feed(
        0,
        Input::Client(cibops::set_property("maintenance-mode", "false")),
    );
    net.run();
    assert_eq!(net.versions(), ["0.6.0"; 3]);
}

#[test]
fn corrupt_disk_copy_is_ignored_with_an_error() {
    let mut net = Net::new(1);
    net.disks[0] = disk_image(CONFIG).unwrap();
    net.disks[0][0].1 = b"0000".to_vec();
    let mut b = Based::new("n1");
    let _ = b.handle(Duration::ZERO, Input::Start);
    let _ = b.handle(
        Duration::ZERO,
        Input::Loaded {
            key: "cib.xml.sig".into(),
            data: Some(b"0000".to_vec()),
        },
    );
    let acts = b.handle(
        Duration::ZERO,
        Input::Loaded {
            key: "cib.xml".into(),
            data: Some(CONFIG.as_bytes().to_vec()),
        },
    );
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Report(hasim_pcmk_proto::Event::CibError { .. }))));
    assert_eq!(b.version().to_string(), "0.0.0");
}

/// Three nodes up, node 1 primary, every copy synced from it.
fn synced_three() -> Net {
    let mut net = Net::new(3);
    net.disks[0] = disk_image(CONFIG).unwrap();
    for i in 0..3 {
        net.up[i] = true;
        net.feed(i, Input::Start);
    }
    net.confchg();
    for msg in [LocalMsg::CibPrimary(true), LocalMsg::CibSync { from: None }] {
        let from = Daemon::Controld;
        net.feed(0, Input::Local { from, msg });
    }
    net.run();
    net
}

#[test]
fn a_request_ordered_after_the_primary_stepped_down_is_applied_locally_not_lost() {
    let mut net = synced_three();
    assert_eq!(net.versions(), ["0.3.0"; 3]);
    // The DC's CIB stops being primary (an election) just before node 3
    // sends an update: the primary ignores it, so node 3 applies it to its
    // own copy rather than waiting for an answer that never comes.
    let msg = LocalMsg::CibPrimary(false);
    net.feed(
        0,
        Input::Local {
            from: Daemon::Controld,
            msg,
        },
    );
    net.feed(
        2,
        Input::Client(cibops::set_property("maintenance-mode", "true")),
    );
    net.run();
    assert_eq!(net.versions(), ["0.3.0", "0.3.0", "0.4.0"]);
}

#[test]
fn a_copy_replaced_by_the_dcs_sync_tells_attrd() {
    let mut net = synced_three();
    let replaced = |net: &Net| {
        net.to_attrd
            .iter()
            .filter(|(_, m)| m == "CibReplaced")
            .map(|(i, _)| *i)
            .collect::<Vec<_>>()
    };
    // The first sync replaced the empty copies of nodes 2 and 3.
    assert_eq!(replaced(&net), vec![1, 2]);
    // A sync that changes nothing tells nobody.
    let msg = LocalMsg::CibSync { from: None };
    net.feed(
        0,
        Input::Local {
            from: Daemon::Controld,
            msg,
        },
    );
    net.run();
    assert_eq!(replaced(&net), vec![1, 2]);
}
