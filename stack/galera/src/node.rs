//! A running Galera node as a sans-IO core.
//!
//! Simplified from Galera's design, keeping what decides outcomes for
//! clients:
//!
//! * **Membership.** Nodes send keepalives every `keepalive_period` (gcomm's
//!   `evs.keepalive_period`, 1 s). A member silent for `evs.suspect_timeout`
//!   is dropped at the next inactivity check (see [`crate::pc`]). After a
//!   drop the node keeps primary only if the rest holds a quorum of the
//!   previous primary component ([`crate::pc::have_quorum`]); otherwise it
//!   is non-primary and refuses every statement with error 1047.
//! * **Total order.** Instead of EVS's token ring, the lowest-named member
//!   of the primary component orders write-sets: it assigns the global
//!   seqno, sends each one to every member, and lets them commit once every
//!   member has acknowledged it (EVS delivers a message in a view only when
//!   the whole view has it). So a node cut off from the others cannot commit
//!   or acknowledge anything: its clients wait until the view changes, then
//!   get an error. Write-sets ordered but not committed when the orderer
//!   leaves are aborted (1213). The choice of orderer is ours; the effect,
//!   one gap-free global sequence committed only by a whole primary
//!   component, is Galera's.
//! * **Certification.** A write-set carries the seqno its node had
//!   committed when it ran (`depends`); it fails certification, on every
//!   node alike, if a write-set from another node ordered after that
//!   touched the same key. Write-sets from the same node never conflict:
//!   its local locks already ordered them (Galera's certification skips a
//!   match with the same source id).
//!   The origin answers 1213 (deadlock) for a failed one.
//! * **Joining.** The orderer adds a node it hears that is not in the
//!   component and sends it a full state snapshot (SST); the joiner becomes
//!   primary with it.
//! * **Disk.** `grastate.dat` says seqno −1 while running; a clean shutdown
//!   writes the seqno and `safe_to_bootstrap` (last member of the
//!   component); [`Disk`] is what survives a crash.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hasim_data::wire::{Request, Response};

use crate::grastate::Grastate;
use crate::pc::{have_quorum, EvsTimeouts, NOT_PRIMARY};

/// Galera's answer to a write-set that failed certification.
pub const CERT_FAILURE: &str =
    "1213 Deadlock found when trying to get lock; try restarting transaction";

/// A node's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaleraConfig {
    /// This node.
    pub name: String,
    /// Every node (`wsrep_cluster_address`).
    pub cluster: Vec<String>,
    /// Failure detection.
    pub evs: EvsTimeouts,
    /// `evs.keepalive_period`.
    pub keepalive_period: Duration,
    /// Cluster state uuid.
    pub uuid: String,
}

/// A replicated write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSet {
    /// Node that ran it.
    pub origin: String,
    /// Client connection there.
    pub conn: u64,
    /// Client request id.
    pub id: u64,
    /// Key.
    pub key: String,
    /// Value inserted.
    pub value: u64,
    /// Seqno committed at the origin when it ran.
    pub depends: i64,
}

/// Messages between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Liveness, with the sender's primary component (if primary).
    Keepalive {
        /// Members, if the sender is primary.
        view: Option<BTreeSet<String>>,
    },
    /// A write-set for the orderer.
    Replicate(WriteSet),
    /// A write-set with its global seqno.
    Ordered {
        /// Global seqno.
        seqno: i64,
        /// The write-set.
        ws: WriteSet,
    },
    /// A member has the write-set with this seqno.
    Ack {
        /// Global seqno.
        seqno: i64,
    },
    /// Commit every write-set up to this seqno.
    Commit {
        /// Highest seqno to commit.
        upto: i64,
    },
    /// Sent by a non-primary node with its last primary component and
    /// seqno, so that the nodes of that component can re-form it when
    /// enough of them see each other again.
    Waiting {
        /// The last primary component the sender was in.
        last_prim: BTreeSet<String>,
        /// The sender's last committed seqno.
        seqno: i64,
    },
    /// Full state for a joiner.
    State {
        /// Component members.
        view: BTreeSet<String>,
        /// Last seqno in the snapshot.
        seqno: i64,
        /// Data.
        data: BTreeMap<String, BTreeSet<u64>>,
        /// Last seqno that wrote each key, and its origin.
        cert: BTreeMap<String, (i64, String)>,
    },
}

/// What survives a crash: the storage engine's data and seqno, and
/// `grastate.dat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// `grastate.dat`.
    pub grastate: Grastate,
    /// Last committed seqno in the engine.
    pub committed: i64,
    /// Data.
    pub data: BTreeMap<String, BTreeSet<u64>>,
}

/// Inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// mysqld starts; `bootstrap` = `--wsrep-new-cluster` (gcomm://).
    Start {
        /// Form a new primary component alone.
        bootstrap: bool,
    },
    /// A client statement on connection `conn`.
    Request(u64, Request),
    /// A message from a peer.
    Peer {
        /// Sender.
        from: String,
        /// Message.
        msg: Msg,
    },
    /// `now` reached [`GaleraNode::next_timeout`].
    Timeout,
    /// Clean shutdown.
    Shutdown,
}

/// Actions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer a client.
    Reply(u64, Response),
    /// Send to a peer.
    Send {
        /// Receiver.
        to: String,
        /// Message.
        msg: Msg,
    },
    /// Write `grastate.dat`.
    WriteGrastate(Grastate),
    /// The engine committed the write-set with this seqno: `write` is what
    /// it stored, `None` when the write-set failed certification (the seqno
    /// is used all the same). A daemon makes it durable, as InnoDB does at
    /// commit.
    Committed {
        /// Global seqno.
        seqno: i64,
        /// Key and value stored.
        write: Option<(String, u64)>,
    },
    /// Write `gvwstate.dat` (`pc.recovery`): the primary component this
    /// node is in, so that after a restart it can re-form it with the
    /// others (see `restore`); `None` removes the file (clean shutdown).
    WriteViewState(Option<BTreeSet<String>>),
    /// A state transfer replaced the engine's whole content: what
    /// [`GaleraNode::disk`] returns is now the base for later commits.
    StateReceived,
}

/// One Galera node.
pub struct GaleraNode {
    cfg: GaleraConfig,
    running: bool,
    view: Option<BTreeSet<String>>,
    seqno: i64,
    data: BTreeMap<String, BTreeSet<u64>>,
    cert: BTreeMap<String, (i64, String)>,
    early: BTreeMap<i64, WriteSet>,
    next_order: i64,
    missing_acks: BTreeMap<i64, BTreeSet<String>>,
    pending: BTreeSet<(u64, u64)>,
    heard: BTreeMap<String, Duration>,
    /// The last primary component this node was in (empty after a restart).
    last_prim: BTreeSet<String>,
    /// What non-primary peers last said (see [`Msg::Waiting`]).
    waiting: BTreeMap<String, (BTreeSet<String>, i64)>,
    /// When each peer last said it is in a primary component.
    primary_peers: BTreeMap<String, Duration>,
    next_keepalive: Duration,
    next_check: Duration,
}

mod restore;
mod run;

impl GaleraNode {
    /// A node starting from `disk` (crash recovery reads the engine's
    /// seqno when grastate says −1).
    pub fn new(cfg: GaleraConfig, disk: Disk) -> Self {
        let seqno = disk.grastate.recovered_seqno(disk.committed);
        GaleraNode {
            cfg,
            running: false,
            view: None,
            seqno,
            data: disk.data,
            cert: BTreeMap::new(),
            early: BTreeMap::new(),
            next_order: seqno,
            missing_acks: BTreeMap::new(),
            pending: BTreeSet::new(),
            heard: BTreeMap::new(),
            last_prim: BTreeSet::new(),
            waiting: BTreeMap::new(),
            primary_peers: BTreeMap::new(),
            next_keepalive: Duration::ZERO,
            next_check: Duration::ZERO,
        }
    }

    /// A node restarting with `gvwstate.dat`: `last_prim` is the primary
    /// component it was in when it stopped.
    pub fn with_view_state(mut self, last_prim: BTreeSet<String>) -> Self {
        self.last_prim = last_prim;
        self
    }

    /// Whether the node is in a primary component.
    pub fn is_primary(&self) -> bool {
        self.running && self.view.is_some()
    }

    /// Last committed seqno.
    pub fn seqno(&self) -> i64 {
        self.seqno
    }

    /// Values under `key`.
    pub fn values(&self, key: &str) -> BTreeSet<u64> {
        self.data.get(key).cloned().unwrap_or_default()
    }

    /// What a crash now would leave.
    pub fn disk(&self) -> Disk {
        Disk {
            grastate: Grastate::running(&self.cfg.uuid),
            committed: self.seqno,
            data: self.data.clone(),
        }
    }

    /// The earliest timer.
    pub fn next_timeout(&self) -> Option<Duration> {
        self.running
            .then(|| self.next_keepalive.min(self.next_check))
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start { bootstrap } => self.start(now, bootstrap, &mut out),
            Input::Request(conn, req) if self.running => self.on_request(conn, req, &mut out),
            Input::Peer { from, msg } if self.running => self.on_peer(now, from, msg, &mut out),
            Input::Timeout if self.running => self.on_timeout(now, &mut out),
            Input::Shutdown if self.running => self.shutdown(&mut out),
            _ => {}
        }
        out
    }

    fn start(&mut self, now: Duration, bootstrap: bool, out: &mut Vec<Action>) {
        self.running = true;
        self.view = bootstrap.then(|| [self.cfg.name.clone()].into());
        self.next_keepalive = now;
        self.next_check = now + self.cfg.evs.check_period;
        out.push(Action::WriteGrastate(Grastate::running(&self.cfg.uuid)));
    }

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        let alone = self.view.as_ref().is_some_and(|v| v.len() == 1);
        out.push(Action::WriteGrastate(Grastate::clean_shutdown(
            &self.cfg.uuid,
            self.seqno,
            alone,
        )));
        self.running = false;
        self.view = None;
        out.push(Action::WriteViewState(None));
    }

    fn reply(&self, conn: u64, id: u64, result: Result<Option<BTreeSet<u64>>, String>) -> Action {
        Action::Reply(
            conn,
            Response {
                id,
                node: self.cfg.name.clone(),
                result,
            },
        )
    }

    /// The member that orders write-sets: the lowest name in the view.
    fn orderer(&self) -> Option<&String> {
        self.view.as_ref().and_then(|v| v.first())
    }
}

#[cfg(test)]
mod tests;
