//! The Pacemaker Remote and bundle examples of
//! `../shared/scheduler-differences` (e16, e17: remote nodes written by hand
//! and generated; e18, e19: bundles written by hand and generated): hasim's
//! Transition Summary must be the one real crm_simulate 2.1.5 printed for
//! each (whitespace-collapsed, order-insensitive).

use std::path::PathBuf;

fn differences_dir() -> PathBuf {
    std::env::var_os("HASIM_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("scheduler-differences")
}

fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lines of the `Transition Summary:` block of crm_simulate output.
fn expected_summary(output: &str) -> Vec<String> {
    output
        .lines()
        .skip_while(|l| !l.starts_with("Transition Summary:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("Executing"))
        .map(|l| normalize(l.trim_start().trim_start_matches("* ")))
        .collect()
}

fn check(name: &str) {
    let dir = differences_dir();
    let xml = std::fs::read_to_string(dir.join(format!("{name}.xml")))
        .unwrap_or_else(|e| panic!("{name}.xml: {e}"));
    let summary = std::fs::read_to_string(dir.join(format!("{name}.summary")))
        .unwrap_or_else(|e| panic!("{name}.summary: {e}"));
    let mut expected = expected_summary(&summary);
    assert!(!expected.is_empty(), "{name}: no expected summary lines");
    let cib =
        hasim_scheduler::hasim_cib::Cib::from_xml(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
    let graph = hasim_scheduler::schedule(&cib);
    let mut actual: Vec<String> = graph.summary.iter().map(|l| normalize(l)).collect();
    expected.sort();
    actual.sort();
    assert_eq!(
        actual, expected,
        "{name}: hasim (left) vs crm_simulate (right)"
    );
}

#[test]
fn e16_remote_node_handwritten() {
    check("e16-t3-remote-node-handwritten");
}

#[test]
fn e17_remote_node_generated() {
    check("e17-t3-remote-node-generated");
}

#[test]
fn e18_bundle_handwritten() {
    check("e18-t3-bundle-handwritten");
}

#[test]
fn e19_bundle_generated() {
    check("e19-t3-bundle-generated");
}

#[test]
fn summary_block_is_extracted() {
    let out = "Current cluster status:\nTransition Summary:\n  * Start      a   ( n1 )\n\nExecuting Cluster Transition:\n";
    assert_eq!(expected_summary(out), vec!["Start a ( n1 )".to_string()]);
}
