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
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
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

/// Told of every power change of a machine: (machine, on, supply_lost).
/// `supply_lost` is true when the machine's own supply went (a power-off
/// fault, a PDU outlet switched off), false for a chassis power-off through
/// its BMC and for every power-on.
pub type PowerHook = Arc<dyn Fn(&str, bool, bool) + Send + Sync>;

/// How a node's watchdog reaches the machine lifecycle: the nodes' init
/// closures are built while machines are still being registered, so they
/// hold this line, which is connected once every machine is.
#[derive(Clone, Default)]
pub struct ResetLine(Arc<OnceLock<Machines>>);

impl ResetLine {
    /// Connect the line (once, after the last machine is registered).
    pub fn connect(&self, machines: &Machines) {
        let _ = self.0.set(machines.clone());
    }

    /// Reset `name` from the fabric's node, at this same simulated time:
    /// the call comes from a task of the machine that is about to lose
    /// power, which must not kill its own node under its feet.
    pub fn reset(&self, name: &str) {
        let Some(machines) = self.0.get().cloned() else {
            return;
        };
        let name = name.to_string();
        let shared = machines.shared.clone();
        shared.spawn_on_fabric(async move {
            machines.watchdog_reset(&name);
        });
    }
}

/// Handle to every machine of a run.
#[derive(Clone)]
pub struct Machines {
    shared: Shared,
    machines: Arc<BTreeMap<String, Machine>>,
    /// Power devices watching the machines (see `power`).
    hook: Arc<Mutex<Option<PowerHook>>>,
    /// Machines whose supply a fault cut: no device can power them on
    /// until a fault restores it.
    supply_dead: Arc<Mutex<BTreeSet<String>>>,
}

impl Machines {
    pub(crate) fn new(shared: Shared) -> Self {
        Self {
            shared,
            machines: Arc::new(BTreeMap::new()),
            hook: Default::default(),
            supply_dead: Default::default(),
        }
    }

    /// Tell `hook` of every power change from now on (one hook per run).
    pub fn on_power(&self, hook: PowerHook) {
        if let Ok(mut h) = self.hook.lock() {
            *h = Some(hook);
        }
    }

    /// Forget the hook (the end of a run: it holds the devices, which hold
    /// these machines).
    pub fn clear_hook(&self) {
        if let Ok(mut h) = self.hook.lock() {
            *h = None;
        }
    }

    fn notify(&self, name: &str, on: bool, supply_lost: bool) {
        let hook = self.hook.lock().ok().and_then(|h| h.clone());
        if let Some(hook) = hook {
            hook(name, on, supply_lost);
        }
    }

    fn supply(&self, name: &str, dead: bool) {
        if let Ok(mut set) = self.supply_dead.lock() {
            if dead {
                set.insert(name.to_string());
            } else {
                set.remove(name);
            }
        }
    }

    /// A power device switches `name`: off (`supply_lost` for a PDU outlet,
    /// which takes a BMC on standby power with it) or on, which does
    /// nothing while the machine's own supply is dead. False when nothing
    /// changed.
    pub fn device_power(&self, name: &str, on: bool, supply_lost: bool) -> bool {
        let Some(m) = self.machines.get(name).copied() else {
            return false;
        };
        if on {
            let dead = self
                .supply_dead
                .lock()
                .map(|s| s.contains(name))
                .unwrap_or(false);
            if dead || !self.power_on(m) {
                return false;
            }
            self.notify(name, true, false);
            true
        } else {
            if !self.power_off(m) {
                return false;
            }
            self.notify(name, false, supply_lost);
            true
        }
    }

    /// `name`'s hardware watchdog fired: a hard reset, recorded first so
    /// the power-off that follows is attributed to it. The supply is not
    /// lost (a BMC on standby power keeps running) and the machine boots
    /// again after its boot delay, as a reset machine does. False when the
    /// machine is unknown or already off.
    pub fn watchdog_reset(&self, name: &str) -> bool {
        let Some(m) = self.machines.get(name).copied() else {
            return false;
        };
        {
            let mut world = self.shared.world.at(self.shared.now());
            if !world.hosts[m.index].powered {
                return false;
            }
            world.record(crate::trace::Event::WatchdogReset {
                node: name.to_string(),
            });
        }
        if !self.power_off(m) {
            return false;
        }
        self.notify(name, false, false);
        if self.power_on(m) {
            self.notify(name, true, false);
        }
        true
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
        // The fault timeline's power actions are the machine's own supply.
        match action {
            PowerAction::Off => {
                self.supply(name, true);
                let done = self.power_off(m);
                if done {
                    self.notify(name, false, true);
                }
                done
            }
            PowerAction::On => {
                self.supply(name, false);
                let done = self.power_on(m);
                if done {
                    self.notify(name, true, false);
                }
                done
            }
            PowerAction::Cycle => {
                let off = self.power_off(m);
                if off {
                    self.notify(name, false, true);
                }
                let on = self.power_on(m);
                if on {
                    self.notify(name, true, false);
                }
                on || off
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
