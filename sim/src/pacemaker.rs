//! Pacemaker in the simulated world: each node's setup for a boot (drawn
//! from the run seed), the CIB on every disk before the first boot, and the
//! operator's cibadmin requests at their times.

use crate::context::Shared;
use crate::scenario::Scenario;
use crate::trace::Event;
use hasim_node::fencing::FencingSetup;
use hasim_node::local::Switchboard;
use hasim_node::pacemaker::{mix, operator_request, PacemakerSetup, PACEMAKER};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::sleep_until;

/// The in-node switchboard of each host's current boot, by host index: how
/// an operator's cibadmin reaches the node's CIB manager.
#[derive(Clone, Default)]
pub struct Boards(Arc<Mutex<BTreeMap<usize, Switchboard>>>);

impl Boards {
    pub fn set(&self, host: usize, board: Switchboard) {
        if let Ok(mut boards) = self.0.lock() {
            boards.insert(host, board);
        }
    }

    fn get(&self, host: usize) -> Option<Switchboard> {
        self.0.lock().ok()?.get(&host).cloned()
    }
}

/// Node `node`'s Pacemaker for boot `incarnation`, starting at `now`; `None`
/// when the scenario runs no Pacemaker or the node is not a cluster node.
pub fn setup(
    scenario: &Scenario,
    seed: u64,
    node: &str,
    incarnation: u64,
    now: Duration,
) -> Option<PacemakerSetup> {
    let section = scenario.pacemaker.as_ref()?;
    let corosync = scenario.corosync_conf.as_ref()?;
    let node_id = *corosync.node_ids.get(node)?;
    let nodelist = corosync
        .node_ids
        .iter()
        .map(|(name, id)| (*id, name.clone()))
        .collect();
    let interfaces = scenario
        .nodes
        .iter()
        .find(|n| n.name.get_ref() == node)
        .map(|n| n.addresses.clone())
        .unwrap_or_default();
    Some(PacemakerSetup {
        node: node.to_string(),
        node_id,
        nodelist,
        seed: mix(seed ^ mix(u64::from(node_id) << 32 | incarnation)),
        behaviour: section
            .behaviour
            .iter()
            .map(|b| b.get_ref().rule())
            .collect(),
        interfaces,
        boot_time: now,
        fencing: fencing_setup(scenario, node, seed, incarnation),
        hosts: crate::remote_spec::hosts(scenario),
    })
}

/// Stream tag of the fencers' random draws.
const FENCER_STREAM: u64 = 0x7374_6f6e_6974_6821;

/// Whether the scenario's cluster fences: its CIB enables stonith
/// (Pacemaker's default). Only then does each node run a fencer: it joins
/// its own CPG group, which changes what crosses the network, so a cluster
/// with stonith-enabled=false runs exactly as before fencing existed.
pub fn fences(scenario: &Scenario) -> bool {
    scenario.pacemaker_cib.as_ref().is_some_and(|c| {
        hasim_fenced::FencingConfig::from_cib(&c.cib).is_ok_and(|f| f.stonith_enabled)
    })
}

/// A node's fencer for one boot: its management address (on the power
/// devices' segment) and its random stream.
fn fencing_setup(
    scenario: &Scenario,
    node: &str,
    seed: u64,
    incarnation: u64,
) -> Option<FencingSetup> {
    if !fences(scenario) {
        return None;
    }
    let n = scenario.nodes.iter().find(|n| n.name.get_ref() == node)?;
    let segment = scenario.power_devices.first().map(|d| d.segment.as_str());
    let mgmt_address = segment
        .and_then(|s| n.addresses.get(s))
        .or_else(|| n.addresses.values().next())
        .copied()?;
    let id = scenario
        .corosync_conf
        .as_ref()
        .and_then(|c| c.node_ids.get(node).copied())
        .unwrap_or(0);
    Some(FencingSetup {
        mgmt_address,
        seed: mix(seed ^ FENCER_STREAM ^ mix(u64::from(id) << 32 | incarnation)),
        sbd_timeout: sbd_config(scenario).map(|c| c.watchdog_timeout),
    })
}

/// The SBD every cluster node runs, when the scenario has
/// `[pacemaker.sbd]` (only then: its task takes part in the seeded
/// scheduling).
pub fn sbd_config(scenario: &Scenario) -> Option<hasim_fenced::watchdog::WatchdogConfig> {
    scenario.corosync_conf.as_ref()?;
    let sbd = scenario.pacemaker.as_ref()?.sbd.as_ref()?;
    Some(sbd.get_ref().config())
}

/// Put the scenario's CIB on every cluster node's disk (before any boot).
pub fn seed_disks(scenario: &Scenario, shared: &Shared) {
    let (Some(cib), Some(corosync)) = (&scenario.pacemaker_cib, &scenario.corosync_conf) else {
        return;
    };
    // The XML was checked when the scenario was loaded.
    let Ok(image) = hasim_based::disk_image(&cib.xml) else {
        return;
    };
    let mut world = shared.world.at(Duration::ZERO);
    for name in corosync.node_ids.keys() {
        if let Some(index) = world.host_index(name) {
            world.hosts[index].disk.extend(image.iter().cloned());
        }
    }
}

/// Send the operator's requests at their times, from the fabric's node (an
/// operator's shell is not on a machine that can lose power... it is on the
/// node, but a request to a node that is down fails, as cibadmin would).
pub async fn operator(shared: Shared, scenario: Scenario, boards: Boards) {
    let (Some(section), Some(corosync), Some(cib)) = (
        &scenario.pacemaker,
        &scenario.corosync_conf,
        &scenario.pacemaker_cib,
    ) else {
        return;
    };
    let mut requests: Vec<_> = section.operator.iter().map(|r| r.get_ref()).collect();
    requests.sort_by_key(|r| r.at);
    let first = corosync.node_ids.keys().next().cloned().unwrap_or_default();
    for request in requests {
        sleep_until(shared.start + request.at).await;
        let node = request.node.clone().unwrap_or_else(|| first.clone());
        // Checked when the scenario was loaded.
        let Ok(op) = request.op(&corosync.node_ids, &cib.cib) else {
            continue;
        };
        let mut world = shared.world.at(shared.now());
        let index = world.host_index(&node);
        let running = index.is_some_and(|i| world.hosts[i].running());
        world.record(Event::Operator {
            node: node.clone(),
            request: describe(request),
            delivered: running,
        });
        drop(world);
        if let (true, Some(board)) = (running, index.and_then(|i| boards.get(i))) {
            let cibadmin = board.register("cibadmin");
            let _ = cibadmin.send(PACEMAKER, operator_request(&op));
        }
    }
}

/// One line for the trace: `standby node2=on`, `target-role vip=Stopped`.
fn describe(r: &crate::pcmk_scenario::Operator) -> String {
    let what = [&r.target, &r.rsc, &r.name]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    if what.is_empty() {
        format!("{} {}", r.request, r.value)
    } else {
        format!("{} {what}={}", r.request, r.value)
    }
}
