//! Pacemaker in real mode with stonith on: three `hasim node corosync
//! --cib` processes and one `hasim node power-device` (an APC-style PDU
//! whose outlets "feed" the three processes). The node holding d1 is
//! frozen (SIGSTOP: it stops answering, like a hung machine); the
//! survivors must power it off through the PDU (the device SIGKILLs the
//! process, or runs a command that does) before d1 starts elsewhere.
#![cfg(not(madsim))]

mod common;

use common::pcmk_view::{watch, View};
use common::process::{loopback_conf, port_offset, spawn, start_corosync, Daemon};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Two Dummies and fence-pdu (fence_apc_snmp at 127.0.0.9, outlets 1-3).
const CIB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/pacemaker/real-fencing.crm"
);
const PDU: &str = "127.0.0.9";
const NAMES: [&str; 3] = ["node1", "node2", "node3"];

fn pidfile(dir: &Path, node: &str) -> PathBuf {
    dir.join(format!("{node}.pid"))
}

/// How the PDU switches a node: its process (`pidfile`) or a command that
/// kills it the way a fence agent's backend would (`command`).
fn switch_spec(dir: &Path, node: &str, by_command: bool) -> String {
    let pidfile = pidfile(dir, node).display().to_string();
    if by_command {
        format!("{node}=command:test \"$HASIM_ACTION\" = off && kill -KILL $(cat '{pidfile}')")
    } else {
        format!("{node}=pidfile:{pidfile}")
    }
}

fn freeze_and_fence(by_command: bool) {
    let tag = if by_command { "cmd" } else { "pid" };
    let dir = std::env::temp_dir().join(format!("hasim-real-fencing-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("corosync.conf");
    std::fs::write(&conf, loopback_conf("realfence")).unwrap();
    let offset = port_offset().wrapping_add(if by_command { 31 } else { 29 });
    let mut nodes: BTreeMap<&str, Daemon> = BTreeMap::new();
    for (name, id) in NAMES.iter().zip(1..) {
        let (cib, disk) = (CIB.to_string(), dir.join(name).display().to_string());
        let daemon = start_corosync(&conf, id, offset, &["--cib", &cib, "--disk", &disk]);
        std::fs::write(pidfile(&dir, name), format!("{}\n", daemon.pid())).unwrap();
        nodes.insert(name, daemon);
    }
    let mut args: Vec<String> = ["node", "power-device", "--name", "pdu", "--address", PDU]
        .map(String::from)
        .to_vec();
    args.extend(["--port-offset".into(), offset.to_string()]);
    for (n, name) in NAMES.iter().enumerate() {
        args.extend(["--outlet".into(), format!("{}={name}", n + 1)]);
        args.extend(["--machine".into(), switch_spec(&dir, name, by_command)]);
    }
    let pdu = spawn(&args);
    let mut view = View::default();

    let settled = |v: &View| {
        v.agreed_dc(&NAMES).is_some()
            && ["d1", "d2", "fence-pdu"]
                .iter()
                .all(|r| v.on(r, &NAMES).len() == 1)
    };
    let all: Vec<&Daemon> = nodes.values().chain([&pdu]).collect();
    assert!(
        watch(&all, &mut view, Duration::from_secs(25), settled),
        "not settled after 25 s: dc {:?}, active {:?}",
        view.dc,
        view.active
    );
    drop(all);
    let victim = view.on("d1", &NAMES)[0].0.clone();
    let survivors: Vec<&str> = NAMES.iter().copied().filter(|n| *n != victim).collect();

    // Freeze the victim: it neither answers nor stops its resources.
    let pid = nodes[victim.as_str()].pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let frozen = Instant::now();
    let recovered = |v: &View| {
        v.agreed_dc(&survivors).is_some()
            && v.on("d1", &survivors).len() == 1
            && v.fenced.iter().any(|(t, ok, _)| *t == victim && *ok)
    };
    let alive: Vec<&Daemon> = survivors.iter().map(|n| &nodes[n]).chain([&pdu]).collect();
    assert!(
        watch(&alive, &mut view, Duration::from_secs(30), recovered),
        "{victim} not fenced and d1 not recovered within 30 s: dc {:?}, active {:?}, fenced {:?}, pdu {:?}",
        view.dc,
        view.active,
        view.fenced,
        view.powered_off
    );
    let took = frozen.elapsed();
    drop(alive);
    // The PDU really cut the victim: its process is gone.
    let off = view.powered_off.iter().find(|(m, _)| *m == victim);
    let off_at = off
        .map(|(_, t)| t.clone())
        .expect("the PDU powered the victim off");
    let victim_daemon = nodes.get_mut(victim.as_str()).unwrap();
    let gone = Instant::now();
    while !victim_daemon.exited() && gone.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        victim_daemon.exited(),
        "{victim}'s process survived the power-off"
    );
    // fenced-before-recovery, on the wall clock: d1 started on a survivor
    // only after the PDU cut the victim and the fence was confirmed.
    let (holder, started_at) = view.on("d1", &survivors)[0].clone();
    let confirmed_at = view
        .fenced
        .iter()
        .filter(|(t, ok, _)| *t == victim && *ok)
        .map(|(_, _, at)| at.clone())
        .min()
        .unwrap();
    assert!(
        off_at <= confirmed_at,
        "confirmed {confirmed_at} before the power-off {off_at}"
    );
    assert!(
        confirmed_at <= started_at,
        "d1 started on {holder} at {started_at}, before {victim}'s fence was confirmed at {confirmed_at}"
    );
    eprintln!(
        "[{tag}] froze {victim} (d1); powered off at {off_at}; fence confirmed at {confirmed_at}; \
         d1 on {holder} at {started_at}; {took:?} after the freeze"
    );
    drop(nodes);
    drop(pdu);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_frozen_node_is_powered_off_by_the_pdu_before_its_resource_moves() {
    freeze_and_fence(false);
}

#[test]
fn a_pdu_switching_by_command_fences_like_a_fence_agent_backend() {
    freeze_and_fence(true);
}

/// Bad power-device arguments are refused before anything binds.
#[test]
fn bad_power_device_arguments_are_refused() {
    let hasim = || std::process::Command::new(env!("CARGO_BIN_EXE_hasim"));
    let cases: [(&[&str], &str); 4] = [
        (
            &["--outlet", "0=n1", "--machine", "n1=pidfile:/x"],
            "expected N=MACHINE",
        ),
        (
            &["--outlet", "1=n1", "--machine", "n1=file:/x"],
            "expected pidfile:PATH",
        ),
        (
            &[
                "--outlet",
                "1=n1",
                "--outlet",
                "2=n2",
                "--machine",
                "n1=pidfile:/x",
            ],
            "n2 has no --machine",
        ),
        (
            &["--bmc", "n1", "--machine", "=pidfile:/x"],
            "expected MACHINE=pidfile",
        ),
    ];
    for (extra, expected) in cases {
        let out = hasim()
            .args([
                "node",
                "power-device",
                "--name",
                "p",
                "--address",
                "127.0.0.9",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{extra:?}: {err}");
    }
}
