//! Clients: workloads outside the cluster that talk to its services
//! through virtual IPs and record every operation's outcome as an event.
//!
//! Today one workload exists, a ping: one request per interval to the
//! target, waiting up to a timeout for the answer, recording who answered.
//! Clients never lose power, so they talk to the fabric directly rather
//! than through a node's `Host`.

use crate::context::Shared;
use crate::scenario::Client;
use crate::trace::Event;
use hasim_node::responder;
use hasim_node::Inbox;
use madsim::runtime::Handle;
use madsim::task::NodeId;
use std::net::SocketAddrV4;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// The port clients send from.
const CLIENT_PORT: u16 = 40000;

/// One client's end of the network.
struct ClientPort {
    shared: Shared,
    index: usize,
    name: String,
    src: SocketAddrV4,
}

impl ClientPort {
    fn bind(&self) -> std::io::Result<Inbox> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut world = self.shared.world.at(self.shared.now());
        world.bind(self.index, 0, CLIENT_PORT, tx)?;
        Ok(rx)
    }

    fn send(&self, dst: SocketAddrV4, payload: Vec<u8>) {
        let mut world = self.shared.world.at(self.shared.now());
        if world.hosts[self.index].incarnation != 0 {
            return;
        }
        let deliveries = world.send(self.index, self.src, dst, payload);
        drop(world);
        self.shared.schedule(deliveries);
    }

    fn record(&self, event: Event) {
        self.shared.world.at(self.shared.now()).record(event);
    }
}

/// Start every client of the scenario, each on its own madsim node; returns
/// the nodes.
pub fn spawn(shared: &Shared, clients: &[Client]) -> Vec<NodeId> {
    let handle = Handle::current();
    let mut nodes = Vec::new();
    for client in clients {
        if client.workload != crate::scenario::Workload::Ping {
            continue;
        }
        let name = client.name.get_ref().clone();
        let Some(index) = shared.world.at(shared.now()).host_index(&name) else {
            continue;
        };
        let port = ClientPort {
            shared: shared.clone(),
            index,
            name: name.clone(),
            src: SocketAddrV4::new(client.address, CLIENT_PORT),
        };
        let (target, interval, timeout) = (client.target, client.interval, client.timeout);
        let node = handle.create_node().name(name).build();
        node.spawn(ping(port, target, interval, timeout));
        nodes.push(node.id());
    }
    nodes
}

/// The ping workload.
async fn ping(port: ClientPort, target: SocketAddrV4, interval: Duration, timeout: Duration) {
    let Ok(mut inbox) = port.bind() else {
        return;
    };
    let mut next = Instant::now();
    let mut id: u64 = 0;
    loop {
        sleep_until(next).await;
        id += 1;
        let sent_at = Instant::now();
        port.record(Event::Request {
            client: port.name.clone(),
            id,
        });
        port.send(target, id.to_be_bytes().to_vec());
        if !await_answer(&port, &mut inbox, id, sent_at + timeout, sent_at).await {
            return;
        }
        next += interval;
        next = next.max(Instant::now());
    }
}

/// Wait for the answer to request `id` until `deadline`, recording it or its
/// timeout. False when the inbox is gone.
async fn await_answer(
    port: &ClientPort,
    inbox: &mut Inbox,
    id: u64,
    deadline: Instant,
    sent_at: Instant,
) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, inbox.recv()).await {
            Ok(Some(reply)) => {
                let Some((reply_id, by)) = responder::decode_reply(&reply.payload) else {
                    continue;
                };
                if reply_id != id {
                    continue; // a late answer to an earlier request
                }
                let rtt_us = (Instant::now() - sent_at).as_micros() as u64;
                port.record(Event::Answer {
                    client: port.name.clone(),
                    id,
                    by,
                    rtt_us,
                });
                return true;
            }
            Ok(None) => return false,
            Err(_) => {
                port.record(Event::Timeout {
                    client: port.name.clone(),
                    id,
                });
                return true;
            }
        }
    }
}
