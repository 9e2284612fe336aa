//! The fencer (`pacemaker-fenced`) as Pacemaker's fifth core on a node, and
//! the fence agents it runs.
//!
//! The fencer core (`hasim_fenced::Fencer`) is sans-IO; this module turns
//! its actions into steps the Pacemaker service carries out (multicast on
//! the `stonith-ng` CPG group, a result for the local controller, timers,
//! datagrams to power devices) and runs each `RunAgent` as a
//! `hasim_powerdev::FenceAgent` that talks to its device over the network
//! from the node's management address: agent requests go to
//! [`POWER_PORT`] at the device's address (the stonith primitive's
//! `ipaddr`/`ip`), replies come back to [`AGENT_PORT`].
//!
//! Randomness (pcmk_delay_max draws) comes from a splitmix64 stream seeded
//! by the boot's setup, never from the host.

use hasim_cib::Cib;
use hasim_cib::Element;
use hasim_cpg::Member;
use hasim_fenced::{
    AgentResult, ControllerNotice, FenceAction, FenceReaction, FenceRequest, Fencer, FencerAction,
    FencerEvent, FencerInput, FencingConfig,
};
use hasim_pcmk_proto::{LocalMsg, TimerId};
use hasim_powerdev::{
    AgentAction, AgentCall, AgentInput, AgentOutcome, AgentOutput, AgentProfile, FenceAgent,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// Where power devices listen (IPMI's RMCP port; hasim's PDUs use it too).
pub const POWER_PORT: u16 = 623;
/// Where a node's fence agents receive their devices' replies.
pub const AGENT_PORT: u16 = 1623;

/// A node's fencing for one boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencingSetup {
    /// The node's address on the management network: agents send from it.
    pub mgmt_address: Ipv4Addr,
    /// Seed of the fencer's random stream (pcmk_delay_max draws).
    pub seed: u64,
    /// SBD_WATCHDOG_TIMEOUT when the node runs SBD: resolves a negative
    /// stonith-watchdog-timeout (see [`Fencing::watchdog_timeout`]).
    pub sbd_timeout: Option<Duration>,
}

/// Something the fencer side of a node wants recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "what", rename_all = "kebab-case")]
pub enum FencingReport {
    /// A step of a fencing operation (the fencer's own events).
    Fencer { event: FencerEvent },
    /// A fence agent started (device address, plug, action).
    AgentRun {
        call: u64,
        device: String,
        agent: String,
        address: String,
        plug: u16,
        target: String,
        action: String,
    },
    /// A fence agent finished.
    AgentExit { call: u64, ok: bool, detail: String },
    /// The controller was told this node was fenced while it runs.
    FencedWhileAlive { by: String, reaction: String },
    /// The fencing configuration in the CIB could not be used.
    ConfigError { error: String },
    /// Pacemaker on this node exited after being told it was fenced
    /// (fence-reaction): its resources were stopped abruptly, these VIPs
    /// taken down. `panic` cannot reboot the machine from here (the node's
    /// `Host` has no power control) and exits the same way.
    PacemakerExited {
        reaction: String,
        vips_removed: Vec<String>,
    },
}

/// What the Pacemaker service must carry out for the fencer.
#[derive(Debug)]
pub enum Step {
    Mcast(Vec<u8>),
    ToController(LocalMsg),
    /// Set a timer at cluster time `at`.
    SetTimer(TimerId, Duration),
    CancelTimer(TimerId),
    Send {
        src: SocketAddrV4,
        dst: SocketAddrV4,
        bytes: Vec<u8>,
    },
    Report(FencingReport),
    /// fence-reaction: the controller was told this node was fenced while
    /// it runs; Pacemaker must exit (stop) or the host panic.
    Exit(FenceReaction),
}

/// One running fence agent.
struct Running {
    /// The device's address the agent talks to.
    device: Ipv4Addr,
    agent: FenceAgent,
}

/// The fencer and its agents on one node.
pub struct Fencing {
    me: String,
    fencer: Fencer,
    agents: BTreeMap<u64, Running>,
    rng: u64,
    mgmt: Ipv4Addr,
    sbd_timeout: Option<Duration>,
    next_call: u64,
    /// Controller call id -> target.
    calls: BTreeMap<u64, String>,
    configured: bool,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fencer_timer(id: u64) -> TimerId {
    TimerId(format!("fencer:{id}"))
}

fn agent_timer(call: u64, id: u64) -> TimerId {
    TimerId(format!("agent:{call}:{id}"))
}

fn agent_action(a: FenceAction) -> AgentAction {
    match a {
        FenceAction::Off => AgentAction::Off,
        FenceAction::On => AgentAction::On,
        FenceAction::Reboot => AgentAction::Reboot,
    }
}

/// The device address a stonith primitive names: `ip` or `ip:port`.
fn device_ip(address: &str) -> Option<Ipv4Addr> {
    address
        .parse::<Ipv4Addr>()
        .ok()
        .or_else(|| address.parse::<SocketAddrV4>().ok().map(|s| *s.ip()))
}

impl Fencing {
    pub fn new(me: &str, nodelist: BTreeMap<u32, String>, setup: &FencingSetup) -> Fencing {
        Fencing {
            me: me.to_string(),
            fencer: Fencer::new(me, nodelist, FencingConfig::default()),
            agents: BTreeMap::new(),
            rng: setup.seed,
            mgmt: setup.mgmt_address,
            sbd_timeout: setup.sbd_timeout,
            next_call: 0,
            calls: BTreeMap::new(),
            configured: false,
        }
    }

    /// The fencer's group membership changed.
    pub fn membership(&mut self, now: Duration, members: Vec<Member>) -> Vec<Step> {
        self.input(now, FencerInput::Membership { members })
    }

    /// A `stonith-ng` group message.
    pub fn deliver(&mut self, now: Duration, from: Member, payload: Vec<u8>) -> Vec<Step> {
        self.input(now, FencerInput::Deliver { from, payload })
    }

    /// A local message: the controller's fence request, the CIB manager's
    /// update, the executor's result (stonith resources make devices
    /// verified here).
    pub fn local(&mut self, now: Duration, msg: &LocalMsg) -> Vec<Step> {
        match msg {
            LocalMsg::FenceRequest {
                target,
                action,
                delay,
            } => {
                self.next_call += 1;
                let call = self.next_call;
                self.calls.insert(call, target.clone());
                let action = match action.as_str() {
                    "off" | "poweroff" => FenceAction::Off,
                    "on" => FenceAction::On,
                    // The controller asks "reboot"; stonith-action decides.
                    _ => self.fencer.config().stonith_action,
                };
                let req = FenceRequest {
                    client_call: call,
                    target: target.clone(),
                    action,
                    delay: i64::try_from(*delay).unwrap_or(i64::MAX),
                };
                self.input(now, FencerInput::Request(req))
            }
            LocalMsg::CibUpdated {
                cib,
                config_changed,
                ..
            } if *config_changed || !self.configured => self.config(now, cib),
            LocalMsg::ExecDone(result) if result.request.agent.class == "stonith" => {
                let running = match result.request.op.as_str() {
                    "start" | "monitor" if result.rc == 0 => true,
                    "stop" => false,
                    _ if result.rc != 0 => false,
                    _ => return Vec::new(),
                };
                let device = result.request.rsc.clone();
                self.input(now, FencerInput::DeviceRunning { device, running })
            }
            _ => Vec::new(),
        }
    }

    fn config(&mut self, now: Duration, cib: &Element) -> Vec<Step> {
        self.configured = true;
        let parsed = Cib::from_element(cib)
            .map_err(|e| e.to_string())
            .and_then(|c| FencingConfig::from_cib(&c).map_err(|e| e.to_string()));
        match parsed {
            Ok(mut cfg) => {
                let mut steps = Vec::new();
                match self.watchdog_timeout(cfg.stonith_watchdog_timeout_ms) {
                    Ok(ms) => cfg.stonith_watchdog_timeout_ms = ms,
                    Err(error) => {
                        cfg.stonith_watchdog_timeout_ms = 0;
                        steps.push(Step::Report(FencingReport::ConfigError { error }));
                    }
                }
                steps.extend(self.input(now, FencerInput::Config(Box::new(cfg))));
                steps
            }
            Err(error) => vec![Step::Report(FencingReport::ConfigError { error })],
        }
    }

    /// The stonith-watchdog-timeout the fencer uses (ms, 0 = no watchdog
    /// fencing), as Pacemaker 2.1.5 resolves it on this node: negative
    /// means twice SBD_WATCHDOG_TIMEOUT where SBD runs and nothing where it
    /// does not; a value shorter than the local SBD timeout is refused
    /// (Pacemaker would shut down; hasim scenarios are checked for it at
    /// load time, so only a CIB change at run time gets here, and it turns
    /// watchdog fencing off with an error in the trace).
    pub fn watchdog_timeout(&self, configured_ms: i64) -> Result<i64, String> {
        match self.sbd_timeout {
            Some(sbd) => {
                let sbd_ms = sbd.as_millis() as u64;
                hasim_fenced::rules::effective_watchdog_timeout(configured_ms, sbd_ms)
                    .map(|ms| ms as i64)
            }
            None => Ok(configured_ms.max(0)),
        }
    }

    /// A timer of the fencer or of an agent fired.
    pub fn timer(&mut self, now: Duration, id: &TimerId) -> Vec<Step> {
        let mut parts = id.0.split(':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("fencer"), Some(n), None) => match n.parse() {
                Ok(id) => self.input(now, FencerInput::Timer { id }),
                Err(_) => Vec::new(),
            },
            (Some("agent"), Some(call), Some(n)) => match (call.parse(), n.parse()) {
                (Ok(call), Ok(id)) => self.agent(now, call, AgentInput::Timer { id }),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// A datagram on [`AGENT_PORT`]: a device's reply, for the agents
    /// talking to that device (each ignores replies to others' sequence
    /// numbers).
    pub fn datagram(&mut self, now: Duration, src: SocketAddrV4, bytes: Vec<u8>) -> Vec<Step> {
        let calls: Vec<u64> = self
            .agents
            .iter()
            .filter(|(_, r)| r.device == *src.ip())
            .map(|(c, _)| *c)
            .collect();
        let mut out = Vec::new();
        for call in calls {
            out.extend(self.agent(now, call, AgentInput::Datagram(bytes.clone())));
        }
        out
    }

    fn agent(&mut self, now: Duration, call: u64, input: AgentInput) -> Vec<Step> {
        let Some(running) = self.agents.get_mut(&call) else {
            return Vec::new();
        };
        let outs = running.agent.handle(now, input);
        self.agent_outputs(now, call, outs)
    }

    fn agent_outputs(&mut self, now: Duration, call: u64, outs: Vec<AgentOutput>) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut done = None;
        for o in outs {
            match o {
                AgentOutput::Send { to, bytes } => {
                    if let Some(ip) = device_ip(&to) {
                        steps.push(Step::Send {
                            src: SocketAddrV4::new(self.mgmt, AGENT_PORT),
                            dst: SocketAddrV4::new(ip, POWER_PORT),
                            bytes,
                        });
                    }
                }
                AgentOutput::SetTimer { id, at } => {
                    steps.push(Step::SetTimer(agent_timer(call, id), at))
                }
                AgentOutput::Done(outcome) => done = Some(outcome),
            }
        }
        if let Some(outcome) = done {
            self.agents.remove(&call);
            let (ok, detail) = match outcome {
                AgentOutcome::Success => (true, "success".to_string()),
                AgentOutcome::Status(s) => (true, format!("status {s:?}")),
                AgentOutcome::Failed(f) => (false, format!("{f:?}")),
            };
            steps.push(Step::Report(FencingReport::AgentExit {
                call,
                ok,
                detail: detail.clone(),
            }));
            let result = if ok {
                AgentResult::Ok
            } else {
                AgentResult::Failed(detail)
            };
            steps.extend(self.input(now, FencerInput::AgentDone { call, result }));
        }
        steps
    }

    /// Feed the fencer one input and everything its actions feed back
    /// (random draws are answered before anything else).
    fn input(&mut self, now: Duration, input: FencerInput) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut pending = std::collections::VecDeque::from([input]);
        while let Some(input) = pending.pop_front() {
            for action in self.fencer.handle(now, input) {
                match action {
                    FencerAction::Mcast(bytes) => steps.push(Step::Mcast(bytes)),
                    FencerAction::ToController(notice) => self.notice(notice, &mut steps),
                    FencerAction::RunAgent(run) => {
                        let Some(ip) = device_ip(&run.address) else {
                            pending.push_back(FencerInput::AgentDone {
                                call: run.call,
                                result: AgentResult::Failed(format!(
                                    "device address {:?} is not an IPv4 address",
                                    run.address
                                )),
                            });
                            continue;
                        };
                        let Some(profile) = AgentProfile::for_agent(&run.agent) else {
                            pending.push_back(FencerInput::AgentDone {
                                call: run.call,
                                result: AgentResult::Failed(format!(
                                    "fence agent {} is not modelled",
                                    run.agent
                                )),
                            });
                            continue;
                        };
                        steps.push(Step::Report(FencingReport::AgentRun {
                            call: run.call,
                            device: run.device.clone(),
                            agent: run.agent.clone(),
                            address: run.address.clone(),
                            plug: run.plug,
                            target: run.target.clone(),
                            action: run.action.name().to_string(),
                        }));
                        let call = AgentCall {
                            device_address: run.address.clone(),
                            plug: run.plug,
                            action: agent_action(run.action),
                        };
                        let (agent, outs) = FenceAgent::start(now, profile, call);
                        self.agents.insert(run.call, Running { device: ip, agent });
                        let more = self.agent_outputs(now, run.call, outs);
                        steps.extend(more);
                    }
                    FencerAction::KillAgent { call } => {
                        self.agents.remove(&call);
                    }
                    FencerAction::SetTimer { id, at } => {
                        steps.push(Step::SetTimer(fencer_timer(id), at))
                    }
                    FencerAction::CancelTimer { id } => {
                        steps.push(Step::CancelTimer(fencer_timer(id)))
                    }
                    FencerAction::DrawRandom { request } => {
                        let value = (splitmix(&mut self.rng) >> 32) as u32;
                        pending.push_front(FencerInput::Random { request, value });
                    }
                    FencerAction::Report(event) => {
                        steps.push(Step::Report(FencingReport::Fencer { event }))
                    }
                }
            }
        }
        steps
    }

    fn notice(&mut self, notice: ControllerNotice, steps: &mut Vec<Step>) {
        match notice {
            ControllerNotice::Result {
                client_call,
                record,
            } => {
                let target = self.calls.remove(&client_call).unwrap_or(record.target);
                steps.push(Step::ToController(LocalMsg::FenceResult {
                    target,
                    ok: record.ok,
                }));
            }
            ControllerNotice::Notify(record) => {
                let reaction = hasim_fenced::rules::on_fence_notification(
                    &self.me,
                    &record.target,
                    record.ok,
                    self.fencer.config().fence_reaction,
                );
                if let hasim_fenced::rules::NotifyReaction::FencedWhileAlive(r) = reaction {
                    steps.push(Step::Report(FencingReport::FencedWhileAlive {
                        by: record.origin.clone(),
                        reaction: format!("{reaction:?}"),
                    }));
                    steps.push(Step::Exit(r));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_names_round_trip() {
        let setup = FencingSetup {
            mgmt_address: Ipv4Addr::new(10, 1, 0, 1),
            seed: 1,
            sbd_timeout: None,
        };
        let mut f = Fencing::new("node1", BTreeMap::from([(1, "node1".into())]), &setup);
        // Unknown ids are ignored, malformed names too.
        assert!(f.timer(Duration::ZERO, &fencer_timer(99)).is_empty());
        assert!(f
            .timer(Duration::ZERO, &TimerId::new("agent:x:1"))
            .is_empty());
        assert!(f.timer(Duration::ZERO, &TimerId::new("other")).is_empty());
    }

    #[test]
    fn device_addresses_with_or_without_port() {
        assert_eq!(device_ip("10.1.0.9"), Some(Ipv4Addr::new(10, 1, 0, 9)));
        assert_eq!(device_ip("10.1.0.9:623"), Some(Ipv4Addr::new(10, 1, 0, 9)));
        assert_eq!(device_ip("bmc1"), None);
    }

    const CIB: &str = r#"<cib><configuration><crm_config><cluster_property_set id="o"><nvpair id="s" name="stonith-enabled" value="true"/></cluster_property_set></crm_config><nodes/><resources><primitive id="fence-node2" class="stonith" type="fence_ipmilan"><instance_attributes id="i"><nvpair id="a" name="ipaddr" value="10.1.0.12"/><nvpair id="h" name="pcmk_host_list" value="node2"/></instance_attributes></primitive></resources><constraints/></configuration><status/></cib>"#;

    fn cib_updated() -> LocalMsg {
        LocalMsg::CibUpdated {
            version: Default::default(),
            digest: String::new(),
            cib: std::sync::Arc::new(hasim_cib::xml::parse(CIB).unwrap()),
            config_changed: true,
        }
    }

    /// The controller's request becomes the fencer's query to its group,
    /// with the device read from the CIB update; the fencer's own group
    /// message, delivered back, makes this node offer its device.
    #[test]
    fn a_controller_request_queries_the_group_with_the_cib_devices() {
        let setup = FencingSetup {
            mgmt_address: Ipv4Addr::new(10, 1, 0, 1),
            seed: 1,
            sbd_timeout: None,
        };
        let nodes = BTreeMap::from([(1, "node1".into()), (2, "node2".into())]);
        let mut f = Fencing::new("node1", nodes, &setup);
        let now = Duration::from_secs(30);
        let members = vec![Member { node: 1, pid: 1 }, Member { node: 2, pid: 1 }];
        f.membership(now, members);
        assert!(f.local(now, &cib_updated()).is_empty());
        assert_eq!(f.fencer.config().devices.len(), 1);
        let request = LocalMsg::FenceRequest {
            target: "node2".into(),
            action: "reboot".into(),
            delay: 0,
        };
        let steps = f.local(now, &request);
        let query = steps.iter().find_map(|s| match s {
            Step::Mcast(bytes) => Some(bytes.clone()),
            _ => None,
        });
        let query = query.expect("a query multicast");
        assert!(String::from_utf8_lossy(&query).contains("Query"));
        assert!(steps.iter().any(|s| matches!(s, Step::SetTimer(..))));
        // Delivered back (agreed order includes the sender): node1 offers
        // fence-node2, which can fence node2.
        let steps = f.deliver(now, Member { node: 1, pid: 1 }, query);
        let offers = steps.iter().any(
            |s| matches!(s, Step::Mcast(b) if String::from_utf8_lossy(b).contains("fence-node2")),
        );
        assert!(offers, "{steps:?}");
    }

    /// Negative means 2 × SBD_WATCHDOG_TIMEOUT only where SBD runs; a value
    /// shorter than the local SBD timeout is refused.
    #[test]
    fn stonith_watchdog_timeout_is_resolved_against_the_local_sbd() {
        let mut setup = FencingSetup {
            mgmt_address: Ipv4Addr::new(10, 1, 0, 1),
            seed: 1,
            sbd_timeout: Some(Duration::from_secs(5)),
        };
        let nodes = BTreeMap::from([(1, "node1".into())]);
        let f = Fencing::new("node1", nodes.clone(), &setup);
        assert_eq!(f.watchdog_timeout(-1), Ok(10_000));
        assert_eq!(f.watchdog_timeout(12_000), Ok(12_000));
        assert!(f.watchdog_timeout(3_000).is_err());
        setup.sbd_timeout = None;
        let f = Fencing::new("node1", nodes, &setup);
        assert_eq!(f.watchdog_timeout(-1), Ok(0));
        assert_eq!(f.watchdog_timeout(12_000), Ok(12_000));
    }

    #[test]
    fn draws_come_from_the_seed() {
        let (mut a, mut b) = (5u64, 5u64);
        assert_eq!(splitmix(&mut a), splitmix(&mut b));
        assert_ne!(splitmix(&mut a), 5);
    }
}
