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

fn primitive_line(ws: &WorkingSet, r: RscId, indent: &str) -> String {
    let rsc = &ws.rscs[r];
    let role = if rsc.running_on.is_empty() {
        Role::Stopped
    } else {
        rsc.role
    };
    let mut state = String::new();
    if rsc.orphan && !rsc.running_on.is_empty() {
        state.push_str("ORPHANED ");
    }
    if rsc.failed && !rsc.running_on.is_empty() {
        state.push_str("FAILED ");
        if role > Role::Started {
            state.push_str(role.name());
            state.push(' ');
        }
    } else {
        state.push_str(if role == Role::Unknown {
            "Stopped"
        } else {
            role.name()
        });
        if !rsc.running_on.is_empty() {
            state.push(' ');
        }
    }
    let names: Vec<&str> = rsc
        .running_on
        .iter()
        .map(|&n| ws.nodes[n].name.as_str())
        .collect();
    if names.len() == 1 {
        state.push_str(names[0]);
    } else if names.len() > 1 {
        state.push_str(&format!("[ {} ]", names.join(" ")));
    }
    let mut flags = Vec::new();
    if let Some(&n) = rsc.running_on.first() {
        if ws.nodes[n].unclean {
            flags.push("UNCLEAN");
        }
    }
    if !rsc.managed {
        if rsc.block {
            flags.push("blocked");
        } else {
            flags.push("unmanaged");
        }
    }
    if disabled(rsc) {
        flags.insert(0, "disabled");
    }
    let mut s = format!("{indent}* {}\t({}):\t {}", rsc.id, agent(rsc), state);
    if !flags.is_empty() {
        s.push_str(&format!(" ({})", flags.join(", ")));
    }
    s
}

fn clone_lines(ws: &WorkingSet, c: RscId, indent: &str, out: &mut Vec<String>) {
    let rsc = &ws.rscs[c];
    let child_base = rsc
        .children
        .first()
        .map(|&ch| ws.rscs[ch].base_id.clone())
        .unwrap_or_default();
    let mut header = format!("{indent}* Clone Set: {} [{}]", rsc.id, child_base);
    if rsc.promotable {
        header.push_str(" (promotable)");
    }
    if rsc.unique {
        header.push_str(" (unique)");
    }
    if !rsc.managed {
        header.push_str(" (unmanaged)");
    }
    header.push(':');
    out.push(header);
    let inner = format!("{indent}  ");
    if rsc.unique {
        for &ch in &rsc.children {
            resource_lines(ws, ch, &inner, out);
        }
        return;
    }
    let mut promoted = Vec::new();
    let mut unpromoted = Vec::new();
    let mut started = Vec::new();
    let mut active_nodes = Vec::new();
    for &ch in &rsc.children {
        let prims = ws.primitives_of(ch);
        let odd = prims.iter().any(|&p| {
            ws.rscs[p].failed
                || !ws.rscs[p].managed
                || ws.rscs[p].running_on.len() > 1
                || ws.rscs[p].orphan
        });
        if ws.rscs[ch].variant == Variant::Group {
            let active = prims.iter().any(|&p| !ws.rscs[p].running_on.is_empty());
            if active {
                resource_lines(ws, ch, &inner, out);
                for &p in &prims {
                    active_nodes.extend(ws.rscs[p].running_on.iter().copied());
                }
            }
            continue;
        }
        let p = ch;
        if ws.rscs[p].running_on.is_empty() {
            continue;
        }
        active_nodes.extend(ws.rscs[p].running_on.iter().copied());
        if odd {
            out.push(primitive_line(ws, p, &inner));
            continue;
        }
        let n = ws.rscs[p].running_on[0];
        match ws.rscs[p].role {
            Role::Promoted => promoted.push(n),
            Role::Unpromoted if rsc.promotable => unpromoted.push(n),
            _ => started.push(n),
        }
    }
    let fmt = |v: &mut Vec<NodeId>| {
        v.sort_by(|a, b| crate::unpack::natural_cmp(&ws.nodes[*a].name, &ws.nodes[*b].name));
        v.iter()
            .map(|&n| ws.nodes[n].name.clone())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !promoted.is_empty() {
        out.push(format!("{inner}* Promoted: [ {} ]", fmt(&mut promoted)));
    }
    if !unpromoted.is_empty() {
        out.push(format!("{inner}* Unpromoted: [ {} ]", fmt(&mut unpromoted)));
    }
    if !started.is_empty() {
        out.push(format!("{inner}* Started: [ {} ]", fmt(&mut started)));
    }
    let mut stopped: Vec<NodeId> = rsc
        .allowed
        .iter()
        .filter(|(n, w)| w.value() >= 0 && !active_nodes.contains(n))
        .map(|(&n, _)| n)
        .collect();
    if !stopped.is_empty() {
        let label = if disabled(rsc) {
            "Stopped (disabled)"
        } else {
            "Stopped"
        };
        out.push(format!("{inner}* {label}: [ {} ]", fmt(&mut stopped)));
    }
}

fn resource_lines(ws: &WorkingSet, r: RscId, indent: &str, out: &mut Vec<String>) {
    match ws.rscs[r].variant {
        Variant::Primitive => out.push(primitive_line(ws, r, indent)),
        Variant::Group => {
            let mut header = format!("{indent}* Resource Group: {}", ws.rscs[r].id);
            if !ws.rscs[r].managed {
                header.push_str(" (unmanaged)");
            } else if disabled(&ws.rscs[r]) {
                header.push_str(" (disabled)");
            }
            header.push(':');
            out.push(header);
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
