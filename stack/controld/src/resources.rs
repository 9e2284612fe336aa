//! What the controller needs to know about a configured primitive to run
//! its operations: agent, parameters, operation timeouts and recurring
//! monitors, and the id the executor knows it by.

use std::collections::BTreeMap;
use std::time::Duration;

use hasim_agents::metadata;
use hasim_cib::{Cib, OpDef, Resource, ResourceKind, SetKind};
use hasim_pcmk_proto::AgentRef;

use crate::options::parse_duration;

/// A primitive as the executor runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimitiveInfo {
    pub id: String,
    pub agent: AgentRef,
    pub params: BTreeMap<String, String>,
    pub ops: Vec<OpDef>,
    /// Inside a globally-unique clone (instances keep their ":N").
    pub unique_clone: bool,
}

fn meta_true(r: &Resource, name: &str) -> bool {
    r.sets
        .iter()
        .filter(|s| s.kind == SetKind::Meta)
        .flat_map(|s| s.nvpairs.iter())
        .any(|nv| nv.name == name && nv.value.as_deref() == Some("true"))
}

fn info(r: &Resource, unique_clone: bool) -> Option<PrimitiveInfo> {
    let ResourceKind::Primitive {
        class,
        provider,
        agent,
        ..
    } = &r.kind
    else {
        return None;
    };
    let mut params = BTreeMap::new();
    for set in r
        .sets
        .iter()
        .filter(|s| s.kind == SetKind::Instance && s.rule.is_none())
    {
        for nv in &set.nvpairs {
            if let Some(v) = &nv.value {
                params.entry(nv.name.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Some(PrimitiveInfo {
        id: r.id.clone(),
        agent: AgentRef {
            class: class.clone().unwrap_or_else(|| "ocf".into()),
            provider: provider.clone(),
            kind: agent.clone().unwrap_or_default(),
        },
        params,
        ops: r.ops.clone(),
        unique_clone,
    })
}

fn walk(r: &Resource, id: &str, unique_clone: bool) -> Option<PrimitiveInfo> {
    match &r.kind {
        ResourceKind::Primitive { .. } if r.id == id => info(r, unique_clone),
        ResourceKind::Group { children } => children.iter().find_map(|c| walk(c, id, unique_clone)),
        ResourceKind::Clone { child, .. } => walk(child, id, meta_true(r, "globally-unique")),
        _ => None,
    }
}

/// Strip a clone instance suffix (`p_haproxy:2` → `p_haproxy`).
pub fn strip_instance(id: &str) -> &str {
    match id.rsplit_once(':') {
        Some((base, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => base,
        _ => id,
    }
}

/// The primitive behind a scheduler resource id (clone instances included).
pub fn find_primitive(cib: &Cib, graph_id: &str) -> Option<PrimitiveInfo> {
    let base = strip_instance(graph_id);
    cib.resources.iter().find_map(|r| walk(r, base, false))
}

/// The id the executor and the status section use: anonymous clone
/// instances drop their instance number, as Pacemaker records them.
pub fn lrm_id(p: &PrimitiveInfo, graph_id: &str) -> String {
    if p.unique_clone {
        graph_id.to_string()
    } else {
        p.id.clone()
    }
}

fn op_interval(op: &OpDef) -> Duration {
    op.attr("interval")
        .and_then(parse_duration)
        .unwrap_or_default()
}

fn default_op_timeout(cib: &Cib) -> Option<Duration> {
    cib.op_defaults
        .iter()
        .flat_map(|s| s.nvpairs.iter())
        .find(|nv| nv.name == "timeout")
        .and_then(|nv| nv.value.as_deref())
        .and_then(parse_duration)
}

/// Timeout of `task` (interval 0): the op definition's, else op_defaults',
/// else the agent metadata's, else Pacemaker's 20 s.
pub fn op_timeout(cib: &Cib, p: &PrimitiveInfo, task: &str, interval: Duration) -> Duration {
    let own = p
        .ops
        .iter()
        .find(|o| o.name() == task && op_interval(o) == interval)
        .and_then(|o| o.attr("timeout"))
        .and_then(parse_duration);
    let meta = metadata(&p.agent).map(|m| match task {
        "start" => m.start,
        "stop" => m.stop,
        _ => m.monitor,
    });
    own.or_else(|| default_op_timeout(cib))
        .or(meta)
        .unwrap_or(Duration::from_secs(20))
}

/// Recurring monitors for a role: (interval, timeout, expected rc).
pub fn recurring_monitors(
    cib: &Cib,
    p: &PrimitiveInfo,
    promoted: bool,
) -> Vec<(Duration, Duration, i32)> {
    p.ops
        .iter()
        .filter(|o| o.name() == "monitor" && op_interval(o) > Duration::ZERO)
        .filter(|o| {
            let role_promoted = matches!(o.attr("role"), Some("Master" | "Promoted"));
            role_promoted == promoted
        })
        .map(|o| {
            let interval = op_interval(o);
            let timeout = o
                .attr("timeout")
                .and_then(parse_duration)
                .unwrap_or_else(|| op_timeout(cib, p, "monitor", interval));
            (interval, timeout, if promoted { 8 } else { 0 })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIB: &str = r#"<cib><configuration><crm_config/><nodes/><resources>
      <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
        <instance_attributes id="vip-i"><nvpair id="vip-ip" name="ip" value="10.0.0.9"/></instance_attributes>
        <operations><op id="vip-mon" name="monitor" interval="2" timeout="30"/><op id="vip-start" name="start" interval="0" timeout="40s"/></operations>
      </primitive>
      <clone id="c"><primitive id="hap" class="systemd" type="haproxy"/></clone>
      <master id="ms"><meta_attributes id="ms-m"><nvpair id="gu" name="globally-unique" value="true"/></meta_attributes>
        <primitive id="st" class="ocf" provider="pacemaker" type="Stateful"><operations>
          <op id="st-m1" name="monitor" interval="10s" role="Master"/><op id="st-m2" name="monitor" interval="11s"/></operations></primitive></master>
    </resources><constraints/></configuration><status/></cib>"#;

    #[test]
    fn primitives_timeouts_and_monitors() {
        let cib = Cib::from_xml(CIB).unwrap();
        let vip = find_primitive(&cib, "vip").unwrap();
        assert_eq!(vip.params["ip"], "10.0.0.9");
        assert_eq!(
            op_timeout(&cib, &vip, "start", Duration::ZERO),
            Duration::from_secs(40)
        );
        assert_eq!(
            op_timeout(&cib, &vip, "stop", Duration::ZERO),
            Duration::from_secs(20)
        );
        assert_eq!(
            recurring_monitors(&cib, &vip, false),
            vec![(Duration::from_secs(2), Duration::from_secs(30), 0)]
        );
        let hap = find_primitive(&cib, "hap:2").unwrap();
        assert_eq!(lrm_id(&hap, "hap:2"), "hap");
        assert_eq!(
            op_timeout(&cib, &hap, "start", Duration::ZERO),
            Duration::from_secs(100)
        );
        let st = find_primitive(&cib, "st:1").unwrap();
        assert_eq!(lrm_id(&st, "st:1"), "st:1");
        assert_eq!(recurring_monitors(&cib, &st, true)[0].2, 8);
        assert!(find_primitive(&cib, "nope").is_none());
    }
}
