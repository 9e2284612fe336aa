//! `remote-fenced-before-recovery`: a unique resource last active on a
//! Pacemaker Remote node whose connection was lost starts on another node
//! only after the DC saw that remote node fenced (a successful fence
//! result) or its connection came back. Power is not the evidence here,
//! as it is for `fenced-before-recovery`: a remote node that lost power
//! makes that checker hold by itself, while what Pacemaker promises is to
//! recover only once fencing confirmed the node is gone.

use super::Checker;
use crate::trace::Event;
use crate::view::ClusterView;
use hasim_node::NodeEvent;
use hasim_pcmk_proto::Event as Pcmk;
use hasim_reports::{Expectation, Verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub const NAME: &str = "remote-fenced-before-recovery";

/// Observations of one run.
pub struct RemoteFenceCheck {
    unique: BTreeSet<String>,
    /// Resource -> the node it last became active on (until it stops there).
    holder: BTreeMap<String, String>,
    /// Remote nodes whose connection is lost and which are not fenced yet.
    in_doubt: BTreeSet<String>,
    starts: usize,
    violation: Option<(Duration, String)>,
}

impl RemoteFenceCheck {
    pub fn new(unique: BTreeSet<String>) -> Self {
        RemoteFenceCheck {
            unique,
            holder: BTreeMap::new(),
            in_doubt: BTreeSet::new(),
            starts: 0,
            violation: None,
        }
    }

    pub fn observe_event(&mut self, t: Duration, event: &Event) {
        let Event::Node {
            detail: NodeEvent::Pacemaker { report },
            ..
        } = event
        else {
            return;
        };
        match report {
            Pcmk::RemoteLink { remote, state, .. } if state == "lost" => {
                self.in_doubt.insert(remote.clone());
            }
            Pcmk::RemoteLink { remote, state, .. } if state == "connected" => {
                self.in_doubt.remove(remote);
            }
            Pcmk::FenceDone {
                target, ok: true, ..
            } => {
                self.in_doubt.remove(target);
            }
            Pcmk::ResourceActive { node, rsc, active } if self.unique.contains(rsc) => {
                if !*active {
                    if self.holder.get(rsc) == Some(node) {
                        self.holder.remove(rsc);
                    }
                    return;
                }
                self.starts += 1;
                if let Some(old) = self.holder.get(rsc) {
                    if old != node && self.in_doubt.contains(old) && self.violation.is_none() {
                        let why = format!(
                            "{rsc} started on {node} at t={:.3}s while {old}, where it ran, had lost its connection and was not fenced",
                            t.as_secs_f64()
                        );
                        self.violation = Some((t, why));
                    }
                }
                self.holder.insert(rsc.clone(), node.clone());
            }
            _ => {}
        }
    }
}

impl Checker for RemoteFenceCheck {
    fn name(&self) -> &'static str {
        NAME
    }

    fn observe(&mut self, t: Duration, event: &Event, _view: &ClusterView) {
        self.observe_event(t, event);
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let (held, summary, first_broken_at) = match &self.violation {
            Some((t, why)) => (false, why.clone(), Some(t.as_secs_f64())),
            None => (
                true,
                format!(
                    "{} resource starts, none on another node while the remote node holding it was unfenced and unreachable",
                    self.starts
                ),
                None,
            ),
        };
        Verdict {
            checker: NAME.to_string(),
            held,
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

    fn pcmk(node: &str, report: Pcmk) -> Event {
        Event::Node {
            node: node.into(),
            detail: NodeEvent::Pacemaker { report },
            spurious: None,
            since_last_advert_us: None,
        }
    }

    fn active(node: &str, rsc: &str) -> Event {
        let report = Pcmk::ResourceActive {
            node: node.into(),
            rsc: rsc.into(),
            active: true,
        };
        pcmk(node, report)
    }

    fn link(remote: &str, state: &str) -> Event {
        let report = Pcmk::RemoteLink {
            node: "node2".into(),
            remote: remote.into(),
            state: state.into(),
            why: String::new(),
        };
        pcmk("node2", report)
    }

    fn fenced(target: &str) -> Event {
        let report = Pcmk::FenceDone {
            dc: "node3".into(),
            target: target.into(),
            ok: true,
        };
        pcmk("node3", report)
    }

    fn judge(events: &[(u64, Event)]) -> Verdict {
        let mut c = RemoteFenceCheck::new(BTreeSet::from(["vm2".to_string()]));
        for (t, e) in events {
            c.observe_event(Duration::from_secs(*t), e);
        }
        c.finish(Duration::from_secs(100), Expectation::Hold)
    }

    #[test]
    fn recovery_before_the_fence_is_confirmed_breaks_it() {
        let v = judge(&[
            (1, active("compute2", "vm2")),
            (70, link("compute2", "lost")),
            (71, active("compute3", "vm2")),
            (72, fenced("compute2")),
        ]);
        assert!(!v.held, "{v:?}");
        assert!(
            v.summary.contains("vm2 started on compute3 at t=71.000s"),
            "{}",
            v.summary
        );
    }

    #[test]
    fn recovery_after_the_fence_or_a_reconnect_holds() {
        let fenced_first = [
            (1, active("compute2", "vm2")),
            (70, link("compute2", "lost")),
            (72, fenced("compute2")),
            (73, active("compute3", "vm2")),
        ];
        assert!(judge(&fenced_first).held);
        let reconnected = [
            (1, active("compute2", "vm2")),
            (70, link("compute2", "lost")),
            (80, link("compute2", "connected")),
            (90, active("compute3", "vm2")),
        ];
        assert!(judge(&reconnected).held);
    }
}
