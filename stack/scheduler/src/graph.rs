//! Building blocks every scheduling stage uses on the working set: finding
//! and creating actions (with runnability and reasons), fencing a node,
//! ordering two actions, banning a resource from a node, and where a
//! resource is active or assigned. Depends only on the data model.

use hasim_cib::Score;

use crate::ws::*;

fn key_task_matches(a: &Action, task: &str) -> bool {
    a.interval_ms == 0 && a.task == task
}

/// Find a resource's action by task on a node (None = any node).
pub fn find_action(
    ws: &WorkingSet,
    rsc: RscId,
    task: &str,
    node: Option<NodeId>,
) -> Option<ActionId> {
    ws.rscs[rsc].actions.iter().copied().find(|&a| {
        key_task_matches(&ws.actions[a], task)
            && (node.is_none() || ws.actions[a].node.is_none() || ws.actions[a].node == node)
    })
}

/// Actions of a resource with a task, on a node (exact when `exact`).
pub fn find_actions(
    ws: &WorkingSet,
    rsc: RscId,
    task: &str,
    node: Option<NodeId>,
    exact: bool,
) -> Vec<ActionId> {
    ws.rscs[rsc]
        .actions
        .iter()
        .copied()
        .filter(|&a| {
            let act = &ws.actions[a];
            key_task_matches(act, task)
                && match node {
                    None => !exact || act.node.is_none(),
                    Some(n) => act.node == Some(n) || (!exact && act.node.is_none()),
                }
        })
        .collect()
}

pub fn set_reason(ws: &mut WorkingSet, a: ActionId, reason: Option<String>, overwrite: bool) {
    if ws.actions[a].reason.is_none() || overwrite {
        ws.actions[a].reason = reason;
    }
}

fn effective_no_quorum(ws: &mut WorkingSet, rsc: RscId) -> NoQuorum {
    if ws.options.have_quorum {
        return NoQuorum::Ignore;
    }
    if ws.options.no_quorum_policy == NoQuorum::Demote {
        return match ws.rscs[rsc].role {
            Role::Promoted | Role::Unpromoted => {
                if ws.rscs[rsc].next_role > Role::Unpromoted {
                    ws.rscs[rsc].next_role = Role::Unpromoted;
                }
                NoQuorum::Ignore
            }
            _ => NoQuorum::Stop,
        };
    }
    ws.options.no_quorum_policy
}

pub fn rsc_active(ws: &WorkingSet, r: RscId) -> bool {
    ws.primitives_of(r)
        .iter()
        .any(|&p| !ws.rscs[p].running_on.is_empty())
}

/// Pacemaker's custom_action for resource actions (find or create).
pub fn custom_action(
    ws: &mut WorkingSet,
    rsc: RscId,
    task: &str,
    node: Option<NodeId>,
    optional: bool,
) -> ActionId {
    let mut existing = ws.rscs[rsc]
        .actions
        .iter()
        .copied()
        .find(|&a| key_task_matches(&ws.actions[a], task) && ws.actions[a].node == node);
    // An action created before assignment (without a node) is adopted by
    // the first lookup on a node, as Pacemaker's find_actions does.
    if existing.is_none() && node.is_some() {
        existing = ws.rscs[rsc]
            .actions
            .iter()
            .copied()
            .find(|&a| key_task_matches(&ws.actions[a], task) && ws.actions[a].node.is_none());
        if let Some(a) = existing {
            ws.actions[a].node = node;
        }
    }
    let a = match existing {
        Some(a) => a,
        None => {
            let needs = if task != "start" && task != "promote" {
                Needs::Nothing
            } else if ws.rscs[rsc].needs_fencing {
                Needs::Fencing
            } else if ws.rscs[rsc].needs_quorum {
                Needs::Quorum
            } else {
                Needs::Nothing
            };
            let id = ws.actions.len();
            ws.actions.push(Action {
                rsc: Some(rsc),
                task: task.to_string(),
                interval_ms: 0,
                node,
                flags: af::RUNNABLE | if optional { af::OPTIONAL } else { 0 },
                reason: None,
                before: Vec::new(),
                after: Vec::new(),
                fence_type: None,
                needs,
                runnable_before: 0,
                required_runnable_before: 0,
                name: None,
            });
            ws.rscs[rsc].actions.push(id);
            id
        }
    };
    // update_action_optional
    if node.is_some() && !ws.actions[a].has(af::PSEUDO) && !ws.rscs[rsc].managed {
        ws.actions[a].flags |= af::OPTIONAL;
    } else if !optional {
        ws.actions[a].flags &= !af::OPTIONAL;
    }
    update_runnable(ws, a);
    a
}

pub fn update_runnable(ws: &mut WorkingSet, a: ActionId) {
    if ws.actions[a].has(af::PSEUDO) {
        return;
    }
    let Some(rsc) = ws.actions[a].rsc else { return };
    match ws.actions[a].node {
        None => ws.actions[a].flags &= !af::RUNNABLE,
        Some(n) if !ws.nodes[n].online && !crate::remote_node::offline_guest_runnable(ws, n) => {
            ws.actions[a].flags &= !af::RUNNABLE;
            if ws.rscs[rsc].managed && ws.actions[a].task == "stop" && !ws.nodes[n].unclean {
                crate::graph::fence_node(ws, n, "stop is unrunnable");
            }
        }
        Some(n) if ws.nodes[n].pending => ws.actions[a].flags &= !af::RUNNABLE,
        Some(n) => {
            if ws.actions[a].needs == Needs::Nothing {
                ws.actions[a].reason = None;
                // Even an action needing nothing cannot complete on a guest
                // node whose host is unclean and cannot be fenced.
                if crate::remote_node::is_guest(ws, n) && !can_fence(ws, n) {
                    ws.actions[a].flags &= !af::RUNNABLE;
                } else {
                    ws.actions[a].flags |= af::RUNNABLE;
                }
            } else {
                match effective_no_quorum(ws, rsc) {
                    NoQuorum::Stop | NoQuorum::Suicide => {
                        ws.actions[a].flags &= !af::RUNNABLE;
                        set_reason(ws, a, Some("no quorum".into()), true);
                    }
                    NoQuorum::Freeze => {
                        if !rsc_active(ws, rsc) || ws.rscs[rsc].next_role > ws.rscs[rsc].role {
                            ws.actions[a].flags &= !af::RUNNABLE;
                            set_reason(ws, a, Some("quorum freeze".into()), true);
                        }
                    }
                    _ => ws.actions[a].flags |= af::RUNNABLE,
                }
            }
        }
    }
}

/// A resource pseudo action (group/clone start, running, stop, stopped...).
pub fn pseudo_action(
    ws: &mut WorkingSet,
    rsc: RscId,
    task: &str,
    optional: bool,
    runnable: bool,
) -> ActionId {
    let a = custom_action(ws, rsc, task, None, optional);
    ws.actions[a].flags |= af::PSEUDO;
    if runnable {
        ws.actions[a].flags |= af::RUNNABLE;
    }
    a
}

/// Find or create the fencing action for a node.
pub fn fence_op(
    ws: &mut WorkingSet,
    node: NodeId,
    reason: Option<&str>,
    optional: bool,
) -> ActionId {
    let kind = ws.options.stonith_action.clone();
    fence_op_of(ws, node, &kind, reason, optional)
}

/// Find or create the fencing action of a kind (`reboot`, `off`, `on`)
/// for a node (Pacemaker's pe_fence_op: one action per node and kind).
pub fn fence_op_of(
    ws: &mut WorkingSet,
    node: NodeId,
    kind: &str,
    reason: Option<&str>,
    optional: bool,
) -> ActionId {
    let existing = ws.fence_actions.iter().copied().find(|&a| {
        ws.actions[a].node == Some(node) && ws.actions[a].fence_type.as_deref() == Some(kind)
    });
    let a = match existing {
        Some(a) => a,
        None => {
            let id = ws.actions.len();
            ws.actions.push(Action {
                rsc: None,
                task: "stonith".into(),
                interval_ms: 0,
                node: Some(node),
                flags: af::RUNNABLE | af::OPTIONAL,
                reason: None,
                before: Vec::new(),
                after: Vec::new(),
                fence_type: Some(kind.to_string()),
                needs: Needs::Nothing,
                runnable_before: 0,
                required_runnable_before: 0,
                name: None,
            });
            ws.fence_actions.push(id);
            id
        }
    };
    if !optional {
        ws.actions[a].flags &= !af::OPTIONAL;
    }
    if let Some(r) = reason {
        if ws.actions[a].reason.is_none() {
            ws.actions[a].reason = Some(r.to_string());
        }
    }
    a
}

/// Whether fencing a node is possible (configured, a device exists, and
/// quorum or the node's own membership allows it).
pub fn can_fence(ws: &WorkingSet, n: NodeId) -> bool {
    if crate::remote_node::is_guest(ws, n) {
        return crate::remote_node::can_fence_guest(ws, n, |h| can_fence(ws, h));
    }
    if !ws.options.stonith_enabled || !ws.options.have_stonith_resource {
        return false;
    }
    if ws.options.have_quorum || ws.options.no_quorum_policy == NoQuorum::Ignore {
        return true;
    }
    ws.nodes[n].online
}

/// Whether a node has been unfenced (`#node-unfenced` set and not 0).
pub fn node_unfenced(ws: &WorkingSet, n: NodeId) -> bool {
    ws.nodes[n]
        .attrs
        .get("#node-unfenced")
        .is_some_and(|v| v != "0")
}

/// Require unfencing of a node, for `reason` (Pacemaker's
/// trigger_unfencing): only when unfencing is enabled, only for fence
/// devices when a resource is given, on the node if it is up, otherwise on
/// every up node the device may run on.
pub fn trigger_unfencing(
    ws: &mut WorkingSet,
    rsc: Option<RscId>,
    node: Option<NodeId>,
    reason: &str,
) {
    if !ws.options.enable_unfencing {
        return;
    }
    if rsc.is_some_and(|r| !ws.rscs[r].fence_device) {
        return;
    }
    let up = |ws: &WorkingSet, n: NodeId| {
        let node = &ws.nodes[n];
        node.online && !node.unclean && !node.shutdown
    };
    match (node, rsc) {
        (Some(n), _) if up(ws, n) => {
            let required = can_fence(ws, n);
            fence_op_of(ws, n, "on", Some(reason), !required);
        }
        (_, Some(r)) => {
            let allowed: Vec<NodeId> = ws.rscs[r].allowed.keys().copied().collect();
            for n in allowed {
                if up(ws, n) {
                    trigger_unfencing(ws, Some(r), Some(n), reason);
                }
            }
        }
        _ => {}
    }
}

/// Order a probe or start after unfencing of its node when the resource
/// needs it (fence devices too once unfencing is enabled), and require the
/// unfencing if the node was never unfenced.
pub fn order_vs_unfence(ws: &mut WorkingSet, r: RscId, n: NodeId, action: ActionId, flags: u32) {
    let device = ws.rscs[r].fence_device && ws.options.enable_unfencing;
    if !(device || ws.rscs[r].needs_unfencing) {
        return;
    }
    let unfence = fence_op_of(ws, n, "on", None, true);
    order_actions(ws, unfence, action, flags);
    if !node_unfenced(ws, n) {
        let reason = format!("required by {} {}", ws.rscs[r].id, ws.actions[action].task);
        trigger_unfencing(ws, None, Some(n), &reason);
    }
}

/// Add an ordering edge; false if an equivalent one exists.
pub fn order_actions(ws: &mut WorkingSet, first: ActionId, then: ActionId, flags: u32) -> bool {
    if flags == of::NONE || first == then {
        return false;
    }
    if ws.actions[first]
        .after
        .iter()
        .any(|&(t, f)| t == then && (f & flags) != 0)
    {
        return false;
    }
    ws.actions[first].after.push((then, flags));
    ws.actions[then].before.push((first, flags));
    true
}

/// Counts of nodes a primitive is active on (all, clean) and its main node.
pub fn find_active_on(ws: &WorkingSet, r: RscId) -> (Option<NodeId>, usize, usize) {
    let rsc = &ws.rscs[r];
    let mut active: Option<NodeId> = None;
    let mut all = 0;
    let mut clean = 0;
    for &n in &rsc.running_on {
        let happy = ws.nodes[n].online && !ws.nodes[n].unclean;
        all += 1;
        if happy {
            clean += 1;
        }
        if let Some((source, _)) = rsc.partial_migration {
            // The migration source is where it is active.
            if n == source {
                active = Some(n);
            }
        } else if !rsc.needs_fencing
            && happy
            && active.is_none_or(|a| !ws.nodes[a].online || ws.nodes[a].unclean)
        {
            active = Some(n);
        }
        if active.is_none() {
            active = Some(n);
        }
    }
    (active, all, clean)
}

/// Current role of any resource (max over primitives).
pub fn current_role(ws: &WorkingSet, r: RscId) -> Role {
    if ws.rscs[r].variant == Variant::Primitive {
        return ws.rscs[r].role;
    }
    ws.rscs[r]
        .children
        .iter()
        .map(|&c| current_role(ws, c))
        .max()
        .unwrap_or(Role::Stopped)
}

/// Add a location preference (node None = every node).
pub fn add_location(ws: &mut WorkingSet, rsc: RscId, node: Option<NodeId>, score: i32) {
    let nodes: Vec<NodeId> = match node {
        Some(n) => vec![n],
        None => (0..ws.nodes.len()).collect(),
    };
    let kids = ws.rscs[rsc].children.clone();
    if node.is_none() && ws.rscs[rsc].allowed.is_empty() {
        // Every node at once (built in one pass from the sorted ids).
        ws.rscs[rsc].allowed = nodes.iter().map(|&n| (n, Score::from(score))).collect();
    } else {
        for &n in &nodes {
            let e = ws.rscs[rsc].allowed.entry(n).or_insert(Score::ZERO);
            *e += Score::from(score);
        }
    }
    for c in kids {
        add_location(ws, c, node, score);
    }
}

/// Mark a node for fencing (Pacemaker's pe_fence_node for cluster nodes).
pub fn fence_node(ws: &mut WorkingSet, node: NodeId, reason: &str) {
    match crate::remote_node::mark_for_fencing(ws, node) {
        Some(true) => {
            fence_op(ws, node, Some(reason), true);
            return;
        }
        Some(false) => return,
        None => {}
    }
    if ws.nodes[node].unclean {
        return;
    }
    ws.nodes[node].unclean = true;
    crate::graph::fence_op(ws, node, Some(reason), true);
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
