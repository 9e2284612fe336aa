//! Corosync's part of a node: Totem carries votequorum's messages and an
//! optional test load, all wired to the machine through [`Host`].
//!
//! Services share Totem the way corosync's do: every multicast payload
//! starts with a service tag, and deliveries are routed by it.

use crate::host::{Datagram, Host, NodeEvent};
use hasim_corosync_conf::{CorosyncConf, Transport};
use hasim_totem::{
    ConfKind, Dest, Guarantee, NodeAction, NodeInput, NodeSetup, TotemConfig, TotemNode,
};
use hasim_votequorum as vq;
use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// Service tags at the start of every Totem payload.
const SERVICE_VOTEQUORUM: u8 = 5;
const SERVICE_LOAD: u8 = 0x70;

/// How often a blocked multicast (flow control, ring not operational) is
/// offered to Totem again, as corosync's clients retry on TRY_AGAIN.
const MCAST_RETRY: Duration = Duration::from_millis(10);

/// Everything one corosync node runs with.
#[derive(Debug, Clone)]
pub struct CorosyncSetup {
    pub node_id: u32,
    pub totem: NodeSetup,
    pub quorum: vq::Config,
    /// Node id -> address per link (index = link number).
    pub addresses: BTreeMap<u32, Vec<Ipv4Addr>>,
    /// Multicast group per link, when the transport is `udp`.
    pub mcast: Vec<Option<Ipv4Addr>>,
    pub port: u16,
    /// Multicast a test message this often (agreed-order checking load).
    pub load_interval: Option<Duration>,
    /// What corosync would log at startup about its timers and quorum.
    pub startup_log: Vec<String>,
    /// Which of corosync 3.1.7's known Totem deviations to reproduce
    /// (default: all of them, as the real corosync behaves).
    pub quirks: hasim_totem::srp::Quirks,
    /// Grows with every start of the node; part of every test message's
    /// identity, so a rebooted node's counter starting again at 1 is new.
    pub boot_epoch: u64,
}

/// Map corosync.conf's raw totem keys onto the Totem core's configuration.
pub fn totem_config(conf: &CorosyncConf) -> TotemConfig {
    let t = &conf.totem;
    TotemConfig {
        token: t.token,
        token_coefficient: t.token_coefficient,
        token_retransmits_before_loss_const: t.token_retransmits_before_loss_const,
        token_retransmit: t.token_retransmit,
        token_warning: t.token_warning,
        hold: t.hold,
        join: t.join,
        send_join: t.send_join,
        consensus: t.consensus,
        merge: t.merge,
        downcheck: t.downcheck,
        fail_recv_const: t.fail_recv_const,
        seqno_unchanged_const: t.seqno_unchanged_const,
        max_network_delay: t.max_network_delay,
        window_size: t.window_size,
        max_messages: t.max_messages,
        miss_count_const: t.miss_count_const,
        heartbeat_failures_allowed: t.heartbeat_failures_allowed,
        netmtu: t.netmtu,
    }
}

/// The secauth key hasim uses when a config enables crypto. Real corosync
/// reads /etc/corosync/authkey; every node of a simulated cluster shares
/// this one, derived from the cluster name so distinct clusters differ.
fn authkey(conf: &CorosyncConf) -> Vec<u8> {
    let name = conf.totem.cluster_name.clone().unwrap_or_default();
    let mut key = b"hasim-authkey:".to_vec();
    key.extend_from_slice(name.as_bytes());
    key.resize(128, 0x5a);
    key
}

fn crypto_enabled(conf: &CorosyncConf) -> bool {
    use hasim_corosync_conf::CryptoCipher;
    matches!(conf.totem.crypto_cipher, Some(c) if c != CryptoCipher::None)
        || conf.totem.secauth == Some(true)
}

impl CorosyncSetup {
    /// Derive a node's setup from a parsed corosync.conf, as corosync does at
    /// startup. `boot_epoch` must grow with every start of the node.
    pub fn from_conf(conf: &CorosyncConf, node_id: u32, boot_epoch: u64) -> Result<Self, String> {
        let mut addresses = BTreeMap::new();
        for node in &conf.nodelist {
            let Some(id) = node.nodeid else {
                return Err(format!(
                    "node at line {} has no nodeid (hasim needs explicit nodeids)",
                    node.line
                ));
            };
            let mut links = Vec::new();
            for (link, addr) in &node.ring_addrs {
                let ip: Ipv4Addr = addr
                    .parse()
                    .map_err(|_| format!("node {id}: ring{link}_addr `{addr}` is not an IPv4 address (hasim does not resolve names)"))?;
                if *link as usize != links.len() {
                    return Err(format!(
                        "node {id}: ring{link}_addr without ring{}_addr",
                        links.len()
                    ));
                }
                links.push(ip);
            }
            addresses.insert(id, links);
        }
        if !addresses.contains_key(&node_id) {
            return Err(format!("nodeid {node_id} is not in the nodelist"));
        }
        let link_count = addresses.values().map(Vec::len).min().unwrap_or(0);
        if link_count == 0 {
            return Err("the nodelist has no ring0_addr".into());
        }
        let raw = totem_config(conf);
        let timers = raw.effective(addresses.len());
        timers.validate().map_err(|e| e.to_string())?;
        let loaded = vq::from_corosync(conf, node_id, 0).map_err(|e| e.to_string())?;
        let multicast = matches!(conf.totem.transport, Some(Transport::Udp));
        let mcast = (0..link_count)
            .map(|link| {
                if !multicast {
                    return None;
                }
                conf.totem
                    .interfaces
                    .iter()
                    .find(|i| i.link() as usize == link)
                    .and_then(|i| i.mcastaddr.as_deref())
                    .and_then(|a| a.parse().ok())
                    .or(Some(Ipv4Addr::new(239, 192, 0, 1 + link as u8)))
            })
            .collect();
        let port = conf
            .totem
            .interfaces
            .iter()
            .find_map(|i| i.mcastport)
            .unwrap_or(5405);
        let mut startup_log = timers.startup_log_lines();
        startup_log.extend(loaded.notices.iter().cloned());
        Ok(CorosyncSetup {
            node_id,
            totem: NodeSetup {
                node_id,
                nodelist: addresses.keys().copied().collect(),
                timers,
                links: link_count as u8,
                secauth: crypto_enabled(conf).then(|| (authkey(conf), boot_epoch)),
            },
            quorum: loaded.config,
            addresses,
            mcast,
            port,
            load_interval: None,
            startup_log,
            quirks: hasim_totem::srp::Quirks::corosync(),
            boot_epoch,
        })
    }
}

/// Encode a load message: who sent it, in which boot, and its counter.
pub fn encode_load(node: u32, boot: u64, counter: u64) -> Vec<u8> {
    let mut p = vec![SERVICE_LOAD];
    p.extend_from_slice(&node.to_be_bytes());
    p.extend_from_slice(&boot.to_be_bytes());
    p.extend_from_slice(&counter.to_be_bytes());
    p
}

fn decode_load(payload: &[u8]) -> Option<(u32, u64, u64)> {
    if payload.first() != Some(&SERVICE_LOAD) || payload.len() != 21 {
        return None;
    }
    let node = u32::from_be_bytes(payload[1..5].try_into().ok()?);
    let boot = u64::from_be_bytes(payload[5..13].try_into().ok()?);
    let counter = u64::from_be_bytes(payload[13..21].try_into().ok()?);
    Some((node, boot, counter))
}

/// The running daemon's state, between events.
struct Daemon {
    host: Arc<dyn Host>,
    setup: CorosyncSetup,
    totem: TotemNode,
    quorum: vq::Votequorum,
    origin: Instant,
    /// Totem packets this node sent to itself (the ring includes the sender).
    loopback: VecDeque<(u8, Vec<u8>)>,
    /// Multicasts Totem refused for now.
    blocked: VecDeque<Vec<u8>>,
    retry_at: Option<Duration>,
    quorum_timers: BTreeMap<vq::Timer, Duration>,
    load_counter: u64,
    next_load: Option<Duration>,
}

impl Daemon {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn my_address(&self, link: u8) -> Option<Ipv4Addr> {
        self.setup
            .addresses
            .get(&self.setup.node_id)?
            .get(link as usize)
            .copied()
    }

    fn totem(&mut self, input: NodeInput) {
        let now = self.now();
        let actions = self.totem.handle(now, input);
        for action in actions {
            self.totem_action(action);
        }
    }

    fn totem_action(&mut self, action: NodeAction) {
        match action {
            NodeAction::Send { to, link, bytes } => self.send(to, link, bytes),
            NodeAction::Deliver(d) => {
                if d.payload.first() == Some(&SERVICE_VOTEQUORUM) {
                    if let Ok(msg) = vq::Message::decode(&d.payload[1..]) {
                        self.quorum_input(vq::Input::Message {
                            from: d.sender,
                            msg,
                        });
                    }
                } else if let Some((sender, boot, counter)) = decode_load(&d.payload) {
                    self.host.report(NodeEvent::TotemDeliver {
                        sender,
                        boot,
                        counter,
                        ring: format!("{}", d.ring_id),
                        seq: d.seq,
                    });
                }
            }
            NodeAction::ConfChg(c) => {
                self.host.report(NodeEvent::Membership {
                    configuration: match c.kind {
                        ConfKind::Transitional => "transitional".into(),
                        ConfKind::Regular => "regular".into(),
                    },
                    ring: format!("{}", c.ring_id),
                    members: c.members.clone(),
                    left: c.left.clone(),
                    joined: c.joined.clone(),
                });
                if c.kind == ConfKind::Regular {
                    let ring_id = vq::RingId {
                        rep: c.ring_id.rep,
                        seq: c.ring_id.seq,
                    };
                    self.quorum_input(vq::Input::Membership {
                        members: c.members,
                        ring_id,
                    });
                }
            }
            NodeAction::StoreRingSeq(seq) => self.host.store("ringid", seq.to_be_bytes().to_vec()),
            NodeAction::McastRejected { payload } => {
                self.blocked.push_back(payload);
                self.retry_at
                    .get_or_insert(self.origin.elapsed() + MCAST_RETRY);
            }
            NodeAction::Link(change) => self.host.report(NodeEvent::Log {
                text: format!("link: {change:?}"),
            }),
            NodeAction::Log { level, text } => {
                tracing::debug!(node = self.setup.node_id, ?level, "{text}");
            }
        }
    }

    fn send(&mut self, to: Dest, link: u8, bytes: Vec<u8>) {
        let Some(me) = self.my_address(link) else {
            return;
        };
        let src = SocketAddrV4::new(me, self.setup.port);
        match to {
            Dest::Ring => {
                self.loopback.push_back((link, bytes.clone()));
                if let Some(Some(group)) = self.setup.mcast.get(link as usize) {
                    self.host
                        .send(src, SocketAddrV4::new(*group, self.setup.port), bytes);
                } else {
                    for (&id, addrs) in &self.setup.addresses {
                        if id == self.setup.node_id {
                            continue;
                        }
                        if let Some(addr) = addrs.get(link as usize) {
                            self.host.send(
                                src,
                                SocketAddrV4::new(*addr, self.setup.port),
                                bytes.clone(),
                            );
                        }
                    }
                }
            }
            Dest::Node(id) if id == self.setup.node_id => self.loopback.push_back((link, bytes)),
            Dest::Node(id) => {
                if let Some(addr) = self
                    .setup
                    .addresses
                    .get(&id)
                    .and_then(|a| a.get(link as usize))
                {
                    self.host
                        .send(src, SocketAddrV4::new(*addr, self.setup.port), bytes);
                }
            }
        }
    }

    fn quorum_input(&mut self, input: vq::Input) {
        let now = self.now();
        for action in self.quorum.handle(now, input) {
            match action {
                vq::Action::Broadcast(msg) => {
                    let mut payload = vec![SERVICE_VOTEQUORUM];
                    payload.extend_from_slice(&msg.encode());
                    self.totem(NodeInput::Mcast {
                        guarantee: Guarantee::Agreed,
                        payload,
                    });
                }
                vq::Action::SetTimer { timer, at } => {
                    self.quorum_timers.insert(timer, at);
                }
                vq::Action::CancelTimer(timer) => {
                    self.quorum_timers.remove(&timer);
                }
                vq::Action::QuorumChanged(r) => self.host.report(NodeEvent::Quorum {
                    quorate: r.quorate,
                    total_votes: r.total_votes,
                    expected_votes: r.expected_votes,
                    quorum: r.quorum,
                    members: r.members,
                }),
                vq::Action::PersistEvTrackingBarrier(v) => {
                    self.host.store("ev_tracking", v.to_be_bytes().to_vec())
                }
                vq::Action::Rejected(text) | vq::Action::Log(text) => {
                    tracing::debug!(node = self.setup.node_id, "votequorum: {text}");
                }
            }
        }
    }

    /// Feed back what this node sent to itself, until nothing is left.
    fn drain_loopback(&mut self) {
        while let Some((link, bytes)) = self.loopback.pop_front() {
            self.totem(NodeInput::Packet { link, bytes });
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        [self.totem.poll_timeout(), self.retry_at, self.next_load]
            .into_iter()
            .chain(self.quorum_timers.values().map(|t| Some(*t)))
            .flatten()
            .min()
    }

    fn on_timers(&mut self) {
        let now = self.now();
        if self.totem.poll_timeout().is_some_and(|t| t <= now) {
            self.totem(NodeInput::Timeout);
        }
        let due: Vec<vq::Timer> = self
            .quorum_timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(t, _)| *t)
            .collect();
        for timer in due {
            self.quorum_timers.remove(&timer);
            self.quorum_input(vq::Input::TimerExpired(timer));
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            let blocked: Vec<Vec<u8>> = self.blocked.drain(..).collect();
            for payload in blocked {
                self.totem(NodeInput::Mcast {
                    guarantee: Guarantee::Agreed,
                    payload,
                });
            }
        }
        // Timers wake late under load; send every message that is due.
        while let (Some(at), Some(interval)) = (self.next_load, self.setup.load_interval) {
            if at > now {
                break;
            }
            self.load_counter += 1;
            let payload = encode_load(self.setup.node_id, self.setup.boot_epoch, self.load_counter);
            self.host.report(NodeEvent::TotemSent {
                counter: self.load_counter,
            });
            self.totem(NodeInput::Mcast {
                guarantee: Guarantee::Agreed,
                payload,
            });
            self.next_load = Some(at + interval);
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

/// Run corosync (Totem + votequorum) until the node goes away.
pub async fn run(host: Arc<dyn Host>, setup: CorosyncSetup) -> std::io::Result<()> {
    let mut inbox = host.bind(setup.port)?;
    let stored_ring_seq = host
        .load("ringid")
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    let origin = Instant::now();
    let mut daemon = Daemon {
        totem: TotemNode::with_quirks(setup.totem.clone(), setup.quirks),
        quorum: vq::Votequorum::new(setup.node_id),
        next_load: setup.load_interval.map(|i| origin.elapsed() + i),
        host,
        setup,
        origin,
        loopback: VecDeque::new(),
        blocked: VecDeque::new(),
        retry_at: None,
        quorum_timers: BTreeMap::new(),
        load_counter: 0,
    };
    for line in daemon.setup.startup_log.clone() {
        tracing::debug!(node = daemon.setup.node_id, "{line}");
    }
    daemon.quorum_input(vq::Input::Configure(daemon.setup.quorum.clone()));
    daemon.totem(NodeInput::Start { stored_ring_seq });
    daemon.drain_loopback();
    loop {
        let deadline = daemon
            .next_deadline()
            .map(|t| origin + t)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            datagram = inbox.recv() => match datagram {
                Some(d) => {
                    if let Some(link) = daemon.link_of(&d) {
                        daemon.totem(NodeInput::Packet { link, bytes: d.payload });
                    }
                }
                None => return Ok(()),
            },
            _ = sleep_until(deadline) => daemon.on_timers(),
        }
        daemon.drain_loopback();
    }
}
