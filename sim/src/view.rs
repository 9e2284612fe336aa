//! The cluster as checkers see it: which machines run, in which
//! incarnation, which ring each node has installed, each node's quorum view
//! and who can reach whom.
//!
//! The event bus updates the view once per event, before any checker sees
//! the event, so every checker judges against the same facts and none keeps
//! its own (subtly different) notion of "running".

use crate::scenario::FaultAction;
use crate::trace::Event;
use hasim_node::host::Configuration;
use hasim_node::NodeEvent;
use std::collections::{BTreeMap, BTreeSet};

/// One machine, as far as checkers care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineView {
    pub powered: bool,
    /// Daemons started (false between power-on and the end of the boot delay).
    pub booted: bool,
    pub paused: bool,
    /// How many times the machine lost power so far.
    pub incarnation: u32,
    /// The regular Totem configuration installed in this incarnation.
    pub ring: Option<String>,
    /// The latest quorum view of this incarnation.
    pub quorum: Option<QuorumView>,
}

impl Default for MachineView {
    fn default() -> Self {
        Self {
            powered: true,
            booted: true,
            paused: false,
            incarnation: 0,
            ring: None,
            quorum: None,
        }
    }
}

impl MachineView {
    /// Powered, booted and not paused: its daemons can act.
    pub fn running(&self) -> bool {
        self.powered && self.booted && !self.paused
    }
}

/// A node's quorum view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumView {
    pub quorate: bool,
    pub members: BTreeSet<u32>,
}

/// Every machine's state and the partitions in force.
#[derive(Debug, Default, Clone)]
pub struct ClusterView {
    machines: BTreeMap<String, MachineView>,
    /// Directed (from, to) pairs cut by a partition.
    blocked: BTreeSet<(String, String)>,
}

static UNSEEN: MachineView = MachineView {
    powered: true,
    booted: true,
    paused: false,
    incarnation: 0,
    ring: None,
    quorum: None,
};

impl ClusterView {
    /// A view where `hosts` are powered and running, as at the start of a run.
    pub fn new<'a>(hosts: impl IntoIterator<Item = &'a str>) -> Self {
        let machines = hosts
            .into_iter()
            .map(|h| (h.to_string(), MachineView::default()))
            .collect();
        Self {
            machines,
            blocked: BTreeSet::new(),
        }
    }

    /// A machine's state; a host never mentioned is powered and running.
    pub fn machine(&self, name: &str) -> &MachineView {
        self.machines.get(name).unwrap_or(&UNSEEN)
    }

    pub fn running(&self, name: &str) -> bool {
        self.machine(name).running()
    }

    /// The node's current incarnation as `name#boot`, the identity of one
    /// run of its daemons.
    pub fn key(&self, name: &str) -> String {
        format!("{name}#{}", self.machine(name).incarnation)
    }

    /// Whether a datagram from `from` can reach `to` (partitions only).
    pub fn reachable(&self, from: &str, to: &str) -> bool {
        !self.blocked.contains(&(from.to_string(), to.to_string()))
    }

    /// Machines in name order.
    pub fn machines(&self) -> impl Iterator<Item = (&String, &MachineView)> {
        self.machines.iter()
    }

    fn machine_mut(&mut self, name: &str) -> &mut MachineView {
        self.machines.entry(name.to_string()).or_default()
    }

    /// Apply one event. Called by the bus before the checkers see it.
    pub fn observe(&mut self, event: &Event) {
        match event {
            Event::PowerOff { node } => {
                let m = self.machine_mut(node);
                m.powered = false;
                m.booted = false;
                m.paused = false;
                m.incarnation += 1;
                m.ring = None;
                m.quorum = None;
            }
            Event::PowerOn { node } => self.machine_mut(node).powered = true,
            Event::Boot { node } => self.machine_mut(node).booted = true,
            Event::Pause { node } => self.machine_mut(node).paused = true,
            Event::Resume { node } => self.machine_mut(node).paused = false,
            Event::Fault { action, .. } => self.fault(action),
            Event::Node { node, detail, .. } => self.node_event(node, detail),
            _ => {}
        }
    }

    fn node_event(&mut self, node: &str, detail: &NodeEvent) {
        match detail {
            NodeEvent::Membership {
                configuration,
                ring,
                ..
            } if *configuration == Configuration::Regular => {
                self.machine_mut(node).ring = Some(ring.clone())
            }
            NodeEvent::Quorum {
                quorate, members, ..
            } => {
                self.machine_mut(node).quorum = Some(QuorumView {
                    quorate: *quorate,
                    members: members.iter().copied().collect(),
                })
            }
            _ => {}
        }
    }

    /// Partitions as the fabric applies them: every listed group is cut from
    /// every other (only the first from the rest when one-way), cumulative
    /// until `heal`.
    fn fault(&mut self, action: &FaultAction) {
        match action {
            FaultAction::Partition { groups, one_way } => {
                for (i, a) in groups.iter().enumerate() {
                    for (j, b) in groups.iter().enumerate() {
                        if i == j || (*one_way && i != 0) {
                            continue;
                        }
                        for x in a {
                            for y in b {
                                self.blocked.insert((x.clone(), y.clone()));
                            }
                        }
                    }
                }
            }
            FaultAction::Heal => self.blocked.clear(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev_node(n: &str) -> String {
        n.to_string()
    }

    #[test]
    fn power_cycle_bumps_incarnation_and_forgets_ring() {
        let mut v = ClusterView::new(["a", "b"]);
        v.observe(&Event::PowerOff { node: ev_node("a") });
        assert!(!v.running("a"));
        assert_eq!(v.key("a"), "a#1");
        v.observe(&Event::PowerOn { node: ev_node("a") });
        assert!(!v.running("a"), "not running before boot");
        v.observe(&Event::Boot { node: ev_node("a") });
        assert!(v.running("a"));
        v.observe(&Event::Pause { node: ev_node("b") });
        assert!(!v.running("b"));
        v.observe(&Event::Resume { node: ev_node("b") });
        assert!(v.running("b"));
    }

    #[test]
    fn partitions_accumulate_until_heal() {
        let mut v = ClusterView::new(["a", "b", "c"]);
        let cut = |groups: &[&[&str]], one_way| Event::Fault {
            action: FaultAction::Partition {
                groups: groups
                    .iter()
                    .map(|g| g.iter().map(|s| s.to_string()).collect())
                    .collect(),
                one_way,
            },
            source: "script",
        };
        v.observe(&cut(&[&["a"], &["b"]], true));
        assert!(!v.reachable("a", "b"));
        assert!(v.reachable("b", "a"));
        v.observe(&cut(&[&["c"], &["a"]], false));
        assert!(!v.reachable("a", "c") && !v.reachable("c", "a"));
        assert!(!v.reachable("a", "b"), "earlier cut still in force");
        v.observe(&Event::Fault {
            action: FaultAction::Heal,
            source: "script",
        });
        assert!(v.reachable("a", "b"));
    }
}
