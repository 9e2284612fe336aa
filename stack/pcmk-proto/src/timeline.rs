//! A text report over reported events: per resource, where it ran when
//! (crm_mon's view over time), DC changes and transitions with their
//! triggers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Duration;

use crate::events::{Event, TimedEvent};

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// Per resource, the intervals during which it was active on each node.
pub fn placements(
    events: &[TimedEvent],
) -> BTreeMap<String, Vec<(String, Duration, Option<Duration>)>> {
    let mut open: BTreeMap<(String, String), Duration> = BTreeMap::new();
    let mut out: BTreeMap<String, Vec<(String, Duration, Option<Duration>)>> = BTreeMap::new();
    let mut close = |rsc: &str, node: &str, from: Duration, to: Duration| {
        out.entry(rsc.to_string())
            .or_default()
            .push((node.to_string(), from, Some(to)));
    };
    for e in events {
        match &e.event {
            Event::ResourceActive {
                node,
                rsc,
                active: true,
            } => {
                open.entry((rsc.clone(), node.clone())).or_insert(e.at);
            }
            Event::ResourceActive {
                node,
                rsc,
                active: false,
            } => {
                if let Some(from) = open.remove(&(rsc.clone(), node.clone())) {
                    close(rsc, node, from, e.at);
                }
            }
            Event::NodePower { node, up: false } => {
                let gone: Vec<(String, String)> =
                    open.keys().filter(|(_, n)| n == node).cloned().collect();
                for k in gone {
                    if let Some(from) = open.remove(&k) {
                        close(&k.0, &k.1, from, e.at);
                    }
                }
            }
            _ => {}
        }
    }
    for ((rsc, node), from) in open {
        out.entry(rsc).or_default().push((node, from, None));
    }
    for v in out.values_mut() {
        v.sort_by_key(|(n, from, _)| (*from, n.clone()));
    }
    out
}

/// The whole report as text.
pub fn render(events: &[TimedEvent]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Resources (node: from - to):");
    for (rsc, spans) in placements(events) {
        let _ = write!(s, "  {rsc}:");
        for (node, from, to) in spans {
            let to = to.map_or("...".to_string(), secs);
            let _ = write!(s, " {node} {} - {to};", secs(from));
        }
        s.push('\n');
    }
    let _ = writeln!(s, "DC changes:");
    let mut dcs: BTreeSet<(Duration, String)> = BTreeSet::new();
    for e in events {
        if let Event::DcChanged { node, dc: Some(dc) } = &e.event {
            if node == dc {
                dcs.insert((e.at, dc.clone()));
            }
        }
    }
    for (at, dc) in dcs {
        let _ = writeln!(s, "  {} {dc} became DC", secs(at));
    }
    let _ = writeln!(s, "Transitions:");
    for e in events {
        if let Event::Transition {
            dc,
            id,
            trigger,
            summary,
            ..
        } = &e.event
        {
            let _ = writeln!(
                s,
                "  {} {dc} #{id} ({trigger}): {}",
                secs(e.at),
                summary.join("; ")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_close_on_stop_and_power_loss() {
        let at = |s: u64, event| TimedEvent {
            at: Duration::from_secs(s),
            event,
        };
        let act = |n: &str, on| Event::ResourceActive {
            node: n.into(),
            rsc: "vip".into(),
            active: on,
        };
        let evs = vec![
            at(1, act("n1", true)),
            at(
                5,
                Event::NodePower {
                    node: "n1".into(),
                    up: false,
                },
            ),
            at(9, act("n2", true)),
            at(
                10,
                Event::DcChanged {
                    node: "n2".into(),
                    dc: Some("n2".into()),
                },
            ),
        ];
        let p = placements(&evs);
        assert_eq!(
            p["vip"],
            vec![
                (
                    "n1".to_string(),
                    Duration::from_secs(1),
                    Some(Duration::from_secs(5))
                ),
                ("n2".to_string(), Duration::from_secs(9), None)
            ]
        );
        let text = render(&evs);
        assert!(
            text.contains("vip: n1 1.000s - 5.000s; n2 9.000s - ...;"),
            "{text}"
        );
        assert!(text.contains("10.000s n2 became DC"), "{text}");
    }
}
