//! Diskless SBD in the simulated world: a node cut off from the quorate
//! partition resets itself through its watchdog, and the survivors'
//! fencer assumes it dead after stonith-watchdog-timeout. Correctly
//! configured, the reset comes first; with stonith-watchdog-timeout equal
//! to SBD_WATCHDOG_TIMEOUT (accepted by Pacemaker 2.1.5) the survivors
//! recover while the node still runs, and `fenced-before-recovery` says so.
#![cfg(madsim)]

mod common;

use common::{load, SharedBuf};
use hasim::scenario::Scenario;
use hasim::world;

/// The run's trace lines and whether each named checker held.
fn run(name: &str, seed: u64) -> (Vec<String>, Vec<(String, bool)>) {
    let scenario = load(name);
    let buf = SharedBuf::default();
    let out = world::run(&scenario, seed, Some(Box::new(buf.clone()))).unwrap();
    let trace = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let verdicts = out
        .report
        .verdicts
        .iter()
        .map(|v| (v.checker.clone(), v.held))
        .collect();
    (trace.lines().map(str::to_string).collect(), verdicts)
}

fn t_us(line: &str) -> u64 {
    let rest = line.strip_prefix(r#"{"t_us":"#).expect("a trace line");
    rest.split(',').next().unwrap().parse().unwrap()
}

fn first(trace: &[String], needle: &str) -> u64 {
    let line = trace
        .iter()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no trace line with {needle}"));
    t_us(line)
}

fn held(verdicts: &[(String, bool)], checker: &str) -> bool {
    verdicts
        .iter()
        .find(|(c, _)| c == checker)
        .unwrap_or_else(|| panic!("no verdict of {checker}"))
        .1
}

/// node1 resets (watchdog, then its power-off) before the VIP starts on a
/// survivor, and every safety checker holds.
#[test]
fn the_isolated_node_resets_before_the_survivors_recover() {
    let (trace, verdicts) = run("pacemaker-sbd-watchdog.toml", 1);
    let reset = first(&trace, r#""event":"watchdog-reset","node":"node1""#);
    let off = first(&trace, r#""event":"power-off","node":"node1""#);
    assert_eq!(reset, off, "the reset is the power-off");
    let assumed = first(&trace, r#""device":"watchdog""#);
    let started = trace
        .iter()
        .find(|l| {
            l.contains(r#""rsc":"vip""#)
                && l.contains(r#""active":true"#)
                && !l.contains(r#""node":"node1""#)
        })
        .map(|l| t_us(l))
        .expect("the VIP started on a survivor");
    assert!(
        reset < started,
        "reset {reset} us, VIP started {started} us"
    );
    assert!(assumed < started);
    for checker in [
        "fenced-before-recovery",
        "resource-single-active",
        "single-vip-owner",
    ] {
        assert!(held(&verdicts, checker), "{checker}: {verdicts:?}");
    }
}

/// stonith-watchdog-timeout = SBD_WATCHDOG_TIMEOUT: the survivors start
/// the VIP before node1 resets, and the checker breaks.
#[test]
fn a_watchdog_timeout_equal_to_the_sbd_timeout_breaks_fenced_before_recovery() {
    let (trace, verdicts) = run("pacemaker-sbd-watchdog-misconfigured.toml", 1);
    let reset = first(&trace, r#""event":"watchdog-reset","node":"node1""#);
    let started = trace
        .iter()
        .find(|l| {
            l.contains(r#""rsc":"vip""#)
                && l.contains(r#""active":true"#)
                && l.contains(r#""node":"node2""#)
        })
        .map(|l| t_us(l))
        .expect("the VIP started on node2");
    assert!(
        started < reset,
        "VIP started {started} us, reset {reset} us"
    );
    assert!(!held(&verdicts, "fenced-before-recovery"), "{verdicts:?}");
}

/// A stonith-watchdog-timeout shorter than SBD_WATCHDOG_TIMEOUT is refused
/// at load time (Pacemaker 2.1.5 would not start), with the file and line.
#[test]
fn a_stonith_watchdog_timeout_shorter_than_the_sbd_timeout_is_bad_input() {
    let dir = std::env::temp_dir().join(format!("hasim-sbd-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pacemaker")).unwrap();
    std::fs::create_dir_all(dir.join("corosync")).unwrap();
    let src = common::scenario_path("");
    std::fs::copy(
        src.join("corosync/ring3-token3000.conf"),
        dir.join("corosync/ring3-token3000.conf"),
    )
    .unwrap();
    let cib = std::fs::read_to_string(src.join("pacemaker/vip-haproxy-sbd.crm")).unwrap();
    let cib = cib.replace(
        "stonith-watchdog-timeout=10s",
        "stonith-watchdog-timeout=3s",
    );
    std::fs::write(dir.join("pacemaker/short.crm"), cib).unwrap();
    let toml = "name = \"short\"\nduration = \"60s\"\n\n[corosync]\nconf = \"corosync/ring3-token3000.conf\"\n\n[pacemaker]\ncib = \"pacemaker/short.crm\"\n\n[pacemaker.sbd]\nwatchdog_timeout = \"5s\"\n\n[expect]\ncheck = [\"single-dc\"]\n";
    let path = dir.join("short.toml");
    std::fs::write(&path, toml).unwrap();
    let err = Scenario::load(&path)
        .expect_err("a too-short stonith-watchdog-timeout")
        .to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.contains("short.toml:"), "{err}");
    assert!(err.contains("too short"), "{err}");
    assert!(err.contains("refuses to start"), "{err}");
}
