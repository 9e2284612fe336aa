//! The ratchet: every case listed in conformance-passing.txt must still
//! produce exactly Pacemaker 2.1.5's Transition Summary (order-insensitive).
//! Regenerate the list (it only grows) with:
//!   cargo run --release -p hasim-scheduler --example conformance -- --write-passing

use std::path::PathBuf;

use hasim_conformance::{run, Options};

#[test]
fn listed_cases_still_pass() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // HASIM_SHARED: the shared data directory elsewhere (e.g. from a
    // worktree that is not a sibling of `shared/`).
    let corpus = std::env::var_os("HASIM_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared"))
        .join("scheduler-corpus");
    let list = std::fs::read_to_string(manifest.join("tests/conformance-passing.txt"))
        .expect("ratchet list");
    let names: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert!(!names.is_empty(), "ratchet list is empty");
    let opts = Options {
        show_diffs: true,
        filter: names.clone(),
    };
    let report = std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(move || run(&corpus, &opts))
        .expect("spawn")
        .join()
        .expect("conformance run");
    assert_eq!(
        report.cases.len(),
        names.len(),
        "some listed cases are missing from the corpus tiers"
    );
    let failing: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| !c.unordered)
        .map(|c| c.name.as_str())
        .collect();
    assert!(failing.is_empty(), "regressed cases: {failing:?}\n{report}");
}

#[test]
fn summary_extraction_ignores_padding() {
    let out = "Transition Summary:\n  * Start      rsc1    (   node1 )\n\nExecuting Cluster Transition:\n";
    assert_eq!(
        hasim_conformance::extract_summary(out),
        vec!["Start rsc1 ( node1 )".to_string()]
    );
}
