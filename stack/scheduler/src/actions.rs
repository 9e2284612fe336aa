//! Creating actions (start/stop/promote/demote, group and clone pseudo
//! actions, fencing), ordering them, and propagating "required" and
//! "runnable" along orderings the way Pacemaker's update_action does,
//! including the human-readable reasons shown in the transition summary.

use crate::graph::*;
use crate::ws::*;

// ------------------------------------------------------- primitive actions

/// While restarting a multiply active resource with
/// multiple-active=stop_unexpected: the node it stays on.
fn is_expected_node(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    let rsc = &ws.rscs[r];
    rsc.stop_unexpected
        && rsc.restarting
        && rsc.next_role > Role::Stopped
        && rsc.assigned == Some(n)
}

fn stop_resource(ws: &mut WorkingSet, r: RscId, optional: bool) {
    for n in ws.rscs[r].running_on.clone() {
        if is_expected_node(ws, r, n) {
            continue;
        }
        let mut optional = optional;
        if let Some((_, target)) = ws.rscs[r].partial_migration {
            if n == target && ws.rscs[r].assigned == Some(n) {
                // The partial migration there continues.
                continue;
            }
            // The migration target changed.
            optional = false;
        }
        let a = custom_action(ws, r, "stop", Some(n), optional);
        if ws.rscs[r].assigned.is_none() {
            set_reason(ws, a, Some("node availability".into()), true);
        } else if ws.rscs[r].restarting && ws.rscs[r].stop_unexpected {
            set_reason(ws, a, Some("being multiply active".into()), true);
        }
        if !ws.rscs[r].managed {
            ws.actions[a].flags &= !af::RUNNABLE;
        }
        if ws.rscs[r].needs_unfencing {
            let unfence = fence_op_of(ws, n, "on", None, true);
            order_actions(ws, a, unfence, of::IMPLIES_FIRST);
        }
    }
}

fn start_resource(ws: &mut WorkingSet, r: RscId, node: Option<NodeId>, optional: bool) {
    let Some(node) = node else { return };
    let a = custom_action(ws, r, "start", Some(node), true);
    order_vs_unfence(ws, r, node, a, of::IMPLIES_THEN);
    if ws.actions[a].has(af::RUNNABLE) && !optional {
        ws.actions[a].flags &= !af::OPTIONAL;
    }
    if is_expected_node(ws, r, node) {
        // It keeps running there: the start is only for ordering.
        ws.actions[a].flags |= af::PSEUDO;
    }
}

fn promote_resource(ws: &mut WorkingSet, r: RscId, node: Option<NodeId>, optional: bool) {
    let Some(node) = node else { return };
    let starts = find_actions(ws, r, "start", Some(node), true);
    let runnable = starts.iter().all(|&s| ws.actions[s].has(af::RUNNABLE));
    if runnable {
        custom_action(ws, r, "promote", Some(node), optional);
    } else {
        for p in find_actions(ws, r, "promote", Some(node), true) {
            ws.actions[p].flags &= !af::RUNNABLE;
        }
    }
}

fn demote_resource(ws: &mut WorkingSet, r: RscId, optional: bool) {
    for n in ws.rscs[r].running_on.clone() {
        custom_action(ws, r, "demote", Some(n), optional);
    }
}

/// Pacemaker's role transition table: next step from `from` towards `to`.
fn next_step(from: Role, to: Role) -> Role {
    use Role::*;
    match (from, to) {
        (Unknown, Unknown) => Unknown,
        (Unknown, _) => Stopped,
        (Stopped, Unknown | Stopped) => Stopped,
        (Stopped, Started) => Started,
        (Stopped, Unpromoted | Promoted) => Unpromoted,
        (Started, Unknown | Stopped) => Stopped,
        (Started, Started) => Started,
        (Started, Unpromoted) => Unpromoted,
        (Started, Promoted) => Promoted,
        (Unpromoted, Unknown | Stopped | Started) => Stopped,
        (Unpromoted, Unpromoted) => Unpromoted,
        (Unpromoted, Promoted) => Promoted,
        (Promoted, Unknown) => Stopped,
        (Promoted, Stopped | Started | Unpromoted) => Unpromoted,
        (Promoted, Promoted) => Promoted,
    }
}

#[derive(Clone, Copy)]
enum Step {
    Stop,
    Start,
    Promote,
    Demote,
    Nothing,
    Error,
}

/// The action that moves a resource directly between two roles.
fn step_fn(from: Role, to: Role) -> Step {
    use Role::*;
    match (from, to) {
        (Unknown, Stopped) => Step::Stop,
        (Unknown, _) => Step::Error,
        (Stopped, Stopped) => Step::Nothing,
        (Stopped, Started | Unpromoted) => Step::Start,
        (Stopped, _) => Step::Error,
        (Started, Stopped) => Step::Stop,
        (Started, Started | Unpromoted) => Step::Nothing,
        (Started, Promoted) => Step::Promote,
        (Started, Unknown) => Step::Error,
        (Unpromoted, Stopped | Started) => Step::Stop,
        (Unpromoted, Unpromoted) => Step::Nothing,
        (Unpromoted, Promoted) => Step::Promote,
        (Unpromoted, Unknown) => Step::Error,
        (Promoted, Stopped | Started | Unpromoted) => Step::Demote,
        (Promoted, Promoted) => Step::Nothing,
        (Promoted, Unknown) => Step::Error,
    }
}

fn run_step(
    ws: &mut WorkingSet,
    r: RscId,
    step: Step,
    node: Option<NodeId>,
    optional: bool,
) -> bool {
    match step {
        Step::Stop => stop_resource(ws, r, optional),
        Step::Start => start_resource(ws, r, node, optional),
        Step::Promote => promote_resource(ws, r, node, optional),
        Step::Demote => demote_resource(ws, r, optional),
        Step::Nothing | Step::Error => return false,
    }
    true
}

fn schedule_restart(ws: &mut WorkingSet, r: RscId, need_stop: bool, need_promote: bool) {
    let mut role = ws.rscs[r].role;
    ws.rscs[r].restarting = true;
    while role != Role::Stopped {
        let next = next_step(role, Role::Stopped);
        if !run_step(ws, r, step_fn(role, next), None, !need_stop) {
            break;
        }
        role = next;
    }
    while ws.rscs[r].role <= ws.rscs[r].next_role && role != ws.rscs[r].role && !ws.rscs[r].block {
        let mut required = need_stop;
        let next = next_step(role, ws.rscs[r].role);
        if next == Role::Promoted && need_promote {
            required = true;
        }
        let node = ws.rscs[r].assigned;
        if !run_step(ws, r, step_fn(role, next), node, !required) {
            break;
        }
        role = next;
    }
    ws.rscs[r].restarting = false;
}

fn create_primitive_actions(ws: &mut WorkingSet, r: RscId) {
    if ws.rscs[r].next_role == Role::Unknown {
        ws.rscs[r].next_role = if ws.rscs[r].assigned.is_none() {
            Role::Stopped
        } else {
            Role::Started
        };
    }
    let (current, all, clean) = find_active_on(ws, r);
    // Migrations that completed without a stop on their source.
    for n in ws.rscs[r].dangling_migrations.clone() {
        let stop = custom_action(ws, r, "stop", Some(n), false);
        ws.actions[stop].flags |= af::DANGLE;
    }
    let mut need_stop = false;
    let mut need_promote = false;
    let mut is_moving = false;
    let mut allow_migrate = false;
    if let (Some(c), Some(a)) = (current, ws.rscs[r].assigned) {
        if c != a && ws.rscs[r].next_role >= Role::Started {
            is_moving = true;
            need_stop = true;
            allow_migrate = can_migrate(ws, r, c);
        }
    }
    // A partial migration continues only towards the same target; a
    // resource with a migration in progress is not multiply active.
    let multiply_active = if let Some((source, target)) = ws.rscs[r].partial_migration {
        let continues = allow_migrate
            && all == 2
            && current == Some(source)
            && ws.rscs[r].assigned == Some(target);
        if !continues {
            need_stop = true;
            ws.rscs[r].partial_migration = None;
            allow_migrate = false;
        }
        false
    } else if ws.rscs[r].needs_fencing {
        all > 1
    } else {
        clean > 1
    };
    if multiply_active && !ws.rscs[r].multiple_active_block {
        need_stop = true;
        ws.rscs[r].stop_unexpected = ws.rscs[r].multiple_active_stop_unexpected;
    } else {
        ws.rscs[r].stop_unexpected = false;
    }
    if ws.rscs[r].start_pending {
        let node = ws.rscs[r].assigned;
        if let Some(n) = node {
            let a = custom_action(ws, r, "start", Some(n), true);
            ws.actions[a].flags |= af::PRINT_ALWAYS;
        }
    }
    if is_moving {
    } else if ws.rscs[r].failed {
        if ws.rscs[r].stop_flag {
            need_stop = true;
        } else if ws.rscs[r].next_role == Role::Promoted {
            need_promote = true;
        }
    } else if ws.rscs[r].block {
        need_stop = true;
    } else if ws.rscs[r].role > Role::Started && current.is_some() && ws.rscs[r].assigned.is_some()
    {
        let n = ws.rscs[r].assigned;
        let start = custom_action(ws, r, "start", n, true);
        if !ws.actions[start].has(af::OPTIONAL) {
            need_stop = true;
        }
    }
    schedule_restart(ws, r, need_stop, need_promote);
    // Role transitions towards next_role.
    let mut role = ws.rscs[r].role;
    while role != ws.rscs[r].next_role {
        let target = ws.rscs[r].next_role;
        let next = next_step(role, target);
        let node = ws.rscs[r].assigned;
        if !run_step(ws, r, step_fn(role, next), node, false) {
            break;
        }
        role = next;
    }
    ensure_start_for_recurring(ws, r);
    if allow_migrate {
        if let Some(c) = current {
            create_migration_actions(ws, r, c);
        }
    }
}

/// Pacemaker creates (optional) the start that recurring monitors of an
/// active role would hang off, whether or not the resource has any: an
/// assigned resource whose next role is not Stopped
/// always has a start action on its node, which orderings such as
/// stop-then-start can then make required (a promoted instance moving or
/// recovering to an unpromoted one is started again this way).
/// Unmanaged resources are left out: hasim does not model what makes that
/// start unrunnable in Pacemaker (order7 names it as blocked).
fn ensure_start_for_recurring(ws: &mut WorkingSet, r: RscId) {
    if ws.rscs[r].maintenance || !ws.rscs[r].managed {
        return;
    }
    let Some(n) = ws.rscs[r].assigned else {
        return;
    };
    if ws.nodes[n].maintenance {
        return;
    }
    if ws.rscs[r].next_role != Role::Stopped {
        custom_action(ws, r, "start", Some(n), true);
    }
}

fn can_migrate(ws: &WorkingSet, r: RscId, current: NodeId) -> bool {
    let rsc = &ws.rscs[r];
    rsc.allow_migrate
        && rsc.managed
        && !rsc.failed
        && !rsc.start_pending
        && !ws.nodes[current].unclean
        && rsc.assigned.is_some_and(|a| !ws.nodes[a].unclean)
}

/// Live migration: migrate_to on the old node, migrate_from on the new one;
/// the stop and (pseudo) start remain for ordering purposes.
fn create_migration_actions(ws: &mut WorkingSet, r: RscId, current: NodeId) {
    let Some(target) = ws.rscs[r].assigned else {
        return;
    };
    let start = custom_action(ws, r, "start", Some(target), true);
    let stop = custom_action(ws, r, "stop", Some(current), true);
    let partial = ws.rscs[r].partial_migration.is_some();
    let migrate_from = custom_action(ws, r, "migrate_from", Some(target), true);
    ws.actions[start].flags |= af::MIGRATE_RUNNABLE | af::PSEUDO;
    ws.actions[stop].flags |= af::MIGRATE_RUNNABLE;
    ws.actions[migrate_from].flags |= af::MIGRATE_RUNNABLE;
    if partial {
        // migrate_to already completed: only migrate_from is left.
        ws.actions[migrate_from].needs = ws.actions[start].needs;
    } else {
        let migrate_to = custom_action(ws, r, "migrate_to", Some(current), true);
        ws.actions[migrate_to].flags |= af::MIGRATE_RUNNABLE;
        ws.actions[migrate_to].needs = ws.actions[start].needs;
        order_rsc(
            ws,
            r,
            "migrate_to",
            r,
            "migrate_from",
            of::OPTIONAL | of::IMPLIES_FIRST_MIGRATABLE,
        );
    }
    order_rsc(
        ws,
        r,
        "migrate_from",
        r,
        "stop",
        of::OPTIONAL | of::IMPLIES_FIRST_MIGRATABLE,
    );
    order_rsc(
        ws,
        r,
        "migrate_from",
        r,
        "start",
        of::OPTIONAL | of::IMPLIES_FIRST_MIGRATABLE | of::PSEUDO_LEFT,
    );
}

/// Create actions for a resource and its children.
pub fn create_actions(ws: &mut WorkingSet, r: RscId) {
    match ws.rscs[r].variant {
        Variant::Primitive => create_primitive_actions(ws, r),
        Variant::Group => {
            for c in ws.rscs[r].children.clone() {
                create_actions(ws, c);
            }
            pseudo_action(ws, r, "start", true, true);
            pseudo_action(ws, r, "running", true, true);
            pseudo_action(ws, r, "stop", true, true);
            pseudo_action(ws, r, "stopped", true, true);
            if ws.rscs[r].promotable {
                pseudo_action(ws, r, "demote", true, true);
                pseudo_action(ws, r, "demoted", true, true);
                pseudo_action(ws, r, "promote", true, true);
                pseudo_action(ws, r, "promoted", true, true);
            }
        }
        Variant::Clone => create_clone_actions(ws, r),
    }
}

fn clone_pseudo_status(
    ws: &WorkingSet,
    r: RscId,
    stopping: &mut bool,
    starting: &mut bool,
    active: &mut bool,
) {
    if !ws.rscs[r].children.is_empty() {
        for &c in &ws.rscs[r].children {
            clone_pseudo_status(ws, c, stopping, starting, active);
        }
        return;
    }
    if !ws.rscs[r].running_on.is_empty() {
        *active = true;
    }
    for &a in &ws.rscs[r].actions {
        if *starting && *stopping {
            return;
        }
        let act = &ws.actions[a];
        if act.has(af::OPTIONAL) || !(act.has(af::PSEUDO) || act.has(af::RUNNABLE)) {
            continue;
        }
        if act.task == "stop" {
            *stopping = true;
        } else if act.task == "start" && act.has(af::RUNNABLE) {
            *starting = true;
        }
    }
}

fn create_clone_actions(ws: &mut WorkingSet, r: RscId) {
    let mut any_stopping = false;
    let mut any_starting = false;
    let mut active = false;
    let mut allow_dependent_migrations = true;
    for c in ws.rscs[r].children.clone() {
        create_actions(ws, c);
        let (mut st, mut sp) = (false, false);
        clone_pseudo_status(ws, c, &mut sp, &mut st, &mut active);
        if st && sp {
            allow_dependent_migrations = false;
        }
        any_stopping |= sp;
        any_starting |= st;
    }
    pseudo_action(ws, r, "start", !any_starting, true);
    let started = pseudo_action(ws, r, "running", !any_starting, false);
    if !(active || any_starting) {
        ws.actions[started].flags &= !af::RUNNABLE;
    } else {
        ws.actions[started].flags |= af::RUNNABLE;
    }
    let stop = pseudo_action(ws, r, "stop", !any_stopping, true);
    pseudo_action(ws, r, "stopped", !any_stopping, true);
    if allow_dependent_migrations {
        ws.actions[stop].flags |= af::MIGRATE_RUNNABLE;
    }
    crate::notify::create_post_notifications(ws, r, "running");
    crate::notify::create_post_notifications(ws, r, "stopped");
    if ws.rscs[r].promotable {
        create_promotable_actions(ws, r);
    }
}

// --------------------------------------------------------- orderings

fn order_rsc(ws: &mut WorkingSet, first: RscId, ft: &str, then: RscId, tt: &str, flags: u32) {
    crate::constraints::order_rsc(ws, first, ft, then, tt, flags);
}

/// Implicit orderings of each resource (stop before start, group and
/// clone sequencing).
pub fn internal_constraints(ws: &mut WorkingSet, r: RscId) {
    match ws.rscs[r].variant {
        Variant::Primitive => {
            if !ws.rscs[r].managed {
                return;
            }
            order_rsc(
                ws,
                r,
                "stop",
                r,
                "start",
                of::OPTIONAL | of::IMPLIES_THEN | of::RESTART,
            );
            let top = ws.uber_parent(r);
            if ws.rscs[top].promotable || ws.rscs[r].role > Role::Unpromoted {
                order_rsc(ws, r, "demote", r, "stop", of::PROMOTED_IMPLIES_FIRST);
                order_rsc(ws, r, "start", r, "promote", of::RUNNABLE_LEFT);
            }
            if ws.options.enable_unfencing && ws.rscs[r].needs_unfencing && !ws.rscs[r].fence_device
            {
                order_restart_vs_unfence(ws, r);
            }
        }
        Variant::Group => group_internal_constraints(ws, r),
        Variant::Clone => clone_internal_constraints(ws, r),
    }
}

/// Stops of a resource needing unfencing before any unfencing of a node it
/// may run on, starts after it (restarted if the node is unfenced).
fn order_restart_vs_unfence(ws: &mut WorkingSet, r: RscId) {
    let allowed: Vec<NodeId> = ws.rscs[r].allowed.keys().copied().collect();
    for n in allowed {
        let unfence = fence_op_of(ws, n, "on", None, true);
        ws.orderings.push(Ordering {
            first_rsc: Some(r),
            first_task: Some("stop".into()),
            first_action: None,
            then_rsc: None,
            then_task: None,
            then_action: Some(unfence),
            flags: of::OPTIONAL | of::SAME_NODE,
        });
        ws.orderings.push(Ordering {
            first_rsc: None,
            first_task: None,
            first_action: Some(unfence),
            then_rsc: Some(r),
            then_task: Some("start".into()),
            then_action: None,
            flags: of::IMPLIES_THEN_ON_NODE | of::SAME_NODE,
        });
    }
}

fn group_internal_constraints(ws: &mut WorkingSet, g: RscId) {
    order_rsc(ws, g, "stop", g, "stopped", of::RUNNABLE_LEFT);
    order_rsc(ws, g, "stopped", g, "start", of::OPTIONAL);
    order_rsc(ws, g, "start", g, "running", of::RUNNABLE_LEFT);
    let ordered = ws.rscs[g].group_ordered;
    let top = ws.uber_parent(g);
    let promotable = ws.rscs[top].promotable;
    let mut previous: Option<RscId> = None;
    let mut last_active: Option<RscId> = None;
    for m in ws.rscs[g].children.clone() {
        let mut down = of::IMPLIES_FIRST_PRINTED;
        let mut post_down = of::IMPLIES_THEN_PRINTED;
        internal_constraints(ws, m);
        if let (Some(prev), true) = (previous, ws.rscs[g].group_colocated) {
            let infl = ws.rscs[m].critical;
            crate::constraints::new_colocation(
                ws,
                "group:internal_colocation",
                None,
                hasim_cib::INFINITY,
                m,
                prev,
                Role::Unknown,
                Role::Unknown,
                infl,
            );
        }
        if previous.is_none() && ordered {
            down |= of::OPTIONAL;
            post_down = of::IMPLIES_THEN;
        }
        if promotable {
            order_rsc(ws, g, "demote", m, "demote", down);
            order_rsc(ws, m, "demote", g, "demoted", post_down);
            order_rsc(
                ws,
                m,
                "promote",
                g,
                "promoted",
                of::RUNNABLE_LEFT | of::IMPLIES_THEN | of::IMPLIES_THEN_PRINTED,
            );
            order_rsc(ws, g, "promote", m, "promote", of::IMPLIES_FIRST_PRINTED);
        }
        order_rsc(ws, g, "stop", m, "stop", down);
        order_rsc(ws, m, "stop", g, "stopped", post_down);
        order_rsc(ws, g, "start", m, "start", of::IMPLIES_FIRST_PRINTED);
        order_rsc(
            ws,
            m,
            "start",
            g,
            "running",
            of::RUNNABLE_LEFT | of::IMPLIES_THEN | of::IMPLIES_THEN_PRINTED,
        );
        if !ordered {
            order_rsc(
                ws,
                g,
                "start",
                m,
                "start",
                of::IMPLIES_THEN | of::RUNNABLE_LEFT | of::IMPLIES_FIRST_PRINTED,
            );
            if promotable {
                order_rsc(
                    ws,
                    g,
                    "promote",
                    m,
                    "promote",
                    of::IMPLIES_THEN | of::RUNNABLE_LEFT | of::IMPLIES_FIRST_PRINTED,
                );
            }
        } else if let Some(prev) = previous {
            order_rsc(
                ws,
                prev,
                "start",
                m,
                "start",
                of::IMPLIES_THEN | of::RUNNABLE_LEFT,
            );
            order_rsc(ws, m, "stop", prev, "stop", of::OPTIONAL | of::RESTART);
            if promotable {
                order_rsc(
                    ws,
                    prev,
                    "promote",
                    m,
                    "promote",
                    of::IMPLIES_THEN | of::RUNNABLE_LEFT,
                );
                order_rsc(ws, m, "demote", prev, "demote", of::OPTIONAL);
            }
        } else {
            // pe_order_none orderings are no-ops.
        }
        if !ws.rscs[m].running_on.is_empty() {
            if let (true, Some(prev), Some(la)) = (ordered, previous, last_active) {
                if ws.rscs[prev].running_on.is_empty() && !ws.rscs[la].running_on.is_empty() {
                    order_rsc(ws, m, "stop", la, "stop", of::OPTIONAL);
                }
            }
            last_active = Some(m);
        }
        previous = Some(m);
    }
}

fn clone_internal_constraints(ws: &mut WorkingSet, c: RscId) {
    order_rsc(ws, c, "stopped", c, "start", of::OPTIONAL);
    order_rsc(ws, c, "start", c, "running", of::RUNNABLE_LEFT);
    order_rsc(ws, c, "stop", c, "stopped", of::RUNNABLE_LEFT);
    if ws.rscs[c].promotable {
        order_rsc(ws, c, "demoted", c, "stop", of::OPTIONAL);
        order_rsc(ws, c, "running", c, "promote", of::RUNNABLE_LEFT);
    }
    let ordered = ws.rscs[c].ordered;
    let mut children = ws.rscs[c].children.clone();
    if ordered {
        children.sort_by_key(|&ch| {
            ws.rscs[ch]
                .id
                .rsplit(':')
                .next()
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        });
        ws.rscs[c].children = children.clone();
    }
    let mut last: Option<RscId> = None;
    for ch in children {
        internal_constraints(ws, ch);
        order_rsc(
            ws,
            c,
            "start",
            ch,
            "start",
            of::RUNNABLE_LEFT | of::IMPLIES_FIRST_PRINTED,
        );
        order_rsc(ws, ch, "start", c, "running", of::IMPLIES_THEN_PRINTED);
        if let (true, Some(l)) = (ordered, last) {
            order_rsc(ws, l, "start", ch, "start", of::OPTIONAL);
        }
        order_rsc(ws, c, "stop", ch, "stop", of::IMPLIES_FIRST_PRINTED);
        order_rsc(ws, ch, "stop", c, "stopped", of::IMPLIES_THEN_PRINTED);
        if let (true, Some(l)) = (ordered, last) {
            order_rsc(ws, ch, "stop", l, "stop", of::OPTIONAL);
        }
        last = Some(ch);
    }
    if ws.rscs[c].promotable {
        order_promotable_instances(ws, c);
    }
}

/// Resolve the orderings into action edges and propagate flags.
pub fn apply_orderings(ws: &mut WorkingSet) {
    // Nothing resolving orderings reads the list; any added meanwhile go
    // after the resolved ones, as they would after a copy.
    let orderings = std::mem::take(&mut ws.orderings);
    for o in &orderings {
        if let Some(first_rsc) = o.first_rsc {
            let task = o.first_task.as_deref().unwrap_or_default();
            let mut firsts: Vec<ActionId> = match o.first_action {
                Some(a) => vec![a],
                None => find_actions(ws, first_rsc, task, None, false),
            };
            if firsts.is_empty() && Some(first_rsc) == o.then_rsc {
                continue;
            }
            if firsts.is_empty() {
                let state = current_role(ws, first_rsc);
                if (state == Role::Stopped && task == "stop")
                    || (state == Role::Unpromoted && task == "demote")
                {
                    continue;
                }
                firsts.push(custom_action(ws, first_rsc, task, None, true));
            }
            for f in firsts {
                match o.then_rsc {
                    None => {
                        if let Some(t) = o.then_action {
                            order_actions(ws, f, t, o.flags);
                        }
                    }
                    Some(tr) => order_after(ws, Some(f), tr, o),
                }
            }
        } else if let Some(tr) = o.then_rsc {
            order_after(ws, o.first_action, tr, o);
        } else if let (Some(f), Some(t)) = (o.first_action, o.then_action) {
            order_actions(ws, f, t, o.flags);
        }
    }
    let added = std::mem::replace(&mut ws.orderings, orderings);
    ws.orderings.extend(added);
    let n = ws.actions.len();
    for a in (0..n).rev() {
        block_colocation_dependents(ws, a);
    }
    for a in (0..ws.actions.len()).rev() {
        update_action(ws, a, 0);
    }
}

fn order_after(ws: &mut WorkingSet, first: Option<ActionId>, then_rsc: RscId, o: &Ordering) {
    let thens: Vec<ActionId> = match o.then_action {
        Some(a) => vec![a],
        None => find_actions(
            ws,
            then_rsc,
            o.then_task.as_deref().unwrap_or(""),
            None,
            false,
        ),
    };
    if thens.is_empty() {
        return;
    }
    match first {
        None => {
            if o.flags & of::IMPLIES_THEN == 0 {
                return;
            }
            for t in thens {
                ws.actions[t].flags &= !af::RUNNABLE;
            }
        }
        Some(f) => {
            let mut flags = o.flags;
            if ws.actions[f].rsc == Some(then_rsc) && ws.actions[f].has(af::DANGLE) {
                // Finishing a migration does not restart the resource.
                flags &= !of::IMPLIES_THEN;
            }
            for t in thens {
                order_actions(ws, f, t, flags);
            }
        }
    }
}

fn is_ancestor(ws: &WorkingSet, child: RscId, anc: RscId) -> bool {
    let mut p = ws.rscs[child].parent;
    while let Some(x) = p {
        if x == anc {
            return true;
        }
        p = ws.rscs[x].parent;
    }
    false
}

/// Map a collective resource's action to the one orderings should use
/// (start -> running, stop -> stopped, ...).
fn action_for_ordering(ws: &WorkingSet, a: ActionId) -> ActionId {
    let Some(r) = ws.actions[a].rsc else { return a };
    if ws.rscs[r].variant == Variant::Primitive || ws.actions[a].interval_ms != 0 {
        return a;
    }
    if let Some(n) = crate::notify::ordering_action(ws, r, &ws.actions[a].task) {
        return n;
    }
    let mapped = match ws.actions[a].task.as_str() {
        "stop" => "stopped",
        "start" => "running",
        "promote" => "promoted",
        "demote" => "demoted",
        _ => return a,
    };
    find_action(ws, r, mapped, None).unwrap_or(a)
}

/// Flags of an action as seen by orderings (collective actions summarise
/// their children).
fn action_flags(ws: &mut WorkingSet, a: ActionId, node: Option<NodeId>) -> u32 {
    let Some(r) = ws.actions[a].rsc else {
        return ws.actions[a].flags;
    };
    match ws.rscs[r].variant {
        Variant::Primitive => ws.actions[a].flags,
        Variant::Group => group_action_flags(ws, a, node),
        Variant::Clone => {
            let flags = clone_action_flags(ws, a, None);
            if node.is_none() {
                return flags;
            }
            let runnable = flags & af::RUNNABLE != 0;
            let mut f2 = clone_action_flags(ws, a, node);
            if runnable {
                f2 |= af::RUNNABLE;
            }
            f2
        }
    }
}

/// Flags as orderings see them: only clone actions are node-specific.
fn flags_for_ordering(ws: &mut WorkingSet, a: ActionId, node: Option<NodeId>) -> u32 {
    match ws.actions[a].rsc {
        Some(r) if ws.rscs[r].variant == Variant::Clone => action_flags(ws, a, node),
        _ => action_flags(ws, a, None),
    }
}

fn child_task(task: &str) -> &str {
    match task {
        "running" => "start",
        "stopped" => "stop",
        "promoted" => "promote",
        "demoted" => "demote",
        t => t,
    }
}

fn group_action_flags(ws: &mut WorkingSet, a: ActionId, node: Option<NodeId>) -> u32 {
    let r = ws.actions[a].rsc.unwrap_or(0);
    let mut flags = af::OPTIONAL | af::RUNNABLE | af::PSEUDO;
    let task = ws.actions[a].task.clone();
    let ct = child_task(&task).to_string();
    for m in ws.rscs[r].children.clone() {
        match find_action(ws, m, &ct, node) {
            Some(ma) => {
                let mf = action_flags(ws, ma, node);
                if flags & af::OPTIONAL != 0 && mf & af::OPTIONAL == 0 {
                    flags &= !af::OPTIONAL;
                    ws.actions[a].flags &= !af::OPTIONAL;
                }
                if ct != task && flags & af::RUNNABLE != 0 && mf & af::RUNNABLE == 0 {
                    flags &= !af::RUNNABLE;
                    ws.actions[a].flags &= !af::RUNNABLE;
                }
            }
            None => {
                if ct != "stop" && ct != "demote" {
                    flags &= !af::RUNNABLE;
                }
            }
        }
    }
    flags
}

fn clone_action_flags(ws: &mut WorkingSet, a: ActionId, node: Option<NodeId>) -> u32 {
    if let Some((required, runnable)) = cached_primitive_flags(ws, a, node) {
        return apply_clone_flags(ws, a, node, required, runnable);
    }
    let index = child_actions(ws, a);
    if index.primitives {
        let (required, runnable) = primitive_flags(&index, &ws.actions, node);
        ws.child_actions.insert(a, index);
        return apply_clone_flags(ws, a, node, required, runnable);
    }
    let mut flags = af::OPTIONAL | af::RUNNABLE | af::PSEUDO;
    let mut any_runnable = false;
    for (collective, matching) in &index.instances {
        // What `find_action` would return: the first matching action on
        // the node or on no node (collective instances: any node).
        let query = if *collective { None } else { node };
        let found = matching.iter().copied().find(|&ca| {
            query.is_none() || ws.actions[ca].node.is_none() || ws.actions[ca].node == query
        });
        if let Some(ca) = found {
            let cf = action_flags(ws, ca, node);
            if flags & af::OPTIONAL != 0 && cf & af::OPTIONAL == 0 {
                flags &= !af::OPTIONAL;
                ws.actions[a].flags &= !af::OPTIONAL;
            }
            if cf & af::RUNNABLE != 0 {
                any_runnable = true;
            }
        }
    }
    ws.child_actions.insert(a, index);
    if !any_runnable {
        flags &= !af::RUNNABLE;
        if node.is_none() {
            ws.actions[a].flags &= !af::RUNNABLE;
        }
    }
    flags
}

/// `primitive_flags` from the cache in place, when it holds a valid entry
/// for a clone of primitives: reading flags calls nothing that could use
/// the cache, so the entry need not be taken out and put back.
fn cached_primitive_flags(
    ws: &WorkingSet,
    a: ActionId,
    node: Option<NodeId>,
) -> Option<(bool, bool)> {
    let index = ws.child_actions.get(&a)?;
    let r = ws.actions[a].rsc.unwrap_or(0);
    let valid = index.primitives
        && index.actions_len == ws.actions.len()
        && index.children == ws.rscs[r].children;
    valid.then(|| primitive_flags(index, &ws.actions, node))
}

/// Whether any of the actions a query finds in a clone of primitives is
/// required, and whether any is runnable. Primitive flags are only read,
/// so the found actions count in any order, and once one is required and
/// one runnable the others change nothing.
fn primitive_flags(index: &ChildActions, actions: &[Action], node: Option<NodeId>) -> (bool, bool) {
    let (mut required, mut runnable) = (false, false);
    let mut visit = |ca: ActionId| {
        let cf = actions[ca].flags;
        required |= cf & af::OPTIONAL == 0;
        runnable |= cf & af::RUNNABLE != 0;
        required && runnable
    };
    let looked_up = index.lookup.as_ref().and_then(|p| match node {
        None => Some(p.first.as_slice()),
        Some(n) => p
            .on_node
            .as_ref()
            .map(|m| m.get(&n).map_or(&[][..], Vec::as_slice)),
    });
    if let Some(found) = looked_up {
        for &ca in found {
            if visit(ca) {
                break;
            }
        }
        return (required, runnable);
    }
    for (_, matching) in &index.instances {
        // What `find_action` would return: the first matching action on
        // the node or on no node.
        let found = matching
            .iter()
            .copied()
            .find(|&ca| node.is_none() || actions[ca].node.is_none() || actions[ca].node == node);
        if found.is_some_and(&mut visit) {
            break;
        }
    }
    (required, runnable)
}

/// A clone action's flags from its instances': required when one is, not
/// runnable when none is (recorded on the action itself for a query on no
/// node).
fn apply_clone_flags(
    ws: &mut WorkingSet,
    a: ActionId,
    node: Option<NodeId>,
    required: bool,
    any_runnable: bool,
) -> u32 {
    let mut flags = af::OPTIONAL | af::RUNNABLE | af::PSEUDO;
    if required {
        flags &= !af::OPTIONAL;
        ws.actions[a].flags &= !af::OPTIONAL;
    }
    if !any_runnable {
        flags &= !af::RUNNABLE;
        if node.is_none() {
            ws.actions[a].flags &= !af::RUNNABLE;
        }
    }
    flags
}

/// The instances' actions a clone action stands for, from the cache while
/// no action was added since it was built. Taken out of the cache: the
/// caller puts it back (recursive calls for nested clones then rebuild
/// their own entry rather than alias this one).
fn child_actions(ws: &mut WorkingSet, a: ActionId) -> ChildActions {
    let r = ws.actions[a].rsc.unwrap_or(0);
    if let Some(index) = ws.child_actions.remove(&a) {
        if index.actions_len == ws.actions.len() && index.children == ws.rscs[r].children {
            return index;
        }
    }
    let act = &ws.actions[a];
    let task = crate::notify::notified_operation(act).unwrap_or(&act.task);
    let instances: Vec<(bool, Vec<ActionId>)> = ws.rscs[r]
        .children
        .iter()
        .map(|&c| {
            // Primitive instances are asked for the atomic action (start
            // for running); collective instances for the same pseudo action.
            let collective = !ws.rscs[c].children.is_empty();
            let ct = if collective { task } else { child_task(task) };
            let matching = ws.rscs[c]
                .actions
                .iter()
                .copied()
                .filter(|&ca| ws.actions[ca].interval_ms == 0 && ws.actions[ca].task == ct)
                .collect();
            (collective, matching)
        })
        .collect();
    let primitives = ws.rscs[r]
        .children
        .iter()
        .all(|&c| ws.rscs[c].variant == Variant::Primitive);
    ChildActions {
        actions_len: ws.actions.len(),
        children: ws.rscs[r].children.clone(),
        primitives,
        lookup: (primitives && instances.len() >= LOOKUP_INSTANCES)
            .then(|| Box::new(primitive_actions(ws, &instances))),
        instances,
    }
}

/// Clones with fewer instances are scanned: building the lookup again
/// whenever an action is added costs more than it saves for them.
const LOOKUP_INSTANCES: usize = 16;

/// The lookups of `PrimitiveActions` from each instance's matching actions.
fn primitive_actions(ws: &WorkingSet, instances: &[(bool, Vec<ActionId>)]) -> PrimitiveActions {
    let first = instances
        .iter()
        .filter_map(|(_, matching)| matching.first().copied())
        .collect();
    let nodeless = instances
        .iter()
        .flat_map(|(_, matching)| matching)
        .any(|&ca| ws.actions[ca].node.is_none());
    let on_node = (!nodeless).then(|| {
        let mut on_node: std::collections::BTreeMap<NodeId, Vec<ActionId>> = Default::default();
        for (_, matching) in instances {
            for (i, &ca) in matching.iter().enumerate() {
                let Some(n) = ws.actions[ca].node else {
                    continue;
                };
                // Only an instance's first action on each node is found.
                if matching[..i].iter().all(|&e| ws.actions[e].node != Some(n)) {
                    on_node.entry(n).or_default().push(ca);
                }
            }
        }
        on_node
    });
    PrimitiveActions { first, on_node }
}

fn reason_text(ws: &WorkingSet, a: ActionId, flag: u32) -> String {
    let change = if flag == af::OPTIONAL {
        "required"
    } else {
        "unrunnable"
    };
    let act = &ws.actions[a];
    match act.rsc {
        Some(r) => format!("{} {} {}", change, ws.rscs[r].id, act.task),
        None => format!("{} {}", change, act.task),
    }
}

fn clear_flag_because(ws: &mut WorkingSet, a: ActionId, flag: u32, reason: ActionId) {
    if ws.actions[a].flags & flag != 0 {
        ws.actions[a].flags &= !flag;
        if ws.actions[a].rsc != ws.actions[reason].rsc {
            let text = reason_text(ws, reason, flag);
            set_reason(ws, a, Some(text), flag == af::MIGRATE_RUNNABLE);
        }
    }
}

/// Updated-flag bits returned by ordering updates.
const UPDATED_FIRST: u32 = 1;
const UPDATED_THEN: u32 = 2;

#[allow(clippy::too_many_arguments)]
fn update_ordered_actions(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    node: Option<NodeId>,
    flags: u32,
    filter: u32,
    otype: u32,
    depth: u32,
) -> u32 {
    let Some(tr) = ws.actions[then].rsc else {
        return 0;
    };
    update_ordered_by(ws, tr, first, then, node, flags, filter, otype, depth)
}

/// Update an ordered pair using the method of resource `by`'s type.
#[allow(clippy::too_many_arguments)]
fn update_ordered_by(
    ws: &mut WorkingSet,
    by: RscId,
    first: ActionId,
    then: ActionId,
    node: Option<NodeId>,
    flags: u32,
    filter: u32,
    otype: u32,
    depth: u32,
) -> u32 {
    let tr = by;
    let Some(then_rsc) = ws.actions[then].rsc else {
        return 0;
    };
    match ws.rscs[tr].variant {
        Variant::Primitive => {
            update_ordered_primitive(ws, first, then, node, flags, filter, otype, depth)
        }
        Variant::Group => {
            let mut changed =
                update_ordered_primitive(ws, first, then, node, flags, filter, otype, depth);
            let task = ws.actions[then].task.clone();
            for m in ws.rscs[then_rsc].children.clone() {
                if let Some(ma) = find_action(ws, m, &task, node) {
                    changed |=
                        update_ordered_actions(ws, first, ma, node, flags, filter, otype, depth);
                }
            }
            changed
        }
        Variant::Clone => {
            if can_interleave(ws, first, then) {
                return update_interleave(ws, first, then, node, filter, otype, depth);
            }
            let mut changed =
                update_ordered_primitive(ws, first, then, node, flags, filter, otype, depth);
            let task = ws.actions[then].task.clone();
            for c in ws.rscs[then_rsc].children.clone() {
                if let Some(ca) = find_action(ws, c, &task, node) {
                    let cf = action_flags(ws, ca, node);
                    if cf & af::RUNNABLE != 0 {
                        let ch = update_ordered_actions(
                            ws, first, ca, node, flags, filter, otype, depth,
                        );
                        changed |= ch;
                        if ch & UPDATED_THEN != 0 {
                            for (next, _) in ws.actions[ca].after.clone() {
                                update_action(ws, next, depth + 1);
                            }
                        }
                    }
                }
            }
            changed
        }
    }
}

fn can_interleave(ws: &WorkingSet, first: ActionId, then: ActionId) -> bool {
    let (Some(fr), Some(tr)) = (ws.actions[first].rsc, ws.actions[then].rsc) else {
        return false;
    };
    if fr == tr || ws.rscs[fr].variant != Variant::Clone || ws.rscs[tr].variant != Variant::Clone {
        return false;
    }
    let t = ws.actions[then].task.as_str();
    let r = if t == "stop" || t == "demote" { fr } else { tr };
    ws.rscs[r].interleave
}

/// Where the first of an instance's primitives (in `primitives_of`
/// order) that is active (or assigned) is, walking them without
/// collecting them.
fn instance_location(ws: &WorkingSet, r: RscId, current: bool) -> Option<NodeId> {
    let rsc = &ws.rscs[r];
    if rsc.variant == Variant::Primitive {
        return if current {
            rsc.running_on.first().copied()
        } else {
            rsc.assigned
        };
    }
    rsc.children
        .iter()
        .find_map(|&c| instance_location(ws, c, current))
}

fn update_interleave(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    node: Option<NodeId>,
    filter: u32,
    otype: u32,
    depth: u32,
) -> u32 {
    let mut changed = 0;
    // A notification pseudo-action stands for the operation it is about
    // (clone_child_action).
    let fact = &ws.actions[first];
    let op = crate::notify::notified_operation(fact).unwrap_or(&fact.task);
    let current = matches!(op, "stopped" | "demoted");
    let ftask = child_task(op).to_string();
    let (Some(fr), Some(tr)) = (ws.actions[first].rsc, ws.actions[then].rsc) else {
        return 0;
    };
    let ttask = ws.actions[then].task.clone();
    for tc in ws.rscs[tr].children.clone() {
        let Some(loc) = instance_location(ws, tc, current) else {
            if !current && otype & (of::RUNNABLE_LEFT | of::IMPLIES_THEN) != 0 {
                // No partner: the instance cannot be active.
                for p in ws.primitives_of(tc) {
                    if ws.rscs[p].assigned.is_some() {
                        crate::node_choice::finalize_assignment(ws, p, None, true);
                        changed |= UPDATED_THEN;
                    }
                }
            }
            continue;
        };
        let fc = ws.rscs[fr].children.iter().copied().find(|&c| {
            let blocked = ws.primitives_of(c).iter().all(|&p| ws.rscs[p].block);
            !blocked && instance_location(ws, c, current) == Some(loc)
        });
        let Some(fc) = fc else {
            if !current && otype & (of::RUNNABLE_LEFT | of::IMPLIES_THEN) != 0 {
                for p in ws.primitives_of(tc) {
                    if ws.rscs[p].assigned.is_some() {
                        crate::node_choice::finalize_assignment(ws, p, None, true);
                        changed |= UPDATED_THEN;
                    }
                }
            }
            continue;
        };
        let Some(fa) = find_action(ws, fc, &ftask, node) else {
            continue;
        };
        let Some(ta) = find_action(ws, tc, &ttask, node) else {
            continue;
        };
        if order_actions(ws, fa, ta, otype) {
            changed |= UPDATED_FIRST | UPDATED_THEN;
        }
        let ff = action_flags(ws, fa, node);
        changed |= update_ordered_actions(ws, fa, ta, node, ff, filter, otype, depth);
    }
    changed
}

#[allow(clippy::too_many_arguments)]
fn update_ordered_primitive(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    _node: Option<NodeId>,
    flags: u32,
    filter: u32,
    otype: u32,
    depth: u32,
) -> u32 {
    let mut changed = 0;
    let then_flags = ws.actions[then].flags;
    let first_flags = ws.actions[first].flags;
    if otype & of::ASYMMETRICAL != 0 {
        handle_asymmetric(ws, first, then);
    }
    if otype & of::IMPLIES_FIRST != 0 && then_flags & af::OPTIONAL == 0 {
        if filter & af::OPTIONAL != 0
            && flags & af::OPTIONAL == 0
            && first_flags & af::OPTIONAL != 0
        {
            clear_flag_because(ws, first, af::OPTIONAL, then);
        }
        if flags & af::MIGRATE_RUNNABLE != 0 && ws.actions[then].flags & af::MIGRATE_RUNNABLE == 0 {
            clear_flag_because(ws, first, af::MIGRATE_RUNNABLE, then);
        }
    }
    if otype & of::PROMOTED_IMPLIES_FIRST != 0
        && ws.actions[then]
            .rsc
            .is_some_and(|r| ws.rscs[r].role == Role::Promoted)
        && filter & af::OPTIONAL != 0
        && ws.actions[then].flags & af::OPTIONAL == 0
    {
        clear_flag_because(ws, first, af::OPTIONAL, then);
        if ws.actions[first].flags & af::MIGRATE_RUNNABLE != 0
            && ws.actions[then].flags & af::MIGRATE_RUNNABLE == 0
        {
            clear_flag_because(ws, first, af::MIGRATE_RUNNABLE, then);
        }
    }
    if otype & of::IMPLIES_FIRST_MIGRATABLE != 0 && filter & af::OPTIONAL != 0 {
        let tf = ws.actions[then].flags;
        if tf & (af::MIGRATE_RUNNABLE | af::RUNNABLE) != (af::MIGRATE_RUNNABLE | af::RUNNABLE) {
            clear_flag_because(ws, first, af::RUNNABLE, then);
        }
        if ws.actions[then].flags & af::OPTIONAL == 0 {
            clear_flag_because(ws, first, af::OPTIONAL, then);
        }
    }
    if otype & of::PSEUDO_LEFT != 0
        && filter & af::OPTIONAL != 0
        && ws.actions[first].flags & af::RUNNABLE == 0
    {
        clear_flag_because(ws, then, af::MIGRATE_RUNNABLE, first);
        ws.actions[then].flags &= !af::PSEUDO;
    }
    if otype & of::RUNNABLE_LEFT != 0
        && filter & af::RUNNABLE != 0
        && ws.actions[then].flags & af::RUNNABLE != 0
        && flags & af::RUNNABLE == 0
    {
        clear_flag_because(ws, then, af::RUNNABLE, first);
        clear_flag_because(ws, then, af::MIGRATE_RUNNABLE, first);
    }
    if otype & of::IMPLIES_THEN != 0
        && filter & af::OPTIONAL != 0
        && ws.actions[then].flags & af::OPTIONAL != 0
        && flags & af::OPTIONAL == 0
        && ws.actions[first].flags & af::MIGRATE_RUNNABLE == 0
    {
        clear_flag_because(ws, then, af::OPTIONAL, first);
    }
    if otype & of::RESTART != 0 {
        handle_restart(ws, first, then, filter);
    }
    if then_flags != ws.actions[then].flags {
        changed |= UPDATED_THEN;
        if ws.actions[then]
            .rsc
            .is_some_and(|r| ws.rscs[r].parent.is_some())
        {
            update_action(ws, then, depth + 1);
        }
    }
    if first_flags != ws.actions[first].flags {
        changed |= UPDATED_FIRST;
    }
    changed
}

fn handle_asymmetric(ws: &mut WorkingSet, first: ActionId, then: ActionId) {
    let Some(tr) = ws.actions[then].rsc else {
        return;
    };
    let role = current_role(ws, tr);
    let task = ws.actions[then].task.clone();
    if role == Role::Stopped && task == "stop" {
        return;
    }
    let on = ws.rscs[tr].running_on.clone();
    if role >= Role::Started
        && ws.actions[then].has(af::OPTIONAL)
        && ws.actions[then].node.is_some()
        && on.len() == 1
        && ws.actions[then].node == Some(on[0])
        && task == "start"
    {
        return;
    }
    if !ws.actions[first].has(af::RUNNABLE) {
        clear_flag_because(ws, then, af::OPTIONAL, first);
        clear_flag_because(ws, then, af::RUNNABLE, first);
    }
}

fn handle_restart(ws: &mut WorkingSet, first: ActionId, then: ActionId, filter: u32) {
    let (Some(fr), Some(tr)) = (ws.actions[first].rsc, ws.actions[then].rsc) else {
        return;
    };
    if ws.rscs[fr].variant != Variant::Primitive || ws.rscs[tr].variant != Variant::Primitive {
        return;
    }
    let mut reason = false;
    if filter & af::OPTIONAL != 0 && !ws.actions[then].has(af::OPTIONAL) {
        reason = true;
    }
    if filter & af::RUNNABLE != 0
        && !ws.actions[then].has(af::RUNNABLE)
        && ws.rscs[tr].managed
        && fr == tr
    {
        reason = true;
    }
    if !reason {
        return;
    }
    if ws.actions[first].has(af::RUNNABLE) {
        clear_flag_because(ws, first, af::OPTIONAL, then);
    }
    if !ws.actions[then].has(af::OPTIONAL) {
        clear_flag_because(ws, first, af::OPTIONAL, then);
    }
    if !ws.actions[then].has(af::MIGRATE_RUNNABLE) {
        clear_flag_because(ws, first, af::MIGRATE_RUNNABLE, then);
    }
    if !ws.actions[first].has(af::OPTIONAL) && !ws.actions[first].has(af::RUNNABLE) {
        clear_flag_because(ws, then, af::RUNNABLE, first);
    }
}

fn update_for_ordering_flags(
    ws: &mut WorkingSet,
    first: ActionId,
    then: ActionId,
    first_flags: u32,
    then_flags: u32,
    otype_in: u32,
    depth: u32,
) -> u32 {
    let mut changed = 0;
    let mut otype = otype_in;
    let node = ws.actions[then].node;
    if otype & of::IMPLIES_THEN_ON_NODE != 0 {
        otype = (otype & !of::IMPLIES_THEN_ON_NODE) | of::IMPLIES_THEN;
    }
    let then_rsc = ws.actions[then].rsc;
    let first_rsc = ws.actions[first].rsc;
    if otype & of::IMPLIES_THEN != 0 {
        if then_rsc.is_some() {
            changed |= update_ordered_actions(
                ws,
                first,
                then,
                node,
                first_flags & af::OPTIONAL,
                af::OPTIONAL,
                of::IMPLIES_THEN,
                depth,
            );
        } else if first_flags & af::OPTIONAL == 0 && ws.actions[then].has(af::OPTIONAL) {
            ws.actions[then].flags &= !af::OPTIONAL;
            changed |= UPDATED_THEN;
        }
    }
    if otype & of::RESTART != 0 && then_rsc.is_some() {
        changed |= update_ordered_actions(
            ws,
            first,
            then,
            node,
            first_flags,
            af::OPTIONAL | af::RUNNABLE,
            of::RESTART,
            depth,
        );
    }
    if otype & of::IMPLIES_FIRST != 0 {
        if let Some(fr) = first_rsc {
            // Pacemaker dispatches this one on the *first* action's
            // resource type.
            changed |= update_ordered_by(
                ws,
                fr,
                first,
                then,
                node,
                first_flags,
                af::OPTIONAL,
                of::IMPLIES_FIRST,
                depth,
            );
        } else if first_flags & af::OPTIONAL == 0 && ws.actions[first].has(af::RUNNABLE) {
            ws.actions[first].flags &= !af::RUNNABLE;
            changed |= UPDATED_FIRST;
        }
    }
    if otype & of::PROMOTED_IMPLIES_FIRST != 0 && then_rsc.is_some() {
        changed |= update_ordered_actions(
            ws,
            first,
            then,
            node,
            first_flags & af::OPTIONAL,
            af::OPTIONAL,
            of::PROMOTED_IMPLIES_FIRST,
            depth,
        );
    }
    if otype & of::ONE_OR_MORE != 0 {
        if then_rsc.is_some() {
            changed |= update_ordered_actions(
                ws,
                first,
                then,
                node,
                first_flags,
                af::RUNNABLE,
                of::ONE_OR_MORE,
                depth,
            );
        } else if first_flags & af::RUNNABLE != 0 {
            ws.actions[then].runnable_before += 1;
            if ws.actions[then].runnable_before >= ws.actions[then].required_runnable_before
                && !ws.actions[then].has(af::RUNNABLE)
            {
                ws.actions[then].flags |= af::RUNNABLE;
                changed |= UPDATED_THEN;
            }
        }
    }
    if otype & of::RUNNABLE_LEFT != 0 {
        if then_rsc.is_some() {
            changed |= update_ordered_actions(
                ws,
                first,
                then,
                node,
                first_flags,
                af::RUNNABLE,
                of::RUNNABLE_LEFT,
                depth,
            );
        } else if first_flags & af::RUNNABLE == 0 && ws.actions[then].has(af::RUNNABLE) {
            ws.actions[then].flags &= !af::RUNNABLE;
            changed |= UPDATED_THEN;
        }
    }
    if otype & of::IMPLIES_FIRST_MIGRATABLE != 0 && then_rsc.is_some() {
        changed |= update_ordered_actions(
            ws,
            first,
            then,
            node,
            first_flags,
            af::OPTIONAL,
            of::IMPLIES_FIRST_MIGRATABLE,
            depth,
        );
    }
    if otype & of::PSEUDO_LEFT != 0 && then_rsc.is_some() {
        changed |= update_ordered_actions(
            ws,
            first,
            then,
            node,
            first_flags,
            af::OPTIONAL,
            of::PSEUDO_LEFT,
            depth,
        );
    }
    if otype & of::OPTIONAL != 0 && then_rsc.is_some() {
        changed |= update_ordered_actions(
            ws,
            first,
            then,
            node,
            first_flags,
            af::RUNNABLE,
            of::OPTIONAL,
            depth,
        );
    }
    if otype & of::ASYMMETRICAL != 0 && then_rsc.is_some() {
        changed |= update_ordered_actions(
            ws,
            first,
            then,
            node,
            first_flags,
            af::RUNNABLE,
            of::ASYMMETRICAL,
            depth,
        );
    }
    if ws.actions[first].has(af::RUNNABLE)
        && otype & of::IMPLIES_THEN_PRINTED != 0
        && first_flags & af::OPTIONAL == 0
    {
        ws.actions[then].flags |= af::PRINT_ALWAYS;
    }
    if otype & of::IMPLIES_FIRST_PRINTED != 0 && then_flags & af::OPTIONAL == 0 {
        ws.actions[first].flags |= af::PRINT_ALWAYS;
    }
    if otype & (of::IMPLIES_THEN | of::IMPLIES_FIRST | of::RESTART) != 0 {
        if let Some(fr) = first_rsc {
            if !ws.rscs[fr].managed
                && ws.rscs[fr].block
                && !ws.actions[first].has(af::RUNNABLE)
                && ws.actions[first].task == "stop"
                && ws.actions[then].has(af::RUNNABLE)
            {
                ws.actions[then].flags &= !af::RUNNABLE;
                changed |= UPDATED_THEN;
            }
        }
    }
    changed
}

/// Pacemaker's pcmk__update_action_for_orderings.
pub fn update_action(ws: &mut WorkingSet, then: ActionId, depth: u32) {
    if depth > 200 {
        return;
    }
    let mut changed = 0u32;
    let last_flags = ws.actions[then].flags;
    if ws.actions[then].has(af::REQUIRES_ANY) {
        ws.actions[then].runnable_before = 0;
        if ws.actions[then].required_runnable_before == 0 {
            ws.actions[then].required_runnable_before = 1;
        }
        ws.actions[then].flags &= !af::RUNNABLE;
    }
    // Pacemaker prepends orderings to an action's lists and walks them from
    // the head: the most recent first, and none added during the walk.
    let mut i = ws.actions[then].before.len();
    while i > 0 {
        i -= 1;
        let (orig_first, otype) = ws.actions[then].before[i];
        if otype == of::NONE {
            continue;
        }
        let mut first = orig_first;
        let mut then_node = ws.actions[then].node;
        let mut first_node = ws.actions[first].node;
        if let Some(fr) = ws.actions[first].rsc {
            if ws.rscs[fr].variant == Variant::Group && ws.actions[first].task == "start" {
                first_node = group_location(ws, fr);
            }
        }
        if let Some(tr) = ws.actions[then].rsc {
            if ws.rscs[tr].variant == Variant::Group && ws.actions[then].task == "start" {
                then_node = group_location(ws, tr);
            }
        }
        if otype & of::SAME_NODE != 0 {
            if let (Some(a), Some(b)) = (first_node, then_node) {
                if a != b {
                    ws.actions[then].before[i].1 = of::NONE;
                    continue;
                }
            }
        }
        changed &= !UPDATED_FIRST;
        if let (Some(fr), Some(tr)) = (ws.actions[first].rsc, ws.actions[then].rsc) {
            if fr != tr && !is_ancestor(ws, tr, fr) {
                first = action_for_ordering(ws, first);
            }
        }
        if first == orig_first {
            let ff = flags_for_ordering(ws, first, then_node);
            let tf = flags_for_ordering(ws, then, first_node);
            changed |= update_for_ordering_flags(ws, first, then, ff, tf, otype, depth);
        } else if order_actions(ws, first, then, otype) {
            changed |= UPDATED_THEN;
            ws.actions[then].before[i].1 = of::NONE;
            // Mark the original edge disabled on the other side too.
            if let Some(e) = ws.actions[orig_first]
                .after
                .iter_mut()
                .find(|(t, f)| *t == then && *f == otype)
            {
                e.1 = of::NONE;
            }
        }
        if changed & UPDATED_FIRST != 0 {
            for (next, _) in ws.actions[first].after.clone().into_iter().rev() {
                update_action(ws, next, depth + 1);
            }
            update_action(ws, first, depth + 1);
        }
    }
    if ws.actions[then].has(af::REQUIRES_ANY) {
        if last_flags == ws.actions[then].flags {
            changed &= !UPDATED_THEN;
        } else {
            changed |= UPDATED_THEN;
        }
    }
    if changed & UPDATED_THEN != 0 {
        if last_flags & af::RUNNABLE != 0 && !ws.actions[then].has(af::RUNNABLE) {
            block_colocation_dependents(ws, then);
        }
        update_action(ws, then, depth + 1);
        for (next, _) in ws.actions[then].after.clone().into_iter().rev() {
            update_action(ws, next, depth + 1);
        }
    }
}

fn group_location(ws: &WorkingSet, g: RscId) -> Option<NodeId> {
    ws.rscs[g].assigned.or_else(|| {
        ws.rscs[g]
            .children
            .first()
            .and_then(|&c| ws.rscs[c].assigned)
    })
}

/// If an unrunnable start/promote leaves a primary unable to reach its
/// role, block mandatory-colocated dependents too.
pub fn block_colocation_dependents(ws: &mut WorkingSet, a: ActionId) {
    if ws.actions[a].has(af::RUNNABLE) {
        return;
    }
    let task = ws.actions[a].task.clone();
    let is_start = task == "start";
    if !is_start && task != "promote" {
        return;
    }
    let Some(ar) = ws.actions[a].rsc else { return };
    let rsc = ws.uber_parent(ar);
    if ws.rscs[rsc].with_this.is_empty() {
        return;
    }
    for &c in &ws.rscs[rsc].children.clone() {
        match find_action(ws, c, &task, None) {
            None => return,
            Some(ca) if ws.actions[ca].has(af::RUNNABLE) => return,
            _ => {}
        }
    }
    for c in ws.rscs[rsc].with_this.clone() {
        if ws.colocs[c].score < hasim_cib::INFINITY {
            continue;
        }
        if !is_start && ws.colocs[c].primary_role != Role::Promoted {
            continue;
        }
        let dep = ws.colocs[c].dependent;
        let t = if ws.colocs[c].dependent_role == Role::Promoted {
            "promote"
        } else {
            "start"
        };
        mark_blocked(ws, dep, t, ar);
    }
}

fn mark_blocked(ws: &mut WorkingSet, r: RscId, task: &str, reason: RscId) {
    let text = format!("colocation with {}", ws.rscs[reason].id);
    for a in ws.rscs[r].actions.clone() {
        if ws.actions[a].has(af::RUNNABLE) && ws.actions[a].task == task {
            ws.actions[a].flags &= !af::RUNNABLE;
            set_reason(ws, a, Some(text.clone()), false);
            block_colocation_dependents(ws, a);
            update_action(ws, a, 1);
        }
    }
    for c in ws.rscs[r].children.clone() {
        mark_blocked(ws, c, task, reason);
    }
}

// ------------------------------------------------------------- fencing

fn any_managed(ws: &WorkingSet) -> bool {
    ws.rscs.iter().any(|r| r.managed)
}

/// Schedule fencing of unclean nodes and shutdowns.
pub fn schedule_fencing_and_shutdowns(ws: &mut WorkingSet) {
    let have_managed = any_managed(ws);
    let mut dc_down: Option<ActionId> = None;
    let mut fencing_ops: Vec<ActionId> = Vec::new();
    let mut shutdown_ops: Vec<ActionId> = Vec::new();
    for n in 0..ws.nodes.len() {
        if crate::remote_node::is_guest(ws, n) {
            // Guest nodes are "fenced" by recovering their container.
            if crate::remote_node::requires_reset(ws, n) && have_managed && can_fence(ws, n) {
                if let Some(f) = crate::remote::fence_guest(ws, n) {
                    order_vs_fence(ws, f);
                }
            }
            continue;
        }
        if have_managed && ws.nodes[n].unclean && can_fence(ws, n) {
            let f = fence_op(ws, n, Some("node is unclean"), false);
            order_vs_fence(ws, f);
            if ws.nodes[n].is_dc {
                dc_down = Some(f);
            } else {
                if !ws.options.concurrent_fencing {
                    if let Some(&prev) = fencing_ops.first() {
                        order_actions(ws, prev, f, of::OPTIONAL);
                    }
                }
                fencing_ops.insert(0, f);
            }
        } else if ws.nodes[n].online
            && ws.nodes[n].shutdown
            && !crate::remote_node::is_remote_kind(ws, n)
        {
            let id = ws.actions.len();
            ws.actions.push(Action {
                rsc: None,
                task: "do_shutdown".into(),
                interval_ms: 0,
                node: Some(n),
                flags: af::RUNNABLE,
                reason: None,
                before: Vec::new(),
                after: Vec::new(),
                fence_type: None,
                needs: Needs::Nothing,
                runnable_before: 0,
                required_runnable_before: 0,
                name: Some(format!("shutdown-{}", ws.nodes[n].name)),
            });
            ws.fence_actions.push(id);
            order_stops_before_shutdown(ws, n, id);
            if ws.nodes[n].is_dc {
                dc_down = Some(id);
            } else {
                shutdown_ops.insert(0, id);
            }
        }
    }
    if let Some(dc) = dc_down {
        if ws.actions[dc].task == "do_shutdown" {
            for s in shutdown_ops {
                order_actions(ws, s, dc, of::OPTIONAL);
            }
        }
        if ws.options.concurrent_fencing {
            for f in fencing_ops {
                order_actions(ws, f, dc, of::OPTIONAL);
            }
        } else if let Some(&f) = fencing_ops.first() {
            order_actions(ws, f, dc, of::OPTIONAL);
        }
    }
}

fn order_stops_before_shutdown(ws: &mut WorkingSet, n: NodeId, shutdown: ActionId) {
    for a in 0..ws.actions.len() {
        let act = &ws.actions[a];
        let Some(r) = act.rsc else { continue };
        if act.node != Some(n) || act.task != "stop" {
            continue;
        }
        if ws.rscs[r].maintenance || ws.nodes[n].maintenance {
            continue;
        }
        if !ws.rscs[r].managed && !ws.rscs[r].block {
            continue;
        }
        ws.actions[a].flags &= !af::OPTIONAL;
        ws.orderings.push(Ordering {
            first_rsc: Some(r),
            first_task: None,
            first_action: Some(a),
            then_rsc: None,
            then_task: None,
            then_action: Some(shutdown),
            flags: of::OPTIONAL | of::RUNNABLE_LEFT,
        });
    }
}

/// Stops (and demotes) on a fenced node are implied by the fencing.
pub fn order_vs_fence(ws: &mut WorkingSet, fence: ActionId) {
    let Some(target) = ws.actions[fence].node else {
        return;
    };
    for r in 0..ws.rscs.len() {
        if ws.rscs[r].variant != Variant::Primitive {
            continue;
        }
        let order_implicit = ws.rscs[r].needs_fencing;
        let top = ws.uber_parent(r);
        let stops = find_actions(ws, r, "stop", Some(target), false);
        let parent_stop = if !stops.is_empty() && order_implicit {
            find_action(ws, top, "stop", None)
        } else {
            None
        };
        for s in stops {
            ws.actions[s].flags |= af::PSEUDO | af::RUNNABLE;
            if order_implicit {
                ws.actions[s].flags |= af::IMPLIED_BY_STONITH;
                order_actions(ws, fence, s, of::PRESERVE);
                if let Some(ps) = parent_stop {
                    order_actions(ws, fence, ps, of::PRESERVE);
                }
            }
        }
        for d in find_actions(ws, r, "demote", Some(target), false) {
            let n = ws.actions[d].node.unwrap_or(target);
            if !ws.nodes[n].online || ws.nodes[n].unclean || ws.rscs[r].failed {
                ws.actions[d].flags |= af::PSEUDO | af::RUNNABLE;
                if order_implicit {
                    order_actions(ws, fence, d, of::PRESERVE | of::OPTIONAL);
                }
            }
        }
    }
}

// -------------------------------------------------------------- probes

/// Schedule probes (one-shot monitors) of resources whose state on a node
/// is unknown. An unrunnable probe (e.g. on a pending node) of an inactive
/// resource blocks its start.
pub fn schedule_probes(ws: &mut WorkingSet) {
    if !ws.options.startup_probes {
        return;
    }
    for n in 0..ws.nodes.len() {
        if !crate::remote::probe_node(ws, n) {
            continue;
        }
        let node = &ws.nodes[n];
        if !node.online || node.unclean {
            continue;
        }
        if node
            .attrs
            .get("probe_complete")
            .is_some_and(|v| !crate::rules::is_true(v))
        {
            continue;
        }
        for r in ws.top.clone() {
            probe_resource(ws, r, n);
        }
    }
}

/// Whether resource discovery allows probing primitive `r` on node `n`.
fn discoverable(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    let top = ws.uber_parent(r);
    let mode = ws.rscs[r].discover.get(&n).copied();
    let allowed = ws.rscs[r].allowed.contains_key(&n);
    let exclusive = ws.rscs[r].exclusive_discover || ws.rscs[top].exclusive_discover;
    if exclusive && (!allowed || mode != Some(Discover::Exclusive)) {
        return false;
    }
    mode != Some(Discover::Never)
}

fn probe_resource(ws: &mut WorkingSet, r: RscId, n: NodeId) {
    if !crate::remote::probe_allowed(ws, r, n) {
        return;
    }
    match ws.rscs[r].variant {
        Variant::Group => {
            for c in ws.rscs[r].children.clone() {
                probe_resource(ws, c, n);
            }
        }
        Variant::Clone => {
            let mode = ws.rscs[r].discover.get(&n).copied().unwrap_or_default();
            if ws.rscs[r].exclusive_discover
                && ws.rscs[r].allowed.contains_key(&n)
                && mode != Discover::Exclusive
            {
                // Pacemaker drops the node from the clone's allowed nodes
                // (so notifications list only possible nodes) and probes
                // nothing there.
                ws.rscs[r].allowed.remove(&n);
                return;
            }
            if ws.rscs[r].unique {
                for c in ws.rscs[r].children.clone() {
                    probe_resource(ws, c, n);
                }
                return;
            }
            // An instance whose state on the node is known (probed there
            // before), else one planned there, else the first.
            let children = ws.rscs[r].children.clone();
            let active = children.iter().copied().find(|&c| {
                ws.primitives_of(c)
                    .iter()
                    .any(|&p| ws.rscs[p].known_on.contains(&n))
            });
            let assigned = children
                .iter()
                .copied()
                .find(|&c| crate::graph::assigned_location(ws, c) == Some(n));
            if let Some(c) = active.or(assigned).or(children.first().copied()) {
                probe_resource(ws, c, n);
            }
        }
        Variant::Primitive => {
            if ws.rscs[r].orphan || ws.rscs[r].known_on.contains(&n) || !discoverable(ws, r, n) {
                return;
            }
            if !crate::remote::probe_primitive(ws, r, n) {
                return;
            }
            let probe = custom_action(ws, r, "monitor", Some(n), false);
            ws.actions[probe].flags &= !af::OPTIONAL;
            order_vs_unfence(ws, r, n, probe, of::OPTIONAL);
            let top = ws.uber_parent(r);
            let target = if ws.rscs[top].variant == Variant::Clone {
                top
            } else {
                r
            };
            let mut flags = of::OPTIONAL;
            if !ws.actions[probe].has(af::RUNNABLE) && ws.rscs[r].running_on.is_empty() {
                flags |= of::RUNNABLE_LEFT;
            }
            ws.orderings.push(Ordering {
                first_rsc: Some(r),
                first_task: None,
                first_action: Some(probe),
                then_rsc: Some(target),
                then_task: Some("start".into()),
                then_action: None,
                flags,
            });
        }
    }
}

fn check_role_change(ws: &WorkingSet, r: RscId, demoting: &mut bool, promoting: &mut bool) {
    if !ws.rscs[r].children.is_empty() {
        for &c in &ws.rscs[r].children {
            check_role_change(ws, c, demoting, promoting);
        }
        return;
    }
    for &a in &ws.rscs[r].actions {
        let act = &ws.actions[a];
        if act.has(af::OPTIONAL) {
            continue;
        }
        if act.task == "demote" {
            *demoting = true;
        } else if act.task == "promote" {
            *promoting = true;
        }
    }
}

pub fn create_promotable_actions(ws: &mut WorkingSet, clone: RscId) {
    let mut promoting = false;
    let mut demoting = false;
    for c in ws.rscs[clone].children.clone() {
        crate::actions::create_actions(ws, c);
        check_role_change(ws, c, &mut demoting, &mut promoting);
    }
    crate::graph::pseudo_action(ws, clone, "promote", !promoting, true);
    crate::graph::pseudo_action(ws, clone, "promoted", !promoting, true);
    crate::graph::pseudo_action(ws, clone, "demote", !demoting, true);
    crate::graph::pseudo_action(ws, clone, "demoted", !demoting, true);
    crate::notify::create_post_notifications(ws, clone, "promoted");
    crate::notify::create_post_notifications(ws, clone, "demoted");
    let p = ws.rscs[clone].priority;
    for c in ws.rscs[clone].children.clone() {
        ws.rscs[c].priority = p;
    }
}

pub fn order_promotable_instances(ws: &mut WorkingSet, clone: RscId) {
    order_rsc(ws, clone, "stopped", clone, "start", of::OPTIONAL);
    order_rsc(ws, clone, "stopped", clone, "promote", of::OPTIONAL);
    order_rsc(ws, clone, "demoted", clone, "stop", of::OPTIONAL);
    order_rsc(ws, clone, "demoted", clone, "start", of::OPTIONAL);
    order_rsc(ws, clone, "demoted", clone, "promote", of::OPTIONAL);
    order_rsc(ws, clone, "running", clone, "promote", of::OPTIONAL);
    order_rsc(ws, clone, "demote", clone, "demoted", of::OPTIONAL);
    let ordered = ws.rscs[clone].ordered;
    let mut prev: Option<RscId> = None;
    for inst in ws.rscs[clone].children.clone() {
        order_rsc(ws, inst, "demote", inst, "promote", of::OPTIONAL);
        order_rsc(ws, clone, "promote", inst, "promote", of::OPTIONAL);
        order_rsc(ws, inst, "promote", clone, "promoted", of::OPTIONAL);
        if let (Some(p), true) = (prev, ordered) {
            order_rsc(ws, p, "promote", inst, "promote", of::OPTIONAL);
        }
        order_rsc(
            ws,
            clone,
            "demote",
            inst,
            "demote",
            of::IMPLIES_FIRST_PRINTED,
        );
        order_rsc(
            ws,
            inst,
            "demote",
            clone,
            "demoted",
            of::IMPLIES_THEN_PRINTED,
        );
        if let (Some(p), true) = (prev, ordered) {
            order_rsc(ws, inst, "demote", p, "demote", of::OPTIONAL);
        }
        prev = Some(inst);
    }
}
