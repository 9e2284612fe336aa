//! Pacemaker Remote nodes as data: which nodes are remote or guest nodes,
//! their connection resources and containers, and the questions the rest of
//! the scheduler asks about them. Pure queries on the working set (plus the
//! node-marking half of fencing), so that every layer can use them.

use std::collections::BTreeMap;

use crate::ws::*;

/// What a Pacemaker Remote node has beyond a cluster node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNode {
    /// Its connection resource (None for a `<node type="remote">` entry
    /// left behind after the connection resource was removed).
    pub conn: Option<RscId>,
    /// `node_fenced` of its status entry: fenced since the connection was lost.
    pub was_fenced: bool,
    /// Must be fenced (or its container recovered) before it is used again.
    pub requires_reset: bool,
    /// `resource-discovery-enabled`: false means never probe here.
    pub discovery: bool,
}

impl Default for RemoteNode {
    fn default() -> Self {
        RemoteNode {
            conn: None,
            was_fenced: false,
            requires_reset: false,
            discovery: true,
        }
    }
}

/// Resource-side links: connections and containers.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// Connection resource -> the remote or guest node it connects.
    pub conn_node: BTreeMap<RscId, NodeId>,
    /// Resource -> the resource it runs inside (`container` meta-attribute;
    /// a guest node's connection has its VM here).
    pub container: BTreeMap<RscId, RscId>,
    /// `reconnect_interval` of remote connections, in milliseconds.
    pub reconnect_ms: BTreeMap<RscId, u64>,
    /// Resources generated for a bundle replica.
    pub bundle: BTreeMap<RscId, crate::bundle::Member>,
}

// ------------------------------------------------------------- queries

/// Whether a node is a Pacemaker Remote node (remote or guest).
pub fn is_remote_kind(ws: &WorkingSet, n: NodeId) -> bool {
    ws.nodes[n].remote.is_some()
}

/// The connection resource of a remote or guest node.
pub fn conn_of(ws: &WorkingSet, n: NodeId) -> Option<RscId> {
    ws.nodes[n].remote.as_ref().and_then(|r| r.conn)
}

/// The container of a guest node (None for cluster and remote nodes).
pub fn guest_container(ws: &WorkingSet, n: NodeId) -> Option<RscId> {
    conn_of(ws, n).and_then(|c| ws.links.container.get(&c).copied())
}

/// A guest node: its connection runs inside a container resource.
pub fn is_guest(ws: &WorkingSet, n: NodeId) -> bool {
    guest_container(ws, n).is_some()
}

/// A remote node proper (not a guest node).
pub fn is_remote_node(ws: &WorkingSet, n: NodeId) -> bool {
    is_remote_kind(ws, n) && !is_guest(ws, n)
}

/// Whether a resource is the connection of a remote or guest node.
pub fn is_connection(ws: &WorkingSet, r: RscId) -> bool {
    ws.links.conn_node.contains_key(&r)
}

/// The connection resource a resource contains (its guest node's), if any.
pub fn contained_connection(ws: &WorkingSet, r: RscId) -> Option<RscId> {
    ws.links
        .container
        .iter()
        .find(|&(&filler, &c)| c == r && is_connection(ws, filler))
        .map(|(&filler, _)| filler)
}

pub fn requires_reset(ws: &WorkingSet, n: NodeId) -> bool {
    ws.nodes[n]
        .remote
        .as_ref()
        .is_some_and(|r| r.requires_reset)
}

pub fn set_requires_reset(ws: &mut WorkingSet, n: NodeId, value: bool) {
    if let Some(r) = ws.nodes[n].remote.as_mut() {
        r.requires_reset = value;
    }
}

/// The remote and guest part of Pacemaker's pe_fence_node: a guest node is
/// "fenced" by marking its container failed (so it is recovered); a remote
/// node becomes unclean. Returns None for cluster nodes, otherwise whether a
/// fence action must be created for the node (remote nodes: always, even
/// when already unclean).
pub fn mark_for_fencing(ws: &mut WorkingSet, n: NodeId) -> Option<bool> {
    if let Some(container) = guest_container(ws, n) {
        if !ws.rscs[container].failed && ws.rscs[container].managed {
            set_requires_reset(ws, n, true);
            ws.rscs[container].failed = true;
            ws.rscs[container].stop_flag = true;
        }
        return Some(false);
    }
    if !is_remote_kind(ws, n) {
        return None;
    }
    let unmanaged = conn_of(ws, n).is_some_and(|c| !ws.rscs[c].managed);
    if !unmanaged {
        set_requires_reset(ws, n, true);
    }
    ws.nodes[n].unclean = true;
    Some(true)
}

/// Actions on an offline guest node stay runnable unless the guest must
/// be reset first (its container will be recovered in this transition).
pub fn offline_guest_runnable(ws: &WorkingSet, n: NodeId) -> bool {
    is_guest(ws, n) && !requires_reset(ws, n)
}

/// Whether a guest node can be "fenced": its container's hosts must be
/// online or fenceable themselves.
pub fn can_fence_guest(ws: &WorkingSet, n: NodeId, can_fence: impl Fn(NodeId) -> bool) -> bool {
    let Some(container) = guest_container(ws, n) else {
        return false;
    };
    ws.rscs[container]
        .running_on
        .iter()
        .all(|&h| ws.nodes[h].online || can_fence(h))
}

/// How a node is named in a fencing summary line: guest nodes name their
/// container (`guest1 (resource: vm1)`).
pub fn fence_target_name(ws: &WorkingSet, n: NodeId) -> String {
    match guest_container(ws, n) {
        Some(c) => format!("{} (resource: {})", ws.nodes[n].name, ws.rscs[c].id),
        None => ws.nodes[n].name.clone(),
    }
}

/// The resources configured to run inside `r` (its `container` fillers).
pub fn fillers(ws: &WorkingSet, r: RscId) -> Vec<RscId> {
    ws.links
        .container
        .iter()
        .filter(|&(_, &c)| c == r)
        .map(|(&f, _)| f)
        .collect()
}

/// The bundle replica part a resource is, if it was generated for a bundle.
pub fn bundle_part(ws: &WorkingSet, r: RscId) -> Option<crate::bundle::Part> {
    ws.links.bundle.get(&r).map(|m| m.part)
}

/// The resource of the same bundle and replica with the given part.
pub fn bundle_sibling(ws: &WorkingSet, r: RscId, part: crate::bundle::Part) -> Option<RscId> {
    let m = ws.links.bundle.get(&r)?;
    ws.links
        .bundle
        .iter()
        .find(|(_, o)| o.bundle == m.bundle && o.replica == m.replica && o.part == part)
        .map(|(&o, _)| o)
}

/// Resources Pacemaker generates for a bundle replica (container, IP,
/// connection): their parameters are Pacemaker's, so their recorded digests
/// are not compared (the replica's instance of the user's primitive is).
pub fn generated_by_bundle(ws: &WorkingSet, r: RscId) -> bool {
    ws.links
        .bundle
        .get(&r)
        .is_some_and(|m| m.part != crate::bundle::Part::Child)
}
