//! Invariants of Corosync's Totem and votequorum, judged from the events the
//! node daemons report: configuration changes, agreed-order deliveries of the
//! test load, and quorum views.
//!
//! The four Totem consistency invariants are `hasim_totem::invariants`, the
//! same code Totem's own fault-timeline tests use; these checkers adapt the
//! event stream to them. A delivery is attributed to the regular
//! configuration the node had installed when it delivered the message
//! (the cluster view's ring); messages delivered during recovery, before the
//! transitional configuration, still belong to the old regular one. That is
//! the configuration extended virtual synchrony speaks of.
//!
//! Per-message state is kept for [`MESSAGE_WINDOW`] of simulated time after a
//! message's first delivery: far longer than Totem needs to deliver a
//! message to every member of its ring, so memory stays bounded on long runs
//! without missing a real violation.

use super::Checker;
use crate::scenario::FaultAction;
use crate::trace::Event;
use crate::view::ClusterView;
use hasim_node::host::Configuration;
use hasim_node::NodeEvent;
use hasim_reports::{Expectation, Verdict};
use hasim_totem::invariants::{self, OrderViolation, SynchronyViolation};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// How long after its first delivery a message is remembered.
pub const MESSAGE_WINDOW: Duration = Duration::from_secs(600);

/// A test-load message: (sender nodeid, sender's boot, per-boot counter).
type Msg = (u32, u64, u64);

fn secs(t: Duration) -> f64 {
    t.as_secs_f64()
}

/// (node, ring, members) when `event` installs a regular configuration.
fn regular_membership(event: &Event) -> Option<(&Arc<str>, &String, &Vec<u32>)> {
    match event {
        Event::Node {
            node,
            detail:
                NodeEvent::Membership {
                    configuration,
                    ring,
                    members,
                    ..
                },
            ..
        } if *configuration == Configuration::Regular => Some((node, ring, members)),
        _ => None,
    }
}

/// (node, message, ring it was sent in) when `event` is a test-load delivery.
fn delivery(event: &Event) -> Option<(&Arc<str>, Msg, &String)> {
    match event {
        Event::Node {
            node,
            detail:
                NodeEvent::TotemDeliver {
                    sender,
                    boot,
                    counter,
                    ring,
                    ..
                },
            ..
        } => Some((node, (*sender, *boot, *counter), ring)),
        _ => None,
    }
}

/// The verdict of a checker that found `broken` (the first few of `total`
/// violations), or `ok` when it found none.
fn verdict_of(
    name: &str,
    expectation: Expectation,
    broken: Vec<(Duration, String)>,
    total: usize,
    ok: String,
) -> Verdict {
    let held = broken.is_empty();
    Verdict {
        checker: name.to_string(),
        held,
        expectation,
        summary: match broken.first() {
            None => ok,
            Some((t, what)) => format!("t={:.3}s: {what} ({total} violation(s))", secs(*t)),
        },
        evidence: broken
            .iter()
            .skip(1)
            .take(5)
            .map(|(t, w)| format!("t={:.3}s: {w}", secs(*t)))
            .collect(),
        first_broken_at: broken.first().map(|(t, _)| secs(*t)),
    }
}

fn verdict(
    name: &str,
    expectation: Expectation,
    broken: Vec<(Duration, String)>,
    ok: String,
) -> Verdict {
    let total = broken.len();
    verdict_of(name, expectation, broken, total, ok)
}

/// Violations kept for the verdict: the first few and a count, so a run
/// that breaks badly does not keep every instance.
#[derive(Default)]
struct Broken {
    kept: Vec<(Duration, String)>,
    total: usize,
}

impl Broken {
    const KEEP: usize = 6;

    fn push(&mut self, t: Duration, what: String) {
        self.total += 1;
        if self.kept.len() < Self::KEEP {
            self.kept.push((t, what));
        }
    }

    fn verdict(&mut self, name: &str, expectation: Expectation, ok: String) -> Verdict {
        verdict_of(
            name,
            expectation,
            std::mem::take(&mut self.kept),
            self.total,
            ok,
        )
    }
}

fn msg_text(m: &Msg) -> String {
    format!("{}:{}", m.0, m.2)
}

/// `agreed-order`: any two nodes deliver the messages they both deliver in
/// the same order, and no node delivers a message twice.
pub struct AgreedOrder {
    check: invariants::AgreedOrder<NodeRun, Msg>,
    /// Node names by `NodeRun` index.
    names: Vec<Arc<str>>,
    broken: Broken,
}

/// One incarnation of a node (index into the checker's names, boot count)
/// as two numbers: the order check copies and compares the keys of every
/// pair of nodes that share a message, for every delivery.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct NodeRun(u32, u32);

impl AgreedOrder {
    fn run_of(&mut self, node: &Arc<str>, view: &ClusterView) -> NodeRun {
        let index = match self.names.iter().position(|n| n == node) {
            Some(i) => i,
            None => {
                self.names.push(node.clone());
                self.names.len() - 1
            }
        };
        NodeRun(index as u32, view.machine(node).incarnation)
    }

    /// `name#boot`, as `ClusterView::key` writes it.
    fn show(&self, run: NodeRun) -> String {
        format!("{}#{}", self.names[run.0 as usize], run.1)
    }
}

impl Default for AgreedOrder {
    fn default() -> Self {
        Self {
            check: invariants::AgreedOrder::new(MESSAGE_WINDOW),
            names: Vec::new(),
            broken: Broken::default(),
        }
    }
}

impl Checker for AgreedOrder {
    fn name(&self) -> &'static str {
        "agreed-order"
    }

    fn observe(&mut self, t: Duration, event: &Event, view: &ClusterView) {
        let Some((node, msg, _)) = delivery(event) else {
            return;
        };
        let key = self.run_of(node, view);
        for v in self.check.deliver(t, &key, &msg) {
            let what = match v {
                OrderViolation::Duplicate { proc, msg } => format!(
                    "{} delivered message {} twice",
                    self.show(proc),
                    msg_text(&msg)
                ),
                OrderViolation::Order { first, second, msg } => format!(
                    "{} and {} disagree on the order of common message {}",
                    self.show(first),
                    self.show(second),
                    msg_text(&msg)
                ),
            };
            self.broken.push(t, what);
        }
    }

    fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict {
        let (total, keys) = self.check.totals();
        let ok = format!(
            "{total} deliveries on {keys} node runs ({:.0} per node per simulated second), one agreed order",
            total as f64 / keys.max(1) as f64 / end.as_secs_f64().max(1e-9)
        );
        self.broken.verdict(self.name(), expectation, ok)
    }
}

/// `virtual-synchrony`: a message is delivered in the same configuration by
/// every node that delivers it, and that is the configuration it was sent in.
pub struct VirtualSynchrony {
    check: invariants::VirtualSynchrony<Arc<str>, Msg, String>,
    broken: Broken,
}

impl Default for VirtualSynchrony {
    fn default() -> Self {
        Self {
            check: invariants::VirtualSynchrony::new(MESSAGE_WINDOW),
            broken: Broken::default(),
        }
    }
}

impl Checker for VirtualSynchrony {
    fn name(&self) -> &'static str {
        "virtual-synchrony"
    }

    fn observe(&mut self, t: Duration, event: &Event, view: &ClusterView) {
        let Some((node, msg, ring)) = delivery(event) else {
            return;
        };
        let none = String::new();
        let installed = view.machine(node).ring.as_ref().unwrap_or(&none);
        for v in self.check.deliver(t, node, &msg, ring, Some(installed)) {
            let text = msg_text(&msg);
            let what = match v {
                SynchronyViolation::WrongConfiguration { .. } => format!(
                    "{node} delivered {text} (sent in ring {ring}) in configuration {installed}"
                ),
                SynchronyViolation::Diverged {
                    first, first_in, ..
                } => format!(
                    "{text} delivered in {} by {first} but in {installed} by {node}",
                    first_in.unwrap_or_default()
                ),
            };
            self.broken.push(t, what);
        }
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let ok = format!(
            "{} deliveries, each in the configuration it was sent in",
            self.check.deliveries()
        );
        self.broken.verdict(self.name(), expectation, ok)
    }
}

/// `membership-agreement`: the same ring id always comes with the same
/// member list, and a node is a member of every ring it installs.
#[derive(Default)]
pub struct MembershipAgreement {
    ids: BTreeMap<String, u32>,
    check: invariants::MembershipAgreement<Arc<str>, String, u32>,
    broken: Broken,
}

impl MembershipAgreement {
    pub fn new(ids: BTreeMap<String, u32>) -> Self {
        Self {
            ids,
            ..Self::default()
        }
    }
}

impl Checker for MembershipAgreement {
    fn name(&self) -> &'static str {
        "membership-agreement"
    }

    fn observe(&mut self, t: Duration, event: &Event, _view: &ClusterView) {
        let Some((node, ring, members)) = regular_membership(event) else {
            return;
        };
        for v in self
            .check
            .install(node, self.ids.get(&**node), ring, members)
        {
            let what = match v {
                invariants::MembershipViolation::Disagree {
                    first,
                    first_members,
                    second_members,
                    ..
                } => format!(
                    "ring {ring}: {first} has members {first_members:?}, {node} has {second_members:?}"
                ),
                invariants::MembershipViolation::NotAMember { id, .. } => {
                    format!("ring {ring}: {node} (nodeid {id}) is not among its members {members:?}")
                }
            };
            self.broken.push(t, what);
        }
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let ok = format!("{} rings, members agreed on each", self.check.rings());
        self.broken.verdict(self.name(), expectation, ok)
    }
}

/// `no-loss-in-configuration`: nodes that move together from one regular
/// configuration to the same next one delivered the same messages in it.
#[derive(Default)]
pub struct NoLossInConfiguration {
    /// node#boot -> its current regular ring.
    rings: BTreeMap<String, String>,
    check: invariants::NoLossInConfiguration<String, (String, String)>,
    broken: Broken,
}

impl Checker for NoLossInConfiguration {
    fn name(&self) -> &'static str {
        "no-loss-in-configuration"
    }

    fn observe(&mut self, t: Duration, event: &Event, view: &ClusterView) {
        if let Event::PowerOff { node } = event {
            // The view has already moved to the next incarnation.
            let gone = format!(
                "{node}#{}",
                view.machine(node).incarnation.saturating_sub(1)
            );
            self.rings.remove(&gone);
            self.check.forget(&gone);
            return;
        }
        if let Some((node, msg, _)) = delivery(event) {
            self.check.deliver(&view.key(node), &msg);
            return;
        }
        let Some((node, ring, _)) = regular_membership(event) else {
            return;
        };
        let key = view.key(node);
        if let Some(old) = self.rings.insert(key.clone(), ring.clone()) {
            if let Some(v) = self.check.close(&key, (old.clone(), ring.clone())) {
                self.broken.push(
                    t,
                    format!(
                        "{} and {key} both went from ring {old} to {ring} but delivered different messages in {old} ({} vs {} messages)",
                        v.first, v.first_count, v.second_count
                    ),
                );
            }
        }
        self.check.open(&key);
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let ok = format!(
            "{} configuration changes, no message lost within one",
            self.check.steps()
        );
        self.broken.verdict(self.name(), expectation, ok)
    }
}

/// `single-quorate-partition`: no two running nodes are quorate at once with
/// disjoint member lists (two partitions both allowed to run services).
#[derive(Default)]
pub struct SingleQuoratePartition {
    broken: Broken,
    open: Option<String>,
}

impl SingleQuoratePartition {
    fn check(&mut self, t: Duration, view: &ClusterView) {
        let quorate: Vec<(&String, &BTreeSet<u32>)> = view
            .machines()
            .filter(|(_, m)| !m.paused)
            .filter_map(|(n, m)| m.quorum.as_ref().map(|q| (n, q)))
            .filter(|(_, q)| q.quorate)
            .map(|(n, q)| (n, &q.members))
            .collect();
        let mut found = None;
        'outer: for (i, (a, ma)) in quorate.iter().enumerate() {
            for (b, mb) in &quorate[i + 1..] {
                if ma.is_disjoint(mb) {
                    found = Some(format!(
                        "{a} is quorate with {ma:?} while {b} is quorate with {mb:?}"
                    ));
                    break 'outer;
                }
            }
        }
        match (found, &self.open) {
            (Some(what), None) => {
                self.broken.push(t, what.clone());
                self.open = Some(what);
            }
            (None, Some(_)) => self.open = None,
            _ => {}
        }
    }
}

impl Checker for SingleQuoratePartition {
    fn name(&self) -> &'static str {
        "single-quorate-partition"
    }

    fn observe(&mut self, t: Duration, event: &Event, view: &ClusterView) {
        match event {
            Event::Node {
                detail: NodeEvent::Quorum { .. },
                ..
            }
            | Event::PowerOff { .. }
            | Event::Pause { .. }
            | Event::Resume { .. } => self.check(t, view),
            _ => {}
        }
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let ok = "never two disjoint quorate partitions".to_string();
        self.broken.verdict(self.name(), expectation, ok)
    }
}

/// `liveness`: once the network is whole and no fault has happened for
/// `bound` (derived from the Totem timers), every running node is in one
/// ring with all the running nodes.
pub struct Liveness {
    pub bound: Duration,
    ids: BTreeMap<String, u32>,
    running: BTreeSet<String>,
    partitioned: bool,
    last_change: Duration,
    /// node -> (time, members) of its regular configurations.
    rings: BTreeMap<String, Vec<(Duration, BTreeSet<u32>)>>,
}

impl Liveness {
    pub fn new(bound: Duration, ids: BTreeMap<String, u32>) -> Self {
        let running = ids.keys().cloned().collect();
        Self {
            bound,
            ids,
            running,
            partitioned: false,
            last_change: Duration::ZERO,
            rings: BTreeMap::new(),
        }
    }

    /// Keep the node's regular configurations the verdict may still need.
    fn remember_ring(&mut self, t: Duration, node: &str, members: &[u32]) {
        let rings = self.rings.entry(node.to_string()).or_default();
        rings.push((t, members.iter().copied().collect()));
        // The verdict reads the latest ring at or before last_change + bound,
        // which never moves back: older entries cannot matter any more.
        while rings.len() > 1 && rings[1].0 <= self.last_change + self.bound && rings[1].0 <= t {
            rings.remove(0);
        }
    }
}

impl Checker for Liveness {
    fn name(&self) -> &'static str {
        "liveness"
    }

    fn observe(&mut self, t: Duration, event: &Event, view: &ClusterView) {
        match event {
            Event::Fault { action, .. } => {
                self.last_change = t;
                match action {
                    FaultAction::Partition { .. } => self.partitioned = true,
                    FaultAction::Heal => self.partitioned = false,
                    _ => {}
                }
            }
            Event::PowerOff { node }
            | Event::Pause { node }
            | Event::Boot { node }
            | Event::Resume { node } => {
                self.last_change = t;
                if view.running(node) {
                    self.running.insert(node.clone());
                } else {
                    self.running.remove(node);
                }
            }
            _ => {
                if let Some((node, _, members)) = regular_membership(event) {
                    self.remember_ring(t, node, members);
                }
            }
        }
    }

    fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict {
        let deadline = self.last_change + self.bound;
        let mut broken = Vec::new();
        if self.partitioned || deadline > end {
            let summary = format!(
                "not judged: the network was not whole and stable for {:.3} s before the end",
                secs(self.bound)
            );
            return verdict(self.name(), expectation, broken, summary);
        }
        {
            let want: BTreeSet<u32> = self
                .running
                .iter()
                .filter_map(|n| self.ids.get(n).copied())
                .collect();
            for node in &self.running {
                let at_deadline = self
                    .rings
                    .get(node)
                    .and_then(|r| r.iter().rev().find(|(t, _)| *t <= deadline))
                    .map(|(_, m)| m.clone());
                if at_deadline.as_ref() != Some(&want) {
                    broken.push((
                        deadline,
                        format!(
                            "{node} is in ring {:?}, not with all running nodes {want:?}, {:.3} s after the last change at t={:.3}s",
                            at_deadline.unwrap_or_default(),
                            secs(self.bound),
                            secs(self.last_change)
                        ),
                    ));
                }
            }
            let summary = format!(
                "all running nodes {want:?} in one ring within {:.3} s of the last change (t={:.3}s)",
                secs(self.bound),
                secs(self.last_change)
            );
            verdict(self.name(), expectation, broken, summary)
        }
    }
}

/// `membership-stable`: once a ring with every node has formed, no node
/// installs another regular configuration. Short hiccups (a pause below the
/// token timeout, a failed link with a working second one) must not cost a
/// membership change.
#[derive(Default)]
pub struct MembershipStable {
    pub node_count: usize,
    /// Nodes that have installed the ring of all nodes.
    joined: BTreeSet<String>,
    formed: Option<Duration>,
    broken: Vec<(Duration, String)>,
}

impl MembershipStable {
    pub fn new(node_count: usize) -> Self {
        Self {
            node_count,
            ..Self::default()
        }
    }
}

impl Checker for MembershipStable {
    fn name(&self) -> &'static str {
        "membership-stable"
    }

    fn observe(&mut self, t: Duration, event: &Event, _view: &ClusterView) {
        if let Some((node, ring, members)) = regular_membership(event) {
            if self.joined.contains(&**node) {
                self.broken.push((
                    t,
                    format!("{node} installed ring {ring} with members {members:?}"),
                ));
            } else if members.len() == self.node_count {
                self.joined.insert(node.to_string());
                if self.joined.len() == self.node_count {
                    self.formed = Some(t);
                }
            }
        }
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let broken = std::mem::take(&mut self.broken);
        let ok = match self.formed {
            Some(t) => format!(
                "one ring of all {} nodes since t={:.3}s",
                self.node_count,
                secs(t)
            ),
            None => format!("a ring of all {} nodes never formed", self.node_count),
        };
        let mut v = verdict(self.name(), expectation, broken, ok);
        if self.formed.is_none() {
            v.held = false;
        }
        v
    }
}

/// `quorate-at-end`: when the run ends, every running node is quorate.
#[derive(Default)]
pub struct QuorateAtEnd {
    ids: BTreeMap<String, u32>,
    /// node -> (running, quorate) as of its latest change.
    state: BTreeMap<String, (bool, bool)>,
}

impl QuorateAtEnd {
    pub fn new(ids: BTreeMap<String, u32>) -> Self {
        Self {
            ids,
            ..Self::default()
        }
    }
}

impl Checker for QuorateAtEnd {
    fn name(&self) -> &'static str {
        "quorate-at-end"
    }

    fn observe(&mut self, _t: Duration, event: &Event, view: &ClusterView) {
        let node = match event {
            Event::Node {
                node,
                detail: NodeEvent::Quorum { .. },
                ..
            } => &**node,
            Event::PowerOff { node }
            | Event::Pause { node }
            | Event::Boot { node }
            | Event::Resume { node } => node.as_str(),
            _ => return,
        };
        let m = view.machine(node);
        let quorate = m.quorum.as_ref().is_some_and(|q| q.quorate);
        self.state.insert(node.to_string(), (m.running(), quorate));
    }

    fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict {
        let running: Vec<&String> = self
            .ids
            .keys()
            .filter(|n| self.state.get(*n).is_none_or(|(r, _)| *r))
            .collect();
        let broken: Vec<(Duration, String)> = running
            .iter()
            .filter(|n| !self.state.get(**n).is_some_and(|(_, q)| *q))
            .map(|n| (end, format!("{n} is not quorate at the end of the run")))
            .collect();
        let names: Vec<&str> = running.iter().map(|n| n.as_str()).collect();
        verdict(
            self.name(),
            expectation,
            broken,
            format!("running nodes {} quorate at the end", names.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Feed;
    use super::*;

    fn s(x: f64) -> Duration {
        Duration::from_secs_f64(x)
    }

    fn member(node: &str, ring: &str, members: &[u32]) -> Event {
        Event::Node {
            node: node.into(),
            detail: NodeEvent::Membership {
                configuration: Configuration::Regular,
                ring: ring.into(),
                members: members.to_vec(),
                left: vec![],
                joined: vec![],
            },
            spurious: None,
            since_last_advert_us: None,
        }
    }

    fn deliver(node: &str, sender: u32, counter: u64, ring: &str) -> Event {
        Event::Node {
            node: node.into(),
            detail: NodeEvent::TotemDeliver {
                sender,
                boot: 0,
                counter,
                ring: ring.into(),
                seq: 0,
            },
            spurious: None,
            since_last_advert_us: None,
        }
    }

    fn quorum(node: &str, quorate: bool, members: &[u32]) -> Event {
        Event::Node {
            node: node.into(),
            detail: NodeEvent::Quorum {
                quorate,
                total_votes: 1,
                expected_votes: 2,
                quorum: 1,
                members: members.to_vec(),
            },
            spurious: None,
            since_last_advert_us: None,
        }
    }

    #[test]
    fn agreed_order_catches_swapped_messages() {
        let mut c = Feed::new(AgreedOrder::default());
        c.observe(s(1.0), &deliver("a", 1, 1, "r"));
        c.observe(s(1.0), &deliver("a", 2, 1, "r"));
        c.observe(s(1.0), &deliver("b", 2, 1, "r"));
        c.observe(s(1.1), &deliver("b", 1, 1, "r"));
        let v = c.finish(s(2.0), Expectation::Hold);
        assert!(!v.held);
        assert!(v.summary.contains("disagree"), "{}", v.summary);
        // Nodes are named as ClusterView::key names them, `name#boot`.
        assert!(v.summary.contains("a#0 and b#0"), "{}", v.summary);
    }

    #[test]
    fn agreed_order_allows_subsets_and_catches_duplicates() {
        let mut c = Feed::new(AgreedOrder::default());
        for (n, m) in [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 3)] {
            c.observe(s(1.0), &deliver(n, m, 1, "r"));
        }
        assert!(c.finish(s(2.0), Expectation::Hold).held);
        let mut c = Feed::new(AgreedOrder::default());
        c.observe(s(1.0), &deliver("a", 1, 1, "r"));
        c.observe(s(1.0), &deliver("a", 1, 1, "r"));
        assert!(!c.finish(s(2.0), Expectation::Hold).held);
    }

    #[test]
    fn virtual_synchrony_catches_delivery_in_another_configuration() {
        let mut c = Feed::new(VirtualSynchrony::default());
        c.observe(s(0.0), &member("a", "1.4", &[1, 2]));
        c.observe(s(0.0), &member("b", "1.8", &[2]));
        c.observe(s(1.0), &deliver("a", 1, 1, "1.4"));
        c.observe(s(1.0), &deliver("b", 1, 1, "1.4"));
        let v = c.finish(s(2.0), Expectation::Hold);
        assert!(!v.held, "{v:?}");
    }

    #[test]
    fn membership_agreement_catches_different_member_lists() {
        let mut c = Feed::new(MembershipAgreement::default());
        c.observe(s(0.0), &member("a", "1.4", &[1, 2]));
        c.observe(s(0.0), &member("b", "1.4", &[2, 1]));
        assert_eq!(c.broken.total, 0);
        c.observe(s(0.0), &member("c", "1.4", &[1, 2, 3]));
        assert_eq!(c.broken.total, 1);
        assert!(!c.finish(s(1.0), Expectation::Hold).held);
    }

    #[test]
    fn no_loss_catches_a_message_only_one_side_got() {
        let mut c = Feed::new(NoLossInConfiguration::default());
        c.observe(s(0.0), &member("a", "1.4", &[1, 2]));
        c.observe(s(0.0), &member("b", "1.4", &[1, 2]));
        c.observe(s(1.0), &deliver("a", 1, 1, "1.4"));
        c.observe(s(2.0), &member("a", "1.8", &[1, 2]));
        c.observe(s(2.0), &member("b", "1.8", &[1, 2]));
        let v = c.finish(s(3.0), Expectation::Hold);
        assert!(!v.held, "{v:?}");
    }

    #[test]
    fn single_quorate_partition_catches_two_disjoint_quorate_sides() {
        let mut c = Feed::new(SingleQuoratePartition::default());
        c.observe(s(0.0), &quorum("a", true, &[1, 2]));
        c.observe(s(0.0), &quorum("b", true, &[1, 2]));
        c.observe(s(1.0), &quorum("a", true, &[1]));
        assert_eq!(c.broken.total, 0, "overlapping views are not a split");
        c.observe(s(1.5), &quorum("b", true, &[2]));
        let v = c.finish(s(2.0), Expectation::Hold);
        assert!(!v.held);
        assert_eq!(v.first_broken_at, Some(1.5));
    }

    #[test]
    fn membership_stable_breaks_on_a_later_change() {
        let mut c = Feed::new(MembershipStable::new(2));
        c.observe(s(0.0), &member("a", "1.4", &[1]));
        c.observe(s(1.0), &member("a", "1.8", &[1, 2]));
        c.observe(s(1.0), &member("b", "1.8", &[1, 2]));
        assert!(c.broken.is_empty(), "forming the full ring is not a change");
        c.observe(s(5.0), &member("a", "1.c", &[1]));
        assert!(!c.finish(s(9.0), Expectation::Hold).held);
    }

    #[test]
    fn quorate_at_end_names_the_inquorate_node() {
        let ids: BTreeMap<String, u32> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
        let mut c = Feed::new(QuorateAtEnd::new(ids));
        c.observe(s(1.0), &quorum("a", true, &[1, 2]));
        c.observe(s(1.0), &quorum("b", false, &[2]));
        let v = c.finish(s(2.0), Expectation::Hold);
        assert!(!v.held);
        assert!(v.summary.contains("b is not quorate"), "{}", v.summary);
    }

    #[test]
    fn membership_agreement_catches_a_node_outside_its_ring() {
        let ids: BTreeMap<String, u32> = [("a".to_string(), 1)].into();
        let mut c = Feed::new(MembershipAgreement::new(ids));
        c.observe(s(0.0), &member("a", "2.4", &[2, 3]));
        let v = c.finish(s(1.0), Expectation::Hold);
        assert!(
            !v.held && v.summary.contains("not among its members"),
            "{v:?}"
        );
    }

    #[test]
    fn checkers_keep_bounded_state_on_long_runs() {
        let mut c = Feed::new(AgreedOrder::default());
        for i in 0..20_000u64 {
            let t = s(i as f64);
            c.observe(t, &deliver("a", 1, i, "r"));
            c.observe(t, &deliver("b", 1, i, "r"));
        }
        assert!(c.finish(s(20_000.0), Expectation::Hold).held);
        // 600 s window at one message per second: about 600 remembered.
        assert!(c.check.remembered() <= 700, "{}", c.check.remembered());
    }

    #[test]
    fn liveness_requires_one_ring_after_the_bound() {
        let ids: BTreeMap<String, u32> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
        let mut c = Feed::new(Liveness::new(s(5.0), ids.clone()));
        c.observe(s(1.0), &member("a", "1.4", &[1, 2]));
        c.observe(s(1.0), &member("b", "1.4", &[1, 2]));
        assert!(c.finish(s(10.0), Expectation::Hold).held);
        let mut c = Feed::new(Liveness::new(s(5.0), ids));
        c.observe(s(1.0), &member("a", "1.4", &[1]));
        c.observe(s(1.0), &member("b", "2.4", &[2]));
        let v = c.finish(s(10.0), Expectation::Hold);
        assert!(!v.held, "{v:?}");
    }
}
