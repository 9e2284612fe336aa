//! Corosync's part of a node: Totem carries the messages of a table of
//! services (votequorum, cpg, the test load's deliveries), and local
//! daemons use cpg and quorum over the in-node channel, as Pacemaker's
//! daemons use libcpg and libquorum.
//!
//! Services share Totem the way corosync's do: every multicast payload
//! starts with a service tag, and deliveries are routed by it.

pub mod cpg;
pub mod load;
pub mod services;
pub mod setup;

pub use load::encode_load;
pub use setup::{totem_config, CorosyncSetup};

use crate::driver::{self, Inputs, Io, Service};
use crate::host::{Configuration, Datagram, Host, NodeEvent};
use crate::local::{Endpoint, Envelope};
use hasim_totem::{ConfKind, Dest, Guarantee, NodeAction, NodeInput, TotemNode};
use load::TestLoad;
use services::{Effect, TotemService};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

/// How often a blocked multicast (flow control, ring not operational) is
/// offered to Totem again, as corosync's clients retry on TRY_AGAIN.
const MCAST_RETRY: Duration = Duration::from_millis(10);

/// The daemon's timers, in the order they fire when due together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Totem's own next deadline.
    Totem,
    /// A service's timer: (tag, id).
    Service(u8, u8),
    /// Offer blocked multicasts again.
    McastRetry,
    /// The test load's next message.
    Load,
}

type DaemonIo<'a> = Io<'a, Timer>;

/// The running daemon's state, between events.
struct Daemon {
    setup: CorosyncSetup,
    totem: TotemNode,
    /// Totem services in tag order.
    services: Vec<Box<dyn TotemService>>,
    load: Option<TestLoad>,
    stored_ring_seq: u64,
    /// Totem packets this node sent to itself (the ring includes the sender).
    loopback: VecDeque<(u8, Vec<u8>)>,
    /// Multicasts Totem refused for now.
    blocked: VecDeque<Vec<u8>>,
}

impl Daemon {
    fn my_address(&self, link: u8) -> Option<Ipv4Addr> {
        self.setup
            .addresses
            .get(&self.setup.node_id)?
            .get(link as usize)
            .copied()
    }

    fn totem(&mut self, io: &mut DaemonIo<'_>, input: NodeInput) {
        let actions = self.totem.handle(io.now(), input);
        io.follow(Timer::Totem, self.totem.poll_timeout());
        for action in actions {
            self.totem_action(io, action);
        }
    }

    fn mcast(&mut self, io: &mut DaemonIo<'_>, payload: Vec<u8>) {
        let guarantee = Guarantee::Agreed;
        self.totem(io, NodeInput::Mcast { guarantee, payload });
    }

    fn totem_action(&mut self, io: &mut DaemonIo<'_>, action: NodeAction) {
        match action {
            NodeAction::Send { to, link, bytes } => self.send(io.host, to, link, bytes),
            NodeAction::Deliver(d) => {
                let Some((&tag, body)) = d.payload.split_first() else {
                    return;
                };
                if let Some(i) = self.services.iter().position(|s| s.tag() == tag) {
                    let effects = self.services[i].deliver(io.now(), &d, body);
                    self.apply(io, tag, effects);
                }
            }
            NodeAction::ConfChg(c) => {
                io.host.report(membership_event(&c));
                for i in 0..self.services.len() {
                    let tag = self.services[i].tag();
                    let effects = self.services[i].confchg(io.now(), &c);
                    self.apply(io, tag, effects);
                }
            }
            NodeAction::StoreRingSeq(seq) => io.host.store("ringid", seq.to_be_bytes().to_vec()),
            NodeAction::McastRejected { payload } => {
                self.blocked.push_back(payload);
                if io.timer(Timer::McastRetry).is_none() {
                    io.set_timer(Timer::McastRetry, io.now() + MCAST_RETRY);
                }
            }
            NodeAction::Link(change) => io.host.report(NodeEvent::Log {
                text: format!("link: {change:?}"),
            }),
            NodeAction::Log { level, text } => {
                tracing::debug!(node = self.setup.node_id, ?level, "{text}");
            }
        }
    }

    /// Carry out what service `tag` asked for, in order.
    fn apply(&mut self, io: &mut DaemonIo<'_>, tag: u8, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Mcast(body) => {
                    let mut payload = Vec::with_capacity(body.len() + 1);
                    payload.push(tag);
                    payload.extend_from_slice(&body);
                    self.mcast(io, payload);
                }
                Effect::Report(event) => io.host.report(event),
                Effect::Store(key, value) => io.host.store(key, value),
                Effect::SetTimer(id, at) => io.set_timer(Timer::Service(tag, id), at),
                Effect::CancelTimer(id) => io.cancel_timer(Timer::Service(tag, id)),
                Effect::ToClient(to, message) => {
                    // A client that went away misses its callback, as with libcpg.
                    let _ = io.send_local(&to, message);
                }
            }
        }
    }

    /// Put a Totem packet on the wire; the ring includes the sender, so a
    /// packet to the ring or to this node is also fed back (loopback).
    fn send(&mut self, host: &dyn Host, to: Dest, link: u8, bytes: Vec<u8>) {
        let Some(me) = self.my_address(link) else {
            return;
        };
        let src = SocketAddrV4::new(me, self.setup.port);
        let port = self.setup.port;
        match to {
            Dest::Ring => {
                self.loopback.push_back((link, bytes.clone()));
                self.send_ring(host, src, link, bytes);
            }
            Dest::Node(id) if id == self.setup.node_id => self.loopback.push_back((link, bytes)),
            Dest::Node(id) => {
                let addr = self
                    .setup
                    .addresses
                    .get(&id)
                    .and_then(|a| a.get(link as usize));
                if let Some(addr) = addr {
                    host.send(src, SocketAddrV4::new(*addr, port), bytes);
                }
            }
        }
    }

    /// To the link's multicast group, or (udpu, knet) to every other node.
    fn send_ring(&self, host: &dyn Host, src: SocketAddrV4, link: u8, bytes: Vec<u8>) {
        let port = self.setup.port;
        if let Some(Some(group)) = self.setup.mcast.get(link as usize) {
            host.send(src, SocketAddrV4::new(*group, port), bytes);
            return;
        }
        for (&id, addrs) in &self.setup.addresses {
            if id == self.setup.node_id {
                continue;
            }
            if let Some(addr) = addrs.get(link as usize) {
                host.send(src, SocketAddrV4::new(*addr, port), bytes.clone());
            }
        }
    }

    fn link_of(&self, d: &Datagram) -> Option<u8> {
        let dst = *d.dst.ip();
        let mine = self.setup.addresses.get(&self.setup.node_id)?;
        if let Some(link) = mine.iter().position(|a| *a == dst) {
            return Some(link as u8);
        }
        self.setup
            .mcast
            .iter()
            .position(|g| *g == Some(dst))
            .map(|l| l as u8)
    }
}

/// How a Totem configuration change is reported.
fn membership_event(c: &hasim_totem::ConfChg) -> NodeEvent {
    NodeEvent::Membership {
        configuration: match c.kind {
            ConfKind::Transitional => Configuration::Transitional,
            ConfKind::Regular => Configuration::Regular,
        },
        ring: format!("{}", c.ring_id),
        members: c.members.clone(),
        left: c.left.clone(),
        joined: c.joined.clone(),
    }
}

impl Service for Daemon {
    type Timer = Timer;

    fn start(&mut self, io: &mut DaemonIo<'_>) {
        for line in &self.setup.startup_log {
            tracing::debug!(node = self.setup.node_id, "{line}");
        }
        if let Some(load) = &self.load {
            io.set_timer(Timer::Load, load.next());
        }
        for i in 0..self.services.len() {
            let tag = self.services[i].tag();
            let effects = self.services[i].start(io.now());
            self.apply(io, tag, effects);
        }
        let stored_ring_seq = self.stored_ring_seq;
        self.totem(io, NodeInput::Start { stored_ring_seq });
    }

    fn datagram(&mut self, io: &mut DaemonIo<'_>, d: Datagram) {
        if let Some(link) = self.link_of(&d) {
            let bytes = d.payload;
            self.totem(io, NodeInput::Packet { link, bytes });
        }
    }

    fn message(&mut self, io: &mut DaemonIo<'_>, envelope: Envelope) {
        for i in 0..self.services.len() {
            let tag = self.services[i].tag();
            if let Some(effects) = self.services[i].request(io.now(), &envelope) {
                self.apply(io, tag, effects);
                return;
            }
        }
    }

    fn timer(&mut self, io: &mut DaemonIo<'_>, timer: Timer) {
        match timer {
            Timer::Totem => self.totem(io, NodeInput::Timeout),
            Timer::Service(tag, id) => {
                if let Some(i) = self.services.iter().position(|s| s.tag() == tag) {
                    let effects = self.services[i].timer(io.now(), id);
                    self.apply(io, tag, effects);
                }
            }
            Timer::McastRetry => {
                let blocked: Vec<Vec<u8>> = self.blocked.drain(..).collect();
                for payload in blocked {
                    self.mcast(io, payload);
                }
            }
            Timer::Load => self.load_tick(io),
        }
    }

    /// Feed back what this node sent to itself, until nothing is left.
    fn settle(&mut self, io: &mut DaemonIo<'_>) {
        while let Some((link, bytes)) = self.loopback.pop_front() {
            self.totem(io, NodeInput::Packet { link, bytes });
        }
    }
}

impl Daemon {
    fn load_tick(&mut self, io: &mut DaemonIo<'_>) {
        let Some(load) = &mut self.load else {
            return;
        };
        let effects = load.tick(io.now());
        io.set_timer(Timer::Load, load.next());
        self.apply(io, load::SERVICE_LOAD, effects);
    }
}

/// Run corosync (Totem and its services) until the node goes away.
/// `endpoint` is corosync's end of the in-node channel, through which local
/// daemons use cpg and quorum.
pub async fn run(
    host: Arc<dyn Host>,
    setup: CorosyncSetup,
    endpoint: Option<Endpoint>,
) -> std::io::Result<()> {
    let datagrams = host.bind(setup.port)?;
    let stored_ring_seq = host
        .load("ringid")
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    let services: Vec<Box<dyn TotemService>> = vec![
        Box::new(services::Votequorum::new(
            setup.node_id,
            setup.quorum.clone(),
        )),
        Box::new(cpg::CpgService::new(setup.node_id)),
        Box::new(load::LoadDeliveries),
    ];
    let load = setup
        .load_interval
        .map(|i| TestLoad::new(setup.node_id, setup.boot_epoch, i, Duration::ZERO));
    let mut daemon = Daemon {
        totem: TotemNode::with_quirks(setup.totem.clone(), setup.quirks),
        setup,
        services,
        load,
        stored_ring_seq,
        loopback: VecDeque::new(),
        blocked: VecDeque::new(),
    };
    let inputs = Inputs {
        streams: None,
        datagrams: Some(datagrams),
        local: endpoint.map(|e| (e.board, e.name, e.inbox)),
        stop: None,
    };
    driver::run(&mut daemon, host, inputs).await;
    Ok(())
}
