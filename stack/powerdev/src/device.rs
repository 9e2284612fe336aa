//! A power device on the management network: an IPMI-style BMC or a PDU.
//!
//! Why a core of its own: fencing is only as good as the device. A BMC is
//! powered from its host's supply (standby power); when that supply dies
//! the BMC dies with it and nobody can confirm the host is off (the reason
//! for a second fencing level on a PDU). A PDU is one device with many
//! outlets, reached over the same management network, so a partition of
//! that network makes every fencing attempt time out.
//!
//! Contract: [`PowerDevice::handle`]`(now, input) -> Vec<DeviceAction>`.
//! The world feeds datagrams addressed to [`DeviceConfig::address`],
//! timer expiries and the host's power changes; it applies
//! [`DeviceAction::Power`] to its machine lifecycle (off cuts power and
//! everything volatile; on boots the machine after its boot delay).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::wire::{PowerState, Reply, Request, Verb};

/// What kind of device and which machines it powers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// A BMC in `host`; outlet 0 is the chassis. `dies_with_host`: the BMC
    /// draws standby power from the host's supply, so a host power loss
    /// (not a fencing off) kills it too.
    Bmc { host: String, dies_with_host: bool },
    /// A PDU: outlet number -> machine it feeds.
    Pdu { outlets: BTreeMap<u16, String> },
}

/// A failure mode injected by a scenario or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DeviceFault {
    Healthy,
    /// Drops every datagram (crashed firmware, unplugged management port).
    Unreachable,
    /// Answers `extra` later than its normal latency.
    Slow {
        extra: Duration,
    },
    /// Answers every request with an error.
    Failing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    pub name: String,
    /// Address on the management segment (the fabric routes by it).
    pub address: String,
    pub kind: DeviceKind,
    /// Time from a request's arrival to its reply (and to the power change).
    pub latency: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceInput {
    Datagram {
        from: String,
        bytes: Vec<u8>,
    },
    Timer {
        id: u64,
    },
    SetFault(DeviceFault),
    /// The world reports a machine's power changed for any reason (PSU
    /// fault, fencing, boot). Lets a BMC report its chassis truthfully and
    /// die with its host. `supply_lost`: the machine's supply itself went
    /// (PSU or mains failure, PDU outlet off), which takes a BMC on standby
    /// power with it; a chassis power-off through the BMC does not.
    MachinePower {
        machine: String,
        on: bool,
        supply_lost: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAction {
    Send {
        to: String,
        bytes: Vec<u8>,
    },
    SetTimer {
        id: u64,
        at: Duration,
    },
    /// Cut (`on: false`) or restore a machine's power.
    Power {
        machine: String,
        on: bool,
    },
    Event(DeviceEvent),
}

/// What the device did, for the report and the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DeviceEvent {
    Executed {
        device: String,
        from: String,
        verb: Verb,
        outlet: u16,
        ok: bool,
    },
    Dropped {
        device: String,
        from: String,
        why: &'static str,
    },
    Malformed {
        device: String,
        from: String,
        error: String,
    },
    Died {
        device: String,
    },
    Revived {
        device: String,
    },
}

/// A request accepted and waiting for its latency to pass.
#[derive(Debug, Clone)]
struct Pending {
    from: String,
    request: Request,
}

#[derive(Debug, Clone)]
pub struct PowerDevice {
    config: DeviceConfig,
    fault: DeviceFault,
    /// False while the device itself has no power.
    alive: bool,
    /// Relay state per outlet (a BMC's chassis state is the host's power).
    outlets: BTreeMap<u16, PowerState>,
    pending: BTreeMap<u64, Pending>,
    next_timer: u64,
}

impl PowerDevice {
    pub fn new(config: DeviceConfig) -> PowerDevice {
        let outlets = match &config.kind {
            DeviceKind::Bmc { .. } => BTreeMap::from([(0, PowerState::On)]),
            DeviceKind::Pdu { outlets } => outlets.keys().map(|o| (*o, PowerState::On)).collect(),
        };
        PowerDevice {
            config,
            fault: DeviceFault::Healthy,
            alive: true,
            outlets,
            pending: BTreeMap::new(),
            next_timer: 0,
        }
    }

    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    pub fn is_alive(&self) -> bool {
        self.alive
    }

    pub fn handle(&mut self, now: Duration, input: DeviceInput) -> Vec<DeviceAction> {
        match input {
            DeviceInput::Datagram { from, bytes } => self.on_datagram(now, from, &bytes),
            DeviceInput::Timer { id } => self.on_timer(id),
            DeviceInput::SetFault(fault) => {
                self.fault = fault;
                Vec::new()
            }
            DeviceInput::MachinePower {
                machine,
                on,
                supply_lost,
            } => self.on_machine_power(&machine, on, supply_lost),
        }
    }

    fn on_datagram(&mut self, now: Duration, from: String, bytes: &[u8]) -> Vec<DeviceAction> {
        let name = self.config.name.clone();
        let why = if !self.alive {
            Some("device has no power")
        } else if self.fault == DeviceFault::Unreachable {
            Some("device unreachable")
        } else {
            None
        };
        if let Some(why) = why {
            return vec![DeviceAction::Event(DeviceEvent::Dropped {
                device: name,
                from,
                why,
            })];
        }
        let request = match Request::decode(bytes) {
            Ok(r) => r,
            Err(e) => {
                let error = e.to_string();
                return vec![DeviceAction::Event(DeviceEvent::Malformed {
                    device: name,
                    from,
                    error,
                })];
            }
        };
        let extra = match self.fault {
            DeviceFault::Slow { extra } => extra,
            _ => Duration::ZERO,
        };
        let id = self.next_timer;
        self.next_timer += 1;
        self.pending.insert(id, Pending { from, request });
        vec![DeviceAction::SetTimer {
            id,
            at: now + self.config.latency + extra,
        }]
    }

    fn on_timer(&mut self, id: u64) -> Vec<DeviceAction> {
        let Some(Pending { from, request }) = self.pending.remove(&id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let reply = self.execute(request, &mut out);
        out.push(DeviceAction::Event(DeviceEvent::Executed {
            device: self.config.name.clone(),
            from: from.clone(),
            verb: request.verb,
            outlet: request.outlet,
            ok: matches!(reply, Reply::Ok { .. }),
        }));
        out.push(DeviceAction::Send {
            to: from,
            bytes: reply.encode(),
        });
        out
    }

    /// Carry out one request: switch the relay and tell the world.
    fn execute(&mut self, request: Request, out: &mut Vec<DeviceAction>) -> Reply {
        let seq = request.seq;
        if self.fault == DeviceFault::Failing {
            return Reply::Err {
                seq,
                reason: "device reports an internal error".into(),
            };
        }
        let Some(machine) = self.machine_of(request.outlet) else {
            return Reply::Err {
                seq,
                reason: format!("no outlet {}", request.outlet),
            };
        };
        let state = match request.verb {
            Verb::Login | Verb::Status => self
                .outlets
                .get(&request.outlet)
                .copied()
                .unwrap_or(PowerState::Off),
            Verb::Off => self.switch(request.outlet, &machine, PowerState::Off, out),
            Verb::On => self.switch(request.outlet, &machine, PowerState::On, out),
            Verb::Cycle => {
                self.switch(request.outlet, &machine, PowerState::Off, out);
                self.switch(request.outlet, &machine, PowerState::On, out)
            }
        };
        Reply::Ok { seq, state }
    }

    fn switch(
        &mut self,
        outlet: u16,
        machine: &str,
        state: PowerState,
        out: &mut Vec<DeviceAction>,
    ) -> PowerState {
        // A PDU's relay is its own state. A BMC's chassis state is the
        // machine's real power, reported back through MachinePower: a
        // host whose supply is dead stays off whatever the BMC asks.
        if matches!(self.config.kind, DeviceKind::Pdu { .. }) {
            self.outlets.insert(outlet, state);
        }
        out.push(DeviceAction::Power {
            machine: machine.to_string(),
            on: state == PowerState::On,
        });
        state
    }

    fn machine_of(&self, outlet: u16) -> Option<String> {
        match &self.config.kind {
            DeviceKind::Bmc { host, .. } => (outlet == 0).then(|| host.clone()),
            DeviceKind::Pdu { outlets } => outlets.get(&outlet).cloned(),
        }
    }

    /// A BMC mirrors its host's chassis power and, with the flaw, dies
    /// with it. A PDU's relays are its own; the machine's PSU is not.
    fn on_machine_power(
        &mut self,
        machine: &str,
        on: bool,
        supply_lost: bool,
    ) -> Vec<DeviceAction> {
        let DeviceKind::Bmc {
            host,
            dies_with_host,
        } = &self.config.kind
        else {
            return Vec::new();
        };
        if host != machine {
            return Vec::new();
        }
        let state = if on { PowerState::On } else { PowerState::Off };
        self.outlets.insert(0, state);
        let device = self.config.name.clone();
        if *dies_with_host && !on && supply_lost && self.alive {
            self.alive = false;
            self.pending.clear();
            return vec![DeviceAction::Event(DeviceEvent::Died { device })];
        }
        if *dies_with_host && on && !self.alive {
            self.alive = true;
            return vec![DeviceAction::Event(DeviceEvent::Revived { device })];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn bmc(dies: bool) -> PowerDevice {
        PowerDevice::new(DeviceConfig {
            name: "bmc-n1".into(),
            address: "10.0.9.1".into(),
            kind: DeviceKind::Bmc {
                host: "n1".into(),
                dies_with_host: dies,
            },
            latency: MS(300),
        })
    }

    fn request(dev: &mut PowerDevice, now: Duration, verb: Verb, outlet: u16) -> Vec<DeviceAction> {
        let bytes = Request {
            seq: 1,
            verb,
            outlet,
        }
        .encode();
        dev.handle(
            now,
            DeviceInput::Datagram {
                from: "n2".into(),
                bytes,
            },
        )
    }

    fn fire(dev: &mut PowerDevice, actions: &[DeviceAction]) -> Vec<DeviceAction> {
        let Some(DeviceAction::SetTimer { id, .. }) = actions.first() else {
            panic!("expected a timer, got {actions:?}");
        };
        dev.handle(MS(0), DeviceInput::Timer { id: *id })
    }

    #[test]
    fn off_answers_after_latency_and_cuts_power() {
        let mut dev = bmc(false);
        let a = request(&mut dev, MS(1000), Verb::Off, 0);
        assert_eq!(
            a,
            vec![DeviceAction::SetTimer {
                id: 0,
                at: MS(1300)
            }]
        );
        let b = fire(&mut dev, &a);
        assert!(b.contains(&DeviceAction::Power {
            machine: "n1".into(),
            on: false
        }));
        let reply = b.iter().find_map(|x| match x {
            DeviceAction::Send { bytes, .. } => Reply::decode(bytes).ok(),
            _ => None,
        });
        assert_eq!(
            reply,
            Some(Reply::Ok {
                seq: 1,
                state: PowerState::Off
            })
        );
    }

    #[test]
    fn bmc_dies_with_its_host_only_with_the_flaw() {
        let mut flawed = bmc(true);
        let off = |supply_lost| DeviceInput::MachinePower {
            machine: "n1".into(),
            on: false,
            supply_lost,
        };
        flawed.handle(MS(0), off(false));
        assert!(
            flawed.is_alive(),
            "a chassis power-off leaves the BMC on standby power"
        );
        flawed.handle(MS(0), off(true));
        let a = request(&mut flawed, MS(10), Verb::Status, 0);
        assert!(matches!(
            a[0],
            DeviceAction::Event(DeviceEvent::Dropped { .. })
        ));
        let mut sound = bmc(false);
        sound.handle(MS(0), off(true));
        let a = request(&mut sound, MS(10), Verb::Status, 0);
        let b = fire(&mut sound, &a);
        assert!(b
            .iter()
            .any(|x| matches!(x, DeviceAction::Send { bytes, .. }
            if Reply::decode(bytes) == Ok(Reply::Ok { seq: 1, state: PowerState::Off }))));
    }

    #[test]
    fn faults_drop_delay_or_fail() {
        let mut dev = bmc(false);
        dev.handle(MS(0), DeviceInput::SetFault(DeviceFault::Unreachable));
        assert!(matches!(
            request(&mut dev, MS(0), Verb::Off, 0)[0],
            DeviceAction::Event(_)
        ));
        dev.handle(
            MS(0),
            DeviceInput::SetFault(DeviceFault::Slow { extra: MS(5000) }),
        );
        assert_eq!(
            request(&mut dev, MS(0), Verb::Off, 0),
            vec![DeviceAction::SetTimer {
                id: 0,
                at: MS(5300)
            }]
        );
        dev.handle(MS(0), DeviceInput::SetFault(DeviceFault::Failing));
        let a = request(&mut dev, MS(0), Verb::Off, 0);
        let b = fire(&mut dev, &a);
        assert!(!b.iter().any(|x| matches!(x, DeviceAction::Power { .. })));
    }

    #[test]
    fn pdu_switches_only_the_named_outlet() {
        let mut pdu = PowerDevice::new(DeviceConfig {
            name: "pdu".into(),
            address: "10.0.9.100".into(),
            kind: DeviceKind::Pdu {
                outlets: BTreeMap::from([(1, "n1".into()), (2, "n2".into())]),
            },
            latency: MS(50),
        });
        let a = request(&mut pdu, MS(0), Verb::Cycle, 2);
        let b = fire(&mut pdu, &a);
        let power: Vec<_> = b
            .iter()
            .filter(|x| matches!(x, DeviceAction::Power { .. }))
            .collect();
        assert_eq!(power.len(), 2);
        assert!(power
            .iter()
            .all(|x| matches!(x, DeviceAction::Power { machine, .. } if machine == "n2")));
        let a = request(&mut pdu, MS(0), Verb::Off, 7);
        let b = fire(&mut pdu, &a);
        assert!(b
            .iter()
            .any(|x| matches!(x, DeviceAction::Send { bytes, .. }
            if matches!(Reply::decode(bytes), Ok(Reply::Err { .. })))));
    }
}
