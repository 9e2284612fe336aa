//! The report's Pacemaker section: where each resource ran when (crm_mon's
//! view over time), DC changes, each transition with its trigger, and for
//! each fault how long Pacemaker took to notice, to decide and to recover.
//!
//! Keeps only the events it prints (resource placement, DC changes,
//! transitions, power), which grow with transitions, not with traffic.

use crate::trace::Event;
use hasim_fenced::{FenceRecord, FencerEvent};
use hasim_node::fencing::FencingReport;
use hasim_node::NodeEvent;
use hasim_pcmk_proto::{timeline, Event as Pcmk, TimedEvent};
use std::time::Duration;

#[derive(Default)]
pub struct PacemakerLog {
    events: Vec<TimedEvent>,
    seen: bool,
    /// Finished fencing operations, as their requester recorded them.
    fenced: Vec<FenceRecord>,
    /// Fence requests and results as the DC's controller saw them.
    fence_steps: Vec<TimedEvent>,
    /// Controllers that stopped retrying a target (stonith-max-attempts).
    give_ups: Vec<TimedEvent>,
    /// Machines a power device switched off.
    switched_off: std::collections::BTreeSet<String>,
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
                    Pcmk::FenceRequested { .. } | Pcmk::FenceDone { .. } => {
                        self.fence_steps.push(TimedEvent {
                            at: t,
                            event: report.clone(),
                        });
                        None
                    }
                    Pcmk::FenceGiveUp { .. } => {
                        self.give_ups.push(TimedEvent {
                            at: t,
                            event: report.clone(),
                        });
                        None
                    }
                    _ => None,
                }
            }
            Event::Node {
                node,
                detail:
                    NodeEvent::Fencing {
                        report:
                            FencingReport::Fencer {
                                event: FencerEvent::Finished(record),
                            },
                    },
                ..
            } if *record.origin == **node => {
                self.fenced.push(record.clone());
                None
            }
            Event::DevicePower {
                machine, on: false, ..
            } => {
                self.switched_off.insert(machine.clone());
                None
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

    /// The machines a power device switched off during the run, sorted
    /// (the campaign counts seeds per outcome: who was fenced, who survived).
    pub fn fenced_machines(&self) -> Vec<String> {
        self.switched_off.iter().cloned().collect()
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
        if !self.fenced.is_empty() {
            out.push(
                "Fencing (requester -> target: executor, device, level, delay; result):".into(),
            );
            for r in &self.fenced {
                out.push(format!("  {}", self.fence_line(r)));
            }
        }
        out.extend(self.give_up_lines());
        out.push("Per fault (Pacemaker):".into());
        for at in faults {
            out.push(format!(
                "  fault at {:.3}s: {}",
                at.as_secs_f64(),
                self.impact(*at)
            ));
            if let Some(split) = self.outage_split(*at) {
                out.push(format!("    {split}"));
            }
        }
        out
    }

    /// One line per controller that gave up fencing a target, with the
    /// failed attempts it counted: why the target's resources stay blocked.
    fn give_up_lines(&self) -> Vec<String> {
        self.give_ups
            .iter()
            .filter_map(|e| match &e.event {
                Pcmk::FenceGiveUp {
                    dc,
                    target,
                    failures,
                } => Some(format!(
                    "Fencing given up: {dc} stopped retrying {target} at {:.3}s after {failures} failed attempts (stonith-max-attempts); its resources stay blocked",
                    e.at.as_secs_f64()
                )),
                _ => None,
            })
            .collect()
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
        let fencing = self.fence_steps.iter().find(|e| e.at >= at).map(|req| {
            let done = self
                .fence_steps
                .iter()
                .find(|e| e.at >= req.at && matches!(e.event, Pcmk::FenceDone { ok: true, .. }));
            let done = done.map_or("-".to_string(), |d| {
                format!("+{:.3}s", (d.at - at).as_secs_f64())
            });
            let started = done_then_start(&self.events, &self.fence_steps, at);
            format!(
                "; fence requested +{:.3}s, fenced {done}, then a resource started {started}",
                (req.at - at).as_secs_f64()
            )
        });
        format!(
            "peers changed {peers}, transition {transition}, a resource started {started}{}",
            fencing.unwrap_or_default()
        )
    }

    /// The outage after a fault that needed fencing, in its three parts:
    /// detection (fault to the first membership change a controller saw),
    /// fencing (the DC's first request after that to the first confirmed
    /// success) and recovery (to the first resource started after it).
    /// `None` when nothing was fenced successfully after the fault.
    fn outage_split(&self, at: Duration) -> Option<String> {
        let peers = self
            .events
            .iter()
            .find(|e| e.at >= at && matches!(e.event, Pcmk::Peers { .. }))?
            .at;
        let requested = self
            .fence_steps
            .iter()
            .find(|e| e.at >= peers && matches!(e.event, Pcmk::FenceRequested { .. }))?
            .at;
        let fenced = self
            .fence_steps
            .iter()
            .find(|e| e.at >= requested && matches!(e.event, Pcmk::FenceDone { ok: true, .. }))?
            .at;
        let started = self.events.iter().find(|e| {
            e.at >= fenced && matches!(e.event, Pcmk::ResourceActive { active: true, .. })
        });
        let secs = |d: Duration| d.as_secs_f64();
        let recovery = started.map_or("- (nothing started)".to_string(), |e| {
            format!("{:.3} s", secs(e.at - fenced))
        });
        let total = started.map_or("-".to_string(), |e| format!("{:.3} s", secs(e.at - at)));
        Some(format!(
            "outage: detection {:.3} s, fencing {:.3} s (requested +{:.3}s, confirmed +{:.3}s), recovery {recovery}; total {total}",
            secs(peers - at),
            secs(fenced - requested),
            secs(requested - at),
            secs(fenced - at),
        ))
    }

    /// One fencing operation and the first resource start after it.
    fn fence_line(&self, r: &FenceRecord) -> String {
        let done = Duration::from_millis(r.completed_ms);
        let next = self
            .events
            .iter()
            .find(|e| e.at >= done && matches!(e.event, Pcmk::ResourceActive { active: true, .. }));
        let recovery = match next {
            Some(TimedEvent {
                at,
                event: Pcmk::ResourceActive { node, rsc, .. },
            }) => format!(
                "; then {rsc} started on {node} at {:.3}s (+{:.3}s)",
                at.as_secs_f64(),
                (*at - done).as_secs_f64()
            ),
            _ => String::new(),
        };
        format!(
            "{} -> {} {}: {}, {}, level {}, delay {} s; requested {:.3}s, {} at {:.3}s ({:.3} s){}{recovery}",
            r.origin,
            r.target,
            r.action.name(),
            r.executor.as_deref().unwrap_or("-"),
            r.device.as_deref().unwrap_or("-"),
            r.level,
            r.delay,
            r.started_ms as f64 / 1000.0,
            if r.ok { "done" } else { "FAILED" },
            r.completed_ms as f64 / 1000.0,
            r.completed_ms.saturating_sub(r.started_ms) as f64 / 1000.0,
            if r.reason.is_empty() { String::new() } else { format!(" ({})", r.reason) },
        )
    }
}

/// After a fault at `at`: the first successful fencing, then the first
/// resource started after it, relative to the fault.
fn done_then_start(events: &[TimedEvent], steps: &[TimedEvent], at: Duration) -> String {
    let Some(done) = steps
        .iter()
        .find(|e| e.at >= at && matches!(e.event, Pcmk::FenceDone { ok: true, .. }))
    else {
        return "-".into();
    };
    events
        .iter()
        .find(|e| e.at >= done.at && matches!(e.event, Pcmk::ResourceActive { active: true, .. }))
        .map_or("-".to_string(), |e| {
            format!("+{:.3}s", (e.at - at).as_secs_f64())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcmk(log: &mut PacemakerLog, ms: u64, report: Pcmk) {
        let event = Event::Node {
            node: "node3".into(),
            detail: NodeEvent::Pacemaker { report },
            spurious: None,
            since_last_advert_us: None,
        };
        log.observe(Duration::from_millis(ms), &event);
    }

    /// A power loss at 60 s, seen at 68 s, fenced from 68.1 s to 102.5 s,
    /// the VIP started at 102.6 s: detection 8, fencing 34.4, recovery 0.1.
    #[test]
    fn the_outage_splits_into_detection_fencing_and_recovery() {
        let mut log = PacemakerLog::default();
        let (dc, target) = ("node3".to_string(), "node1".to_string());
        pcmk(
            &mut log,
            68_000,
            Pcmk::Peers {
                node: dc.clone(),
                peers: vec![],
            },
        );
        pcmk(
            &mut log,
            68_100,
            Pcmk::FenceRequested {
                dc: dc.clone(),
                target: target.clone(),
                delay: 0,
            },
        );
        pcmk(
            &mut log,
            102_500,
            Pcmk::FenceDone {
                dc: dc.clone(),
                target,
                ok: true,
            },
        );
        let vip = Pcmk::ResourceActive {
            node: dc,
            rsc: "vip".into(),
            active: true,
        };
        pcmk(&mut log, 102_600, vip);
        let split = log.outage_split(Duration::from_secs(60)).expect("a split");
        assert_eq!(
            split,
            "outage: detection 8.000 s, fencing 34.400 s (requested +8.100s, confirmed +42.500s), recovery 0.100 s; total 42.600 s"
        );
        // Before anything was fenced there is no split.
        assert!(log.outage_split(Duration::from_secs(103)).is_none());
    }
}
