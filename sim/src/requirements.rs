//! What each invariant needs in a scenario to have something to check.
//!
//! A checker that sees no events holds vacuously: `agreed-order` on a
//! cluster without Corosync, `single-vip-owner` without a VIP. In CI that is
//! a silent pass, so a scenario asking for such a check is refused at load,
//! at the checker's name, with what the scenario lacks.

use crate::scenario::Scenario;
use std::net::Ipv4Addr;
use std::ops::Range;

/// What a checker needs (each checker's list is in its registry entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// At least one node running Corosync (a `[corosync]` section whose
    /// nodelist matches a scenario node).
    CorosyncNodes,
    /// Corosync nodes and a test load (`load_interval`) to deliver.
    CorosyncTraffic,
    /// At least one VRRP instance (each has at least one VIP).
    Vip,
    /// At least one client whose target a node can answer: a VIP or a node
    /// address.
    Clients,
    /// Pacemaker runs (a `[pacemaker]` section).
    Pacemaker,
    /// At least one `[[client]]` with `workload = "kv"` and a `[[kvdb]]`
    /// or `[[galera]]`.
    DataClients,
}

fn needs(checker: &str) -> &'static [Need] {
    crate::checkers::registry::find(checker).map_or(&[], |spec| spec.needs)
}

/// Refuse any checker in `[expect] check` whose needs the scenario does not
/// meet. The error carries the checker name's span.
pub fn check(scenario: &Scenario) -> Result<(), (Range<usize>, String)> {
    for name in &scenario.expect.check {
        for need in needs(name.get_ref()) {
            if let Some(missing) = unmet(scenario, *need) {
                return Err((
                    name.span(),
                    format!(
                        "invariant `{}` has nothing to check: {missing}",
                        name.get_ref()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Why `need` is not met, or `None`.
fn unmet(scenario: &Scenario, need: Need) -> Option<String> {
    let corosync_nodes = scenario
        .corosync_conf
        .as_ref()
        .map_or(0, |c| c.node_ids.len());
    match need {
        Need::CorosyncNodes | Need::CorosyncTraffic if scenario.corosync.is_none() => {
            Some("the scenario runs no Corosync (add a `[corosync]` section with `conf`)".into())
        }
        Need::CorosyncNodes | Need::CorosyncTraffic if corosync_nodes == 0 => Some(
            "no scenario node matches a corosync.conf nodelist entry by its ring0 address".into(),
        ),
        Need::CorosyncTraffic
            if scenario
                .corosync
                .as_ref()
                .is_some_and(|c| c.load_interval.is_none()) =>
        {
            Some("no test messages are sent (set `load_interval` in `[corosync]`)".into())
        }
        Need::Vip if scenario.vrrp.is_empty() && pacemaker_vips(scenario).is_empty() => Some(
            "the scenario has no virtual IP (add a `[[vrrp]]` instance with `vips`, or an IPaddr2 resource)"
                .into(),
        ),
        Need::Clients if scenario.clients.is_empty() => {
            Some("the scenario has no `[[client]]` sending requests".into())
        }
        Need::Clients => unanswerable_client(scenario),
        Need::Pacemaker if scenario.pacemaker.is_none() => {
            Some("the scenario runs no Pacemaker (add a `[pacemaker]` section with `cib`)".into())
        }
        Need::DataClients
            if !scenario
                .clients
                .iter()
                .any(|c| c.workload == crate::scenario::Workload::Kv)
                || (scenario.kvdb.is_empty() && scenario.galera.is_empty()) =>
        {
            Some("the scenario has no data client (`workload = \"kv\"`) or no `[[kvdb]]` or `[[galera]]` database".into())
        }
        _ => None,
    }
}

/// The VIPs of the scenario's Pacemaker IPaddr2 resources.
fn pacemaker_vips(scenario: &Scenario) -> Vec<Ipv4Addr> {
    scenario
        .pacemaker_cib
        .as_ref()
        .map(|c| c.vips())
        .unwrap_or_default()
}

/// A client whose target is neither a VIP nor a node address: nobody could
/// ever answer it.
fn unanswerable_client(scenario: &Scenario) -> Option<String> {
    let answerable = |ip: &Ipv4Addr| {
        scenario.vrrp.iter().any(|v| v.vips.contains(ip))
            || pacemaker_vips(scenario).contains(ip)
            || scenario
                .nodes
                .iter()
                .any(|n| n.addresses.values().any(|a| a == ip))
    };
    scenario
        .clients
        .iter()
        .find(|c| !answerable(c.target.ip()))
        .map(|c| {
            format!(
                "client `{}` targets {}, which is neither a virtual IP nor a node address",
                c.name.get_ref(),
                c.target.ip()
            )
        })
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    const VRRP_ONLY: &str = r#"
name = "v"
duration = "10s"
[[segment]]
name = "public"
[[node]]
name = "lb1"
addresses = { public = "10.0.0.1" }
[[vrrp]]
node = "lb1"
interface = "public"
vrid = 51
priority = 100
advert_int = "1s"
vips = ["10.0.0.100"]
[[client]]
name = "c"
segment = "public"
address = "10.0.0.9"
target = "10.0.0.100:80"
interval = "100ms"
timeout = "50ms"
[expect]
check = ["single-vip-owner", "vip-available"]
"#;

    #[test]
    fn vrrp_checks_with_a_vip_and_clients_load() {
        Scenario::parse(VRRP_ONLY, "v.toml").unwrap();
    }

    #[test]
    fn corosync_checker_without_corosync_is_refused_at_its_name() {
        let text = VRRP_ONLY.replace("\"vip-available\"]", "\"vip-available\", \"agreed-order\"]");
        let e = Scenario::parse(&text, "v.toml").unwrap_err();
        assert!(
            e.message.contains(
                "invariant `agreed-order` has nothing to check: the scenario runs no Corosync"
            ),
            "{e}"
        );
        assert_eq!(e.line, 24, "{e}");
    }

    #[test]
    fn vip_checker_without_vrrp_is_refused() {
        let start = VRRP_ONLY.find("[[vrrp]]").unwrap();
        let end = VRRP_ONLY.find("[[client]]").unwrap();
        let text = format!("{}{}", &VRRP_ONLY[..start], &VRRP_ONLY[end..]);
        let e = Scenario::parse(&text, "v.toml").unwrap_err();
        assert!(e.message.contains("no virtual IP"), "{e}");
    }

    #[test]
    fn availability_without_clients_is_refused() {
        let start = VRRP_ONLY.find("[[client]]").unwrap();
        let end = VRRP_ONLY.find("[expect]").unwrap();
        let text = format!("{}{}", &VRRP_ONLY[..start], &VRRP_ONLY[end..]);
        let e = Scenario::parse(&text, "v.toml").unwrap_err();
        assert!(e.message.contains("no `[[client]]`"), "{e}");
    }

    #[test]
    fn client_aimed_at_nothing_is_refused() {
        let text = VRRP_ONLY.replace("10.0.0.100:80", "10.9.9.9:80");
        let e = Scenario::parse(&text, "v.toml").unwrap_err();
        assert!(e.message.contains("neither a virtual IP"), "{e}");
    }
}
