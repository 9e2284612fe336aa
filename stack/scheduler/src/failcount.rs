//! Fail counts from transient node attributes (`fail-count-RSC#op_interval`
//! and `last-failure-...`), with failure-timeout expiry.

use crate::naming::strip_instance;
use crate::ws::{NodeId, RscId, WorkingSet};
use hasim_cib::Score;

fn matches(key: &str, prefix: &str, name: &str, unique: bool, legacy: bool) -> bool {
    let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    let Some(mut rest) = rest.strip_prefix(name) else {
        return false;
    };
    if !unique {
        if let Some(r) = rest.strip_prefix(':') {
            let digits = r.len() - r.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 {
                rest = &r[digits..];
            }
        }
    }
    if legacy {
        return rest.is_empty();
    }
    // "#<op>_<interval>"
    let Some(op) = rest.strip_prefix('#') else {
        return false;
    };
    match op.rfind('_') {
        Some(i) => i > 0 && i + 1 < op.len() && op[i + 1..].chars().all(|c| c.is_ascii_digit()),
        None => false,
    }
}

/// The fail count of `rsc` on `node` and the time of its last failure.
/// With `effective`, counts whose last failure is older than the
/// resource's failure-timeout are treated as zero.
pub fn fail_count_and_last(
    ws: &WorkingSet,
    rsc: RscId,
    node: NodeId,
    effective: bool,
) -> (i32, i64) {
    let r = &ws.rscs[rsc];
    let name = if r.unique {
        r.id.as_str()
    } else {
        strip_instance(&r.id)
    };
    let legacy = ws.legacy_failcounts();
    let mut count = Score::ZERO;
    let mut last: i64 = 0;
    for (k, v) in &ws.nodes[node].attrs {
        if matches(k, "fail-count", name, r.unique, legacy) {
            count += Score::parse_or_zero(v);
        } else if matches(k, "last-failure", name, r.unique, legacy) {
            if let Ok(t) = v.trim().parse::<i64>() {
                last = last.max(t);
            }
        }
    }
    let mut count = count.value();
    if effective
        && count > 0
        && last > 0
        && r.failure_timeout > 0
        && ws.options.now > last + r.failure_timeout
    {
        count = 0;
    }
    (count, last)
}

pub fn fail_count(ws: &WorkingSet, rsc: RscId, node: NodeId, effective: bool) -> i32 {
    fail_count_and_last(ws, rsc, node, effective).0
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn fail_count_names() {
        assert!(matches(
            "fail-count-rsc1#start_0",
            "fail-count",
            "rsc1",
            true,
            false
        ));
        assert!(!matches(
            "fail-count-rsc10#start_0",
            "fail-count",
            "rsc1",
            true,
            false
        ));
        assert!(matches(
            "fail-count-rsc1:2#monitor_10000",
            "fail-count",
            "rsc1",
            false,
            false
        ));
        assert!(matches("fail-count-rsc1", "fail-count", "rsc1", true, true));
        assert!(!matches(
            "fail-count-rsc1",
            "fail-count",
            "rsc1",
            true,
            false
        ));
    }
}
