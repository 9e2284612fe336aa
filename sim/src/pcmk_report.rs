//! The report's Pacemaker section: where each resource ran when (crm_mon's
//! view over time), DC changes, each transition with its trigger, and for
//! each fault how long Pacemaker took to notice, to decide and to recover.
//!
//! Keeps only the events it prints (resource placement, DC changes,
//! transitions, power), which grow with transitions, not with traffic.

use crate::trace::Event;
use hasim_node::NodeEvent;
use hasim_pcmk_proto::{timeline, Event as Pcmk, TimedEvent};
use std::time::Duration;

#[derive(Default)]
pub struct PacemakerLog {
    events: Vec<TimedEvent>,
    seen: bool,
}

impl PacemakerLog {
    pub fn observe(&mut self, t: Duration, event: &Event) {
        let kept = match event {
            Event::Node {
                detail: NodeEvent::Pacemaker { report },
                ..
            } => {
                self.seen = true;
                match report {
                    Pcmk::ResourceActive { .. } | Pcmk::Transition { .. } => Some(report.clone()),
                    Pcmk::Peers { .. } => Some(report.clone()),
                    Pcmk::DcChanged { node, dc } if dc.as_ref() == Some(node) => {
                        Some(report.clone())
                    }
                    _ => None,
                }
            }
            Event::PowerOff { node } => Some(Pcmk::NodePower {
                node: node.clone(),
                up: false,
            }),
            _ => None,
        };
        if let Some(event) = kept {
            self.events.push(TimedEvent { at: t, event });
        }
    }

    /// The section's lines; none when the run had no Pacemaker.
    pub fn lines(&self, faults: &[Duration]) -> Vec<String> {
        if !self.seen {
            return Vec::new();
        }
        let mut out: Vec<String> = timeline::render(&self.events)
            .lines()
            .map(str::to_string)
            .collect();
        out.push("Per fault (Pacemaker):".into());
        for at in faults {
            out.push(format!(
                "  fault at {:.3}s: {}",
                at.as_secs_f64(),
                self.impact(*at)
            ));
        }
        out
    }

    /// After a fault at `at`: the first membership change a controller saw,
    /// the first transition, and the first resource started.
    fn impact(&self, at: Duration) -> String {
        let after = |f: &dyn Fn(&Pcmk) -> bool| {
            self.events
                .iter()
                .find(|e| e.at >= at && f(&e.event))
                .map_or("-".to_string(), |e| {
                    format!("+{:.3}s", (e.at - at).as_secs_f64())
                })
        };
        let peers = after(&|e| matches!(e, Pcmk::Peers { .. }));
        let transition =
            after(&|e| matches!(e, Pcmk::Transition { summary, .. } if !summary.is_empty()));
        let started = after(&|e| matches!(e, Pcmk::ResourceActive { active: true, .. }));
        format!("peers changed {peers}, transition {transition}, a resource started {started}")
    }
}
