//! Events the cores report for the trace, the report and the checkers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An event and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedEvent {
    pub at: Duration,
    pub event: Event,
}

/// What the cores (and the driver, for power and membership) report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Driver: a node was powered on (its daemons start) or lost power.
    NodePower { node: String, up: bool },
    /// Controller: the crmd group members it sees (its partition).
    Peers { node: String, peers: Vec<String> },
    /// Controller: quorum as it sees it.
    Quorum { node: String, quorate: bool },
    /// Controller FSA state change.
    ControllerState {
        node: String,
        from: String,
        to: String,
    },
    /// Controller: an election started on this node.
    ElectionStarted { node: String },
    /// Controller: the DC this node follows changed (`dc == node`: it is DC).
    DcChanged { node: String, dc: Option<String> },
    /// DC: a transition was computed by the scheduler.
    Transition {
        dc: String,
        id: u64,
        trigger: String,
        summary: Vec<String>,
        actions: Vec<String>,
    },
    /// DC: a transition ended (complete, or aborted with the reason).
    TransitionDone {
        dc: String,
        id: u64,
        outcome: String,
    },
    /// DC: the scheduler's CIB query was answered while `pending` of the
    /// controller's CIB updates were still unanswered; the controller
    /// sleeps 1 s and asks again ("Re-asking for the CIB: N other peer
    /// updates still pending").
    CibReask { dc: String, pending: u32 },
    /// DC: an action's result did not come within timeout + cluster-delay.
    ActionLost { dc: String, id: u64, action: String },
    /// Executor: an operation finished.
    ResourceOp {
        node: String,
        rsc: String,
        op: String,
        interval_ms: u64,
        call_id: u64,
        rc: i32,
        status: String,
        exec_ms: u64,
    },
    /// Executor: whether a resource is now active on the node (start or
    /// promote succeeded: true; stop succeeded or monitor found it not
    /// running: false).
    ResourceActive {
        node: String,
        rsc: String,
        active: bool,
    },
    /// CIB manager: the local CIB's version and digest after a change.
    CibVersion {
        node: String,
        admin_epoch: u64,
        epoch: u64,
        num_updates: u64,
        digest: String,
    },
    /// CIB manager: the answer to an operator's query (`cibadmin -Q`).
    CibQueried { node: String, xml: String },
    /// CIB manager: a problem it survived (bad disk copy, rejected update).
    CibError { node: String, message: String },
    /// Attribute writer: a value written to the CIB.
    AttrWrite {
        writer: String,
        target: String,
        name: String,
        value: Option<String>,
    },
    /// Executor: a line an agent logged (`ocf_log`, `ocf_exit_reason`);
    /// only agents that explain their decisions (galera) log.
    AgentLog {
        node: String,
        rsc: String,
        op: String,
        text: String,
    },
    /// Attribute manager: this node became (or stopped being) the writer.
    AttrWriter { node: String, writer: bool },
    /// DC: fencing requested / finished. `delay` is the
    /// priority-fencing-delay asked for (seconds; left out when 0, so
    /// traces without the option are unchanged).
    FenceRequested {
        dc: String,
        target: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        delay: u64,
    },
    FenceDone {
        dc: String,
        target: String,
        ok: bool,
    },
    /// DC: `failures` fencing operations against `target` failed
    /// (stonith-max-attempts reached): the transition is aborted without
    /// a new one, so fencing is not retried until something else changes.
    FenceGiveUp {
        dc: String,
        target: String,
        failures: u32,
    },
    /// Controller: its connection to remote node `remote`'s executor
    /// changed: `connected`, `disconnected`, `lost` or `connect-failed`,
    /// with why (empty when there is nothing to add).
    RemoteLink {
        node: String,
        remote: String,
        state: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        why: String,
    },
}

/// serde helper: leave zero delays out of the trace.
fn is_zero(v: &u64) -> bool {
    *v == 0
}
