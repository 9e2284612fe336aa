//! What an agent's action does: its OCF return code, the resource's state
//! afterwards, and the host side effects.

use std::collections::BTreeMap;
use std::time::Duration;

use hasim_pcmk_proto::{AgentRef, HostAction};

use crate::behaviour::Outcome;
use crate::meta::metadata;
use crate::rc;

/// The state of one resource on one node, as its agent would find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgentState {
    #[default]
    Stopped,
    Started,
    Promoted,
    /// Broken in a way the agent reports as a generic error.
    Failed,
}

impl AgentState {
    pub fn active(self) -> bool {
        !matches!(self, AgentState::Stopped)
    }
}

/// A side effect for the executor to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Host(HostAction),
    /// IPaddr2's background send_arp: `count` ARPs every `interval`, the
    /// first one at once.
    ArpBurst {
        ip: String,
        nic: String,
        count: u32,
        interval: Duration,
    },
    /// `crm_attribute -N TARGET -l reboot --name NAME -v VALUE` (or `-D`
    /// when `None`); `crm_master` is the same with `master-RSC`.
    Attr {
        target: String,
        name: String,
        value: Option<String>,
    },
}

fn vip(params: &BTreeMap<String, String>) -> Option<(String, u8, String)> {
    let ip = params.get("ip")?.clone();
    let cidr = params
        .get("cidr_netmask")
        .and_then(|c| c.parse().ok())
        .unwrap_or(32);
    let nic = params.get("nic").cloned().unwrap_or_else(|| "eth0".into());
    Some((ip, cidr, nic))
}

/// Side effects of the resource becoming active (`up`) or inactive.
fn effects(agent: &AgentRef, params: &BTreeMap<String, String>, up: bool) -> Vec<Effect> {
    match (agent.class.as_str(), agent.kind.as_str()) {
        ("ocf", "IPaddr2") => {
            let Some((ip, cidr, nic)) = vip(params) else {
                return Vec::new();
            };
            if up {
                let count = params
                    .get("arp_count")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(5);
                let ms = params
                    .get("arp_interval")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(200);
                vec![
                    Effect::Host(HostAction::AddAddress {
                        ip: ip.clone(),
                        cidr,
                        nic: nic.clone(),
                    }),
                    Effect::ArpBurst {
                        ip,
                        nic,
                        count,
                        interval: Duration::from_millis(ms),
                    },
                ]
            } else {
                vec![Effect::Host(HostAction::RemoveAddress { ip, nic })]
            }
        }
        ("systemd", unit) | ("service", unit) | ("lsb", unit) => {
            vec![Effect::Host(HostAction::Service {
                unit: unit.to_string(),
                running: up,
            })]
        }
        _ => Vec::new(),
    }
}

/// The agent's own answer with no injected fault.
fn natural(
    agent: &AgentRef,
    params: &BTreeMap<String, String>,
    state: AgentState,
    op: &str,
) -> (i32, AgentState, Vec<Effect>) {
    let promotable = metadata(agent).is_some_and(|m| m.promotable);
    match (op, state) {
        ("start", _) if agent.kind == "IPaddr2" && !params.contains_key("ip") => {
            (rc::ERR_CONFIGURED, AgentState::Stopped, Vec::new())
        }
        ("start", AgentState::Stopped) => {
            (rc::OK, AgentState::Started, effects(agent, params, true))
        }
        ("start", s) => (rc::OK, s, Vec::new()),
        ("stop", AgentState::Stopped) => (rc::OK, AgentState::Stopped, Vec::new()),
        ("stop", _) => (rc::OK, AgentState::Stopped, effects(agent, params, false)),
        ("monitor", AgentState::Stopped) => (rc::NOT_RUNNING, state, Vec::new()),
        ("monitor", AgentState::Started) => (rc::OK, state, Vec::new()),
        ("monitor", AgentState::Promoted) => (rc::RUNNING_PROMOTED, state, Vec::new()),
        ("monitor", AgentState::Failed) => (rc::ERR_GENERIC, state, Vec::new()),
        ("promote" | "demote", _) if !promotable => (rc::UNIMPLEMENTED, state, Vec::new()),
        ("promote", AgentState::Started | AgentState::Promoted) => {
            (rc::OK, AgentState::Promoted, Vec::new())
        }
        ("demote", AgentState::Promoted | AgentState::Started) => {
            (rc::OK, AgentState::Started, Vec::new())
        }
        ("promote" | "demote", _) => (rc::NOT_RUNNING, state, Vec::new()),
        _ => (rc::OK, state, Vec::new()),
    }
}

/// Perform `op` on a resource in `state` with the scenario's `outcome`
/// (never `Hang`: the executor handles hangs). Returns the rc, the new
/// state and the side effects.
pub fn perform(
    agent: &AgentRef,
    params: &BTreeMap<String, String>,
    state: AgentState,
    op: &str,
    outcome: Outcome,
) -> (i32, AgentState, Vec<Effect>) {
    let Outcome::Rc(code) = outcome else {
        return natural(agent, params, state, op);
    };
    if code == rc::OK || code == rc::RUNNING_PROMOTED {
        return natural(agent, params, state, op);
    }
    let died = state.active() && (code == rc::NOT_RUNNING || op == "monitor");
    let after = match op {
        "start" => AgentState::Stopped,
        "monitor" if code == rc::NOT_RUNNING => AgentState::Stopped,
        "promote" => state,
        _ => AgentState::Failed,
    };
    let fx = if died && after == AgentState::Stopped {
        effects(agent, params, false)
    } else {
        Vec::new()
    };
    (code, after, fx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip2() -> (AgentRef, BTreeMap<String, String>) {
        let a = AgentRef {
            class: "ocf".into(),
            provider: Some("heartbeat".into()),
            kind: "IPaddr2".into(),
        };
        let p = [("ip", "10.0.0.9"), ("nic", "br-mgmt")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (a, p)
    }

    #[test]
    fn ipaddr2_start_adds_vip_and_arps_monitor_sees_only_local_state() {
        let (a, p) = ip2();
        let (r, s, fx) = perform(&a, &p, AgentState::Stopped, "start", Outcome::Natural);
        assert_eq!((r, s), (rc::OK, AgentState::Started));
        assert!(
            matches!(&fx[0], Effect::Host(HostAction::AddAddress { ip, .. }) if ip == "10.0.0.9")
        );
        assert!(
            matches!(&fx[1], Effect::ArpBurst { count: 5, interval, .. } if *interval == Duration::from_millis(200))
        );
        assert_eq!(perform(&a, &p, s, "monitor", Outcome::Natural).0, rc::OK);
        let (r, s2, fx) = perform(&a, &p, s, "monitor", Outcome::Rc(rc::NOT_RUNNING));
        assert_eq!((r, s2), (rc::NOT_RUNNING, AgentState::Stopped));
        assert!(matches!(
            &fx[0],
            Effect::Host(HostAction::RemoveAddress { .. })
        ));
        let mut no_ip = p.clone();
        no_ip.remove("ip");
        assert_eq!(
            perform(&a, &no_ip, AgentState::Stopped, "start", Outcome::Natural).0,
            rc::ERR_CONFIGURED
        );
    }

    #[test]
    fn stateful_promotes_dummy_cannot() {
        let st = AgentRef {
            class: "ocf".into(),
            provider: Some("pacemaker".into()),
            kind: "Stateful".into(),
        };
        let none = BTreeMap::new();
        let (_, s, _) = perform(&st, &none, AgentState::Started, "promote", Outcome::Natural);
        assert_eq!(s, AgentState::Promoted);
        assert_eq!(
            perform(&st, &none, s, "monitor", Outcome::Natural).0,
            rc::RUNNING_PROMOTED
        );
        let dummy = AgentRef {
            kind: "Dummy".into(),
            ..st
        };
        assert_eq!(
            perform(
                &dummy,
                &none,
                AgentState::Started,
                "promote",
                Outcome::Natural
            )
            .0,
            rc::UNIMPLEMENTED
        );
        assert_eq!(
            perform(&dummy, &none, AgentState::Started, "stop", Outcome::Rc(1)).1,
            AgentState::Failed
        );
    }
}
