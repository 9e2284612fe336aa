//! Pacemaker Remote in scheduling: connection resources are assigned
//! first (a remote node is up only if its connection will run), they and
//! fence devices never run on remote nodes, a guest's connection runs with
//! and after its container, probes skip what a remote node cannot host,
//! every action on a remote or guest node is ordered against the node's
//! connection (fencing the node when the connection cannot be recovered),
//! and guest nodes are "fenced" by recovering their container.

use std::collections::BTreeMap;

use crate::bundle::Part;
use crate::remote_node::*;
use crate::ws::*;

// -------------------------------------------------- implicit constraints

/// Ban a resource from every Pacemaker Remote node it could be placed on.
fn avoid_remote_nodes(ws: &mut WorkingSet, r: RscId) {
    // In place: with 1,000 remote nodes this runs for each of their 1,000
    // connections.
    let WorkingSet { nodes, rscs, .. } = ws;
    for (&n, score) in rscs[r].allowed.iter_mut() {
        if nodes[n].remote.as_ref().is_some_and(|rm| rm.conn.is_some()) {
            *score = hasim_cib::Score::NEG_INFINITY;
        }
    }
}

/// The implicit constraints Pacemaker adds for containers, connections and
/// fence devices (the remote part of pcmk__primitive_internal_constraints):
/// connections and fence devices never run on remote nodes, a guest's
/// connection runs with and after its container, and a resource placed in
/// a remote connection or guest runs on that node.
pub fn internal_constraints(ws: &mut WorkingSet) {
    bundle_constraints(ws);
    for r in 0..ws.rscs.len() {
        if ws.rscs[r].variant != Variant::Primitive || !ws.rscs[r].managed {
            continue;
        }
        if let Some(&container) = ws.links.container.get(&r) {
            container_constraints(ws, r, container);
        }
        if is_connection(ws, r) || ws.rscs[r].fence_device {
            avoid_remote_nodes(ws, r);
        }
    }
}

fn container_constraints(ws: &mut WorkingSet, r: RscId, container: RscId) {
    use crate::constraints::order_rsc;
    let bundled = bundle_part(ws, r).is_some();
    let remote = if is_connection(ws, r) {
        // Bundles may run on remote nodes; guests may not.
        if !bundled {
            avoid_remote_nodes(ws, container);
        }
        order_rsc(ws, container, "monitor", r, "stop", of::OPTIONAL);
        None
    } else if is_connection(ws, container) {
        Some(container)
    } else {
        contained_connection(ws, container)
    };
    if let Some(conn) = remote {
        // container=<remote node resource>: run on that node.
        let target = ws.links.conn_node.get(&conn).copied();
        let nodes: Vec<NodeId> = ws.rscs[r].allowed.keys().copied().collect();
        for n in nodes {
            if Some(n) != target {
                ws.rscs[r].allowed.insert(n, hasim_cib::Score::NEG_INFINITY);
            }
        }
        return;
    }
    order_rsc(
        ws,
        container,
        "start",
        r,
        "start",
        of::IMPLIES_THEN | of::RUNNABLE_LEFT,
    );
    order_rsc(ws, r, "stop", container, "stop", of::IMPLIES_FIRST);
    // A bundle's connection may run elsewhere than its container (nested
    // remotes): highly preferred, not mandatory.
    let score = if bundled { 10_000 } else { hasim_cib::INFINITY };
    crate::constraints::new_colocation(
        ws,
        "resource-with-container",
        None,
        score,
        r,
        container,
        Role::Unknown,
        Role::Unknown,
        true,
    );
}

// ------------------------------------------------------------ assignment

/// Assign every connection resource before anything else (so remote nodes
/// know whether they will be up), as Pacemaker's allocate_resources does.
pub fn assign_connections(ws: &mut WorkingSet) {
    if ws.links.conn_node.is_empty() {
        return;
    }
    for r in ws.top.clone() {
        // A bundle's connections are assigned with the bundle.
        if is_connection(ws, r) && bundle_part(ws, r).is_none() {
            // A connection that is migrating prefers its migration target.
            let prefer = ws.rscs[r].partial_migration.map(|(_, target)| target);
            crate::assign::assign(ws, r, prefer);
            connection_assigned(ws, r);
        }
    }
}

/// Before assigning a bundle's first container, spread all its containers
/// over the hosts (at most replicas-per-host each), as the bundle's own
/// assignment does before its connections and instances.
pub fn before_assign(ws: &mut WorkingSet, r: RscId) {
    let Some(m) = ws.links.bundle.get(&r).cloned() else {
        return;
    };
    if m.part != Part::Container || m.replica != 0 {
        return;
    }
    let containers: Vec<RscId> = ws
        .links
        .bundle
        .iter()
        .filter(|(_, o)| o.bundle == m.bundle && o.part == Part::Container)
        .map(|(&c, _)| c)
        .collect();
    let mut used: BTreeMap<NodeId, usize> = BTreeMap::new();
    for (i, &c) in containers.iter().enumerate() {
        let Some(n) = crate::assign::assign(ws, c, None) else {
            continue;
        };
        let count = used.entry(n).or_insert(0);
        *count += 1;
        if *count >= m.per_host {
            for &later in &containers[i + 1..] {
                crate::graph::add_location(ws, later, Some(n), -hasim_cib::INFINITY);
            }
        }
    }
}

/// After assigning a connection, its node's state follows.
pub fn after_assign(ws: &mut WorkingSet, r: RscId) {
    if is_connection(ws, r) {
        connection_assigned(ws, r);
    }
}

/// Bundle replicas: an instance runs only on its replica's node and nothing
/// else runs there; the IP runs with, and starts before, its container.
fn bundle_constraints(ws: &mut WorkingSet) {
    use crate::constraints::order_rsc;
    let members: Vec<(RscId, crate::bundle::Member)> = ws
        .links
        .bundle
        .iter()
        .map(|(&r, m)| (r, m.clone()))
        .collect();
    // (node, replica child, first resource of the bundle)
    let bundle_nodes: Vec<(NodeId, Option<RscId>, RscId)> = members
        .iter()
        .filter(|(_, m)| m.part == Part::Connection)
        .filter_map(|(c, m)| {
            let n = *ws.links.conn_node.get(c)?;
            let first = members
                .iter()
                .filter(|(_, o)| o.bundle == m.bundle)
                .map(|(r, _)| *r)
                .min()?;
            Some((n, bundle_sibling(ws, *c, Part::Child), first))
        })
        .collect();
    // A bundle node exists from the bundle's unpacking on, at -INFINITY:
    // resources unpacked later have it at -INFINITY, those unpacked before
    // (configured earlier) never have it among their allowed nodes.
    for r in 0..ws.rscs.len() {
        for &(n, child, first) in &bundle_nodes {
            if Some(r) == child || !ws.rscs[r].allowed.contains_key(&n) {
                continue;
            }
            if r < first {
                ws.rscs[r].allowed.remove(&n);
            } else {
                ws.rscs[r].allowed.insert(n, hasim_cib::Score::NEG_INFINITY);
            }
        }
    }
    // The child's allowed nodes are its replica's node alone (not every
    // other node at -INFINITY): with all nodes unavailable, the sort must
    // still put the replica's node first.
    for &(n, child, _) in &bundle_nodes {
        let Some(child) = child else { continue };
        ws.rscs[child].allowed.clear();
        ws.rscs[child]
            .allowed
            .insert(n, hasim_cib::Score::from(500));
    }
    for (r, m) in &members {
        if m.part != Part::Ip {
            continue;
        }
        let Some(container) = bundle_sibling(ws, *r, Part::Container) else {
            continue;
        };
        order_rsc(
            ws,
            *r,
            "start",
            container,
            "start",
            of::RUNNABLE_LEFT | of::PRESERVE,
        );
        order_rsc(
            ws,
            container,
            "stop",
            *r,
            "stop",
            of::IMPLIES_FIRST | of::PRESERVE,
        );
        crate::constraints::new_colocation(
            ws,
            "ip-with-docker",
            None,
            hasim_cib::INFINITY,
            *r,
            container,
            Role::Unknown,
            Role::Unknown,
            true,
        );
    }
}

/// A remote node will be online when its connection is assigned and not
/// stopping (an unseen node is then no longer unclean: the connection will
/// be attempted); otherwise it is shutting down.
pub fn connection_assigned(ws: &mut WorkingSet, r: RscId) {
    let Some(&n) = ws.links.conn_node.get(&r) else {
        return;
    };
    if ws.rscs[r].assigned.is_some() && ws.rscs[r].next_role != Role::Stopped {
        ws.nodes[n].online = true;
        if ws.nodes[n].unseen {
            ws.nodes[n].unclean = false;
        }
    } else {
        ws.nodes[n].shutdown = true;
    }
}

// -------------------------------------------------------------- probes

/// Whether a node is probed at all: offline failed remote nodes are fenced
/// instead, and discovery can be disabled on remote nodes.
pub fn probe_node(ws: &mut WorkingSet, n: NodeId) -> bool {
    if !ws.nodes[n].online {
        if is_remote_node(ws, n) && state(ws, n) == ConnState::Failed {
            crate::graph::fence_node(ws, n, "the connection is unrecoverable");
        }
        return false;
    }
    ws.nodes[n].remote.as_ref().is_none_or(|r| r.discovery)
}

/// Whether a resource (of any variant) may be probed on a remote or guest
/// node: not fence devices, connections, or resources containing guests.
pub fn probe_allowed(ws: &WorkingSet, r: RscId, n: NodeId) -> bool {
    if !is_remote_kind(ws, n) {
        return true;
    }
    if ws.rscs[r].class.eq_ignore_ascii_case("stonith") {
        return false;
    }
    if is_guest(ws, n) && contained_connection(ws, r).is_some() {
        return false;
    }
    !is_connection(ws, r)
}

/// Primitive-level probe checks: resources inside containers are never
/// probed; on a guest node whose container is stopped or stopping nothing
/// is probed (starts wait for the container instead).
pub fn probe_primitive(ws: &mut WorkingSet, r: RscId, n: NodeId) -> bool {
    if bundle_part(ws, r) == Some(Part::Child) {
        return false;
    }
    if ws.links.container.contains_key(&r) && !is_connection(ws, r) {
        return false;
    }
    let Some(guest) = guest_container(ws, n) else {
        return true;
    };
    let top = ws.uber_parent(r);
    if ws.rscs[guest].role == Role::Stopped {
        // probe_then_start: the guest's start before the resource's start.
        crate::constraints::order_rsc(ws, guest, "start", top, "start", of::OPTIONAL);
        return false;
    }
    if guest_will_stop(ws, n, guest) {
        crate::constraints::order_rsc(ws, guest, "stop", top, "start", of::OPTIONAL);
        return false;
    }
    true
}

fn guest_will_stop(ws: &WorkingSet, n: NodeId, guest: RscId) -> bool {
    let g = &ws.rscs[guest];
    requires_reset(ws, n)
        || g.failed
        || g.next_role == Role::Stopped
        || (g.role > Role::Stopped && g.assigned.is_some_and(|a| !g.running_on.contains(&a)))
}

// ------------------------------------------------ connection orderings

/// The state of a remote node's connection for ordering purposes
/// (get_remote_node_state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Unknown,
    Alive,
    Resting,
    Failed,
    Stopped,
}

/// How the connection of a remote or guest node stands for this transition.
pub fn state(ws: &WorkingSet, n: NodeId) -> ConnState {
    let Some(conn) = conn_of(ws, n) else {
        return ConnState::Stopped;
    };
    let rsc = &ws.rscs[conn];
    let cluster_node = ws.current_node(conn);
    if rsc.next_role == Role::Stopped || rsc.assigned.is_none() {
        if cluster_node.is_some_and(|c| ws.nodes[c].unclean) {
            return ConnState::Failed;
        }
        if !rsc.failed {
            return ConnState::Stopped;
        }
        let fenced = ws.nodes[n].remote.as_ref().is_some_and(|r| r.was_fenced);
        let shutdown = ws.nodes[n]
            .attrs
            .get("shutdown")
            .is_some_and(|v| !v.is_empty() && v != "0");
        if rsc.next_role == Role::Stopped
            && ws.links.reconnect_ms.contains_key(&conn)
            && fenced
            && !shutdown
        {
            return ConnState::Unknown;
        }
        return ConnState::Failed;
    }
    match cluster_node {
        None => ConnState::Unknown,
        Some(c) if ws.nodes[c].unclean || !ws.nodes[c].online => ConnState::Resting,
        Some(_) => ConnState::Alive,
    }
}

fn order_start_then(ws: &mut WorkingSet, first: RscId, then: ActionId, extra: u32) {
    ws.orderings.push(Ordering {
        first_rsc: Some(first),
        first_task: Some("start".into()),
        first_action: None,
        then_rsc: ws.actions[then].rsc,
        then_task: None,
        then_action: Some(then),
        flags: of::PRESERVE | of::RUNNABLE_LEFT | extra,
    });
}

fn order_then_stop(ws: &mut WorkingSet, first: ActionId, then: RscId, extra: u32) {
    ws.orderings.push(Ordering {
        first_rsc: ws.actions[first].rsc,
        first_task: None,
        first_action: Some(first),
        then_rsc: Some(then),
        then_task: Some("stop".into()),
        then_action: None,
        flags: of::PRESERVE | extra,
    });
}

/// Order every action on a remote or guest node against its connection
/// (and a guest's container), fencing nodes whose connection cannot be
/// recovered (pcmk__order_remote_connection_actions). Pacemaker walks its
/// action list newest first (new actions are prepended to it) and the first
/// fencing of a node names its reason, so the walk here is newest first too.
pub fn order_connection_actions(ws: &mut WorkingSet) {
    if ws.links.conn_node.is_empty() {
        return;
    }
    for a in (0..ws.actions.len()).rev() {
        let act = &ws.actions[a];
        let (Some(r), Some(n)) = (act.rsc, act.node) else {
            continue;
        };
        if !is_remote_kind(ws, n) || act.has(af::PSEUDO) {
            continue;
        }
        let Some(conn) = conn_of(ws, n) else { continue };
        if ws.actions[a].task == "start" {
            // A resource moving onto a remote node stops on its old node
            // only after the connection is up.
            for other in ws.rscs[r].actions.clone() {
                let o = &ws.actions[other];
                if o.task == "stop" && o.node.is_some_and(|on| on != n) {
                    ws.orderings.push(Ordering {
                        first_rsc: Some(conn),
                        first_task: Some("start".into()),
                        first_action: None,
                        then_rsc: Some(r),
                        then_task: None,
                        then_action: Some(other),
                        flags: of::OPTIONAL,
                    });
                }
            }
        }
        if let Some(container) = ws.links.container.get(&conn).copied() {
            container_ordering(ws, a, conn, container, n);
        } else {
            remote_ordering(ws, a, conn, n);
        }
    }
}

fn task_kind(task: &str) -> &str {
    match task {
        "migrate_to" | "migrate_from" => "stop",
        t => t,
    }
}

fn remote_ordering(ws: &mut WorkingSet, a: ActionId, conn: RscId, n: NodeId) {
    let st = state(ws, n);
    let task = task_kind(&ws.actions[a].task).to_string();
    match task.as_str() {
        "start" | "promote" => {
            let extra = if st == ConnState::Failed {
                of::IMPLIES_THEN
            } else {
                of::NONE
            };
            order_start_then(ws, conn, a, extra);
        }
        "stop" => {
            if st == ConnState::Alive {
                order_then_stop(ws, a, conn, of::IMPLIES_FIRST);
            } else if st == ConnState::Failed {
                crate::graph::fence_node(
                    ws,
                    n,
                    "resources are active but connection is unrecoverable",
                );
            } else if ws.rscs[conn].next_role == Role::Stopped {
                order_then_stop(ws, a, conn, of::IMPLIES_FIRST);
            } else {
                order_start_then(ws, conn, a, of::NONE);
            }
        }
        "demote" => {
            if matches!(st, ConnState::Resting | ConnState::Unknown) {
                order_start_then(ws, conn, a, of::NONE);
            }
        }
        _ => {
            if ws.actions[a].interval_ms > 0 {
                order_start_then(ws, conn, a, of::IMPLIES_THEN);
                return;
            }
            if task == "monitor" && st == ConnState::Failed {
                crate::graph::fence_node(
                    ws,
                    n,
                    "resources are in unknown state and connection is unrecoverable",
                );
            }
            if ws.current_node(conn).is_some() && st == ConnState::Stopped {
                order_then_stop(ws, a, conn, of::RUNNABLE_LEFT);
            } else {
                order_start_then(ws, conn, a, of::NONE);
            }
        }
    }
}

fn container_ordering(ws: &mut WorkingSet, a: ActionId, conn: RscId, container: RscId, n: NodeId) {
    if ws.rscs[container].failed {
        crate::graph::fence_node(ws, n, "container failed");
    }
    let task = task_kind(&ws.actions[a].task).to_string();
    match task.as_str() {
        "start" | "promote" => {
            order_start_then(ws, container, a, of::IMPLIES_THEN);
            order_start_then(ws, conn, a, of::NONE);
        }
        "stop" | "demote" => {
            if !ws.rscs[container].failed {
                order_then_stop(ws, a, conn, of::NONE);
            }
        }
        _ => {
            if ws.actions[a].interval_ms > 0 {
                order_start_then(ws, conn, a, of::IMPLIES_THEN);
            } else {
                order_start_then(ws, conn, a, of::NONE);
            }
        }
    }
}

// -------------------------------------------------------- guest fencing

/// Guest node "fencing": a pseudo fence action ordered after the container
/// stops (pcmk__fence_guest). Returns the action for ordering against the
/// guest's resources.
pub fn fence_guest(ws: &mut WorkingSet, n: NodeId) -> Option<ActionId> {
    let container = guest_container(ws, n)?;
    let conn = conn_of(ws, n)?;
    let stop = crate::graph::find_action(ws, container, "stop", None);
    let action = if crate::graph::find_action(ws, container, "start", None).is_some() {
        "reboot"
    } else {
        "off"
    };
    let op = crate::graph::fence_op(ws, n, Some("guest is unclean"), false);
    ws.actions[op].flags |= af::PSEUDO | af::RUNNABLE;
    ws.actions[op].fence_type = Some(action.to_string());
    match stop {
        Some(s) if ws.actions[s].has(af::PSEUDO) => {
            if let Some(host) = ws.actions[s].node {
                let parent = crate::graph::fence_op(ws, host, None, false);
                crate::graph::order_actions(ws, parent, op, of::RUNNABLE_LEFT | of::IMPLIES_THEN);
            }
        }
        Some(s) => {
            crate::graph::order_actions(ws, s, op, of::RUNNABLE_LEFT | of::IMPLIES_THEN);
        }
        None => {
            if let Some(s) = crate::graph::find_action(ws, conn, "stop", None) {
                crate::graph::order_actions(ws, s, op, of::OPTIONAL);
            }
        }
    }
    Some(op)
}

/// The cluster node that relays `task` on node `n` when `n` is a remote or
/// guest node (pcmk__connection_host_for_action): the node the connection
/// is leaving for stops and demotes, the node it goes to for everything
/// else, whichever exists when it is not moving. `None` for cluster nodes
/// and for fencing (the DC's fencer acts, not a remote executor).
pub fn router_node(ws: &WorkingSet, n: NodeId, task: &str) -> Option<NodeId> {
    if task == "stonith" {
        return None;
    }
    let conn = conn_of(ws, n)?;
    let began = ws.rscs[conn].running_on.first().copied();
    let ended = ws.rscs[conn].assigned;
    let leaving = matches!(task, "stop" | "demote" | "migrate_from" | "migrate_to");
    if leaving {
        began.or(ended)
    } else {
        ended.or(began)
    }
}
