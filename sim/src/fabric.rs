//! The simulated network: L2 segments, links with latency, jitter, loss,
//! duplication and bounded reordering, partitions, ARP caches and virtual IP
//! ownership.
//!
//! madsim gives us virtual time, seeded scheduling and node
//! kill/restart/pause, but its network has no segments, multicast or ARP, so
//! the fabric routes datagrams itself. Each receiver of a multicast or
//! broadcast draws its own loss and delay, as real lossy multicast behaves.
//! The fabric moves bytes and knows no protocol. What happens (deliveries,
//! drops, VIP and power changes) goes to the event bus ([`crate::bus`]),
//! which owns the trace, the checkers and the report's summaries.
//!
//! All state sits behind one mutex in [`World`]; madsim runs every task on
//! one thread, so the lock only guards against re-entrance, never contention.

use crate::bus::Bus;
use crate::scenario::{FaultAction, LinkParams, Scenario};
use crate::trace::{DropReason, Event};
use hasim_node::{Datagram, NodeEvent};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Stream tag for the fabric's own random draws (loss, delay, ...).
const FABRIC_STREAM: u64 = 0x6661_6272_6963_2121;

/// One host on the fabric: a cluster node or a client.
pub struct HostState {
    pub name: String,
    /// The name again, shared by the datagram events (the most frequent
    /// ones), so tracing a delivery allocates no string.
    label: Arc<str>,
    pub is_node: bool,
    /// (segment index, address) for each interface.
    pub interfaces: Vec<(usize, Ipv4Addr)>,
    pub powered: bool,
    /// Booted: daemons running (false between power-on and the end of boot).
    pub booted: bool,
    pub paused: bool,
    /// Bumped at every power-off so datagrams in flight to the old
    /// incarnation, and its bound ports, are forgotten.
    pub incarnation: u64,
    ports: BTreeMap<u16, UnboundedSender<Datagram>>,
    /// VIP -> (owner host, expiry).
    arp: BTreeMap<Ipv4Addr, (usize, Duration)>,
    /// What the node keeps on disk across power cycles (corosync's ringid).
    pub disk: BTreeMap<String, Vec<u8>>,
    /// The host's `net.ipv4.tcp_*` sysctls (Linux's defaults unless the
    /// scenario's `[[tcp]]` tables say otherwise).
    pub tcp: hasim_tcp::TcpSysctls,
}

impl HostState {
    pub fn running(&self) -> bool {
        self.powered && self.booted && !self.paused
    }
}

struct SegmentState {
    name: String,
    link: LinkParams,
    arp_ttl: Duration,
}

/// A datagram the fabric decided to deliver later.
pub struct Delivery {
    pub at: Duration,
    pub to: usize,
    pub incarnation: u64,
    pub datagram: Datagram,
    pub duplicate: bool,
    from: usize,
}

/// Everything the simulated world knows.
pub struct WorldState {
    rng: ChaCha8Rng,
    pub hosts: Vec<HostState>,
    segments: Vec<SegmentState>,
    /// Directed pairs (from, to) cut by a partition.
    blocked: BTreeSet<(usize, usize)>,
    /// Per-direction link overrides.
    link_override: BTreeMap<(usize, usize), LinkParams>,
    /// Per-direction arrival time of the last in-order datagram (FIFO links).
    link_clock: BTreeMap<(usize, usize), Duration>,
    /// VIP -> holders (host indices).
    vips: BTreeMap<Ipv4Addr, BTreeSet<usize>>,
    /// Where every event goes (`None` once the run is finished).
    bus: Option<Bus>,
    pub counts: hasim_reports::FabricCounts,
    now: Duration,
    /// The run's seed, from which each host's TCP secret is derived.
    pub seed: u64,
}

/// The parts of a finished run that the report needs.
pub struct Finished {
    pub bus: Bus,
    pub counts: hasim_reports::FabricCounts,
}

/// Shared handle to the world.
#[derive(Clone)]
pub struct World {
    inner: Arc<Mutex<WorldState>>,
}

fn mix(p: &LinkParams, o: Option<&LinkParams>) -> LinkParams {
    o.copied().unwrap_or(*p)
}

impl World {
    pub fn new(scenario: &Scenario, seed: u64, bus: Bus) -> World {
        let segments: Vec<SegmentState> = scenario
            .segments
            .iter()
            .map(|s| SegmentState {
                name: s.name.get_ref().clone(),
                link: s.link,
                arp_ttl: s.arp_ttl,
            })
            .collect();
        let seg_index = |name: &str| segments.iter().position(|s| s.name == name);
        let mut hosts = Vec::new();
        for node in &scenario.nodes {
            let interfaces = node
                .addresses
                .iter()
                .filter_map(|(seg, ip)| Some((seg_index(seg)?, *ip)))
                .collect();
            hosts.push(HostState::new(node.name.get_ref(), true, interfaces));
        }
        for client in &scenario.clients {
            let interfaces = seg_index(client.segment.get_ref())
                .map(|s| vec![(s, client.address)])
                .unwrap_or_default();
            hosts.push(HostState::new(client.name.get_ref(), false, interfaces));
        }
        for device in &scenario.power_devices {
            let interfaces = seg_index(&device.segment)
                .map(|s| vec![(s, device.address)])
                .unwrap_or_default();
            hosts.push(HostState::new(device.name.get_ref(), false, interfaces));
        }
        for t in scenario.tcp.iter().map(|t| t.get_ref()) {
            for host in hosts.iter_mut().filter(|h| t.applies_to(&h.name)) {
                host.tcp = t.sysctls();
            }
        }
        World {
            inner: Arc::new(Mutex::new(WorldState {
                rng: ChaCha8Rng::seed_from_u64(seed ^ FABRIC_STREAM),
                hosts,
                segments,
                blocked: BTreeSet::new(),
                link_override: BTreeMap::new(),
                link_clock: BTreeMap::new(),
                vips: BTreeMap::new(),
                bus: Some(bus),
                counts: Default::default(),
                now: Duration::ZERO,
                seed,
            })),
        }
    }

    /// How many handles to this world exist (tasks, hosts, the runner).
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// Lock the world, first moving its notion of "now" to `now`.
    pub fn at(&self, now: Duration) -> MutexGuard<'_, WorldState> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.now = now;
        guard
    }

    /// Take what the report is built from out of the world. Tasks of the
    /// finished runtime may still hold handles to it; they will never run.
    pub fn finish(&self) -> Option<Finished> {
        let mut state = self.at(Duration::ZERO);
        Some(Finished {
            bus: state.bus.take()?,
            counts: std::mem::take(&mut state.counts),
        })
    }
}

impl HostState {
    fn new(name: &str, is_node: bool, interfaces: Vec<(usize, Ipv4Addr)>) -> Self {
        HostState {
            name: name.to_string(),
            label: Arc::from(name),
            is_node,
            interfaces,
            powered: true,
            booted: true,
            paused: false,
            incarnation: 0,
            ports: BTreeMap::new(),
            arp: BTreeMap::new(),
            disk: BTreeMap::new(),
            tcp: hasim_tcp::TcpSysctls::default(),
        }
    }
}

impl WorldState {
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Hand an event to the bus, at the world's current time.
    pub fn record(&mut self, event: Event) {
        if let Some(bus) = &mut self.bus {
            bus.emit(self.now, event);
        }
    }

    /// Drop every bound port. A port's channel holds the waker of the task
    /// reading it, whose future holds the world: closing the ports at the end
    /// of a run wakes (and so frees) those tasks.
    pub fn close_ports(&mut self) {
        for host in &mut self.hosts {
            host.ports.clear();
        }
    }

    /// Every address `host` holds now: its interfaces and its VIPs.
    pub fn addresses_of(&self, host: usize) -> Vec<Ipv4Addr> {
        let own = self.hosts[host].interfaces.iter().map(|(_, a)| *a);
        let vips = self
            .vips
            .iter()
            .filter(|(_, h)| h.contains(&host))
            .map(|(v, _)| *v);
        own.chain(vips).collect()
    }

    /// Whether `host` holds `vip` now.
    pub fn holds_vip(&self, host: usize, vip: Ipv4Addr) -> bool {
        self.vips.get(&vip).is_some_and(|h| h.contains(&host))
    }

    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }

    fn segment_of(&self, host: usize, src: Ipv4Addr) -> Option<usize> {
        let h = &self.hosts[host];
        if let Some((seg, _)) = h.interfaces.iter().find(|(_, ip)| *ip == src) {
            return Some(*seg);
        }
        // Sending from a VIP: the VIP lives on the segment it was added to;
        // the holder's interfaces tell which.
        if self
            .vips
            .get(&src)
            .is_some_and(|holders| holders.contains(&host))
        {
            return self.vip_segment(src, host);
        }
        None
    }

    fn vip_segment(&self, vip: Ipv4Addr, host: usize) -> Option<usize> {
        // A VIP is added on an interface; we remember it as the segment whose
        // subnet (/24) contains the VIP, falling back to the first interface.
        let h = &self.hosts[host];
        h.interfaces
            .iter()
            .find(|(_, ip)| ip.octets()[..3] == vip.octets()[..3])
            .or(h.interfaces.first())
            .map(|(seg, _)| *seg)
    }

    fn on_segment(&self, host: usize, seg: usize) -> bool {
        self.hosts[host].interfaces.iter().any(|(s, _)| *s == seg)
    }

    fn link(&self, seg: usize, from: usize, to: usize) -> LinkParams {
        mix(
            &self.segments[seg].link,
            self.link_override.get(&(from, to)),
        )
    }

    fn reachable(&self, from: usize, to: usize) -> bool {
        !self.blocked.contains(&(from, to))
    }

    /// Draw a one-way delay for a datagram on a link, with bounded reordering.
    /// Draw a one-way delay. Jitter varies the delay, but a link stays FIFO,
    /// as a switched LAN is: only a datagram drawn for reordering (`reorder`)
    /// may be overtaken. Returns (delay, held back for reordering).
    fn draw_delay(&mut self, link: &LinkParams) -> (Duration, bool) {
        let jitter = link.jitter.as_nanos() as u64;
        let mut delay = link.latency
            + Duration::from_nanos(if jitter > 0 {
                self.rng.gen_range(0..jitter)
            } else {
                0
            });
        let mut held = false;
        if link.reorder > 0.0 && self.rng.gen_bool(link.reorder) {
            let window = link.reorder_window.as_nanos() as u64;
            if window > 0 {
                delay += Duration::from_nanos(self.rng.gen_range(0..window));
                held = true;
            }
        }
        (delay, held)
    }

    /// The arrival time of a datagram on link (from, to): never before the
    /// previous in-order datagram on that link.
    fn arrival(&mut self, from: usize, to: usize, link: &LinkParams) -> Duration {
        let (delay, held) = self.draw_delay(link);
        let at = self.now + delay;
        if held {
            return at;
        }
        let last = self.link_clock.entry((from, to)).or_default();
        let at = at.max(*last);
        *last = at;
        at
    }

    fn drop(
        &mut self,
        from: usize,
        to: Option<usize>,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        reason: DropReason,
    ) {
        *self
            .counts
            .dropped
            .entry(reason.as_str().to_string())
            .or_default() += 1;
        let event = Event::Drop {
            from: self.hosts[from].label.clone(),
            to: to.map(|t| self.hosts[t].label.clone()),
            src,
            dst,
            reason,
        };
        self.record(event);
    }

    /// Resolve a VIP for `from` through its ARP cache, asking the segment if
    /// the entry is missing or stale. Holders that are reachable and running
    /// answer; the last answer to arrive wins, as in a real ARP cache.
    fn resolve(&mut self, from: usize, seg: usize, vip: Ipv4Addr) -> Option<usize> {
        let now = self.now;
        if let Some(&(owner, expires)) = self.hosts[from].arp.get(&vip) {
            if now < expires {
                return Some(owner);
            }
        }
        let candidates: Vec<usize> = self
            .vips
            .get(&vip)
            .map(|h| h.iter().copied().collect::<Vec<usize>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|&h| {
                self.hosts[h].running()
                    && self.on_segment(h, seg)
                    && self.reachable(from, h)
                    && self.reachable(h, from)
            })
            .collect();
        let mut best: Option<(Duration, usize)> = None;
        for h in candidates {
            let link = self.link(seg, h, from);
            if link.loss > 0.0 && self.rng.gen_bool(link.loss) {
                continue;
            }
            let (d, _) = self.draw_delay(&link);
            if best.is_none_or(|(bd, _)| d >= bd) {
                best = Some((d, h));
            }
        }
        let (_, owner) = best?;
        let ttl = self.segments[seg].arp_ttl;
        self.hosts[from].arp.insert(vip, (owner, now + ttl));
        let event = Event::ArpLearn {
            host: self.hosts[from].name.clone(),
            vip,
            owner: self.hosts[owner].name.clone(),
        };
        self.record(event);
        Some(owner)
    }

    /// Route one datagram. Returns the deliveries to schedule.
    pub fn send(
        &mut self,
        from: usize,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: Vec<u8>,
    ) -> Vec<Delivery> {
        self.counts.sent += 1;
        let Some(seg) = self.segment_of(from, *src.ip()) else {
            self.drop(from, None, src, dst, DropReason::NoRoute);
            return Vec::new();
        };
        let ip = *dst.ip();
        let receivers: Vec<usize> = if ip.is_multicast() || ip.is_broadcast() {
            (0..self.hosts.len())
                .filter(|&h| h != from && self.on_segment(h, seg))
                .collect()
        } else if let Some(h) = (0..self.hosts.len()).find(|&h| {
            self.hosts[h]
                .interfaces
                .iter()
                .any(|(s, a)| *s == seg && *a == ip)
        }) {
            vec![h]
        } else {
            // Not a host's own address: ask the segment who has it (ARP).
            match self.resolve(from, seg, ip) {
                Some(h) => vec![h],
                None => {
                    self.drop(from, None, src, dst, DropReason::ArpFailed);
                    return Vec::new();
                }
            }
        };
        let mut out = Vec::new();
        for to in receivers {
            if !self.reachable(from, to) {
                self.drop(from, Some(to), src, dst, DropReason::Partition);
                continue;
            }
            let link = self.link(seg, from, to);
            if link.loss > 0.0 && self.rng.gen_bool(link.loss) {
                self.drop(from, Some(to), src, dst, DropReason::Loss);
                continue;
            }
            let copies = if link.duplicate > 0.0 && self.rng.gen_bool(link.duplicate) {
                2
            } else {
                1
            };
            for copy in 0..copies {
                let at = self.arrival(from, to, &link);
                out.push(Delivery {
                    at,
                    to,
                    incarnation: self.hosts[to].incarnation,
                    datagram: Datagram {
                        src,
                        dst,
                        payload: Vec::new(),
                    },
                    duplicate: copy == 1,
                    from,
                });
            }
        }
        // Copies for all receivers but the last, which takes the original.
        if let Some((last, rest)) = out.split_last_mut() {
            for d in rest {
                d.datagram.payload.clone_from(&payload);
            }
            last.datagram.payload = payload;
        }
        out
    }

    /// Hand a datagram to its receiver, if it can still take it.
    pub fn deliver(&mut self, d: Delivery) {
        let to = d.to;
        let (src, dst) = (d.datagram.src, d.datagram.dst);
        let host = &self.hosts[to];
        if !host.powered || host.incarnation != d.incarnation {
            self.drop(d.from, Some(to), src, dst, DropReason::NodeDown);
            return;
        }
        let ip = *dst.ip();
        let local = ip.is_multicast()
            || ip.is_broadcast()
            || host.interfaces.iter().any(|(_, a)| *a == ip)
            || self.vips.get(&ip).is_some_and(|h| h.contains(&to));
        if !local {
            self.drop(d.from, Some(to), src, dst, DropReason::NotLocal);
            return;
        }
        let Some(port) = self.hosts[to].ports.get(&dst.port()) else {
            // Multicast to a host that did not join: silently not for it.
            if !(ip.is_multicast() || ip.is_broadcast()) {
                self.drop(d.from, Some(to), src, dst, DropReason::PortUnreachable);
            }
            return;
        };
        let len = d.datagram.payload.len();
        if port.send(d.datagram).is_err() {
            self.drop(d.from, Some(to), src, dst, DropReason::PortUnreachable);
            return;
        }
        self.counts.delivered += 1;
        if d.duplicate {
            self.counts.duplicated += 1;
        }
        let event = Event::Deliver {
            from: self.hosts[d.from].label.clone(),
            to: self.hosts[to].label.clone(),
            src,
            dst,
            len,
            duplicate: d.duplicate,
        };
        self.record(event);
    }

    pub fn bind(
        &mut self,
        host: usize,
        incarnation: u64,
        port: u16,
        tx: UnboundedSender<Datagram>,
    ) -> std::io::Result<()> {
        let h = &mut self.hosts[host];
        if h.incarnation != incarnation || !h.powered {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "host is powered off",
            ));
        }
        if h.ports.contains_key(&port) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("port {port} already bound"),
            ));
        }
        h.ports.insert(port, tx);
        Ok(())
    }

    pub fn add_vip(&mut self, host: usize, vip: Ipv4Addr) {
        if self.vips.entry(vip).or_default().insert(host) {
            let event = Event::VipUp {
                node: self.hosts[host].name.clone(),
                vip,
            };
            self.record(event);
        }
    }

    pub fn remove_vip(&mut self, host: usize, vip: Ipv4Addr) {
        if self.vips.get_mut(&vip).is_some_and(|h| h.remove(&host)) {
            let event = Event::VipDown {
                node: self.hosts[host].name.clone(),
                vip,
            };
            self.record(event);
        }
    }

    /// A gratuitous ARP: every host on the segment that hears it points its
    /// cache for `vip` at the sender. Each receiver draws its own loss.
    pub fn gratuitous_arp(&mut self, host: usize, vip: Ipv4Addr) {
        let event = Event::Garp {
            node: self.hosts[host].name.clone(),
            vip,
        };
        self.record(event);
        let Some(seg) = self.vip_segment(vip, host) else {
            return;
        };
        let now = self.now;
        let ttl = self.segments[seg].arp_ttl;
        for to in 0..self.hosts.len() {
            if to == host
                || !self.on_segment(to, seg)
                || !self.hosts[to].powered
                || !self.reachable(host, to)
            {
                continue;
            }
            let link = self.link(seg, host, to);
            if link.loss > 0.0 && self.rng.gen_bool(link.loss) {
                continue;
            }
            self.hosts[to].arp.insert(vip, (host, now + ttl));
            let event = Event::ArpLearn {
                host: self.hosts[to].name.clone(),
                vip,
                owner: self.hosts[host].name.clone(),
            };
            self.record(event);
        }
    }

    /// A protocol event from a node daemon (the bus annotates VRRP
    /// takeovers).
    pub fn node_event(&mut self, host: usize, event: NodeEvent) {
        let e = Event::Node {
            node: self.hosts[host].label.clone(),
            detail: event,
            spurious: None,
            since_last_advert_us: None,
        };
        self.record(e);
    }

    /// Power off: the node loses everything volatile, its VIPs included.
    pub fn power_off(&mut self, host: usize) {
        let h = &mut self.hosts[host];
        h.powered = false;
        h.booted = false;
        h.paused = false;
        h.incarnation += 1;
        h.ports.clear();
        h.arp.clear();
        let name = h.name.clone();
        self.record(Event::PowerOff { node: name });
        let held: Vec<Ipv4Addr> = self
            .vips
            .iter()
            .filter(|(_, h)| h.contains(&host))
            .map(|(v, _)| *v)
            .collect();
        for vip in held {
            self.remove_vip(host, vip);
        }
    }

    pub fn power_on(&mut self, host: usize) {
        self.hosts[host].powered = true;
        let name = self.hosts[host].name.clone();
        self.record(Event::PowerOn { node: name });
    }

    pub fn booted(&mut self, host: usize) {
        self.hosts[host].booted = true;
        let name = self.hosts[host].name.clone();
        self.record(Event::Boot { node: name });
    }

    pub fn set_paused(&mut self, host: usize, paused: bool) {
        self.hosts[host].paused = paused;
        let node = self.hosts[host].name.clone();
        self.record(if paused {
            Event::Pause { node }
        } else {
            Event::Resume { node }
        });
    }

    /// Apply a network fault (partitions and link changes). Node faults are
    /// carried out by the world, which owns the madsim node handles.
    pub fn apply_network_fault(&mut self, action: &FaultAction) {
        match action {
            FaultAction::Partition { groups, one_way } => {
                let groups: Vec<Vec<usize>> = groups
                    .iter()
                    .map(|g| g.iter().filter_map(|n| self.host_index(n)).collect())
                    .collect();
                for (i, a) in groups.iter().enumerate() {
                    for (j, b) in groups.iter().enumerate() {
                        if i == j || (*one_way && i != 0) {
                            continue;
                        }
                        for &x in a {
                            for &y in b {
                                self.blocked.insert((x, y));
                            }
                        }
                    }
                }
            }
            FaultAction::Heal => self.blocked.clear(),
            FaultAction::Link {
                segment,
                from,
                to,
                loss,
                latency,
                jitter,
                duplicate,
                reorder,
            } => {
                let change = |p: &mut LinkParams| {
                    if let Some(v) = loss {
                        p.loss = *v;
                    }
                    if let Some(v) = latency {
                        p.latency = *v;
                    }
                    if let Some(v) = jitter {
                        p.jitter = *v;
                    }
                    if let Some(v) = duplicate {
                        p.duplicate = *v;
                    }
                    if let Some(v) = reorder {
                        p.reorder = *v;
                    }
                };
                match (
                    from.as_deref().and_then(|f| self.host_index(f)),
                    to.as_deref().and_then(|t| self.host_index(t)),
                ) {
                    (Some(a), Some(b)) => {
                        let seg = self.hosts[a].interfaces.first().map_or(0, |(s, _)| *s);
                        let seg = segment
                            .as_deref()
                            .and_then(|s| self.segments.iter().position(|x| x.name == s))
                            .unwrap_or(seg);
                        let mut p = self.link(seg, a, b);
                        change(&mut p);
                        self.link_override.insert((a, b), p);
                    }
                    _ => {
                        for s in &mut self.segments {
                            if segment.as_deref().is_none_or(|name| name == s.name) {
                                change(&mut s.link);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
