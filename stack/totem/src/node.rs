//! One Totem node as the I/O layer sees it: bytes in, bytes out.
//!
//! Glues [`Srp`] (protocol), [`wire`](crate::wire) (encoding),
//! [`SecAuth`] (optional secauth envelope) and [`LinkMonitor`] (redundant
//! links). Every malformed, forged or replayed packet is counted in
//! [`NodeStats`] and dropped; none reaches the protocol.

use std::time::Duration;

use crate::config::EffectiveTimers;
use crate::crypto::{OpenError, SecAuth};
use crate::link::{LinkChange, LinkMonitor, LinkTimers};
use crate::srp::{self, ConfChg, Delivery, Dest, Input, LogLevel, Output, Srp};
use crate::wire::{Guarantee, NodeId, Packet};

/// Static setup of one node.
#[derive(Debug, Clone)]
pub struct NodeSetup {
    pub node_id: NodeId,
    /// Every node of the nodelist, this one included.
    pub nodelist: Vec<NodeId>,
    pub timers: EffectiveTimers,
    /// Number of links (knet `linknumber`s) per peer; 1 = no redundancy.
    pub links: u8,
    /// `Some((authkey, boot_epoch))` enables secauth. The epoch must grow with
    /// every start of the node (see [`crate::crypto`]).
    pub secauth: Option<(Vec<u8>, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeInput {
    Start {
        stored_ring_seq: u64,
    },
    Packet {
        link: u8,
        bytes: Vec<u8>,
    },
    Mcast {
        guarantee: Guarantee,
        payload: Vec<u8>,
    },
    Timeout,
    /// Graceful shutdown: multicast the leave message. Stop the node after.
    Leave,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeAction {
    /// Send `bytes` on `link`. `Dest::Ring` means every node of the nodelist,
    /// this one included (multicast with loopback, or udpu/knet fan-out).
    Send {
        to: Dest,
        link: u8,
        bytes: Vec<u8>,
    },
    Deliver(Delivery),
    ConfChg(ConfChg),
    StoreRingSeq(u64),
    McastRejected {
        payload: Vec<u8>,
    },
    Link(LinkChange),
    Log {
        level: LogLevel,
        text: String,
    },
}

/// Packets dropped before reaching the protocol, by cause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub rx_packets: u64,
    pub decode_errors: u64,
    pub auth_failures: u64,
    pub replays: u64,
    pub truncated: u64,
    pub sender_mismatch: u64,
    pub unknown_link: u64,
}

mod frame {
    pub const TOTEM: u8 = 0;
    pub const PING: u8 = 1;
    pub const PONG: u8 = 2;
}

#[derive(Debug, Clone)]
pub struct TotemNode {
    me: NodeId,
    nodelist: Vec<NodeId>,
    srp: Srp,
    sec: Option<SecAuth>,
    links: LinkMonitor,
    stats: NodeStats,
}

impl TotemNode {
    /// A node that reproduces corosync 3.1.7 exactly ([`Quirks::corosync`]).
    ///
    /// [`Quirks::corosync`]: crate::srp::Quirks::corosync
    pub fn new(setup: NodeSetup) -> TotemNode {
        TotemNode::with_quirks(setup, crate::srp::Quirks::default())
    }

    pub fn with_quirks(setup: NodeSetup, quirks: crate::srp::Quirks) -> TotemNode {
        let mut nodelist = setup.nodelist.clone();
        nodelist.sort_unstable();
        nodelist.dedup();
        let peers: Vec<NodeId> = nodelist
            .iter()
            .copied()
            .filter(|n| *n != setup.node_id)
            .collect();
        TotemNode {
            me: setup.node_id,
            srp: Srp::with_quirks(setup.node_id, setup.timers, quirks),
            sec: setup
                .secauth
                .as_ref()
                .map(|(k, e)| SecAuth::new(setup.node_id, k, *e)),
            links: LinkMonitor::new(
                &peers,
                setup.links,
                LinkTimers::from_token(setup.timers.token_ms),
            ),
            nodelist,
            stats: NodeStats::default(),
        }
    }

    pub fn srp(&self) -> &Srp {
        &self.srp
    }
    pub fn stats(&self) -> &NodeStats {
        &self.stats
    }
    pub fn links(&self) -> &LinkMonitor {
        &self.links
    }

    pub fn poll_timeout(&self) -> Option<Duration> {
        match (self.srp.poll_timeout(), self.links.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle(&mut self, now: Duration, input: NodeInput) -> Vec<NodeAction> {
        let mut out = Vec::new();
        match input {
            NodeInput::Start { stored_ring_seq } => {
                self.links.start(now);
                let o = self.srp.handle(now, Input::Start { stored_ring_seq });
                self.lower(o, &mut out);
            }
            NodeInput::Leave => {
                let o = self.srp.handle(now, Input::Leave);
                self.lower(o, &mut out);
            }
            NodeInput::Mcast { guarantee, payload } => {
                let o = self.srp.handle(now, Input::Mcast { guarantee, payload });
                self.lower(o, &mut out);
            }
            NodeInput::Timeout => {
                if self.links.poll_timeout().is_some_and(|t| t <= now) {
                    let (pings, changes) = self.links.on_timeout(now);
                    for (peer, link) in pings {
                        let f = link_frame(frame::PING, self.me, link, now);
                        self.emit(Dest::Node(peer), link, f, &mut out);
                    }
                    out.extend(changes.into_iter().map(NodeAction::Link));
                }
                if self.srp.poll_timeout().is_some_and(|t| t <= now) {
                    let o = self.srp.handle(now, Input::Timeout);
                    self.lower(o, &mut out);
                }
            }
            NodeInput::Packet { link, bytes } => self.receive(now, link, bytes, &mut out),
        }
        out
    }

    fn receive(&mut self, now: Duration, link: u8, bytes: Vec<u8>, out: &mut Vec<NodeAction>) {
        self.stats.rx_packets += 1;
        if link >= self.links.link_count() {
            self.stats.unknown_link += 1;
            return;
        }
        let (auth_sender, plain) = match self.sec.as_mut() {
            Some(sec) => match sec.open(&bytes) {
                Ok((s, p)) => (Some(s), p),
                Err(OpenError::Replay) => {
                    self.stats.replays += 1;
                    return;
                }
                Err(OpenError::Truncated) => {
                    self.stats.truncated += 1;
                    return;
                }
                Err(OpenError::BadHeader | OpenError::BadTag) => {
                    self.stats.auth_failures += 1;
                    return;
                }
            },
            None => (None, bytes),
        };
        let Some((&kind, body)) = plain.split_first() else {
            self.stats.truncated += 1;
            return;
        };
        match kind {
            frame::TOTEM => match Packet::decode(body) {
                Ok(p) => {
                    // A leave message carries the dummy node id in its header;
                    // secauth still proves who sent it.
                    let claimed = match &p.msg {
                        crate::wire::Message::Join(j)
                            if p.sender == crate::wire::LEAVE_DUMMY_NODEID =>
                        {
                            j.system_from
                        }
                        _ => p.sender,
                    };
                    if auth_sender.is_some_and(|s| s != claimed) {
                        self.stats.sender_mismatch += 1;
                        return;
                    }
                    let o = self.srp.handle(now, Input::Message(p));
                    self.lower(o, out);
                }
                Err(_) => self.stats.decode_errors += 1,
            },
            frame::PING | frame::PONG => {
                let Some((sender, flink, ts)) = parse_link_frame(body) else {
                    self.stats.decode_errors += 1;
                    return;
                };
                if auth_sender.is_some_and(|s| s != sender) {
                    self.stats.sender_mismatch += 1;
                    return;
                }
                if flink != link {
                    self.stats.unknown_link += 1;
                    return;
                }
                if kind == frame::PING {
                    let f = link_frame(frame::PONG, self.me, link, ts);
                    self.emit(Dest::Node(sender), link, f, out);
                } else if let Some(c) = self.links.on_pong(now, sender, link) {
                    out.push(NodeAction::Link(c));
                }
            }
            _ => self.stats.decode_errors += 1,
        }
    }

    fn emit(&mut self, to: Dest, link: u8, plain: Vec<u8>, out: &mut Vec<NodeAction>) {
        let bytes = match self.sec.as_mut() {
            Some(sec) => match sec.seal(&plain) {
                Ok(b) => b,
                Err(e) => {
                    out.push(NodeAction::Log {
                        level: LogLevel::Error,
                        text: e.to_string(),
                    });
                    return;
                }
            },
            None => plain,
        };
        out.push(NodeAction::Send { to, link, bytes });
    }

    /// Turn protocol outputs into wire actions, choosing links.
    fn lower(&mut self, outputs: Vec<Output>, out: &mut Vec<NodeAction>) {
        for o in outputs {
            let (sender, to, msg) = match o {
                Output::Send { to, msg } => (self.me, to, msg),
                Output::SendAs { sender, to, msg } => (sender, to, msg),
                Output::Deliver(d) => {
                    out.push(NodeAction::Deliver(d));
                    continue;
                }
                Output::ConfChg(c) => {
                    out.push(NodeAction::ConfChg(c));
                    continue;
                }
                Output::StoreRingSeq(s) => {
                    out.push(NodeAction::StoreRingSeq(s));
                    continue;
                }
                Output::McastRejected { payload } => {
                    out.push(NodeAction::McastRejected { payload });
                    continue;
                }
                Output::Log { level, text } => {
                    out.push(NodeAction::Log { level, text });
                    continue;
                }
            };
            {
                {
                    let mut plain = vec![frame::TOTEM];
                    plain.extend(Packet { sender, msg }.encode());
                    match to {
                        Dest::Node(n) => {
                            let link = if n == self.me {
                                0
                            } else {
                                self.links.best_link(n)
                            };
                            self.emit(Dest::Node(n), link, plain, out);
                        }
                        Dest::Ring => {
                            let best: Vec<(NodeId, u8)> = self
                                .nodelist
                                .iter()
                                .map(|n| {
                                    (
                                        *n,
                                        if *n == self.me {
                                            0
                                        } else {
                                            self.links.best_link(*n)
                                        },
                                    )
                                })
                                .collect();
                            if best.iter().all(|(_, l)| *l == 0) {
                                self.emit(Dest::Ring, 0, plain, out);
                            } else {
                                for (n, l) in best {
                                    self.emit(Dest::Node(n), l, plain.clone(), out);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn link_frame(kind: u8, sender: NodeId, link: u8, now: Duration) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&sender.to_be_bytes());
    f.push(link);
    f.extend_from_slice(&(now.as_millis() as u64).to_be_bytes());
    f
}

fn link_frame_ts(ts: u64) -> Duration {
    Duration::from_millis(ts)
}

fn parse_link_frame(b: &[u8]) -> Option<(NodeId, u8, Duration)> {
    if b.len() != 13 {
        return None;
    }
    let mut s = [0u8; 4];
    s.copy_from_slice(&b[..4]);
    let mut t = [0u8; 8];
    t.copy_from_slice(&b[5..13]);
    Some((
        NodeId::from_be_bytes(s),
        b[4],
        link_frame_ts(u64::from_be_bytes(t)),
    ))
}

pub use srp::LogLevel as NodeLogLevel;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TotemConfig;

    fn setup(id: NodeId, sec: bool) -> NodeSetup {
        NodeSetup {
            node_id: id,
            nodelist: vec![1, 2, 3],
            timers: TotemConfig::default().effective(3),
            links: 1,
            secauth: sec.then(|| (b"authkey".to_vec(), 1)),
        }
    }

    fn first_send(a: &[NodeAction]) -> Vec<u8> {
        a.iter()
            .find_map(|x| match x {
                NodeAction::Send { bytes, .. } => Some(bytes.clone()),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        for sec in [false, true] {
            let mut n = TotemNode::new(setup(2, sec));
            n.handle(Duration::ZERO, NodeInput::Start { stored_ring_seq: 0 });
            for junk in [vec![], vec![0], vec![0, 1, 2, 3], vec![9; 100]] {
                let a = n.handle(
                    Duration::ZERO,
                    NodeInput::Packet {
                        link: 0,
                        bytes: junk,
                    },
                );
                assert!(a.is_empty());
            }
            let s = n.stats();
            assert_eq!(
                s.decode_errors + s.auth_failures + s.truncated + s.replays,
                4
            );
        }
    }

    #[test]
    fn secauth_refuses_replay_and_forgery() {
        let mut a = TotemNode::new(setup(1, true));
        let mut b = TotemNode::new(setup(2, true));
        let join = first_send(&a.handle(Duration::ZERO, NodeInput::Start { stored_ring_seq: 0 }));
        b.handle(Duration::ZERO, NodeInput::Start { stored_ring_seq: 0 });
        let ok = b.handle(
            Duration::ZERO,
            NodeInput::Packet {
                link: 0,
                bytes: join.clone(),
            },
        );
        assert!(!ok.is_empty(), "genuine join must be processed");
        let again = b.handle(
            Duration::ZERO,
            NodeInput::Packet {
                link: 0,
                bytes: join.clone(),
            },
        );
        assert!(again.is_empty());
        assert_eq!(b.stats().replays, 1);
        let next_join = first_send(&a.handle(Duration::from_millis(50), NodeInput::Timeout));
        let mut forged = next_join;
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert!(b
            .handle(
                Duration::ZERO,
                NodeInput::Packet {
                    link: 0,
                    bytes: forged
                }
            )
            .is_empty());
        assert_eq!(b.stats().auth_failures, 1);
    }
}
