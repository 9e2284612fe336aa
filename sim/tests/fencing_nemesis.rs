//! `pacemaker-fencing-nemesis` seed 406: the DC (node3) starts the VIP on
//! itself at 173.135 s, then node1 (fenced, rebooted) joins while that
//! start is in flight; the DC steps down, wins again and, after the join,
//! runs the scheduler. Without the joiners' history waiting for in-flight
//! operations (hasim-controld `on_join_ack`), the scheduler did not see the
//! start and started the VIP on node1 as well (both ran it to the end of
//! the run). Every safety checker must hold.
#![cfg(madsim)]

mod common;

use common::load;
use hasim::world;

#[test]
fn a_start_in_flight_during_a_join_is_not_started_twice() {
    let scenario = load("pacemaker-fencing-nemesis.toml");
    let out = world::run(&scenario, 406, None).unwrap();
    for checker in [
        "resource-single-active",
        "single-vip-owner",
        "fenced-before-recovery",
    ] {
        let v = out
            .report
            .verdicts
            .iter()
            .find(|v| v.checker == checker)
            .unwrap_or_else(|| panic!("no verdict of {checker}"));
        assert!(v.held, "{checker}: {}", v.summary);
    }
}
