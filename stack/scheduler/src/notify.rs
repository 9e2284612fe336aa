//! Clone notifications, as far as they decide orderings: the "post"
//! notification pseudo-actions of a clone with `notify=true`
//! (pe__clone_notif_pseudo_ops) and the remapping of an ordering's first
//! action onto them (action_uuid_for_ordering: "start CLONE then X" waits
//! for `CLONE_confirmed-post_notify_running_0`, whose task is `notified`,
//! so a dependent restarted because of it is "due to required CLONE
//! notified").
//!
//! Not modelled: the "pre" pseudo-actions (ordered only optionally
//! before the action) and the per-instance `notify` actions on nodes (no
//! summary effect; `Executing Cluster Transition` omits them).

use crate::graph::{find_action, order_actions};
use crate::ws::*;

/// Whether orderings against `r` go through its notifications: a clone
/// with notifications that is not inside another resource.
pub fn orders_through_notifications(ws: &WorkingSet, r: RscId) -> bool {
    let rsc = &ws.rscs[r];
    rsc.variant == Variant::Clone
        && rsc.parent.is_none()
        && rsc
            .meta
            .get("notify")
            .is_some_and(|v| crate::rules::is_true(v))
}

/// Name of the "post-notifications confirmed" pseudo-action after
/// `complete` (running, stopped, promoted, demoted).
fn confirmed_post_name(ws: &WorkingSet, r: RscId, complete: &str) -> String {
    format!("{}_confirmed-post_notify_{complete}_0", ws.rscs[r].id)
}

/// A clone's pseudo-action identified by name (notification keys share
/// the tasks `notify` and `notified`).
fn named_pseudo_action(
    ws: &mut WorkingSet,
    r: RscId,
    task: &str,
    name: String,
    like: ActionId,
) -> ActionId {
    if let Some(a) = find_named(ws, r, &name) {
        return a;
    }
    let optional = ws.actions[like].has(af::OPTIONAL);
    let runnable = ws.actions[like].has(af::RUNNABLE);
    // A fresh action: pseudo_action would find the other notification
    // action with the same task.
    let id = ws.actions.len();
    let mut act = ws.actions[like].clone();
    act.task = task.to_string();
    act.name = Some(name);
    act.before.clear();
    act.after.clear();
    act.reason = None;
    act.flags = af::PSEUDO
        | if optional { af::OPTIONAL } else { 0 }
        | if runnable { af::RUNNABLE } else { 0 };
    ws.actions.push(act);
    ws.rscs[r].actions.push(id);
    id
}

fn find_named(ws: &WorkingSet, r: RscId, name: &str) -> Option<ActionId> {
    ws.rscs[r]
        .actions
        .iter()
        .copied()
        .find(|&a| ws.actions[a].name.as_deref() == Some(name))
}

/// The post-notification pseudo-actions after the clone's `complete`
/// pseudo-action, ordered complete -> post -> confirmed-post, each
/// implying the next (taking its optional and runnable flags from
/// `complete` as it is now).
pub fn create_post_notifications(ws: &mut WorkingSet, r: RscId, complete: &str) {
    if !orders_through_notifications(ws, r) {
        return;
    }
    let Some(done) = find_action(ws, r, complete, None) else {
        return;
    };
    let id = ws.rscs[r].id.clone();
    let post = named_pseudo_action(
        ws,
        r,
        "notify",
        format!("{id}_post_notify_{complete}_0"),
        done,
    );
    let confirmed = confirmed_post_name(ws, r, complete);
    let post_done = named_pseudo_action(ws, r, "notified", confirmed, done);
    order_actions(ws, done, post, of::IMPLIES_THEN);
    order_actions(ws, post, post_done, of::IMPLIES_THEN);
}

/// The confirmed-post pseudo-action an ordering uses instead of the
/// clone's `task` (start/running -> running, ...), if the clone has one.
pub fn ordering_action(ws: &WorkingSet, r: RscId, task: &str) -> Option<ActionId> {
    if !orders_through_notifications(ws, r) {
        return None;
    }
    let complete = match task {
        "start" | "running" => "running",
        "stop" | "stopped" => "stopped",
        "promote" | "promoted" => "promoted",
        "demote" | "demoted" => "demoted",
        _ => return None,
    };
    find_named(ws, r, &confirmed_post_name(ws, r, complete))
}

/// The operation a notification pseudo-action is about (`running` for
/// `CLONE_confirmed-post_notify_running_0`): what the clone's instances are
/// asked about when summarising its flags (clone_child_action).
pub fn notified_operation(act: &Action) -> Option<&str> {
    if act.task != "notify" && act.task != "notified" {
        return None;
    }
    let name = act.name.as_deref()?;
    let rest = &name[name.rfind("_notify_")? + "_notify_".len()..];
    rest.strip_suffix("_0")
}
