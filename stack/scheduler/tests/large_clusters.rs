//! The bench's generated large clusters (`benches/src/lib.rs`) scheduled by
//! hasim give crm_simulate 2.1.5's Transition Summary line for line
//! (order-insensitive). The expected lines were recorded from
//! `crm_simulate -x FILE -S` on the generated CIBs (tests/data/, one
//! whitespace-collapsed line each; regenerate by writing the XML with the
//! bench's generators and running crm_simulate on it).

use std::path::PathBuf;

fn expected(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let mut v: Vec<String> = std::fs::read_to_string(path)
        .expect("recorded summary")
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn check(xml: &str, recorded: &str) {
    let mut got = hasim_conformance::hasim_summary(xml).expect("scheduled");
    got.sort();
    let want = expected(recorded);
    let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
    let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && got.len() == want.len(),
        "{recorded}: {} lines differ\nmissing: {missing:#?}\nextra: {extra:#?}",
        missing.len() + extra.len()
    );
}

/// 32 nodes, 2,000 primitives in groups and clones, histories and failures:
/// clone instances are ordered by their current node's weight with the
/// clone's colocations applied (cmp_instance_by_colocation).
#[test]
fn large_cluster_matches_crm_simulate() {
    check(
        &hasim_benches::large_cluster(),
        "large-cluster.crm_simulate.txt",
    );
}

#[test]
fn three_cluster_nodes_and_1000_remote_nodes_match_crm_simulate() {
    let xml = hasim_benches::RemoteCluster {
        cluster_nodes: 3,
        remote_nodes: 1000,
    }
    .to_xml();
    check(&xml, "remote-3x1000.crm_simulate.txt");
}

#[test]
fn sixteen_cluster_nodes_and_1000_remote_nodes_match_crm_simulate() {
    check(
        &hasim_benches::remote_cluster(),
        "remote-16x1000.crm_simulate.txt",
    );
}
