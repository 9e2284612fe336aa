//! `[[pacemaker.remote]]`: a group of Pacemaker Remote nodes (compute
//! nodes). Each is a machine that runs pacemaker_remoted only (no
//! Corosync, no cluster daemons), named `PREFIX1`..`PREFIXcount`, with
//! consecutive addresses from `first_address` on one segment. An optional
//! `pdu` adds one PDU whose outlet N powers node N, for fencing them.
//!
//! The CIB still has to define each node's connection resource
//! (`ocf:pacemaker:remote`, `server` its address or name) and the fence
//! device, as a real cluster's would.

use crate::power_spec::PowerDeviceSpec;
use crate::scenario::{Node, Scenario};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// The most remote nodes one table may declare.
pub const MAX_REMOTE_NODES: u32 = 10_000;

/// `[[pacemaker.remote]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteGroup {
    /// Node names are this plus 1..=count.
    pub prefix: String,
    pub count: u32,
    /// The segment the nodes sit on (default ring0).
    #[serde(default = "default_segment")]
    pub segment: String,
    /// The first node's address; the others follow it.
    pub first_address: Ipv4Addr,
    /// A PDU powering the group, outlet N for node N.
    pub pdu: Option<PduSpec>,
}

/// The group's PDU.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PduSpec {
    pub name: String,
    pub address: Ipv4Addr,
    #[serde(default = "default_segment")]
    pub segment: String,
    #[serde(default = "default_latency", with = "humantime_serde")]
    pub latency: Duration,
}

fn default_segment() -> String {
    "ring0".into()
}

fn default_latency() -> Duration {
    Duration::from_millis(100)
}

impl RemoteGroup {
    /// The nodes' names and addresses, or what is wrong with the table.
    pub fn members(&self) -> Result<Vec<(String, Ipv4Addr)>, String> {
        if self.count == 0 || self.count > MAX_REMOTE_NODES {
            return Err(format!(
                "expected `count` from 1 to {MAX_REMOTE_NODES}, found {}",
                self.count
            ));
        }
        crate::names::check_host_name(&format!("{}{}", self.prefix, self.count))
            .map_err(|e| format!("`prefix`: {e}"))?;
        let first = u32::from(self.first_address);
        let last = first.checked_add(self.count - 1).ok_or_else(|| {
            format!(
                "{} addresses from {} run past 255.255.255.255",
                self.count, self.first_address
            )
        })?;
        Ok((first..=last)
            .enumerate()
            .map(|(i, a)| (format!("{}{}", self.prefix, i + 1), Ipv4Addr::from(a)))
            .collect())
    }
}

/// Add the remote nodes (and their PDUs) of `[[pacemaker.remote]]` to the
/// scenario's machines, checking names and segments.
pub fn adopt(scenario: &mut Scenario) -> Result<(), (Range<usize>, String)> {
    let groups = match &scenario.pacemaker {
        Some(p) => p.remote.clone(),
        None => return Ok(()),
    };
    for group in groups {
        let span = group.span();
        let g = group.get_ref();
        let at = |m: String| (span.clone(), m);
        if !scenario
            .segments
            .iter()
            .any(|s| s.name.get_ref() == &g.segment)
        {
            return Err(at(format!("unknown segment `{}`", g.segment)));
        }
        let members = g.members().map_err(at)?;
        for (name, address) in &members {
            if scenario.host_names().contains(&name.as_str()) {
                return Err(at(format!("remote node `{name}` is already a host's name")));
            }
            scenario.nodes.push(Node {
                name: Spanned::new(span.clone(), name.clone()),
                addresses: BTreeMap::from([(g.segment.clone(), *address)]),
                boot_delay: crate::scenario::default_boot_delay(),
            });
        }
        if let Some(pdu) = &g.pdu {
            let outlets = members
                .iter()
                .enumerate()
                .map(|(i, (n, _))| ((i + 1).to_string(), n.clone()))
                .collect();
            scenario.power_devices.push(PowerDeviceSpec {
                name: Spanned::new(span.clone(), pdu.name.clone()),
                kind: Spanned::new(span.clone(), "pdu".into()),
                address: pdu.address,
                segment: pdu.segment.clone(),
                host: None,
                dies_with_host: false,
                outlets,
                latency: pdu.latency,
            });
        }
    }
    Ok(())
}

/// Every remote node's name and address (for connection resources that
/// name their `server` by node name).
pub fn hosts(scenario: &Scenario) -> BTreeMap<String, Ipv4Addr> {
    let Some(p) = &scenario.pacemaker else {
        return BTreeMap::new();
    };
    p.remote
        .iter()
        .filter_map(|g| g.get_ref().members().ok())
        .flatten()
        .collect()
}

/// Whether `node` is one of the scenario's remote nodes.
pub fn is_remote(scenario: &Scenario, node: &str) -> bool {
    scenario.pacemaker.as_ref().is_some_and(|p| {
        p.remote.iter().any(|g| {
            let g = g.get_ref();
            node.strip_prefix(g.prefix.as_str())
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n >= 1 && n <= g.count && format!("{}{n}", g.prefix) == node)
        })
    })
}

/// pacemaker_remoted's setup on `node` for one boot; `None` for machines
/// that are not remote nodes.
#[cfg(madsim)]
pub fn setup(
    scenario: &Scenario,
    seed: u64,
    node: &str,
    incarnation: u64,
    now: Duration,
) -> Option<hasim_node::remote_daemon::RemoteSetup> {
    use hasim_node::pacemaker::mix;
    if !is_remote(scenario, node) {
        return None;
    }
    let section = scenario.pacemaker.as_ref()?;
    let n = scenario.nodes.iter().find(|n| n.name.get_ref() == node)?;
    let index = scenario
        .nodes
        .iter()
        .position(|m| m.name.get_ref() == node)? as u64;
    Some(hasim_node::remote_daemon::RemoteSetup {
        node: node.to_string(),
        seed: mix(seed ^ REMOTED_STREAM ^ mix(index << 32 | incarnation)),
        behaviour: section
            .behaviour
            .iter()
            .filter(|b| b.get_ref().node.as_deref().is_none_or(|x| x == node))
            .map(|b| b.get_ref().rule())
            .collect(),
        interfaces: n.addresses.clone(),
        boot_time: now,
    })
}

/// Stream tag of pacemaker_remoted's random draws.
#[cfg(madsim)]
const REMOTED_STREAM: u64 = 0x7265_6d6f_7465_6421;

#[cfg(test)]
mod tests {
    use super::*;

    fn group(count: u32, first: &str) -> RemoteGroup {
        RemoteGroup {
            prefix: "compute".into(),
            count,
            segment: "ring0".into(),
            first_address: first.parse().unwrap(),
            pdu: None,
        }
    }

    #[test]
    fn members_are_numbered_with_consecutive_addresses() {
        let m = group(3, "10.0.1.254").members().unwrap();
        assert_eq!(m[0], ("compute1".into(), "10.0.1.254".parse().unwrap()));
        assert_eq!(m[2], ("compute3".into(), "10.0.2.0".parse().unwrap()));
        let e = group(0, "10.0.1.1").members().unwrap_err();
        assert!(e.contains("`count` from 1"), "{e}");
        let e = group(3, "255.255.255.254").members().unwrap_err();
        assert!(e.contains("run past"), "{e}");
    }
}
