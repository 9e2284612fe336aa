//! Power devices in the simulated world: IPMI-style BMCs and networked
//! PDUs (`hasim_powerdev::PowerDevice`), declared by `[[power_device]]`.
//!
//! Each device is a host on the fabric with its own address (so partitions
//! and link faults apply to the management traffic), listening on
//! [`POWER_PORT`]. The device cores run on the fabric's madsim node, not on
//! the machine they power: they survive the target's power loss, except a
//! BMC declared `dies_with_host` (the core models that flaw itself, from
//! the machine power changes the world reports). A device's
//! `Power { machine, on }` goes through [`Machines`], the world's one
//! machine lifecycle.
//!
//! Nothing here runs unless the scenario declares a device: every madsim
//! task takes part in the seeded scheduling.

use crate::context::Shared;
use crate::machines::Machines;
use crate::power_spec::PowerDeviceSpec;
use crate::trace::Event;
use hasim_node::fencing::POWER_PORT;
use hasim_powerdev::{DeviceAction, DeviceInput, DeviceKind, PowerDevice};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use tokio::time::sleep_until;

/// One device of the run.
struct Device {
    core: PowerDevice,
    /// Its host index in the world.
    index: usize,
    address: Ipv4Addr,
    is_pdu: bool,
}

/// Every power device of a run, driven from the fabric's node.
#[derive(Clone)]
pub struct Devices {
    shared: Shared,
    machines: Machines,
    devices: Arc<Mutex<BTreeMap<String, Device>>>,
}

impl Devices {
    /// Start the scenario's devices: bind each one's port and serve it.
    /// Returns `None` (and spawns nothing) when there are none.
    pub fn start(
        shared: &Shared,
        machines: &Machines,
        specs: &[PowerDeviceSpec],
        nodes: &[&str],
    ) -> Option<Devices> {
        if specs.is_empty() {
            return None;
        }
        let mut devices = BTreeMap::new();
        let mut inboxes = Vec::new();
        {
            let mut world = shared.world.at(shared.now());
            for spec in specs {
                // Checked when the scenario was loaded.
                let (Ok(config), Some(index)) =
                    (spec.config(nodes), world.host_index(spec.name.get_ref()))
                else {
                    continue;
                };
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                if world.bind(index, 0, POWER_PORT, tx).is_err() {
                    continue;
                }
                let name = spec.name.get_ref().clone();
                let is_pdu = matches!(config.kind, DeviceKind::Pdu { .. });
                devices.insert(
                    name.clone(),
                    Device {
                        core: PowerDevice::new(config),
                        index,
                        address: spec.address,
                        is_pdu,
                    },
                );
                inboxes.push((name, rx));
            }
        }
        let me = Devices {
            shared: shared.clone(),
            machines: machines.clone(),
            devices: Arc::new(Mutex::new(devices)),
        };
        let hook = me.clone();
        machines.on_power(Arc::new(
            move |machine: &str, on: bool, supply_lost: bool| {
                hook.machine_power(machine, on, supply_lost)
            },
        ));
        for (name, mut rx) in inboxes {
            let me = me.clone();
            shared.spawn_on_fabric(async move {
                while let Some(d) = rx.recv().await {
                    let input = DeviceInput::Datagram {
                        from: d.src.to_string(),
                        bytes: d.payload,
                    };
                    me.handle(&name, input);
                }
            });
        }
        Some(me)
    }

    /// Feed one device one input, then carry out its actions (outside the
    /// devices' lock: a power change reports back to every device).
    fn handle(&self, name: &str, input: DeviceInput) {
        let now = self.shared.now();
        let (actions, index, address, is_pdu) = {
            let Ok(mut devices) = self.devices.lock() else {
                return;
            };
            let Some(dev) = devices.get_mut(name) else {
                return;
            };
            (
                dev.core.handle(now, input),
                dev.index,
                dev.address,
                dev.is_pdu,
            )
        };
        for action in actions {
            match action {
                DeviceAction::Send { to, bytes } => {
                    let Ok(to) = to.parse::<SocketAddrV4>() else {
                        continue;
                    };
                    let src = SocketAddrV4::new(address, POWER_PORT);
                    let deliveries = self.shared.world.at(now).send(index, src, to, bytes);
                    self.shared.schedule(deliveries);
                }
                DeviceAction::SetTimer { id, at } => {
                    let (me, name) = (self.clone(), name.to_string());
                    self.shared.spawn_on_fabric(async move {
                        sleep_until(me.shared.start + at).await;
                        me.handle(&name, DeviceInput::Timer { id });
                    });
                }
                DeviceAction::Power { machine, on } => {
                    // Recorded first: the power change it causes (if any)
                    // follows in the trace, attributed to this device.
                    self.shared.world.at(now).record(Event::DevicePower {
                        device: name.to_string(),
                        machine: machine.clone(),
                        on,
                    });
                    self.machines.device_power(&machine, on, is_pdu);
                }
                DeviceAction::Event(detail) => {
                    self.shared.world.at(now).record(Event::Device {
                        device: name.to_string(),
                        detail,
                    });
                }
            }
        }
    }

    /// A device fault from the scenario or the nemesis (validated: the
    /// device exists).
    pub fn set_fault(&self, name: &str, fault: hasim_powerdev::DeviceFault) {
        self.handle(name, DeviceInput::SetFault(fault));
    }

    /// The world reports a machine's power change to every device.
    fn machine_power(&self, machine: &str, on: bool, supply_lost: bool) {
        let names: Vec<String> = match self.devices.lock() {
            Ok(d) => d.keys().cloned().collect(),
            Err(_) => return,
        };
        for name in names {
            let input = DeviceInput::MachinePower {
                machine: machine.to_string(),
                on,
                supply_lost,
            };
            self.handle(&name, input);
        }
    }
}
