//! `no-stale-reads`: a successful read contains every write to its key that
//! was acknowledged before the read was invoked.

use super::{Verdict, Violation};
use crate::history::{History, OpKind, Outcome};

/// Checks every successful read against the writes acknowledged before it.
pub fn no_stale_reads(h: &History) -> Verdict {
    let mut violations = Vec::new();
    let mut examined = 0;
    for read in &h.ops {
        let (OpKind::Read { key }, Some((_, Outcome::Ok(Some(seen))))) =
            (&read.kind, &read.completed)
        else {
            continue;
        };
        examined += 1;
        let missed: Vec<u64> = h
            .ops
            .iter()
            .filter_map(|w| match &w.kind {
                OpKind::Write { key: k, value }
                    if k == key && w.acked_at().is_some_and(|t| t < read.invoked) =>
                {
                    Some(*value)
                }
                _ => None,
            })
            .filter(|v| !seen.contains(v))
            .collect();
        if !missed.is_empty() {
            let node = read.node.as_deref().unwrap_or("?");
            violations.push(Violation {
                client: Some(read.client.clone()),
                detail: format!(
                    "read of {key} from {node} at {:.3}s missed {} acknowledged write(s), first {key}={}",
                    read.invoked.as_secs_f64(),
                    missed.len(),
                    missed[0]
                ),
            });
        }
    }
    Verdict {
        name: "no-stale-reads",
        violations,
        examined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures::*;

    #[test]
    fn holds_for_reads_that_see_earlier_acks() {
        let h = history(
            vec![
                write("c1", "k", 1, 0.0, Some(0.1), "db1"),
                read("c2", "k", 0.2, 0.3, &[1], "db2"),
                read("c2", "k", 0.05, 0.3, &[], "db2"),
            ],
            &[],
        );
        let v = no_stale_reads(&h);
        assert!(v.held(), "{:?}", v.violations);
        assert_eq!(v.examined, 2);
    }

    #[test]
    fn fails_when_a_read_misses_an_earlier_ack() {
        let h = history(
            vec![
                write("c1", "k", 1, 0.0, Some(0.1), "db1"),
                read("c2", "k", 0.2, 0.3, &[], "db2"),
            ],
            &[],
        );
        let v = no_stale_reads(&h);
        assert_eq!(v.violations.len(), 1);
        assert!(
            v.violations[0].detail.contains("missed 1"),
            "{:?}",
            v.violations
        );
    }
}
