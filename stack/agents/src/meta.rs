//! Agent metadata: supported actions and default timeouts, as the agents'
//! `meta-data` output gives them (resource-agents and Pacemaker's own
//! agents; systemd units get Pacemaker's 100 s start/stop default for the
//! service class being slow to report).

use std::time::Duration;

use hasim_pcmk_proto::AgentRef;

/// What an agent advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentMeta {
    pub start: Duration,
    pub stop: Duration,
    pub monitor: Duration,
    /// Suggested monitor interval.
    pub monitor_interval: Duration,
    /// Whether the agent implements promote/demote.
    pub promotable: bool,
}

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// Metadata of a known agent; `None` for an agent hasim does not model
/// (the executor answers "not installed", as lrmd does).
pub fn metadata(agent: &AgentRef) -> Option<AgentMeta> {
    let plain = |start, stop, monitor, interval| AgentMeta {
        start: s(start),
        stop: s(stop),
        monitor: s(monitor),
        monitor_interval: s(interval),
        promotable: false,
    };
    match (
        agent.class.as_str(),
        agent.provider.as_deref(),
        agent.kind.as_str(),
    ) {
        // pacemaker/agents/ocf/Dummy: start/stop 20 s, monitor 20 s every 10 s.
        ("ocf", Some("pacemaker"), "Dummy") | ("ocf", Some("heartbeat"), "Dummy") => {
            Some(plain(20, 20, 20, 10))
        }
        // Stateful: start/stop/promote/demote 20 s, monitor 20 s every 10/11 s.
        ("ocf", Some("pacemaker"), "Stateful") => Some(AgentMeta {
            promotable: true,
            ..plain(20, 20, 20, 10)
        }),
        // heartbeat/IPaddr2: start/stop 20 s, monitor 20 s every 10 s.
        ("ocf", Some("heartbeat"), "IPaddr2") => Some(plain(20, 20, 20, 10)),
        // systemd units: Pacemaker's systemd class waits up to 100 s.
        ("systemd", _, _) | ("service", _, _) | ("lsb", _, _) => Some(plain(100, 100, 100, 60)),
        // Fencing devices: the executor only registers them with the
        // fencer (start/stop/monitor succeed; fencing itself is the
        // fencer's, another crate's).
        ("stonith", _, _) => Some(plain(20, 20, 20, 60)),
        // heartbeat/galera: start/stop/demote 120 s, promote 300 s,
        // monitor 30 s every 20 s (10 s promoted).
        ("ocf", Some("heartbeat"), "galera") => Some(AgentMeta {
            promotable: true,
            ..plain(120, 120, 30, 20)
        }),
        // Other OCF agents (the Fuel seed's): modelled like Dummy.
        ("ocf", Some(_), _) => Some(plain(20, 20, 20, 10)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(class: &str, provider: Option<&str>, kind: &str) -> AgentRef {
        AgentRef {
            class: class.into(),
            provider: provider.map(str::to_string),
            kind: kind.into(),
        }
    }

    #[test]
    fn known_agents_have_metadata() {
        assert!(
            metadata(&a("ocf", Some("pacemaker"), "Stateful"))
                .unwrap()
                .promotable
        );
        assert_eq!(
            metadata(&a("ocf", Some("heartbeat"), "IPaddr2"))
                .unwrap()
                .start,
            s(20)
        );
        assert_eq!(
            metadata(&a("systemd", None, "haproxy")).unwrap().stop,
            s(100)
        );
        assert!(metadata(&a("stonith", None, "fence_ipmilan")).is_some());
        assert!(metadata(&a("upstart", None, "x")).is_none());
    }
}
