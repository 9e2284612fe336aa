//! Pacemaker Remote in the simulator: compute nodes that run only
//! pacemaker_remoted, reached over TCP by connection resources on the
//! cluster nodes; a dead compute node is fenced through its PDU before its
//! work moves.
#![cfg(madsim)]

mod common;

use common::scenario_path;
use hasim::scenario::Scenario;
use serde_json::Value;

fn trace(name: &str, seed: u64) -> Vec<Value> {
    common::json_trace(name, seed)
}

fn report<'a>(e: &'a Value, kind: &str) -> Option<&'a Value> {
    (e["kind"] == "pacemaker" && e["report"]["event"] == kind).then(|| &e["report"])
}

fn t(e: &Value) -> u64 {
    e["t_us"].as_u64().unwrap_or_default()
}

/// Every compute node's connection comes up over TCP, its clone instance
/// runs there (executed by its own pacemaker_remoted); compute2's power
/// loss is noticed by its connection's monitor, compute2 is fenced through
/// the PDU, and only then does vm2 start on another compute node.
#[test]
fn a_dead_compute_node_is_fenced_before_its_vm_moves() {
    for seed in 1..=3 {
        let tr = trace("pacemaker-remote-compute.toml", seed);
        let connected: Vec<&str> = tr
            .iter()
            .filter_map(|e| report(e, "remote_link"))
            .filter(|r| r["state"] == "connected")
            .filter_map(|r| r["remote"].as_str())
            .collect();
        for c in ["compute1", "compute2", "compute3"] {
            assert!(connected.contains(&c), "seed {seed}: {connected:?}");
        }
        let active_on = |rsc: &str, node: &str| {
            tr.iter().find(|e| {
                e["node"] == node
                    && report(e, "resource_active")
                        .is_some_and(|r| r["rsc"] == rsc && r["active"] == true)
            })
        };
        assert!(
            active_on("nova-compute", "compute1").is_some(),
            "seed {seed}"
        );
        let lost = tr
            .iter()
            .find(|e| report(e, "remote_link").is_some_and(|r| r["state"] == "lost"))
            .unwrap_or_else(|| panic!("seed {seed}: the connection loss is not noticed"));
        assert_eq!(lost["report"]["remote"], "compute2", "seed {seed}");
        let fenced = tr
            .iter()
            .find(|e| {
                e["event"] == "device-power" && e["machine"] == "compute2" && e["on"] == false
            })
            .unwrap_or_else(|| panic!("seed {seed}: compute2 is never fenced"));
        assert_eq!(fenced["device"], "pdu-compute", "seed {seed}");
        let done = tr
            .iter()
            .find(|e| report(e, "fence_done").is_some_and(|r| r["target"] == "compute2"))
            .unwrap_or_else(|| panic!("seed {seed}: no fence result"));
        assert_eq!(done["report"]["ok"], true, "seed {seed}");
        let moved = ["compute1", "compute3"]
            .iter()
            .filter_map(|n| active_on("vm2", n))
            .map(t)
            .min()
            .unwrap_or_else(|| panic!("seed {seed}: vm2 is not recovered"));
        assert!(t(lost) < t(done) && t(done) < moved, "seed {seed}");
    }
}

/// `[[pacemaker.remote]]` mistakes are named with their file and line.
#[test]
fn bad_remote_tables_are_named_with_their_line() {
    let path = scenario_path("pacemaker-remote-compute.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let file = path.display().to_string();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let table = line_of("[[pacemaker.remote]]");
    let cases = [
        ("count = 3", "count = 0", "`count` from 1"),
        (
            "first_address = \"10.0.1.1\"",
            "first_address = \"10.0.1.1\"\nsegment = \"ring9\"",
            "unknown segment `ring9`",
        ),
        (
            "prefix = \"compute\"",
            "prefix = \"node\"",
            "already a host's name",
        ),
    ];
    for (from, to, want) in cases {
        let bad = text.replacen(from, to, 1);
        let e = Scenario::parse(&bad, &file).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
        assert!(e.contains(&format!("{file}:{table}:")), "{e}");
    }
    let bad = text.replacen("count = 3", "count = 3\ncolour = \"red\"", 1);
    let e = Scenario::parse(&bad, &file).unwrap_err().to_string();
    assert!(e.contains("unknown field `colour`"), "{e}");
}
