//! Cluster options the controller acts on (lib/common/options.c defaults).

use std::time::Duration;

use hasim_cib::{Cib, SetKind};

/// Parse Pacemaker's interval syntax: "20s", "2min", "500ms", "1h", bare
/// numbers are seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "s" | "sec" | "secs" => n * 1000,
        "ms" | "msec" => n,
        "m" | "min" | "mins" => n * 60_000,
        "h" | "hr" | "hours" => n * 3_600_000,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// The cluster options the controller needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub dc_deadtime: Duration,
    pub election_timeout: Duration,
    pub join_integration_timeout: Duration,
    pub join_finalization_timeout: Duration,
    pub cluster_delay: Duration,
    /// Default fencing timeout (stonith-timeout, 60 s).
    pub stonith_timeout: Duration,
    pub cluster_recheck_interval: Duration,
    /// 0: no global limit (per-node limit applies).
    pub batch_limit: usize,
    /// Per-node limit of actions in flight (node-action-limit; 0 means
    /// 2 × cores, taken as 4 for the simulated 2-core nodes).
    pub node_action_limit: usize,
    pub start_failure_is_fatal: bool,
    /// stonith-max-attempts: failed fencing operations against one target
    /// after which a failure no longer starts a new transition (10).
    pub stonith_max_attempts: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dc_deadtime: Duration::from_secs(20),
            election_timeout: Duration::from_secs(120),
            join_integration_timeout: Duration::from_secs(180),
            join_finalization_timeout: Duration::from_secs(1800),
            cluster_delay: Duration::from_secs(60),
            stonith_timeout: Duration::from_secs(60),
            cluster_recheck_interval: Duration::from_secs(900),
            batch_limit: 0,
            node_action_limit: 4,
            start_failure_is_fatal: true,
            stonith_max_attempts: 10,
        }
    }
}

/// A cluster property's value (first set that has it).
pub fn property<'a>(cib: &'a Cib, name: &str) -> Option<&'a str> {
    cib.crm_config
        .iter()
        .filter(|s| s.kind == SetKind::ClusterProperty)
        .flat_map(|s| s.nvpairs.iter())
        .find(|nv| nv.name == name)
        .and_then(|nv| nv.value.as_deref())
}

impl Options {
    pub fn from_cib(cib: &Cib) -> Options {
        let mut o = Options::default();
        let dur = |name: &str, slot: &mut Duration| {
            if let Some(d) = property(cib, name).and_then(parse_duration) {
                *slot = d;
            }
        };
        dur("dc-deadtime", &mut o.dc_deadtime);
        dur("election-timeout", &mut o.election_timeout);
        dur("join-integration-timeout", &mut o.join_integration_timeout);
        dur(
            "join-finalization-timeout",
            &mut o.join_finalization_timeout,
        );
        dur("cluster-delay", &mut o.cluster_delay);
        dur("stonith-timeout", &mut o.stonith_timeout);
        dur("cluster-recheck-interval", &mut o.cluster_recheck_interval);
        if let Some(n) = property(cib, "batch-limit").and_then(|v| v.trim().parse().ok()) {
            o.batch_limit = n;
        }
        if let Some(n) = property(cib, "node-action-limit").and_then(|v| v.trim().parse().ok()) {
            if n > 0 {
                o.node_action_limit = n;
            }
        }
        if let Some(v) = property(cib, "stonith-max-attempts") {
            o.stonith_max_attempts = max_attempts(v);
        }
        if let Some(v) = property(cib, "start-failure-is-fatal") {
            o.start_failure_is_fatal =
                matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1");
        }
        o
    }
}

/// controld_fencing.c `update_stonith_max_attempts`: the value is read as
/// a score (INFINITY is 1000000, garbage 0) and anything below 1 means 10.
fn max_attempts(value: &str) -> u32 {
    let v = value.trim();
    let score: i64 = match v.to_ascii_lowercase().trim_start_matches('+') {
        "infinity" => 1_000_000,
        "-infinity" => -1_000_000,
        t => t.parse::<i64>().unwrap_or(0).clamp(-1_000_000, 1_000_000),
    };
    if score < 1 {
        10
    } else {
        score as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_defaults() {
        assert_eq!(parse_duration("20s"), Some(Duration::from_secs(20)));
        assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("x"), None);
        let cib = Cib::from_xml(r#"<cib><configuration><crm_config><cluster_property_set id="o"><nvpair id="a" name="dc-deadtime" value="5s"/><nvpair id="b" name="batch-limit" value="3"/></cluster_property_set></crm_config><nodes/><resources/><constraints/></configuration><status/></cib>"#).unwrap();
        let o = Options::from_cib(&cib);
        assert_eq!(o.dc_deadtime, Duration::from_secs(5));
        assert_eq!(o.batch_limit, 3);
        assert_eq!(o.cluster_delay, Duration::from_secs(60));
        assert_eq!(o.stonith_max_attempts, 10);
    }

    #[test]
    fn stonith_max_attempts_reads_as_a_score_below_one_meaning_ten() {
        assert_eq!(max_attempts("3"), 3);
        assert_eq!(max_attempts("0"), 10);
        assert_eq!(max_attempts("-5"), 10);
        assert_eq!(max_attempts("junk"), 10);
        assert_eq!(max_attempts("INFINITY"), 1_000_000);
    }
}
