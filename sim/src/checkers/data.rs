//! The data checkers of `hasim-data`, fed with the histories the data
//! clients hand over at the end of their run (`data-history` events).
//!
//! The clients' histories are merged (operations and connections of all
//! clients); the final reads are those of the first client, in name order,
//! whose final read got every key: after faults heal, every client reads
//! through the same VIP. Without any complete final read the checkers that
//! need one report it as a violation rather than holding vacuously.

use super::{secs, Checker};
use crate::trace::Event;
use crate::view::ClusterView;
use hasim_data::checkers::{self as data, RecoveryBound};
use hasim_data::History;
use hasim_reports::{Expectation, Verdict};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Which invariant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataInvariant {
    NoLostAcknowledgedWrites,
    NoStaleReads,
    SingleWriter { tenure_gap: Duration },
    ConnectionsRecover { bound: Option<RecoveryBound> },
}

/// One data checker.
pub struct DataCheck {
    name: &'static str,
    invariant: DataInvariant,
    /// Client name -> (history, final read complete).
    histories: BTreeMap<String, (Arc<History>, bool)>,
}

impl DataCheck {
    pub fn new(name: &'static str, invariant: DataInvariant) -> Self {
        DataCheck {
            name,
            invariant,
            histories: BTreeMap::new(),
        }
    }

    fn merged(&self) -> Option<History> {
        let mut h = History::default();
        for (hist, _) in self.histories.values() {
            h.ops.extend(hist.ops.iter().cloned());
            h.conns.extend(hist.conns.iter().cloned());
            h.end = h.end.max(hist.end);
        }
        let finals = self.histories.values().find(|(_, complete)| *complete)?;
        h.final_reads = finals.0.final_reads.clone();
        Some(h)
    }
}

impl Checker for DataCheck {
    fn name(&self) -> &'static str {
        self.name
    }

    fn observe(&mut self, _t: Duration, event: &Event, _view: &ClusterView) {
        if let Event::DataHistory {
            client,
            history,
            final_read,
            ..
        } = event
        {
            self.histories
                .insert(client.clone(), (history.clone(), *final_read));
        }
    }

    fn finish(&mut self, _end: Duration, expectation: Expectation) -> Verdict {
        let needs_final = matches!(
            self.invariant,
            DataInvariant::NoLostAcknowledgedWrites | DataInvariant::NoStaleReads
        );
        let merged = self.merged();
        let (verdict, history) = match (&merged, needs_final) {
            (None, true) => {
                return failed(
                    self.name,
                    expectation,
                    "no data client completed its final read".into(),
                )
            }
            (None, false) => {
                let mut h = History::default();
                for (hist, _) in self.histories.values() {
                    h.ops.extend(hist.ops.iter().cloned());
                    h.conns.extend(hist.conns.iter().cloned());
                    h.end = h.end.max(hist.end);
                }
                (self.run(&h), h)
            }
            (Some(h), _) => (self.run(h), h.clone()),
        };
        if self.histories.is_empty() {
            return failed(self.name, expectation, "no data client reported".into());
        }
        let held = verdict.held();
        let summary = match verdict.violations.first() {
            None => format!(
                "held over {} examined, {} clients, {} operations",
                verdict.examined,
                self.histories.len(),
                history.ops.len()
            ),
            Some(v) => format!(
                "{} violation(s) of {} examined; first: {}: {}",
                verdict.violations.len(),
                verdict.examined,
                v.client.as_deref().unwrap_or("-"),
                v.detail
            ),
        };
        Verdict {
            checker: self.name.to_string(),
            held,
            expectation,
            summary,
            evidence: verdict
                .violations
                .iter()
                .skip(1)
                .take(5)
                .map(|v| format!("{}: {}", v.client.as_deref().unwrap_or("-"), v.detail))
                .collect(),
            first_broken_at: (!held).then(|| secs(history.end)),
        }
    }
}

impl DataCheck {
    fn run(&self, h: &History) -> data::Verdict {
        match self.invariant {
            DataInvariant::NoLostAcknowledgedWrites => data::no_lost_acknowledged_writes(h),
            DataInvariant::NoStaleReads => data::no_stale_reads(h),
            DataInvariant::SingleWriter { tenure_gap } => data::single_writer(h, tenure_gap),
            DataInvariant::ConnectionsRecover { bound } => data::connections_recover(h, bound),
        }
    }
}

fn failed(name: &str, expectation: Expectation, summary: String) -> Verdict {
    Verdict {
        checker: name.to_string(),
        held: false,
        expectation,
        summary,
        evidence: Vec::new(),
        first_broken_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasim_data::{Op, OpKind, Outcome};

    fn history(acked: u64, final_values: &[u64]) -> Arc<History> {
        let mut h = History::default();
        h.ops.push(Op {
            client: "c".into(),
            kind: OpKind::Write {
                key: "k0".into(),
                value: acked,
            },
            invoked: Duration::from_secs(1),
            completed: Some((Duration::from_secs(2), Outcome::Ok(None))),
            node: Some("db1".into()),
        });
        h.final_reads
            .insert("k0".into(), final_values.iter().copied().collect());
        h.end = Duration::from_secs(10);
        Arc::new(h)
    }

    fn event(h: Arc<History>, final_read: bool) -> Event {
        Event::DataHistory {
            client: "c".into(),
            operations: 1,
            acknowledged: 1,
            failed: 0,
            unknown: 0,
            lost: 0,
            stale: 0,
            hung: 0,
            longest_hang_ms: 0,
            final_read,
            history: h,
        }
    }

    fn verdict(h: Arc<History>, final_read: bool) -> Verdict {
        let mut c = DataCheck::new(
            "no-lost-acknowledged-writes",
            DataInvariant::NoLostAcknowledgedWrites,
        );
        let view = ClusterView::new(["c"]);
        c.observe(Duration::from_secs(10), &event(h, final_read), &view);
        c.finish(Duration::from_secs(10), Expectation::Hold)
    }

    #[test]
    fn a_lost_acknowledged_write_breaks_and_a_kept_one_holds() {
        assert!(verdict(history(7, &[7]), true).held);
        let v = verdict(history(7, &[]), true);
        assert!(!v.held, "{}", v.summary);
    }

    #[test]
    fn no_final_read_is_a_violation_not_a_pass() {
        let v = verdict(history(7, &[7]), false);
        assert!(!v.held);
        assert!(v.summary.contains("final read"), "{}", v.summary);
    }

    #[test]
    fn no_client_is_a_violation() {
        let mut c = DataCheck::new(
            "single-writer",
            DataInvariant::SingleWriter {
                tenure_gap: Duration::from_secs(1),
            },
        );
        assert!(!c.finish(Duration::from_secs(1), Expectation::Hold).held);
    }
}
