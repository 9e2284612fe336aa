//! Starting a node's daemons for one boot, the same way in the simulator
//! and in real mode (systemd's part).

use crate::corosync_daemon::{self, CorosyncSetup};
use crate::host::{Host, NodeEvent};
use crate::local::{Switchboard, COROSYNC};
use crate::workload::{CpgWorkload, DEFAULT_GROUP};
use std::sync::Arc;
use std::time::Duration;

/// The CPG workload's endpoint name on the in-node channel.
pub const CPG_WORKLOAD: &str = "cpg-workload";

/// Start corosync and, with `cpg_interval`, a CPG workload that uses it,
/// each as its own task. A daemon that fails is reported, not retried.
/// Returns the boot's in-node switchboard, for further local daemons.
pub fn start_corosync(
    host: Arc<dyn Host>,
    setup: CorosyncSetup,
    cpg_interval: Option<Duration>,
) -> Switchboard {
    let board = Switchboard::new();
    let endpoint = board.register(COROSYNC);
    let node_id = setup.node_id;
    let corosync_host = host.clone();
    tokio::spawn(async move {
        let host = corosync_host;
        if let Err(e) = corosync_daemon::run(host.clone(), setup, Some(endpoint)).await {
            host.report(NodeEvent::DaemonFailed {
                daemon: "corosync".into(),
                error: e.to_string(),
            });
        }
    });
    if let Some(interval) = cpg_interval {
        start_cpg_workload(host, &board, node_id, interval);
    }
    board
}

/// Start the CPG workload of node `node_id` as its own task on `board`.
pub fn start_cpg_workload(
    host: Arc<dyn Host>,
    board: &Switchboard,
    node_id: u32,
    interval: Duration,
) {
    let endpoint = board.register(CPG_WORKLOAD);
    let core = CpgWorkload::new(DEFAULT_GROUP, node_id, endpoint.pid, interval);
    tokio::spawn(crate::daemon::run(core, host, endpoint));
}

/// Start Pacemaker (its four daemons as one service) on `board`, after
/// corosync: the daemons join their CPG groups through it.
pub fn start_pacemaker(
    host: Arc<dyn Host>,
    board: &Switchboard,
    setup: crate::pacemaker::PacemakerSetup,
) {
    let endpoint = board.register(crate::pacemaker::PACEMAKER);
    tokio::spawn(crate::pacemaker::run(setup, host, endpoint));
}

/// Start SBD (diskless: the watchdog only) on `board`, after corosync: it
/// tracks quorum through it, as sbd's cluster servant does.
pub fn start_sbd(
    host: Arc<dyn Host>,
    board: &Switchboard,
    cfg: hasim_fenced::watchdog::WatchdogConfig,
) {
    let endpoint = board.register(crate::sbd::SBD);
    tokio::spawn(crate::sbd::run(cfg, host, endpoint));
}
