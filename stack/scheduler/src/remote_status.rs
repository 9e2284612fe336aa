//! Unpacking Pacemaker Remote: the remote and guest nodes a configuration
//! defines (and the connection resources Pacemaker adds for guests), their
//! links to connection and container resources, and how their status is
//! read: a remote node's history is trusted only once its connection is
//! known to be up, and its online state follows the connection.

use std::collections::BTreeMap;

use hasim_cib::{AttrSet, Cib, NodeState, NvPair, OpDef, Resource, ResourceKind, SetKind};

use crate::remote_node::*;
use crate::rules::{is_true, parse_interval_ms};
use crate::ws::*;

fn is_remote_agent(res: &Resource) -> bool {
    let ResourceKind::Primitive {
        class,
        provider,
        agent,
        ..
    } = &res.kind
    else {
        return false;
    };
    let eq =
        |v: &Option<String>, want: &str| v.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(want));
    eq(class, "ocf") && eq(provider, "pacemaker") && eq(agent, "remote")
}

// ------------------------------------------------------- configuration

/// Create the remote and guest nodes a configuration's resources define
/// (Pacemaker's unpack_remote_nodes; `type="remote"` node entries are made
/// by `unpack`), and return the connection resources Pacemaker adds for
/// guest nodes, to be unpacked after the configured resources. The caller
/// sorts the nodes.
pub fn config_nodes(cib: &Cib, ws: &mut WorkingSet) -> Vec<Resource> {
    let mut guests = Vec::new();
    let mut index = ws.node_index();
    let mut find_or_add = |ws: &mut WorkingSet, name: &str| match index.get(name) {
        Some(n) => n,
        None => {
            let n = add_node(ws, name, name);
            index.added(name, n);
            n
        }
    };
    for res in &cib.resources {
        for name in crate::bundle::node_names(res) {
            let n = find_or_add(ws, &name);
            // Bundle nodes host only their replica's instance and are never
            // probed.
            ws.nodes[n].weight = hasim_cib::Score::NEG_INFINITY;
            if let Some(r) = ws.nodes[n].remote.as_mut() {
                r.discovery = false;
            }
        }
        if is_remote_agent(res) {
            find_or_add(ws, &res.id);
            continue;
        }
        let members: Vec<&Resource> = match &res.kind {
            ResourceKind::Primitive { .. } => vec![res],
            ResourceKind::Group { children } => children.iter().collect(),
            _ => Vec::new(),
        };
        for m in members {
            if let Some(conn) = guest_connection(m) {
                find_or_add(ws, &conn.id);
                guests.push(conn);
            }
        }
    }
    guests
}

/// A node for a connection resource (pe_create_node): only `#kind` is
/// known; `#uname`, `#id` and `#is_dc` come with its status entry
/// ([`unpack_attrs`]), so a remote node whose history is never read has
/// none (and matches any other such node in a colocation).
fn add_node(ws: &mut WorkingSet, uname: &str, id: &str) -> NodeId {
    let mut attrs = BTreeMap::new();
    attrs.insert("#kind".to_string(), "remote".to_string());
    ws.nodes.push(Node {
        name: uname.to_string(),
        id: id.to_string(),
        node_type: "remote".to_string(),
        weight: hasim_cib::Score::ZERO,
        attrs,
        remote: Some(RemoteNode::default()),
        ..Default::default()
    });
    ws.nodes.len() - 1
}

/// The connection resource Pacemaker creates for a guest node
/// (pe_create_remote_xml): `ocf:pacemaker:remote`, internal, inside the
/// resource that carries `remote-node`.
fn guest_connection(res: &Resource) -> Option<Resource> {
    let mut remote_name = None;
    let mut server = None;
    let mut port = None;
    let mut timeout = "60s".to_string();
    let mut migrate = None;
    let mut managed = None;
    for set in res.sets.iter().filter(|s| s.kind == SetKind::Meta) {
        for nv in &set.nvpairs {
            let v = nv.value.clone().unwrap_or_default();
            match nv.name.to_ascii_lowercase().as_str() {
                "remote-node" => remote_name = Some(v),
                "remote-addr" => server = Some(v),
                "remote-port" => port = Some(v),
                "remote-connect-timeout" => timeout = v,
                "remote-allow-migrate" => migrate = Some(v),
                "is-managed" => managed = Some(v),
                _ => {}
            }
        }
    }
    let name = remote_name?;
    let nv = |name: &str, value: &str| NvPair {
        id: None,
        name: name.to_string(),
        value: Some(value.to_string()),
    };
    let mut meta = vec![nv("internal_rsc", "true"), nv("container", &res.id)];
    if let Some(m) = &migrate {
        meta.push(nv("allow-migrate", m));
    }
    if let Some(m) = &managed {
        meta.push(nv("is-managed", m));
    }
    let mut sets = vec![attr_set(
        SetKind::Meta,
        &format!("{name}-meta_attributes"),
        meta,
    )];
    let mut params = Vec::new();
    if let Some(s) = &server {
        params.push(nv("addr", s));
    }
    if let Some(p) = &port {
        params.push(nv("port", p));
    }
    if !params.is_empty() {
        sets.push(attr_set(
            SetKind::Instance,
            &format!("{name}-instance_attributes"),
            params,
        ));
    }
    let op = |task: &str, interval: &str, timeout: &str| OpDef {
        attrs: vec![
            ("id".into(), format!("{name}-{task}-interval-{interval}")),
            ("name".into(), task.into()),
            ("interval".into(), interval.into()),
            ("timeout".into(), timeout.into()),
        ],
        sets: Vec::new(),
    };
    Some(Resource {
        id: name.clone(),
        extra: Vec::new(),
        kind: ResourceKind::Primitive {
            class: Some("ocf".into()),
            provider: Some("pacemaker".into()),
            agent: Some("remote".into()),
            template: None,
        },
        sets,
        ops: vec![op("monitor", "30s", "30s"), op("start", "0", &timeout)],
    })
}

fn attr_set(kind: SetKind, id: &str, nvpairs: Vec<NvPair>) -> AttrSet {
    AttrSet {
        kind,
        id: Some(id.to_string()),
        score: None,
        rule: None,
        nvpairs,
    }
}

/// Link connection resources to their nodes and resources to their
/// containers, once every resource is unpacked (link_rsc2remotenode,
/// setup_container). Remote connections float by live migration unless
/// told otherwise, require only quorum, and turn `reconnect_interval`
/// into their failure timeout.
pub fn link(ws: &mut WorkingSet) {
    for r in 0..ws.rscs.len() {
        if ws.rscs[r].variant != Variant::Primitive {
            continue;
        }
        let Some(c) = ws.rscs[r].meta.get("container").cloned() else {
            continue;
        };
        if c.eq_ignore_ascii_case(&ws.rscs[r].id) {
            continue;
        }
        if let Some(cr) = ws.rscs.iter().position(|x| x.id == c) {
            ws.links.container.insert(r, cr);
        }
    }
    let index = ws.node_index();
    for r in ws.top.clone() {
        let rsc = &ws.rscs[r];
        let remote_agent = rsc.variant == Variant::Primitive
            && rsc.class.eq_ignore_ascii_case("ocf")
            && rsc
                .provider
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case("pacemaker"))
            && rsc.agent.eq_ignore_ascii_case("remote");
        if !remote_agent || rsc.orphan {
            continue;
        }
        let Some(n) = index.get(&rsc.id) else {
            continue;
        };
        let Some(info) = ws.nodes[n].remote.as_mut() else {
            continue;
        };
        info.conn = Some(r);
        ws.links.conn_node.insert(r, n);
        link_connection(ws, r, n);
    }
}

/// An orphaned remote connection (its history is left, its configuration
/// gone) still names a remote node, which is shutting down (Pacemaker's
/// process_orphan_resource).
pub fn orphaned_connection(ws: &mut WorkingSet, r: RscId) {
    let rsc = &ws.rscs[r];
    let remote_agent = rsc.class.eq_ignore_ascii_case("ocf")
        && rsc
            .provider
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("pacemaker"))
        && rsc.agent.eq_ignore_ascii_case("remote");
    if !remote_agent {
        return;
    }
    let id = rsc.id.clone();
    let n = match ws.find_node(&id) {
        Some(n) => n,
        None => add_node(ws, &id, &id),
    };
    let Some(info) = ws.nodes[n].remote.as_mut() else {
        return;
    };
    info.conn = Some(r);
    ws.links.conn_node.insert(r, n);
    link_connection(ws, r, n);
    ws.nodes[n].shutdown = true;
}

fn link_connection(ws: &mut WorkingSet, r: RscId, n: NodeId) {
    if !ws.rscs[r].meta.contains_key("requires") {
        ws.rscs[r].needs_fencing = false;
        ws.rscs[r].needs_unfencing = false;
        ws.rscs[r].needs_quorum = true;
    }
    if ws.links.container.contains_key(&r) {
        ws.nodes[n]
            .attrs
            .insert("#kind".to_string(), "container".to_string());
        // A guest's connection may go wherever its container goes, even in
        // an opt-in cluster.
        if !ws.options.symmetric {
            crate::graph::add_location(ws, r, None, 0);
        }
        return;
    }
    // Startup fencing applies to remote nodes as to cluster nodes.
    ws.nodes[n].unclean = ws.options.startup_fencing;
    ws.nodes[n].unseen = true;
    if !ws.rscs[r].meta.contains_key("allow-migrate") {
        ws.rscs[r].allow_migrate = true;
    }
    let reconnect = ws.rscs[r]
        .param_sets
        .iter()
        .flat_map(|s| s.nvpairs.iter())
        .find(|nv| nv.name == "reconnect_interval")
        .and_then(|nv| nv.value.as_deref())
        .and_then(parse_interval_ms);
    if let Some(ms) = reconnect.filter(|&ms| ms > 0) {
        ws.links.reconnect_ms.insert(r, ms);
        ws.rscs[r].failure_timeout = (ms / 1000) as i64;
    }
}

// --------------------------------------------------------------- status

/// First pass over a remote node's status entry: only whether it was
/// fenced (its online state depends on resource history read later).
pub fn read_node_state(ws: &mut WorkingSet, n: NodeId, ns: &NodeState) {
    let fenced = ns
        .attr("node_fenced")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0)
        > 0;
    if let Some(r) = ws.nodes[n].remote.as_mut() {
        r.was_fenced = fenced;
    }
}

/// Whether a remote node's history may be read in a non-final pass: its
/// connection (and a guest's container) must be known to be up.
pub fn history_ready(ws: &WorkingSet, n: NodeId) -> bool {
    let Some(conn) = conn_of(ws, n) else {
        return false;
    };
    if ws.rscs[conn].role != Role::Started {
        return false;
    }
    guest_container(ws, n).is_none_or(|c| ws.rscs[c].role == Role::Started)
}

/// A remote node's online state from its connection (and container).
pub fn determine_online(ws: &mut WorkingSet, n: NodeId) {
    let Some(conn) = conn_of(ws, n) else {
        ws.nodes[n].online = false;
        return;
    };
    let container = guest_container(ws, n);
    let host = match (container, ws.rscs[conn].running_on.as_slice()) {
        (Some(_), [h]) => Some(*h),
        _ => None,
    };
    let (role, next) = (ws.rscs[conn].role, ws.rscs[conn].next_role);
    if role == Role::Started {
        ws.nodes[n].online = true;
        if next == Role::Stopped {
            ws.nodes[n].shutdown = true;
        }
    }
    if container.is_some_and(|c| ws.rscs[c].failed) {
        ws.nodes[n].online = false;
        set_requires_reset(ws, n, true);
    } else if ws.rscs[conn].failed {
        ws.nodes[n].online = false;
    } else if role == Role::Stopped || container.is_some_and(|c| ws.rscs[c].role == Role::Stopped) {
        ws.nodes[n].online = false;
        set_requires_reset(ws, n, false);
    } else if host.is_some_and(|h| !ws.nodes[h].online && ws.nodes[h].unclean) {
        ws.nodes[n].online = false;
        set_requires_reset(ws, n, true);
    }
}

/// A remote node's own attributes from its status entry
/// (unpack_handle_remote_attrs).
pub fn unpack_attrs(ws: &mut WorkingSet, n: NodeId, ns: &NodeState) {
    if !requires_reset(ws, n) {
        ws.nodes[n].unclean = false;
        ws.nodes[n].unseen = false;
    }
    let node = &mut ws.nodes[n];
    let is_dc = if node.is_dc { "true" } else { "false" };
    for (k, v) in [
        ("#uname", node.name.clone()),
        ("#id", node.id.clone()),
        ("#is_dc", is_dc.to_string()),
    ] {
        node.attrs.insert(k.to_string(), v);
    }
    for (k, v) in ns.transient_attributes() {
        ws.nodes[n].attrs.insert(k, v);
    }
    let attrs = ws.nodes[n].attrs.clone();
    if attrs
        .get("shutdown")
        .is_some_and(|v| !v.is_empty() && v != "0")
    {
        ws.nodes[n].shutdown = true;
    }
    if attrs.get("standby").is_some_and(|v| is_true(v)) {
        ws.nodes[n].standby = true;
    }
    let conn_unmanaged = conn_of(ws, n).is_some_and(|c| !ws.rscs[c].managed);
    if attrs.get("maintenance").is_some_and(|v| is_true(v)) || conn_unmanaged {
        ws.nodes[n].maintenance = true;
    }
    let discovery_off = attrs
        .get("resource-discovery-enabled")
        .is_some_and(|v| !is_true(v));
    if discovery_off && (is_guest(ws, n) || ws.options.stonith_enabled) {
        if let Some(r) = ws.nodes[n].remote.as_mut() {
            r.discovery = false;
        }
    }
}

/// After all history: a remote node asked to shut down stops its
/// connection, and nodes without readable history get their online state.
pub fn after_history(ws: &mut WorkingSet) {
    for n in 0..ws.nodes.len() {
        if !is_remote_kind(ws, n) {
            continue;
        }
        if ws.nodes[n].shutdown {
            if let Some(c) = conn_of(ws, n) {
                ws.rscs[c].next_role = Role::Stopped;
            }
        }
        if !ws.nodes[n].unpacked {
            determine_online(ws, n);
        }
    }
}

/// Why a resource found active on an offline node forces fencing of that
/// node, if it does (the remote and guest parts of process_rsc_state).
/// Resources on a guest node are marked failed: the guest's container is
/// recovered instead.
pub fn offline_active_reason(ws: &mut WorkingSet, r: RscId, n: NodeId) -> Option<String> {
    if is_guest(ws, n) {
        ws.rscs[r].failed = true;
        ws.rscs[r].stop_flag = true;
        return Some(format!("{} is thought to be active there", ws.rscs[r].id));
    }
    if !ws.options.stonith_enabled {
        return None;
    }
    if is_remote_node(ws, n) && conn_of(ws, n).is_some_and(|c| !ws.rscs[c].failed) {
        ws.nodes[n].unseen = true;
        return Some(format!(
            "{} is active there (fencing will be revoked if remote connection can be \
             re-established elsewhere)",
            ws.rscs[r].id
        ));
    }
    Some(format!("{} is thought to be active there", ws.rscs[r].id))
}

/// on-fail=reset-remote: the connection failed while active; fence its
/// remote node unless that already happened.
pub fn reset_remote(ws: &mut WorkingSet, r: RscId) {
    if ws.options.stonith_enabled {
        if let Some(&n) = ws.links.conn_node.get(&r) {
            let fenced = ws.nodes[n].remote.as_ref().is_some_and(|x| x.was_fenced);
            if is_remote_node(ws, n) && !fenced {
                crate::graph::fence_node(ws, n, "remote connection is unrecoverable");
            }
        }
    }
    if ws.links.reconnect_ms.contains_key(&r) {
        ws.rscs[r].next_role = Role::Stopped;
    }
}

/// A failed connection whose node is already unclean is no longer unseen.
pub fn failed_connection_seen(ws: &mut WorkingSet, r: RscId) {
    if !ws.rscs[r].failed {
        return;
    }
    if let Some(&n) = ws.links.conn_node.get(&r) {
        if ws.nodes[n].unclean {
            ws.nodes[n].unseen = false;
        }
    }
}

/// The default on-fail of an operation when the resource is in a
/// container or is a remote connection (unpack_operation's defaults);
/// None leaves Pacemaker's ordinary defaults.
pub fn default_on_fail(
    ws: &WorkingSet,
    r: RscId,
    task: &str,
    interval_ms: u64,
    configured: bool,
) -> Option<OnFail> {
    let has_container = ws.links.container.contains_key(&r);
    if !configured && has_container {
        return Some(OnFail::RestartContainer);
    }
    let remote_conn = ws
        .links
        .conn_node
        .get(&r)
        .is_some_and(|&n| is_remote_node(ws, n));
    let managed = ws.rscs[r].managed;
    let probe = task == "monitor" && interval_ms == 0;
    if (!configured || !managed) && remote_conn && !probe && task != "start" {
        return Some(if managed {
            OnFail::ResetRemote
        } else {
            OnFail::Stop
        });
    }
    None
}

/// Whether `restart-container` is a valid on-fail for this resource.
pub fn has_container(ws: &WorkingSet, r: RscId) -> bool {
    ws.links.container.contains_key(&r)
}

/// A failed monitor of a remote connection with `reconnect_interval` does
/// not expire before the remote node has been fenced
/// (should_ignore_failure_timeout).
pub fn keep_failure_until_fenced(ws: &WorkingSet, r: RscId, task: &str, interval_ms: i64) -> bool {
    if !ws.links.reconnect_ms.contains_key(&r)
        || !ws.options.stonith_enabled
        || interval_ms == 0
        || task != "monitor"
    {
        return false;
    }
    ws.find_node(&ws.rscs[r].id)
        .is_some_and(|n| ws.nodes[n].remote.as_ref().is_some_and(|x| !x.was_fenced))
}

/// The stop Pacemaker creates while unpacking a failed resource
/// (process_rsc_state). On a remote node that is offline the stop is
/// unrunnable, and that makes the node unclean ("stop is unrunnable"), so
/// nothing is placed there. On any remote or guest node its place in the
/// action list matters: it is older than the probes, so the connection
/// orderings (walked newest first) meet it last, and it names the fencing
/// reason only when no probe there does. Cluster nodes are left to the
/// normal action creation.
pub fn early_stop(ws: &mut WorkingSet, r: RscId, n: NodeId) {
    if is_remote_kind(ws, n) {
        crate::graph::custom_action(ws, r, "stop", Some(n), false);
    }
}

/// Remember which bundle replica part a generated resource is; a replica's
/// child instance is known by the primitive's own id in its history.
pub fn note_bundle_member(ws: &mut WorkingSet, r: RscId, member: crate::bundle::Member) {
    if member.part == crate::bundle::Part::Child {
        let base = crate::naming::strip_instance(&ws.rscs[r].id).to_string();
        ws.rscs[r].base_id = base.clone();
        ws.rscs[r].clone_name = Some(base);
    }
    ws.links.bundle.insert(r, member);
}

/// The replica child instance whose history a bundle node's entry `id` is.
pub fn bundle_child_on(ws: &WorkingSet, n: NodeId, id: &str) -> Option<RscId> {
    let conn = conn_of(ws, n)?;
    let child = bundle_sibling(ws, conn, crate::bundle::Part::Child)?;
    (ws.rscs[child].base_id == id).then_some(child)
}

/// How many nodes exist when resource `id` is unpacked: bundle nodes are
/// created only as their bundle is unpacked, so a clone configured before a
/// bundle does not count them (its default clone-max).
pub fn nodes_before(cib: &Cib, ws: &WorkingSet, id: &str) -> usize {
    let later = cib
        .resources
        .iter()
        .skip_while(|r| r.id != id)
        .map(|r| crate::bundle::node_names(r).len())
        .sum::<usize>();
    ws.nodes.len().saturating_sub(later)
}
