//! Galera's group-communication decisions as pure functions.
//!
//! Read in codership/galera (`gcomm/src/pc_proto.cpp`, `evs_proto.cpp`,
//! `defaults.cpp`) and restated:
//!
//! * **Quorum** (`have_quorum`): a new view is a primary component when,
//!   counting only nodes of the previous primary component, twice the weight
//!   of its members plus the weight of the nodes that *left gracefully* is
//!   greater than the previous component's weight. Exactly equal is a split
//!   brain (`have_split_brain`): neither side is primary. Weights default
//!   to 1.
//! * **Failure detection** (`check_inactive`, run every
//!   `evs.inactive_check_period` 0.5 s): a peer silent for
//!   `evs.suspect_timeout` (5 s) is suspected; a suspected peer that sends
//!   no join message (a dead or cut-off one never does) is declared inactive
//!   on the spot, and any peer silent for `evs.inactive_timeout` (15 s) is
//!   inactive regardless. So a silent peer leaves the view at the first
//!   check at or after 5 s of silence.
//! * A node that is not in a primary component refuses queries with error
//!   1047.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The error a non-primary node gives clients.
pub const NOT_PRIMARY: &str = "1047 WSREP has not yet prepared node for application use";

/// gcomm's failure-detection settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvsTimeouts {
    /// `evs.suspect_timeout`.
    pub suspect: Duration,
    /// `evs.inactive_timeout`.
    pub inactive: Duration,
    /// `evs.inactive_check_period`.
    pub check_period: Duration,
}

impl Default for EvsTimeouts {
    fn default() -> Self {
        EvsTimeouts {
            suspect: Duration::from_secs(5),
            inactive: Duration::from_secs(15),
            check_period: Duration::from_millis(500),
        }
    }
}

impl EvsTimeouts {
    /// When a peer last heard at `last_heard` is declared inactive, by a
    /// node whose checks run at `check_epoch + k × check_period`. A peer that
    /// still sends join messages (`sends_joins`) is only suspected and
    /// lasts until `evs.inactive_timeout`.
    pub fn removed_at(
        &self,
        last_heard: Duration,
        check_epoch: Duration,
        sends_joins: bool,
    ) -> Duration {
        let limit = last_heard
            + if sends_joins {
                self.inactive
            } else {
                self.suspect
            };
        let period = self.check_period.max(Duration::from_micros(1));
        if limit <= check_epoch {
            return check_epoch;
        }
        let ticks = (limit - check_epoch).as_nanos().div_ceil(period.as_nanos());
        check_epoch + period * u32::try_from(ticks).unwrap_or(u32::MAX)
    }
}

fn weight(nodes: &BTreeSet<String>, weights: &BTreeMap<String, u32>) -> u64 {
    nodes
        .iter()
        .map(|n| u64::from(weights.get(n).copied().unwrap_or(1)))
        .sum()
}

fn sums(
    members: &BTreeSet<String>,
    left: &BTreeSet<String>,
    pc: &BTreeSet<String>,
    weights: &BTreeMap<String, u32>,
) -> (u64, u64) {
    let memb: BTreeSet<String> = members.intersection(pc).cloned().collect();
    let gone: BTreeSet<String> = left.intersection(pc).cloned().collect();
    (
        weight(&memb, weights) * 2 + weight(&gone, weights),
        weight(pc, weights),
    )
}

/// Whether a view with `members` (and `left`, who left gracefully) is a
/// primary component after the primary component `pc`. `weights` holds
/// `pc.weight` values (absent: 1).
pub fn have_quorum(
    members: &BTreeSet<String>,
    left: &BTreeSet<String>,
    pc: &BTreeSet<String>,
    weights: &BTreeMap<String, u32>,
) -> bool {
    let (have, total) = sums(members, left, pc, weights);
    have > total
}

/// Whether the view holds exactly half of the primary component: a split
/// brain in which no side may continue.
pub fn have_split_brain(
    members: &BTreeSet<String>,
    left: &BTreeSet<String>,
    pc: &BTreeSet<String>,
    weights: &BTreeMap<String, u32>,
) -> bool {
    let (have, total) = sums(members, left, pc, weights);
    have == total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn majority_of_the_previous_primary_component_is_needed() {
        let pc = set(&["a", "b", "c"]);
        let w = BTreeMap::new();
        assert!(have_quorum(&set(&["a", "b"]), &set(&[]), &pc, &w));
        assert!(!have_quorum(&set(&["c"]), &set(&[]), &pc, &w));
        // A graceful leave counts half: {a} with b left of {a, b} is quorate.
        assert!(have_quorum(
            &set(&["a"]),
            &set(&["b"]),
            &set(&["a", "b"]),
            &w
        ));
        // Newcomers outside the previous component do not count.
        assert!(!have_quorum(&set(&["c", "x", "y"]), &set(&[]), &pc, &w));
    }

    #[test]
    fn an_even_split_is_a_split_brain_with_no_primary() {
        let pc = set(&["a", "b", "c", "d"]);
        let w = BTreeMap::new();
        let half = set(&["a", "b"]);
        assert!(!have_quorum(&half, &set(&[]), &pc, &w));
        assert!(have_split_brain(&half, &set(&[]), &pc, &w));
        // pc.weight breaks the tie.
        let w: BTreeMap<String, u32> = [("a".to_string(), 2)].into();
        assert!(have_quorum(&half, &set(&[]), &pc, &w));
    }

    #[test]
    fn a_silent_peer_leaves_at_the_first_check_after_the_suspect_timeout() {
        let t = EvsTimeouts::default();
        let s = Duration::from_secs_f64;
        assert_eq!(t.removed_at(s(10.0), s(0.0), false), s(15.0));
        assert_eq!(t.removed_at(s(10.1), s(0.0), false), s(15.5));
        assert_eq!(t.removed_at(s(10.1), s(0.2), false), s(15.2));
        // Still sending joins: only the inactive timeout removes it.
        assert_eq!(t.removed_at(s(10.0), s(0.0), true), s(25.0));
    }
}
