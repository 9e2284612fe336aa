//! Colocation scoring: applying a colocation to a dependent's node scores
//! or priority (including colocations with promotable clones by role) and
//! merging the node scores of colocated resources.

use std::borrow::Cow;
use std::collections::BTreeMap;

use hasim_cib::{Score, INFINITY};

use crate::graph::assigned_location;
use crate::node_choice::{any_node_available, finalize_assignment, sorted_nodes};
use crate::ws::*;

pub const SELECT_ACTIVE: u32 = 1;

pub const SELECT_NONNEGATIVE: u32 = 2;

pub const SELECT_THIS_WITH: u32 = 4;

const INFINITY_HACK: i32 = INFINITY * -100;

/// A node's value of a colocation's node attribute; `default` is the one
/// Pacemaker compares when the colocation names none (`#id` when applying a
/// colocation, `#uname` when weighing colocated resources' scores). Remote
/// nodes whose status was never read have neither, and two missing values
/// match (pcmk__str_eq).
fn node_attr<'a>(
    ws: &'a WorkingSet,
    n: NodeId,
    attr: Option<&str>,
    default: &str,
) -> Option<&'a str> {
    ws.nodes[n]
        .attrs
        .get(attr.unwrap_or(default))
        .map(String::as_str)
}

/// The best score `rsc` has on an available node, per value of the node
/// attribute (lower-cased; `None` for nodes without it): what
/// pcmk__add_colocated_node_scores looks up for each node it weighs. Only
/// scores above -INFINITY count.
fn best_scores_by_value<'a>(
    ws: &'a WorkingSet,
    rsc: RscId,
    attr: Option<&str>,
) -> BTreeMap<Option<Cow<'a, str>>, i32> {
    let mut best: BTreeMap<Option<Cow<'a, str>>, i32> = BTreeMap::new();
    for (&n, &s) in &ws.rscs[rsc].allowed {
        if s.value() > -INFINITY && ws.nodes[n].available() {
            let v = node_attr(ws, n, attr, "#uname").map(lowercase);
            let entry = best.entry(v).or_insert(s.value());
            *entry = (*entry).max(s.value());
        }
    }
    best
}

/// A value lower-cased (ASCII), copied only when it has upper-case
/// letters: node names and attribute values rarely do, and this runs per
/// node per colocated resource weighed.
fn lowercase(value: &str) -> Cow<'_, str> {
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(value.to_ascii_lowercase())
    } else {
        Cow::Borrowed(value)
    }
}

fn add_scores(a: i32, b: i32) -> i32 {
    (Score::from(a) + Score::from(b)).value()
}

fn add_node_scores_matching_attr(
    ws: &WorkingSet,
    nodes: &mut [(NodeId, i32)],
    rsc: RscId,
    attr: Option<&str>,
    factor: f64,
    only_positive: bool,
) {
    let best = best_scores_by_value(ws, rsc, attr);
    for (n, weight) in nodes.iter_mut() {
        let weight_now = *weight;
        let value = node_attr(ws, *n, attr, "#uname").map(lowercase);
        let score = best.get(&value).copied().unwrap_or(-INFINITY);
        if factor < 0.0 && score < 0 {
            continue;
        }
        if weight_now == INFINITY_HACK {
            continue;
        }
        let wf = factor * score as f64;
        let mut w = if wf < 0.0 {
            (wf - 0.5) as i32
        } else {
            (wf + 0.5) as i32
        };
        if w == 0 && score != 0 {
            if factor > 0.0 {
                w = 1;
            } else if factor < 0.0 {
                w = -1;
            }
        }
        let new_score = add_scores(w, weight_now);
        if only_positive && new_score < 0 && weight_now > 0 {
            *weight = INFINITY_HACK;
            continue;
        }
        if only_positive && new_score < 0 && weight_now == 0 {
            continue;
        }
        *weight = new_score;
    }
}

fn last_member(ws: &WorkingSet, g: RscId) -> RscId {
    *ws.rscs[g].children.last().unwrap_or(&g)
}

/// Node scores while colocated resources are weighed: (node, score) pairs
/// in node order. Every step keeps the nodes it was given, so sorted
/// vectors do what maps did, without building a map per step.
type NodeScores = Vec<(NodeId, Score)>;

/// Pacemaker's pcmk__add_colocated_node_scores: fold a resource's (and,
/// recursively, its colocated resources') preferences into `nodes`,
/// attenuated by `factor`. `nodes = None` means "start from rsc's own".
pub fn add_colocated_node_scores(
    ws: &mut WorkingSet,
    rsc: RscId,
    nodes: &mut Option<BTreeMap<NodeId, Score>>,
    attr: Option<&str>,
    factor: f64,
    flags: u32,
) {
    let mut table: Option<NodeScores> = nodes
        .as_ref()
        .map(|m| m.iter().map(|(&n, &s)| (n, s)).collect());
    if colocated_node_scores(ws, rsc, &mut table, attr, factor, flags) {
        *nodes = table.map(|t| t.into_iter().collect());
    }
}

/// `add_colocated_node_scores` on node score vectors; whether `nodes` was
/// replaced (it is left alone when `rsc` is already being weighed, or
/// when only active resources count and none of its nodes is available).
fn colocated_node_scores(
    ws: &mut WorkingSet,
    rsc: RscId,
    nodes: &mut Option<NodeScores>,
    attr: Option<&str>,
    factor: f64,
    flags: u32,
) -> bool {
    if ws.rscs[rsc].merging {
        return false;
    }
    ws.rscs[rsc].merging = true;
    let work: Option<Vec<(NodeId, i32)>> = if ws.rscs[rsc].variant == Variant::Group {
        if ws.rscs[rsc].children.is_empty() {
            None
        } else {
            let member = if nodes.is_none() {
                last_member(ws, rsc)
            } else {
                ws.rscs[rsc].children[0]
            };
            let mut w = nodes.clone();
            colocated_node_scores(ws, member, &mut w, attr, factor, flags);
            w.map(|m| m.into_iter().map(|(k, v)| (k, v.value())).collect())
        }
    } else if nodes.is_none() {
        Some(
            ws.rscs[rsc]
                .allowed
                .iter()
                .map(|(&k, &v)| (k, v.value()))
                .collect(),
        )
    } else {
        let mut w: Vec<(NodeId, i32)> = nodes
            .as_ref()
            .map(|m| m.iter().map(|&(k, v)| (k, v.value())).collect())
            .unwrap_or_default();
        add_node_scores_matching_attr(
            ws,
            &mut w,
            rsc,
            attr,
            factor,
            flags & SELECT_NONNEGATIVE != 0,
        );
        Some(w)
    };
    let Some(mut work) = work else {
        ws.rscs[rsc].merging = false;
        return false;
    };
    let avail = work.iter().any(|&(n, s)| ws.nodes[n].available() && s >= 0);
    if avail {
        let multiplier = if factor < 0.0 { -1.0 } else { 1.0 };
        let list: Vec<ColocId> = if flags & SELECT_THIS_WITH != 0 {
            ws.rscs[rsc].this_with.clone()
        } else if ws.rscs[rsc].variant == Variant::Group {
            let l = last_member(ws, rsc);
            ws.rscs[l].with_this.clone()
        } else {
            ws.rscs[rsc].with_this.clone()
        };
        for c in list {
            let other = if flags & SELECT_THIS_WITH != 0 {
                ws.colocs[c].primary
            } else if !has_influence(ws, c, None) {
                continue;
            } else {
                ws.colocs[c].dependent
            };
            let f = multiplier * ws.colocs[c].score as f64 / INFINITY as f64;
            let a = ws.colocs[c].node_attribute.clone();
            let mut w2: Option<NodeScores> = Some(
                work.iter()
                    .map(|&(k, v)| (k, Score::new(v as i64)))
                    .collect(),
            );
            // Keep INFINITY_HACK markers (outside Score's range) intact.
            let hacks: Vec<NodeId> = work
                .iter()
                .filter(|&&(_, v)| v == INFINITY_HACK)
                .map(|&(k, _)| k)
                .collect();
            colocated_node_scores(ws, other, &mut w2, a.as_deref(), f, flags | SELECT_ACTIVE);
            if let Some(m) = w2 {
                work = m.into_iter().map(|(k, v)| (k, v.value())).collect();
                for h in hacks {
                    if let Ok(i) = work.binary_search_by_key(&h, |&(k, _)| k) {
                        if work[i].1 <= -INFINITY {
                            work[i].1 = INFINITY_HACK;
                        }
                    }
                }
            }
        }
    } else if flags & SELECT_ACTIVE != 0 {
        ws.rscs[rsc].merging = false;
        return false;
    }
    if flags & SELECT_NONNEGATIVE != 0 {
        for (_, v) in work.iter_mut() {
            if *v == INFINITY_HACK {
                *v = 1;
            }
        }
    }
    *nodes = Some(
        work.into_iter()
            .map(|(k, v)| (k, Score::new(v as i64)))
            .collect(),
    );
    ws.rscs[rsc].merging = false;
    true
}

/// What a colocation affects right now.
#[derive(PartialEq, Eq)]
pub enum Affects {
    Nothing,
    Location,
    Role,
}

pub fn colocation_affects(
    ws: &WorkingSet,
    dep: RscId,
    pri: RscId,
    c: ColocId,
    preview: bool,
) -> Affects {
    let col = &ws.colocs[c];
    if !preview && ws.rscs[pri].provisional {
        return Affects::Nothing;
    }
    if col.dependent_role >= Role::Unpromoted
        && ws.rscs[dep].parent.is_some_and(|p| ws.rscs[p].promotable)
        && !ws.rscs[dep].provisional
    {
        return Affects::Role;
    }
    if !preview && !ws.rscs[dep].provisional {
        return Affects::Nothing;
    }
    if col.score > 0
        && col.dependent_role != Role::Unknown
        && col.dependent_role != ws.rscs[dep].next_role
    {
        return Affects::Nothing;
    }
    if col.score > 0
        && col.primary_role != Role::Unknown
        && col.primary_role != ws.rscs[pri].next_role
    {
        return Affects::Nothing;
    }
    if col.score < 0
        && col.dependent_role != Role::Unknown
        && col.dependent_role == ws.rscs[dep].next_role
    {
        return Affects::Nothing;
    }
    if col.score < 0
        && col.primary_role != Role::Unknown
        && col.primary_role == ws.rscs[pri].next_role
    {
        return Affects::Nothing;
    }
    Affects::Location
}

/// Apply colocation `c` (dependent `dep` with primary `pri`) to `dep`'s scores.
pub fn apply_coloc_score(ws: &mut WorkingSet, dep: RscId, pri: RscId, c: ColocId) {
    match ws.rscs[dep].variant {
        Variant::Group => {
            let children = ws.rscs[dep].children.clone();
            if children.is_empty() {
                return;
            }
            if ws.rscs[dep].group_colocated {
                apply_coloc_score(ws, children[0], pri, c);
            } else if ws.colocs[c].score < INFINITY {
                for m in children {
                    apply_coloc_score(ws, m, pri, c);
                }
            }
            return;
        }
        Variant::Clone => {
            // Clone dependents apply via their instances.
            return;
        }
        Variant::Primitive => {}
    }
    match ws.rscs[pri].variant {
        Variant::Group => {
            if ws.rscs[pri].provisional {
                return;
            }
            let children = ws.rscs[pri].children.clone();
            if ws.rscs[pri].group_colocated {
                let member = if ws.colocs[c].score >= INFINITY {
                    children.last().copied()
                } else {
                    children.first().copied()
                };
                if let Some(m) = member {
                    apply_coloc_score(ws, dep, m, c);
                }
            } else if ws.colocs[c].score < INFINITY {
                for m in children {
                    apply_coloc_score(ws, dep, m, c);
                }
            }
        }
        Variant::Clone => apply_coloc_with_clone(ws, dep, pri, c),
        Variant::Primitive => match colocation_affects(ws, dep, pri, c, false) {
            Affects::Role => apply_coloc_to_priority(ws, dep, pri, c),
            Affects::Location => apply_coloc_to_weights(ws, dep, pri, c),
            Affects::Nothing => {}
        },
    }
}

fn apply_coloc_to_weights(ws: &mut WorkingSet, dep: RscId, pri: RscId, c: ColocId) {
    let col = ws.colocs[c].clone();
    let attr = col.node_attribute.clone();
    let pri_node = ws.rscs[pri].assigned;
    let value = pri_node.and_then(|n| node_attr(ws, n, attr.as_deref(), "#id").map(str::to_string));
    if pri_node.is_none() && col.score < 0 {
        return;
    }
    let mut work = ws.rscs[dep].allowed.clone();
    for (&n, w) in work.iter_mut() {
        if pri_node.is_none() {
            *w = Score::from(-col.score) + *w;
        } else if node_attr(ws, n, attr.as_deref(), "#id").map(str::to_ascii_lowercase)
            == value.as_deref().map(str::to_ascii_lowercase)
        {
            if col.score < INFINITY {
                *w = Score::from(col.score) + *w;
            }
        } else if col.score >= INFINITY {
            *w = Score::from(-col.score) + *w;
        }
    }
    if col.score <= -INFINITY || col.score >= INFINITY || any_node_available(ws, &work) {
        ws.rscs[dep].allowed = work;
    }
}

fn apply_coloc_to_priority(ws: &mut WorkingSet, dep: RscId, pri: RscId, c: ColocId) {
    let col = ws.colocs[c].clone();
    let (Some(pn), Some(dn)) = (ws.rscs[pri].assigned, ws.rscs[dep].assigned) else {
        return;
    };
    let attr = col.node_attribute.clone();
    let dv = node_attr(ws, dn, attr.as_deref(), "#id").map(str::to_ascii_lowercase);
    let pv = node_attr(ws, pn, attr.as_deref(), "#id").map(str::to_ascii_lowercase);
    if dv != pv {
        if col.score == INFINITY && col.dependent_role == Role::Promoted {
            ws.rscs[dep].priority = -INFINITY;
        }
        return;
    }
    if col.primary_role != Role::Unknown && col.primary_role != ws.rscs[pri].next_role {
        return;
    }
    let mult = if col.dependent_role == Role::Unpromoted {
        -1
    } else {
        1
    };
    ws.rscs[dep].priority = add_scores(mult * col.score, ws.rscs[dep].priority);
}

fn apply_coloc_with_clone(ws: &mut WorkingSet, dep: RscId, pri: RscId, c: ColocId) {
    let col = ws.colocs[c].clone();
    if ws.rscs[pri].promotable {
        if ws.rscs[pri].provisional {
            return;
        } else if col.primary_role == Role::Unknown {
        } else if ws.rscs[dep].provisional {
            crate::colocation::update_dependent_with_promotable(ws, pri, dep, c);
            return;
        } else if col.dependent_role == Role::Promoted {
            crate::colocation::update_promotable_dependent_priority(ws, pri, dep, c);
            return;
        }
    }
    if ws.rscs[pri].provisional {
        return;
    }
    let dep_top = ws.colocs[c].dependent;
    let interleave = ws.rscs[dep_top].variant == Variant::Clone
        && ws.rscs[dep_top]
            .meta
            .get("interleave")
            .is_some_and(|v| crate::rules::is_true(v));
    if interleave && ws.rscs[dep_top].clone_node_max == ws.rscs[pri].clone_node_max {
        match find_compatible_child(ws, dep, pri, Role::Unknown) {
            Some(inst) => apply_coloc_score(ws, dep, inst, c),
            None => {
                if col.score >= INFINITY {
                    finalize_assignment(ws, dep, None, true);
                }
            }
        }
        return;
    }
    if col.score >= INFINITY {
        let mut affected = Vec::new();
        for ch in ws.rscs[pri].children.clone() {
            if let Some(n) = assigned_location(ws, ch) {
                if !ws.primitives_of(ch).iter().all(|&p| ws.rscs[p].block) {
                    affected.push(n);
                }
            }
        }
        for (n, w) in ws.rscs[dep].allowed.iter_mut() {
            if !affected.contains(n) {
                *w = Score::NEG_INFINITY;
            }
        }
        return;
    }
    for ch in ws.rscs[pri].children.clone() {
        apply_coloc_score(ws, dep, ch, c);
    }
}

/// Find an instance of clone `pri` on the same node as `dep` (or, if `dep`
/// is not assigned yet, on its best allowed node that has one).
pub fn find_compatible_child(ws: &WorkingSet, dep: RscId, pri: RscId, role: Role) -> Option<RscId> {
    let by_node = |node: NodeId| {
        ws.rscs[pri].children.iter().copied().find(|&ch| {
            let blocked = ws.primitives_of(ch).iter().all(|&p| ws.rscs[p].block);
            !blocked
                && assigned_location(ws, ch) == Some(node)
                && (role == Role::Unknown || crate::colocation::next_state(ws, ch) == role)
        })
    };
    if let Some(node) = assigned_location(ws, dep) {
        return by_node(node);
    }
    let allowed = ws.rscs[dep].allowed.clone();
    for (n, _) in sorted_nodes(ws, &allowed, None) {
        if let Some(c) = by_node(n) {
            return Some(c);
        }
    }
    None
}

/// Next role of an instance (max over members).
pub fn next_state(ws: &WorkingSet, r: RscId) -> Role {
    state(ws, r, false)
}

/// Current (or next) role of an instance (max over members).
pub fn state(ws: &WorkingSet, r: RscId, current: bool) -> Role {
    if ws.rscs[r].variant == Variant::Primitive {
        return if current {
            ws.rscs[r].role
        } else {
            ws.rscs[r].next_role
        };
    }
    ws.rscs[r]
        .children
        .iter()
        .map(|&c| state(ws, c, current))
        .max()
        .unwrap_or(Role::Unknown)
}

/// A dependent of a promotable clone, colocated by role, before it is assigned.
pub fn update_dependent_with_promotable(
    ws: &mut WorkingSet,
    primary: RscId,
    dep: RscId,
    c: ColocId,
) {
    let col = ws.colocs[c].clone();
    let mut affected: Vec<(NodeId, i32)> = Vec::new();
    for inst in ws.rscs[primary].children.clone() {
        let Some(node) = assigned_location(ws, inst) else {
            continue;
        };
        if state(ws, inst, false) == col.primary_role {
            if col.score < INFINITY {
                let attr = col.node_attribute.clone();
                let pv = node_value(ws, node, attr.as_deref());
                let keys: Vec<NodeId> = ws.rscs[dep].allowed.keys().copied().collect();
                for k in keys {
                    if node_value(ws, k, attr.as_deref()) == pv {
                        if let Some(w) = ws.rscs[dep].allowed.get_mut(&k) {
                            *w += Score::from(col.score);
                        }
                    }
                }
            }
            let weight = inst_weight(ws, inst, node);
            affected.push((node, weight));
        }
    }
    if col.score >= INFINITY
        && (col.dependent_role != Role::Promoted || col.primary_role != Role::Promoted)
    {
        let keys: Vec<NodeId> = ws.rscs[dep].allowed.keys().copied().collect();
        for k in keys {
            let w = ws.rscs[dep].allowed[&k];
            let new = match affected.iter().find(|(n, _)| *n == k) {
                None => Score::NEG_INFINITY,
                Some((_, aw)) => w + Score::from(*aw),
            };
            ws.rscs[dep].allowed.insert(k, new);
        }
        for (n, _) in affected {
            ws.rscs[dep].allowed.entry(n).or_insert(Score::NEG_INFINITY);
        }
    }
}

/// The allocation weight an instance had on its chosen node.
fn inst_weight(ws: &WorkingSet, inst: RscId, node: NodeId) -> i32 {
    let prim = ws.primitives_of(inst).into_iter().next().unwrap_or(inst);
    ws.rscs[prim]
        .allowed
        .get(&node)
        .map(|w| w.value())
        .unwrap_or(0)
}

fn node_value(ws: &WorkingSet, n: NodeId, attr: Option<&str>) -> Option<String> {
    node_attr(ws, n, attr, "#uname").map(str::to_ascii_lowercase)
}

/// A promoted-role dependent of a promotable clone, after assignment.
pub fn update_promotable_dependent_priority(
    ws: &mut WorkingSet,
    primary: RscId,
    dep: RscId,
    c: ColocId,
) {
    let col = ws.colocs[c].clone();
    match find_compatible_child(ws, dep, primary, col.primary_role) {
        Some(_) => ws.rscs[dep].priority = add(ws.rscs[dep].priority, col.score),
        None => {
            if col.score >= INFINITY {
                ws.rscs[dep].priority = -INFINITY;
            }
        }
    }
}

/// For each instance of `clone` active somewhere: the weight of its current
/// node once the clone's colocations are applied to a table holding only
/// that node (Pacemaker's cmp_instance_by_colocation with
/// apply_parent_colocations), for ordering instances.
pub fn colocated_current_weights(ws: &mut WorkingSet, clone: RscId) -> BTreeMap<RscId, Score> {
    let mut out = BTreeMap::new();
    for inst in ws.rscs[clone].children.clone() {
        let (Some(n), _) = crate::instance_order::instance_active_on(ws, inst) else {
            continue;
        };
        let mut table: Option<NodeScores> = Some(vec![(n, ws.nodes[n].weight)]);
        for c in ws.rscs[clone].this_with.clone() {
            let primary = ws.colocs[c].primary;
            let attr = ws.colocs[c].node_attribute.clone();
            let factor = ws.colocs[c].score as f64 / INFINITY as f64;
            colocated_node_scores(ws, primary, &mut table, attr.as_deref(), factor, 0);
        }
        for c in ws.rscs[clone].with_this.clone() {
            if !has_influence(ws, c, Some(inst)) {
                continue;
            }
            let dep = ws.colocs[c].dependent;
            let attr = ws.colocs[c].node_attribute.clone();
            let factor = ws.colocs[c].score as f64 / INFINITY as f64;
            colocated_node_scores(
                ws,
                dep,
                &mut table,
                attr.as_deref(),
                factor,
                SELECT_NONNEGATIVE,
            );
        }
        if let Some((_, w)) = table.and_then(|t| t.into_iter().find(|&(k, _)| k == n)) {
            out.insert(inst, w);
        }
    }
    out
}

pub fn has_influence(ws: &WorkingSet, c: ColocId, rsc: Option<RscId>) -> bool {
    let rsc = rsc.unwrap_or(ws.colocs[c].primary);
    ws.colocs[c].influence || ws.rscs[rsc].running_on.is_empty()
}

pub fn add(a: i32, b: i32) -> i32 {
    (Score::from(a) + Score::from(b)).value()
}
