//! Messages between the daemons of one node (Pacemaker's IPC), and the
//! operator requests a scenario timeline sends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hasim_cib::Element;
use serde::{Deserialize, Serialize};

use crate::version::CibVersion;

/// A CIB operation, as cibadmin offers them. XML arguments are Pacemaker
/// XML text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CibOp {
    /// `cibadmin --query`: answered with the whole CIB.
    Query,
    /// `cibadmin --replace --xml-text`: replace the whole CIB (`<cib>` root)
    /// or one section (root named like the section). A replacement whose
    /// (admin_epoch, epoch) is older than the current one is refused.
    Replace { xml: String },
    /// `cibadmin --modify -o SECTION`: merge the element into the element
    /// of the same tag and id inside SECTION (attributes set, children
    /// merged by tag and id), or add it to SECTION if none matches.
    Modify { section: String, xml: String },
    /// `cibadmin --delete`: remove the elements with the given tag and id.
    Delete { tag: String, id: String },
    /// `cibadmin --erase`-like: remove every element with this tag and id
    /// inside the given section only (status clean-ups by the controller).
    DeleteIn {
        section: String,
        tag: String,
        id: String,
    },
    /// Remove the element at a patchset-style path
    /// (`/cib/status/node_state[@id='1']/lrm[@id='1']`), if it exists
    /// (Pacemaker's XPath deletes of one node's history).
    DeleteAt { path: String },
}

/// How an attribute update changes the value (`attrd_updater -U`, or the
/// `value++` syntax Pacemaker uses for fail counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrValue {
    Set(String),
    /// Add one (Pacemaker's `name++`); INFINITY saturates.
    Increment,
    Delete,
}

/// Which agent runs an operation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AgentRef {
    /// ocf, systemd, lsb, stonith, service
    pub class: String,
    pub provider: Option<String>,
    /// The agent type (Dummy, IPaddr2, haproxy, ...).
    pub kind: String,
}

impl std::fmt::Display for AgentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{}:{}:{}", self.class, p, self.kind),
            None => write!(f, "{}:{}", self.class, self.kind),
        }
    }
}

/// An operation for the executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The resource id as the executor knows it (clone instances of
    /// anonymous clones use the primitive's id, as Pacemaker's lrmd does).
    pub rsc: String,
    pub agent: AgentRef,
    /// start, stop, monitor, promote, demote, ... (a probe is monitor with
    /// interval 0).
    pub op: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub params: BTreeMap<String, String>,
    /// Opaque key the caller uses to match the result (the controller puts
    /// its transition key here).
    pub key: String,
}

/// Execution status of an operation (Pacemaker's `op-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpStatus {
    Done = 0,
    Cancelled = 1,
    Timeout = 2,
    NotSupported = 3,
    Error = 4,
    NotInstalled = 7,
}

/// The outcome of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecResult {
    pub request: ExecRequest,
    pub call_id: u64,
    /// OCF return code (0 ok, 1 generic error, 7 not running, 8 promoted,
    /// 9 failed promoted, ...); for timeouts 1.
    pub rc: i32,
    pub status: OpStatus,
    pub exec_ms: u64,
    /// Simulated wall-clock seconds when the result came.
    pub finished_at: i64,
}

/// A side effect of a resource agent the host carries out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostAction {
    /// `ip addr add IP/CIDR dev NIC` (IPaddr2 start).
    AddAddress { ip: String, cidr: u8, nic: String },
    /// `ip addr del` (IPaddr2 stop).
    RemoveAddress { ip: String, nic: String },
    /// One unsolicited ARP for IP from NIC (IPaddr2's send_arp).
    GratuitousArp { ip: String, nic: String },
    /// A systemd unit started or stopped.
    Service { unit: String, running: bool },
    /// A command an agent runs against a daemon of its node (galera's
    /// `mysqld_safe --wsrep-recover`, `mysql -e "SHOW STATUS"`, starting
    /// or killing mysqld): `request` goes to the node's local endpoint
    /// `service`; the answer comes back to the executor as
    /// [`LocalMsg::HostAnswer`] with the same `call`.
    Ask {
        service: String,
        call: u64,
        request: String,
    },
}

/// A CIB request from a local daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibRequest {
    pub call_id: u64,
    pub op: CibOp,
}

/// Messages between the daemons of one node. Not serialized: local IPC
/// is in-process (the CIB travels as a shared element tree).
#[derive(Debug, Clone)]
pub enum LocalMsg {
    /// → based: a CIB operation; answered with [`LocalMsg::CibReply`].
    CibRequest(CibRequest),
    /// based → requester.
    CibReply {
        call_id: u64,
        result: Result<CibVersion, String>,
        /// The CIB for queries.
        xml: Option<String>,
    },
    /// based → controld and attrd: the local CIB changed (or was loaded).
    CibUpdated {
        version: CibVersion,
        digest: String,
        cib: Arc<Element>,
        /// Whether the configuration section changed (epoch bumped).
        config_changed: bool,
    },
    /// based → attrd: this node's CIB was replaced by another node's copy
    /// (the DC's join sync). The attribute writer then writes every value
    /// again, as Pacemaker's attrd does on a CIB replace notification, so
    /// that values written only to a copy that was replaced are not lost.
    CibReplaced,
    /// controld → based: this node's CIB is the primary (the DC's) or not.
    CibPrimary(bool),
    /// controld (DC) → based: make every node's CIB a copy of `from`'s
    /// (None: ours), as the DC's join finalization does.
    CibSync { from: Option<String> },
    /// → attrd: change a transient attribute of `target`.
    AttrUpdate {
        target: String,
        name: String,
        value: AttrValue,
        /// Dampening: wait this long for more changes before writing.
        dampen: Option<Duration>,
    },
    /// → attrd: forget every transient attribute of `target` (node loss).
    AttrPurgeNode { target: String },
    /// execd → attrd: every node's value of these attributes
    /// (`attrd_updater --query --all`); answered with
    /// [`LocalMsg::AttrAnswer`].
    AttrQuery { call: u64, names: Vec<String> },
    /// attrd → execd: attribute name → node → value.
    AttrAnswer {
        call: u64,
        values: BTreeMap<String, BTreeMap<String, String>>,
    },
    /// The node → execd: the answer to [`HostAction::Ask`] `call`.
    HostAnswer { call: u64, answer: String },
    /// controld → execd.
    Exec(ExecRequest),
    /// controld → execd: cancel a recurring operation.
    ExecCancel {
        rsc: String,
        op: String,
        interval_ms: u64,
    },
    /// execd → controld.
    ExecDone(ExecResult),
    /// controld → fenced: fence `target` ("reboot" or "off"), after
    /// `delay` seconds of priority-fencing-delay (0: none).
    FenceRequest {
        target: String,
        action: String,
        delay: u64,
    },
    /// fenced → controld.
    FenceResult { target: String, ok: bool },
    /// controld ↔ this node's connections to Pacemaker Remote executors.
    Remote(RemoteMsg),
}

/// Between a cluster node's controller and its connections to remote
/// nodes' executors (pacemaker_remoted on port 3121). Pacemaker's
/// controller keeps one executor client per node it talks to; a remote
/// node's client is a network connection opened by the start of its
/// connection resource (`ocf:pacemaker:remote`, controld_remote_ra.c).
/// The controller core asks with the first five; the node's connection
/// layer answers with the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteMsg {
    /// Open the connection to `node`'s executor at `server:port` and
    /// complete the handshake.
    Connect {
        node: String,
        server: String,
        port: u16,
    },
    /// Close the connection (the connection resource stops).
    Disconnect { node: String },
    /// Ask the remote executor to answer (the connection monitor's poke).
    Poke { node: String },
    /// Run an operation on the remote executor.
    Exec { node: String, req: ExecRequest },
    /// Cancel a recurring operation on the remote executor.
    Cancel {
        node: String,
        rsc: String,
        op: String,
        interval_ms: u64,
    },
    /// The handshake completed: the remote executor is reachable.
    Connected { node: String },
    /// The connection could not be opened (refused, timed out), and why.
    ConnectFailed { node: String, why: String },
    /// An established connection was lost, and why.
    Lost { node: String, why: String },
    /// The remote executor answered a poke.
    Poked { node: String },
    /// A remote operation's result.
    ExecDone { node: String, result: ExecResult },
}
