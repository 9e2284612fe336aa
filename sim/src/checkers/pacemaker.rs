//! Pacemaker's audits (the ones its CTS lab defines) on a simulated run.
//!
//! The audits themselves live in `hasim_pcmk_proto::checkers`, as pure
//! functions over the events the daemons report, so the cores' own tests
//! and the simulator judge by the same code. Here each is fed what the run
//! reports: the daemons' events, and power from the machines (a node's
//! daemons start at its boot; a power cut ends everything on it).
//!
//! Memory: each audit keeps only the Pacemaker events it reads, which grow
//! with the number of transitions, not with network traffic.

use super::Checker;
use crate::trace::Event;
use crate::view::ClusterView;
use hasim_node::NodeEvent;
use hasim_pcmk_proto::checkers::{self as audits, Violation};
use hasim_pcmk_proto::{Event as Pcmk, TimedEvent};
use hasim_reports::{Expectation, Verdict};
use std::collections::BTreeSet;
use std::time::Duration;

/// Which audit, with its parameters.
#[derive(Debug, Clone)]
pub enum Audit {
    ResourceSingleActive {
        unique: BTreeSet<String>,
    },
    NoActiveWithoutQuorum {
        grace: Duration,
    },
    SingleDc {
        settle: Duration,
    },
    CibConverges,
    Recovers {
        resources: BTreeSet<String>,
        bound: Duration,
    },
    NoElectionStorm {
        window: Duration,
        max: usize,
    },
}

impl Audit {
    fn name(&self) -> &'static str {
        match self {
            Audit::ResourceSingleActive { .. } => "resource-single-active",
            Audit::NoActiveWithoutQuorum { .. } => "no-active-without-quorum",
            Audit::SingleDc { .. } => "single-dc",
            Audit::CibConverges => "cib-converges",
            Audit::Recovers { .. } => "recovers",
            Audit::NoElectionStorm { .. } => "no-election-storm",
        }
    }

    /// Whether the audit reads this event (the rest is not kept).
    fn reads(&self, e: &Pcmk) -> bool {
        match e {
            Pcmk::NodePower { .. } => true,
            Pcmk::ResourceActive { .. } => matches!(
                self,
                Audit::ResourceSingleActive { .. }
                    | Audit::NoActiveWithoutQuorum { .. }
                    | Audit::Recovers { .. }
            ),
            Pcmk::Quorum { .. } => matches!(self, Audit::NoActiveWithoutQuorum { .. }),
            Pcmk::DcChanged { .. } | Pcmk::Peers { .. } => matches!(self, Audit::SingleDc { .. }),
            Pcmk::CibVersion { .. } => matches!(self, Audit::CibConverges),
            Pcmk::ElectionStarted { .. } => matches!(self, Audit::NoElectionStorm { .. }),
            _ => false,
        }
    }

    fn judge(&self, events: &[TimedEvent], end: Duration) -> Result<(), Violation> {
        match self {
            Audit::ResourceSingleActive { unique } => {
                audits::resource_single_active(events, unique)
            }
            Audit::NoActiveWithoutQuorum { grace } => {
                audits::no_active_without_quorum(events, *grace)
            }
            Audit::SingleDc { settle } => audits::single_dc(events, *settle),
            Audit::CibConverges => audits::cib_converges(events),
            Audit::Recovers { resources, bound } => resources
                .iter()
                .try_for_each(|rsc| audits::recovers_until(events, rsc, *bound, end)),
            Audit::NoElectionStorm { window, max } => {
                audits::no_election_storm(events, *window, *max)
            }
        }
    }
}

/// One audit over the run's Pacemaker events.
pub struct PacemakerAudit {
    audit: Audit,
    events: Vec<TimedEvent>,
}

impl PacemakerAudit {
    pub fn new(audit: Audit) -> Self {
        PacemakerAudit {
            audit,
            events: Vec::new(),
        }
    }

    fn keep(&mut self, at: Duration, event: Pcmk) {
        if self.audit.reads(&event) {
            self.events.push(TimedEvent { at, event });
        }
    }
}

impl Checker for PacemakerAudit {
    fn name(&self) -> &'static str {
        self.audit.name()
    }

    fn observe(&mut self, t: Duration, event: &Event, _view: &ClusterView) {
        match event {
            Event::Node {
                detail: NodeEvent::Pacemaker { report },
                ..
            } => self.keep(t, report.clone()),
            Event::Boot { node } => {
                let node = node.clone();
                self.keep(t, Pcmk::NodePower { node, up: true })
            }
            Event::PowerOff { node } => {
                let node = node.clone();
                self.keep(t, Pcmk::NodePower { node, up: false })
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict {
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|e| e.at);
        let result = self.audit.judge(&events, end);
        let first_broken_at = result.as_ref().err().map(|v| v.at.as_secs_f64());
        let summary = match &result {
            Ok(()) => format!(
                "held over {} events up to {:.1}s",
                events.len(),
                end.as_secs_f64()
            ),
            Err(v) => format!("{:.3}s: {}", v.at.as_secs_f64(), v.message),
        };
        Verdict {
            checker: self.audit.name().to_string(),
            held: result.is_ok(),
            expectation,
            summary,
            evidence: Vec::new(),
            first_broken_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(node: &str, rsc: &str, on: bool) -> Event {
        Event::Node {
            node: node.into(),
            detail: NodeEvent::Pacemaker {
                report: Pcmk::ResourceActive {
                    node: node.into(),
                    rsc: rsc.into(),
                    active: on,
                },
            },
            spurious: None,
            since_last_advert_us: None,
        }
    }

    fn run(audit: Audit, events: &[(u64, Event)]) -> bool {
        let mut c = PacemakerAudit::new(audit);
        let view = ClusterView::new(["node1", "node2"]);
        for (t, e) in events {
            c.observe(Duration::from_secs(*t), e, &view);
        }
        c.finish(Duration::from_secs(100), Expectation::Hold).held
    }

    #[test]
    fn a_resource_active_on_two_nodes_breaks_single_active() {
        let unique = BTreeSet::from(["vip".to_string()]);
        let audit = Audit::ResourceSingleActive { unique };
        let boot = |n: &str| Event::Boot { node: n.into() };
        let twice = [
            (0, boot("node1")),
            (0, boot("node2")),
            (1, active("node1", "vip", true)),
            (2, active("node2", "vip", true)),
        ];
        assert!(!run(audit.clone(), &twice));
        // The first holder lost power before the second started it.
        let moved = [
            (1, active("node1", "vip", true)),
            (
                2,
                Event::PowerOff {
                    node: "node1".into(),
                },
            ),
            (3, active("node2", "vip", true)),
        ];
        assert!(run(audit, &moved));
    }

    #[test]
    fn a_resource_down_past_its_bound_breaks_recovers() {
        let audit = Audit::Recovers {
            resources: BTreeSet::from(["vip".to_string()]),
            bound: Duration::from_secs(30),
        };
        let lost = [
            (1, active("node1", "vip", true)),
            (
                10,
                Event::PowerOff {
                    node: "node1".into(),
                },
            ),
        ];
        assert!(!run(audit.clone(), &lost));
        let back = [
            (1, active("node1", "vip", true)),
            (
                10,
                Event::PowerOff {
                    node: "node1".into(),
                },
            ),
            (30, active("node2", "vip", true)),
        ];
        assert!(run(audit, &back));
    }
}
