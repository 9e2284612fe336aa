//! `single-writer`: at most one database node accepts writes to a key at a
//! time, where the configuration promises it (a primary/replica database, or
//! Galera fronted by HAProxy with one active server).
//!
//! A node's *tenure* on a key is a run of its acknowledged writes in which
//! consecutive acknowledgements are at most `tenure_gap` apart. Two nodes
//! whose tenures on the same key overlap in time were both accepting
//! writes at once. A failover (one node stops, another starts) or a later
//! failback leaves tenures disjoint and passes; a split brain with clients
//! writing on both sides does not. `tenure_gap` should exceed the clients'
//! interval between writes and stay below the shortest real failover.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Verdict, Violation};
use crate::history::{History, OpKind};

#[derive(Clone, Copy)]
struct Tenure {
    from: Duration,
    to: Duration,
}

/// Checks that no two nodes' write tenures on a key overlap.
pub fn single_writer(h: &History, tenure_gap: Duration) -> Verdict {
    // key -> node -> acknowledgement times, in order.
    let mut acks: BTreeMap<&str, BTreeMap<&str, Vec<Duration>>> = BTreeMap::new();
    let mut examined = 0;
    for op in &h.ops {
        let (OpKind::Write { key, .. }, Some(at), Some(node)) = (&op.kind, op.acked_at(), &op.node)
        else {
            continue;
        };
        examined += 1;
        acks.entry(key)
            .or_default()
            .entry(node)
            .or_default()
            .push(at);
    }
    let mut violations = Vec::new();
    for (key, per_node) in &acks {
        let tenures: Vec<(&str, Tenure)> = per_node
            .iter()
            .flat_map(|(node, times)| {
                tenures_of(times, tenure_gap)
                    .into_iter()
                    .map(move |t| (*node, t))
            })
            .collect();
        if let Some(v) = first_overlap(key, &tenures) {
            violations.push(v);
        }
    }
    Verdict {
        name: "single-writer",
        violations,
        examined,
    }
}

fn tenures_of(times: &[Duration], gap: Duration) -> Vec<Tenure> {
    let mut sorted = times.to_vec();
    sorted.sort();
    let mut out: Vec<Tenure> = Vec::new();
    for t in sorted {
        match out.last_mut() {
            Some(last) if t.saturating_sub(last.to) <= gap => last.to = t,
            _ => out.push(Tenure { from: t, to: t }),
        }
    }
    out
}

fn first_overlap(key: &str, tenures: &[(&str, Tenure)]) -> Option<Violation> {
    for (i, (a, ta)) in tenures.iter().enumerate() {
        for (b, tb) in &tenures[i + 1..] {
            if a != b && ta.from <= tb.to && tb.from <= ta.to {
                let from = ta.from.max(tb.from);
                let to = ta.to.min(tb.to);
                return Some(Violation {
                    client: None,
                    detail: format!(
                        "{a} and {b} both acknowledged writes to {key} from {:.3}s to {:.3}s",
                        from.as_secs_f64(),
                        to.as_secs_f64()
                    ),
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures::*;

    fn writes(plan: &[(&str, f64)]) -> History {
        let ops = plan
            .iter()
            .enumerate()
            .map(|(i, (node, at))| write("c", "k", i as u64, *at - 0.01, Some(*at), node))
            .collect();
        history(ops, &[])
    }

    #[test]
    fn failover_and_failback_hold() {
        let h = writes(&[
            ("db1", 1.0),
            ("db1", 2.0),
            ("db2", 30.0),
            ("db2", 31.0),
            ("db1", 90.0),
        ]);
        let v = single_writer(&h, t(5.0));
        assert!(v.held(), "{:?}", v.violations);
        assert_eq!(v.examined, 5);
    }

    #[test]
    fn two_sides_writing_at_once_fails() {
        let h = writes(&[
            ("db1", 1.0),
            ("db2", 1.5),
            ("db1", 2.0),
            ("db2", 2.5),
            ("db1", 3.0),
        ]);
        let v = single_writer(&h, t(5.0));
        assert_eq!(v.violations.len(), 1);
        assert!(
            v.violations[0].detail.contains("db1 and db2"),
            "{:?}",
            v.violations
        );
    }
}
