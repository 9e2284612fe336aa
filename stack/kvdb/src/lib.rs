//! A primary/replica database with asynchronous replication, as MySQL
//! master/slave with GTIDs behaves for the set workload of `hasim-data`.
//!
//! * The primary executes a write, acknowledges it to the client *at once*
//!   and only then ships it to its replicas (asynchronous replication: the
//!   acknowledgement promises nothing about the replicas).
//! * A replica is `lag` behind: an entry shipped at `t` counts as received
//!   (and is applied) at `t + lag` — the replication stream's delay, a busy
//!   IO thread or a slow link. It refuses writes (`read_only`, MySQL error
//!   1290) and serves reads from what it has applied, so reads from it can
//!   be stale.
//! * Promotion keeps what the replica had received by then and makes it
//!   primary: what it had not received is lost to it.
//! * A node pointed at a new primary subscribes with the transaction ids it
//!   has (per origin, the highest sequence number) and is sent what it
//!   lacks. Writes it accepted itself that the new primary never got stay
//!   only on it (errant transactions): after a split brain, the new primary
//!   does not have them.
//!
//! Sans-IO: [`KvNode::handle`] takes `(now, input)` and returns actions
//! (replies to client connections, messages to peers); the relay-log apply
//! timer is [`KvNode::next_timeout`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use hasim_data::wire::{Request, Response};

/// MySQL's answer to a write on a read-only server.
pub const READ_ONLY: &str =
    "1290 The MySQL server is running with the --read-only option so it cannot execute this statement";

/// One replicated write, named by its origin server and sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Server that executed the write first.
    pub origin: String,
    /// Its sequence number on that server.
    pub n: u64,
    /// Key.
    pub key: String,
    /// Value inserted.
    pub value: u64,
}

/// A node's role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Takes writes.
    Primary,
    /// Replicates from `primary`.
    Replica {
        /// The primary's name.
        primary: String,
    },
}

/// Replication messages between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// A replica asks for everything after what it has.
    Subscribe {
        /// Highest sequence number held per origin.
        have: BTreeMap<String, u64>,
    },
    /// Entries for a replica, in order.
    Entries(Vec<Entry>),
}

/// Inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A client request on client connection `conn`.
    Request(u64, Request),
    /// A replication message from a peer.
    Peer {
        /// Sender.
        from: String,
        /// Message.
        msg: Msg,
    },
    /// `now` reached [`KvNode::next_timeout`].
    Timeout,
    /// The cluster manager (Pacemaker, a script) sets the role.
    SetRole(Role),
}

/// Actions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer on client connection `conn`.
    Reply(u64, Response),
    /// Send a replication message.
    Send {
        /// Receiver.
        to: String,
        /// Message.
        msg: Msg,
    },
}

/// One database server.
pub struct KvNode {
    name: String,
    role: Role,
    lag: Duration,
    data: BTreeMap<String, BTreeSet<u64>>,
    have: BTreeMap<String, u64>,
    log: Vec<Entry>,
    next_n: u64,
    relay: VecDeque<(Duration, Entry)>,
    replicas: BTreeSet<String>,
}

impl KvNode {
    /// A node with `role` applying relay-log entries `lag` after receipt.
    /// A replica must be given its role again with [`Input::SetRole`] (or
    /// call [`KvNode::start`]) to subscribe.
    pub fn new(name: &str, role: Role, lag: Duration) -> Self {
        KvNode {
            name: name.into(),
            role,
            lag,
            data: BTreeMap::new(),
            have: BTreeMap::new(),
            log: Vec::new(),
            next_n: 1,
            relay: VecDeque::new(),
            replicas: BTreeSet::new(),
        }
    }

    /// Starts replication for a replica (subscribes to its primary).
    pub fn start(&mut self, now: Duration) -> Vec<Action> {
        let role = self.role.clone();
        self.handle(now, Input::SetRole(role))
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's role.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Values under `key` that this node has applied.
    pub fn values(&self, key: &str) -> BTreeSet<u64> {
        self.data.get(key).cloned().unwrap_or_default()
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Request(conn, req) => self.on_request(conn, req, &mut out),
            Input::Peer { from, msg } => self.on_peer(now, from, msg, &mut out),
            Input::Timeout => self.apply_due(now),
            Input::SetRole(role) => self.on_role(now, role, &mut out),
        }
        out
    }

    /// When the next relay-log entry is due.
    pub fn next_timeout(&self) -> Option<Duration> {
        self.relay.front().map(|(t, _)| *t)
    }

    fn reply(&self, conn: u64, id: u64, result: Result<Option<BTreeSet<u64>>, String>) -> Action {
        Action::Reply(
            conn,
            Response {
                id,
                node: self.name.clone(),
                result,
            },
        )
    }

    fn on_request(&mut self, conn: u64, req: Request, out: &mut Vec<Action>) {
        let a = match req {
            Request::Ping { id } => self.reply(conn, id, Ok(None)),
            Request::Read { id, key } => self.reply(conn, id, Ok(Some(self.values(&key)))),
            Request::Write { id, .. } if self.role != Role::Primary => {
                self.reply(conn, id, Err(READ_ONLY.into()))
            }
            Request::Write { id, key, value } => {
                let e = Entry {
                    origin: self.name.clone(),
                    n: self.next_n,
                    key,
                    value,
                };
                self.next_n += 1;
                self.apply(e.clone());
                for r in &self.replicas {
                    out.push(Action::Send {
                        to: r.clone(),
                        msg: Msg::Entries(vec![e.clone()]),
                    });
                }
                self.reply(conn, id, Ok(None))
            }
        };
        // The acknowledgement goes first: replication is asynchronous.
        out.insert(0, a);
    }

    fn on_peer(&mut self, now: Duration, from: String, msg: Msg, out: &mut Vec<Action>) {
        match msg {
            Msg::Subscribe { have } => {
                let missing: Vec<Entry> = self
                    .log
                    .iter()
                    .filter(|e| have.get(&e.origin).is_none_or(|&n| e.n > n))
                    .cloned()
                    .collect();
                out.push(Action::Send {
                    to: from.clone(),
                    msg: Msg::Entries(missing),
                });
                self.replicas.insert(from);
            }
            Msg::Entries(entries) => {
                if self.role == (Role::Replica { primary: from }) {
                    self.relay
                        .extend(entries.into_iter().map(|e| (now + self.lag, e)));
                }
            }
        }
    }

    fn on_role(&mut self, now: Duration, role: Role, out: &mut Vec<Action>) {
        match &role {
            Role::Primary => {
                // What had arrived is applied; what was still on its way is
                // gone with the old primary.
                self.apply_due(now);
                self.relay.clear();
            }
            Role::Replica { primary } => {
                self.replicas.clear();
                self.relay.clear();
                out.push(Action::Send {
                    to: primary.clone(),
                    msg: Msg::Subscribe {
                        have: self.have.clone(),
                    },
                });
            }
        }
        self.role = role;
    }

    fn apply_due(&mut self, now: Duration) {
        while self.relay.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, e)) = self.relay.pop_front() {
                self.apply(e);
            }
        }
    }

    /// Applies an entry once (by origin and sequence number) and keeps it in
    /// the log for replicas of this node.
    fn apply(&mut self, e: Entry) {
        let held = self.have.get(&e.origin).copied().unwrap_or(0);
        if e.n <= held {
            return;
        }
        self.have.insert(e.origin.clone(), e.n);
        self.data.entry(e.key.clone()).or_default().insert(e.value);
        self.log.push(e);
    }
}

#[cfg(test)]
mod tests;
