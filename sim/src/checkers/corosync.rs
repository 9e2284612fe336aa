//! Invariants of Corosync's Totem and votequorum, judged from the events the
//! node daemons report: configuration changes, agreed-order deliveries of the
//! test load, and quorum views.
//!
//! A delivery is attributed to the regular configuration the node had
//! installed when it delivered the message; messages delivered during
//! recovery, before the transitional configuration, still belong to the old
//! regular one. That is the configuration extended virtual synchrony speaks of.

use super::Checker;
use crate::trace::Event;
use hasim_node::NodeEvent;
use hasim_reports::{Expectation, Verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A test-load message: (sender nodeid, sender's boot, per-boot counter).
type Msg = (u32, u64, u64);

fn secs(t: Duration) -> f64 {
    t.as_secs_f64()
}

/// (node, ring, members) when `event` installs a regular configuration.
fn regular_membership(event: &Event) -> Option<(&String, &String, &Vec<u32>)> {
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
        } if configuration == "regular" => Some((node, ring, members)),
        _ => None,
    }
}

/// (node, message, ring it was sent in) when `event` is a test-load delivery.
fn delivery(event: &Event) -> Option<(&String, Msg, &String)> {
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

/// Per-node bookkeeping common to several checkers: which incarnation of the
/// node is running and which regular configuration it has installed.
#[derive(Default)]
struct Nodes {
    boots: BTreeMap<String, u32>,
    ring: BTreeMap<String, String>,
}

impl Nodes {
    /// Track power and membership; returns the node's key (name#boot).
    fn observe(&mut self, event: &Event) {
        match event {
            Event::PowerOff { node } => {
                *self.boots.entry(node.clone()).or_default() += 1;
                self.ring.remove(node);
            }
            Event::Node {
                node,
                detail:
                    NodeEvent::Membership {
                        configuration,
                        ring,
                        ..
                    },
                ..
            } if configuration == "regular" => {
                self.ring.insert(node.clone(), ring.clone());
            }
            _ => {}
        }
    }

    fn key(&self, node: &str) -> String {
        format!("{node}#{}", self.boots.get(node).copied().unwrap_or(0))
    }
}

fn verdict(
    name: &str,
    expectation: Expectation,
    broken: Vec<(Duration, String)>,
    ok: String,
) -> Verdict {
    let held = broken.is_empty();
    Verdict {
        checker: name.to_string(),
        held,
        expectation,
        summary: match broken.first() {
            None => ok,
            Some((t, what)) => {
                format!("t={:.3}s: {what} ({} violation(s))", secs(*t), broken.len())
            }
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

/// `agreed-order`: any two nodes deliver the messages they both deliver in
/// the same order, and no node delivers a message twice.
#[derive(Default)]
pub struct AgreedOrder {
    nodes: Nodes,
    /// node#boot -> deliveries in order, with their times.
    delivered: BTreeMap<String, Vec<(Msg, Duration)>>,
    seen: BTreeMap<String, BTreeSet<Msg>>,
    broken: Vec<(Duration, String)>,
}

impl Checker for AgreedOrder {
    fn name(&self) -> &'static str {
        "agreed-order"
    }

    fn observe(&mut self, t: Duration, event: &Event) {
        self.nodes.observe(event);
        if let Some((node, msg, _)) = delivery(event) {
            let key = self.nodes.key(node);
            let (sender, _, counter) = msg;
            if !self.seen.entry(key.clone()).or_default().insert(msg) {
                self.broken.push((
                    t,
                    format!("{key} delivered message {sender}:{counter} twice"),
                ));
            }
            self.delivered.entry(key).or_default().push((msg, t));
        }
    }

    fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict {
        let keys: Vec<&String> = self.delivered.keys().collect();
        let mut broken = std::mem::take(&mut self.broken);
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                let (sa, sb) = (&self.seen[*a], &self.seen[*b]);
                let common: Vec<&(Msg, Duration)> = self.delivered[*a]
                    .iter()
                    .filter(|(m, _)| sb.contains(m))
                    .collect();
                let other: Vec<&(Msg, Duration)> = self.delivered[*b]
                    .iter()
                    .filter(|(m, _)| sa.contains(m))
                    .collect();
                if let Some(pos) = common.iter().zip(&other).position(|(x, y)| x.0 != y.0) {
                    let (x, y) = (common[pos], other[pos]);
                    broken.push((
                        x.1.max(y.1),
                        format!(
                            "{a} and {b} disagree on the order of common message #{pos}: {}:{} vs {}:{}",
                            x.0 .0, x.0 .2, y.0 .0, y.0 .2
                        ),
                    ));
                }
            }
        }
        broken.sort_by_key(|(t, _)| *t);
        let total: usize = self.delivered.values().map(Vec::len).sum();
        verdict(
            self.name(),
            expectation,
            broken,
            format!(
                "{total} deliveries on {} node runs ({:.0} per node per simulated second), one agreed order",
                keys.len(),
                total as f64 / keys.len().max(1) as f64 / end.as_secs_f64().max(1e-9)
            ),
        )
    }
}

/// `virtual-synchrony`: a message is delivered in the same configuration by
/// every node that delivers it, and that is the configuration it was sent in.
#[derive(Default)]
pub struct VirtualSynchrony {
    nodes: Nodes,
    first: BTreeMap<Msg, (String, String)>,
    broken: Vec<(Duration, String)>,
    count: u64,
}

impl Checker for VirtualSynchrony {
    fn name(&self) -> &'static str {
        "virtual-synchrony"
    }

    fn observe(&mut self, t: Duration, event: &Event) {
        self.nodes.observe(event);
        if let Some((node, msg, ring)) = delivery(event) {
            self.count += 1;
            let (sender, _, counter) = msg;
            let installed = self.nodes.ring.get(node).cloned().unwrap_or_default();
            if &installed != ring {
                self.broken.push((t, format!("{node} delivered {sender}:{counter} (sent in ring {ring}) in configuration {installed}")));
            }
            match self.first.get(&msg) {
                None => {
                    self.first.insert(msg, (node.clone(), installed));
                }
                Some((other, cfg)) if *cfg != installed => {
                    self.broken.push((t, format!("{sender}:{counter} delivered in {cfg} by {other} but in {installed} by {node}")));
                }
                Some(_) => {}
            }
        }
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let broken = std::mem::take(&mut self.broken);
        verdict(
            self.name(),
            expectation,
            broken,
            format!(
                "{} deliveries, each in the configuration it was sent in",
                self.count
            ),
        )
    }
}

/// `membership-agreement`: the same ring id always comes with the same
/// member list.
#[derive(Default)]
pub struct MembershipAgreement {
    rings: BTreeMap<String, (String, Vec<u32>)>,
    broken: Vec<(Duration, String)>,
}

impl Checker for MembershipAgreement {
    fn name(&self) -> &'static str {
        "membership-agreement"
    }

    fn observe(&mut self, t: Duration, event: &Event) {
        if let Some((node, ring, members)) = regular_membership(event) {
            let mut sorted = members.clone();
            sorted.sort_unstable();
            match self.rings.get(ring) {
                None => {
                    self.rings.insert(ring.clone(), (node.clone(), sorted));
                }
                Some((other, m)) if *m != sorted => {
                    self.broken.push((
                        t,
                        format!("ring {ring}: {other} has members {m:?}, {node} has {sorted:?}"),
                    ));
                }
                Some(_) => {}
            }
        }
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let broken = std::mem::take(&mut self.broken);
        verdict(
            self.name(),
            expectation,
            broken,
            format!("{} rings, members agreed on each", self.rings.len()),
        )
    }
}

/// `no-loss-in-configuration`: nodes that move together from one regular
/// configuration to the same next one delivered the same messages in it.
#[derive(Default)]
pub struct NoLossInConfiguration {
    nodes: Nodes,
    /// node#boot -> (current regular ring, messages delivered in it)
    current: BTreeMap<String, (String, BTreeSet<Msg>)>,
    /// (ring, next ring) -> (first node, its messages)
    transitions: BTreeMap<(String, String), (String, BTreeSet<Msg>)>,
    broken: Vec<(Duration, String)>,
}

impl Checker for NoLossInConfiguration {
    fn name(&self) -> &'static str {
        "no-loss-in-configuration"
    }

    fn observe(&mut self, t: Duration, event: &Event) {
        if let Event::PowerOff { node } = event {
            let key = self.nodes.key(node);
            self.current.remove(&key);
        }
        self.nodes.observe(event);
        let Event::Node { node, detail, .. } = event else {
            return;
        };
        let key = self.nodes.key(node);
        match detail {
            NodeEvent::TotemDeliver {
                sender,
                boot,
                counter,
                ..
            } => {
                if let Some((_, set)) = self.current.get_mut(&key) {
                    set.insert((*sender, *boot, *counter));
                }
            }
            NodeEvent::Membership {
                configuration,
                ring,
                ..
            } if configuration == "regular" => {
                let previous = self
                    .current
                    .insert(key.clone(), (ring.clone(), BTreeSet::new()));
                if let Some((old, set)) = previous {
                    let step = (old.clone(), ring.clone());
                    match self.transitions.get(&step) {
                        None => {
                            self.transitions.insert(step, (key, set));
                        }
                        Some((other, theirs)) if *theirs != set => {
                            let missing: Vec<&Msg> =
                                theirs.symmetric_difference(&set).take(5).collect();
                            self.broken.push((
                                t,
                                format!("{other} and {key} both went from ring {old} to {ring} but delivered different messages in {old} (differ on {missing:?})"),
                            ));
                        }
                        Some(_) => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let broken = std::mem::take(&mut self.broken);
        verdict(
            self.name(),
            expectation,
            broken,
            format!(
                "{} configuration changes, no message lost within one",
                self.transitions.len()
            ),
        )
    }
}

/// `single-quorate-partition`: no two running nodes are quorate at once with
/// disjoint member lists (two partitions both allowed to run services).
#[derive(Default)]
pub struct SingleQuoratePartition {
    views: BTreeMap<String, (bool, BTreeSet<u32>)>,
    stopped: BTreeSet<String>,
    broken: Vec<(Duration, String)>,
    open: Option<String>,
}

impl SingleQuoratePartition {
    fn check(&mut self, t: Duration) {
        let quorate: Vec<(&String, &BTreeSet<u32>)> = self
            .views
            .iter()
            .filter(|(n, (q, _))| *q && !self.stopped.contains(*n))
            .map(|(n, (_, m))| (n, m))
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
                self.broken.push((t, what.clone()));
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

    fn observe(&mut self, t: Duration, event: &Event) {
        match event {
            Event::Node {
                node,
                detail:
                    NodeEvent::Quorum {
                        quorate, members, ..
                    },
                ..
            } => {
                self.views
                    .insert(node.clone(), (*quorate, members.iter().copied().collect()));
            }
            Event::PowerOff { node } => {
                self.views.remove(node);
            }
            Event::Pause { node } => {
                self.stopped.insert(node.clone());
            }
            Event::Resume { node } => {
                self.stopped.remove(node);
            }
            _ => return,
        }
        self.check(t);
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let broken = std::mem::take(&mut self.broken);
        verdict(
            self.name(),
            expectation,
            broken,
            "never two disjoint quorate partitions".into(),
        )
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
    /// node -> (time, members) of its latest regular configuration.
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
}

impl Checker for Liveness {
    fn name(&self) -> &'static str {
        "liveness"
    }

    fn observe(&mut self, t: Duration, event: &Event) {
        match event {
            Event::Fault { what, .. } => {
                self.last_change = t;
                if what.starts_with("partition") {
                    self.partitioned = true;
                } else if what == "heal" {
                    self.partitioned = false;
                }
            }
            Event::PowerOff { node } | Event::Pause { node } => {
                self.running.remove(node);
                self.last_change = t;
            }
            Event::Boot { node } | Event::Resume { node } => {
                self.running.insert(node.clone());
                self.last_change = t;
            }
            Event::Node {
                node,
                detail:
                    NodeEvent::Membership {
                        configuration,
                        members,
                        ..
                    },
                ..
            } if configuration == "regular" => {
                self.rings
                    .entry(node.clone())
                    .or_default()
                    .push((t, members.iter().copied().collect()));
            }
            _ => {}
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

    fn observe(&mut self, t: Duration, event: &Event) {
        if let Some((node, ring, members)) = regular_membership(event) {
            if self.joined.contains(node) {
                self.broken.push((
                    t,
                    format!("{node} installed ring {ring} with members {members:?}"),
                ));
            } else if members.len() == self.node_count {
                self.joined.insert(node.clone());
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
    views: BTreeMap<String, bool>,
    stopped: BTreeSet<String>,
    ids: BTreeMap<String, u32>,
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

    fn observe(&mut self, _t: Duration, event: &Event) {
        match event {
            Event::Node {
                node,
                detail: NodeEvent::Quorum { quorate, .. },
                ..
            } => {
                self.views.insert(node.clone(), *quorate);
            }
            Event::PowerOff { node } => {
                self.stopped.insert(node.clone());
                self.views.remove(node);
            }
            Event::Pause { node } => {
                self.stopped.insert(node.clone());
            }
            Event::Boot { node } | Event::Resume { node } => {
                self.stopped.remove(node);
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict {
        let running: Vec<&String> = self
            .ids
            .keys()
            .filter(|n| !self.stopped.contains(*n))
            .collect();
        let broken: Vec<(Duration, String)> = running
            .iter()
            .filter(|n| self.views.get(**n) != Some(&true))
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
    use super::*;

    fn s(x: f64) -> Duration {
        Duration::from_secs_f64(x)
    }

    fn member(node: &str, ring: &str, members: &[u32]) -> Event {
        Event::Node {
            node: node.into(),
            detail: NodeEvent::Membership {
                configuration: "regular".into(),
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
        let mut c = AgreedOrder::default();
        c.observe(s(1.0), &deliver("a", 1, 1, "r"));
        c.observe(s(1.0), &deliver("a", 2, 1, "r"));
        c.observe(s(1.0), &deliver("b", 2, 1, "r"));
        c.observe(s(1.1), &deliver("b", 1, 1, "r"));
        let v = c.finish(s(2.0), Expectation::Hold);
        assert!(!v.held);
        assert!(v.summary.contains("disagree"), "{}", v.summary);
    }

    #[test]
    fn agreed_order_allows_subsets_and_catches_duplicates() {
        let mut c = AgreedOrder::default();
        for (n, m) in [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 3)] {
            c.observe(s(1.0), &deliver(n, m, 1, "r"));
        }
        assert!(c.finish(s(2.0), Expectation::Hold).held);
        let mut c = AgreedOrder::default();
        c.observe(s(1.0), &deliver("a", 1, 1, "r"));
        c.observe(s(1.0), &deliver("a", 1, 1, "r"));
        assert!(!c.finish(s(2.0), Expectation::Hold).held);
    }

    #[test]
    fn virtual_synchrony_catches_delivery_in_another_configuration() {
        let mut c = VirtualSynchrony::default();
        c.observe(s(0.0), &member("a", "1.4", &[1, 2]));
        c.observe(s(0.0), &member("b", "1.8", &[2]));
        c.observe(s(1.0), &deliver("a", 1, 1, "1.4"));
        c.observe(s(1.0), &deliver("b", 1, 1, "1.4"));
        let v = c.finish(s(2.0), Expectation::Hold);
        assert!(!v.held, "{v:?}");
    }

    #[test]
    fn membership_agreement_catches_different_member_lists() {
        let mut c = MembershipAgreement::default();
        c.observe(s(0.0), &member("a", "1.4", &[1, 2]));
        c.observe(s(0.0), &member("b", "1.4", &[2, 1]));
        assert!(c.broken.is_empty());
        c.observe(s(0.0), &member("c", "1.4", &[1, 2, 3]));
        assert!(!c.finish(s(1.0), Expectation::Hold).held);
    }

    #[test]
    fn no_loss_catches_a_message_only_one_side_got() {
        let mut c = NoLossInConfiguration::default();
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
        let mut c = SingleQuoratePartition::default();
        c.observe(s(0.0), &quorum("a", true, &[1, 2]));
        c.observe(s(0.0), &quorum("b", true, &[1, 2]));
        c.observe(s(1.0), &quorum("a", true, &[1]));
        assert!(c.broken.is_empty(), "overlapping views are not a split");
        c.observe(s(1.5), &quorum("b", true, &[2]));
        let v = c.finish(s(2.0), Expectation::Hold);
        assert!(!v.held);
        assert_eq!(v.first_broken_at, Some(1.5));
    }

    #[test]
    fn membership_stable_breaks_on_a_later_change() {
        let mut c = MembershipStable::new(2);
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
        let mut c = QuorateAtEnd::new(ids);
        c.observe(s(1.0), &quorum("a", true, &[1, 2]));
        c.observe(s(1.0), &quorum("b", false, &[2]));
        let v = c.finish(s(2.0), Expectation::Hold);
        assert!(!v.held);
        assert!(v.summary.contains("b is not quorate"), "{}", v.summary);
    }

    #[test]
    fn liveness_requires_one_ring_after_the_bound() {
        let ids: BTreeMap<String, u32> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
        let mut c = Liveness::new(s(5.0), ids.clone());
        c.observe(s(1.0), &member("a", "1.4", &[1, 2]));
        c.observe(s(1.0), &member("b", "1.4", &[1, 2]));
        assert!(c.finish(s(10.0), Expectation::Hold).held);
        let mut c = Liveness::new(s(5.0), ids);
        c.observe(s(1.0), &member("a", "1.4", &[1]));
        c.observe(s(1.0), &member("b", "2.4", &[2]));
        let v = c.finish(s(10.0), Expectation::Hold);
        assert!(!v.held, "{v:?}");
    }
}
