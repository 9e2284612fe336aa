//! CPG in the simulator: three nodes run corosync with a CPG workload on
//! each; node3 loses power and comes back. Every member of the group sees
//! the same joins, leaves and messages in the same order (virtual
//! synchrony), across the power-off.
#![cfg(madsim)]

mod common;

use common::cpg::{align, find, same_from, seen_of, Seen, ALL_THREE};
use common::{scenario_path, SharedBuf};
use hasim::scenario::Scenario;
use hasim::world;
use serde_json::Value;

fn scenario() -> Scenario {
    let dir = std::env::temp_dir().join(format!("hasim-cpg-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = scenario_path("corosync/ring3-token1000.conf");
    let text = format!(
        r#"name = "cpg-power-off"
description = "CPG workload on three nodes; node3 powered off, and on again (boots at 52 s)"
duration = "70s"

[corosync]
conf = "{}"
cpg_interval = "200ms"

[[fault]]
at = "12s"
action = "power-off"
node = "node3"

[[fault]]
at = "22s"
action = "power-on"
node = "node3"

[expect]
check = []
"#,
        conf.display()
    );
    let path = dir.join("cpg-power-off.toml");
    std::fs::write(&path, text).unwrap();
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    scenario
}

/// The CPG events of `node` from a JSON-lines trace.
fn seen_by(trace: &str, node: &str) -> Vec<Seen> {
    trace
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "node" && v["node"] == node)
        .filter_map(|v| seen_of(&v, v["t_us"].as_u64()?))
        .collect()
}

#[test]
fn cpg_members_see_the_same_order_across_a_power_off() {
    let buf = SharedBuf::default();
    world::run(&scenario(), 1, Some(Box::new(buf.clone()))).unwrap();
    let trace = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let (n1, n2, n3) = (
        seen_by(&trace, "node1"),
        seen_by(&trace, "node2"),
        seen_by(&trace, "node3"),
    );
    // Before the power-off: from the first message both delivered (views
    // differ while the first ring forms from singletons, as they may), the
    // two survivors saw exactly what each other saw, to the end; node3 saw
    // the same until it lost power.
    let (i1, i2) = align(&n1, 0, &n2, 0).expect("node1 and node2 share no delivery");
    let survivors = same_from(&n1, i1, &n2, i2).unwrap();
    assert!(survivors > 200, "only {survivors} events compared");
    let before = n3.iter().filter(|s| s.t_us < 12_000_000).count();
    let (j1, j3) = align(&n1, 0, &n3[..before], 0).expect("node3 shared no delivery");
    let compared = same_from(&n1, j1, &n3[..before], j3).unwrap();
    assert!(compared > 50, "only {compared} events of node3 compared");
    let view = n1[..i1]
        .iter()
        .rev()
        .find(|s| s.text.starts_with("confchg"));
    assert!(
        view.is_some_and(|v| v.text.contains(ALL_THREE) && v.t_us < 12_000_000),
        "histories line up only after {view:?}"
    );
    // The power-off: both survivors saw node3's member leave (NODEDOWN).
    let down = r#""reason":"nodedown""#;
    let d1 = find(&n1, 12_000_000, &[down]).expect("node1 saw no nodedown");
    assert!(find(&n2, 12_000_000, &[down]).is_some());
    // After the power-on (daemons start after the default 30 s boot delay):
    // node3's new workload joins, and from the first
    // view it shares with the others it sees what they see.
    let back = find(&n3, 52_000_000, &[ALL_THREE]).expect("node3 did not rejoin the group");
    // node3 boots into a ring of its own (its member joins there), then the
    // rings merge and the others learn it from its joinlist (NODEUP).
    let rejoin = r#"joined=[{"node":3,"pid":1001,"reason":"nodeup"}]"#;
    assert!(
        find(&n1, 52_000_000, &[ALL_THREE, rejoin]).is_some(),
        "node1 did not see node3's new workload join"
    );
    let (k1, k3) = align(&n1, d1, &n3, back).expect("node3 shares no delivery after the rejoin");
    let rejoined = same_from(&n1, k1, &n3, k3).unwrap();
    assert!(rejoined > 100, "only {rejoined} events after the rejoin");
    // Messages from every member, node3's new boot included, were delivered.
    for sender in ["deliver 1:", "deliver 2:", "deliver 3:"] {
        assert!(
            find(&n1, 53_000_000, &[sender]).is_some(),
            "{sender} missing"
        );
    }
}

#[test]
fn the_comparison_catches_a_reordering() {
    let seen = |texts: &[&str]| -> Vec<Seen> {
        texts
            .iter()
            .map(|t| Seen {
                t_us: 0,
                text: t.to_string(),
            })
            .collect()
    };
    let a = seen(&["confchg x", "deliver 1:1001 #1", "deliver 2:1001 #1"]);
    let b = seen(&["confchg x", "deliver 2:1001 #1", "deliver 1:1001 #1"]);
    assert!(same_from(&a, 0, &b, 0).is_err());
    assert_eq!(same_from(&a, 0, &a[..2], 0), Ok(2));
    assert_eq!(align(&a, 0, &b, 0), Some((1, 2)));
}
