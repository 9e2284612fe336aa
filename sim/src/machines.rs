//! Machine lifecycle: power off and on (with the boot delay), pause and
//! resume, and the incarnation each power cycle starts.
//!
//! The fault timeline calls this, and so can anything else in the world
//! that acts on a machine's power (a fencing device cutting an outlet):
//! [`Machines`] is a cheap handle any task of the run may hold.
//!
//! A machine's state lives in two places that must move together: the
//! world's host record (powered, booted, paused, incarnation: what the
//! network and the checkers see) and madsim's node (whether its tasks run).
//! Only this module changes both.

use crate::context::Shared;
use madsim::runtime::Handle;
use madsim::task::NodeId;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One simulated machine as the lifecycle needs it.
#[derive(Clone, Copy)]
struct Machine {
    /// Index of its host in the world.
    index: usize,
    /// Its madsim node.
    node: NodeId,
    boot_delay: Duration,
}

/// What can be done to a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    Off,
    On,
    /// Off, then on again at once (the boot delay follows).
    Cycle,
    Pause,
    Resume,
}

/// Handle to every machine of a run.
#[derive(Clone)]
pub struct Machines {
    shared: Shared,
    machines: Arc<BTreeMap<String, Machine>>,
}

impl Machines {
    pub(crate) fn new(shared: Shared) -> Self {
        Self {
            shared,
            machines: Arc::new(BTreeMap::new()),
        }
    }

    /// Register a machine (before the run starts).
    pub(crate) fn add(&mut self, name: &str, index: usize, node: NodeId, boot_delay: Duration) {
        Arc::make_mut(&mut self.machines).insert(
            name.to_string(),
            Machine {
                index,
                node,
                boot_delay,
            },
        );
    }

    /// Every machine's madsim node.
    pub(crate) fn node_ids(&self) -> Vec<NodeId> {
        self.machines.values().map(|m| m.node).collect()
    }

    /// Whether `name` is a machine of this run.
    pub fn contains(&self, name: &str) -> bool {
        self.machines.contains_key(name)
    }

    /// Carry out `action` on `name` now. Returns false when the machine is
    /// unknown or the action does not apply (powering off a machine that is
    /// off, resuming one that is not paused).
    pub fn act(&self, name: &str, action: PowerAction) -> bool {
        let Some(m) = self.machines.get(name).copied() else {
            return false;
        };
        match action {
            PowerAction::Off => self.power_off(m),
            PowerAction::On => self.power_on(m),
            PowerAction::Cycle => {
                let off = self.power_off(m);
                self.power_on(m) || off
            }
            PowerAction::Pause => self.pause(m),
            PowerAction::Resume => self.resume(m),
        }
    }

    /// Carry out `action` on `name` at simulated time `at` (from the start of
    /// the run), from a task of the world that outlives every machine.
    pub fn schedule(&self, at: Duration, name: &str, action: PowerAction) {
        let (me, name) = (self.clone(), name.to_string());
        self.shared.spawn_on_fabric(async move {
            tokio::time::sleep_until(me.shared.start + at).await;
            me.act(&name, action);
        });
    }

    fn pause(&self, m: Machine) -> bool {
        let mut world = self.shared.world.at(self.shared.now());
        let host = &world.hosts[m.index];
        if !host.powered || host.paused {
            return false;
        }
        Handle::current().pause(m.node);
        world.set_paused(m.index, true);
        true
    }

    fn resume(&self, m: Machine) -> bool {
        let mut world = self.shared.world.at(self.shared.now());
        if !world.hosts[m.index].paused {
            return false;
        }
        Handle::current().resume(m.node);
        world.set_paused(m.index, false);
        true
    }

    fn power_off(&self, m: Machine) -> bool {
        let mut world = self.shared.world.at(self.shared.now());
        if !world.hosts[m.index].powered {
            return false;
        }
        Handle::current().kill(m.node);
        world.power_off(m.index);
        true
    }

    /// Power on; the machine boots (its daemons start) after its boot delay,
    /// unless it loses power again first.
    fn power_on(&self, m: Machine) -> bool {
        let mut world = self.shared.world.at(self.shared.now());
        if world.hosts[m.index].powered {
            return false;
        }
        world.power_on(m.index);
        let incarnation = world.hosts[m.index].incarnation;
        drop(world);
        let shared = self.shared.clone();
        self.shared.spawn_on_fabric(async move {
            tokio::time::sleep(m.boot_delay).await;
            let mut world = shared.world.at(shared.now());
            let h = &world.hosts[m.index];
            if h.powered && h.incarnation == incarnation {
                world.booted(m.index);
                drop(world);
                Handle::current().restart(m.node);
            }
        });
        true
    }
}
