//! Promotable clones: promotion scores, choosing which instances are
//! promoted, and the promote/demote pseudo actions and orderings.

use std::collections::BTreeMap;

use hasim_cib::{Score, INFINITY};

use crate::colocation::{add, add_colocated_node_scores, apply_coloc_score, state};
use crate::graph::assigned_location;
use crate::instance_order::cmp_instance;
use crate::naming::strip_instance;
use crate::ws::*;

/// Keep promoted-role location constraints for promotion scoring.
pub fn remember_locations(ws: &mut WorkingSet, locs: &[crate::constraints::Location]) {
    for l in locs {
        if l.role_filter == Role::Promoted {
            ws.promoted_locations.push((l.rsc, l.scores.clone()));
        }
    }
}

fn is_allowed(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    ws.rscs[r].allowed.get(&n).is_some_and(|w| w.value() >= 0)
}

fn find_member(ws: &WorkingSet, instance: RscId, base: &str) -> Option<RscId> {
    ws.primitives_of(instance)
        .into_iter()
        .find(|&p| strip_instance(&ws.rscs[p].id) == base)
}

fn score_applies(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    let base = strip_instance(&ws.rscs[r].id).to_string();
    let clone = ws.uber_parent(r);
    let allowed = is_allowed(ws, r, n);
    if !ws.rscs[r].unique {
        let active = ws.rscs[clone]
            .children
            .iter()
            .filter_map(|&c| find_member(ws, c, &base))
            .find(|&m| ws.rscs[m].running_on.contains(&n));
        if active == Some(r) {
            return allowed;
        }
        if active.is_none() {
            let known = ws.rscs[clone]
                .children
                .iter()
                .filter_map(|&c| find_member(ws, c, &base))
                .any(|m| ws.rscs[m].known_on.contains(&n));
            if known {
                return allowed;
            }
        }
    }
    if ws.rscs[r].running_on.is_empty() && ws.rscs[r].known_on.is_empty() {
        return allowed;
    }
    if ws.rscs[r].known_on.contains(&n) || ws.rscs[r].running_on.contains(&n) {
        return allowed;
    }
    false
}

/// Promotion score of an instance on a node and whether it was defaulted.
fn promotion_score(ws: &WorkingSet, r: RscId, n: NodeId) -> (i32, bool) {
    if !ws.rscs[r].children.is_empty() {
        let mut score = 0;
        let mut default = true;
        for &c in &ws.rscs[r].children {
            let (s, d) = promotion_score(ws, c, n);
            if !d {
                default = false;
            }
            score += s;
        }
        return (score, default);
    }
    if !score_applies(ws, r, n) {
        return (0, true);
    }
    let name = ws.rscs[r]
        .clone_name
        .clone()
        .unwrap_or_else(|| ws.rscs[r].id.clone());
    let attrs = &ws.nodes[n].attrs;
    let mut value = attrs.get(&format!("master-{name}"));
    if value.is_none() && !ws.rscs[r].unique {
        let base = strip_instance(&ws.rscs[r].id);
        if base != ws.rscs[r].id {
            value = attrs.get(&format!("master-{base}"));
        }
    }
    match value {
        None => (0, true),
        Some(v) => (Score::parse_or_zero(v).value(), false),
    }
}

/// Before assignment: promotion scores raise node preference and instance
/// priority.
pub fn add_promotion_scores(ws: &mut WorkingSet, clone: RscId) {
    for child in ws.rscs[clone].children.clone() {
        let nodes: Vec<NodeId> = ws.rscs[child].allowed.keys().copied().collect();
        for n in nodes {
            if !ws.nodes[n].available() {
                continue;
            }
            let (score, _) = promotion_score(ws, child, n);
            if score > 0 {
                if let Some(w) = ws.rscs[child].allowed.get_mut(&n) {
                    *w += Score::from(score);
                }
            }
            if score > ws.rscs[child].priority {
                ws.rscs[child].priority = score;
            }
        }
    }
}

fn set_current_unpromoted(ws: &mut WorkingSet, r: RscId) {
    if ws.rscs[r].role == Role::Started {
        ws.rscs[r].role = Role::Unpromoted;
    }
    for c in ws.rscs[r].children.clone() {
        set_current_unpromoted(ws, c);
    }
}

fn set_next_unpromoted(ws: &mut WorkingSet, r: RscId) {
    let assigned = if ws.rscs[r].variant == Variant::Primitive {
        ws.rscs[r].assigned.is_some()
    } else {
        ws.primitives_of(r)
            .iter()
            .any(|&p| ws.rscs[p].assigned.is_some())
    };
    ws.rscs[r].next_role = if assigned {
        Role::Unpromoted
    } else {
        Role::Stopped
    };
    for c in ws.rscs[r].children.clone() {
        set_next_unpromoted(ws, c);
    }
}

fn set_next_promoted(ws: &mut WorkingSet, r: RscId) {
    if ws.rscs[r].next_role == Role::Unknown {
        ws.rscs[r].next_role = Role::Promoted;
    }
    for c in ws.rscs[r].children.clone() {
        set_next_promoted(ws, c);
    }
}

fn set_instance_priority(ws: &mut WorkingSet, clone: RscId, inst: RscId) {
    if state(ws, inst, true) == Role::Started {
        set_current_unpromoted(ws, inst);
    }
    let Some(chosen) = assigned_location(ws, inst) else {
        return;
    };
    let next = state(ws, inst, false);
    match next {
        Role::Started | Role::Unknown => {
            let (score, default) = promotion_score(ws, inst, chosen);
            ws.rscs[inst].priority = if default { -1 } else { score };
        }
        Role::Unpromoted | Role::Stopped => ws.rscs[inst].priority = -INFINITY,
        Role::Promoted => {}
    }
    for (r, scores) in ws.promoted_locations.clone() {
        if r != clone && r != inst {
            continue;
        }
        if let Some((_, w)) = scores.iter().find(|(n, _)| *n == chosen) {
            ws.rscs[inst].priority = add(ws.rscs[inst].priority, w.value());
        }
    }
    for c in ws.rscs[inst].this_with.clone() {
        let primary = ws.colocs[c].primary;
        apply_coloc_score(ws, inst, primary, c);
    }
    ws.rscs[inst].sort_index = ws.rscs[inst].priority;
    if next == Role::Promoted {
        ws.rscs[inst].sort_index = INFINITY;
    }
}

fn sort_instances(ws: &mut WorkingSet, clone: RscId) {
    ws.rscs[clone].merging = true;
    for c in ws.rscs[clone].children.clone() {
        if ws.rscs[c].sort_index < 0 {
            continue;
        }
        if let Some(n) = assigned_location(ws, c) {
            let si = ws.rscs[c].sort_index;
            let e = ws.rscs[clone].allowed.entry(n).or_insert(Score::ZERO);
            *e += Score::from(si);
        }
    }
    for c in ws.rscs[clone].this_with.clone() {
        if ws.colocs[c].dependent_role != Role::Promoted {
            continue;
        }
        let primary = ws.colocs[c].primary;
        let factor = ws.colocs[c].score as f64 / INFINITY as f64;
        let flags = if ws.colocs[c].score < INFINITY {
            crate::colocation::SELECT_ACTIVE
        } else {
            0
        };
        let attr = ws.colocs[c].node_attribute.clone();
        let mut nodes = Some(ws.rscs[clone].allowed.clone());
        add_colocated_node_scores(ws, primary, &mut nodes, attr.as_deref(), factor, flags);
        if let Some(n) = nodes {
            ws.rscs[clone].allowed = n;
        }
    }
    for c in ws.rscs[clone].with_this.clone() {
        if ws.colocs[c].primary_role != Role::Promoted {
            continue;
        }
        let dep = ws.colocs[c].dependent;
        if !(ws.colocs[c].influence || ws.rscs[ws.colocs[c].primary].running_on.is_empty()) {
            continue;
        }
        let factor = ws.colocs[c].score as f64 / INFINITY as f64;
        let attr = ws.colocs[c].node_attribute.clone();
        let mut nodes = Some(ws.rscs[clone].allowed.clone());
        add_colocated_node_scores(
            ws,
            dep,
            &mut nodes,
            attr.as_deref(),
            factor,
            crate::colocation::SELECT_ACTIVE | crate::colocation::SELECT_NONNEGATIVE,
        );
        if let Some(n) = nodes {
            ws.rscs[clone].allowed = n;
        }
    }
    for (r, missing) in ws.ticket_promotion_bans.clone() {
        if r == clone && missing {
            crate::graph::add_location(ws, clone, None, -INFINITY);
        }
    }
    for c in ws.rscs[clone].children.clone() {
        let chosen = assigned_location(ws, c);
        let unmanaged = ws.primitives_of(c).iter().any(|&p| !ws.rscs[p].managed);
        if unmanaged && state(ws, c, false) == Role::Promoted {
            ws.rscs[c].sort_index = INFINITY;
        } else if chosen.is_none() || ws.rscs[c].sort_index < 0 {
        } else if let Some(n) = chosen {
            ws.rscs[c].sort_index = ws.rscs[clone]
                .allowed
                .get(&n)
                .map(|w| w.value())
                .unwrap_or(0);
        }
    }
    let mut children = ws.rscs[clone].children.clone();
    let counts = BTreeMap::new();
    let colocated = crate::colocation::colocated_current_weights(ws, clone);
    children.sort_by(|&a, &b| {
        ws.rscs[b]
            .sort_index
            .cmp(&ws.rscs[a].sort_index)
            .then_with(|| state(ws, b, true).cmp(&state(ws, a, true)))
            .then_with(|| cmp_instance(ws, clone, a, b, &counts, &colocated))
    });
    ws.rscs[clone].children = children;
    ws.rscs[clone].merging = false;
}

fn node_to_be_promoted_on(
    ws: &WorkingSet,
    clone: RscId,
    r: RscId,
    counts: &BTreeMap<NodeId, usize>,
) -> Option<NodeId> {
    for &c in &ws.rscs[r].children {
        node_to_be_promoted_on(ws, clone, c, counts)?;
    }
    let node = assigned_location(ws, r)?;
    let managed = ws.primitives_of(r).iter().all(|&p| ws.rscs[p].managed);
    if !managed {
        if state(ws, r, true) != Role::Promoted {
            return None;
        }
    } else if ws.rscs[r].priority < 0 || !ws.nodes[node].available() {
        return None;
    }
    if !ws.rscs[clone].allowed.contains_key(&node) {
        return None;
    }
    if counts.get(&node).copied().unwrap_or(0) >= ws.rscs[clone].promoted_node_max && managed {
        return None;
    }
    Some(node)
}

/// After assignment: decide which instances are promoted.
pub fn set_instance_roles(ws: &mut WorkingSet, clone: RscId) {
    for c in ws.rscs[clone].children.clone() {
        set_instance_priority(ws, clone, c);
    }
    sort_instances(ws, clone);
    let mut counts: BTreeMap<NodeId, usize> = BTreeMap::new();
    let mut promoted = 0;
    let clone_managed = ws.rscs[clone].managed;
    for inst in ws.rscs[clone].children.clone() {
        let mut chosen = None;
        if ws.rscs[inst].sort_index < 0 {
        } else if promoted < ws.rscs[clone].promoted_max || !clone_managed {
            chosen = node_to_be_promoted_on(ws, clone, inst, &counts);
        }
        let Some(n) = chosen else {
            set_next_unpromoted(ws, inst);
            continue;
        };
        if ws.rscs[inst].role < Role::Promoted
            && !ws.options.have_quorum
            && ws.options.no_quorum_policy == NoQuorum::Freeze
        {
            set_next_unpromoted(ws, inst);
            continue;
        }
        *counts.entry(n).or_insert(0) += 1;
        set_next_promoted(ws, inst);
        promoted += 1;
    }
}
