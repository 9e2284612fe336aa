//! Assigning resources to nodes: node scores from locations, stickiness,
//! fail-count bans and colocations; best-node choice with Pacemaker's tie
//! breaks; groups (via their internal colocations) and clone instances.

use std::collections::BTreeMap;

use hasim_cib::{Score, INFINITY};

use crate::failcount::fail_count;
use crate::ws::*;

/// Apply stickiness of active resources to their current node.
pub fn apply_stickiness(ws: &mut WorkingSet, r: RscId) {
    if !ws.rscs[r].children.is_empty() {
        for c in ws.rscs[r].children.clone() {
            apply_stickiness(ws, c);
        }
        return;
    }
    let rsc = &ws.rscs[r];
    if !rsc.managed || rsc.stickiness < 1 || rsc.running_on.len() != 1 {
        return;
    }
    let node = rsc.running_on[0];
    if !ws.options.symmetric && !ws.rscs[r].allowed.contains_key(&node) {
        return;
    }
    let s = Score::from(ws.rscs[r].stickiness);
    *ws.rscs[r].allowed.entry(node).or_insert(Score::ZERO) += s;
}

/// Ban resources from nodes where they reached migration-threshold.
pub fn check_failure_threshold(ws: &mut WorkingSet, r: RscId, node: NodeId) {
    if !ws.rscs[r].children.is_empty() {
        for c in ws.rscs[r].children.clone() {
            check_failure_threshold(ws, c, node);
        }
        return;
    }
    if !ws.rscs[r].managed {
        return;
    }
    let rsc = &ws.rscs[r];
    if rsc.migration_threshold == 0 || rsc.failure_ignored {
        return;
    }
    let fc = fail_count(ws, r, node, true);
    if fc <= 0 {
        return;
    }
    let ban = if !ws.rscs[r].unique {
        ws.uber_parent(r)
    } else {
        r
    };
    if ws.rscs[r].migration_threshold - fc <= 0 {
        crate::unpack::add_location(ws, ban, Some(node), -INFINITY);
    }
}

fn node_available(ws: &WorkingSet, n: NodeId, score: Option<Score>) -> bool {
    ws.nodes[n].available() && score.is_none_or(|s| s.value() >= 0)
}

fn any_node_available(ws: &WorkingSet, nodes: &BTreeMap<NodeId, Score>) -> bool {
    nodes.iter().any(|(&n, &s)| node_available(ws, n, Some(s)))
}

/// Sort candidate nodes: weight, then fewer assigned resources, then the
/// currently active node, then name.
fn sorted_nodes(
    ws: &WorkingSet,
    nodes: &BTreeMap<NodeId, Score>,
    active: Option<NodeId>,
) -> Vec<(NodeId, Score)> {
    use std::cmp::Ordering;
    let strategy = ws.options.placement_strategy.to_ascii_lowercase();
    let mut v: Vec<(NodeId, Score)> = nodes.iter().map(|(&n, &s)| (n, s)).collect();
    v.sort_by(|&(a, wa), &(b, wb)| {
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
        if strategy != "minimal" {
            if strategy == "balanced" {
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
        ws.nodes[a].name.cmp(&ws.nodes[b].name)
    });
    v
}

/// Assign any resource; returns its node when assigned to a single node.
pub fn assign(ws: &mut WorkingSet, r: RscId, prefer: Option<NodeId>) -> Option<NodeId> {
    match ws.rscs[r].variant {
        Variant::Primitive => assign_primitive(ws, r, prefer),
        Variant::Group => assign_group(ws, r, prefer),
        Variant::Clone => {
            assign_clone(ws, r, prefer);
            None
        }
    }
}

fn assign_group(ws: &mut WorkingSet, r: RscId, prefer: Option<NodeId>) -> Option<NodeId> {
    if !ws.rscs[r].provisional {
        return ws.rscs[r].assigned;
    }
    if ws.rscs[r].allocating {
        return None;
    }
    let children = ws.rscs[r].children.clone();
    if children.is_empty() {
        ws.rscs[r].provisional = false;
        return None;
    }
    ws.rscs[r].allocating = true;
    ws.rscs[r].role = ws.rscs[children[0]].role;
    expand_group_colocations(ws, r);
    let mut first = None;
    for &c in &children {
        let n = assign(ws, c, prefer);
        if first.is_none() {
            first = n;
        }
    }
    ws.rscs[r].next_role = ws.rscs[children[0]].next_role;
    ws.rscs[r].allocating = false;
    ws.rscs[r].provisional = false;
    if !ws.rscs[r].group_colocated {
        return None;
    }
    ws.rscs[r].assigned = first;
    first
}

/// Move a group's own colocations to its members (first member as
/// dependent, last member as primary).
fn expand_group_colocations(ws: &mut WorkingSet, g: RscId) {
    let children = ws.rscs[g].children.clone();
    let first = children[0];
    let this_with = std::mem::take(&mut ws.rscs[g].this_with);
    for &c in &this_with {
        add_this_with(ws, first, c);
    }
    let mut any_unmanaged = !ws.rscs[first].managed;
    for &m in &children[1..] {
        if any_unmanaged {
            for &c in &this_with {
                if ws.colocs[c].score >= INFINITY {
                    add_this_with(ws, m, c);
                }
            }
        } else if !ws.rscs[m].managed {
            any_unmanaged = true;
        }
    }
    let last = *children.last().unwrap_or(&first);
    let with_this = std::mem::take(&mut ws.rscs[g].with_this);
    for &c in &with_this {
        add_with_this(ws, last, c);
    }
}

fn coloc_key(
    ws: &WorkingSet,
    other: RscId,
) -> (
    std::cmp::Reverse<i32>,
    std::cmp::Reverse<Variant>,
    std::cmp::Reverse<bool>,
    String,
) {
    let r = &ws.rscs[other];
    (
        std::cmp::Reverse(r.priority),
        std::cmp::Reverse(r.variant),
        std::cmp::Reverse(r.promotable && r.variant == Variant::Clone),
        r.id.clone(),
    )
}

pub fn add_this_with(ws: &mut WorkingSet, r: RscId, c: ColocId) {
    let k = coloc_key(ws, ws.colocs[c].primary);
    let list = ws.rscs[r].this_with.clone();
    let pos = list
        .iter()
        .position(|&x| coloc_key(ws, ws.colocs[x].primary) > k)
        .unwrap_or(list.len());
    ws.rscs[r].this_with.insert(pos, c);
}

pub fn add_with_this(ws: &mut WorkingSet, r: RscId, c: ColocId) {
    let k = coloc_key(ws, ws.colocs[c].dependent);
    let list = ws.rscs[r].with_this.clone();
    let pos = list
        .iter()
        .position(|&x| coloc_key(ws, ws.colocs[x].dependent) > k)
        .unwrap_or(list.len());
    ws.rscs[r].with_this.insert(pos, c);
}

fn has_influence(ws: &WorkingSet, c: ColocId, rsc: Option<RscId>) -> bool {
    let rsc = rsc.unwrap_or(ws.colocs[c].primary);
    ws.colocs[c].influence || ws.rscs[rsc].running_on.is_empty()
}

fn assign_primitive(ws: &mut WorkingSet, r: RscId, prefer: Option<NodeId>) -> Option<NodeId> {
    if let Some(p) = ws.rscs[r].parent {
        if !ws.rscs[p].allocating {
            assign(ws, p, prefer);
        }
    }
    if !ws.rscs[r].provisional {
        return ws.rscs[r].assigned;
    }
    if ws.rscs[r].allocating {
        return None;
    }
    ws.rscs[r].allocating = true;
    for c in ws.rscs[r].this_with.clone() {
        apply_this_with(ws, r, c);
    }
    for c in ws.rscs[r].with_this.clone() {
        apply_with_this(ws, r, c);
    }
    if ws.rscs[r].next_role == Role::Stopped {
        for n in 0..ws.nodes.len() {
            let e = ws.rscs[r].allowed.entry(n).or_insert(Score::ZERO);
            *e += Score::NEG_INFINITY;
        }
    } else if ws.rscs[r].next_role > ws.rscs[r].role
        && !ws.options.have_quorum
        && ws.options.no_quorum_policy == NoQuorum::Freeze
    {
        ws.rscs[r].next_role = ws.rscs[r].role;
    }
    if ws.options.stonith_enabled && !ws.options.have_stonith_resource {
        ws.rscs[r].managed = false;
    }
    if !ws.rscs[r].managed {
        ws.rscs[r].next_role = ws.rscs[r].role;
        let cur = ws.current_node(r);
        finalize_assignment(ws, r, cur, true);
    } else if ws.options.stop_all_resources {
        finalize_assignment(ws, r, None, true);
    } else if ws.rscs[r].provisional {
        assign_best_node(ws, r, prefer);
    }
    ws.rscs[r].allocating = false;
    ws.rscs[r].assigned
}

fn apply_this_with(ws: &mut WorkingSet, r: RscId, c: ColocId) {
    let other = ws.colocs[c].primary;
    let score = ws.colocs[c].score;
    let archive =
        if ws.colocs[c].dependent_role >= Role::Promoted || (score < 0 && score > -INFINITY) {
            Some(ws.rscs[r].allowed.clone())
        } else {
            None
        };
    assign(ws, other, None);
    apply_coloc_score(ws, r, other, c);
    if let Some(a) = archive {
        if !any_node_available(ws, &ws.rscs[r].allowed.clone()) {
            ws.rscs[r].allowed = a;
        }
    }
}

fn apply_with_this(ws: &mut WorkingSet, r: RscId, c: ColocId) {
    if !has_influence(ws, c, None) {
        return;
    }
    let other = ws.colocs[c].dependent;
    let factor = ws.colocs[c].score as f64 / INFINITY as f64;
    let attr = ws.colocs[c].node_attribute.clone();
    let mut nodes = Some(ws.rscs[r].allowed.clone());
    add_colocated_node_scores(
        ws,
        other,
        &mut nodes,
        attr.as_deref(),
        factor,
        SELECT_ACTIVE,
    );
    if let Some(n) = nodes {
        ws.rscs[r].allowed = n;
    }
}

pub const SELECT_ACTIVE: u32 = 1;
pub const SELECT_NONNEGATIVE: u32 = 2;
pub const SELECT_THIS_WITH: u32 = 4;
const INFINITY_HACK: i32 = INFINITY * -100;

fn node_attr<'a>(ws: &'a WorkingSet, n: NodeId, attr: Option<&str>) -> Option<&'a str> {
    match attr {
        None | Some("#uname") => Some(ws.nodes[n].name.as_str()),
        Some(a) => ws.nodes[n].attrs.get(a).map(String::as_str),
    }
}

fn best_score_matching(
    ws: &WorkingSet,
    rsc: RscId,
    attr: Option<&str>,
    value: Option<&str>,
) -> i32 {
    let mut best = -INFINITY;
    for (&n, &s) in &ws.rscs[rsc].allowed {
        if s.value() > best && ws.nodes[n].available() {
            let v = node_attr(ws, n, attr);
            if v.is_some()
                && value.is_some()
                && v.map(str::to_ascii_lowercase) == value.map(str::to_ascii_lowercase)
            {
                best = s.value();
            }
        }
    }
    best
}

fn add_scores(a: i32, b: i32) -> i32 {
    (Score::from(a) + Score::from(b)).value()
}

fn add_node_scores_matching_attr(
    ws: &WorkingSet,
    nodes: &mut BTreeMap<NodeId, i32>,
    rsc: RscId,
    attr: Option<&str>,
    factor: f64,
    only_positive: bool,
) {
    let keys: Vec<NodeId> = nodes.keys().copied().collect();
    for n in keys {
        let weight_now = nodes[&n];
        let value = node_attr(ws, n, attr).map(str::to_string);
        let score = best_score_matching(ws, rsc, attr, value.as_deref());
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
            nodes.insert(n, INFINITY_HACK);
            continue;
        }
        if only_positive && new_score < 0 && weight_now == 0 {
            continue;
        }
        nodes.insert(n, new_score);
    }
}

fn last_member(ws: &WorkingSet, g: RscId) -> RscId {
    *ws.rscs[g].children.last().unwrap_or(&g)
}

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
    if ws.rscs[rsc].merging {
        return;
    }
    ws.rscs[rsc].merging = true;
    let work: Option<BTreeMap<NodeId, i32>> = if ws.rscs[rsc].variant == Variant::Group {
        if ws.rscs[rsc].children.is_empty() {
            None
        } else {
            let member = if nodes.is_none() {
                last_member(ws, rsc)
            } else {
                ws.rscs[rsc].children[0]
            };
            let mut w = nodes.clone();
            add_colocated_node_scores(ws, member, &mut w, attr, factor, flags);
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
        let mut w: BTreeMap<NodeId, i32> = nodes
            .as_ref()
            .map(|m| m.iter().map(|(&k, &v)| (k, v.value())).collect())
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
        return;
    };
    let avail = work
        .iter()
        .any(|(&n, &s)| ws.nodes[n].available() && s >= 0);
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
            let mut w2: Option<BTreeMap<NodeId, Score>> = Some(
                work.iter()
                    .map(|(&k, &v)| (k, Score::new(v as i64)))
                    .collect(),
            );
            // Keep INFINITY_HACK markers (outside Score's range) intact.
            let hacks: Vec<NodeId> = work
                .iter()
                .filter(|(_, &v)| v == INFINITY_HACK)
                .map(|(&k, _)| k)
                .collect();
            add_colocated_node_scores(ws, other, &mut w2, a.as_deref(), f, flags | SELECT_ACTIVE);
            if let Some(m) = w2 {
                work = m.into_iter().map(|(k, v)| (k, v.value())).collect();
                for h in hacks {
                    if work.get(&h).is_some_and(|v| *v <= -INFINITY) {
                        work.insert(h, INFINITY_HACK);
                    }
                }
            }
        }
    } else if flags & SELECT_ACTIVE != 0 {
        ws.rscs[rsc].merging = false;
        return;
    }
    if flags & SELECT_NONNEGATIVE != 0 {
        for v in work.values_mut() {
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
}

/// What a colocation affects right now.
#[derive(PartialEq, Eq)]
enum Affects {
    Nothing,
    Location,
    Role,
}

fn colocation_affects(
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

/// Where a resource was assigned (for clones/groups, their location).
pub fn assigned_location(ws: &WorkingSet, r: RscId) -> Option<NodeId> {
    match ws.rscs[r].variant {
        Variant::Primitive => ws.rscs[r].assigned,
        Variant::Group => ws.rscs[r].assigned.or_else(|| {
            ws.rscs[r]
                .children
                .first()
                .and_then(|&c| ws.rscs[c].assigned)
        }),
        Variant::Clone => None,
    }
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
    let value = pri_node.and_then(|n| node_attr(ws, n, attr.as_deref()).map(str::to_string));
    if pri_node.is_none() && col.score < 0 {
        return;
    }
    let mut work = ws.rscs[dep].allowed.clone();
    for (&n, w) in work.iter_mut() {
        if pri_node.is_none() {
            *w = Score::from(-col.score) + *w;
        } else if node_attr(ws, n, attr.as_deref()).map(str::to_ascii_lowercase)
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
    let dv = node_attr(ws, dn, attr.as_deref()).map(str::to_ascii_lowercase);
    let pv = node_attr(ws, pn, attr.as_deref()).map(str::to_ascii_lowercase);
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
            crate::promotable::update_dependent_with_promotable(ws, pri, dep, c);
            return;
        } else if col.dependent_role == Role::Promoted {
            crate::promotable::update_promotable_dependent_priority(ws, pri, dep, c);
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
                && (role == Role::Unknown || crate::promotable::next_state(ws, ch) == role)
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

fn assign_best_node(ws: &mut WorkingSet, r: RscId, prefer: Option<NodeId>) -> bool {
    let most_free = ban_insufficient_capacity(ws, r);
    let prefer = prefer.or(most_free);
    if !ws.rscs[r].provisional {
        return ws.rscs[r].assigned.is_some();
    }
    let allowed = ws.rscs[r].allowed.clone();
    let current = ws.current_node(r);
    let nodes = sorted_nodes(ws, &allowed, current);
    let best = nodes.first().copied();
    let mut chosen: Option<(NodeId, Score)> = None;
    if let (Some(p), Some(b)) = (prefer, best) {
        if let Some(&w) = allowed.get(&p) {
            if w >= b.1 && node_available(ws, p, Some(w)) {
                chosen = Some((p, w));
            }
        }
    }
    if chosen.is_none() {
        if let Some(b) = best {
            chosen = Some(b);
            let parent_unique_clone = ws.rscs[r]
                .parent
                .is_some_and(|p| ws.rscs[p].variant == Variant::Clone && ws.rscs[p].unique);
            if !parent_unique_clone && b.1.value() > 0 && ws.nodes[b.0].available() {
                if let Some(run) = current {
                    let run_ok = allowed
                        .get(&run)
                        .is_some_and(|&w| node_available(ws, run, Some(w)));
                    if run_ok {
                        for &(n, w) in &nodes[1..] {
                            if w != b.1 {
                                break;
                            }
                            if n == run {
                                chosen = Some((n, w));
                            }
                        }
                    }
                }
            }
        }
    }
    finalize_assignment(ws, r, chosen.map(|c| c.0), false)
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
            if w.value() < 0 || !node_available(ws, n, Some(w)) {
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

// ---------------------------------------------------------------- clones

fn top_allowed_count(counts: &BTreeMap<NodeId, usize>, n: NodeId) -> usize {
    counts.get(&n).copied().unwrap_or(0)
}

fn assign_clone(ws: &mut WorkingSet, r: RscId, prefer: Option<NodeId>) {
    if !ws.rscs[r].provisional || ws.rscs[r].allocating {
        return;
    }
    if ws.rscs[r].promotable {
        crate::promotable::add_promotion_scores(ws, r);
    }
    ws.rscs[r].allocating = true;
    for c in ws.rscs[r].this_with.clone() {
        let p = ws.colocs[c].primary;
        assign(ws, p, prefer);
    }
    for c in ws.rscs[r].with_this.clone() {
        if has_influence(ws, c, None) {
            let dep = ws.colocs[c].dependent;
            let attr = ws.colocs[c].node_attribute.clone();
            let factor = ws.colocs[c].score as f64 / INFINITY as f64;
            let mut nodes = Some(ws.rscs[r].allowed.clone());
            add_colocated_node_scores(
                ws,
                dep,
                &mut nodes,
                attr.as_deref(),
                factor,
                SELECT_ACTIVE | SELECT_NONNEGATIVE,
            );
            if let Some(n) = nodes {
                ws.rscs[r].allowed = n;
            }
        }
    }
    // Instance order.
    let mut children = ws.rscs[r].children.clone();
    let counts: BTreeMap<NodeId, usize> = BTreeMap::new();
    children.sort_by(|&a, &b| cmp_instance(ws, r, a, b, &counts));
    ws.rscs[r].children = children.clone();
    distribute_children(ws, r, &children);
    if ws.rscs[r].promotable {
        crate::promotable::set_instance_roles(ws, r);
    }
    ws.rscs[r].provisional = false;
    ws.rscs[r].allocating = false;
}

fn instance_active_on(ws: &WorkingSet, r: RscId) -> (Option<NodeId>, usize) {
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

fn did_fail(ws: &WorkingSet, r: RscId) -> bool {
    ws.rscs[r].failed || ws.rscs[r].children.iter().any(|&c| did_fail(ws, c))
}

fn instance_number(id: &str) -> i64 {
    id.rsplit(':')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn cmp_instance(
    ws: &WorkingSet,
    clone: RscId,
    a: RscId,
    b: RscId,
    counts: &BTreeMap<NodeId, usize>,
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
    // Colocation tie-break: Pacemaker starts from a copy of each current
    // node, whose weight is -INFINITY for offline nodes (parental
    // colocations, which would be added on top, are not applied here).
    let w1 = ws.nodes[n1].weight;
    let w2 = ws.nodes[n2].weight;
    if w1 != w2 {
        return w2.cmp(&w1);
    }
    instance_number(&ws.rscs[a].id).cmp(&instance_number(&ws.rscs[b].id))
}

/// Append the clone's colocations to an instance before assigning it.
fn append_parent_colocation(ws: &mut WorkingSet, clone: RscId, child: RscId, all: bool) {
    for c in ws.rscs[clone].this_with.clone() {
        let s = ws.colocs[c].score;
        if (all || s < 0 || s == INFINITY) && !ws.rscs[child].this_with.contains(&c) {
            add_this_with(ws, child, c);
        }
    }
    for c in ws.rscs[clone].with_this.clone() {
        if !has_influence(ws, c, Some(child)) {
            continue;
        }
        if (all || ws.colocs[c].score < 0) && !ws.rscs[child].with_this.contains(&c) {
            add_with_this(ws, child, c);
        }
    }
}

fn update_score_recursive(ws: &mut WorkingSet, r: RscId, n: NodeId, score: i32) {
    if let Some(w) = ws.rscs[r].allowed.get_mut(&n) {
        *w += Score::from(score);
    }
    for c in ws.rscs[r].children.clone() {
        update_score_recursive(ws, c, n, score);
    }
}

fn can_run_instance(
    ws: &mut WorkingSet,
    clone: RscId,
    r: RscId,
    limit: usize,
    counts: &BTreeMap<NodeId, usize>,
) {
    let nodes: Vec<NodeId> = ws.rscs[r].allowed.keys().copied().collect();
    for n in nodes {
        let ok = ws.nodes[n].available() && !ws.rscs[r].orphan;
        let top = ws.rscs[clone].allowed.get(&n).copied();
        if ok {
            match top {
                None => {}
                Some(w) if w.value() < 0 => {
                    update_score_recursive(ws, r, n, w.value());
                    // falls through to the -INFINITY ban below
                }
                Some(_) if top_allowed_count(counts, n) < limit => continue,
                Some(_) => {}
            }
        }
        update_score_recursive(ws, r, n, -INFINITY);
    }
}

fn allocate_instance(
    ws: &mut WorkingSet,
    clone: RscId,
    r: RscId,
    prefer: Option<NodeId>,
    all: bool,
    limit: usize,
    counts: &mut BTreeMap<NodeId, usize>,
) -> Option<NodeId> {
    if !ws.rscs[r].provisional {
        return assigned_location(ws, r);
    }
    if ws.rscs[r].allocating {
        return None;
    }
    append_parent_colocation(ws, clone, r, all);
    if let Some(p) = prefer {
        match ws.rscs[r].allowed.get(&p) {
            Some(w) if w.value() >= 0 => {}
            _ => return None,
        }
    }
    can_run_instance(ws, clone, r, limit, counts);
    let backup = snapshot_allowed(ws, r);
    let chosen = assign(ws, r, prefer);
    let chosen = if ws.rscs[r].variant == Variant::Group {
        assigned_location(ws, r)
    } else {
        chosen
    };
    if let (Some(c), Some(p)) = (chosen, prefer) {
        if c != p {
            restore_allowed(ws, backup);
            unassign(ws, r);
            return None;
        }
    }
    if let Some(c) = chosen {
        *counts.entry(c).or_insert(0) += 1;
    }
    chosen
}

fn snapshot_allowed(ws: &WorkingSet, r: RscId) -> Vec<(RscId, BTreeMap<NodeId, Score>)> {
    let mut out = vec![(r, ws.rscs[r].allowed.clone())];
    for &c in &ws.rscs[r].children {
        out.extend(snapshot_allowed(ws, c));
    }
    out
}

fn restore_allowed(ws: &mut WorkingSet, snap: Vec<(RscId, BTreeMap<NodeId, Score>)>) {
    for (r, a) in snap {
        ws.rscs[r].allowed = a;
    }
}

fn unassign(ws: &mut WorkingSet, r: RscId) {
    if let Some(old) = ws.rscs[r].assigned.take() {
        ws.nodes[old].num_resources = ws.nodes[old].num_resources.saturating_sub(1);
        release_capacity(ws, old, r);
    }
    ws.rscs[r].provisional = true;
    for c in ws.rscs[r].children.clone() {
        unassign(ws, c);
    }
}

fn distribute_children(ws: &mut WorkingSet, clone: RscId, children: &[RscId]) {
    let max = ws.rscs[clone].clone_max;
    let per_host = ws.rscs[clone].clone_node_max;
    let mut counts: BTreeMap<NodeId, usize> = BTreeMap::new();
    let available = ws.rscs[clone]
        .allowed
        .keys()
        .filter(|&&n| ws.nodes[n].available())
        .count();
    let all = max < available;
    let loop_max = max.checked_div(available).unwrap_or(1).max(1);
    let mut allocated = 0;
    for &ch in children {
        if allocated >= max {
            break;
        }
        let (cur, cnt) = instance_active_on(ws, ch);
        if cnt == 0 || !ws.rscs[ch].provisional || did_fail(ws, ch) {
            continue;
        }
        let Some(cur) = cur else { continue };
        let top_w = ws.rscs[clone].allowed.get(&cur).copied();
        if !(ws.nodes[cur].available() && top_w.is_some_and(|w| w.value() >= 0)) {
            continue;
        }
        if top_w.is_some() && top_allowed_count(&counts, cur) >= loop_max {
            continue;
        }
        if allocate_instance(ws, clone, ch, Some(cur), all, per_host, &mut counts).is_some() {
            allocated += 1;
        }
    }
    for &ch in children {
        if !ws.rscs[ch].provisional {
            continue;
        }
        if allocated >= max {
            crate::unpack::add_location(ws, ch, None, -INFINITY);
            // Assign to nothing.
            assign(ws, ch, None);
        } else if allocate_instance(ws, clone, ch, None, all, per_host, &mut counts).is_some() {
            allocated += 1;
        }
    }
}

// ---------------------------------------------------------- utilization

fn consume_capacity(ws: &mut WorkingSet, n: NodeId, r: RscId) {
    for (k, v) in ws.rscs[r].utilization.clone() {
        let e = ws.nodes[n].capacity.entry(k).or_insert(0);
        *e -= v;
    }
}

fn release_capacity(ws: &mut WorkingSet, n: NodeId, r: RscId) {
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

fn have_enough(ws: &WorkingSet, n: NodeId, need: &BTreeMap<String, i32>) -> bool {
    need.iter()
        .all(|(k, &v)| v <= ws.nodes[n].capacity.get(k).copied().unwrap_or(0))
}

/// Resources that must end up on the same node as `r` (mandatory
/// colocations, both directions), including `r`.
fn colocated_resources(ws: &WorkingSet, r: RscId, orig: RscId, out: &mut Vec<RscId>) {
    if out.contains(&r) {
        return;
    }
    if ws.rscs[r].variant == Variant::Group
        && (ws.rscs[r].group_colocated || ws.rscs[r].parent.is_some_and(|p| ws.is_clone(p)))
    {
        for &m in &ws.rscs[r].children {
            colocated_resources(ws, m, orig, out);
        }
        if out.contains(&r) {
            return;
        }
    }
    out.push(r);
    for &c in &ws.rscs[r].this_with {
        let p = ws.colocs[c].primary;
        if p != orig
            && ws.colocs[c].score == INFINITY
            && colocation_affects(ws, r, p, c, true) == Affects::Location
        {
            colocated_resources(ws, p, orig, out);
        }
    }
    for &c in &ws.rscs[r].with_this {
        let d = ws.colocs[c].dependent;
        if d == orig || (ws.is_clone(r) && !ws.is_clone(d)) {
            continue;
        }
        if ws.colocs[c].score == INFINITY
            && colocation_affects(ws, d, r, c, true) == Affects::Location
        {
            colocated_resources(ws, d, orig, out);
        }
    }
}

fn add_utilization(ws: &WorkingSet, r: RscId, into: &mut BTreeMap<String, i32>) {
    match ws.rscs[r].variant {
        Variant::Primitive => {
            if ws.rscs[r].provisional {
                for (k, v) in &ws.rscs[r].utilization {
                    *into.entry(k.clone()).or_insert(0) += v;
                }
            }
        }
        Variant::Group => {
            for &m in &ws.rscs[r].children {
                add_utilization(ws, m, into);
            }
        }
        Variant::Clone => {
            if let Some(&c) = ws.rscs[r]
                .children
                .iter()
                .find(|&&c| ws.rscs[c].provisional)
            {
                add_utilization(ws, c, into);
            }
        }
    }
}

/// Ban nodes without enough capacity for a resource and its colocated
/// resources (placement strategies other than "default"); returns the
/// node with most free capacity when none has enough.
fn ban_insufficient_capacity(ws: &mut WorkingSet, r: RscId) -> Option<NodeId> {
    if ws
        .options
        .placement_strategy
        .eq_ignore_ascii_case("default")
    {
        return None;
    }
    let mut colocated = Vec::new();
    colocated_resources(ws, r, r, &mut colocated);
    if !colocated.contains(&r) {
        colocated.push(r);
    }
    let mut need = BTreeMap::new();
    for &c in &colocated {
        add_utilization(ws, c, &mut need);
    }
    let nodes: Vec<(NodeId, Score)> = ws.rscs[r].allowed.iter().map(|(&n, &w)| (n, w)).collect();
    let mut any = false;
    let mut most: Option<NodeId> = None;
    for &(n, w) in &nodes {
        if !node_available(ws, n, Some(w)) {
            continue;
        }
        if have_enough(ws, n, &need) {
            any = true;
        }
        if most.is_none_or(|m| compare_capacities(ws, n, m) < 0) {
            most = Some(n);
        }
    }
    let own = ws.rscs[r].utilization.clone();
    for &(n, w) in &nodes {
        if !node_available(ws, n, Some(w)) {
            continue;
        }
        let enough = if any {
            have_enough(ws, n, &need)
        } else {
            have_enough(ws, n, &own)
        };
        if !enough {
            crate::unpack::add_location(ws, r, Some(n), -INFINITY);
        }
    }
    if any {
        None
    } else {
        most
    }
}

/// Pacemaker's allocation order for non-default placement strategies:
/// priority, then score on the current node, then best score anywhere.
pub fn sort_resources_for_placement(ws: &mut WorkingSet) {
    let nodes_order: Vec<NodeId> = {
        let base: BTreeMap<NodeId, Score> = (0..ws.nodes.len())
            .map(|n| (n, ws.nodes[n].weight))
            .collect();
        sorted_nodes(ws, &base, None)
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    };
    let mut scores: BTreeMap<RscId, BTreeMap<NodeId, Score>> = BTreeMap::new();
    for r in ws.top.clone() {
        let mut nodes = None;
        add_colocated_node_scores(ws, r, &mut nodes, None, 1.0, SELECT_THIS_WITH);
        scores.insert(r, nodes.unwrap_or_default());
    }
    let weight = |r: RscId, n: Option<NodeId>| -> Score {
        n.and_then(|n| scores.get(&r).and_then(|m| m.get(&n).copied()))
            .unwrap_or(Score::NEG_INFINITY)
    };
    let mut top = ws.top.clone();
    top.sort_by(|&a, &b| {
        use std::cmp::Ordering::*;
        match ws.rscs[b].priority.cmp(&ws.rscs[a].priority) {
            Equal => {}
            o => return o,
        }
        let ca = if ws.rscs[a].running_on.is_empty() {
            None
        } else {
            current_of(ws, a)
        };
        let cb = if ws.rscs[b].running_on.is_empty() {
            None
        } else {
            current_of(ws, b)
        };
        match weight(b, cb).cmp(&weight(a, ca)) {
            Equal => {}
            o => return o,
        }
        for &n in &nodes_order {
            match weight(b, Some(n)).cmp(&weight(a, Some(n))) {
                Equal => {}
                o => return o,
            }
        }
        Equal
    });
    ws.top = top;
}

fn current_of(ws: &WorkingSet, r: RscId) -> Option<NodeId> {
    if ws.rscs[r].variant == Variant::Primitive {
        crate::actions::find_active_on(ws, r).0
    } else {
        ws.rscs[r].running_on.first().copied()
    }
}
