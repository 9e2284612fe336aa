//! A key-value client as a sans-IO core: it issues the set workload through
//! a pool of connections and records every operation and connection in a
//! [`History`].
//!
//! Its connection handling follows oslo.db over PyMySQL, the OpenStack
//! services of the seed stories: a pool of connections, each checked out
//! for one operation at a time; an optional ping at checkout
//! (`pool_pre_ping`) that replaces a dead pooled connection before the
//! statement is sent; a connect timeout; a query timeout that is *off* by
//! default (a statement on a half-open connection then waits until TCP
//! gives up); a fixed wait before reconnecting after a failed connect.
//!
//! The driver connects, sends and closes on the client's behalf through a
//! stream capability and reports back with [`ClientInput`]s; the client
//! asks with [`ClientAction`]s. Slots are the pool's connection positions.

use std::time::Duration;

use hasim_tcp::CloseReason;

use crate::history::{ConnLife, History, Op, OpKind, Outcome};
use crate::wire::{LineBuffer, Request, Response};

/// Workload and connection settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Client name in the history.
    pub name: String,
    /// Keys `k0..k{keys-1}`, used in turn (shifted by one each round).
    pub keys: u32,
    /// Time between operations.
    pub op_interval: Duration,
    /// Every n-th operation is a read (0: writes only).
    pub read_every: u32,
    /// Connections in the pool, hence operations in flight at most.
    pub pool_size: usize,
    /// Give up a connect after this long.
    pub connect_timeout: Duration,
    /// Give up an operation after this long; `None` waits for TCP.
    pub op_timeout: Option<Duration>,
    /// Wait after a failed connect before that slot connects again.
    pub retry_interval: Duration,
    /// Ping a pooled connection before using it.
    pub pre_ping: bool,
    /// Values written are `value_base + n`, unique across clients when
    /// each client has its own base.
    pub value_base: u64,
}

impl ClientConfig {
    /// oslo.db-like defaults: pool of 5, pre-ping on, no query timeout,
    /// 10 s connect timeout, 1 s between retries; one op every 100 ms.
    pub fn oslo_db(name: &str, value_base: u64) -> Self {
        ClientConfig {
            name: name.into(),
            keys: 4,
            op_interval: Duration::from_millis(100),
            read_every: 3,
            pool_size: 5,
            connect_timeout: Duration::from_secs(10),
            op_timeout: None,
            retry_interval: Duration::from_secs(1),
            pre_ping: true,
            value_base,
        }
    }
}

/// What the driver reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientInput {
    /// `now` reached [`Client::next_timeout`].
    Timeout,
    /// The slot's connect succeeded.
    Connected(usize),
    /// The slot's connection failed to open or closed.
    Closed(usize, CloseReason),
    /// Bytes arrived on the slot's connection.
    Data(usize, Vec<u8>),
}

/// What the client asks of the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAction {
    /// Open a connection for the slot to the configured service.
    Connect(usize),
    /// Write bytes on the slot's connection.
    Send(usize, Vec<u8>),
    /// Abort the slot's connection (the driver reports no `Closed` after).
    Close(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    Empty {
        retry_at: Duration,
    },
    Connecting {
        since: Duration,
        op: Option<usize>,
    },
    Idle {
        conn: usize,
    },
    Pinging {
        conn: usize,
        op: usize,
        since: Duration,
    },
    Busy {
        conn: usize,
        op: usize,
        since: Duration,
    },
}

/// One client.
pub struct Client {
    cfg: ClientConfig,
    slots: Vec<Slot>,
    buffers: Vec<LineBuffer>,
    next_op_at: Duration,
    issued: u64,
    skipped: u64,
    history: History,
}

mod run;

impl Client {
    /// A client whose first operation is at `start`.
    pub fn new(cfg: ClientConfig, start: Duration) -> Self {
        let n = cfg.pool_size.max(1);
        Client {
            cfg,
            slots: vec![
                Slot::Empty {
                    retry_at: Duration::ZERO
                };
                n
            ],
            buffers: vec![LineBuffer::default(); n],
            next_op_at: start,
            issued: 0,
            skipped: 0,
            history: History::default(),
        }
    }

    /// What was recorded so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Operations not started because every slot was busy or waiting.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Duration, input: ClientInput) -> Vec<ClientAction> {
        let mut out = Vec::new();
        match input {
            ClientInput::Timeout => self.on_timeout(now, &mut out),
            ClientInput::Connected(s) => self.on_connected(now, s, &mut out),
            ClientInput::Closed(s, why) => self.on_closed(now, s, why, &mut out),
            ClientInput::Data(s, bytes) => self.on_data(now, s, &bytes, &mut out),
        }
        out
    }

    /// The earliest moment the client has something to do.
    pub fn next_timeout(&self) -> Option<Duration> {
        let deadlines = self.slots.iter().filter_map(|s| self.deadline(s));
        deadlines.chain([self.next_op_at]).min()
    }

    fn deadline(&self, s: &Slot) -> Option<Duration> {
        match s {
            Slot::Connecting { since, .. } => Some(*since + self.cfg.connect_timeout),
            Slot::Pinging { since, .. } | Slot::Busy { since, .. } => {
                self.cfg.op_timeout.map(|t| *since + t)
            }
            Slot::Empty { .. } | Slot::Idle { .. } => None,
        }
    }

    fn new_op(&mut self, now: Duration) -> usize {
        let n = self.issued;
        self.issued += 1;
        // Keys in turn, shifted by one each round so that reads (every
        // n-th op) do not always land on the same key.
        let keys = u64::from(self.cfg.keys.max(1));
        let key = format!("k{}", (n + n / keys) % keys);
        let read =
            self.cfg.read_every > 0 && (n + 1).is_multiple_of(u64::from(self.cfg.read_every));
        let kind = if read {
            OpKind::Read { key }
        } else {
            OpKind::Write {
                key,
                value: self.cfg.value_base + n,
            }
        };
        self.history.ops.push(Op {
            client: self.cfg.name.clone(),
            kind,
            invoked: now,
            completed: None,
            node: None,
        });
        self.history.ops.len() - 1
    }

    fn request(&self, op: usize) -> Vec<u8> {
        let id = op as u64;
        match &self.history.ops[op].kind {
            OpKind::Write { key, value } => Request::Write {
                id,
                key: key.clone(),
                value: *value,
            },
            OpKind::Read { key } => Request::Read {
                id,
                key: key.clone(),
            },
        }
        .encode()
    }

    fn complete(&mut self, op: usize, now: Duration, outcome: Outcome, node: Option<String>) {
        let o = &mut self.history.ops[op];
        if o.completed.is_none() {
            o.completed = Some((now, outcome));
            o.node = node.or(o.node.take());
        }
    }

    fn open_conn(&mut self, now: Duration) -> usize {
        let client = self.cfg.name.clone();
        self.history.conns.push(ConnLife {
            client,
            opened: now,
            closed: None,
            server_lost: None,
        });
        self.history.conns.len() - 1
    }

    fn close_conn(&mut self, conn: usize, now: Duration, why: CloseReason) {
        let c = &mut self.history.conns[conn];
        if c.closed.is_none() {
            c.closed = Some((now, why));
        }
        self.history.end = self.history.end.max(now);
    }

    fn parse(&mut self, slot: usize, bytes: &[u8]) -> Result<Vec<Response>, String> {
        let lines = self.buffers[slot].push(bytes)?;
        lines.iter().map(|l| Response::decode(l)).collect()
    }
}

#[cfg(test)]
mod tests;
