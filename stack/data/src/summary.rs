//! Per-client figures for the report: operations, acknowledged, failed,
//! unknown, lost, stale, hung connections and how long they hung.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::checkers::{no_lost_acknowledged_writes, no_stale_reads};
use crate::history::{History, Outcome};

/// One client's line in the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSummary {
    /// Operations invoked.
    pub operations: usize,
    /// Acknowledged.
    pub acknowledged: usize,
    /// Refused for certain.
    pub failed: usize,
    /// Timed out or lost in flight (outcome unknown).
    pub unknown: usize,
    /// Acknowledged writes missing at the end.
    pub lost: usize,
    /// Reads that missed an earlier acknowledged write.
    pub stale: usize,
    /// Connections whose server went away and that were still open, or
    /// closed only after it, with how long each hung.
    pub hung: Vec<Duration>,
}

/// Summaries by client name.
pub fn per_client(h: &History) -> BTreeMap<String, ClientSummary> {
    let mut out: BTreeMap<String, ClientSummary> = BTreeMap::new();
    for op in &h.ops {
        let s = out.entry(op.client.clone()).or_default();
        s.operations += 1;
        match &op.completed {
            Some((_, Outcome::Ok(_))) => s.acknowledged += 1,
            Some((_, Outcome::Failed(_))) => s.failed += 1,
            Some((_, Outcome::Unknown(_))) | None => s.unknown += 1,
        }
    }
    for v in no_lost_acknowledged_writes(h).violations {
        if let Some(c) = v.client {
            out.entry(c).or_default().lost += 1;
        }
    }
    for v in no_stale_reads(h).violations {
        if let Some(c) = v.client {
            out.entry(c).or_default().stale += 1;
        }
    }
    for c in &h.conns {
        if let Some(lost) = c.server_lost {
            let until = c.closed.map_or(h.end, |(t, _)| t);
            out.entry(c.client.clone())
                .or_default()
                .hung
                .push(until.saturating_sub(lost));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures::*;
    use crate::history::{ConnLife, Op, OpKind};

    #[test]
    fn counts_each_kind_of_outcome() {
        let mut h = history(
            vec![
                write("a", "k", 1, 0.0, Some(0.1), "db1"),
                write("a", "k", 2, 0.2, Some(0.3), "db2"),
                read("b", "k", 0.4, 0.5, &[1], "db1"),
                Op {
                    client: "b".into(),
                    kind: OpKind::Read { key: "k".into() },
                    invoked: t(1.0),
                    completed: Some((
                        t(2.0),
                        Outcome::Failed("1047 WSREP has not yet prepared node".into()),
                    )),
                    node: None,
                },
            ],
            &[("k", &[1])],
        );
        h.conns.push(ConnLife {
            client: "b".into(),
            opened: t(0.0),
            closed: None,
            server_lost: Some(t(40.0)),
        });
        let s = per_client(&h);
        assert_eq!(
            (s["a"].operations, s["a"].acknowledged, s["a"].lost),
            (2, 2, 1)
        );
        assert_eq!((s["b"].operations, s["b"].failed, s["b"].stale), (2, 1, 1));
        assert_eq!(s["b"].hung, vec![t(60.0)]);
    }
}
