//! Pacemaker's attribute manager (attrd) as a sans-IO core.
//!
//! Every node keeps every node's transient attributes in memory; an update
//! is multicast to all attrd peers and applied by each in agreed order.
//! One peer, the writer, writes values to the CIB status section
//! (`transient_attributes` of the target's `node_state`), after the
//! attribute's dampening delay so that a burst of changes makes one write.
//! The writer is elected like Pacemaker's elections: every peer votes with
//! its seeded "uptime", the longest uptime wins, ties go to the lower name.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hasim_pcmk_proto::{
    decode, encode, Action, AttrValue, CibOp, CibRequest, Daemon, Event, Input, LocalMsg, NodeId,
    TimerId,
};
use serde::{Deserialize, Serialize};

/// Pacemaker's INFINITY, where `value++` saturates.
const INFINITY: i64 = 1_000_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Wire {
    Vote {
        node: String,
        uptime: u64,
    },
    Update {
        target: String,
        name: String,
        value: Option<String>,
        dampen_ms: u64,
    },
    Sync {
        values: Vec<(String, String, String)>,
    },
}

/// One node's attribute manager.
pub struct Attrd {
    node: String,
    uptime: u64,
    members: Vec<NodeId>,
    votes: BTreeMap<NodeId, (String, u64)>,
    writer: Option<String>,
    /// name → target node → value.
    values: BTreeMap<String, BTreeMap<String, String>>,
    dampen: BTreeMap<String, u64>,
    /// Node name → node id (node_state ids), learned from votes.
    ids: BTreeMap<String, NodeId>,
    /// (name, target) deleted since the last write of `name`.
    deleted: BTreeSet<(String, String)>,
    /// A node joined since the last decided election: its winner rewrites
    /// every value, as Pacemaker's election callback does (a joining node
    /// that still believes itself writer, or one that starts an election,
    /// makes the members elect again).
    rewrite_after_election: bool,
    next_call: u64,
}

fn escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

impl Attrd {
    /// `uptime` is the seeded election value (never the host clock).
    pub fn new(node: &str, uptime: u64) -> Attrd {
        Attrd {
            node: node.to_string(),
            uptime,
            members: Vec::new(),
            votes: BTreeMap::new(),
            writer: None,
            values: BTreeMap::new(),
            dampen: BTreeMap::new(),
            ids: BTreeMap::new(),
            deleted: BTreeSet::new(),
            rewrite_after_election: false,
            next_call: 1,
        }
    }

    pub fn is_writer(&self) -> bool {
        self.writer.as_deref() == Some(self.node.as_str())
    }

    /// The value of `name` for `target`, as this node knows it.
    pub fn value(&self, target: &str, name: &str) -> Option<&str> {
        self.values.get(name)?.get(target).map(String::as_str)
    }

    pub fn handle(&mut self, _now: Duration, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => *self = Attrd::new(&self.node, self.uptime),
            Input::ConfChange(cc) => {
                self.members = cc.members.iter().map(|m| m.node).collect();
                self.members.sort();
                self.members.dedup();
                for (m, _) in &cc.left {
                    self.votes.remove(&m.node);
                    let lost: Vec<String> = self
                        .ids
                        .iter()
                        .filter(|(_, id)| **id == m.node)
                        .map(|(n, _)| n.clone())
                        .collect();
                    for n in lost {
                        self.purge(&n);
                    }
                }
                let w = Wire::Vote {
                    node: self.node.clone(),
                    uptime: self.uptime,
                };
                out.push(Action::Multicast(encode(&w)));
                if !cc.joined.is_empty() {
                    self.rewrite_after_election = true;
                    if self.is_writer() {
                        self.sync(&mut out);
                    }
                }
                self.decide_writer(&mut out);
            }
            Input::Deliver { from, data } => {
                if let Some(w) = decode::<Wire>(&data) {
                    self.deliver(from.node, w, &mut out);
                }
            }
            Input::Local { from, msg } => self.local(from, msg, &mut out),
            Input::Timer(TimerId(t)) => {
                if let Some(name) = t.strip_prefix("dampen:") {
                    self.write(name, &mut out);
                }
            }
            _ => {}
        }
        out
    }

    fn local(&mut self, from: Daemon, msg: LocalMsg, out: &mut Vec<Action>) {
        match msg {
            LocalMsg::AttrUpdate {
                target,
                name,
                value,
                dampen,
            } => {
                let current = self.value(&target, &name);
                let value = match value {
                    AttrValue::Set(v) => Some(v),
                    AttrValue::Delete => None,
                    AttrValue::Increment => {
                        let n = current.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
                        Some(
                            if current == Some("INFINITY") {
                                INFINITY
                            } else {
                                (n + 1).min(INFINITY)
                            }
                            .to_string(),
                        )
                    }
                };
                let dampen_ms = dampen.map(|d| d.as_millis() as u64).unwrap_or(0);
                let w = Wire::Update {
                    target,
                    name,
                    value,
                    dampen_ms,
                };
                out.push(Action::Multicast(encode(&w)));
            }
            LocalMsg::AttrPurgeNode { target } => self.purge(&target),
            LocalMsg::CibReplaced => self.write_all(out),
            LocalMsg::AttrQuery { call, names } => {
                let values = names
                    .into_iter()
                    .map(|n| {
                        let per_node = self.values.get(&n).cloned().unwrap_or_default();
                        (n, per_node)
                    })
                    .collect();
                out.push(Action::Send {
                    to: from,
                    msg: LocalMsg::AttrAnswer { call, values },
                });
            }
            _ => {}
        }
    }

    fn purge(&mut self, target: &str) {
        for per_node in self.values.values_mut() {
            per_node.remove(target);
        }
    }

    fn deliver(&mut self, sender: NodeId, w: Wire, out: &mut Vec<Action>) {
        match w {
            Wire::Vote { node, uptime, .. } => {
                self.ids.insert(node.clone(), sender);
                self.votes.insert(sender, (node, uptime));
                self.decide_writer(out);
            }
            Wire::Update {
                target,
                name,
                value,
                dampen_ms,
            } => {
                self.dampen.insert(name.clone(), dampen_ms);
                let per_node = self.values.entry(name.clone()).or_default();
                let changed = match &value {
                    Some(v) => per_node.insert(target.clone(), v.clone()).as_ref() != Some(v),
                    None => per_node.remove(&target).is_some(),
                };
                if value.is_none() && changed {
                    self.deleted.insert((name.clone(), target.clone()));
                }
                if changed && self.is_writer() {
                    self.schedule_write(&name, out);
                }
            }
            Wire::Sync { values } => self.apply_sync(values, out),
        }
    }

    /// The writer's full list of values, sent to peers that join. Values
    /// for other nodes are taken as they are; for this node, its own copy
    /// wins: every own value the writer lacks or has differently (also a
    /// value the writer still has and this node no longer does) is
    /// multicast again, so the writer writes it back. That is how a node
    /// that left and came back puts its transient attributes, which the
    /// DC erased from the CIB when it left, into the CIB again.
    fn apply_sync(&mut self, values: Vec<(String, String, String)>, out: &mut Vec<Action>) {
        let mut writer_has: BTreeMap<String, String> = BTreeMap::new();
        for (name, target, value) in values {
            if target == self.node {
                writer_has.insert(name, value);
            } else {
                self.values.entry(name).or_default().insert(target, value);
            }
        }
        let mut names: BTreeSet<String> = writer_has.keys().cloned().collect();
        names.extend(
            self.values
                .iter()
                .filter(|(_, per_node)| per_node.contains_key(&self.node))
                .map(|(n, _)| n.clone()),
        );
        for name in names {
            let ours = self.value(&self.node, &name).map(str::to_string);
            if ours.as_ref() == writer_has.get(&name) {
                continue;
            }
            let w = Wire::Update {
                target: self.node.clone(),
                dampen_ms: self.dampen.get(&name).copied().unwrap_or(0),
                name,
                value: ours,
            };
            out.push(Action::Multicast(encode(&w)));
        }
    }

    fn schedule_write(&mut self, name: &str, out: &mut Vec<Action>) {
        let ms = self.dampen.get(name).copied().unwrap_or(0);
        if ms == 0 {
            self.write(name, out);
        } else {
            out.push(Action::SetTimer {
                id: TimerId(format!("dampen:{name}")),
                after: Duration::from_millis(ms),
            });
        }
    }

    fn sync(&self, out: &mut Vec<Action>) {
        let mut values = Vec::new();
        for (name, per_node) in &self.values {
            for (t, v) in per_node {
                values.push((name.clone(), t.clone(), v.clone()));
            }
        }
        out.push(Action::Multicast(encode(&Wire::Sync { values })));
    }

    /// Every member voted: the longest uptime wins, then the lower name. A
    /// new writer, or any writer after a join, writes every value.
    fn decide_writer(&mut self, out: &mut Vec<Action>) {
        if self.members.iter().any(|m| !self.votes.contains_key(m)) {
            return;
        }
        let best = self
            .members
            .iter()
            .filter_map(|m| self.votes.get(m))
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(n, _)| n.clone());
        let rewrite = std::mem::take(&mut self.rewrite_after_election);
        let was = self.is_writer();
        self.writer = best;
        if self.is_writer() != was {
            out.push(Action::Report(Event::AttrWriter {
                node: self.node.clone(),
                writer: self.is_writer(),
            }));
        }
        if self.is_writer() && (!was || rewrite) {
            self.write_all(out);
        }
    }

    /// Write every value (writer only).
    fn write_all(&mut self, out: &mut Vec<Action>) {
        let names: Vec<String> = self.values.keys().cloned().collect();
        for n in names {
            self.write(&n, out);
        }
    }

    /// Write every node's value of `name` to the CIB (writer only).
    fn write(&mut self, name: &str, out: &mut Vec<Action>) {
        if !self.is_writer() {
            return;
        }
        let per_node = self.values.get(name).cloned().unwrap_or_default();
        let targets: Vec<(String, NodeId)> =
            self.ids.iter().map(|(n, i)| (n.clone(), *i)).collect();
        for (target, id) in targets {
            let removed = self.deleted.contains(&(name.to_string(), target.clone()));
            if !per_node.contains_key(&target) && !removed {
                continue;
            }
            let nv_id = format!("status-{id}-{name}");
            let op = match per_node.get(&target) {
                Some(v) => CibOp::Modify {
                    section: "status".into(),
                    xml: format!(
                        "<node_state id=\"{id}\"><transient_attributes id=\"{id}\"><instance_attributes id=\"status-{id}\"><nvpair id=\"{}\" name=\"{}\" value=\"{}\"/></instance_attributes></transient_attributes></node_state>",
                        escape(&nv_id), escape(name), escape(v)
                    ),
                },
                None => CibOp::DeleteIn { section: "status".into(), tag: "nvpair".into(), id: nv_id },
            };
            let call_id = self.next_call;
            self.next_call += 1;
            out.push(Action::Send {
                to: Daemon::Based,
                msg: LocalMsg::CibRequest(CibRequest { call_id, op }),
            });
            out.push(Action::Report(Event::AttrWrite {
                writer: self.node.clone(),
                value: per_node.get(&target).cloned(),
                target,
                name: name.to_string(),
            }));
        }
        self.deleted.retain(|(n, _)| n != name);
    }
}
