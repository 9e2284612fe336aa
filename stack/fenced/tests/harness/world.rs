use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hasim_cpg::Member;
use hasim_fenced::checkers::{Observation, PowerCause};
use hasim_fenced::rules::{self, FailCounts, NodeView};
use hasim_fenced::watchdog::{Watchdog, WatchdogAction, WatchdogConfig, WatchdogInput};
use hasim_fenced::{
    AgentResult, ControllerNotice, FenceAction, FenceRecord, FenceRequest, Fencer, FencerAction,
    FencerEvent, FencerInput, FencingConfig,
};
use hasim_powerdev::{
    AgentAction, AgentCall, AgentInput, AgentOutcome, AgentOutput, AgentProfile, DeviceAction,
    DeviceConfig, DeviceFault, DeviceInput, FenceAgent, PowerDevice,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Static description of a run.
#[derive(Debug, Clone)]
pub struct Setup {
    pub nodes: Vec<String>,
    pub cfg: FencingConfig,
    pub devices: Vec<DeviceConfig>,
    /// Device id -> node where the stonith resource runs (verified there).
    pub device_running_on: BTreeMap<String, String>,
    /// Resource -> (node, priority).
    pub resources: BTreeMap<String, (String, i64)>,
    /// Time from a fault to the new membership (token + consensus).
    pub detect: Duration,
    pub cpg_latency: Duration,
    pub mgmt_latency: Duration,
    /// Random extra (0..jitter) per management datagram, from the seed.
    pub mgmt_jitter: Duration,
    /// votequorum two_node: one node of two stays quorate.
    pub two_node: bool,
    /// votequorum wait_for_all (implied by two_node in corosync).
    pub wait_for_all: bool,
    /// Diskless SBD on every node with this configuration.
    pub watchdog: Option<WatchdogConfig>,
    pub boot_delay: Duration,
}

/// A scripted fault.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The machine's supply dies (PSU or mains): off, BMC flaw applies.
    PowerLoss(String),
    /// Cluster network split into these groups.
    Partition(Vec<Vec<String>>),
    /// These nodes can no longer reach the management network.
    MgmtCut(Vec<String>),
    Device(String, DeviceFault),
}

#[derive(Debug, Clone)]
enum Ev {
    Fault(Fault),
    FencerTimer(String, u64),
    Membership(String, Vec<String>),
    Deliver {
        to: String,
        from: String,
        payload: Vec<u8>,
    },
    AgentTimer(String, u64, u64),
    ToDevice {
        device: String,
        from: String,
        bytes: Vec<u8>,
    },
    ToAgent {
        node: String,
        call: u64,
        bytes: Vec<u8>,
    },
    DeviceTimer(String, u64),
    WatchdogTimer(String, u64),
    Boot(String),
    /// The controller on `by` asks to fence `target` (as on-fail=fence does).
    ControllerFence {
        by: String,
        target: String,
    },
}

/// Per-node state.
struct Node {
    fencer: Fencer,
    on: bool,
    /// Incarnation: events for an older one are dropped.
    epoch: u32,
    view: BTreeSet<String>,
    fails: FailCounts,
    /// Targets with a fence request in flight.
    fencing: BTreeSet<String>,
    /// Lost nodes waiting for fencing before their resources move.
    lost: BTreeSet<String>,
    /// The controller exited after being told it was fenced.
    stopped: bool,
    /// Has seen every node in one membership (wait_for_all satisfied).
    seen_all: bool,
    watchdog: Option<Watchdog>,
}

pub struct World {
    pub setup: Setup,
    now: Duration,
    queue: BTreeMap<(Duration, u64), (u32, Ev)>,
    seq: u64,
    rng: ChaCha8Rng,
    nodes: BTreeMap<String, Node>,
    devices: BTreeMap<String, PowerDevice>,
    agents: BTreeMap<(String, u64), FenceAgent>,
    components: Vec<BTreeSet<String>>,
    mgmt_cut: BTreeSet<String>,
    /// Machines whose own supply died: they cannot be powered on.
    supply_dead: BTreeSet<String>,
    /// Requests in flight: (requester, target) -> requested at.
    requested_at: BTreeMap<(String, String), Duration>,
    /// Device power changes pending attribution: machine -> (requester, requested).
    pub placement: BTreeMap<String, String>,
    /// What each node actually runs (a lost node keeps its resources until
    /// it loses power or stops them).
    running_rsc: BTreeMap<String, BTreeSet<String>>,
    /// Device address -> last agent ("node#call") that sent it a datagram.
    last_sender: BTreeMap<String, String>,
    pub observations: Vec<Observation>,
    pub events: Vec<(Duration, String, FencerEvent)>,
    pub results: Vec<(String, FenceRecord)>,
    pub gave_up: Vec<(Duration, String)>,
    pub log: Vec<String>,
}

impl World {
    pub fn new(setup: Setup, seed: u64) -> World {
        let names: BTreeMap<u32, String> = setup
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32 + 1, n.clone()))
            .collect();
        let mut w = World {
            now: Duration::ZERO,
            queue: BTreeMap::new(),
            seq: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            nodes: BTreeMap::new(),
            devices: setup
                .devices
                .iter()
                .map(|d| (d.address.clone(), PowerDevice::new(d.clone())))
                .collect(),
            agents: BTreeMap::new(),
            components: vec![setup.nodes.iter().cloned().collect()],
            mgmt_cut: BTreeSet::new(),
            supply_dead: BTreeSet::new(),
            requested_at: BTreeMap::new(),
            last_sender: BTreeMap::new(),
            running_rsc: BTreeMap::new(),
            placement: setup
                .resources
                .iter()
                .map(|(r, (n, _))| (r.clone(), n.clone()))
                .collect(),
            observations: Vec::new(),
            events: Vec::new(),
            results: Vec::new(),
            gave_up: Vec::new(),
            log: Vec::new(),
            setup,
        };
        for name in w.setup.nodes.clone() {
            w.boot_node(&name, names.clone());
        }
        // Every node booted: the first membership includes them all.
        for name in w.setup.nodes.clone() {
            let view = w.component_of(&name).into_iter().collect();
            w.on_membership(&name, view);
        }
        for (rsc, node) in w.placement.clone() {
            w.running_rsc
                .entry(node.clone())
                .or_default()
                .insert(rsc.clone());
            w.observations.push(Observation::ResourceStarted {
                resource: rsc,
                node,
                at_ms: 0,
            });
        }
        w
    }

    fn boot_node(&mut self, name: &str, names: BTreeMap<u32, String>) {
        let mut fencer = Fencer::new(name, names, self.setup.cfg.clone());
        for (dev, on) in &self.setup.device_running_on {
            if on == name {
                fencer.handle(
                    self.now,
                    FencerInput::DeviceRunning {
                        device: dev.clone(),
                        running: true,
                    },
                );
            }
        }
        let epoch = self.nodes.get(name).map(|n| n.epoch + 1).unwrap_or(0);
        let view: BTreeSet<String> = self.component_of(name);
        let mut node = Node {
            fencer,
            on: true,
            epoch,
            view: view.clone(),
            fails: FailCounts::default(),
            fencing: BTreeSet::new(),
            lost: BTreeSet::new(),
            stopped: false,
            seen_all: false,
            watchdog: None,
        };
        let members = self.members(&view);
        node.fencer
            .handle(self.now, FencerInput::Membership { members });
        let mut wd_actions = Vec::new();
        if let Some(cfg) = self.setup.watchdog {
            let (mut wd, acts) = Watchdog::start(self.now, cfg);
            wd_actions = acts;
            let quorate = self.quorate_for(name, &view);
            wd_actions.extend(wd.handle(self.now, WatchdogInput::Quorum { quorate }));
            node.watchdog = Some(wd);
        }
        self.nodes.insert(name.to_string(), node);
        self.apply_watchdog(name, wd_actions);
    }

    fn members(&self, view: &BTreeSet<String>) -> Vec<Member> {
        self.setup
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| view.contains(*n))
            .map(|(i, _)| Member {
                node: i as u32 + 1,
                pid: 1,
            })
            .collect()
    }

    fn component_of(&self, name: &str) -> BTreeSet<String> {
        let comp = self
            .components
            .iter()
            .find(|c| c.contains(name))
            .cloned()
            .unwrap_or_default();
        comp.into_iter()
            .filter(|n| n == name || self.nodes.get(n).is_some_and(|x| x.on))
            .collect()
    }

    /// votequorum: a majority, or with two_node one node of two; with
    /// wait_for_all not before the node has seen every node at once.
    fn quorate_for(&self, node: &str, view: &BTreeSet<String>) -> bool {
        let total = self.setup.nodes.len();
        let seen_all = view.len() == total || self.nodes.get(node).is_some_and(|n| n.seen_all);
        if self.setup.wait_for_all && !seen_all {
            return false;
        }
        (self.setup.two_node && total == 2 && !view.is_empty()) || view.len() * 2 > total
    }

    fn push(&mut self, at: Duration, epoch: u32, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), (epoch, ev));
    }

    fn epoch(&self, node: &str) -> u32 {
        self.nodes.get(node).map(|n| n.epoch).unwrap_or(0)
    }

    pub fn schedule(&mut self, at: Duration, fault: Fault) {
        self.push(at, u32::MAX, Ev::Fault(fault));
    }

    /// Make `by`'s controller request fencing of `target` at `at`, whether
    /// or not `target` left the membership.
    pub fn schedule_fence(&mut self, at: Duration, by: &str, target: &str) {
        let ev = Ev::ControllerFence {
            by: by.to_string(),
            target: target.to_string(),
        };
        self.push(at, u32::MAX, ev);
    }

    pub fn run_until(&mut self, end: Duration) {
        while let Some((&(at, seq), _)) = self.queue.first_key_value() {
            if at > end {
                break;
            }
            let Some((epoch, ev)) = self.queue.remove(&(at, seq)) else {
                break;
            };
            self.now = at;
            self.dispatch(epoch, ev);
        }
        self.now = end;
    }

    fn alive(&self, node: &str, epoch: u32) -> bool {
        self.nodes
            .get(node)
            .is_some_and(|n| n.on && (epoch == u32::MAX || n.epoch == epoch))
    }

    fn dispatch(&mut self, epoch: u32, ev: Ev) {
        match ev {
            Ev::Fault(f) => self.apply_fault(f),
            Ev::FencerTimer(n, id) if self.alive(&n, epoch) => {
                self.fencer(&n, FencerInput::Timer { id })
            }
            Ev::Membership(n, view) if self.alive(&n, epoch) => self.on_membership(&n, view),
            Ev::Deliver { to, from, payload } if self.alive(&to, epoch) => {
                let id = self
                    .setup
                    .nodes
                    .iter()
                    .position(|x| *x == from)
                    .unwrap_or(0) as u32
                    + 1;
                self.fencer(
                    &to,
                    FencerInput::Deliver {
                        from: Member { node: id, pid: 1 },
                        payload,
                    },
                )
            }
            Ev::AgentTimer(n, call, id) if self.alive(&n, epoch) => {
                self.agent(&n, call, AgentInput::Timer { id })
            }
            Ev::ToAgent { node, call, bytes } if self.alive(&node, epoch) => {
                self.agent(&node, call, AgentInput::Datagram(bytes))
            }
            Ev::ToDevice {
                device,
                from,
                bytes,
            } => self.device(&device, DeviceInput::Datagram { from, bytes }),
            Ev::DeviceTimer(d, id) => self.device(&d, DeviceInput::Timer { id }),
            Ev::WatchdogTimer(n, id) if self.alive(&n, epoch) => {
                let acts = match self.nodes.get_mut(&n).and_then(|x| x.watchdog.as_mut()) {
                    Some(wd) => wd.handle(self.now, WatchdogInput::Timer { id }),
                    None => Vec::new(),
                };
                self.apply_watchdog(&n, acts);
            }
            Ev::Boot(n) => self.boot(&n),
            Ev::ControllerFence { by, target } if self.alive(&by, epoch) => {
                self.request_fence(&by, &target)
            }
            _ => {}
        }
    }
}

mod effects;
