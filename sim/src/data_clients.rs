//! Data behind the VIP in the simulated world: the setups of the database
//! and HAProxy daemons a node runs (Galera's: `crate::galera_spec`), and the data clients (`[[client]]`
//! with `workload = "kv"`), each running the `hasim-data` client core over
//! TCP from its own host.
//!
//! A client issues operations until `[data] stop_at`, keeps handling its
//! connections until `final_read_at`, then reads every key once more on a
//! fresh connection and hands its whole history to the checkers in one
//! `data-history` event. It notes, every [`WATCH`], which of its open
//! connections lost their server (the host that accepted them lost power or
//! the VIP): that is the `server_lost` time hung connections are measured
//! from.

use crate::context::Shared;
use crate::data_spec::DataSection;
use crate::host::SimHost;
use crate::scenario::{Client, Scenario};
use crate::trace::Event;
use hasim_data::client::{Client as KvClient, ClientAction, ClientConfig, ClientInput};
use hasim_data::history::History;
use hasim_data::wire::{LineBuffer, Request, Response};
use hasim_node::host::{StreamEvent, StreamId, StreamInbox, Streams};
use hasim_node::kvdb_daemon::KvdbSetup;
use hasim_tcp::SocketOptions;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::sleep_until;

/// How often a client looks whether its connections' servers are still there.
const WATCH: Duration = Duration::from_millis(100);
/// How long the final read may take per attempt.
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(5);

fn first_address(scenario: &Scenario, node: &str) -> Option<Ipv4Addr> {
    let n = scenario.nodes.iter().find(|n| n.name.get_ref() == node)?;
    n.addresses.values().next().copied()
}

/// The database server `node` runs, if any.
pub fn kvdb_setup(scenario: &Scenario, node: &str) -> Option<KvdbSetup> {
    let spec = scenario.kvdb.iter().find(|k| k.node.get_ref() == node)?;
    let peers = scenario
        .kvdb
        .iter()
        .filter_map(|k| {
            let name = k.node.get_ref().clone();
            Some((name.clone(), first_address(scenario, &name)?))
        })
        .collect();
    Some(KvdbSetup {
        name: node.to_string(),
        address: first_address(scenario, node)?,
        port: spec.port,
        role: match &spec.replicates_from {
            None => hasim_kvdb::Role::Primary,
            Some(p) => hasim_kvdb::Role::Replica { primary: p.clone() },
        },
        lag: spec.lag,
        peers,
        follow_vip: spec.follow_vip.as_ref().map(|f| (f.vip, f.peer.clone())),
    })
}

/// The HAProxy `node` runs, if any: its own address and one listen section.
pub fn haproxy_setup(
    scenario: &Scenario,
    node: &str,
) -> Option<(Ipv4Addr, Vec<hasim_haproxy::Listen>)> {
    let spec = scenario.haproxy.iter().find(|h| h.node.get_ref() == node)?;
    let servers: Vec<(&str, SocketAddrV4)> = spec
        .servers
        .iter()
        .map(|s| (s.name.as_str(), s.addr))
        .collect();
    let mut listen = hasim_haproxy::Listen::galera(spec.bind, &servers);
    listen.name = "db".into();
    listen.tcpka = spec.tcpka;
    for (server, s) in listen.servers.iter_mut().zip(&spec.servers) {
        server.backup = s.backup;
        server.inter = spec.inter;
        server.rise = spec.rise;
        server.fall = spec.fall;
    }
    Some((first_address(scenario, node)?, vec![listen]))
}

/// Start every kv client, each on its own madsim node; returns the nodes.
pub fn spawn(shared: &Shared, scenario: &Scenario) -> Vec<madsim::task::NodeId> {
    let Some(data) = scenario.data.as_ref().map(|d| d.get_ref().clone()) else {
        return Vec::new();
    };
    crate::half_open::spawn(shared, data.final_read_at);
    let handle = madsim::runtime::Handle::current();
    let mut nodes = Vec::new();
    let kv = scenario
        .clients
        .iter()
        .filter(|c| c.workload == crate::scenario::Workload::Kv);
    for (k, client) in kv.enumerate() {
        let name = client.name.get_ref().clone();
        let Some(index) = shared.world.at(shared.now()).host_index(&name) else {
            continue;
        };
        let cfg = client_config(client, &data, k as u64);
        let run = KvRun {
            host: SimHost::new(shared.clone(), index, &name, 0),
            shared: shared.clone(),
            address: client.address,
            target: client.target,
            data: data.clone(),
            opts: SocketOptions {
                keepalive: data.keepalive,
                ..SocketOptions::default()
            },
        };
        let node = handle.create_node().name(name).build();
        node.spawn(run.run(cfg));
        nodes.push(node.id());
    }
    nodes
}

fn client_config(client: &Client, data: &DataSection, k: u64) -> ClientConfig {
    ClientConfig {
        op_interval: client.interval,
        connect_timeout: client.timeout,
        read_every: data.read_every,
        pool_size: data.pool_size,
        op_timeout: data.op_timeout,
        pre_ping: data.pre_ping,
        ..ClientConfig::oslo_db(client.name.get_ref(), (k + 1) * 1_000_000_000)
    }
}

/// One open connection of the client's pool.
#[derive(Clone, Copy)]
struct Open {
    slot: usize,
    /// Its record in the history, once connected.
    conn: Option<usize>,
    /// The host that accepted it and that host's incarnation.
    server: Option<(usize, u64)>,
}

/// What one kv client needs to run.
struct KvRun {
    host: SimHost,
    shared: Shared,
    address: Ipv4Addr,
    target: SocketAddrV4,
    data: DataSection,
    opts: SocketOptions,
}

impl KvRun {
    async fn run(self, cfg: ClientConfig) {
        let keys = cfg.keys;
        let name = cfg.name.clone();
        let mut core = KvClient::new(cfg, self.shared.now() + Duration::from_millis(100));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut open: BTreeMap<StreamId, Open> = BTreeMap::new();
        let mut lost: BTreeMap<usize, Duration> = BTreeMap::new();
        let stop = self.shared.start + self.data.stop_at;
        let final_at = self.shared.start + self.data.final_read_at;
        let mut watch = self.shared.start + self.shared.now() + WATCH;
        loop {
            let now = self.shared.start + self.shared.now();
            let core_at = core
                .next_timeout()
                .map(|t| self.shared.start + t)
                .filter(|_| now < stop);
            let deadline = core_at.unwrap_or(final_at).min(watch).min(final_at);
            let event = tokio::select! {
                biased;
                e = rx.recv() => e,
                () = sleep_until(deadline) => None,
            };
            let now = self.shared.now();
            let mut actions = Vec::new();
            if let Some(e) = event {
                actions = self.on_event(&mut core, &mut open, now, e);
            } else if self.shared.start + now >= final_at {
                break;
            } else if core_at.is_some_and(|t| t <= self.shared.start + now) {
                actions = core.handle(now, ClientInput::Timeout);
            }
            if self.shared.start + now >= watch {
                self.watch(&open, &mut lost, now);
                watch += WATCH;
            }
            self.carry_out(&mut open, &tx, &mut core, actions);
        }
        let mut history = core.history().clone();
        for (conn, at) in lost {
            if let Some(c) = history.conns.get_mut(conn) {
                c.server_lost = Some(at);
            }
        }
        history.final_reads = self.final_read(keys).await;
        history.end = self.shared.now();
        let event = data_event(&name, keys, history);
        self.shared.world.at(self.shared.now()).record(event);
    }

    /// A stream event for the core; a newly connected slot's server noted.
    fn on_event(
        &self,
        core: &mut KvClient,
        open: &mut BTreeMap<StreamId, Open>,
        now: Duration,
        e: StreamEvent,
    ) -> Vec<ClientAction> {
        let input = match e {
            StreamEvent::Connected(s) => {
                let Some(o) = open.get_mut(&s) else {
                    return Vec::new();
                };
                o.server = self.server_of_target();
                let slot = o.slot;
                let before = core.history().conns.len();
                let out = core.handle(now, ClientInput::Connected(slot));
                if core.history().conns.len() > before {
                    o.conn = Some(before);
                }
                return out;
            }
            StreamEvent::Data(s, bytes) => match open.get(&s) {
                Some(o) => ClientInput::Data(o.slot, bytes),
                None => return Vec::new(),
            },
            StreamEvent::PeerClosed(s) => match open.remove(&s) {
                Some(o) => {
                    self.host.stream_abort(s);
                    ClientInput::Closed(o.slot, hasim_tcp::CloseReason::Normal)
                }
                None => return Vec::new(),
            },
            StreamEvent::Closed(s, why) => match open.remove(&s) {
                Some(o) => ClientInput::Closed(o.slot, why),
                None => return Vec::new(),
            },
            StreamEvent::Accepted { .. } => return Vec::new(),
        };
        core.handle(now, input)
    }

    /// Which host (and incarnation) answers for the target address now.
    fn server_of_target(&self) -> Option<(usize, u64)> {
        let world = self.shared.world.at(self.shared.now());
        let ip = *self.target.ip();
        (0..world.hosts.len())
            .find(|&h| {
                world.holds_vip(h, ip) || world.hosts[h].interfaces.iter().any(|(_, a)| *a == ip)
            })
            .map(|h| (h, world.hosts[h].incarnation))
    }

    /// Note the connections whose server lost power or the target address.
    fn watch(
        &self,
        open: &BTreeMap<StreamId, Open>,
        lost: &mut BTreeMap<usize, Duration>,
        now: Duration,
    ) {
        let world = self.shared.world.at(now);
        let ip = *self.target.ip();
        for o in open.values() {
            let (Some(conn), Some((h, inc))) = (o.conn, o.server) else {
                continue;
            };
            let host = &world.hosts[h];
            let gone = !host.powered
                || host.incarnation != inc
                || !(world.holds_vip(h, ip) || host.interfaces.iter().any(|(_, a)| *a == ip));
            if gone {
                lost.entry(conn).or_insert(now);
            }
        }
    }

    fn carry_out(
        &self,
        open: &mut BTreeMap<StreamId, Open>,
        tx: &tokio::sync::mpsc::UnboundedSender<StreamEvent>,
        core: &mut KvClient,
        actions: Vec<ClientAction>,
    ) {
        let mut queue: std::collections::VecDeque<ClientAction> = actions.into();
        while let Some(a) = queue.pop_front() {
            match a {
                ClientAction::Connect(slot) => {
                    match self.host.connect(
                        self.address,
                        self.target,
                        self.opts.clone(),
                        tx.clone(),
                    ) {
                        Ok(s) => {
                            open.insert(
                                s,
                                Open {
                                    slot,
                                    conn: None,
                                    server: None,
                                },
                            );
                        }
                        Err(_) => {
                            let why = hasim_tcp::CloseReason::Refused;
                            queue.extend(
                                core.handle(self.shared.now(), ClientInput::Closed(slot, why)),
                            );
                        }
                    }
                }
                ClientAction::Send(slot, bytes) => {
                    if let Some((&s, _)) = open.iter().find(|(_, o)| o.slot == slot) {
                        self.host.stream_send(s, bytes);
                    }
                }
                ClientAction::Close(slot) => {
                    if let Some((&s, _)) = open.iter().find(|(_, o)| o.slot == slot) {
                        open.remove(&s);
                        self.host.stream_abort(s);
                    }
                }
            }
        }
    }

    /// Read every key on a fresh connection, retrying until the run ends;
    /// empty when no attempt got every key.
    async fn final_read(&self, keys: u32) -> BTreeMap<String, BTreeSet<u64>> {
        let names: Vec<String> = (0..keys).map(|k| format!("k{k}")).collect();
        for _ in 0..4 {
            if let Some(r) = self.read_all(&names).await {
                return r;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        BTreeMap::new()
    }

    async fn read_all(&self, names: &[String]) -> Option<BTreeMap<String, BTreeSet<u64>>> {
        let (tx, mut rx): (_, StreamInbox) = tokio::sync::mpsc::unbounded_channel();
        let s = self
            .host
            .connect(self.address, self.target, SocketOptions::default(), tx)
            .ok()?;
        let deadline = tokio::time::Instant::now() + FINAL_READ_TIMEOUT;
        let mut buf = LineBuffer::default();
        let mut got = BTreeMap::new();
        while got.len() < names.len() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let e = tokio::time::timeout(left, rx.recv()).await.ok()??;
            match e {
                StreamEvent::Connected(_) => {
                    for (i, key) in names.iter().enumerate() {
                        let req = Request::Read {
                            id: i as u64,
                            key: key.clone(),
                        };
                        self.host.stream_send(s, req.encode());
                    }
                }
                StreamEvent::Data(_, bytes) => {
                    for line in buf.push(&bytes).ok()? {
                        let r = Response::decode(&line).ok()?;
                        let vals = r.result.ok()??;
                        got.insert(names.get(r.id as usize)?.clone(), vals);
                    }
                }
                _ => return None,
            }
        }
        self.host.stream_close(s);
        Some(got)
    }
}

/// The trace event carrying a client's history, with its summary figures.
fn data_event(name: &str, keys: u32, history: History) -> Event {
    let s = hasim_data::summary::per_client(&history)
        .remove(name)
        .unwrap_or_default();
    let longest = s.hung.iter().max().copied().unwrap_or_default();
    Event::DataHistory {
        client: name.to_string(),
        operations: s.operations,
        acknowledged: s.acknowledged,
        failed: s.failed,
        unknown: s.unknown,
        lost: s.lost,
        stale: s.stale,
        hung: s.hung.len(),
        longest_hang_ms: longest.as_millis() as u64,
        final_read: history.final_reads.len() == keys as usize,
        history: Arc::new(history),
    }
}
