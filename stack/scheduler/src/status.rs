//! The cluster status sections of crm_simulate's output (crm_mon's text
//! layout): node list and full list of resources.

use crate::ws::*;

fn node_state(ws: &WorkingSet, n: NodeId) -> Option<String> {
    let node = &ws.nodes[n];
    if node.unclean {
        return Some(
            if node.online {
                "UNCLEAN (online)"
            } else {
                "UNCLEAN (offline)"
            }
            .into(),
        );
    }
    if node.pending {
        return Some("pending".into());
    }
    if node.standby_onfail && node.online {
        return Some("standby (on-fail)".into());
    }
    if node.standby {
        if !node.online {
            return Some("OFFLINE (standby)".into());
        }
        let active = ws
            .rscs
            .iter()
            .any(|r| r.variant == Variant::Primitive && r.running_on.contains(&n));
        return Some(
            if active {
                "standby (with active resources)"
            } else {
                "standby"
            }
            .into(),
        );
    }
    if node.maintenance {
        return Some(
            if node.online {
                "maintenance"
            } else {
                "OFFLINE (maintenance)"
            }
            .into(),
        );
    }
    None
}

fn node_list(ws: &WorkingSet, out: &mut Vec<String>) {
    out.push("  * Node List:".into());
    let mut online = Vec::new();
    let mut offline = Vec::new();
    for n in 0..ws.nodes.len() {
        match node_state(ws, n) {
            Some(s) => out.push(format!("    * Node {}: {}", ws.nodes[n].name, s)),
            None if ws.nodes[n].online => online.push(ws.nodes[n].name.clone()),
            None => offline.push(ws.nodes[n].name.clone()),
        }
    }
    if !online.is_empty() {
        out.push(format!("    * Online: [ {} ]", online.join(" ")));
    }
    if !offline.is_empty() {
        out.push(format!("    * OFFLINE: [ {} ]", offline.join(" ")));
    }
}

fn agent(r: &Rsc) -> String {
    match &r.provider {
        Some(p) => format!("{}:{}:{}", r.class, p, r.agent),
        None => format!("{}:{}", r.class, r.agent),
    }
}

fn disabled(r: &Rsc) -> bool {
    r.target_role == Some(Role::Stopped)
}

fn top_promotable(ws: &WorkingSet, r: RscId) -> bool {
    ws.rscs[ws.uber_parent(r)].promotable
}

/// The role crm_mon shows: Started instances of promotable clones are
/// shown as Unpromoted.
fn displayable_role(ws: &WorkingSet, r: RscId) -> Role {
    let role = ws.rscs[r].role;
    if role == Role::Started && top_promotable(ws, r) {
        Role::Unpromoted
    } else if role == Role::Unknown {
        Role::Stopped
    } else {
        role
    }
}

fn pending_state(task: &str) -> Option<&'static str> {
    Some(match task {
        "start" => "Starting",
        "stop" => "Stopping",
        "migrate_to" | "migrate_from" => "Migrating",
        "promote" => "Promoting",
        "demote" => "Demoting",
        _ => return None,
    })
}

/// The id crm_mon prints: anonymous clone instances lose their number.
fn printable_id(ws: &WorkingSet, r: RscId) -> String {
    let top = ws.uber_parent(r);
    if ws.rscs[top].variant == Variant::Clone
        && !ws.rscs[r].unique
        && ws.rscs[r].variant == Variant::Primitive
    {
        ws.rscs[r].base_id.clone()
    } else {
        ws.rscs[r].id.clone()
    }
}

fn primitive_line(ws: &WorkingSet, r: RscId, indent: &str) -> String {
    let rsc = &ws.rscs[r];
    let multiple = rsc.running_on.len() > 1;
    let node = if multiple {
        None
    } else {
        rsc.running_on.first().copied()
    };
    let mut s = format!("{indent}* {}\t({}):\t", printable_id(ws, r), agent(rsc));
    if rsc.orphan {
        s.push_str(" ORPHANED");
    }
    let role = displayable_role(ws, r);
    if rsc.failed {
        s.push_str(" FAILED");
        if role > Role::Unpromoted {
            s.push(' ');
            s.push_str(role.name());
        }
    } else {
        let state = rsc
            .pending_task
            .as_ref()
            .and_then(|(t, _)| pending_state(t))
            .unwrap_or(role.name());
        s.push(' ');
        s.push_str(state);
    }
    if let Some(n) = node {
        s.push(' ');
        s.push_str(&ws.nodes[n].name);
    }
    let mut flags: Vec<String> = Vec::new();
    if let Some(n) = node {
        if !ws.nodes[n].online && ws.nodes[n].unclean {
            flags.push("UNCLEAN".into());
        }
    }
    if let Some((t, _)) = &rsc.pending_task {
        if t == "monitor" {
            flags.push("Monitoring".into());
        }
    }
    if disabled(rsc) {
        flags.push("disabled".into());
    } else if rsc.target_role == Some(Role::Unpromoted) && top_promotable(ws, r) {
        flags.push("target-role:Unpromoted".into());
    }
    if rsc.block {
        flags.push("blocked".into());
    } else if !rsc.managed {
        flags.push("unmanaged".into());
    }
    if rsc.failure_ignored {
        flags.push("failure ignored".into());
    }
    if !flags.is_empty() {
        s.push_str(&format!(" ({})", flags.join(", ")));
    }
    if multiple {
        let names: Vec<&str> = rsc
            .running_on
            .iter()
            .map(|&n| ws.nodes[n].name.as_str())
            .collect();
        s.push_str(&format!(" [ {} ]", names.join(" ")));
    }
    s
}

fn any_recursive(ws: &WorkingSet, r: RscId, f: &dyn Fn(&Rsc) -> bool) -> bool {
    f(&ws.rscs[r]) || ws.rscs[r].children.iter().any(|&c| any_recursive(ws, c, f))
}

fn clone_lines(ws: &WorkingSet, c: RscId, indent: &str, out: &mut Vec<String>) {
    let rsc = &ws.rscs[c];
    let child_base = rsc
        .children
        .first()
        .map(|&ch| ws.rscs[ch].base_id.clone())
        .unwrap_or_default();
    let mut attrs = Vec::new();
    if rsc.promotable {
        attrs.push("promotable");
    }
    if rsc.unique {
        attrs.push("unique");
    }
    if !rsc.managed {
        attrs.push("unmanaged");
    }
    if disabled(rsc) || (rsc.promotable && rsc.target_role == Some(Role::Unpromoted)) {
        attrs.push("disabled");
    }
    let header = if attrs.is_empty() {
        format!("{indent}* Clone Set: {} [{}]:", rsc.id, child_base)
    } else {
        format!(
            "{indent}* Clone Set: {} [{}] ({}):",
            rsc.id,
            child_base,
            attrs.join(", ")
        )
    };
    let mut printed_header = false;
    let mut header = |out: &mut Vec<String>| {
        if !printed_header {
            out.push(header.clone());
            printed_header = true;
        }
    };
    let inner = format!("{indent}  ");
    let mut promoted = Vec::new();
    let mut started = Vec::new();
    for &ch in &rsc.children {
        let prims = ws.primitives_of(ch);
        let active = prims.iter().any(|&p| !ws.rscs[p].running_on.is_empty());
        let mut full = false;
        if rsc.unique {
            if active || !ws.rscs[ch].orphan {
                full = true;
            }
        } else if prims.iter().any(|&p| ws.rscs[p].pending_task.is_some())
            && ws.rscs[ch].variant == Variant::Primitive
        {
            full = true;
        } else if !active {
        } else if any_recursive(ws, ch, &|r| r.orphan)
            || any_recursive(ws, ch, &|r| !r.managed)
            || any_recursive(ws, ch, &|r| r.failed)
        {
            full = true;
        } else {
            let mut locs: Vec<NodeId> = Vec::new();
            for &p in &prims {
                for &n in &ws.rscs[p].running_on {
                    if !locs.contains(&n) {
                        locs.push(n);
                    }
                }
            }
            if locs.len() == 1 {
                let n = locs[0];
                let role = prims
                    .iter()
                    .map(|&p| ws.rscs[p].role)
                    .max()
                    .unwrap_or(Role::Stopped);
                if !ws.nodes[n].online && ws.nodes[n].unclean {
                    full = true;
                } else if role > Role::Unpromoted {
                    promoted.push(n);
                } else {
                    started.push(n);
                }
            } else {
                full = true;
            }
        }
        if full {
            header(out);
            resource_lines(ws, ch, &inner, out);
        }
    }
    let sort = |v: &mut Vec<NodeId>| {
        v.sort_by(|a, b| crate::naming::natural_cmp(&ws.nodes[*a].name, &ws.nodes[*b].name));
        v.iter()
            .map(|&n| ws.nodes[n].name.clone())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let active_instances = promoted.len() + started.len();
    if !promoted.is_empty() {
        header(out);
        out.push(format!("{inner}* Promoted: [ {} ]", sort(&mut promoted)));
    }
    if !started.is_empty() {
        header(out);
        if rsc.promotable {
            if rsc.target_role == Some(Role::Unpromoted) {
                out.push(format!(
                    "{inner}* Unpromoted (target-role): [ {} ]",
                    sort(&mut started)
                ));
            } else {
                out.push(format!("{inner}* Unpromoted: [ {} ]", sort(&mut started)));
            }
        } else {
            out.push(format!("{inner}* Started: [ {} ]", sort(&mut started)));
        }
    }
    if !rsc.unique && rsc.clone_max > active_instances {
        let mut nodes: Vec<NodeId> = rsc.allowed.keys().copied().collect();
        if nodes.is_empty() {
            nodes = rsc.known_on.iter().copied().collect();
        }
        let mut stopped: Vec<NodeId> = nodes
            .into_iter()
            .filter(|n| !rsc.running_on.contains(n))
            .collect();
        if !stopped.is_empty() {
            header(out);
            let label = if disabled(rsc) {
                "Stopped (disabled)"
            } else {
                "Stopped"
            };
            out.push(format!("{inner}* {label}: [ {} ]", sort(&mut stopped)));
        } else if active_instances == 0 {
            header(out);
        }
    }
}

fn resource_lines(ws: &WorkingSet, r: RscId, indent: &str, out: &mut Vec<String>) {
    match ws.rscs[r].variant {
        Variant::Primitive => out.push(primitive_line(ws, r, indent)),
        Variant::Group => {
            let mut attrs = Vec::new();
            if !ws.rscs[r].managed {
                attrs.push("unmanaged");
            }
            if disabled(&ws.rscs[r]) {
                attrs.push("disabled");
            }
            if attrs.is_empty() {
                out.push(format!("{indent}* Resource Group: {}:", ws.rscs[r].id));
            } else {
                out.push(format!(
                    "{indent}* Resource Group: {} ({}):",
                    ws.rscs[r].id,
                    attrs.join(", ")
                ));
            }
            let inner = format!("{indent}  ");
            for &c in &ws.rscs[r].children {
                out.push(primitive_line(ws, c, &inner));
            }
        }
        Variant::Clone => clone_lines(ws, r, indent, out),
    }
}

/// Render the node list and resources like `crm_mon -1` does.
pub fn render_status(ws: &WorkingSet) -> Vec<String> {
    let mut out = Vec::new();
    node_list(ws, &mut out);
    out.push(String::new());
    out.push("  * Full List of Resources:".into());
    let mut any = false;
    for &r in &ws.top {
        if ws.rscs[r].orphan
            && ws
                .primitives_of(r)
                .iter()
                .all(|&p| ws.rscs[p].running_on.is_empty())
        {
            continue;
        }
        resource_lines(ws, r, "    ", &mut out);
        any = true;
    }
    if !any {
        out.push("    * No resources".into());
    }
    out
}
