//! Plain-text report of fencing: one line per operation (requester,
//! executor, device, level, delay drawn, start, result, duration) and each
//! node's power timeline. The simulator's report can print it as is.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::checkers::{Observation, PowerCause};
use crate::wire::FenceRecord;

fn t(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// One line per finished operation, in completion order.
pub fn operations(records: &[FenceRecord]) -> String {
    let mut out = String::new();
    for r in records {
        let executor = r.executor.as_deref().unwrap_or("nobody");
        let device = r.device.as_deref().unwrap_or("no device");
        let verdict = if r.ok {
            "ok".to_string()
        } else {
            format!("FAILED ({})", r.reason)
        };
        let _ = writeln!(
            out,
            "  {} {} {}: requested by {} at t={}, executed by {} with {} (level {}), delay {} s: {} at t={} after {}",
            r.op,
            r.action.name(),
            r.target,
            r.origin,
            t(r.started_ms),
            executor,
            device,
            r.level,
            r.delay,
            verdict,
            t(r.completed_ms),
            t(r.completed_ms.saturating_sub(r.started_ms)),
        );
    }
    out
}

/// Each node's power changes: `off@t (cause)` and `on@t`.
pub fn power_timeline(observations: &[Observation]) -> String {
    let mut per_node: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for o in observations {
        match o {
            Observation::PowerOff { node, at_ms, cause } => {
                let why = match cause {
                    PowerCause::Fenced { requester, .. } => format!("fenced by {requester}"),
                    PowerCause::SelfFenced => "watchdog".to_string(),
                    PowerCause::Fault => "fault".to_string(),
                };
                per_node
                    .entry(node)
                    .or_default()
                    .push(format!("off@{} ({why})", t(*at_ms)));
            }
            Observation::PowerOn { node, at_ms } => per_node
                .entry(node)
                .or_default()
                .push(format!("on@{}", t(*at_ms))),
            _ => {}
        }
    }
    per_node
        .iter()
        .map(|(n, changes)| format!("  {n}: {}\n", changes.join(" ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FenceAction;

    #[test]
    fn lines_name_every_party_and_time() {
        let r = FenceRecord {
            op: "n2:4".into(),
            target: "n1".into(),
            action: FenceAction::Reboot,
            origin: "n2".into(),
            executor: Some("n3".into()),
            device: Some("fence-n1".into()),
            level: 1,
            delay: 7,
            started_ms: 18_030,
            completed_ms: 30_500,
            ok: true,
            reason: String::new(),
        };
        assert_eq!(
            operations(&[r]),
            "  n2:4 reboot n1: requested by n2 at t=18.030s, executed by n3 with fence-n1 (level 1), delay 7 s: ok at t=30.500s after 12.470s\n"
        );
        let obs = [
            Observation::PowerOff {
                node: "n1".into(),
                at_ms: 10_000,
                cause: PowerCause::Fault,
            },
            Observation::PowerOn {
                node: "n1".into(),
                at_ms: 70_000,
            },
        ];
        assert_eq!(
            power_timeline(&obs),
            "  n1: off@10.000s (fault) on@70.000s\n"
        );
    }
}
