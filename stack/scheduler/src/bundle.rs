//! Bundles, expanded the way Pacemaker 2.1.5's pe__unpack_bundle does: per
//! replica a container resource (`BUNDLE-podman-N`, `ocf:heartbeat:podman`
//! or docker/rkt), an IP address (`BUNDLE-ip-ADDR`) when `ip-range-start`
//! is set, and, when the bundle runs a primitive, a Pacemaker Remote
//! connection (`BUNDLE-N`, inside the container) making a guest node of
//! the same name on which instance N of the primitive (`CHILD:N`) runs.
//!
//! The generated resources are ordinary primitives in the working set, in
//! Pacemaker's per-replica order (container, IP, connection, child), linked
//! through [`crate::remote_node::Links`]; `remote` adds the constraints
//! between them and spreads the containers over hosts.

use hasim_cib::{Element, NvPair, OpDef, Resource, ResourceKind};

/// Which generated resource of a replica a primitive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Container,
    Ip,
    Connection,
    Child,
}

/// One generated resource of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub bundle: String,
    pub replica: usize,
    pub part: Part,
    /// The bundle's replicas-per-host.
    pub per_host: usize,
}

/// The settings of a bundle that shape its expansion.
#[derive(Debug, Clone)]
struct Spec {
    id: String,
    agent: String,
    image: String,
    replicas: usize,
    per_host: usize,
    ip_start: Option<String>,
    netmask: Option<String>,
    nic: Option<String>,
    control_port: Option<String>,
}

fn spec(id: &str, raw: &Element) -> Option<Spec> {
    let (agent, el) = ["docker", "rkt", "podman"]
        .iter()
        .find_map(|a| raw.child(a).map(|e| (a.to_string(), e)))?;
    let num = |k: &str| el.attr(k).and_then(|v| v.trim().parse::<usize>().ok());
    let promoted = num("promoted-max").or_else(|| num("masters")).unwrap_or(0);
    let replicas = match num("replicas") {
        None if promoted > 0 => promoted,
        v => v.unwrap_or(1).max(1),
    };
    let net = raw.child("network");
    let net_attr = |k: &str| net.and_then(|n| n.attr(k)).map(str::to_string);
    let control_port = net_attr("control-port");
    let ip_start = net_attr("ip-range-start");
    let mut per_host = num("replicas-per-host").unwrap_or(1).max(1);
    if ip_start.is_none() && control_port.is_some() {
        per_host = 1;
    }
    Some(Spec {
        id: id.to_string(),
        agent,
        image: el.attr("image").unwrap_or_default().to_string(),
        replicas,
        per_host,
        ip_start,
        netmask: net_attr("host-netmask"),
        nic: net_attr("host-interface"),
        control_port,
    })
}

/// The next address of an IPv4 range, as Pacemaker counts (x.y.z.254 goes
/// to x.y.(z+1).1).
fn next_ip(last: &str) -> Option<String> {
    let parts: Vec<u32> = last
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<u32>>>()?;
    let [a, b, c, d] = parts.as_slice() else {
        return None;
    };
    if *c > 253 {
        return None;
    }
    Some(if *d > 253 {
        format!("{a}.{b}.{}.1", c + 1)
    } else {
        format!("{a}.{b}.{c}.{}", d + 1)
    })
}

fn nv(name: &str, value: &str) -> NvPair {
    NvPair {
        id: None,
        name: name.to_string(),
        value: Some(value.to_string()),
    }
}

fn primitive(id: &str, provider: &str, agent: &str) -> Resource {
    Resource {
        id: id.to_string(),
        extra: Vec::new(),
        kind: ResourceKind::Primitive {
            class: Some("ocf".into()),
            provider: Some(provider.into()),
            agent: Some(agent.into()),
            template: None,
        },
        sets: Vec::new(),
        ops: Vec::new(),
    }
}

fn op(owner: &str, task: &str, interval: &str, timeout: Option<&str>) -> OpDef {
    let mut attrs = vec![
        (
            "id".to_string(),
            format!("{owner}-{task}-interval-{interval}"),
        ),
        ("name".to_string(), task.to_string()),
        ("interval".to_string(), interval.to_string()),
    ];
    if let Some(t) = timeout {
        attrs.push(("timeout".to_string(), t.to_string()));
    }
    OpDef {
        attrs,
        sets: Vec::new(),
    }
}

/// Names of the guest nodes a bundle creates (one per replica, when it runs
/// a primitive and has an IP range or a control port).
pub fn node_names(res: &Resource) -> Vec<String> {
    let ResourceKind::Bundle { raw, child } = &res.kind else {
        return Vec::new();
    };
    match (spec(&res.id, raw), child) {
        (Some(s), Some(_)) if s.ip_start.is_some() || s.control_port.is_some() => {
            (0..s.replicas).map(|i| format!("{}-{i}", s.id)).collect()
        }
        _ => Vec::new(),
    }
}

/// The resources a bundle expands to, in Pacemaker's per-replica order.
pub fn expand(res: &Resource) -> Vec<(Resource, Member)> {
    let ResourceKind::Bundle { raw, child } = &res.kind else {
        return Vec::new();
    };
    let Some(s) = spec(&res.id, raw) else {
        return Vec::new();
    };
    let managed = node_names(res).len() == s.replicas;
    // The bundle's meta-attributes (target-role, is-managed, ...) apply to
    // everything it generates, after their own.
    let inherited: Vec<hasim_cib::AttrSet> = res
        .sets
        .iter()
        .filter(|set| set.kind == hasim_cib::SetKind::Meta)
        .cloned()
        .collect();
    let mut out = Vec::new();
    let mut last_ip: Option<String> = None;
    for i in 0..s.replicas {
        let member = |part| Member {
            bundle: s.id.clone(),
            replica: i,
            part,
            per_host: s.per_host,
        };
        let container_id = format!("{}-{}-{i}", s.id, s.agent);
        let mut container = primitive(&container_id, "heartbeat", &s.agent);
        container.sets.push(set(
            hasim_cib::SetKind::Instance,
            &format!("{}-attributes-{i}", s.id),
            vec![nv("image", &s.image)],
        ));
        container
            .ops
            .push(op(&container_id, "monitor", "60s", None));
        out.push((container, member(Part::Container)));
        let ip = s.ip_start.as_ref().and_then(|start| match &last_ip {
            None => Some(start.clone()),
            Some(l) => next_ip(l),
        });
        if let Some(addr) = &ip {
            last_ip = Some(addr.clone());
            let ip_id = format!("{}-ip-{addr}", s.id);
            let mut r = primitive(&ip_id, "heartbeat", "IPaddr2");
            let mut params = vec![nv("ip", addr)];
            if let Some(n) = &s.nic {
                params.push(nv("nic", n));
            }
            params.push(nv("cidr_netmask", s.netmask.as_deref().unwrap_or("32")));
            r.sets.push(set(
                hasim_cib::SetKind::Instance,
                &format!("{}-attributes-{i}", s.id),
                params,
            ));
            r.ops.push(op(&ip_id, "monitor", "60s", None));
            out.push((r, member(Part::Ip)));
        }
        let Some(child) = child.as_deref().filter(|_| managed) else {
            continue;
        };
        let conn_id = format!("{}-{i}", s.id);
        let mut conn = primitive(&conn_id, "pacemaker", "remote");
        conn.sets.push(set(
            hasim_cib::SetKind::Meta,
            &format!("{conn_id}-meta_attributes"),
            vec![nv("internal_rsc", "true"), nv("container", &container_id)],
        ));
        let addr = ip.clone().unwrap_or_else(|| "#uname".to_string());
        let port = s.control_port.clone().unwrap_or_else(|| "3121".to_string());
        conn.sets.push(set(
            hasim_cib::SetKind::Instance,
            &format!("{conn_id}-instance_attributes"),
            vec![nv("addr", &addr), nv("port", &port)],
        ));
        conn.ops.push(op(&conn_id, "monitor", "30s", Some("30s")));
        out.push((conn, member(Part::Connection)));
        let mut instance = child.clone();
        instance.id = format!("{}:{i}", child.id);
        out.push((instance, member(Part::Child)));
    }
    for (r, _) in out.iter_mut() {
        r.sets.extend(inherited.iter().cloned());
    }
    out
}

fn set(kind: hasim_cib::SetKind, id: &str, nvpairs: Vec<NvPair>) -> hasim_cib::AttrSet {
    hasim_cib::AttrSet {
        kind,
        id: Some(id.to_string()),
        score: None,
        rule: None,
        nvpairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_ranges_count_like_pacemaker() {
        assert_eq!(next_ip("10.0.0.1").as_deref(), Some("10.0.0.2"));
        assert_eq!(next_ip("10.0.0.254").as_deref(), Some("10.0.1.1"));
        assert_eq!(next_ip("10.0.254.254"), None);
        assert_eq!(next_ip("not-an-ip"), None);
    }
}
