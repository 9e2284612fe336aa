use std::collections::BTreeMap;

use super::*;
use crate::device::{
    DeviceAction, DeviceConfig, DeviceFault, DeviceInput, DeviceKind, PowerDevice,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs one agent against a responder with a fixed answer latency; returns
/// the outcome, the time it took and the requests the responder saw.
fn run_fake(
    profile: AgentProfile,
    action: AgentAction,
    latency: Duration,
    mut respond: impl FnMut(Request) -> Option<Reply>,
) -> (AgentOutcome, Duration, Vec<Request>) {
    let call = AgentCall {
        device_address: "bmc".into(),
        plug: 0,
        action,
    };
    let (mut agent, first) = FenceAgent::start(Duration::ZERO, profile, call);
    let mut queue: BTreeMap<(Duration, u64), AgentInput> = BTreeMap::new();
    let mut seen = Vec::new();
    let mut n = 0;
    let mut pending = first;
    let mut now = Duration::ZERO;
    loop {
        for out in pending.drain(..) {
            n += 1;
            match out {
                AgentOutput::Done(o) => return (o, now, seen),
                AgentOutput::SetTimer { id, at } => {
                    queue.insert((at, n), AgentInput::Timer { id });
                }
                AgentOutput::Send { bytes, .. } => {
                    let req = Request::decode(&bytes).expect("agent sends valid requests");
                    seen.push(req);
                    if let Some(reply) = respond(req) {
                        queue.insert((now + latency, n), AgentInput::Datagram(reply.encode()));
                    }
                }
            }
        }
        let ((at, _), input) = queue.pop_first().expect("agent never finished");
        now = at;
        pending = agent.handle(now, input);
    }
}

/// Runs one agent against a real [`PowerDevice`].
fn run_device(
    profile: AgentProfile,
    action: AgentAction,
    dev: &mut PowerDevice,
) -> (AgentOutcome, Duration, Vec<bool>) {
    let call = AgentCall {
        device_address: "bmc".into(),
        plug: 0,
        action,
    };
    let (mut agent, first) = FenceAgent::start(Duration::ZERO, profile, call);
    let mut queue: BTreeMap<(Duration, u64), Result<AgentInput, DeviceInput>> = BTreeMap::new();
    let mut power = Vec::new();
    let mut n = 0;
    let mut now = Duration::ZERO;
    let mut agent_out = first;
    let mut dev_out = Vec::new();
    let mut feedback = Vec::new();
    loop {
        for out in agent_out.drain(..) {
            n += 1;
            match out {
                AgentOutput::Done(o) => return (o, now, power),
                AgentOutput::SetTimer { id, at } => {
                    queue.insert((at, n), Ok(AgentInput::Timer { id }));
                }
                AgentOutput::Send { bytes, .. } => {
                    dev_out.extend(dev.handle(
                        now,
                        DeviceInput::Datagram {
                            from: "agent".into(),
                            bytes,
                        },
                    ));
                }
            }
        }
        for out in dev_out.drain(..) {
            n += 1;
            match out {
                DeviceAction::SetTimer { id, at } => {
                    queue.insert((at, n), Err(DeviceInput::Timer { id }));
                }
                DeviceAction::Send { bytes, .. } => {
                    queue.insert((now, n), Ok(AgentInput::Datagram(bytes)));
                }
                DeviceAction::Power { machine, on } => {
                    power.push(on);
                    // The world reports the machine's new power back (a BMC
                    // reads its chassis state from it).
                    let report = DeviceInput::MachinePower {
                        machine,
                        on,
                        supply_lost: false,
                    };
                    let more = dev.handle(now, report);
                    feedback.extend(more);
                }
                DeviceAction::Event(_) => {}
            }
        }
        dev_out.append(&mut feedback);
        if !dev_out.is_empty() {
            continue;
        }
        let ((at, _), input) = queue.pop_first().expect("agent never finished");
        now = at;
        match input {
            Ok(i) => agent_out = agent.handle(now, i),
            Err(i) => dev_out = dev.handle(now, i),
        }
    }
}

fn bmc(latency: Duration) -> PowerDevice {
    PowerDevice::new(DeviceConfig {
        name: "bmc-n1".into(),
        address: "bmc".into(),
        kind: DeviceKind::Bmc {
            host: "n1".into(),
            dies_with_host: false,
        },
        latency,
    })
}

#[test]
fn ipmilan_off_takes_three_commands_with_sessions_and_power_wait() {
    let mut dev = bmc(ms(100));
    let (outcome, took, power) = run_device(AgentProfile::ipmilan(), AgentAction::Off, &mut dev);
    assert_eq!(outcome, AgentOutcome::Success);
    assert_eq!(power, vec![false]);
    // status, off, one poll: each 4 session exchanges + the command + the
    // session close = 6 round trips of 100 ms; plus power_wait 2 s.
    assert_eq!(took, ms(18 * 100 + 2000));
}

#[test]
fn off_on_a_node_already_off_succeeds_at_once() {
    let (outcome, took, seen) = run_fake(AgentProfile::apc_snmp(), AgentAction::Off, ms(10), |r| {
        Some(Reply::Ok {
            seq: r.seq,
            state: PowerState::Off,
        })
    });
    assert_eq!(outcome, AgentOutcome::Success);
    assert_eq!((took, seen.len()), (ms(10), 1));
}

#[test]
fn unreachable_device_fails_status_after_all_transmissions() {
    let mut dev = bmc(ms(100));
    dev.handle(
        Duration::ZERO,
        DeviceInput::SetFault(DeviceFault::Unreachable),
    );
    let (outcome, took, power) = run_device(AgentProfile::ipmilan(), AgentAction::Reboot, &mut dev);
    assert_eq!(outcome, AgentOutcome::Failed(AgentFailure::Status));
    assert!(power.is_empty());
    assert_eq!(took, Duration::from_secs(4 * 2));
}

#[test]
fn reboot_is_off_then_on() {
    let mut dev = bmc(ms(50));
    let (outcome, _, power) = run_device(AgentProfile::ipmilan(), AgentAction::Reboot, &mut dev);
    assert_eq!(outcome, AgentOutcome::Success);
    assert_eq!(power, vec![false, true]);
}

#[test]
fn a_device_that_never_shows_off_fails_after_power_timeout_polls() {
    let (outcome, _, seen) = run_fake(AgentProfile::apc_snmp(), AgentAction::Off, ms(10), |r| {
        Some(Reply::Ok {
            seq: r.seq,
            state: PowerState::On,
        })
    });
    assert_eq!(outcome, AgentOutcome::Failed(AgentFailure::WaitingOff));
    let polls = seen.iter().filter(|r| r.verb == Verb::Status).count();
    assert_eq!(polls, 1 + 20, "initial status plus power_timeout polls");
}

#[test]
fn on_is_tried_one_plus_retry_on_times() {
    let (outcome, _, seen) = run_fake(AgentProfile::apc_snmp(), AgentAction::On, ms(10), |r| {
        Some(Reply::Ok {
            seq: r.seq,
            state: PowerState::Off,
        })
    });
    assert_eq!(outcome, AgentOutcome::Failed(AgentFailure::WaitingOn));
    assert_eq!(seen.iter().filter(|r| r.verb == Verb::On).count(), 2);
}

#[test]
fn failing_device_fails_the_status_read() {
    let mut dev = bmc(ms(50));
    dev.handle(Duration::ZERO, DeviceInput::SetFault(DeviceFault::Failing));
    let (outcome, _, _) = run_device(AgentProfile::ipmilan(), AgentAction::Off, &mut dev);
    assert_eq!(outcome, AgentOutcome::Failed(AgentFailure::Status));
}

#[test]
fn status_reports_the_state() {
    let mut dev = bmc(ms(50));
    let (outcome, _, _) = run_device(AgentProfile::ipmilan(), AgentAction::Status, &mut dev);
    assert_eq!(outcome, AgentOutcome::Status(PowerState::On));
}

#[test]
fn profiles_by_agent_name() {
    assert_eq!(
        AgentProfile::for_agent("fence_ipmilan"),
        Some(AgentProfile::ipmilan())
    );
    assert_eq!(
        AgentProfile::for_agent("fence_apc_snmp"),
        Some(AgentProfile::apc_snmp())
    );
    assert_eq!(
        AgentProfile::for_agent("fence_ilo4").map(|p| p.login_round_trips),
        Some(5)
    );
    assert_eq!(
        AgentProfile::for_agent("fence_ilo3").map(|p| p.power_wait),
        Some(Duration::from_secs(4))
    );
    assert_eq!(AgentProfile::for_agent("fence_xvm"), None);
}
