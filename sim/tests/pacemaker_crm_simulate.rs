//! A CIB taken from a simulated run (cibadmin -Q on the DC, just after an
//! operator put node2 in standby, before the moves finished) gives the
//! same Transition Summary in real crm_simulate 2.1.5 as the transition
//! the simulated DC computed from it. Runs when crm_simulate is installed;
//! with CI=true it must be.

#![cfg(madsim)]

use hasim::scenario::Scenario;
use hasim::world;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Collects the trace in memory.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SCENARIO: &str = r#"
name = "standby-snapshot"
duration = "45s"
[corosync]
conf = "corosync/ring3-token3000.conf"
[pacemaker]
cib = "pacemaker/three-dummies.crm"
[[pacemaker.operator]]
at = "40s"
request = "standby"
target = "node2"
value = "on"
[[pacemaker.operator]]
at = "40.003s"
node = "node1"
request = "query"
[[pacemaker.operator]]
at = "40.003s"
node = "node2"
request = "query"
[[pacemaker.operator]]
at = "40.003s"
node = "node3"
request = "query"
[expect]
check = ["single-dc"]
"#;

#[test]
fn a_cib_from_a_simulated_run_gives_the_same_transition_in_crm_simulate() {
    let Some(bin) = hasim_conformance::oracle::crm_simulate() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "crm_simulate must be installed in CI"
        );
        eprintln!("crm_simulate not installed: skipped");
        return;
    };
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/standby-snapshot.toml"
    );
    let scenario = Scenario::parse(SCENARIO, file).expect("scenario");
    let buffer = Buffer::default();
    world::run(&scenario, 1, Some(Box::new(buffer.clone()))).expect("run");
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let reports: Vec<(f64, serde_json::Value)> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "pacemaker")
        .map(|v| (v["t_us"].as_f64().unwrap_or(0.0) / 1e6, v["report"].clone()))
        .collect();
    let (dc, summary) = reports
        .iter()
        .find_map(|(t, r)| {
            let moves = r["event"] == "transition" && *t >= 40.0;
            moves.then(|| {
                let summary: Vec<String> = r["summary"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                (r["dc"].as_str().unwrap_or("").to_string(), summary)
            })
        })
        .expect("a transition after the standby request");
    assert!(!summary.is_empty(), "the standby moves something");
    let xml = reports
        .iter()
        .find_map(|(_, r)| {
            (r["event"] == "cib_queried" && r["node"] == dc.as_str())
                .then(|| r["xml"].as_str().unwrap_or("").to_string())
        })
        .expect("the DC answered cibadmin -Q");
    let mut ours: Vec<String> = summary
        .iter()
        .map(|l| hasim_conformance::normalize(l))
        .collect();
    ours.sort();
    let mut real = hasim_conformance::oracle::transition_summary(&bin, &xml, "sim-run")
        .unwrap_or_else(|e| panic!("{e}"));
    real.sort();
    assert_eq!(
        ours, real,
        "DC {dc}'s transition against crm_simulate on its CIB"
    );
}
