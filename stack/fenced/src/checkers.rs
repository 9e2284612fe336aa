//! Fencing invariants as pure functions over observed events, so the
//! simulator's checker registry and the tests here share them.
//!
//! * `fenced-before-recovery`: a resource that was active on a node starts
//!   elsewhere only after that node lost power (fenced, self-fenced or a
//!   power fault) or stopped the resource.
//! * `no-fence-race`: two nodes are never both powered off by fencing each
//!   of them requested before it was itself killed (the two-node "fence
//!   death match").
//! * `no-fence-loop`: a node that was fenced and rejoined is not fenced
//!   again unless a new fault happened after it rejoined.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// Why a machine lost power.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PowerCause {
    /// A fencing operation requested by `requester` at `requested_ms`.
    Fenced {
        requester: String,
        requested_ms: u64,
    },
    /// The node's watchdog reset it.
    SelfFenced,
    /// An injected fault (PSU, mains, nemesis).
    Fault,
}

/// What the checkers look at, in time order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Observation {
    PowerOff {
        node: String,
        at_ms: u64,
        cause: PowerCause,
    },
    PowerOn {
        node: String,
        at_ms: u64,
    },
    /// The node is a cluster member again after a boot.
    NodeJoined {
        node: String,
        at_ms: u64,
    },
    ResourceStarted {
        resource: String,
        node: String,
        at_ms: u64,
    },
    ResourceStopped {
        resource: String,
        node: String,
        at_ms: u64,
    },
    /// Any injected fault (partition, power, device failure).
    Fault {
        at_ms: u64,
        what: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub name: &'static str,
    pub held: bool,
    pub evidence: String,
}

fn verdict(name: &'static str, violation: Option<String>, ok: String) -> Verdict {
    match violation {
        Some(evidence) => Verdict {
            name,
            held: false,
            evidence,
        },
        None => Verdict {
            name,
            held: true,
            evidence: ok,
        },
    }
}

pub fn fenced_before_recovery(events: &[Observation]) -> Verdict {
    let mut active: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut starts = 0;
    for e in events {
        match e {
            Observation::PowerOff { node, .. } => active.values_mut().for_each(|s| {
                s.remove(node.as_str());
            }),
            Observation::ResourceStopped { resource, node, .. } => {
                active.entry(resource).or_default().remove(node.as_str());
            }
            Observation::ResourceStarted {
                resource,
                node,
                at_ms,
            } => {
                starts += 1;
                let set = active.entry(resource).or_default();
                if let Some(other) = set.iter().find(|n| **n != node.as_str()) {
                    let v = format!(
                        "{resource} started on {node} at t={}.{:03}s while {other} still had power and had not stopped it",
                        at_ms / 1000,
                        at_ms % 1000
                    );
                    return verdict("fenced-before-recovery", Some(v), String::new());
                }
                set.insert(node);
            }
            _ => {}
        }
    }
    verdict(
        "fenced-before-recovery",
        None,
        format!("{starts} resource starts, none before the previous holder lost power"),
    )
}

pub fn no_fence_race(events: &[Observation]) -> Verdict {
    // (victim, killer, at, requested)
    let mut kills: Vec<(&str, &str, u64, u64)> = Vec::new();
    for e in events {
        if let Observation::PowerOff {
            node,
            at_ms,
            cause:
                PowerCause::Fenced {
                    requester,
                    requested_ms,
                },
        } = e
        {
            let (victim, killer) = (node.as_str(), requester.as_str());
            // An earlier kill of our killer by our victim, while the request
            // that killed us was already made: both shot each other.
            if let Some((_, _, t1, _)) = kills
                .iter()
                .find(|(v, k, t1, _)| *v == killer && *k == victim && *requested_ms <= *t1)
            {
                let v = format!(
                    "{killer} was fenced by {victim} at {t1} ms and {victim} by {killer} at {at_ms} ms (requested at {requested_ms} ms, before {killer} died)"
                );
                return verdict("no-fence-race", Some(v), String::new());
            }
            kills.push((victim, killer, *at_ms, *requested_ms));
        }
    }
    verdict(
        "no-fence-race",
        None,
        format!("{} fencing kills, no mutual pair", kills.len()),
    )
}

pub fn no_fence_loop(events: &[Observation]) -> Verdict {
    let mut fenced: BTreeSet<&str> = BTreeSet::new();
    // Node -> rejoined after a fencing with no fault since.
    let mut rejoined_clean: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events {
        match e {
            Observation::Fault { .. } => rejoined_clean.clear(),
            Observation::NodeJoined { node, at_ms } if fenced.contains(node.as_str()) => {
                rejoined_clean.insert(node, *at_ms);
            }
            Observation::PowerOff {
                node,
                at_ms,
                cause: PowerCause::Fenced { .. },
            } => {
                if let Some(joined) = rejoined_clean.get(node.as_str()) {
                    let v = format!("{node} rejoined at {joined} ms after being fenced and was fenced again at {at_ms} ms with no fault in between");
                    return verdict("no-fence-loop", Some(v), String::new());
                }
                fenced.insert(node);
            }
            _ => {}
        }
    }
    verdict(
        "no-fence-loop",
        None,
        format!(
            "{} nodes fenced, none again after a clean rejoin",
            fenced.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn off(node: &str, at_ms: u64, cause: PowerCause) -> Observation {
        Observation::PowerOff {
            node: node.into(),
            at_ms,
            cause,
        }
    }
    fn fenced(by: &str, requested_ms: u64) -> PowerCause {
        PowerCause::Fenced {
            requester: by.into(),
            requested_ms,
        }
    }
    fn start(resource: &str, node: &str, at_ms: u64) -> Observation {
        Observation::ResourceStarted {
            resource: resource.into(),
            node: node.into(),
            at_ms,
        }
    }

    #[test]
    fn recovery_after_fencing_holds_and_before_it_breaks() {
        let good = [
            start("vip", "n1", 0),
            off("n1", 10_000, fenced("n2", 5_000)),
            start("vip", "n2", 11_000),
        ];
        assert!(fenced_before_recovery(&good).held);
        let bad = [
            start("vip", "n1", 0),
            start("vip", "n2", 11_000),
            off("n1", 12_000, PowerCause::SelfFenced),
        ];
        let v = fenced_before_recovery(&bad);
        assert!(!v.held && v.evidence.contains("n1"), "{v:?}");
        let stopped = [
            start("vip", "n1", 0),
            Observation::ResourceStopped {
                resource: "vip".into(),
                node: "n1".into(),
                at_ms: 5,
            },
            start("vip", "n2", 6),
        ];
        assert!(fenced_before_recovery(&stopped).held);
    }

    #[test]
    fn mutual_fencing_is_a_race_one_sided_is_not() {
        let one = [off("n2", 10_000, fenced("n1", 3_000))];
        assert!(no_fence_race(&one).held);
        let both = [
            off("n2", 10_000, fenced("n1", 3_000)),
            off("n1", 10_500, fenced("n2", 3_001)),
        ];
        assert!(!no_fence_race(&both).held);
        // n2 rebooted and fenced n1 much later with a new request: not a race.
        let later = [
            off("n2", 10_000, fenced("n1", 3_000)),
            off("n1", 90_000, fenced("n2", 80_000)),
        ];
        assert!(no_fence_race(&later).held);
    }

    #[test]
    fn fencing_again_after_a_clean_rejoin_is_a_loop() {
        let join = |at_ms| Observation::NodeJoined {
            node: "n2".into(),
            at_ms,
        };
        let looped = [
            off("n2", 10_000, fenced("n1", 1)),
            join(40_000),
            off("n2", 50_000, fenced("n1", 45_000)),
        ];
        assert!(!no_fence_loop(&looped).held);
        let fault = Observation::Fault {
            at_ms: 45_000,
            what: "partition".into(),
        };
        let justified = [
            off("n2", 10_000, fenced("n1", 1)),
            join(40_000),
            fault,
            off("n2", 50_000, fenced("n1", 46_000)),
        ];
        assert!(no_fence_loop(&justified).held);
    }
}
