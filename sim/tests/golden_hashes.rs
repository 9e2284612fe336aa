//! The trace is the behaviour: every shipped scenario, for several seeds,
//! must give the trace hash recorded in `golden-hashes.txt`.
//!
//! Restructuring must leave these hashes alone. A change that is meant to
//! alter behaviour (or the trace format) re-records them, in its own commit,
//! with `HASIM_BLESS=1 cargo test -p hasim --test golden_hashes`.
#![cfg(madsim)]

mod common;

use common::{load, scenario_path};
use hasim::world;
use std::collections::BTreeMap;
use std::path::PathBuf;

const SEEDS: [u64; 3] = [1, 2, 3];

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden-hashes.txt")
}

fn shipped_scenarios() -> Vec<String> {
    let dir = scenario_path("");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        // A story only names scenarios that are checked here themselves.
        .filter(|n| matches!(hasim::story::load(&dir.join(n)), Ok(None)))
        .collect();
    names.sort();
    names
}

fn current_hashes() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in shipped_scenarios() {
        let scenario = load(&name);
        for seed in SEEDS {
            let run = world::run(&scenario, seed, None).unwrap_or_else(|e| panic!("{name}: {e}"));
            out.insert(format!("{name} {seed}"), run.report.trace_hash);
        }
    }
    out
}

#[test]
fn every_shipped_scenario_keeps_its_trace_hash() {
    let current = current_hashes();
    if std::env::var_os("HASIM_BLESS").is_some() {
        let text: String = current.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        std::fs::write(golden_path(), text).expect("write golden hashes");
        return;
    }
    let text = std::fs::read_to_string(golden_path()).expect("read golden hashes");
    let golden: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut differences = Vec::new();
    for (key, hash) in &current {
        match golden.get(key) {
            Some(g) if g == hash => {}
            Some(g) => differences.push(format!("{key}: golden {g}, now {hash}")),
            None => differences.push(format!("{key}: not recorded (now {hash})")),
        }
    }
    for key in golden.keys().filter(|k| !current.contains_key(*k)) {
        differences.push(format!("{key}: recorded, but the scenario is gone"));
    }
    assert!(
        differences.is_empty(),
        "trace hashes changed:\n{}",
        differences.join("\n")
    );
}
