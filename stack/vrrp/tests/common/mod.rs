//! A tiny in-memory exchange for driving several instances together:
//! every `Send` is delivered to the other instances (all of them for
//! multicast, the addressed one for unicast) after a fixed latency, or to
//! nobody when the network is cut. Time jumps from event to event.

#![allow(dead_code)]

use hasim_vrrp::{Action, Config, Destination, State, Vrrp};
use std::net::Ipv4Addr;
use std::time::Duration;

pub struct Node {
    pub vrrp: Vrrp,
    pub start_at: Duration,
    pub started: bool,
    /// Every action with the time it was emitted.
    pub log: Vec<(Duration, Action)>,
}

struct InFlight {
    at: Duration,
    seq: u64,
    to: usize,
    src: Ipv4Addr,
    packet: Vec<u8>,
}

pub struct Exchange {
    pub nodes: Vec<Node>,
    pub now: Duration,
    pub connected: bool,
    pub latency: Duration,
    in_flight: Vec<InFlight>,
    seq: u64,
    pub delivered: u64,
}

impl Exchange {
    pub fn new(configs: Vec<(Config, Duration)>, connected: bool, latency: Duration) -> Self {
        let nodes = configs
            .into_iter()
            .map(|(cfg, start_at)| Node {
                vrrp: Vrrp::new(cfg).expect("valid config"),
                start_at,
                started: false,
                log: Vec::new(),
            })
            .collect();
        Self {
            nodes,
            now: Duration::ZERO,
            connected,
            latency,
            in_flight: Vec::new(),
            seq: 0,
            delivered: 0,
        }
    }

    fn record(&mut self, i: usize, actions: Vec<Action>) {
        let src = self.nodes[i].vrrp.config().primary_ip;
        for a in actions {
            if let Action::Send { dest, packet } = &a {
                if self.connected {
                    for j in 0..self.nodes.len() {
                        let ip = self.nodes[j].vrrp.config().primary_ip;
                        let wanted = match dest {
                            Destination::Multicast => j != i,
                            Destination::Unicast(d) => *d == ip && j != i,
                        };
                        if wanted {
                            self.seq += 1;
                            self.in_flight.push(InFlight {
                                at: self.now + self.latency,
                                seq: self.seq,
                                to: j,
                                src,
                                packet: packet.clone(),
                            });
                        }
                    }
                }
            }
            self.nodes[i].log.push((self.now, a));
        }
    }

    /// The next event: (time, kind, index). Kinds: 0 start, 1 delivery,
    /// 2 timeout; ties go in that order, then by node index / send order.
    fn next_event(&self) -> Option<(Duration, u8, usize)> {
        let mut best: Option<(Duration, u8, usize)> = None;
        let mut consider = |e: (Duration, u8, usize)| {
            if best.is_none_or(|b| (e.0, e.1, e.2) < (b.0, b.1, b.2)) {
                best = Some(e);
            }
        };
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.started {
                consider((n.start_at, 0, i));
            } else if let Some(t) = n.vrrp.next_timeout() {
                consider((t, 2, i));
            }
        }
        if let Some((k, f)) = self
            .in_flight
            .iter()
            .enumerate()
            .min_by_key(|(_, f)| (f.at, f.seq))
        {
            consider((f.at, 1, k));
        }
        best
    }

    /// Run every event up to and including `until`.
    pub fn run_until(&mut self, until: Duration) {
        while let Some((t, kind, idx)) = self.next_event() {
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            match kind {
                0 => {
                    self.nodes[idx].started = true;
                    let now = self.now;
                    let acts = self.nodes[idx].vrrp.start(now);
                    self.record(idx, acts);
                }
                1 => {
                    let f = self.in_flight.remove(idx);
                    self.delivered += 1;
                    let now = self.now;
                    let acts = self.nodes[f.to].vrrp.handle_packet(now, f.src, &f.packet);
                    self.record(f.to, acts);
                }
                _ => {
                    let now = self.now;
                    let acts = self.nodes[idx].vrrp.handle_timeout(now);
                    self.record(idx, acts);
                }
            }
        }
        self.now = self.now.max(until);
    }

    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].vrrp.state() == State::Master)
            .collect()
    }

    /// Times at which node `i` entered `to`.
    pub fn entered(&self, i: usize, to: State) -> Vec<Duration> {
        self.nodes[i]
            .log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::StateChanged { to: s, .. } if *s == to => Some(*t),
                _ => None,
            })
            .collect()
    }

    /// Time of the last state change anywhere.
    pub fn last_transition(&self) -> Option<Duration> {
        self.nodes
            .iter()
            .flat_map(|n| n.log.iter())
            .filter(|(_, a)| matches!(a, Action::StateChanged { .. }))
            .map(|(t, _)| *t)
            .max()
    }
}
