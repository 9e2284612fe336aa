//! Safety and liveness audits over reported events, as pure functions (the
//! audits Pacemaker's CTS lab defines). The simulator runs them over its
//! event stream; tests run them over the harness's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hasim_cib::{Cib, ResourceKind};

use crate::events::{Event, TimedEvent};

/// A broken invariant: which, when, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub checker: &'static str,
    pub at: Duration,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {:?}: {}", self.checker, self.at, self.message)
    }
}

/// Resources that must never run on two nodes at once: primitives outside
/// clones (anonymous clone instances share the primitive's id by design).
/// Fencing devices are left out: a device "running" is only its
/// registration with the fencer, and Pacemaker starts it on a new node
/// without waiting for fencing (it requires quorum, not fencing).
pub fn unique_resources(cib: &Cib) -> BTreeSet<String> {
    fn walk(r: &hasim_cib::Resource, in_clone: bool, out: &mut BTreeSet<String>) {
        match &r.kind {
            ResourceKind::Primitive { class, .. } if class.as_deref() == Some("stonith") => {}
            ResourceKind::Primitive { .. } if !in_clone => {
                out.insert(r.id.clone());
            }
            ResourceKind::Group { children } => {
                for c in children {
                    walk(c, in_clone, out);
                }
            }
            ResourceKind::Clone { child, .. } => walk(child, true, out),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for r in &cib.resources {
        walk(r, false, &mut out);
    }
    out
}

/// `resource-single-active`: a unique resource is never active on two
/// powered nodes at once. A node that loses power runs nothing.
pub fn resource_single_active(
    events: &[TimedEvent],
    unique: &BTreeSet<String>,
) -> Result<(), Violation> {
    let mut active: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in events {
        match &e.event {
            Event::NodePower { node, up: false } => {
                for nodes in active.values_mut() {
                    nodes.remove(node.as_str());
                }
            }
            Event::ResourceActive {
                node,
                rsc,
                active: on,
            } => {
                let set = active.entry(rsc.as_str()).or_default();
                if *on {
                    set.insert(node.as_str());
                } else {
                    set.remove(node.as_str());
                }
                if *on && set.len() > 1 && unique.contains(rsc) {
                    return Err(Violation {
                        checker: "resource-single-active",
                        at: e.at,
                        message: format!("{rsc} active on {:?}", set),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Per-node view used by [`single_dc`].
#[derive(Default)]
struct NodeView<'a> {
    powered: bool,
    dc: bool,
    peers: BTreeSet<&'a str>,
}

fn dc_conflicts<'a>(views: &BTreeMap<&'a str, NodeView<'a>>) -> BTreeSet<(&'a str, &'a str)> {
    let claimants: Vec<&str> = views
        .iter()
        .filter(|(_, v)| v.powered && v.dc)
        .map(|(n, _)| *n)
        .collect();
    let mut out = BTreeSet::new();
    for (i, a) in claimants.iter().enumerate() {
        for b in &claimants[i + 1..] {
            let sees = |x: &str, y: &str| views.get(x).is_some_and(|v| v.peers.contains(y));
            if sees(a, b) && sees(b, a) {
                out.insert((*a, *b));
            }
        }
    }
    out
}

/// `single-dc`: two powered nodes that see each other as peers are never
/// both DC for longer than `settle` (the time an election needs to settle).
pub fn single_dc(events: &[TimedEvent], settle: Duration) -> Result<(), Violation> {
    let mut views: BTreeMap<&str, NodeView> = BTreeMap::new();
    let mut since: BTreeMap<(&str, &str), Duration> = BTreeMap::new();
    for e in events {
        match &e.event {
            Event::NodePower { node, up } => {
                let v = views.entry(node.as_str()).or_default();
                *v = NodeView {
                    powered: *up,
                    ..NodeView::default()
                };
            }
            Event::DcChanged { node, dc } => {
                let v = views.entry(node.as_str()).or_default();
                v.powered = true;
                v.dc = dc.as_deref() == Some(node.as_str());
            }
            Event::Peers { node, peers } => {
                let v = views.entry(node.as_str()).or_default();
                v.peers = peers.iter().map(String::as_str).collect();
            }
            _ => {}
        }
        let now = dc_conflicts(&views);
        since.retain(|k, _| now.contains(k));
        for pair in now {
            let start = *since.entry(pair).or_insert(e.at);
            if e.at.saturating_sub(start) > settle {
                return Err(Violation {
                    checker: "single-dc",
                    at: e.at,
                    message: format!("{} and {} both DC since {:?}", pair.0, pair.1, start),
                });
            }
        }
    }
    Ok(())
}

/// `cib-converges`: at the end of the run every powered node's last
/// reported CIB has the same version and digest.
pub fn cib_converges(events: &[TimedEvent]) -> Result<(), Violation> {
    let mut last: BTreeMap<&str, Option<(u64, u64, u64, &str)>> = BTreeMap::new();
    let mut end = Duration::ZERO;
    for e in events {
        end = e.at;
        match &e.event {
            Event::NodePower { node, up } => {
                if *up {
                    last.insert(node.as_str(), None);
                } else {
                    last.remove(node.as_str());
                }
            }
            Event::CibVersion {
                node,
                admin_epoch,
                epoch,
                num_updates,
                digest,
            } => {
                if let Some(slot) = last.get_mut(node.as_str()) {
                    *slot = Some((*admin_epoch, *epoch, *num_updates, digest.as_str()));
                }
            }
            _ => {}
        }
    }
    let distinct: BTreeSet<_> = last.values().collect();
    if distinct.len() > 1 {
        let detail: Vec<String> = last
            .iter()
            .map(|(n, v)| match v {
                Some((a, e, u, d)) => format!("{n}={a}.{e}.{u}/{}", &d[..d.len().min(8)]),
                None => format!("{n}=none"),
            })
            .collect();
        return Err(Violation {
            checker: "cib-converges",
            at: end,
            message: detail.join(" "),
        });
    }
    Ok(())
}

/// `no-election-storm`: no node starts more than `max` elections within
/// any `window`.
pub fn no_election_storm(
    events: &[TimedEvent],
    window: Duration,
    max: usize,
) -> Result<(), Violation> {
    let mut starts: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for e in events {
        if let Event::ElectionStarted { node } = &e.event {
            let list = starts.entry(node.as_str()).or_default();
            list.push(e.at);
            list.retain(|t| e.at.saturating_sub(*t) < window);
            if list.len() > max {
                return Err(Violation {
                    checker: "no-election-storm",
                    at: e.at,
                    message: format!("{node} started {} elections within {window:?}", list.len()),
                });
            }
        }
    }
    Ok(())
}

/// `no-active-without-quorum`: a node that has been inquorate for longer
/// than `grace` (what no-quorum-policy=stop needs to stop its resources)
/// runs nothing. Judged at every event (with the state before it).
pub fn no_active_without_quorum(events: &[TimedEvent], grace: Duration) -> Result<(), Violation> {
    let mut inquorate: BTreeMap<&str, Duration> = BTreeMap::new();
    let mut active: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let judge =
        |at: Duration, inq: &BTreeMap<&str, Duration>, act: &BTreeMap<&str, BTreeSet<&str>>| {
            for (node, since) in inq {
                let running = act.get(node).filter(|s| !s.is_empty());
                if let Some(rscs) = running.filter(|_| at.saturating_sub(*since) > grace) {
                    return Err(Violation {
                        checker: "no-active-without-quorum",
                        at,
                        message: format!("{node} inquorate since {since:?} still runs {rscs:?}"),
                    });
                }
            }
            Ok(())
        };
    for e in events {
        // The state before this event held until now.
        judge(e.at, &inquorate, &active)?;
        match &e.event {
            Event::NodePower { node, .. } => {
                inquorate.remove(node.as_str());
                active.remove(node.as_str());
            }
            Event::Quorum { node, quorate } => {
                if *quorate {
                    inquorate.remove(node.as_str());
                } else {
                    inquorate.entry(node.as_str()).or_insert(e.at);
                }
            }
            Event::ResourceActive {
                node,
                rsc,
                active: on,
            } => {
                let set = active.entry(node.as_str()).or_default();
                if *on {
                    set.insert(rsc.as_str());
                } else {
                    set.remove(rsc.as_str());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `recovers`: whenever `rsc` stops running everywhere (its node lost
/// power, or it stopped or failed), it runs again somewhere within `bound`.
/// An outage still open when the events end is judged only if it already
/// exceeds `bound`.
pub fn recovers(events: &[TimedEvent], rsc: &str, bound: Duration) -> Result<(), Violation> {
    recovers_until(events, rsc, bound, Duration::ZERO)
}

/// [`recovers`] over a run that ended at `run_end` (an outage still open
/// then is judged against it, not against the last event).
pub fn recovers_until(
    events: &[TimedEvent],
    rsc: &str,
    bound: Duration,
    run_end: Duration,
) -> Result<(), Violation> {
    let mut on: BTreeSet<&str> = BTreeSet::new();
    let mut down_since: Option<Duration> = None;
    let mut end = Duration::ZERO;
    for e in events {
        end = e.at;
        if let Some(t) = down_since.filter(|t| e.at.saturating_sub(*t) > bound) {
            return Err(Violation {
                checker: "recovers",
                at: e.at,
                message: format!("{rsc} not running since {t:?} (bound {bound:?})"),
            });
        }
        let was_running = !on.is_empty();
        match &e.event {
            Event::NodePower { node, up: false } => {
                on.remove(node.as_str());
            }
            Event::ResourceActive {
                node,
                rsc: r,
                active,
            } if r == rsc => {
                if *active {
                    on.insert(node.as_str());
                } else {
                    on.remove(node.as_str());
                }
            }
            _ => continue,
        }
        if was_running && on.is_empty() {
            down_since = Some(e.at);
        } else if !on.is_empty() {
            down_since = None;
        }
    }
    let end = end.max(run_end);
    match down_since.filter(|t| end.saturating_sub(*t) > bound) {
        Some(t) => Err(Violation {
            checker: "recovers",
            at: end,
            message: format!("{rsc} not running since {t:?} (bound {bound:?})"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64, event: Event) -> TimedEvent {
        TimedEvent {
            at: Duration::from_secs(s),
            event,
        }
    }
    fn power(n: &str, up: bool) -> Event {
        Event::NodePower { node: n.into(), up }
    }
    fn active(n: &str, r: &str, on: bool) -> Event {
        Event::ResourceActive {
            node: n.into(),
            rsc: r.into(),
            active: on,
        }
    }
    fn dc(n: &str, d: &str) -> Event {
        Event::DcChanged {
            node: n.into(),
            dc: Some(d.into()),
        }
    }
    fn peers(n: &str, p: &[&str]) -> Event {
        Event::Peers {
            node: n.into(),
            peers: p.iter().map(|s| s.to_string()).collect(),
        }
    }
    fn cibv(n: &str, epoch: u64, digest: &str) -> Event {
        Event::CibVersion {
            node: n.into(),
            admin_epoch: 0,
            epoch,
            num_updates: 0,
            digest: digest.into(),
        }
    }

    #[test]
    fn single_active_fails_on_double_start_and_not_after_power_loss() {
        let unique: BTreeSet<String> = ["vip".to_string()].into();
        let ok = vec![
            at(1, active("n1", "vip", true)),
            at(2, power("n1", false)),
            at(3, active("n2", "vip", true)),
            at(4, active("n1", "haproxy", true)),
            at(5, active("n2", "haproxy", true)),
        ];
        assert!(resource_single_active(&ok, &unique).is_ok());
        let bad = vec![
            at(1, active("n1", "vip", true)),
            at(3, active("n2", "vip", true)),
        ];
        let v = resource_single_active(&bad, &unique).unwrap_err();
        assert_eq!(v.at, Duration::from_secs(3));
    }

    #[test]
    fn single_dc_fails_only_for_connected_lasting_dcs() {
        let mut evs = vec![
            at(0, peers("n1", &["n1", "n2"])),
            at(0, peers("n2", &["n1", "n2"])),
            at(1, dc("n1", "n1")),
            at(2, dc("n2", "n2")),
            at(3, dc("n1", "n2")),
        ];
        assert!(single_dc(&evs, Duration::from_secs(5)).is_ok());
        evs.pop();
        evs.push(at(10, peers("n1", &["n1", "n2"])));
        assert!(single_dc(&evs, Duration::from_secs(5)).is_err());
        // Partitioned: both DC is fine.
        let split = vec![
            at(0, peers("n1", &["n1"])),
            at(0, peers("n2", &["n2"])),
            at(1, dc("n1", "n1")),
            at(2, dc("n2", "n2")),
            at(30, peers("n2", &["n2"])),
        ];
        assert!(single_dc(&split, Duration::from_secs(5)).is_ok());
    }

    #[test]
    fn cib_converges_fails_on_divergent_digest() {
        let mut evs = vec![
            at(0, power("n1", true)),
            at(0, power("n2", true)),
            at(1, cibv("n1", 3, "aa")),
            at(1, cibv("n2", 3, "aa")),
        ];
        assert!(cib_converges(&evs).is_ok());
        evs.push(at(2, cibv("n2", 3, "bb")));
        assert!(cib_converges(&evs).is_err());
        evs.push(at(3, power("n2", false)));
        assert!(cib_converges(&evs).is_ok());
    }

    #[test]
    fn election_storm_detected() {
        let e = |s| at(s, Event::ElectionStarted { node: "n1".into() });
        let calm = vec![e(0), e(100), e(200)];
        assert!(no_election_storm(&calm, Duration::from_secs(60), 2).is_ok());
        let storm = vec![e(0), e(1), e(2)];
        assert!(no_election_storm(&storm, Duration::from_secs(60), 2).is_err());
    }

    #[test]
    fn no_active_without_quorum_allows_the_stop_time_only() {
        let q = |n: &str, quorate| Event::Quorum {
            node: n.into(),
            quorate,
        };
        let mut evs = vec![
            at(1, active("n1", "vip", true)),
            at(10, q("n1", false)),
            at(15, active("n1", "vip", false)),
            at(40, power("n2", true)),
        ];
        assert!(no_active_without_quorum(&evs, Duration::from_secs(10)).is_ok());
        evs[2] = at(25, active("n1", "vip", false));
        let v = no_active_without_quorum(&evs, Duration::from_secs(10)).unwrap_err();
        assert_eq!(v.at, Duration::from_secs(25));
    }

    #[test]
    fn recovers_within_bound_or_fails() {
        let ok = vec![
            at(1, active("n1", "vip", true)),
            at(50, power("n1", false)),
            at(70, active("n2", "vip", true)),
            at(200, power("n3", true)),
        ];
        assert!(recovers(&ok, "vip", Duration::from_secs(30)).is_ok());
        assert!(recovers(&ok, "vip", Duration::from_secs(10)).is_err());
        let never = vec![
            at(1, active("n1", "vip", true)),
            at(50, active("n1", "vip", false)),
            at(100, power("n2", true)),
        ];
        let v = recovers(&never, "vip", Duration::from_secs(30)).unwrap_err();
        assert_eq!(v.at, Duration::from_secs(100));
    }
}
