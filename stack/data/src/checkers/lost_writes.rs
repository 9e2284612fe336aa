//! `no-lost-acknowledged-writes`: every acknowledged write is in the final
//! read of its key, made after faults healed and the database settled.

use super::{Verdict, Violation};
use crate::history::{History, OpKind};

/// Checks that the final reads contain every acknowledged write.
pub fn no_lost_acknowledged_writes(h: &History) -> Verdict {
    let mut violations = Vec::new();
    let mut examined = 0;
    for op in &h.ops {
        let (OpKind::Write { key, value }, Some(at)) = (&op.kind, op.acked_at()) else {
            continue;
        };
        examined += 1;
        let present = h
            .final_reads
            .get(key)
            .is_some_and(|vals| vals.contains(value));
        if !present {
            let node = op.node.as_deref().unwrap_or("?");
            violations.push(Violation {
                client: Some(op.client.clone()),
                detail: format!(
                    "write {key}={value} acknowledged by {node} at {:.3}s is missing from the final read",
                    at.as_secs_f64()
                ),
            });
        }
    }
    Verdict {
        name: "no-lost-acknowledged-writes",
        violations,
        examined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures::*;

    #[test]
    fn holds_when_every_ack_is_read_back() {
        let h = history(
            vec![
                write("c1", "k", 1, 0.0, Some(0.1), "db1"),
                write("c1", "k", 2, 0.2, Some(0.3), "db1"),
            ],
            &[("k", &[1, 2])],
        );
        let v = no_lost_acknowledged_writes(&h);
        assert!(v.held());
        assert_eq!(v.examined, 2);
    }

    #[test]
    fn fails_when_an_acknowledged_write_is_gone() {
        let h = history(
            vec![
                write("c1", "k", 1, 0.0, Some(0.1), "db1"),
                write("c2", "k", 2, 0.2, Some(0.3), "db2"),
            ],
            &[("k", &[1])],
        );
        let v = no_lost_acknowledged_writes(&h);
        assert_eq!(v.violations.len(), 1);
        assert!(
            v.violations[0].detail.contains("k=2 acknowledged by db2"),
            "{:?}",
            v.violations
        );
    }

    #[test]
    fn unacknowledged_writes_may_be_lost() {
        let h = history(vec![write("c1", "k", 1, 0.0, None, "db1")], &[]);
        assert!(no_lost_acknowledged_writes(&h).held());
    }
}
