//! Test-only deterministic harness: a tiny discrete-event loop driving real
//! `TotemNode` cores over a simulated network with a seeded RNG.
//!
//! It is scaffolding, not a model: every protocol decision is the core's. The
//! harness only moves bytes (with latency, loss, partitions, dead links),
//! fires timers when asked, stops/starts/pauses nodes, and records what each
//! node delivered so the checkers below can judge the run.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Duration;

use hasim_totem::invariants;
use hasim_totem::srp::{ConfChg, ConfKind, Dest};
use hasim_totem::{
    EffectiveTimers, Guarantee, MembState, NodeAction, NodeId, NodeInput, NodeSetup, Quirks,
    RingId, TotemNode,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// More undelivered events than this means a message storm (a healthy
/// 5-node ring under load keeps a few hundred in flight).
const MAX_PENDING: usize = 200_000;

pub fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[derive(Debug)]
enum Ev {
    Packet {
        to: NodeId,
        link: u8,
        bytes: Vec<u8>,
    },
    Wake {
        node: NodeId,
    },
}

/// (regular ring left, transitional ring id, transitional members)
pub type SegmentKey = (Option<RingId>, RingId, Vec<NodeId>);

/// One incarnation (boot) of a node, as the checkers see it.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub node: NodeId,
    pub boot: u64,
    /// (payload, origin ring, receiver's regular ring at delivery)
    pub deliveries: Vec<(Vec<u8>, RingId, Option<RingId>)>,
    pub confchgs: Vec<(Duration, ConfChg)>,
    pub current_regular: Option<RingId>,
    /// Messages delivered in each (old regular ring, transitional ring id).
    pub segments: Vec<(SegmentKey, Vec<Vec<u8>>)>,
    pub open_segment: Vec<Vec<u8>>,
    pub logs: Vec<String>,
    /// When each delivery happened (same index as `deliveries`).
    pub delivery_times: Vec<Duration>,
    /// Totem's upcalls in the order they happened (for layers on top).
    pub events: Vec<TotemEvent>,
}

#[derive(Debug, Clone)]
pub enum TotemEvent {
    ConfChg(ConfChg),
    Deliver(hasim_totem::Delivery),
}

pub struct SimNode {
    pub id: NodeId,
    pub core: Option<TotemNode>,
    pub paused: bool,
    pub boot: u64,
    pub stored_ring_seq: u64,
    pub record: Record,
    pub buffered: Vec<(u8, Vec<u8>)>,
    pub sent_counter: u64,
}

pub struct Sim {
    pub now: Duration,
    pub rng: ChaCha8Rng,
    queue: BinaryHeap<Reverse<(Duration, u64, NodeId)>>,
    events: BTreeMap<u64, Ev>,
    next_ev: u64,
    pub nodes: BTreeMap<NodeId, SimNode>,
    pub setup: Box<dyn Fn(NodeId, u64) -> NodeSetup>,
    /// Loss probability per directed (from, to) pair; default `loss`.
    pub loss: f64,
    pub pair_loss: BTreeMap<(NodeId, NodeId), f64>,
    /// Partition group per node; packets cross only within a group.
    pub group: BTreeMap<NodeId, u8>,
    pub dead_links: BTreeSet<u8>,
    pub latency: (Duration, Duration),
    pub finished: Vec<Record>,
    pub packets_sent: u64,
    pub trace: bool,
    wake_at: BTreeMap<NodeId, Duration>,
    /// Stop the run once this many events were processed (a message storm
    /// would otherwise exhaust memory); `storm` records that it happened.
    pub max_events: u64,
    pub events_processed: u64,
    pub storm: bool,
    /// Copies of delivered packets (to, link, bytes), when `capture` is set.
    pub capture: bool,
    pub captured: Vec<(NodeId, u8, Vec<u8>)>,
    /// corosync behaviours the cores reproduce (default: all).
    pub quirks: Quirks,
}

pub fn default_setup(
    nodes: Vec<NodeId>,
    timers: EffectiveTimers,
    links: u8,
    secauth: bool,
) -> impl Fn(NodeId, u64) -> NodeSetup {
    move |id, boot| NodeSetup {
        node_id: id,
        nodelist: nodes.clone(),
        timers,
        links,
        secauth: secauth.then(|| (b"cluster authkey".to_vec(), boot)),
    }
}

impl Sim {
    pub fn new(
        seed: u64,
        ids: &[NodeId],
        setup: impl Fn(NodeId, u64) -> NodeSetup + 'static,
    ) -> Sim {
        let mut nodes = BTreeMap::new();
        for id in ids {
            nodes.insert(
                *id,
                SimNode {
                    id: *id,
                    core: None,
                    paused: false,
                    boot: 0,
                    stored_ring_seq: 0,
                    record: Record::default(),
                    buffered: Vec::new(),
                    sent_counter: 0,
                },
            );
        }
        Sim {
            now: Duration::ZERO,
            rng: ChaCha8Rng::seed_from_u64(seed),
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            next_ev: 0,
            nodes,
            setup: Box::new(setup),
            loss: 0.0,
            pair_loss: BTreeMap::new(),
            group: BTreeMap::new(),
            dead_links: BTreeSet::new(),
            latency: (Duration::from_micros(80), Duration::from_micros(120)),
            finished: Vec::new(),
            packets_sent: 0,
            trace: false,
            wake_at: BTreeMap::new(),
            max_events: 50_000_000,
            events_processed: 0,
            storm: false,
            capture: false,
            captured: Vec::new(),
            quirks: Quirks::default(),
        }
    }

    fn push(&mut self, at: Duration, node: NodeId, ev: Ev) {
        if self.queue.len() >= MAX_PENDING {
            self.storm = true;
            return;
        }
        let k = self.next_ev;
        self.next_ev += 1;
        self.events.insert(k, ev);
        self.queue.push(Reverse((at, k, node)));
    }

    pub fn start(&mut self, id: NodeId) {
        let now = self.now;
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        if n.core.is_some() {
            return;
        }
        n.boot += 1;
        let mut core = TotemNode::with_quirks((self.setup)(id, n.boot), self.quirks);
        n.record = Record {
            node: id,
            boot: n.boot,
            ..Default::default()
        };
        n.paused = false;
        n.buffered.clear();
        let acts = core.handle(
            now,
            NodeInput::Start {
                stored_ring_seq: n.stored_ring_seq,
            },
        );
        n.core = Some(core);
        self.apply(id, acts);
    }

    pub fn start_all(&mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.start(id);
        }
    }

    pub fn stop(&mut self, id: NodeId) {
        if let Some(n) = self.nodes.get_mut(&id) {
            if n.core.take().is_some() {
                self.finished.push(std::mem::take(&mut n.record));
            }
        }
    }

    /// Graceful shutdown: the node multicasts its leave message, then stops.
    pub fn leave(&mut self, id: NodeId) {
        let now = self.now;
        let acts = match self.nodes.get_mut(&id).and_then(|n| n.core.as_mut()) {
            Some(core) => core.handle(now, NodeInput::Leave),
            None => return,
        };
        self.apply(id, acts);
        self.stop(id);
    }

    pub fn pause(&mut self, id: NodeId) {
        if let Some(n) = self.nodes.get_mut(&id) {
            n.paused = true;
        }
    }

    pub fn resume(&mut self, id: NodeId) {
        let now = self.now;
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        if !n.paused {
            return;
        }
        n.paused = false;
        let buffered = std::mem::take(&mut n.buffered);
        let mut all = Vec::new();
        if let Some(core) = n.core.as_mut() {
            // A paused process sees its overdue timers and its socket backlog
            // at once when it runs again.
            all.extend(core.handle(now, NodeInput::Timeout));
            for (link, bytes) in buffered {
                all.extend(core.handle(now, NodeInput::Packet { link, bytes }));
            }
        }
        self.apply(id, all);
    }

    pub fn running(&self) -> Vec<NodeId> {
        self.nodes
            .values()
            .filter(|n| n.core.is_some())
            .map(|n| n.id)
            .collect()
    }

    pub fn partition(&mut self, groups: &[&[NodeId]]) {
        self.group.clear();
        for (g, ids) in groups.iter().enumerate() {
            for id in *ids {
                self.group.insert(*id, g as u8);
            }
        }
    }

    pub fn heal(&mut self) {
        self.group.clear();
    }

    pub fn mcast(&mut self, id: NodeId, guarantee: Guarantee) {
        let now = self.now;
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some(core) = n.core.as_mut() else { return };
        if n.paused {
            return;
        }
        n.sent_counter += 1;
        let payload = format!("{}:{}:{}", id, n.boot, n.sent_counter).into_bytes();
        let acts = core.handle(now, NodeInput::Mcast { guarantee, payload });
        self.apply(id, acts);
    }

    /// Multicast an application-chosen payload (for layers such as cpg).
    pub fn mcast_payload(&mut self, id: NodeId, payload: Vec<u8>) {
        let now = self.now;
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        if n.paused {
            return;
        }
        let Some(core) = n.core.as_mut() else { return };
        let acts = core.handle(
            now,
            NodeInput::Mcast {
                guarantee: Guarantee::Agreed,
                payload,
            },
        );
        self.apply(id, acts);
    }

    /// Hand `bytes` to node `to` now, as if they came off the wire.
    pub fn inject(&mut self, to: NodeId, link: u8, bytes: Vec<u8>) {
        let now = self.now;
        let Some(core) = self.nodes.get_mut(&to).and_then(|n| n.core.as_mut()) else {
            return;
        };
        let acts = core.handle(now, NodeInput::Packet { link, bytes });
        self.apply(to, acts);
    }

    fn can_reach(&self, from: NodeId, to: NodeId) -> bool {
        self.group.get(&from).copied().unwrap_or(0) == self.group.get(&to).copied().unwrap_or(0)
    }

    fn apply(&mut self, id: NodeId, acts: Vec<NodeAction>) {
        let now = self.now;
        for a in acts {
            match a {
                NodeAction::Send { to, link, bytes } => {
                    let targets: Vec<NodeId> = match to {
                        Dest::Ring => self.nodes.keys().copied().collect(),
                        Dest::Node(n) => vec![n],
                    };
                    for t in targets {
                        self.packets_sent += 1;
                        if t != id {
                            if self.dead_links.contains(&link) || !self.can_reach(id, t) {
                                continue;
                            }
                            let p = self.pair_loss.get(&(id, t)).copied().unwrap_or(self.loss);
                            if p > 0.0 && self.rng.gen_bool(p.min(1.0)) {
                                continue;
                            }
                        }
                        let lat = if t == id {
                            Duration::from_micros(5)
                        } else {
                            let lo = self.latency.0.as_nanos() as u64;
                            let hi = self.latency.1.as_nanos() as u64;
                            Duration::from_nanos(self.rng.gen_range(lo..=hi))
                        };
                        self.push(
                            now + lat,
                            t,
                            Ev::Packet {
                                to: t,
                                link,
                                bytes: bytes.clone(),
                            },
                        );
                    }
                }
                NodeAction::Deliver(d) => {
                    let n = self.nodes.get_mut(&id).expect("node");
                    n.record.events.push(TotemEvent::Deliver(d.clone()));
                    let cur = n.record.current_regular;
                    n.record
                        .deliveries
                        .push((d.payload.clone(), d.ring_id, cur));
                    n.record.delivery_times.push(now);
                    n.record.open_segment.push(d.payload);
                }
                NodeAction::ConfChg(c) => {
                    let n = self.nodes.get_mut(&id).expect("node");
                    n.record.events.push(TotemEvent::ConfChg(c.clone()));
                    match c.kind {
                        ConfKind::Transitional => {
                            let seg = std::mem::take(&mut n.record.open_segment);
                            n.record.segments.push((
                                (n.record.current_regular, c.ring_id, c.members.clone()),
                                seg,
                            ));
                        }
                        ConfKind::Regular => {
                            // Messages delivered in the transitional
                            // configuration belong to the closing segment.
                            let seg = std::mem::take(&mut n.record.open_segment);
                            if let Some(last) = n.record.segments.last_mut() {
                                last.1.extend(seg);
                            }
                            n.record.current_regular = Some(c.ring_id);
                        }
                    }
                    n.record.confchgs.push((now, c));
                }
                NodeAction::StoreRingSeq(s) => {
                    if let Some(n) = self.nodes.get_mut(&id) {
                        n.stored_ring_seq = s;
                    }
                }
                NodeAction::Log { text, .. } => {
                    if self.trace {
                        eprintln!("{:>10.3} n{id}: {text}", now.as_secs_f64() * 1000.0);
                    }
                    if let Some(n) = self.nodes.get_mut(&id) {
                        n.record.logs.push(text);
                    }
                }
                _ => {}
            }
        }
        if let Some(at) = self
            .nodes
            .get(&id)
            .and_then(|n| n.core.as_ref())
            .and_then(|c| c.poll_timeout())
        {
            // One pending wake per node is enough: keep the earliest.
            let at = at.max(now);
            let pending = self.wake_at.get(&id).copied();
            if pending.is_none_or(|w| w > at) {
                self.wake_at.insert(id, at);
                self.push(at, id, Ev::Wake { node: id });
            }
        }
    }

    /// Run the event loop until `until`.
    pub fn run_until(&mut self, until: Duration) {
        while let Some(Reverse((at, k, _))) = self.queue.peek().copied() {
            if at > until {
                break;
            }
            if self.storm || self.events_processed >= self.max_events {
                self.storm = true;
                self.queue.clear();
                self.events.clear();
                break;
            }
            self.events_processed += 1;
            self.queue.pop();
            self.now = at;
            let Some(ev) = self.events.remove(&k) else {
                continue;
            };
            match ev {
                Ev::Packet { to, link, bytes } => {
                    let now = self.now;
                    let Some(n) = self.nodes.get_mut(&to) else {
                        continue;
                    };
                    let Some(core) = n.core.as_mut() else {
                        continue;
                    };
                    if n.paused {
                        n.buffered.push((link, bytes));
                        continue;
                    }
                    if self.capture {
                        self.captured.push((to, link, bytes.clone()));
                    }
                    let acts = core.handle(now, NodeInput::Packet { link, bytes });
                    self.apply(to, acts);
                }
                Ev::Wake { node } => {
                    let now = self.now;
                    if self.wake_at.get(&node) == Some(&now) {
                        self.wake_at.remove(&node);
                    }
                    let Some(n) = self.nodes.get_mut(&node) else {
                        continue;
                    };
                    if n.paused {
                        continue;
                    }
                    let Some(core) = n.core.as_mut() else {
                        continue;
                    };
                    let acts = if core.poll_timeout().is_some_and(|t| t <= now) {
                        core.handle(now, NodeInput::Timeout)
                    } else {
                        Vec::new()
                    };
                    // Re-arm (the deadline may have moved later).
                    self.apply(node, acts);
                }
            }
        }
        self.now = until;
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Run with every running node multicasting one message every `every`.
    pub fn run_with_load(&mut self, d: Duration, every: Duration) {
        let end = self.now + d;
        while self.now + every <= end {
            let t = self.now + every;
            self.run_until(t);
            for id in self.running() {
                self.mcast(id, Guarantee::Agreed);
            }
        }
        self.run_until(end);
    }

    pub fn core(&self, id: NodeId) -> Option<&TotemNode> {
        self.nodes.get(&id).and_then(|n| n.core.as_ref())
    }

    /// Every running node operational, in one ring whose members are exactly
    /// the running nodes.
    pub fn one_ring_of_running(&self) -> bool {
        let running = self.running();
        let mut rid = None;
        for id in &running {
            let n = &self.nodes[id];
            if n.paused {
                return false;
            }
            let Some(core) = n.core.as_ref() else {
                return false;
            };
            let srp = core.srp();
            if srp.state() != MembState::Operational || srp.members() != running.as_slice() {
                return false;
            }
            let last_regular = n
                .record
                .confchgs
                .iter()
                .rev()
                .find(|(_, c)| c.kind == ConfKind::Regular)
                .map(|(_, c)| c.ring_id);
            if last_regular != Some(srp.ring_id()) {
                return false;
            }
            match rid {
                None => rid = Some(srp.ring_id()),
                Some(r) if r != srp.ring_id() => return false,
                _ => {}
            }
        }
        true
    }

    /// Run until `one_ring_of_running` holds or `limit` passes; returns the
    /// time it became true.
    pub fn run_until_ring(&mut self, limit: Duration, step: Duration) -> Option<Duration> {
        let end = self.now + limit;
        while self.now < end {
            if self.one_ring_of_running() {
                return Some(self.now);
            }
            let t = (self.now + step).min(end);
            self.run_until(t);
        }
        self.one_ring_of_running().then_some(self.now)
    }

    /// All incarnations, finished and live.
    pub fn records(&self) -> Vec<Record> {
        let mut v = self.finished.clone();
        v.extend(
            self.nodes
                .values()
                .filter(|n| n.core.is_some())
                .map(|n| n.record.clone()),
        );
        v
    }
}

// ---------------------------------------------------------------- checkers

/// The window the shared invariants keep per-message state for: longer than
/// any run here, so every delivery is compared.
const WINDOW: Duration = Duration::from_secs(1_000_000);

/// A process incarnation: (node, boot).
type Proc = (NodeId, u64);

/// Any two processes deliver their common messages in the same order, and no
/// process delivers a message twice (`hasim_totem::invariants`).
pub fn check_agreed_order(recs: &[Record]) -> Result<(), String> {
    let mut check = invariants::AgreedOrder::new(WINDOW);
    for r in recs {
        for (i, d) in r.deliveries.iter().enumerate() {
            let t = r.delivery_times.get(i).copied().unwrap_or_default();
            if let Some(v) = check.deliver(t, &(r.node, r.boot), &d.0).first() {
                return Err(match v {
                    invariants::OrderViolation::Duplicate { proc, .. } => {
                        format!("node {} boot {} delivered a message twice", proc.0, proc.1)
                    }
                    invariants::OrderViolation::Order { first, second, msg } => format!(
                        "order differs between node {} and node {} at {:?}",
                        first.0,
                        second.0,
                        String::from_utf8_lossy(msg)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Every delivery happens while the receiver's regular configuration is the
/// ring the message was sent in (messages of the transitional configuration
/// count as the old regular one, as in EVS), so everyone who delivers a
/// message delivers it in the same configuration.
pub fn check_virtual_synchrony(recs: &[Record]) -> Result<(), String> {
    let mut check = invariants::VirtualSynchrony::<Proc, Vec<u8>, RingId>::new(WINDOW);
    for r in recs {
        for (p, origin, cur) in &r.deliveries {
            if let Some(v) = check
                .deliver(Duration::ZERO, &(r.node, r.boot), p, origin, cur.as_ref())
                .first()
            {
                return Err(format!(
                    "node {} delivered {:?} from ring {origin}: {v:?}",
                    r.node,
                    String::from_utf8_lossy(p),
                ));
            }
        }
    }
    Ok(())
}

/// Same ring id ⇒ same member list, for every regular configuration seen.
pub fn check_membership_agreement(recs: &[Record]) -> Result<(), String> {
    let mut check = invariants::MembershipAgreement::default();
    for r in recs {
        for (_, c) in &r.confchgs {
            if c.kind != ConfKind::Regular {
                continue;
            }
            if let Some(v) = check
                .install(&r.node, Some(&r.node), &c.ring_id, &c.members)
                .first()
            {
                return Err(format!("ring {}: {v:?}", c.ring_id));
            }
        }
    }
    Ok(())
}

/// Processes that leave the same regular configuration together (same
/// transitional configuration) delivered exactly the same messages in it.
pub fn check_no_loss_in_configuration(recs: &[Record]) -> Result<(), String> {
    let mut check = invariants::NoLossInConfiguration::<Proc, SegmentKey>::default();
    for r in recs {
        let proc = (r.node, r.boot);
        for (k, msgs) in &r.segments {
            if k.0.is_none() {
                continue;
            }
            check.open(&proc);
            for m in msgs {
                check.deliver(&proc, m);
            }
            if let Some(v) = check.close(&proc, k.clone()) {
                return Err(format!(
                    "nodes {} and {} left ring {:?} into {} with different messages ({} vs {})",
                    v.first.0, v.second.0, k.0, k.1, v.first_count, v.second_count
                ));
            }
        }
    }
    Ok(())
}

pub fn check_all(recs: &[Record]) -> Result<(), String> {
    check_agreed_order(recs)?;
    check_virtual_synchrony(recs)?;
    check_membership_agreement(recs)?;
    check_no_loss_in_configuration(recs)?;
    Ok(())
}

/// Time from `since` until `node` delivered a regular configuration without
/// `gone`.
pub fn detection_time(rec: &Record, since: Duration, gone: NodeId) -> Option<Duration> {
    rec.confchgs
        .iter()
        .find(|(t, c)| *t >= since && c.kind == ConfKind::Regular && !c.members.contains(&gone))
        .map(|(t, _)| *t - since)
}
