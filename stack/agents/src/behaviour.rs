//! The scenario's behaviour table: how long an operation takes and what it
//! returns, per resource, node, operation and time window, e.g. "monitor
//! of p_haproxy on node2 fails at 45 s" or "start of p_mysql takes 300 s".
//! Durations can be a range; the executor draws inside it from its seed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Complete with the agent's natural result (e.g. monitor: 0 if
    /// running, 7 if not).
    Natural,
    /// Complete with this OCF rc (a monitor rc 7 also means the service
    /// died).
    Rc(i32),
    /// Never complete: the executor kills it at its timeout.
    Hang,
}

/// One rule; the first matching rule wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BehaviourRule {
    pub rsc: String,
    /// None: any node.
    pub node: Option<String>,
    /// None: any operation.
    pub op: Option<String>,
    /// The rule applies to operations that start at or after this time.
    pub from: Duration,
    /// How many operations it applies to (None: all).
    pub times: Option<u32>,
    /// Duration range (min, max); equal for a fixed duration.
    pub duration: (Duration, Duration),
    pub outcome: Outcome,
}

/// The table plus how often each rule has been used.
#[derive(Debug, Clone, Default)]
pub struct BehaviourTable {
    pub rules: Vec<BehaviourRule>,
    used: Vec<u32>,
    /// Duration of operations no rule matches.
    pub default_duration: Duration,
}

impl BehaviourTable {
    pub fn new(rules: Vec<BehaviourRule>) -> BehaviourTable {
        let used = vec![0; rules.len()];
        BehaviourTable {
            rules,
            used,
            default_duration: Duration::from_millis(50),
        }
    }

    /// Duration and outcome of an operation starting at `now`; `draw` is a
    /// seeded number in [0, 2^64) used to pick inside a duration range.
    pub fn decide(
        &mut self,
        rsc: &str,
        node: &str,
        op: &str,
        now: Duration,
        draw: u64,
    ) -> (Duration, Outcome) {
        // Rules may have been added since the last call.
        self.used.resize(self.rules.len(), 0);
        for (i, r) in self.rules.iter().enumerate() {
            let applies = r.rsc == rsc
                && r.node.as_deref().is_none_or(|n| n == node)
                && r.op.as_deref().is_none_or(|o| o == op)
                && now >= r.from
                && r.times.is_none_or(|t| self.used[i] < t);
            if applies {
                self.used[i] += 1;
                let (lo, hi) = r.duration;
                let span = hi.saturating_sub(lo).as_millis() as u64;
                let extra = if span == 0 { 0 } else { draw % (span + 1) };
                return (lo + Duration::from_millis(extra), r.outcome);
            }
        }
        (self.default_duration, Outcome::Natural)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_with_count_and_window() {
        let fail = BehaviourRule {
            rsc: "p".into(),
            node: Some("n2".into()),
            op: Some("monitor".into()),
            from: Duration::from_secs(45),
            times: Some(1),
            duration: (Duration::from_millis(10), Duration::from_millis(10)),
            outcome: Outcome::Rc(7),
        };
        let slow = BehaviourRule {
            rsc: "p".into(),
            node: None,
            op: Some("start".into()),
            from: Duration::ZERO,
            times: None,
            duration: (Duration::from_secs(1), Duration::from_secs(3)),
            outcome: Outcome::Natural,
        };
        let mut t = BehaviourTable::new(vec![fail, slow]);
        let at = Duration::from_secs;
        assert_eq!(
            t.decide("p", "n2", "monitor", at(44), 0).1,
            Outcome::Natural
        );
        assert_eq!(
            t.decide("p", "n1", "monitor", at(46), 0).1,
            Outcome::Natural
        );
        assert_eq!(t.decide("p", "n2", "monitor", at(46), 0).1, Outcome::Rc(7));
        assert_eq!(
            t.decide("p", "n2", "monitor", at(47), 0).1,
            Outcome::Natural
        );
        let (d, _) = t.decide("p", "n1", "start", at(1), 1500);
        assert_eq!(d, Duration::from_millis(2500));
    }
}
