//! The data path end to end: an oslo.db-like client, Linux-timed TCP, a VIP
//! and an asynchronous primary/replica database, glued by a minimal driver.
//! The primary's node dies, the VIP moves to the replica's node and the
//! replica is promoted: the client's pooled connection meets an RST, it
//! reconnects to the new primary, and the writes the replica had not
//! received by then are lost (or none, without replication lag).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use hasim_data::checkers::{no_lost_acknowledged_writes, no_stale_reads};
use hasim_data::client::{Client, ClientAction, ClientConfig, ClientInput};
use hasim_data::history::Outcome;
use hasim_data::wire::{LineBuffer, Request};
use hasim_kvdb::{Action, Input, KvNode, Role};
use hasim_tcp::loopback::Net;
use hasim_tcp::{ConnId, Event, HostAction, HostConfig, HostInput, SocketOptions};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DB1: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 11);
const DB2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 12);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

struct World {
    net: Net,
    client: Client,
    slots: BTreeMap<usize, ConnId>,
    dbs: Vec<KvNode>,
    alive: [bool; 2],
    server_bufs: BTreeMap<(usize, ConnId), LineBuffer>,
    seen: usize,
}

impl World {
    fn new(lag: Duration) -> World {
        let mut net = Net::new(Duration::from_micros(100));
        for (i, ip) in [CLIENT, DB1, DB2].into_iter().enumerate() {
            net.add_host(
                HostConfig {
                    secret: i as u64 + 1,
                    ..HostConfig::default()
                },
                ip,
            );
        }
        net.move_address(VIP, 1);
        for h in [1, 2] {
            let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 3306);
            net.listen(h, any, SocketOptions::default()).unwrap();
        }
        let cfg = ClientConfig {
            pool_size: 1,
            read_every: 4,
            ..ClientConfig::oslo_db("c1", 1_000)
        };
        let dbs = vec![
            KvNode::new("db1", Role::Primary, lag),
            KvNode::new(
                "db2",
                Role::Replica {
                    primary: "db1".into(),
                },
                lag,
            ),
        ];
        let mut w = World {
            net,
            client: Client::new(cfg, Duration::ZERO),
            slots: BTreeMap::new(),
            dbs,
            alive: [true, true],
            server_bufs: BTreeMap::new(),
            seen: 0,
        };
        let sub = w.dbs[1].start(Duration::ZERO);
        w.db_actions(1, Duration::ZERO, sub);
        w
    }

    fn next(&self) -> Option<Duration> {
        let dbs = (0..2)
            .filter(|&i| self.alive[i])
            .filter_map(|i| self.dbs[i].next_timeout());
        [self.net.next_event(), self.client.next_timeout()]
            .into_iter()
            .flatten()
            .chain(dbs)
            .min()
    }

    fn run_until(&mut self, end: Duration) {
        while let Some(t) = self.next().filter(|&t| t <= end) {
            self.net.run_until(t);
            self.dispatch_net(t);
            if self.client.next_timeout().is_some_and(|c| c <= t) {
                let a = self.client.handle(t, ClientInput::Timeout);
                self.client_actions(t, a);
            }
            for i in 0..2 {
                if self.alive[i] && self.dbs[i].next_timeout().is_some_and(|d| d <= t) {
                    let a = self.dbs[i].handle(t, Input::Timeout);
                    self.db_actions(i, t, a);
                }
            }
        }
    }

    /// The primary's machine loses power; the VIP moves to the replica's
    /// machine and the replica is promoted (what a cluster manager does).
    fn fail_over(&mut self, now: Duration) {
        self.alive[0] = false;
        self.net.power_off(1);
        self.net.move_address(VIP, 2);
        let a = self.dbs[1].handle(now, Input::SetRole(Role::Primary));
        self.db_actions(1, now, a);
    }

    fn dispatch_net(&mut self, now: Duration) {
        while self.seen < self.net.events.len() {
            let (_, host, action) = self.net.events[self.seen].clone();
            self.seen += 1;
            match (host, action) {
                (0, HostAction::Event(id, e)) => self.client_event(now, id, e),
                (h, HostAction::Event(id, Event::Data(bytes))) if self.alive[h - 1] => {
                    self.server_data(now, h, id, &bytes)
                }
                _ => {}
            }
        }
    }

    fn client_event(&mut self, now: Duration, id: ConnId, e: Event) {
        let Some((&slot, _)) = self.slots.iter().find(|(_, c)| **c == id) else {
            return;
        };
        let input = match e {
            Event::Connected => ClientInput::Connected(slot),
            Event::Data(b) => ClientInput::Data(slot, b),
            Event::Closed(why) => {
                self.slots.remove(&slot);
                ClientInput::Closed(slot, why)
            }
            Event::PeerClosed => return,
        };
        let a = self.client.handle(now, input);
        self.client_actions(now, a);
    }

    fn client_actions(&mut self, now: Duration, actions: Vec<ClientAction>) {
        for a in actions {
            match a {
                ClientAction::Connect(slot) => {
                    let vip = SocketAddrV4::new(VIP, 3306);
                    let id = self
                        .net
                        .connect(0, CLIENT, vip, &SocketOptions::default())
                        .unwrap();
                    self.slots.insert(slot, id);
                }
                ClientAction::Send(slot, bytes) => {
                    if let Some(&id) = self.slots.get(&slot) {
                        self.net.input(0, HostInput::Send(id, bytes));
                    }
                }
                ClientAction::Close(slot) => {
                    if let Some(id) = self.slots.remove(&slot) {
                        self.net.input(0, HostInput::Abort(id));
                    }
                }
            }
        }
        self.dispatch_net(now);
    }

    fn server_data(&mut self, now: Duration, host: usize, id: ConnId, bytes: &[u8]) {
        let lines = self
            .server_bufs
            .entry((host, id))
            .or_default()
            .push(bytes)
            .unwrap();
        for line in lines {
            let req = Request::decode(&line).unwrap();
            let a = self.dbs[host - 1].handle(now, Input::Request(id.0, req));
            self.db_actions(host - 1, now, a);
        }
    }

    fn db_actions(&mut self, db: usize, now: Duration, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Reply(conn, resp) => {
                    self.net
                        .input(db + 1, HostInput::Send(ConnId(conn), resp.encode()));
                }
                Action::Send { to, msg } => {
                    let target = if to == "db1" { 0 } else { 1 };
                    if self.alive[target] && self.alive[db] {
                        let from = self.dbs[db].name().to_string();
                        let more = self.dbs[target].handle(now, Input::Peer { from, msg });
                        self.db_actions(target, now, more);
                    }
                }
            }
        }
    }

    fn history(&self) -> hasim_data::History {
        let mut h = self.client.history().clone();
        h.final_reads = ["k0", "k1", "k2", "k3"]
            .iter()
            .map(|k| (k.to_string(), self.dbs[1].values(k)))
            .collect();
        h.end = self.net.now();
        h
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn scenario(lag: Duration) -> hasim_data::History {
    let mut w = World::new(lag);
    w.run_until(secs(10.0));
    w.fail_over(secs(10.0));
    w.run_until(secs(20.0));
    w.history()
}

#[test]
fn client_reconnects_through_the_rst_and_async_lag_loses_acknowledged_writes() {
    let h = scenario(Duration::from_secs(2));
    let acked_by = |node: &str| {
        h.ops
            .iter()
            .filter(|o| o.acked_at().is_some() && o.node.as_deref() == Some(node))
            .count()
    };
    assert!(
        acked_by("db1") > 50 && acked_by("db2") > 50,
        "db1 {} db2 {}",
        acked_by("db1"),
        acked_by("db2")
    );
    // The pooled connection to the VIP died by RST from the new holder: the
    // checkout ping failed and the client reconnected at once.
    assert_eq!(h.conns.len(), 2);
    assert!(
        matches!(h.conns[0].closed, Some((t, hasim_tcp::CloseReason::Reset)) if t < secs(10.2))
    );
    let s = &hasim_data::summary::per_client(&h)["c1"];
    println!(
        "lag 2 s: {} ops, {} acknowledged ({} by db1, {} by db2), {} failed, {} unknown, {} lost, {} stale",
        s.operations, s.acknowledged, acked_by("db1"), acked_by("db2"), s.failed, s.unknown, s.lost, s.stale
    );
    let lost = no_lost_acknowledged_writes(&h);
    // Writes acknowledged by db1 in its last 2 s were never applied on db2.
    assert!(lost.violations.len() >= 10, "{:?}", lost.violations.len());
    assert!(!no_stale_reads(&h).held());
    assert!(h
        .ops
        .iter()
        .all(|o| !matches!(o.completed, Some((_, Outcome::Unknown(_))))));
}

#[test]
fn without_lag_nothing_acknowledged_is_lost() {
    let h = scenario(Duration::ZERO);
    let lost = no_lost_acknowledged_writes(&h);
    assert!(lost.held(), "{:?}", lost.violations);
    assert!(lost.examined > 100);
    assert!(no_stale_reads(&h).held());
}
