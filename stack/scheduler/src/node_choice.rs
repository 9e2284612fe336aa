//! Choosing among nodes: node availability, Pacemaker's node sort order
//! (score, capacity, load, current node, name) and recording an
//! assignment (with its utilization).

use std::collections::BTreeMap;

use hasim_cib::Score;

use crate::ws::*;

pub fn node_available(ws: &WorkingSet, n: NodeId, score: Option<Score>) -> bool {
    ws.nodes[n].available() && score.is_none_or(|s| s.value() >= 0)
}

pub fn any_node_available(ws: &WorkingSet, nodes: &BTreeMap<NodeId, Score>) -> bool {
    nodes.iter().any(|(&n, &s)| node_available(ws, n, Some(s)))
}

/// Sort candidate nodes: weight, then fewer assigned resources, then the
/// currently active node, then name.
/// Pacemaker's node comparison for placement: weight (unavailable nodes
/// count as -INFINITY), then unless placement-strategy is minimal the
/// capacities (balanced) and number of assigned resources, then the node
/// the resource is active on, then the name.
/// What the placement strategy adds to node comparison, decided once per
/// sort rather than per comparison.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tiebreaks {
    /// "minimal": weight, then name.
    None,
    /// "default" and "utilization": load and the active node too.
    Load,
    /// "balanced": free capacity first.
    Capacity,
}

impl Tiebreaks {
    fn of(ws: &WorkingSet) -> Tiebreaks {
        let strategy = &ws.options.placement_strategy;
        if strategy.eq_ignore_ascii_case("minimal") {
            Tiebreaks::None
        } else if strategy.eq_ignore_ascii_case("balanced") {
            Tiebreaks::Capacity
        } else {
            Tiebreaks::Load
        }
    }
}

fn cmp_nodes(
    ws: &WorkingSet,
    tiebreaks: Tiebreaks,
    active: Option<NodeId>,
    (a, wa): (NodeId, Score),
    (b, wb): (NodeId, Score),
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let wa = if ws.nodes[a].available() {
        wa
    } else {
        Score::NEG_INFINITY
    };
    let wb = if ws.nodes[b].available() {
        wb
    } else {
        Score::NEG_INFINITY
    };
    let by_weight = wb.cmp(&wa);
    if by_weight != Ordering::Equal {
        return by_weight;
    }
    // "minimal" skips the load-spreading tie-breaks entirely.
    if tiebreaks != Tiebreaks::None {
        if tiebreaks == Tiebreaks::Capacity {
            let cap = compare_capacities(ws, a, b);
            if cap != 0 {
                return cap.cmp(&0);
            }
        }
        let by_count = ws.nodes[a].num_resources.cmp(&ws.nodes[b].num_resources);
        if by_count != Ordering::Equal {
            return by_count;
        }
        match active {
            Some(x) if x == a => return Ordering::Less,
            Some(x) if x == b => return Ordering::Greater,
            _ => {}
        }
    }
    ws.cmp_node_names(a, b)
}

pub fn sorted_nodes(
    ws: &WorkingSet,
    nodes: &BTreeMap<NodeId, Score>,
    active: Option<NodeId>,
) -> Vec<(NodeId, Score)> {
    let tiebreaks = Tiebreaks::of(ws);
    let mut v: Vec<(NodeId, Score)> = nodes.iter().map(|(&n, &s)| (n, s)).collect();
    v.sort_by(|&x, &y| cmp_nodes(ws, tiebreaks, active, x, y));
    v
}

/// The first node `sorted_nodes` would return, without sorting them all.
pub fn best_node(
    ws: &WorkingSet,
    nodes: &BTreeMap<NodeId, Score>,
    active: Option<NodeId>,
) -> Option<(NodeId, Score)> {
    let tiebreaks = Tiebreaks::of(ws);
    nodes
        .iter()
        .map(|(&n, &s)| (n, s))
        .min_by(|&x, &y| cmp_nodes(ws, tiebreaks, active, x, y))
}

/// Commit (or refuse) an assignment.
pub fn finalize_assignment(
    ws: &mut WorkingSet,
    r: RscId,
    chosen: Option<NodeId>,
    force: bool,
) -> bool {
    let mut chosen = chosen;
    if !force {
        if let Some(n) = chosen {
            let w = ws.rscs[r]
                .allowed
                .get(&n)
                .copied()
                .unwrap_or(Score::NEG_INFINITY);
            // A guest node counts as available: Pacemaker lets the graph
            // assume its connection comes up (the start is then blocked
            // by the guest's unrunnable start).
            let guest = crate::remote_node::is_guest(ws, n);
            if w.value() < 0 || (!node_available(ws, n, Some(w)) && !guest) {
                ws.rscs[r].next_role = Role::Stopped;
                chosen = None;
            }
        }
    }
    if let Some(old) = ws.rscs[r].assigned.take() {
        ws.nodes[old].num_resources = ws.nodes[old].num_resources.saturating_sub(1);
        release_capacity(ws, old, r);
    }
    ws.rscs[r].provisional = false;
    match chosen {
        None => {
            ws.rscs[r].next_role = Role::Stopped;
            // Actions already created follow the failed assignment: stops
            // become required, starts and recurring actions unrunnable.
            for a in ws.rscs[r].actions.clone() {
                let act = &mut ws.actions[a];
                if act.task == "stop" {
                    act.flags &= !af::OPTIONAL;
                } else if act.task == "start" || act.interval_ms > 0 {
                    act.flags &= !af::RUNNABLE;
                }
            }
            false
        }
        Some(n) => {
            ws.rscs[r].assigned = Some(n);
            ws.nodes[n].num_resources += 1;
            consume_capacity(ws, n, r);
            true
        }
    }
}

pub fn consume_capacity(ws: &mut WorkingSet, n: NodeId, r: RscId) {
    for (k, v) in ws.rscs[r].utilization.clone() {
        let e = ws.nodes[n].capacity.entry(k).or_insert(0);
        *e -= v;
    }
}

pub fn release_capacity(ws: &mut WorkingSet, n: NodeId, r: RscId) {
    for (k, v) in ws.rscs[r].utilization.clone() {
        let e = ws.nodes[n].capacity.entry(k).or_insert(0);
        *e += v;
    }
}

/// Negative when node `a` has more remaining capacity than `b`.
pub fn compare_capacities(ws: &WorkingSet, a: NodeId, b: NodeId) -> i32 {
    let (ca, cb) = (&ws.nodes[a].capacity, &ws.nodes[b].capacity);
    let mut result = 0;
    for (k, &va) in ca {
        let vb = cb.get(k).copied().unwrap_or(0);
        if va > vb {
            result -= 1;
        } else if va < vb {
            result += 1;
        }
    }
    for (k, &vb) in cb {
        if ca.contains_key(k) {
            continue;
        }
        if 0 < vb {
            result += 1;
        } else if 0 > vb {
            result -= 1;
        }
    }
    result
}
