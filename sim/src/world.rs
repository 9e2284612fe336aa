//! One simulated run: build the cluster inside a madsim runtime, run the
//! real node daemons on the fabric, inject the fault timeline, drive the
//! clients, and turn what happened into a report.

use crate::analysis;
use crate::checkers;
use crate::fabric::{Delivery, World};
use crate::faults::{self, TimedFault};
use crate::scenario::{FaultAction, Scenario};
use crate::trace::{Event, TraceSink};
use hasim_node::corosync_daemon::{self, CorosyncSetup};
use hasim_node::host::{Addresses, Datagrams, Disk, Events, Host, Inbox, Named, NodeEvent};
use hasim_node::{responder, vrrp_daemon};
use hasim_reports::RunReport;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// The port clients send from.
const CLIENT_PORT: u16 = 40000;

/// Shared by every simulated host: the world, the fabric's own madsim node
/// (which owns datagrams in flight, so they survive their sender), and the
/// instant the run started.
#[derive(Clone)]
struct Shared {
    world: World,
    fabric: Arc<NodeHandle>,
    start: Instant,
}

impl Shared {
    fn now(&self) -> Duration {
        Instant::now() - self.start
    }

    fn schedule(&self, deliveries: Vec<Delivery>) {
        for d in deliveries {
            let shared = self.clone();
            self.fabric.spawn(async move {
                sleep_until(shared.start + d.at).await;
                shared.world.at(shared.now()).deliver(d);
            });
        }
    }
}

/// The simulator's implementation of a machine, for one incarnation of one
/// host (a power cycle makes a new one).
struct SimHost {
    shared: Shared,
    index: usize,
    name: String,
    incarnation: u64,
}

impl SimHost {
    fn current(&self) -> bool {
        self.shared.world.at(self.shared.now()).hosts[self.index].incarnation == self.incarnation
    }
}

impl Named for SimHost {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Datagrams for SimHost {
    fn bind(&self, port: u16) -> std::io::Result<Inbox> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.shared
            .world
            .at(self.shared.now())
            .bind(self.index, self.incarnation, port, tx)?;
        Ok(rx)
    }

    fn send(&self, src: SocketAddrV4, dst: SocketAddrV4, payload: Vec<u8>) {
        if !self.current() {
            return;
        }
        let deliveries = self
            .shared
            .world
            .at(self.shared.now())
            .send(self.index, src, dst, payload);
        self.shared.schedule(deliveries);
    }
}

impl Addresses for SimHost {
    fn add_vip(&self, vip: Ipv4Addr, _interface: Ipv4Addr) {
        if self.current() {
            self.shared
                .world
                .at(self.shared.now())
                .add_vip(self.index, vip);
        }
    }

    fn remove_vip(&self, vip: Ipv4Addr) {
        if self.current() {
            self.shared
                .world
                .at(self.shared.now())
                .remove_vip(self.index, vip);
        }
    }

    fn gratuitous_arp(&self, vip: Ipv4Addr, _interface: Ipv4Addr) {
        if self.current() {
            self.shared
                .world
                .at(self.shared.now())
                .gratuitous_arp(self.index, vip);
        }
    }
}

impl Events for SimHost {
    fn report(&self, event: NodeEvent) {
        if self.current() {
            self.shared
                .world
                .at(self.shared.now())
                .node_event(self.index, event);
        }
    }
}

impl Disk for SimHost {
    fn load(&self, key: &str) -> Option<Vec<u8>> {
        self.shared.world.at(self.shared.now()).hosts[self.index]
            .disk
            .get(key)
            .cloned()
    }

    fn store(&self, key: &str, value: Vec<u8>) {
        if self.current() {
            self.shared.world.at(self.shared.now()).hosts[self.index]
                .disk
                .insert(key.to_string(), value);
        }
    }

    fn boot_epoch(&self) -> u64 {
        self.incarnation
    }
}

/// The corosync setup of one node for one boot, if the scenario runs corosync.
fn corosync_setup(
    scenario: &Scenario,
    node: &str,
    boot_epoch: u64,
) -> Option<Result<CorosyncSetup, String>> {
    let loaded = scenario.corosync_conf.as_ref()?;
    let id = *loaded.node_ids.get(node)?;
    Some(
        CorosyncSetup::from_conf(&loaded.conf, id, boot_epoch).map(|mut setup| {
            if let Some(section) = &scenario.corosync {
                setup.load_interval = section.load_interval;
                setup.quirks = match section.totem {
                    crate::scenario::TotemVariant::Corosync => hasim_totem::srp::Quirks::corosync(),
                    crate::scenario::TotemVariant::Strict => hasim_totem::srp::Quirks::strict(),
                };
            }
            setup
        }),
    )
}

/// How long after the last change liveness allows for one ring to form:
/// merge detection, then a full failure-detection round, twice over.
fn liveness_bound(scenario: &Scenario) -> Duration {
    let Some(loaded) = &scenario.corosync_conf else {
        return Duration::from_secs(60);
    };
    let timers = corosync_daemon::totem_config(&loaded.conf).effective(loaded.conf.nodelist.len());
    timers.merge() + timers.downcheck() + timers.failure_detection_bound() * 2
}

/// The VRRP configurations of one node, as the core wants them.
fn vrrp_configs(scenario: &Scenario, node: &str) -> Vec<hasim_vrrp::Config> {
    let Some(n) = scenario.nodes.iter().find(|n| n.name.get_ref() == node) else {
        return Vec::new();
    };
    scenario
        .vrrp
        .iter()
        .filter(|v| v.node.get_ref() == node)
        .filter_map(|v| {
            let primary_ip = *n.addresses.get(v.interface.get_ref())?;
            let mut cfg = hasim_vrrp::Config::new(v.vrid, primary_ip, v.vips.clone());
            cfg.priority = v.priority;
            cfg.advert_int = v.advert_int;
            cfg.preempt = v.preempt;
            cfg.preempt_delay = v.preempt_delay;
            cfg.unicast_peers = v.unicast_peers.clone();
            Some(cfg)
        })
        .collect()
}

/// Everything a run produces.
pub struct RunOutput {
    pub report: RunReport,
    pub timeline: Vec<TimedFault>,
}

/// Run `scenario` with `seed`. `trace` receives the JSON-lines trace.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    trace: Option<Box<dyn Write + Send>>,
) -> Result<RunOutput, String> {
    let wall = std::time::Instant::now();
    let timeline = faults::timeline(scenario, seed);
    let check_names: Vec<String> = scenario
        .expect
        .check
        .iter()
        .map(|c| c.get_ref().clone())
        .collect();
    // A corosync.conf the nodes cannot run with is bad input, found before the run.
    for node in &scenario.nodes {
        if let Some(Err(e)) = corosync_setup(scenario, node.name.get_ref(), 0) {
            let path = scenario
                .corosync_conf
                .as_ref()
                .map_or("", |c| c.path.as_str());
            return Err(format!("{path}: node {}: {e}", node.name.get_ref()));
        }
    }
    let setup = checkers::CheckerSetup {
        min_answered: scenario.expect.min_answered,
        max_outage: scenario.expect.max_outage,
        liveness_bound: liveness_bound(scenario),
        node_ids: scenario
            .corosync_conf
            .as_ref()
            .map(|c| c.node_ids.clone())
            .unwrap_or_default(),
    };
    let checkers = checkers::build(&check_names, &setup);
    let world = World::new(scenario, seed, TraceSink::new(trace), checkers);
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    let scenario_owned = scenario.clone();
    let timeline_owned = timeline.clone();
    let world_for_run = world.clone();
    runtime.block_on(async move { simulate(scenario_owned, timeline_owned, world_for_run).await });
    drop(runtime);
    let state = world.finish();
    let report = analysis::report(
        scenario,
        seed,
        &timeline,
        state,
        wall.elapsed().as_secs_f64(),
    )?;
    Ok(RunOutput { report, timeline })
}

async fn simulate(scenario: Scenario, timeline: Vec<TimedFault>, world: World) {
    let handle = Handle::current();
    let fabric = Arc::new(handle.create_node().name("fabric").build());
    let shared = Shared {
        world: world.clone(),
        fabric: fabric.clone(),
        start: Instant::now(),
    };
    let mut nodes: NodeTable = BTreeMap::new();
    for node in &scenario.nodes {
        let name = node.name.get_ref().clone();
        let Some(index) = world.at(Duration::ZERO).host_index(&name) else {
            continue;
        };
        let configs = vrrp_configs(&scenario, &name);
        let for_corosync = scenario.clone();
        let shared = shared.clone();
        let host_name = name.clone();
        let handle = handle
            .create_node()
            .name(name.clone())
            .init(move || {
                let shared = shared.clone();
                let configs = configs.clone();
                let name = host_name.clone();
                let incarnation = shared.world.at(shared.now()).hosts[index].incarnation;
                let corosync = corosync_setup(&for_corosync, &name, incarnation);
                let cpg_interval = for_corosync
                    .corosync
                    .as_ref()
                    .and_then(|c| c.cpg_interval());
                async move {
                    let host: Arc<dyn Host> = Arc::new(SimHost {
                        shared,
                        index,
                        name,
                        incarnation,
                    });
                    let service = tokio::spawn(responder::serve(host.clone()));
                    if let Some(Ok(setup)) = corosync {
                        hasim_node::init::start_corosync(host.clone(), setup, cpg_interval);
                    }
                    if !configs.is_empty() {
                        if let Err(e) = vrrp_daemon::run(host.clone(), configs).await {
                            host.report(NodeEvent::DaemonFailed {
                                daemon: "vrrp".into(),
                                error: e.to_string(),
                            });
                        }
                    }
                    let _ = service.await;
                }
            })
            .build();
        nodes.insert(name, (index, handle, node.boot_delay));
    }
    for client in &scenario.clients {
        let name = client.name.get_ref().clone();
        let Some(index) = world.at(Duration::ZERO).host_index(&name) else {
            continue;
        };
        let host = SimHost {
            shared: shared.clone(),
            index,
            name: name.clone(),
            incarnation: 0,
        };
        let (address, target, interval, timeout) = (
            client.address,
            client.target,
            client.interval,
            client.timeout,
        );
        handle
            .create_node()
            .name(name.clone())
            .build()
            .spawn(run_client(
                host,
                SocketAddrV4::new(address, CLIENT_PORT),
                target,
                interval,
                timeout,
            ));
    }
    let (at_start, later): (Vec<TimedFault>, Vec<TimedFault>) =
        timeline.into_iter().partition(|f| f.at.is_zero());
    for fault in &at_start {
        apply_fault(&shared, &nodes, fault);
    }
    let faults_task = fabric.spawn(inject(shared.clone(), later, nodes));
    sleep_until(shared.start + scenario.duration).await;
    faults_task.abort();
}

/// Carry out the fault timeline.
type NodeTable = BTreeMap<String, (usize, NodeHandle, Duration)>;

/// Carry out the fault timeline. Faults at t=0 are applied by the caller
/// before any task runs, so they are in force from the very start (a node
/// powered off at 0 never boots).
async fn inject(shared: Shared, timeline: Vec<TimedFault>, nodes: NodeTable) {
    for fault in timeline {
        sleep_until(shared.start + fault.at).await;
        apply_fault(&shared, &nodes, &fault);
    }
}

fn apply_fault(shared: &Shared, nodes: &NodeTable, fault: &TimedFault) {
    let handle = Handle::current();
    let mut world = shared.world.at(shared.now());
    world.record(Event::Fault {
        what: faults::describe(&fault.action),
        source: fault.source.as_str(),
    });
    let node = match &fault.action {
        FaultAction::Pause { node }
        | FaultAction::Resume { node }
        | FaultAction::PowerOff { node }
        | FaultAction::PowerOn { node } => node,
        network => return world.apply_network_fault(network),
    };
    let Some((index, node_handle, boot_delay)) = nodes.get(node) else {
        return;
    };
    let (index, id, boot_delay) = (*index, node_handle.id(), *boot_delay);
    let host = &world.hosts[index];
    match &fault.action {
        FaultAction::Pause { .. } if host.powered && !host.paused => {
            handle.pause(id);
            world.set_paused(index, true);
        }
        FaultAction::Resume { .. } if host.paused => {
            handle.resume(id);
            world.set_paused(index, false);
        }
        FaultAction::PowerOff { .. } if host.powered => {
            handle.kill(id);
            world.power_off(index);
        }
        FaultAction::PowerOn { .. } if !host.powered => {
            world.power_on(index);
            let incarnation = world.hosts[index].incarnation;
            let shared = shared.clone();
            shared.fabric.clone().spawn(async move {
                tokio::time::sleep(boot_delay).await;
                let mut world = shared.world.at(shared.now());
                let h = &world.hosts[index];
                // Powered off again while booting: nothing boots.
                if h.powered && h.incarnation == incarnation {
                    world.booted(index);
                    drop(world);
                    handle.restart(id);
                }
            });
        }
        _ => {}
    }
}

/// A client: one request per interval to the target, waiting up to
/// `timeout` for the answer, recording who answered.
async fn run_client(
    host: SimHost,
    src: SocketAddrV4,
    target: SocketAddrV4,
    interval: Duration,
    timeout: Duration,
) {
    let Ok(mut inbox) = host.bind(CLIENT_PORT) else {
        return;
    };
    let shared = host.shared.clone();
    let mut next = Instant::now();
    let mut id: u64 = 0;
    loop {
        sleep_until(next).await;
        id += 1;
        let sent_at = Instant::now();
        shared.world.at(shared.now()).record(Event::Request {
            client: host.name.clone(),
            id,
        });
        host.send(src, target, id.to_be_bytes().to_vec());
        let deadline = sent_at + timeout;
        loop {
            match tokio::time::timeout(
                deadline.saturating_duration_since(Instant::now()),
                inbox.recv(),
            )
            .await
            {
                Ok(Some(reply)) => {
                    let Some((reply_id, by)) = responder::decode_reply(&reply.payload) else {
                        continue;
                    };
                    if reply_id != id {
                        continue; // a late answer to an earlier request
                    }
                    let rtt_us = (Instant::now() - sent_at).as_micros() as u64;
                    shared.world.at(shared.now()).record(Event::Answer {
                        client: host.name.clone(),
                        id,
                        by,
                        rtt_us,
                    });
                    break;
                }
                Ok(None) => return,
                Err(_) => {
                    shared.world.at(shared.now()).record(Event::Timeout {
                        client: host.name.clone(),
                        id,
                    });
                    break;
                }
            }
        }
        next += interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
    }
}

/// Push `count` datagrams from one host to another through the fabric and
/// return how many arrived. Used by the benches to measure the fabric's cost
/// against bare madsim UDP.
pub fn fabric_pump(count: u64, seed: u64) -> u64 {
    let text = r#"
name = "fabric-pump"
duration = "1s"
[[segment]]
name = "lan"
[[node]]
name = "a"
addresses = { lan = "10.0.0.1" }
[[node]]
name = "b"
addresses = { lan = "10.0.0.2" }
[expect]
check = []
"#;
    let Ok(scenario) = Scenario::parse(text, "fabric-pump") else {
        return 0;
    };
    let world = World::new(&scenario, seed, TraceSink::new(None), Vec::new());
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.block_on(async move {
        let fabric = Arc::new(Handle::current().create_node().name("fabric").build());
        let shared = Shared {
            world,
            fabric,
            start: Instant::now(),
        };
        let host = |index: usize, name: &str| SimHost {
            shared: shared.clone(),
            index,
            name: name.into(),
            incarnation: 0,
        };
        let (a, b) = (host(0, "a"), host(1, "b"));
        let Ok(mut inbox) = b.bind(9) else {
            return 0;
        };
        let (src, dst) = (
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 9),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9),
        );
        for i in 0..count {
            a.send(src, dst, i.to_be_bytes().to_vec());
        }
        let mut received = 0;
        while received < count && inbox.recv().await.is_some() {
            received += 1;
        }
        received
    })
}
