//! A deterministic in-memory cluster for the Pacemaker cores.
//!
//! It plays the node driver's part for N nodes: it runs each node's four
//! cores, delivers local messages at once and in order, keeps one timer
//! table per core, stores each node's disk, and provides CPG with agreed
//! order (one global FIFO with a fixed latency; a message reaches the
//! nodes whose current view of the group contains the sender). Membership
//! changes (power loss, power-on, partitions) reach the cores after a
//! detection delay, as Totem's token loss and consensus would; quorum is a
//! simple majority of the configured nodes. Everything is a function of
//! the configuration and the seed: the same inputs give the same events.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use hasim_agents::{BehaviourRule, BehaviourTable};
use hasim_attrd::Attrd;
use hasim_based::Based;
use hasim_controld::{Config, Controld};
use hasim_execd::Execd;
use hasim_pcmk_proto::{
    Action, CibOp, ConfChange, Daemon, Event, HostAction, Input, LocalMsg, Member, Reason,
    TimedEvent, TimerId,
};

/// Timing of the simulated layers below Pacemaker.
#[derive(Debug, Clone)]
pub struct Timing {
    /// CPG delivery latency.
    pub latency: Duration,
    /// From a node's loss or a partition to the new membership (token
    /// timeout + consensus).
    pub detection: Duration,
    /// From power-on to the node's daemons joining CPG.
    pub boot: Duration,
    /// How long the stand-in power fencing device takes to cut a node's
    /// power and confirm; a "reboot" powers it on again after `reboot`.
    pub fence: Duration,
    pub reboot: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        // corosync 3.1 defaults for 3 nodes: token 3000 + 650 ms, consensus
        // 1.2 × token: about 8 s from a loss to the new membership.
        Timing {
            latency: Duration::from_millis(1),
            detection: Duration::from_millis(8030),
            boot: Duration::from_secs(2),
            fence: Duration::from_secs(2),
            reboot: Duration::from_secs(60),
        }
    }
}

struct Node {
    name: String,
    id: u32,
    up: bool,
    based: Based,
    attrd: Attrd,
    execd: Execd,
    controld: Controld,
    disk: BTreeMap<String, Vec<u8>>,
    /// Per group: the members this node's daemons were last told.
    views: BTreeMap<Daemon, BTreeSet<u32>>,
    quorate: Option<bool>,
}

#[derive(Debug, Clone)]
enum Ev {
    Deliver {
        group: Daemon,
        from: usize,
        data: Vec<u8>,
    },
    Timer {
        node: usize,
        daemon: Daemon,
        id: TimerId,
        generation: u64,
    },
    Reconfigure,
    PowerOff(usize),
    PowerOn(usize),
    Partition(Vec<usize>),
    Client(usize, CibOp),
    /// The stand-in fencer: cut `target`'s power, answer `by`.
    Fence {
        by: usize,
        target: String,
        reboot: bool,
    },
}

const GROUPS: [Daemon; 3] = [Daemon::Based, Daemon::Attrd, Daemon::Controld];

fn pid(d: Daemon) -> u32 {
    d as u32 + 100
}

/// The cluster.
pub struct Cluster {
    pub now: Duration,
    pub timing: Timing,
    nodes: Vec<Node>,
    queue: BTreeMap<(Duration, u64), Ev>,
    seq: u64,
    timers: BTreeMap<(usize, Daemon, TimerId), u64>,
    /// Partition label per node.
    labels: Vec<usize>,
    pub events: Vec<TimedEvent>,
    pub host: Vec<(Duration, String, HostAction)>,
    /// (node, group) whose multicasts are dropped (a lost message).
    muted: BTreeSet<(usize, Daemon)>,
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Cluster {
    /// `n` nodes named node1..nodeN (ids 1..N), each with `cib_xml` on its
    /// disk and the behaviour `rules`; `seed` draws election uptimes and
    /// operation durations.
    pub fn new(
        n: usize,
        cib_xml: &str,
        rules: Vec<BehaviourRule>,
        seed: u64,
    ) -> Result<Cluster, hasim_cib::XmlError> {
        let image = hasim_based::disk_image(cib_xml)?;
        let nodelist: BTreeMap<u32, String> =
            (1..=n as u32).map(|i| (i, format!("node{i}"))).collect();
        let nodes = (1..=n as u32)
            .map(|i| {
                let name = format!("node{i}");
                let draw = splitmix(seed ^ u64::from(i));
                let cfg = Config {
                    node: name.clone(),
                    node_id: i,
                    nodelist: nodelist.clone(),
                    uptime_jitter_ms: draw % 1000,
                };
                Node {
                    name: name.clone(),
                    id: i,
                    up: false,
                    based: Based::new(&name),
                    attrd: Attrd::new(&name, draw % 1000),
                    execd: Execd::new(&name, draw, BehaviourTable::new(rules.clone())),
                    controld: Controld::new(cfg),
                    disk: image.iter().cloned().collect(),
                    views: BTreeMap::new(),
                    quorate: None,
                }
            })
            .collect();
        Ok(Cluster {
            now: Duration::ZERO,
            timing: Timing::default(),
            nodes,
            queue: BTreeMap::new(),
            seq: 0,
            timers: BTreeMap::new(),
            labels: vec![0; n],
            events: Vec::new(),
            host: Vec::new(),
            muted: BTreeSet::new(),
        })
    }

    fn push(&mut self, at: Duration, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn index(&self, node: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == node)
            .unwrap_or(usize::MAX)
    }

    /// Power every node on at time zero.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.push(Duration::ZERO, Ev::PowerOn(i));
        }
    }

    pub fn power_off_at(&mut self, at: Duration, node: &str) {
        let i = self.index(node);
        self.push(at, Ev::PowerOff(i));
    }

    pub fn power_on_at(&mut self, at: Duration, node: &str) {
        let i = self.index(node);
        self.push(at, Ev::PowerOn(i));
    }

    /// Split the cluster: `groups` lists the nodes of each side.
    pub fn partition_at(&mut self, at: Duration, groups: &[&[&str]]) {
        let mut labels = vec![0; self.nodes.len()];
        for (g, names) in groups.iter().enumerate() {
            for n in *names {
                if let Some(l) = labels.get_mut(self.index(n)) {
                    *l = g;
                }
            }
        }
        self.push(at, Ev::Partition(labels));
    }

    pub fn heal_at(&mut self, at: Duration) {
        self.push(at, Ev::Partition(vec![0; self.nodes.len()]));
    }

    /// An operator request to a node's CIB manager (cibadmin).
    pub fn client_at(&mut self, at: Duration, node: &str, op: CibOp) {
        let i = self.index(node);
        self.push(at, Ev::Client(i, op));
    }

    /// Drop (or stop dropping) a node's multicasts to one group: its
    /// messages are lost while it stays in the membership.
    pub fn mute(&mut self, node: &str, group: Daemon, muted: bool) {
        let key = (self.index(node), group);
        if muted {
            self.muted.insert(key);
        } else {
            self.muted.remove(&key);
        }
    }

    /// Add a behaviour rule on every node (from now on).
    pub fn add_rule(&mut self, rule: BehaviourRule) {
        for n in &mut self.nodes {
            n.execd.table_mut().rules.push(rule.clone());
        }
    }

    /// Run until `end` (inclusive).
    pub fn run_until(&mut self, end: Duration) {
        while let Some(entry) = self.queue.first_entry() {
            let (at, _) = *entry.key();
            if at > end {
                break;
            }
            let ev = entry.remove();
            self.now = at;
            self.event(ev);
        }
        self.now = end;
    }

    fn report(&mut self, event: Event) {
        self.events.push(TimedEvent {
            at: self.now,
            event,
        });
    }

    fn event(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { group, from, data } => self.deliver(group, from, data),
            Ev::Timer {
                node,
                daemon,
                id,
                generation,
            } => {
                if self.timers.get(&(node, daemon, id.clone())) == Some(&generation) {
                    self.timers.remove(&(node, daemon, id.clone()));
                    self.input(node, daemon, Input::Timer(id));
                }
            }
            Ev::Reconfigure => self.reconfigure(),
            Ev::PowerOff(i) => self.power_off(i),
            Ev::PowerOn(i) => self.power_on(i),
            Ev::Partition(labels) => {
                self.labels = labels;
                let at = self.now + self.timing.detection;
                self.push(at, Ev::Reconfigure);
            }
            Ev::Fence { by, target, reboot } => self.fence(by, &target, reboot),
            Ev::Client(i, op) => {
                if self.nodes.get(i).is_some_and(|n| n.up) {
                    self.input(i, Daemon::Based, Input::Client(op));
                }
            }
        }
    }

    fn power_off(&mut self, i: usize) {
        let Some(n) = self.nodes.get_mut(i) else {
            return;
        };
        if !n.up {
            return;
        }
        n.up = false;
        n.views.clear();
        n.quorate = None;
        let name = n.name.clone();
        self.timers.retain(|(node, _, _), _| *node != i);
        self.report(Event::NodePower {
            node: name,
            up: false,
        });
        let at = self.now + self.timing.detection;
        self.push(at, Ev::Reconfigure);
    }

    fn power_on(&mut self, i: usize) {
        let Some(n) = self.nodes.get_mut(i) else {
            return;
        };
        if n.up {
            return;
        }
        n.up = true;
        let name = n.name.clone();
        self.report(Event::NodePower {
            node: name,
            up: true,
        });
        for d in [
            Daemon::Based,
            Daemon::Attrd,
            Daemon::Execd,
            Daemon::Controld,
        ] {
            self.input(i, d, Input::Start);
        }
        let at = self.now + self.timing.boot;
        self.push(at, Ev::Reconfigure);
    }

    /// A power fencing device standing in for the fencer (another crate):
    /// it always succeeds.
    fn fence(&mut self, by: usize, target: &str, reboot: bool) {
        let t = self.index(target);
        self.power_off(t);
        if reboot {
            let at = self.now + self.timing.reboot;
            self.push(at, Ev::PowerOn(t));
        }
        let msg = LocalMsg::FenceResult {
            target: target.to_string(),
            ok: true,
        };
        self.input(
            by,
            Daemon::Controld,
            Input::Local {
                from: Daemon::Fenced,
                msg,
            },
        );
    }

    /// New views: the up nodes of each partition.
    fn reconfigure(&mut self) {
        let total = self.nodes.len();
        for i in 0..total {
            if !self.nodes[i].up {
                continue;
            }
            let view: BTreeSet<u32> = (0..total)
                .filter(|&j| self.nodes[j].up && self.labels[j] == self.labels[i])
                .map(|j| self.nodes[j].id)
                .collect();
            for g in GROUPS {
                let old = self.nodes[i].views.get(&g).cloned().unwrap_or_default();
                if old == view {
                    continue;
                }
                self.nodes[i].views.insert(g, view.clone());
                let m = |id: u32| Member {
                    node: id,
                    pid: pid(g),
                };
                let cc = ConfChange {
                    members: view.iter().map(|&id| m(id)).collect(),
                    left: old
                        .difference(&view)
                        .map(|&id| (m(id), Reason::NodeDown))
                        .collect(),
                    joined: view
                        .difference(&old)
                        .map(|&id| (m(id), Reason::Join))
                        .collect(),
                };
                self.input(i, g, Input::ConfChange(cc));
            }
            let quorate = view.len() * 2 > total;
            if self.nodes[i].quorate != Some(quorate) {
                self.nodes[i].quorate = Some(quorate);
                let members = view.iter().copied().collect();
                self.input(i, Daemon::Controld, Input::Quorum { quorate, members });
            }
        }
    }

    fn deliver(&mut self, group: Daemon, from: usize, data: Vec<u8>) {
        let Some(sender) = self.nodes.get(from).map(|n| n.id) else {
            return;
        };
        for j in 0..self.nodes.len() {
            let sees = self.nodes[j].up
                && self.nodes[j]
                    .views
                    .get(&group)
                    .is_some_and(|v| v.contains(&sender));
            if sees {
                let from = Member {
                    node: sender,
                    pid: pid(group),
                };
                self.input(
                    j,
                    group,
                    Input::Deliver {
                        from,
                        data: data.clone(),
                    },
                );
            }
        }
    }

    /// Feed one input and carry out the resulting actions; local messages
    /// are handled at once, in order.
    fn input(&mut self, node: usize, daemon: Daemon, input: Input) {
        let mut work = VecDeque::from([(daemon, input)]);
        while let Some((d, inp)) = work.pop_front() {
            if !self.nodes[node].up {
                return;
            }
            let now = self.now;
            let n = &mut self.nodes[node];
            let actions = match d {
                Daemon::Based => n.based.handle(now, inp),
                Daemon::Attrd => n.attrd.handle(now, inp),
                Daemon::Execd => n.execd.handle(now, inp),
                Daemon::Controld => n.controld.handle(now, inp),
                Daemon::Fenced => Vec::new(),
            };
            for a in actions {
                self.action(node, d, a, &mut work);
            }
        }
    }

    fn action(&mut self, node: usize, d: Daemon, a: Action, work: &mut VecDeque<(Daemon, Input)>) {
        match a {
            Action::Multicast(_) if self.muted.contains(&(node, d)) => {}
            Action::Multicast(data) => {
                let at = self.now + self.timing.latency;
                self.push(
                    at,
                    Ev::Deliver {
                        group: d,
                        from: node,
                        data,
                    },
                );
            }
            Action::Send {
                to: Daemon::Fenced,
                msg: LocalMsg::FenceRequest { target, action, .. },
            } => {
                let at = self.now + self.timing.fence;
                self.push(
                    at,
                    Ev::Fence {
                        by: node,
                        target,
                        reboot: action == "reboot",
                    },
                );
            }
            Action::Send { to, msg } => work.push_back((to, Input::Local { from: d, msg })),
            Action::SetTimer { id, after } => {
                self.seq += 1;
                let generation = self.seq;
                self.timers.insert((node, d, id.clone()), generation);
                let at = self.now + after;
                self.push(
                    at,
                    Ev::Timer {
                        node,
                        daemon: d,
                        id,
                        generation,
                    },
                );
            }
            Action::CancelTimer(id) => {
                self.timers.remove(&(node, d, id));
            }
            Action::Store { key, data } => {
                self.nodes[node].disk.insert(key, data);
            }
            Action::Load { key } => {
                let data = self.nodes[node].disk.get(&key).cloned();
                work.push_back((d, Input::Loaded { key, data }));
            }
            Action::Report(e) => self.report(e),
            Action::Host(h) => {
                let name = self.nodes[node].name.clone();
                self.host.push((self.now, name, h));
            }
        }
    }

    /// The DC each up node follows.
    pub fn dcs(&self) -> Vec<(String, Option<String>)> {
        self.nodes
            .iter()
            .filter(|n| n.up)
            .map(|n| (n.name.clone(), n.controld.dc().map(str::to_string)))
            .collect()
    }

    /// Up nodes on which `rsc` (executor id) is active.
    pub fn active_on(&self, rsc: &str) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.up && n.execd.active(rsc))
            .map(|n| n.name.clone())
            .collect()
    }

    /// The controller state of a node.
    pub fn controller_state(&self, node: &str) -> Option<hasim_controld::State> {
        self.nodes
            .iter()
            .find(|n| n.name == node && n.up)
            .map(|n| n.controld.state())
    }

    /// A node's CIB as XML.
    pub fn cib_xml(&self, node: &str) -> Option<String> {
        self.nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.based.cib().to_xml_string())
    }

    /// Transitions reported so far: (time, dc, id, trigger, actions).
    pub fn transitions(&self) -> Vec<(Duration, String, u64, String, Vec<String>)> {
        self.events
            .iter()
            .filter_map(|e| match &e.event {
                Event::Transition {
                    dc,
                    id,
                    trigger,
                    actions,
                    ..
                } => Some((e.at, dc.clone(), *id, trigger.clone(), actions.clone())),
                _ => None,
            })
            .collect()
    }
}
