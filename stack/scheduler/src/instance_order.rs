//! The order in which clone instances are considered for assignment and
//! promotion (Pacemaker's instance comparison).

use std::collections::BTreeMap;

use crate::ws::*;

pub fn instance_active_on(ws: &WorkingSet, r: RscId) -> (Option<NodeId>, usize) {
    let mut nodes: Vec<NodeId> = Vec::new();
    for p in ws.primitives_of(r) {
        for &n in &ws.rscs[p].running_on {
            if !nodes.contains(&n) {
                nodes.push(n);
            }
        }
    }
    (
        ws.rscs[r]
            .running_on
            .first()
            .copied()
            .or(nodes.first().copied()),
        nodes.len(),
    )
}

pub fn did_fail(ws: &WorkingSet, r: RscId) -> bool {
    ws.rscs[r].failed || ws.rscs[r].children.iter().any(|&c| did_fail(ws, c))
}

fn instance_number(id: &str) -> i64 {
    id.rsplit(':')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn top_allowed_count(counts: &BTreeMap<NodeId, usize>, n: NodeId) -> usize {
    counts.get(&n).copied().unwrap_or(0)
}

/// `colocated`: each instance's current node's weight with the clone's
/// colocations applied (see colocation::colocated_current_weights);
/// instances missing from it use the node's own weight.
pub fn cmp_instance(
    ws: &WorkingSet,
    clone: RscId,
    a: RscId,
    b: RscId,
    counts: &BTreeMap<NodeId, usize>,
    colocated: &BTreeMap<RscId, hasim_cib::Score>,
) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let (mut n1, c1) = instance_active_on(ws, a);
    let (mut n2, c2) = instance_active_on(ws, b);
    if c1 > 0 && c2 > 0 && c1 != c2 {
        return c1.cmp(&c2);
    }
    let allowed = |r: RscId, n: &mut Option<NodeId>| -> bool {
        if let Some(x) = *n {
            match ws.rscs[r].allowed.get(&x) {
                Some(w) if w.value() >= 0 => true,
                _ => {
                    *n = None;
                    false
                }
            }
        } else {
            true
        }
    };
    let can1 = allowed(a, &mut n1);
    let can2 = allowed(b, &mut n2);
    if can1 != can2 {
        return if can1 { Less } else { Greater };
    }
    if ws.rscs[a].priority != ws.rscs[b].priority {
        return ws.rscs[b].priority.cmp(&ws.rscs[a].priority);
    }
    let (n1, n2) = match (n1, n2) {
        (None, None) => return Equal,
        (None, _) => return Greater,
        (_, None) => return Less,
        (Some(x), Some(y)) => (x, y),
    };
    let a1 = ws.nodes[n1].available();
    let a2 = ws.nodes[n2].available();
    if a1 != a2 {
        return if a1 { Less } else { Greater };
    }
    let t1 = ws.rscs[clone].allowed.contains_key(&n1);
    let t2 = ws.rscs[clone].allowed.contains_key(&n2);
    match (t1, t2) {
        (false, false) => return Equal,
        (false, true) => return Greater,
        (true, false) => return Less,
        _ => {}
    }
    let k1 = top_allowed_count(counts, n1);
    let k2 = top_allowed_count(counts, n2);
    if k1 != k2 {
        return k1.cmp(&k2);
    }
    let f1 = did_fail(ws, a);
    let f2 = did_fail(ws, b);
    if f1 != f2 {
        return if f2 { Less } else { Greater };
    }
    // Colocation tie-break: each current node's weight (-INFINITY for
    // offline nodes) with the clone's colocations applied on top.
    let w1 = colocated.get(&a).copied().unwrap_or(ws.nodes[n1].weight);
    let w2 = colocated.get(&b).copied().unwrap_or(ws.nodes[n2].weight);
    if w1 != w2 {
        return w2.cmp(&w1);
    }
    instance_number(&ws.rscs[a].id).cmp(&instance_number(&ws.rscs[b].id))
}
