//! The "Transition Summary" lines, as Pacemaker's rsc-action message
//! formats them (including its column padding, which depends on the widths
//! seen so far).

use crate::graph::{find_actions, find_active_on};
use crate::ws::*;

/// Column widths carried across lines (Pacemaker keeps them static).
#[derive(Debug, Clone)]
pub struct Widths {
    pub rsc: usize,
    pub detail: usize,
}

impl Default for Widths {
    fn default() -> Self {
        Widths { rsc: 5, detail: 5 }
    }
}

/// One summary line before formatting.
#[derive(Debug, Clone)]
pub struct Item {
    pub change: String,
    pub rsc: String,
    pub details: String,
    pub reason: Option<String>,
}

fn first_action(ws: &WorkingSet, r: RscId, task: &str, node: Option<NodeId>) -> Option<ActionId> {
    find_actions(ws, r, task, node, false).into_iter().next()
}

#[allow(clippy::too_many_arguments)]
fn item(
    ws: &WorkingSet,
    change: &str,
    r: RscId,
    origin: Option<NodeId>,
    dest: Option<NodeId>,
    action: Option<ActionId>,
    source: Option<ActionId>,
    out: &mut Vec<Item>,
) {
    let rsc = &ws.rscs[r];
    let Some(action) = action else { return };
    let source = source.unwrap_or(action);
    let need_role = rsc.role > Role::Started || rsc.next_role > Role::Unpromoted;
    let same_host = origin.is_some() && origin == dest;
    let same_role = rsc.role == rsc.next_role;
    let name = |n: Option<NodeId>| n.map(|n| ws.nodes[n].name.clone()).unwrap_or_default();
    let details = if need_role && origin.is_none() {
        format!(
            "{} -> {} {}",
            rsc.role.name(),
            rsc.next_role.name(),
            name(dest)
        )
    } else if origin.is_none() {
        name(dest)
    } else if need_role && dest.is_none() {
        format!("{} {}", rsc.role.name(), name(origin))
    } else if dest.is_none() {
        name(origin)
    } else if need_role && same_role && same_host {
        format!("{} {}", rsc.role.name(), name(origin))
    } else if same_role && same_host {
        name(origin)
    } else if need_role && same_role {
        format!("{} -> {} {}", name(origin), name(dest), rsc.role.name())
    } else if same_role {
        format!("{} -> {}", name(origin), name(dest))
    } else if same_host {
        format!(
            "{} -> {} {}",
            rsc.role.name(),
            rsc.next_role.name(),
            name(origin)
        )
    } else {
        format!(
            "{} {} -> {} {}",
            rsc.role.name(),
            name(origin),
            rsc.next_role.name(),
            name(dest)
        )
    };
    let runnable = ws.actions[action].has(af::RUNNABLE);
    let reason = match (&ws.actions[source].reason, runnable) {
        (Some(r), false) => Some(format!("due to {r} (blocked)")),
        (Some(r), true) => Some(format!("due to {r}")),
        (None, false) => Some("blocked".to_string()),
        (None, true) => None,
    };
    out.push(Item {
        change: change.to_string(),
        rsc: rsc.id.clone(),
        details,
        reason,
    });
}

/// Summary items for one primitive (Pacemaker's rsc_action_default).
fn primitive_items(ws: &mut WorkingSet, r: RscId, out: &mut Vec<Item>) {
    let next = ws.rscs[r].assigned;
    let mut current = None;
    if !ws.rscs[r].running_on.is_empty() {
        current = find_active_on(ws, r).0;
        if ws.rscs[r].role == Role::Stopped {
            ws.rscs[r].role = Role::Started;
        }
    }
    if current.is_none() && ws.rscs[r].orphan {
        return;
    }
    let ws = &*ws;
    let rsc = &ws.rscs[r];
    if !rsc.managed || (current.is_none() && next.is_none()) {
        return;
    }
    let moving = current.is_some() && next.is_some() && current != next;
    let start = first_action(ws, r, "start", next);
    let start_node = match start {
        Some(s) if ws.actions[s].has(af::RUNNABLE) => current,
        _ => None,
    };
    let mut stop = first_action(ws, r, "stop", start_node);
    if stop.is_none() && rsc.stop_unexpected {
        // Stopping elsewhere than where it stays.
        stop = first_action(ws, r, "stop", None);
    }
    let promote = first_action(ws, r, "promote", next);
    let demote = first_action(ws, r, "demote", next);
    let opt = |a: Option<ActionId>| a.is_none_or(|a| ws.actions[a].has(af::OPTIONAL));
    // A required stop cancels an agent reload (it becomes a restart).
    let reload = rsc.reload && opt(stop);
    let runnable = |a: Option<ActionId>| a.is_some_and(|a| ws.actions[a].has(af::RUNNABLE));
    if rsc.role == rsc.next_role {
        let Some(_) = next else { return };
        let migrate = first_action(ws, r, "migrate_from", next);
        if migrate.is_some_and(|m| ws.actions[m].has(af::RUNNABLE)) && current.is_some() {
            item(ws, "Migrate", r, current, next, start, None, out);
        } else if reload {
            item(ws, "Reload", r, current, next, start, None, out);
        } else if start.is_none() || opt(start) {
            if demote.is_some() && promote.is_some() && !opt(demote) && !opt(promote) {
                item(ws, "Re-promote", r, current, next, promote, demote, out);
            }
        } else if !runnable(start) {
            let src = if stop.is_some_and(|s| ws.actions[s].reason.is_some()) {
                stop
            } else {
                start
            };
            item(ws, "Stop", r, current, None, stop, src, out);
        } else if moving && current.is_some() {
            item(
                ws,
                if rsc.failed { "Recover" } else { "Move" },
                r,
                current,
                next,
                stop,
                None,
                out,
            );
        } else if rsc.failed {
            item(ws, "Recover", r, current, None, stop, None, out);
        } else {
            item(ws, "Restart", r, current, next, start, None, out);
        }
        return;
    }
    if stop.is_some() && (rsc.next_role == Role::Stopped || (start.is_some() && !runnable(start))) {
        for &n in &rsc.running_on {
            let stop_op = find_actions(ws, r, "stop", Some(n), false)
                .into_iter()
                .next();
            let src = if stop_op.is_some_and(|s| ws.actions[s].reason.is_some()) {
                stop_op
            } else {
                start
            };
            item(ws, "Stop", r, Some(n), None, stop_op, src, out);
        }
    } else if stop.is_some() && rsc.failed && rsc.stop_flag {
        item(ws, "Recover", r, current, next, stop, start, out);
    } else if moving {
        item(ws, "Move", r, current, next, stop, None, out);
    } else if reload {
        item(ws, "Reload", r, current, next, start, None, out);
    } else if stop.is_some() && !opt(stop) {
        item(ws, "Restart", r, current, next, start, None, out);
    } else if rsc.role == Role::Promoted {
        item(ws, "Demote", r, current, next, demote, None, out);
    } else if rsc.next_role == Role::Promoted {
        item(ws, "Promote", r, current, next, promote, None, out);
    } else if rsc.role == Role::Stopped && rsc.next_role > Role::Stopped {
        item(ws, "Start", r, current, next, start, None, out);
    }
}

fn resource_items(ws: &mut WorkingSet, r: RscId, out: &mut Vec<Item>) {
    if ws.rscs[r].variant == Variant::Primitive {
        primitive_items(ws, r, out);
    } else {
        for c in ws.rscs[r].children.clone() {
            resource_items(ws, c, out);
        }
    }
}

/// Node-level lines (fencing, shutdown), newest first as Pacemaker lists them.
fn node_lines(ws: &WorkingSet) -> Vec<String> {
    let mut lines = Vec::new();
    let mut acts: Vec<ActionId> = ws.fence_actions.clone();
    acts.sort();
    for &a in acts.iter().rev() {
        let act = &ws.actions[a];
        if act.has(af::OPTIONAL) {
            continue;
        }
        let Some(n) = act.node else { continue };
        let task = if act.task == "do_shutdown" {
            "Shutdown".to_string()
        } else {
            format!("Fence ({})", act.fence_type.as_deref().unwrap_or("reboot"))
        };
        if let Some(reason) = &act.reason {
            let target = crate::remote_node::fence_target_name(ws, n);
            lines.push(format!("{task} {target} '{reason}'"));
        }
    }
    lines
}

/// Compute summary items in Pacemaker's output order.
pub fn items(ws: &mut WorkingSet) -> (Vec<String>, Vec<Item>) {
    let nodes = node_lines(ws);
    let mut out = Vec::new();
    for r in ws.top.clone() {
        resource_items(ws, r, &mut out);
    }
    (nodes, out)
}

/// Format items with Pacemaker's padding; widths evolve as lines are printed.
pub fn format_items(items: &[Item], widths: &mut Widths) -> Vec<String> {
    let mut lines = Vec::new();
    for it in items {
        if it.rsc.len() > widths.rsc {
            widths.rsc = it.rsc.len() + 2;
        }
        if it.details.len() > widths.detail {
            widths.detail = it.details.len();
        }
        let mut line = format!(
            "{:<8}   {:<rw$}   ( {:>dw$} )",
            it.change,
            it.rsc,
            it.details,
            rw = widths.rsc,
            dw = widths.detail
        );
        if let Some(r) = &it.reason {
            line.push_str("  ");
            line.push_str(r);
        }
        lines.push(line);
    }
    lines
}

/// The Transition Summary lines exactly as crm_simulate prints them
/// (after its logging pass has already widened the columns).
pub fn summary_lines(nodes: &[String], items: &[Item]) -> Vec<String> {
    let mut widths = Widths::default();
    let _ = format_items(items, &mut widths);
    let mut out: Vec<String> = nodes.to_vec();
    out.extend(format_items(items, &mut widths));
    out
}
