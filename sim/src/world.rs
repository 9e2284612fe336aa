//! One simulated run: build the cluster inside a madsim runtime, run the
//! real node daemons on the fabric, inject the fault timeline, drive the
//! clients, and turn what happened into a report.

use crate::analysis;
use crate::bus::Bus;
use crate::checkers::registry::{self, CheckerSetup};
use crate::clients;
use crate::context::Shared;
use crate::fabric::World;
use crate::faults::{self, TimedFault};
use crate::host::SimHost;
use crate::machines::{Machines, PowerAction};
use crate::scenario::{FaultAction, Scenario};
use crate::trace::{Event, TraceSink};
use crate::view::ClusterView;
use hasim_node::corosync_daemon::{self, CorosyncSetup};
use hasim_node::host::{Host, NodeEvent};
use hasim_node::{responder, vrrp_daemon};
use hasim_reports::RunReport;
use madsim::runtime::{Handle, Runtime};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::sleep_until;

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
        .filter_map(|v| Some(v.config(*n.addresses.get(v.interface.get_ref())?)))
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
    run_with(scenario, seed, trace, |_| {})
}

/// Something in the world besides the fault timeline that acts on machines
/// (a power device, a test): called once, before any fault, with the
/// handle to every machine.
pub type WorldAgent = Box<dyn FnOnce(&Machines) + Send>;

/// [`run`], with `agent` given the machines at the start of the run.
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    trace: Option<Box<dyn Write + Send>>,
    agent: impl FnOnce(&Machines) + Send + 'static,
) -> Result<RunOutput, String> {
    let agent: WorldAgent = Box::new(agent);
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
    let setup = CheckerSetup {
        min_answered: scenario.expect.min_answered,
        max_outage: scenario.expect.max_outage,
        liveness_bound: liveness_bound(scenario),
        node_ids: scenario
            .corosync_conf
            .as_ref()
            .map(|c| c.node_ids.clone())
            .unwrap_or_default(),
        unique_resources: scenario
            .pacemaker_cib
            .as_ref()
            .map(|c| hasim_pcmk_proto::checkers::unique_resources(&c.cib))
            .unwrap_or_default(),
        recovery_bound: scenario.expect.recovery_bound,
        quorum_grace: scenario.expect.quorum_grace,
        connection_bound: crate::data_spec::connection_bound(scenario),
    };
    let checkers = registry::build(&check_names, &setup);
    let hosts = scenario
        .nodes
        .iter()
        .map(|n| n.name.get_ref().as_str())
        .chain(scenario.clients.iter().map(|c| c.name.get_ref().as_str()))
        .chain(
            scenario
                .power_devices
                .iter()
                .map(|d| d.name.get_ref().as_str()),
        );
    let bus = Bus::new(TraceSink::new(trace), ClusterView::new(hosts), checkers);
    let world = World::new(scenario, seed, bus);
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    let scenario_owned = scenario.clone();
    let timeline_owned = timeline.clone();
    let world_for_run = world.clone();
    runtime.block_on(async move {
        simulate(scenario_owned, seed, timeline_owned, world_for_run, agent).await
    });
    drop(runtime);
    let state = world
        .finish()
        .ok_or("the run's event bus was already taken")?;
    // Every task of the run is gone (see `teardown`): nothing of it stays in
    // memory once the report is built.
    debug_assert_eq!(world.handles(), 1, "a task of the finished run survived");
    let report = analysis::report(
        scenario,
        seed,
        &timeline,
        state.bus,
        state.counts,
        wall.elapsed().as_secs_f64(),
    )?;
    Ok(RunOutput { report, timeline })
}

/// One cluster node: a madsim node whose init (run at every boot) starts
/// the daemons the scenario gives it, on a new incarnation of its host.
fn add_machine(
    shared: &Shared,
    scenario: &Scenario,
    seed: u64,
    boards: &crate::pacemaker::Boards,
    machines: &mut Machines,
    line: &crate::machines::ResetLine,
    node: &crate::scenario::Node,
) {
    let name = node.name.get_ref().clone();
    let Some(index) = shared.world.at(Duration::ZERO).host_index(&name) else {
        return;
    };
    let configs = vrrp_configs(scenario, &name);
    let kvdb = crate::data_clients::kvdb_setup(scenario, &name);
    let haproxy = crate::data_clients::haproxy_setup(scenario, &name);
    let galera = crate::galera_spec::setup(scenario, &name);
    let for_corosync = scenario.clone();
    let shared = shared.clone();
    let host_name = name.clone();
    let boards_for_node = boards.clone();
    let line = line.clone();
    let handle = Handle::current()
        .create_node()
        .name(name.clone())
        .init(move || {
            let shared = shared.clone();
            let configs = configs.clone();
            let (kvdb, haproxy) = (kvdb.clone(), haproxy.clone());
            let galera = galera.clone();
            let name = host_name.clone();
            let incarnation = shared.world.at(shared.now()).hosts[index].incarnation;
            let corosync = corosync_setup(&for_corosync, &name, incarnation);
            let cpg_interval = for_corosync
                .corosync
                .as_ref()
                .and_then(|c| c.cpg_interval());
            let pacemaker =
                crate::pacemaker::setup(&for_corosync, seed, &name, incarnation, shared.now());
            let remoted =
                crate::remote_spec::setup(&for_corosync, seed, &name, incarnation, shared.now());
            let boards = boards_for_node.clone();
            let sbd = crate::pacemaker::sbd_config(&for_corosync);
            let line = line.clone();
            async move {
                let host = SimHost::new(shared, index, &name, incarnation).with_watchdog(line);
                let host: Arc<dyn Host> = Arc::new(host);
                let service = tokio::spawn(responder::serve(host.clone()));
                start_data_daemons(&host, kvdb, haproxy);
                let managed = galera.as_ref().is_some_and(|g| g.managed);
                if !managed {
                    start_galera(&host, galera.clone(), None);
                }
                start_remoted(&host, remoted);
                if let Some(Ok(setup)) = corosync {
                    let board = hasim_node::init::start_corosync(host.clone(), setup, cpg_interval);
                    if managed {
                        let endpoint = board.register(hasim_node::galera_daemon::MYSQLD);
                        start_galera(&host, galera, Some(endpoint));
                    }
                    if let Some(setup) = pacemaker {
                        hasim_node::init::start_pacemaker(host.clone(), &board, setup);
                    }
                    if let Some(cfg) = sbd {
                        hasim_node::init::start_sbd(host.clone(), &board, cfg);
                    }
                    boards.set(index, board);
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
    machines.add(&name, index, handle.id(), node.boot_delay);
}

/// The database server and HAProxy a node runs, if the scenario gives it
/// any; a daemon that cannot start reports why.
fn start_data_daemons(
    host: &Arc<dyn Host>,
    kvdb: Option<hasim_node::kvdb_daemon::KvdbSetup>,
    haproxy: Option<(std::net::Ipv4Addr, Vec<hasim_haproxy::Listen>)>,
) {
    if let Some(setup) = kvdb {
        let h = host.clone();
        tokio::spawn(async move {
            if let Err(e) = hasim_node::kvdb_daemon::run(h.clone(), setup).await {
                h.report(NodeEvent::DaemonFailed {
                    daemon: "kvdb".into(),
                    error: e.to_string(),
                });
            }
        });
    }
    if let Some((address, listens)) = haproxy {
        let h = host.clone();
        tokio::spawn(async move {
            if let Err(e) = hasim_node::haproxy_daemon::run(h.clone(), address, listens).await {
                h.report(NodeEvent::DaemonFailed {
                    daemon: "haproxy".into(),
                    error: e.to_string(),
                });
            }
        });
    }
}

/// The node's pacemaker_remoted, if it is a Pacemaker Remote node.
fn start_remoted(host: &Arc<dyn Host>, setup: Option<hasim_node::remote_daemon::RemoteSetup>) {
    let Some(setup) = setup else { return };
    let h = host.clone();
    tokio::spawn(async move {
        if let Err(e) = hasim_node::remote_daemon::run(h.clone(), setup).await {
            h.report(NodeEvent::DaemonFailed {
                daemon: "pacemaker_remoted".into(),
                error: e.to_string(),
            });
        }
    });
}

/// The node's mysqld, if it is in a `[[galera]]` cluster (`endpoint`: on
/// the node's local channel, for the galera agent when Pacemaker manages
/// it).
fn start_galera(
    host: &Arc<dyn Host>,
    setup: Option<hasim_node::galera_daemon::GaleraSetup>,
    endpoint: Option<hasim_node::local::Endpoint>,
) {
    let Some(setup) = setup else { return };
    let h = host.clone();
    tokio::spawn(async move {
        if let Err(e) = hasim_node::galera_daemon::run(h.clone(), setup, endpoint).await {
            h.report(NodeEvent::DaemonFailed {
                daemon: "galera".into(),
                error: e.to_string(),
            });
        }
    });
}

async fn simulate(
    scenario: Scenario,
    seed: u64,
    timeline: Vec<TimedFault>,
    world: World,
    agent: WorldAgent,
) {
    let handle = Handle::current();
    let fabric = Arc::new(handle.create_node().name("fabric").build());
    let shared = Shared::new(world.clone(), fabric.id());
    let mut machines = Machines::new(shared.clone());
    let boards = crate::pacemaker::Boards::default();
    let line = crate::machines::ResetLine::default();
    crate::pacemaker::seed_disks(&scenario, &shared);
    for node in &scenario.nodes {
        add_machine(
            &shared,
            &scenario,
            seed,
            &boards,
            &mut machines,
            &line,
            node,
        );
    }
    line.connect(&machines);
    let mut nodes = clients::spawn(&shared, &scenario.clients);
    nodes.extend(crate::data_clients::spawn(&shared, &scenario));
    nodes.extend(machines.node_ids());
    nodes.push(fabric.id());
    agent(&machines);
    // Power devices: only when the scenario declares some (their tasks
    // take part in the seeded scheduling).
    let node_names: Vec<&str> = scenario
        .nodes
        .iter()
        .map(|n| n.name.get_ref().as_str())
        .collect();
    let devices =
        crate::power::Devices::start(&shared, &machines, &scenario.power_devices, &node_names);
    let hooked = devices.as_ref().map(|_| machines.clone());
    let (at_start, later): (Vec<TimedFault>, Vec<TimedFault>) =
        timeline.into_iter().partition(|f| f.at.is_zero());
    for fault in &at_start {
        apply_fault(&shared, &machines, devices.as_ref(), fault);
    }
    let faults_task = fabric.spawn(inject(shared.clone(), later, machines, devices.clone()));
    // Only a scenario with requests gets the task: every task takes part
    // in madsim's seeded scheduling, so an idle one would change the
    // traces of scenarios without Pacemaker.
    let has_requests = scenario
        .pacemaker
        .as_ref()
        .is_some_and(|p| !p.operator.is_empty());
    let operator_task = has_requests.then(|| {
        fabric.spawn(crate::pacemaker::operator(
            shared.clone(),
            scenario.clone(),
            boards,
        ))
    });
    sleep_until(shared.start + scenario.duration).await;
    faults_task.abort();
    if let Some(task) = operator_task {
        task.abort();
    }
    if let Some(machines) = hooked {
        machines.clear_hook();
    }
    drop(devices);
    teardown(&shared, nodes).await;
}

/// End the run so that it can be freed. madsim drops a task's future only
/// when the task is polled, and a task asleep on a timer or a channel keeps
/// its timer, its channel and the world alive (each holds the other), so a
/// finished run would stay in memory. Kill every node, close every port
/// (waking its reader) and let every pending timer fire: each task is then
/// polled once more, on a killed node, and dropped without running.
async fn teardown(shared: &Shared, nodes: Vec<madsim::task::NodeId>) {
    let handle = Handle::current();
    for node in nodes {
        handle.kill(node);
    }
    shared.world.at(shared.now()).close_ports();
    tokio::time::sleep(Duration::from_secs(1_000 * 365 * 86_400)).await;
}

/// Carry out the fault timeline. Faults at t=0 are applied by the caller
/// before any task runs, so they are in force from the very start (a node
/// powered off at 0 never boots).
async fn inject(
    shared: Shared,
    timeline: Vec<TimedFault>,
    machines: Machines,
    devices: Option<crate::power::Devices>,
) {
    for fault in timeline {
        sleep_until(shared.start + fault.at).await;
        apply_fault(&shared, &machines, devices.as_ref(), &fault);
    }
}

/// Record the fault, then apply it: network faults to the fabric, machine
/// faults through the machine lifecycle, device faults to the device.
fn apply_fault(
    shared: &Shared,
    machines: &Machines,
    devices: Option<&crate::power::Devices>,
    fault: &TimedFault,
) {
    let mut world = shared.world.at(shared.now());
    world.record(Event::Fault {
        action: fault.action.clone(),
        source: fault.source.as_str(),
    });
    let (node, action) = match &fault.action {
        FaultAction::Pause { node } => (node, PowerAction::Pause),
        FaultAction::Resume { node } => (node, PowerAction::Resume),
        FaultAction::PowerOff { node } => (node, PowerAction::Off),
        FaultAction::PowerOn { node } => (node, PowerAction::On),
        FaultAction::DeviceFault { device, fault } => {
            drop(world);
            if let Some(devices) = devices {
                devices.set_fault(device, *fault);
            }
            return;
        }
        network => return world.apply_network_fault(network),
    };
    drop(world);
    machines.act(node, action);
}
