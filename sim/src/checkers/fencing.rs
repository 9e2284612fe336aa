//! Fencing invariants on a simulated run: `fenced-before-recovery`,
//! `no-fence-race`, `no-fence-loop`.
//!
//! The invariants live in `hasim_fenced::checkers`, as pure functions over
//! observations, so the fencer's own harness and the simulator judge by the
//! same code. Here the run's events become those observations: a power-off
//! right after a device switched the machine off is `Fenced` (requested by
//! the node whose fencer last asked to fence it), a power-off right after
//! the machine's watchdog fired is `SelfFenced`, any other power-off is a
//! fault; a boot is a (re)join; Pacemaker's resource reports are starts and
//! stops; every injected fault is a fault.

use super::Checker;
use crate::trace::Event;
use crate::view::ClusterView;
use hasim_fenced::checkers::{self as invariants, Observation, PowerCause};
use hasim_fenced::FencerEvent;
use hasim_node::fencing::FencingReport;
use hasim_node::NodeEvent;
use hasim_pcmk_proto::Event as Pcmk;
use hasim_reports::{Expectation, Verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Which invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invariant {
    FencedBeforeRecovery,
    NoFenceRace,
    NoFenceLoop,
}

impl Invariant {
    fn name(self) -> &'static str {
        match self {
            Invariant::FencedBeforeRecovery => "fenced-before-recovery",
            Invariant::NoFenceRace => "no-fence-race",
            Invariant::NoFenceLoop => "no-fence-loop",
        }
    }
}

/// Observations of one run, for one invariant.
pub struct FencingCheck {
    invariant: Invariant,
    /// Resources that must not run twice (clones run everywhere by design).
    unique: BTreeSet<String>,
    observations: Vec<Observation>,
    /// Target -> (requester, requested at) of the latest fence request.
    requested: BTreeMap<String, (String, u64)>,
    /// A device just switched this machine off.
    device_off: Option<String>,
    /// This machine's watchdog just fired.
    watchdog: Option<String>,
}

impl FencingCheck {
    pub fn new(invariant: Invariant, unique: BTreeSet<String>) -> Self {
        FencingCheck {
            invariant,
            unique,
            observations: Vec::new(),
            requested: BTreeMap::new(),
            device_off: None,
            watchdog: None,
        }
    }

    /// Turn one trace event into observations.
    pub fn observe_event(&mut self, t: Duration, event: &Event) {
        let at_ms = t.as_millis() as u64;
        let device_off = self.device_off.take();
        let watchdog = self.watchdog.take();
        match event {
            Event::DevicePower { machine, on, .. } if !on => {
                self.device_off = Some(machine.clone());
            }
            Event::WatchdogReset { node } => self.watchdog = Some(node.clone()),
            Event::PowerOff { node } if watchdog.as_ref() == Some(node) => {
                self.observations.push(Observation::PowerOff {
                    node: node.clone(),
                    at_ms,
                    cause: PowerCause::SelfFenced,
                });
            }
            Event::PowerOff { node } => {
                let cause = match (&device_off, self.requested.get(node)) {
                    (Some(m), Some((requester, requested_ms))) if m == node => PowerCause::Fenced {
                        requester: requester.clone(),
                        requested_ms: *requested_ms,
                    },
                    (Some(m), None) if m == node => PowerCause::Fenced {
                        requester: String::new(),
                        requested_ms: at_ms,
                    },
                    _ => PowerCause::Fault,
                };
                self.observations.push(Observation::PowerOff {
                    node: node.clone(),
                    at_ms,
                    cause,
                });
            }
            Event::PowerOn { node } => self.observations.push(Observation::PowerOn {
                node: node.clone(),
                at_ms,
            }),
            Event::Boot { node } => self.observations.push(Observation::NodeJoined {
                node: node.clone(),
                at_ms,
            }),
            Event::Fault { action, .. } => self.observations.push(Observation::Fault {
                at_ms,
                what: crate::faults::describe(action),
            }),
            Event::Node {
                node,
                detail:
                    NodeEvent::Fencing {
                        report:
                            FencingReport::Fencer {
                                event: FencerEvent::Requested { target, .. },
                            },
                    },
                ..
            } => {
                self.requested
                    .insert(target.clone(), (node.to_string(), at_ms));
            }
            Event::Node {
                detail:
                    NodeEvent::Pacemaker {
                        report: Pcmk::ResourceActive { node, rsc, active },
                    },
                ..
            } if self.unique.contains(rsc) => {
                let (resource, node) = (rsc.clone(), node.clone());
                self.observations.push(if *active {
                    Observation::ResourceStarted {
                        resource,
                        node,
                        at_ms,
                    }
                } else {
                    Observation::ResourceStopped {
                        resource,
                        node,
                        at_ms,
                    }
                });
            }
            _ => {}
        }
    }

    /// The invariant over what was observed.
    pub fn judge(&self) -> invariants::Verdict {
        match self.invariant {
            Invariant::FencedBeforeRecovery => {
                invariants::fenced_before_recovery(&self.observations)
            }
            Invariant::NoFenceRace => invariants::no_fence_race(&self.observations),
            Invariant::NoFenceLoop => invariants::no_fence_loop(&self.observations),
        }
    }
}

impl Checker for FencingCheck {
    fn name(&self) -> &'static str {
        self.invariant.name()
    }

    fn observe(&mut self, t: Duration, event: &Event, _view: &ClusterView) {
        self.observe_event(t, event);
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let v = self.judge();
        let first_broken_at = (!v.held).then(|| {
            // The invariants say where in their evidence ("at t=12.345s").
            v.evidence
                .split("t=")
                .nth(1)
                .and_then(|r| r.split('s').next())
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or(0.0)
        });
        Verdict {
            checker: self.name().to_string(),
            held: v.held,
            expectation,
            summary: v.evidence,
            evidence: Vec::new(),
            first_broken_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn active(node: &str, rsc: &str, active: bool) -> Event {
        Event::Node {
            node: node.into(),
            detail: NodeEvent::Pacemaker {
                report: Pcmk::ResourceActive {
                    node: node.into(),
                    rsc: rsc.into(),
                    active,
                },
            },
            spurious: None,
            since_last_advert_us: None,
        }
    }

    fn requested(by: &str, target: &str) -> Event {
        Event::Node {
            node: by.into(),
            detail: NodeEvent::Fencing {
                report: FencingReport::Fencer {
                    event: FencerEvent::Requested {
                        op: format!("{by}:1"),
                        target: target.into(),
                        action: hasim_fenced::FenceAction::Off,
                        delay: 0,
                    },
                },
            },
            spurious: None,
            since_last_advert_us: None,
        }
    }

    fn device_off(machine: &str) -> Event {
        Event::DevicePower {
            device: format!("bmc-{machine}"),
            machine: machine.into(),
            on: false,
        }
    }

    fn off(node: &str) -> Event {
        Event::PowerOff { node: node.into() }
    }

    fn run(invariant: Invariant, events: &[(u64, Event)]) -> invariants::Verdict {
        let mut c = FencingCheck::new(invariant, BTreeSet::from(["vip".to_string()]));
        for (t, e) in events {
            c.observe_event(s(*t), e);
        }
        c.judge()
    }

    #[test]
    fn recovery_before_the_old_node_is_off_breaks_fenced_before_recovery() {
        let events = [
            (1, active("node1", "vip", true)),
            (10, active("node2", "vip", true)),
        ];
        let v = run(Invariant::FencedBeforeRecovery, &events);
        assert!(!v.held, "{v:?}");
        assert!(
            v.evidence.contains("vip started on node2"),
            "{}",
            v.evidence
        );
    }

    #[test]
    fn recovery_after_fencing_holds() {
        let events = [
            (1, active("node1", "vip", true)),
            (5, requested("node2", "node1")),
            (6, device_off("node1")),
            (6, off("node1")),
            (10, active("node2", "vip", true)),
        ];
        assert!(run(Invariant::FencedBeforeRecovery, &events).held);
    }

    fn watchdog_reset(node: &str) -> Event {
        Event::WatchdogReset { node: node.into() }
    }

    /// Diskless SBD: the survivors' fence of node1 is only assumed (no
    /// device switches anything); node1's own watchdog reset is what
    /// counts, and it is classed as self-fencing, not as a fault.
    #[test]
    fn recovery_after_a_watchdog_reset_holds_and_counts_as_self_fenced() {
        let events = [
            (1, active("node1", "vip", true)),
            (68, requested("node3", "node1")),
            (75, watchdog_reset("node1")),
            (75, off("node1")),
            (78, active("node2", "vip", true)),
        ];
        assert!(run(Invariant::FencedBeforeRecovery, &events).held);
        let mut c = FencingCheck::new(
            Invariant::FencedBeforeRecovery,
            BTreeSet::from(["vip".to_string()]),
        );
        for (t, e) in &events {
            c.observe_event(s(*t), e);
        }
        let causes: Vec<&PowerCause> = c
            .observations
            .iter()
            .filter_map(|o| match o {
                Observation::PowerOff { cause, .. } => Some(cause),
                _ => None,
            })
            .collect();
        assert_eq!(causes, vec![&PowerCause::SelfFenced]);
    }

    /// stonith-watchdog-timeout not longer than the time node1 takes to
    /// reset: the survivors start the VIP while node1 still has power and
    /// runs it, and the later reset does not excuse that.
    #[test]
    fn recovery_before_the_watchdog_reset_breaks_fenced_before_recovery() {
        let events = [
            (1, active("node1", "vip", true)),
            (68, requested("node3", "node1")),
            (73, active("node2", "vip", true)),
            (75, watchdog_reset("node1")),
            (75, off("node1")),
        ];
        let v = run(Invariant::FencedBeforeRecovery, &events);
        assert!(!v.held, "{v:?}");
        assert!(
            v.evidence.contains("node1 still had power"),
            "{}",
            v.evidence
        );
    }

    /// A reset of one machine does not make another machine's power-off
    /// self-fencing.
    #[test]
    fn a_watchdog_reset_is_attributed_to_its_own_machine_only() {
        let mut c = FencingCheck::new(Invariant::NoFenceRace, BTreeSet::new());
        c.observe_event(s(5), &watchdog_reset("node1"));
        c.observe_event(s(5), &off("node2"));
        let cause = c.observations.iter().find_map(|o| match o {
            Observation::PowerOff { cause, .. } => Some(cause.clone()),
            _ => None,
        });
        assert_eq!(cause, Some(PowerCause::Fault));
    }

    #[test]
    fn two_nodes_fencing_each_other_break_no_fence_race() {
        let events = [
            (5, requested("node1", "node2")),
            (5, requested("node2", "node1")),
            (6, device_off("node1")),
            (6, off("node1")),
            (7, device_off("node2")),
            (7, off("node2")),
        ];
        let v = run(Invariant::NoFenceRace, &events);
        assert!(!v.held, "{v:?}");
    }

    #[test]
    fn a_power_fault_is_not_fencing() {
        let events = [
            (5, requested("node1", "node2")),
            (5, requested("node2", "node1")),
            (6, off("node1")),
            (7, device_off("node2")),
            (7, off("node2")),
        ];
        assert!(run(Invariant::NoFenceRace, &events).held);
    }

    #[test]
    fn fencing_a_rejoined_node_again_breaks_no_fence_loop() {
        let events = [
            (5, requested("node1", "node2")),
            (6, device_off("node2")),
            (6, off("node2")),
            (
                40,
                Event::Boot {
                    node: "node2".into(),
                },
            ),
            (50, requested("node1", "node2")),
            (51, device_off("node2")),
            (51, off("node2")),
        ];
        let v = run(Invariant::NoFenceLoop, &events);
        assert!(!v.held, "{v:?}");
    }
}
