//! Machines can be powered off by something other than the fault timeline
//! (as a fencing device will): the cluster reacts exactly as to a scripted
//! power cut.
#![cfg(madsim)]

mod common;

use common::{load, SharedBuf};
use hasim::machines::PowerAction;
use hasim::world;
use std::time::Duration;

#[test]
fn an_agent_outside_the_fault_timeline_cuts_power() {
    let mut scenario = load("corosync-3node-power-off.toml");
    scenario.faults.clear();
    let buf = SharedBuf::default();
    let out = world::run_with(&scenario, 1, Some(Box::new(buf.clone())), |machines| {
        assert!(machines.contains("node3"));
        machines.schedule(Duration::from_secs(15), "node3", PowerAction::Off);
    })
    .unwrap();
    let trace = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let off = trace
        .lines()
        .find(|l| l.contains(r#""event":"power-off","node":"node3""#))
        .expect("node3 lost power");
    assert!(off.starts_with(r#"{"t_us":15000000,"#), "{off}");
    assert!(
        !trace.contains(r#""event":"fault""#),
        "no fault was scripted"
    );
    // The survivors form a two-member ring and keep quorum.
    assert!(
        trace.contains(r#""node":"node1","kind":"membership","configuration":"regular""#)
            && trace.contains(r#""members":[1,2]"#),
        "no two-member ring"
    );
    assert!(out.report.expectation_met(), "{:?}", out.report.verdicts);
}
