//! The HAProxy core: sessions, health checks and their timers.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::time::Duration;

use hasim_tcp::CloseReason;

use crate::balance::choose;
use crate::{Conn, Listen};

/// Inputs from the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// HAProxy starts: health checks begin.
    Start,
    /// A client connection was accepted on `local`.
    Accepted {
        /// Driver's id for it.
        conn: u64,
        /// The bound address it reached.
        local: SocketAddrV4,
        /// The client.
        client: SocketAddrV4,
    },
    /// An outbound connection completed.
    Connected(Conn),
    /// A connection failed to open or closed.
    Closed(Conn, CloseReason),
    /// Bytes arrived.
    Data(Conn, Vec<u8>),
    /// `now` reached [`Haproxy::next_timeout`].
    Timeout,
}

/// Requests to the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to `to`.
    Connect {
        /// HAProxy's name for it.
        conn: Conn,
        /// Server address.
        to: SocketAddrV4,
        /// SO_KEEPALIVE (`option tcpka`).
        keepalive: bool,
    },
    /// Turn SO_KEEPALIVE on for an accepted connection (`option tcpka`).
    KeepAlive(Conn),
    /// Write bytes.
    Send(Conn, Vec<u8>),
    /// Close (FIN); no `Closed` input follows.
    Close(Conn),
    /// Reset (RST); no `Closed` input follows.
    Abort(Conn),
    /// A server changed state, as HAProxy logs it.
    ServerState {
        /// Listen section.
        listen: String,
        /// Server.
        server: String,
        /// UP or DOWN.
        up: bool,
    },
}

#[derive(Clone, Debug)]
struct Session {
    listen: usize,
    server: usize,
    client: Conn,
    out: Conn,
    connected: bool,
    attempts: u32,
    connect_deadline: Duration,
    last_activity: Duration,
    pending: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
struct Health {
    up: bool,
    successes: u32,
    failures: u32,
    next_check: Option<Duration>,
    in_flight: Option<(Conn, Duration)>,
}

/// One HAProxy process.
pub struct Haproxy {
    listens: Vec<Listen>,
    health: Vec<Vec<Health>>,
    sessions: BTreeMap<Conn, Session>,
    server_leg: BTreeMap<Conn, Conn>,
    rr: Vec<u64>,
    next_out: u64,
}

mod run;

impl Haproxy {
    /// HAProxy with these `listen` sections; nothing runs until
    /// [`Input::Start`].
    pub fn new(listens: Vec<Listen>) -> Self {
        let health = listens
            .iter()
            .map(|l| {
                let fresh = Health {
                    up: true,
                    successes: 0,
                    failures: 0,
                    next_check: None,
                    in_flight: None,
                };
                vec![fresh; l.servers.len()]
            })
            .collect();
        let rr = vec![0; listens.len()];
        Haproxy {
            listens,
            health,
            sessions: BTreeMap::new(),
            server_leg: BTreeMap::new(),
            rr,
            next_out: 0,
        }
    }

    /// Whether server `server` of listen section `listen` is UP.
    pub fn is_up(&self, listen: &str, server: &str) -> Option<bool> {
        let l = self.listens.iter().position(|x| x.name == listen)?;
        let s = self.listens[l]
            .servers
            .iter()
            .position(|x| x.name == server)?;
        Some(self.health[l][s].up)
    }

    /// Sessions being proxied.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => self.start(now),
            Input::Accepted {
                conn,
                local,
                client,
            } => self.on_accept(now, Conn::In(conn), local, client, &mut out),
            Input::Connected(c) => self.on_connected(now, c, &mut out),
            Input::Closed(c, why) => self.on_closed(now, c, why, &mut out),
            Input::Data(c, bytes) => self.on_data(now, c, bytes, &mut out),
            Input::Timeout => self.on_timeout(now, &mut out),
        }
        out
    }

    /// The earliest check, check deadline, connect deadline or idle timeout.
    pub fn next_timeout(&self) -> Option<Duration> {
        let checks = self
            .health
            .iter()
            .flatten()
            .flat_map(|h| [h.next_check, h.in_flight.map(|f| f.1)])
            .flatten();
        let sessions = self.sessions.values().map(|s| self.session_deadline(s));
        checks.chain(sessions).min()
    }

    fn session_deadline(&self, s: &Session) -> Duration {
        let l = &self.listens[s.listen];
        if s.connected {
            s.last_activity + l.timeout_client.min(l.timeout_server)
        } else {
            s.connect_deadline
        }
    }

    fn start(&mut self, now: Duration) {
        for (l, listen) in self.listens.iter().enumerate() {
            for (s, server) in listen.servers.iter().enumerate() {
                if server.check {
                    self.health[l][s].next_check = Some(now + server.inter);
                }
            }
        }
    }

    fn alloc(&mut self) -> Conn {
        self.next_out += 1;
        Conn::Out(self.next_out)
    }

    fn on_accept(
        &mut self,
        now: Duration,
        client: Conn,
        local: SocketAddrV4,
        peer: SocketAddrV4,
        out: &mut Vec<Action>,
    ) {
        let listen = self.listens.iter().position(|l| {
            l.bind == local || (l.bind.ip().is_unspecified() && l.bind.port() == local.port())
        });
        let Some(l) = listen else {
            return out.push(Action::Abort(client));
        };
        let up: Vec<bool> = self.health[l].iter().map(|h| h.up).collect();
        let Some(server) = choose(
            &self.listens[l].servers,
            &up,
            self.listens[l].balance,
            *peer.ip(),
            &mut self.rr[l],
        ) else {
            return out.push(Action::Abort(client));
        };
        if self.listens[l].tcpka {
            out.push(Action::KeepAlive(client));
        }
        let o = self.alloc();
        let session = Session {
            listen: l,
            server,
            client,
            out: o,
            connected: false,
            attempts: 1,
            connect_deadline: now + self.listens[l].timeout_connect,
            last_activity: now,
            pending: Vec::new(),
        };
        out.push(self.connect_action(&session));
        self.server_leg.insert(o, client);
        self.sessions.insert(client, session);
    }

    fn connect_action(&self, s: &Session) -> Action {
        let l = &self.listens[s.listen];
        Action::Connect {
            conn: s.out,
            to: l.servers[s.server].addr,
            keepalive: l.tcpka,
        }
    }
}

#[cfg(test)]
mod tests;
