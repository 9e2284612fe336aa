//! The key-value database server (`hasim-kvdb`) as a node daemon: clients
//! reach it over TCP with the `hasim-data` line protocol; replication
//! between servers travels as datagrams on [`REPLICATION_PORT`].
//!
//! A replica subscribes again every [`RESUBSCRIBE`]: a replication message
//! lost in a partition is then fetched once the network heals, as MySQL's
//! IO thread reconnects and resumes from its last position.
//!
//! The role may follow keepalived: with `follow_vip`, the daemon looks at
//! the VIP every [`WATCH`] and acts on each change as keepalived's
//! `notify_master` / `notify_backup` scripts would (promote the local
//! database; make it a replica of its peer). Only changes count, so a node
//! that never held the VIP keeps its configured role.

use crate::driver::{self, Inputs, Io, Service};
use crate::host::{Datagram, Host, NodeEvent, StreamEvent, StreamId};
use hasim_data::wire::{LineBuffer, Request};
use hasim_kvdb::{Action, Entry, Input, KvNode, Msg, Role};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

/// Replication datagrams between database servers.
pub const REPLICATION_PORT: u16 = 3307;
/// How often a replica asks its primary for what it lacks.
pub const RESUBSCRIBE: Duration = Duration::from_secs(2);
/// How often the VIP is looked at when the role follows keepalived.
pub const WATCH: Duration = Duration::from_millis(500);

/// One server's configuration.
#[derive(Clone, Debug)]
pub struct KvdbSetup {
    pub name: String,
    /// The node's own address (replication source).
    pub address: Ipv4Addr,
    pub port: u16,
    pub role: Role,
    pub lag: Duration,
    /// Every database server's name and address.
    pub peers: BTreeMap<String, Ipv4Addr>,
    /// `(vip, peer)`: follow keepalived's notify scripts for this VIP.
    pub follow_vip: Option<(Ipv4Addr, String)>,
}

/// The socket options of a MySQL/MariaDB server's client connections:
/// mysqld turns SO_KEEPALIVE on for every TCP client (vio_keepalive when
/// it checks a new connection) and leaves the timers to the node's sysctls
/// unless its tcp_keepalive_* variables are set. So a server socket whose
/// client died goes after tcp_keepalive_time + probes x intvl: two hours
/// and more with Linux's defaults, under a minute with Fuel's.
pub fn mysqld_client_sockets() -> hasim_tcp::SocketOptions {
    hasim_tcp::SocketOptions {
        keepalive: true,
        ..hasim_tcp::SocketOptions::default()
    }
}

/// Run the server until the node goes away.
pub async fn run(host: Arc<dyn Host>, setup: KvdbSetup) -> std::io::Result<()> {
    let datagrams = host.bind(REPLICATION_PORT)?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, setup.port);
    host.listen(any, mysqld_client_sockets(), tx)?;
    let mut server = Server {
        node: KvNode::new(&setup.name, setup.role.clone(), setup.lag),
        setup,
        conns: BTreeMap::new(),
        held: None,
    };
    let inputs = Inputs {
        datagrams: Some(datagrams),
        local: None,
        streams: Some(rx),
        stop: None,
    };
    driver::run(&mut server, host, inputs).await;
    Ok(())
}

struct Server {
    node: KvNode,
    setup: KvdbSetup,
    conns: BTreeMap<StreamId, LineBuffer>,
    /// Whether the followed VIP was held at the last look.
    held: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Apply,
    Resubscribe,
    Watch,
}

impl Service for Server {
    type Timer = Timer;

    fn start(&mut self, io: &mut Io<'_, Timer>) {
        let actions = self.node.start(io.now());
        self.apply(io, actions);
        io.set_timer(Timer::Resubscribe, io.now() + RESUBSCRIBE);
        if self.setup.follow_vip.is_some() {
            io.set_timer(Timer::Watch, io.now() + WATCH);
        }
    }

    fn datagram(&mut self, io: &mut Io<'_, Timer>, d: Datagram) {
        let Some(from) = self.peer_named(*d.src.ip()) else {
            return;
        };
        match decode(&d.payload) {
            Ok(msg) => {
                let actions = self.node.handle(io.now(), Input::Peer { from, msg });
                self.apply(io, actions);
            }
            Err(e) => io.host.report(NodeEvent::Log {
                text: format!("kvdb: bad replication message from {from}: {e}"),
            }),
        }
    }

    fn stream(&mut self, io: &mut Io<'_, Timer>, event: StreamEvent) {
        match event {
            StreamEvent::Accepted { conn, .. } => {
                self.conns.insert(conn, LineBuffer::default());
            }
            StreamEvent::Data(conn, bytes) => self.on_data(io, conn, &bytes),
            StreamEvent::PeerClosed(conn) => {
                self.conns.remove(&conn);
                io.host.stream_close(conn);
            }
            StreamEvent::Closed(conn, _) => {
                self.conns.remove(&conn);
            }
            StreamEvent::Connected(_) => {}
        }
    }

    fn timer(&mut self, io: &mut Io<'_, Timer>, timer: Timer) {
        match timer {
            Timer::Apply => {
                let actions = self.node.handle(io.now(), Input::Timeout);
                self.apply(io, actions);
            }
            Timer::Resubscribe => {
                if matches!(self.node.role(), Role::Replica { .. }) {
                    let actions = self.node.start(io.now());
                    self.apply(io, actions);
                }
                io.set_timer(Timer::Resubscribe, io.now() + RESUBSCRIBE);
            }
            Timer::Watch => {
                self.watch(io);
                io.set_timer(Timer::Watch, io.now() + WATCH);
            }
        }
    }

    fn settle(&mut self, io: &mut Io<'_, Timer>) {
        io.follow(Timer::Apply, self.node.next_timeout());
    }
}

impl Server {
    fn peer_named(&self, ip: Ipv4Addr) -> Option<String> {
        self.setup
            .peers
            .iter()
            .find(|(_, a)| **a == ip)
            .map(|(n, _)| n.clone())
    }

    /// Requests on one connection; a line that is not a request aborts it
    /// (as a server drops a client that breaks the protocol).
    fn on_data(&mut self, io: &mut Io<'_, Timer>, conn: StreamId, bytes: &[u8]) {
        let Some(buf) = self.conns.get_mut(&conn) else {
            return;
        };
        let lines = buf.push(bytes);
        let requests: Result<Vec<Request>, String> =
            lines.and_then(|ls| ls.iter().map(|l| Request::decode(l)).collect());
        match requests {
            Ok(reqs) => {
                for req in reqs {
                    let actions = self.node.handle(io.now(), Input::Request(conn, req));
                    self.apply(io, actions);
                }
            }
            Err(e) => {
                io.host.report(NodeEvent::Log {
                    text: format!("kvdb: aborting client connection: {e}"),
                });
                self.conns.remove(&conn);
                io.host.stream_abort(conn);
            }
        }
    }

    /// keepalived's notify scripts, on a change of VIP ownership.
    fn watch(&mut self, io: &mut Io<'_, Timer>) {
        let Some((vip, peer)) = self.setup.follow_vip.clone() else {
            return;
        };
        let holds = io.host.holds_address(vip);
        let changed = self.held.is_some_and(|h| h != holds);
        self.held = Some(holds);
        if !changed {
            return;
        }
        let role = if holds {
            Role::Primary
        } else {
            Role::Replica { primary: peer }
        };
        if *self.node.role() == role {
            return;
        }
        io.host.report(NodeEvent::Log {
            text: format!("kvdb {}: notify sets role {role:?}", self.setup.name),
        });
        let actions = self.node.handle(io.now(), Input::SetRole(role));
        self.apply(io, actions);
    }

    fn apply(&mut self, io: &mut Io<'_, Timer>, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Reply(conn, resp) => io.host.stream_send(conn, resp.encode()),
                Action::Send { to, msg } => {
                    let Some(&dst) = self.setup.peers.get(&to) else {
                        continue;
                    };
                    io.host.send(
                        SocketAddrV4::new(self.setup.address, REPLICATION_PORT),
                        SocketAddrV4::new(dst, REPLICATION_PORT),
                        encode(&msg),
                    );
                }
            }
        }
    }
}

/// `S origin:n ...` or `E origin:n:key:value ...`.
pub fn encode(msg: &Msg) -> Vec<u8> {
    let mut out = String::new();
    match msg {
        Msg::Subscribe { have } => {
            out.push('S');
            for (origin, n) in have {
                out.push_str(&format!(" {origin}:{n}"));
            }
        }
        Msg::Entries(entries) => {
            out.push('E');
            for e in entries {
                out.push_str(&format!(" {}:{}:{}:{}", e.origin, e.n, e.key, e.value));
            }
        }
    }
    out.into_bytes()
}

/// The inverse of [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Msg, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let mut words = text.split(' ');
    let num = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("`{s}`: expected a number"))
    };
    match words.next() {
        Some("S") => {
            let mut have = BTreeMap::new();
            for w in words {
                let (origin, n) = w
                    .rsplit_once(':')
                    .ok_or(format!("`{w}`: expected origin:n"))?;
                have.insert(origin.to_string(), num(n)?);
            }
            Ok(Msg::Subscribe { have })
        }
        Some("E") => {
            let mut entries = Vec::new();
            for w in words {
                let f: Vec<&str> = w.split(':').collect();
                let [origin, n, key, value] = f.as_slice() else {
                    return Err(format!("`{w}`: expected origin:n:key:value"));
                };
                entries.push(Entry {
                    origin: origin.to_string(),
                    n: num(n)?,
                    key: key.to_string(),
                    value: num(value)?,
                });
            }
            Ok(Msg::Entries(entries))
        }
        _ => Err("expected `S` or `E` first".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_messages_round_trip() {
        let have = BTreeMap::from([("db1".to_string(), 4), ("db2".to_string(), 9)]);
        let s = Msg::Subscribe { have };
        assert_eq!(decode(&encode(&s)), Ok(s));
        let e = Msg::Entries(vec![Entry {
            origin: "db1".into(),
            n: 3,
            key: "k1".into(),
            value: 1_000_007,
        }]);
        assert_eq!(decode(&encode(&e)), Ok(e));
        assert_eq!(
            decode(&encode(&Msg::Entries(vec![]))),
            Ok(Msg::Entries(vec![]))
        );
    }

    #[test]
    fn bad_replication_messages_are_refused() {
        assert!(decode(b"X").is_err());
        assert!(decode(b"E db1:x:k:1").is_err());
        assert!(decode(b"S db1").is_err());
        assert!(decode(&[0xff]).is_err());
    }
}
