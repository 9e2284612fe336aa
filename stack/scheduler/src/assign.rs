//! Assigning resources to nodes: node scores from locations, stickiness,
//! fail-count bans and colocations; best-node choice with Pacemaker's tie
//! breaks; groups (via their internal colocations) and clone instances.

use std::collections::BTreeMap;

use hasim_cib::{Score, INFINITY};

use crate::colocation::*;
use crate::failcount::fail_count;
use crate::graph::assigned_location;
use crate::instance_order::*;
use crate::node_choice::*;
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
    // Unmanaged (blocked) resources are banned too: Pacemaker's
    // check_failure_threshold does not look at is-managed.
    let rsc = &ws.rscs[r];
    if rsc.migration_threshold == 0 || rsc.failure_ignored || rsc.failcount_cleared.contains(&node)
    {
        return;
    }
    // A container's fail count includes those of the resources inside it.
    let fillers = crate::remote_node::fillers(ws, r);
    let fc = fail_count(ws, r, node, true)
        + fillers
            .iter()
            .map(|&f| fail_count(ws, f, node, true))
            .sum::<i32>();
    if fc <= 0 {
        return;
    }
    let ban = if !ws.rscs[r].unique {
        ws.uber_parent(r)
    } else {
        r
    };
    if ws.rscs[r].migration_threshold - fc <= 0 {
        crate::graph::add_location(ws, ban, Some(node), -INFINITY);
    }
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

fn assign_best_node(ws: &mut WorkingSet, r: RscId, prefer: Option<NodeId>) -> bool {
    let most_free = ban_insufficient_capacity(ws, r);
    let prefer = prefer.or(most_free);
    if !ws.rscs[r].provisional {
        return ws.rscs[r].assigned.is_some();
    }
    let chosen = choose_node(ws, r, prefer);
    finalize_assignment(ws, r, chosen.map(|c| c.0), false)
}

/// The node `assign_best_node` picks: the preferred node when it scores
/// at least as well as the best, else the best (or, tied with it, where
/// the resource runs). Reads the scores in place: cloning a map of every
/// node per resource was a large part of assigning clones over 1,000 nodes.
fn choose_node(ws: &WorkingSet, r: RscId, prefer: Option<NodeId>) -> Option<(NodeId, Score)> {
    let allowed = &ws.rscs[r].allowed;
    let current = ws.current_node(r);
    let best = best_node(ws, allowed, current);
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
                    // Among the nodes sorted right after the best one with
                    // the same weight, prefer where it runs: those are the
                    // available nodes with exactly that weight.
                    if run_ok
                        && run != b.0
                        && ws.nodes[run].available()
                        && allowed.get(&run) == Some(&b.1)
                    {
                        chosen = Some((run, b.1));
                    }
                }
            }
        }
    }
    chosen
}

// ---------------------------------------------------------------- clones

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
    let colocated = crate::colocation::colocated_current_weights(ws, r);
    children.sort_by(|&a, &b| cmp_instance(ws, r, a, b, &counts, &colocated));
    ws.rscs[r].children = children.clone();
    distribute_children(ws, r, &children);
    if ws.rscs[r].promotable {
        crate::promotable::set_instance_roles(ws, r);
    }
    ws.rscs[r].provisional = false;
    ws.rscs[r].allocating = false;
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

/// Add score changes, sorted by node, to a resource's and its
/// descendants' scores, each node's changes in their order. One walk of
/// each score map: an instance of a clone over 1,000 nodes gets about as
/// many changes.
fn update_scores_recursive(ws: &mut WorkingSet, r: RscId, updates: &[(NodeId, i32)]) {
    let mut pending = updates.iter().peekable();
    for (&n, w) in ws.rscs[r].allowed.iter_mut() {
        while pending.next_if(|(un, _)| *un < n).is_some() {}
        while let Some((_, score)) = pending.next_if(|(un, _)| *un == n) {
            *w += Score::from(*score);
        }
    }
    for i in 0..ws.rscs[r].children.len() {
        let c = ws.rscs[r].children[i];
        update_scores_recursive(ws, c, updates);
    }
}

fn can_run_instance(
    ws: &mut WorkingSet,
    clone: RscId,
    r: RscId,
    limit: usize,
    counts: &BTreeMap<NodeId, usize>,
) {
    // Walk the instance's and the clone's scores together (both sorted by
    // node) and collect the changes first.
    let orphan = ws.rscs[r].orphan;
    let mut updates: Vec<(NodeId, i32)> = Vec::new();
    {
        let mut top = ws.rscs[clone].allowed.iter().peekable();
        for &n in ws.rscs[r].allowed.keys() {
            while top.peek().is_some_and(|(&tn, _)| tn < n) {
                top.next();
            }
            let top_w = top.peek().filter(|(&tn, _)| tn == n).map(|(_, &w)| w);
            if ws.nodes[n].available() && !orphan {
                match top_w {
                    None => {}
                    Some(w) if w.value() < 0 => {
                        updates.push((n, w.value()));
                        // falls through to the -INFINITY ban below
                    }
                    Some(_) if top_allowed_count(counts, n) < limit => continue,
                    Some(_) => {}
                }
            }
            updates.push((n, -INFINITY));
        }
    }
    // Collected in the instance's node order, so already sorted.
    update_scores_recursive(ws, r, &updates);
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
    // The instance's own scores (not its members') are restored only when
    // a preferred node is not chosen.
    let backup = prefer.map(|_| ws.rscs[r].allowed.clone());
    let chosen = assign(ws, r, prefer);
    let chosen = if ws.rscs[r].variant == Variant::Group {
        assigned_location(ws, r)
    } else {
        chosen
    };
    if let (Some(c), Some(p)) = (chosen, prefer) {
        if c != p {
            if let Some(backup) = backup {
                ws.rscs[r].allowed = backup;
            }
            // pcmk__unassign_resource undoes a primitive's assignment only:
            // a group instance has none of its own, so it stays assigned
            // where its members went, and uncounted, which lets a later
            // instance take the same node (Pacemaker 2.1.5's behaviour,
            // scheduler-differences e09).
            if ws.rscs[r].variant != Variant::Group {
                unassign(ws, r);
            }
            return None;
        }
    }
    if let Some(c) = chosen {
        *counts.entry(c).or_insert(0) += 1;
    }
    chosen
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
            crate::graph::add_location(ws, ch, None, -INFINITY);
            // Assign to nothing.
            assign(ws, ch, None);
        } else if allocate_instance(ws, clone, ch, None, all, per_host, &mut counts).is_some() {
            allocated += 1;
        }
    }
}

// ---------------------------------------------------------- utilization

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
    // Of nodes with equal free capacity the first met wins, and Pacemaker
    // meets them in its allowed-node table's order (node ids inserted in
    // node order).
    let ids: Vec<&str> = nodes
        .iter()
        .map(|&(n, _)| ws.nodes[n].id.as_str())
        .collect();
    let in_table_order: Vec<(NodeId, Score)> = crate::glib_order::iteration_order(&ids)
        .into_iter()
        .map(|i| nodes[i])
        .collect();
    for &(n, w) in &in_table_order {
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
            crate::graph::add_location(ws, r, Some(n), -INFINITY);
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
        crate::graph::find_active_on(ws, r).0
    } else {
        ws.rscs[r].running_on.first().copied()
    }
}

/// Shutdown locks (Pacemaker's apply_shutdown_locks): a primitive active
/// only on a cleanly shutting-down node, or locked there by its history and
/// not active anywhere, is banned from every other node. Fence devices and
/// remote connections are never locked.
pub fn apply_shutdown_locks(ws: &mut WorkingSet) {
    if !ws.options.shutdown_lock {
        return;
    }
    for r in 0..ws.rscs.len() {
        if ws.rscs[r].variant != Variant::Primitive
            || ws.rscs[r].class.eq_ignore_ascii_case("stonith")
            || ws.rscs[r].class.is_empty()
            || crate::remote_node::is_connection(ws, r)
            || crate::remote_node::generated_by_bundle(ws, r)
            || ws.uber_parent(r) != r && ws.rscs[ws.uber_parent(r)].variant == Variant::Clone
        {
            continue;
        }
        if ws.rscs[r].lock_node.is_some() {
            if !ws.rscs[r].running_on.is_empty() {
                ws.rscs[r].lock_node = None;
            }
        } else if let [n] = ws.rscs[r].running_on[..] {
            if ws.nodes[n].shutdown && !ws.nodes[n].unclean {
                ws.rscs[r].lock_node = Some(n);
            }
        }
        let Some(lock) = ws.rscs[r].lock_node else {
            continue;
        };
        for n in 0..ws.nodes.len() {
            if n != lock {
                crate::graph::add_location(ws, r, Some(n), -INFINITY);
            }
        }
    }
}
