//! A tiny deterministic cluster harness: Totem is modelled as "every broadcast is
//! delivered, in one agreed order, to all members of the sender's current group".
#![allow(dead_code)]

use hasim_votequorum::{Action, Config, Input, QuorumReport, RingId, Timer, Votequorum};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

pub struct Sim {
    pub now: Duration,
    pub nodes: BTreeMap<u32, Votequorum>,
    pub timers: BTreeMap<(u32, Timer), Duration>,
    pub reports: BTreeMap<u32, Vec<QuorumReport>>,
    pub logs: Vec<(u32, String)>,
    group_of: BTreeMap<u32, Vec<u32>>,
    seq: u64,
}

impl Sim {
    pub fn new(configs: Vec<Config>) -> Sim {
        let mut sim = Sim {
            now: Duration::ZERO,
            nodes: BTreeMap::new(),
            timers: BTreeMap::new(),
            reports: BTreeMap::new(),
            logs: Vec::new(),
            group_of: BTreeMap::new(),
            seq: 0,
        };
        for c in configs {
            let id = c.node_id;
            let mut vq = Votequorum::new(id);
            let actions = vq.handle(sim.now, Input::Configure(c));
            sim.nodes.insert(id, vq);
            // No ring yet: broadcasts go nowhere.
            let mut q = VecDeque::new();
            sim.apply(id, actions, &mut q);
        }
        sim
    }

    /// N nodes with one vote each and expected votes N, configured by `tweak`.
    pub fn uniform(n: u32, tweak: impl Fn(&mut Config)) -> Sim {
        Sim::new(
            (1..=n)
                .map(|id| {
                    let mut c = Config::simple(id, 1, n);
                    tweak(&mut c);
                    c
                })
                .collect(),
        )
    }

    fn apply(
        &mut self,
        id: u32,
        actions: Vec<Action>,
        queue: &mut VecDeque<(u32, hasim_votequorum::Message)>,
    ) {
        for a in actions {
            match a {
                Action::Broadcast(m) => {
                    if self.group_of.contains_key(&id) {
                        queue.push_back((id, m));
                    }
                }
                Action::SetTimer { timer, at } => {
                    self.timers.insert((id, timer), at);
                }
                Action::CancelTimer(t) => {
                    self.timers.remove(&(id, t));
                }
                Action::QuorumChanged(r) => self.reports.entry(id).or_default().push(r),
                Action::Log(s) | Action::Rejected(s) => self.logs.push((id, s)),
                Action::PersistEvTrackingBarrier(_) => {}
            }
        }
    }

    fn drain(&mut self, mut queue: VecDeque<(u32, hasim_votequorum::Message)>) {
        let mut guard = 0;
        while let Some((from, msg)) = queue.pop_front() {
            guard += 1;
            assert!(guard < 100_000, "message storm");
            let Some(group) = self.group_of.get(&from).cloned() else {
                continue;
            };
            for to in group {
                let now = self.now;
                let Some(vq) = self.nodes.get_mut(&to) else {
                    continue;
                };
                let actions = vq.handle(now, Input::Message { from, msg });
                self.apply(to, actions, &mut queue);
            }
        }
    }

    /// Install a new membership: each group becomes a ring; nodes in no group are down.
    pub fn partition(&mut self, groups: &[&[u32]]) {
        self.group_of.clear();
        for g in groups {
            for id in g.iter() {
                self.group_of.insert(*id, g.to_vec());
            }
        }
        for g in groups {
            self.seq += 4;
            let ring_id = RingId {
                rep: g.iter().copied().min().unwrap_or(0),
                seq: self.seq,
            };
            let mut queue = VecDeque::new();
            for id in g.iter() {
                let now = self.now;
                let Some(vq) = self.nodes.get_mut(id) else {
                    continue;
                };
                let actions = vq.handle(
                    now,
                    Input::Membership {
                        members: g.to_vec(),
                        ring_id,
                    },
                );
                self.apply(*id, actions, &mut queue);
            }
            self.drain(queue);
        }
    }

    /// Advance time, firing due timers in (time, node) order.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self
                .timers
                .iter()
                .filter(|(_, at)| **at <= end)
                .min_by_key(|((id, _), at)| (**at, *id))
                .map(|(k, at)| (*k, *at));
            let Some(((id, timer), at)) = next else { break };
            self.timers.remove(&(id, timer));
            self.now = at;
            let mut queue = VecDeque::new();
            if self.group_of.contains_key(&id) {
                let now = self.now;
                if let Some(vq) = self.nodes.get_mut(&id) {
                    let actions = vq.handle(now, Input::TimerExpired(timer));
                    self.apply(id, actions, &mut queue);
                }
            }
            self.drain(queue);
        }
        self.now = end;
    }

    pub fn quorate(&self, id: u32) -> bool {
        self.nodes[&id].is_quorate()
    }

    pub fn quorate_set(&self, ids: &[u32]) -> Vec<bool> {
        ids.iter().map(|id| self.quorate(*id)).collect()
    }

    pub fn last_report(&self, id: u32) -> &QuorumReport {
        self.reports[&id].last().expect("a report")
    }
}
