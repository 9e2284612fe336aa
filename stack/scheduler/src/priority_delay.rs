//! priority-fencing-delay: the extra delay the scheduler attaches to the
//! fencing of a lost node that runs the most important resources, so that
//! in an even split the side holding them wins the fence race.
//!
//! Follows Pacemaker 2.1.5's `native_priority_to_node` (lib/pengine/native.c)
//! for node priorities and `node_priority_fencing_delay` / `pe_fence_op`
//! (lib/pengine/pe_actions.c) for when the delay applies.

use crate::ws::{NodeId, Role, Variant, WorkingSet};

/// Whether a node counts as a full cluster member (not remote, guest or ping).
fn is_member(ws: &WorkingSet, n: NodeId) -> bool {
    ws.nodes[n].remote.is_none() && !ws.nodes[n].node_type.eq_ignore_ascii_case("ping")
}

/// A node's priority: the sum of the `priority` meta of the primitives
/// active on it that have not failed; a promoted instance counts one more.
pub fn node_priority(ws: &WorkingSet, n: NodeId) -> i64 {
    ws.rscs
        .iter()
        .filter(|r| r.variant == Variant::Primitive && r.priority != 0 && !r.failed)
        .filter(|r| r.running_on.contains(&n))
        .map(|r| i64::from(r.priority) + i64::from(r.role == Role::Promoted))
        .sum()
}

/// The delay (seconds) the controller requests when fencing `target`.
/// Only fencing of a node lost from the membership carries it (unpack.c's
/// "peer is no longer part of the cluster"); the controller passes 0 when
/// the action carries none (controld_fencing.c `fence_with_delay`).
pub fn fencing_delay(ws: &WorkingSet, target: NodeId) -> u64 {
    let configured = ws.options.priority_fencing_delay;
    if configured == 0 || !ws.lost_members.contains(&target) {
        return 0;
    }
    delay_for(ws, target, configured)
}

/// `node_priority_fencing_delay`: only for a member outside our partition,
/// when we hold no more than half the members and priorities differ, and
/// only for a node of the top priority.
fn delay_for(ws: &WorkingSet, target: NodeId, configured: u64) -> u64 {
    if !is_member(ws, target) || ws.nodes[target].online {
        return 0;
    }
    let members: Vec<NodeId> = (0..ws.nodes.len()).filter(|&n| is_member(ws, n)).collect();
    let online = members.iter().filter(|&&n| ws.nodes[n].online).count();
    if online > members.len() / 2 {
        return 0;
    }
    let priorities: Vec<i64> = members.iter().map(|&n| node_priority(ws, n)).collect();
    let top = priorities.iter().copied().max().unwrap_or(0);
    let lowest = priorities.iter().copied().min().unwrap_or(0);
    if top == lowest || node_priority(ws, target) < top {
        return 0;
    }
    configured
}
