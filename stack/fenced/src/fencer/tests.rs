//! Unit tests of the fencer's rules, driving cores directly over a
//! synchronous loopback group.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::config::{DelayBase, Device, HostCheck, Level};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn device(id: &str, targets: &[&str]) -> Device {
    Device {
        id: id.into(),
        agent: "fence_ipmilan".into(),
        address: format!("addr-{id}"),
        host_check: HostCheck::StaticList,
        host_list: targets.iter().map(|t| t.to_string()).collect(),
        host_map: BTreeMap::new(),
        plug: 0,
        delay_base: DelayBase::default(),
        delay_max: 0,
        action_timeouts: BTreeMap::new(),
        retries: BTreeMap::new(),
        banned_on: BTreeSet::new(),
    }
}

/// Fencers on one loopback group: multicasts are delivered to every
/// member at once, in order.
struct Bus {
    now: Duration,
    fencers: BTreeMap<String, Fencer>,
    timers: BTreeMap<(Duration, u64), (String, u64)>,
    runs: Vec<(String, AgentRun)>,
    kills: Vec<u64>,
    draws: Vec<(String, u64)>,
    notices: Vec<(String, ControllerNotice)>,
    events: Vec<FencerEvent>,
}

impl Bus {
    fn new(nodes: &[&str], group: &[&str], cfg: FencingConfig) -> Bus {
        let names: BTreeMap<NodeId, String> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32 + 1, n.to_string()))
            .collect();
        let members: Vec<Member> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| group.contains(n))
            .map(|(i, _)| Member {
                node: i as u32 + 1,
                pid: 1,
            })
            .collect();
        let mut bus = Bus {
            now: Duration::ZERO,
            fencers: BTreeMap::new(),
            timers: BTreeMap::new(),
            runs: Vec::new(),
            kills: Vec::new(),
            draws: Vec::new(),
            notices: Vec::new(),
            events: Vec::new(),
        };
        for n in nodes.iter().filter(|n| group.contains(n)) {
            let mut f = Fencer::new(n, names.clone(), cfg.clone());
            f.handle(
                Duration::ZERO,
                FencerInput::Membership {
                    members: members.clone(),
                },
            );
            bus.fencers.insert(n.to_string(), f);
        }
        bus
    }

    fn input(&mut self, node: &str, input: FencerInput) {
        let mut pending = vec![(node.to_string(), input)];
        while !pending.is_empty() {
            let (n, input) = pending.remove(0);
            let Some(f) = self.fencers.get_mut(&n) else {
                continue;
            };
            for a in f.handle(self.now, input) {
                match a {
                    FencerAction::Mcast(payload) => {
                        for to in self.fencers.keys() {
                            pending.push((
                                to.clone(),
                                FencerInput::Deliver {
                                    from: Member { node: 1, pid: 1 },
                                    payload: payload.clone(),
                                },
                            ));
                        }
                    }
                    FencerAction::ToController(c) => self.notices.push((n.clone(), c)),
                    FencerAction::RunAgent(r) => self.runs.push((n.clone(), r)),
                    FencerAction::KillAgent { call } => self.kills.push(call),
                    FencerAction::SetTimer { id, at } => {
                        self.timers.insert((at, id), (n.clone(), id));
                    }
                    FencerAction::CancelTimer { id } => self.timers.retain(|_, (_, i)| *i != id),
                    FencerAction::DrawRandom { request } => self.draws.push((n.clone(), request)),
                    FencerAction::Report(e) => self.events.push(e),
                }
            }
        }
    }

    /// Fire timers up to `until`.
    fn advance(&mut self, until: Duration) {
        while let Some((&(at, key), _)) = self.timers.first_key_value() {
            if at > until {
                break;
            }
            let Some((n, id)) = self.timers.remove(&(at, key)) else {
                break;
            };
            self.now = at;
            self.input(&n, FencerInput::Timer { id });
        }
        self.now = until;
    }

    fn request(&mut self, node: &str, target: &str, delay: i64) {
        let req = FenceRequest {
            client_call: 1,
            target: target.into(),
            action: FenceAction::Off,
            delay,
        };
        self.input(node, FencerInput::Request(req));
    }

    fn agent_done(&mut self, i: usize, result: AgentResult) {
        let (n, run) = self.runs[i].clone();
        self.input(
            &n,
            FencerInput::AgentDone {
                call: run.call,
                result,
            },
        );
    }

    fn results(&self) -> Vec<FenceRecord> {
        self.notices
            .iter()
            .filter_map(|(_, c)| match c {
                ControllerNotice::Result { record, .. } => Some(record.clone()),
                _ => None,
            })
            .collect()
    }
}

fn cfg(devices: Vec<Device>) -> FencingConfig {
    FencingConfig {
        devices,
        ..FencingConfig::default()
    }
}

#[test]
fn no_device_anywhere_fails_as_soon_as_all_replied() {
    let mut bus = Bus::new(&["n1", "n2"], &["n1", "n2"], cfg(vec![]));
    bus.request("n1", "n3", 0);
    let r = bus.results();
    assert_eq!(r.len(), 1);
    assert!(!r[0].ok && r[0].reason == "No fence device", "{r:?}");
    assert_eq!(
        bus.fencers["n2"].history().len(),
        1,
        "every node records the result"
    );
}

#[test]
fn missing_query_replies_time_out_after_1_2_times_stonith_timeout() {
    // The group has two members but only n1 runs here: n2 never replies.
    let mut bus = Bus::new(&["n1", "n2"], &["n1", "n2"], cfg(vec![]));
    bus.fencers.remove("n2");
    bus.request("n1", "n3", 0);
    assert!(bus.results().is_empty(), "waits for n2's reply");
    bus.advance(secs(71));
    assert!(bus.results().is_empty());
    bus.advance(secs(72));
    let r = bus.results();
    assert_eq!((r.len(), r[0].completed_ms), (1, 72_000));
    assert!(r[0].reason.contains("No capable peers replied"), "{r:?}");
}

#[test]
fn a_failed_agent_is_retried_while_under_70_percent_of_its_timeout() {
    let mut d = device("fence-n3", &["n3"]);
    d.action_timeouts.insert(FenceAction::Off, 10);
    let mut bus = Bus::new(&["n1", "n2", "n3"], &["n1"], cfg(vec![d.clone()]));
    bus.request("n1", "n3", 0);
    assert_eq!(bus.runs.len(), 1);
    bus.now = secs(1);
    bus.agent_done(0, AgentResult::Failed("EC_STATUS".into()));
    assert_eq!(bus.runs.len(), 2, "retried (1 s < 7 s)");
    assert_eq!(bus.runs[1].1.timeout, secs(9), "with the remaining timeout");
    bus.now = secs(2);
    bus.agent_done(1, AgentResult::Failed("EC_STATUS".into()));
    assert_eq!(bus.runs.len(), 2, "pcmk_off_retries default 2 reached");
    assert!(!bus.results()[0].ok);

    let mut late = Bus::new(&["n1", "n2", "n3"], &["n1"], cfg(vec![d]));
    late.request("n1", "n3", 0);
    late.now = secs(8);
    late.agent_done(0, AgentResult::Failed("EC_STATUS".into()));
    assert_eq!(late.runs.len(), 1, "no retry after 70% of the timeout");
}

#[test]
fn a_failure_on_one_executor_moves_to_another_capable_peer() {
    let mut bus = Bus::new(
        &["n1", "n2", "n3"],
        &["n1", "n2"],
        cfg(vec![device("fence-n3", &["n3"])]),
    );
    bus.request("n1", "n3", 0);
    bus.now = secs(50);
    bus.agent_done(0, AgentResult::Failed("EC_STATUS".into()));
    assert_eq!(bus.runs.len(), 2);
    assert_ne!(
        bus.runs[0].0, bus.runs[1].0,
        "the other node tries its copy of the device"
    );
    bus.agent_done(1, AgentResult::Ok);
    assert!(bus.results()[0].ok);
}

#[test]
fn an_agent_timeout_kills_it_and_is_not_retried() {
    let mut bus = Bus::new(
        &["n1", "n2", "n3"],
        &["n1"],
        cfg(vec![device("fence-n3", &["n3"])]),
    );
    bus.request("n1", "n3", 0);
    let call = bus.runs[0].1.call;
    bus.advance(secs(60));
    assert_eq!(bus.kills, vec![call]);
    assert_eq!(bus.runs.len(), 1);
    let r = bus.results();
    assert!(!r.is_empty() && !r[0].ok, "{r:?}");
}

#[test]
fn pcmk_delay_max_draws_a_whole_second_delay_before_the_agent_runs() {
    let mut d = device("fence-n3", &["n3"]);
    d.delay_max = 10;
    let mut bus = Bus::new(&["n1", "n3"], &["n1"], cfg(vec![d]));
    bus.request("n1", "n3", 0);
    assert!(bus.runs.is_empty());
    let (n, request) = bus.draws[0].clone();
    bus.input(&n, FencerInput::Random { request, value: 17 });
    assert!(bus.events.iter().any(|e| matches!(
        e,
        FencerEvent::DelayStarted {
            delay: 7,
            base: 0,
            max: 10,
            ..
        }
    )));
    bus.advance(secs(6));
    assert!(bus.runs.is_empty());
    bus.advance(secs(7));
    assert_eq!(bus.runs.len(), 1);
    bus.agent_done(0, AgentResult::Ok);
    assert_eq!(bus.results()[0].delay, 7, "the history records the delay");
}

#[test]
fn a_requested_priority_delay_adds_to_the_device_base() {
    let mut d = device("fence-n3", &["n3"]);
    d.delay_base = DelayBase {
        all: 2,
        per_target: Vec::new(),
        is_map: false,
    };
    let mut bus = Bus::new(&["n1", "n3"], &["n1"], cfg(vec![d]));
    bus.request("n1", "n3", 20);
    assert!(bus.draws.is_empty(), "a static base needs no draw");
    bus.advance(secs(21));
    assert!(bus.runs.is_empty());
    bus.advance(secs(22));
    assert_eq!(bus.runs.len(), 1);
}

#[test]
fn concurrent_fencing_off_runs_one_operation_at_a_time() {
    let devices = vec![device("fence-n3", &["n3"]), device("fence-n4", &["n4"])];
    let mut bus = Bus::new(&["n1", "n3", "n4"], &["n1"], cfg(devices));
    bus.request("n1", "n3", 0);
    bus.request("n1", "n4", 0);
    assert_eq!(bus.runs.len(), 1);
    assert!(bus
        .events
        .iter()
        .any(|e| matches!(e, FencerEvent::Queued { target } if target == "n4")));
    bus.agent_done(0, AgentResult::Ok);
    assert_eq!(
        bus.runs.len(),
        2,
        "the queued request starts when the first finishes"
    );
    assert_eq!(bus.runs[1].1.target, "n4");
}

#[test]
fn topology_moves_to_level_two_and_drops_the_requested_delay() {
    let mut c = cfg(vec![device("bmc-n3", &["n3"]), device("pdu", &["n3"])]);
    let level = |index, d: &str| Level {
        target: "n3".into(),
        index,
        devices: vec![d.into()],
    };
    c.topology
        .insert("n3".into(), vec![level(1, "bmc-n3"), level(2, "pdu")]);
    let mut bus = Bus::new(&["n1", "n3"], &["n1"], c);
    bus.request("n1", "n3", 5);
    bus.advance(secs(5));
    assert_eq!(bus.runs.len(), 1);
    assert_eq!(bus.runs[0].1.device, "bmc-n3");
    let t = bus.now;
    bus.agent_done(0, AgentResult::Failed("EC_STATUS".into()));
    bus.agent_done(1, AgentResult::Failed("EC_STATUS".into()));
    assert_eq!(bus.runs.len(), 3, "level 2 starts without the 5 s delay");
    assert_eq!(bus.runs[2].1.device, "pdu");
    assert_eq!(bus.now, t);
    bus.agent_done(2, AgentResult::Ok);
    let r = bus.results();
    assert!(
        r[0].ok && r[0].level == 2 && r[0].device.as_deref() == Some("pdu"),
        "{r:?}"
    );
}

#[test]
fn a_verified_peer_is_preferred_over_an_unverified_one() {
    let mut bus = Bus::new(
        &["n1", "n2", "n3"],
        &["n1", "n2"],
        cfg(vec![device("fence-n3", &["n3"])]),
    );
    bus.input(
        "n2",
        FencerInput::DeviceRunning {
            device: "fence-n3".into(),
            running: true,
        },
    );
    bus.request("n1", "n3", 0);
    assert_eq!(bus.runs.len(), 1);
    assert_eq!(bus.runs[0].0, "n2", "the device runs on n2");
}

#[test]
fn watchdog_timeout_assumes_the_target_self_fenced_when_no_device_can() {
    let mut c = cfg(vec![]);
    c.stonith_watchdog_timeout_ms = 10_000;
    let mut bus = Bus::new(&["n1", "n3"], &["n1"], c);
    bus.request("n1", "n3", 0);
    bus.advance(secs(9));
    assert!(bus.results().is_empty());
    bus.advance(secs(10));
    let r = bus.results();
    assert!(
        r[0].ok && r[0].device.as_deref() == Some("watchdog"),
        "{r:?}"
    );
}

#[test]
fn a_malformed_group_message_is_reported_not_fatal() {
    let mut bus = Bus::new(&["n1"], &["n1"], cfg(vec![]));
    bus.input(
        "n1",
        FencerInput::Deliver {
            from: Member { node: 1, pid: 1 },
            payload: b"{nonsense".to_vec(),
        },
    );
    assert!(matches!(bus.events[0], FencerEvent::Malformed { .. }));
}

/// Random message sequences (valid messages with random fields, garbage,
/// stray timers and agent results) never panic the core.
#[test]
fn arbitrary_inputs_never_panic() {
    use rand::{Rng, SeedableRng};
    let nodes = ["n1", "n2", "n3"];
    let pick = |r: &mut rand_chacha::ChaCha8Rng| nodes[r.gen_range(0..3)].to_string();
    for seed in 0..200u64 {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut c = cfg(vec![
            device("fence-n1", &["n1"]),
            device("fence-n3", &["n3"]),
        ]);
        c.topology.insert(
            "n3".into(),
            vec![Level {
                target: "n3".into(),
                index: 1,
                devices: vec!["fence-n3".into()],
            }],
        );
        let mut bus = Bus::new(&nodes, &["n1", "n2"], c);
        for step in 0..60 {
            bus.now = secs(step);
            let node = pick(&mut r);
            if !bus.fencers.contains_key(&node) {
                continue;
            }
            let op = format!("{}:{}", pick(&mut r), r.gen_range(0..5));
            let msg = match r.gen_range(0..8) {
                0 => FencerMsg::Query {
                    op,
                    origin: pick(&mut r),
                    target: pick(&mut r),
                    action: FenceAction::Off,
                    timeout: r.gen_range(0..5),
                },
                1 => FencerMsg::QueryReply {
                    op,
                    from: pick(&mut r),
                    to: node.clone(),
                    devices: vec![],
                },
                2 => FencerMsg::Fence {
                    op,
                    origin: pick(&mut r),
                    to: node.clone(),
                    target: pick(&mut r),
                    action: FenceAction::Reboot,
                    device: None,
                    timeout: r.gen_range(0..3),
                    delay: r.gen_range(-1..3),
                },
                3 => FencerMsg::FenceReply {
                    op,
                    from: pick(&mut r),
                    to: node.clone(),
                    device: Some("fence-n3".into()),
                    ok: r.gen(),
                    timed_out: r.gen(),
                    reason: String::new(),
                    delay: 0,
                },
                _ => {
                    let input = match r.gen_range(0..5) {
                        0 => FencerInput::Timer {
                            id: r.gen_range(0..40),
                        },
                        1 => FencerInput::AgentDone {
                            call: r.gen_range(0..40),
                            result: AgentResult::Failed("x".into()),
                        },
                        2 => FencerInput::Random {
                            request: r.gen_range(0..40),
                            value: r.gen(),
                        },
                        3 => FencerInput::Deliver {
                            from: Member { node: 9, pid: 1 },
                            payload: (0..r.gen_range(0..20)).map(|_| r.gen()).collect(),
                        },
                        _ => FencerInput::Request(FenceRequest {
                            client_call: 1,
                            target: pick(&mut r),
                            action: FenceAction::Off,
                            delay: r.gen_range(-1..30),
                        }),
                    };
                    bus.input(&node, input);
                    continue;
                }
            };
            bus.input(
                &node,
                FencerInput::Deliver {
                    from: Member { node: 1, pid: 1 },
                    payload: msg.encode(),
                },
            );
            bus.advance(bus.now);
        }
        bus.advance(secs(10_000));
    }
}

#[test]
fn reboot_on_a_level_with_two_devices_is_off_off_then_on_on() {
    let mut c = cfg(vec![device("psu-a", &["n3"]), device("psu-b", &["n3"])]);
    let level = Level {
        target: "n3".into(),
        index: 1,
        devices: vec!["psu-a".into(), "psu-b".into()],
    };
    c.topology.insert("n3".into(), vec![level]);
    let mut bus = Bus::new(&["n1", "n3"], &["n1"], c);
    let req = FenceRequest {
        client_call: 1,
        target: "n3".into(),
        action: FenceAction::Reboot,
        delay: 0,
    };
    bus.input("n1", FencerInput::Request(req));
    for i in 0..5 {
        // The "on" of psu-b fails twice (run and retry): ignored after a successful "off".
        let result = if i >= 3 {
            AgentResult::Failed("EC_WAITING_ON".into())
        } else {
            AgentResult::Ok
        };
        bus.agent_done(i, result);
    }
    let steps: Vec<(String, FenceAction)> = bus
        .runs
        .iter()
        .map(|(_, r)| (r.device.clone(), r.action))
        .collect();
    let expected = [
        ("psu-a", FenceAction::Off),
        ("psu-b", FenceAction::Off),
        ("psu-a", FenceAction::On),
        ("psu-b", FenceAction::On),
        ("psu-b", FenceAction::On),
    ];
    assert_eq!(steps, expected.map(|(d, a)| (d.to_string(), a)).to_vec());
    let r = bus.results();
    assert!(
        r.len() == 1 && r[0].ok && r[0].action == FenceAction::Reboot,
        "{r:?}"
    );
}

/// 2.1.5 reports pcmk_delay_max / 1000 in query replies, so the requester's
/// timeouts ignore the delay: a long random delay outlasts the total
/// timeout (1.2 × stonith-timeout) and the operation fails while the
/// executor is still waiting.
#[test]
fn a_delay_longer_than_the_timeout_fails_the_operation_in_2_1_5() {
    let mut d = device("fence-n3", &["n3"]);
    d.delay_max = 60;
    let mut c = cfg(vec![d]);
    c.stonith_timeout = 30;
    let mut bus = Bus::new(&["n1", "n3"], &["n1"], c);
    bus.request("n1", "n3", 0);
    let (n, request) = bus.draws[0].clone();
    bus.input(&n, FencerInput::Random { request, value: 50 });
    bus.advance(secs(36));
    let r = bus.results();
    assert!(
        r.len() == 1 && !r[0].ok && r[0].completed_ms == 36_000,
        "{r:?}"
    );
    assert!(bus.runs.is_empty(), "the agent had not even started");
}
