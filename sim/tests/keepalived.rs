//! The Keepalived scenarios behave as Keepalived does.
#![cfg(madsim)]

mod common;

use common::load;
use hasim::world;

/// master_down_interval for priority 90 at advert_int 1 s: 3 + 166/256 s.
const MASTER_DOWN_90: f64 = 3.0 + 166.0 / 256.0;
/// The fabric's worst one-way delay in these scenarios (latency + jitter).
const NET: f64 = 0.0003;

#[test]
fn partition_splits_the_brain_within_master_down_interval() {
    let scenario = load("keepalived-split-brain.toml");
    for seed in 1..6 {
        let report = world::run(&scenario, seed, None).unwrap().report;
        assert!(
            report.expectation_met(),
            "seed {seed}:\n{}",
            report.to_text()
        );
        assert_eq!(
            report.split_brains.len(),
            1,
            "seed {seed}:\n{}",
            report.to_text()
        );
        let sb = &report.split_brains[0];
        assert_eq!(sb.holders, vec!["lb1".to_string(), "lb2".to_string()]);
        assert_eq!(sb.second_owner, "lb2");
        let since_advert = sb.since_last_advert.unwrap();
        assert!(
            since_advert <= MASTER_DOWN_90 + 1e-6,
            "seed {seed}: {since_advert}"
        );
        assert!(
            since_advert >= MASTER_DOWN_90 - 1e-6,
            "seed {seed}: {since_advert}"
        );
        let (_, after_partition) = sb.after_fault.clone().unwrap();
        // The last advert came at most one advert_int before the partition.
        assert!(
            after_partition > MASTER_DOWN_90 - 1.0 - NET && after_partition <= MASTER_DOWN_90 + NET,
            "seed {seed}: {after_partition}"
        );
        // It lasts until the heal at 30 s lets lb2 hear lb1 again.
        assert!(
            sb.end.unwrap() >= 30.0 && sb.end.unwrap() < 31.1,
            "seed {seed}: {:?}",
            sb.end
        );
        // Clients on each side reached a different machine.
        let a = report
            .clients
            .iter()
            .find(|c| c.client == "client-a")
            .unwrap();
        let b = report
            .clients
            .iter()
            .find(|c| c.client == "client-b")
            .unwrap();
        assert!(a.by_node.get("lb1").copied().unwrap_or(0) > 0);
        assert_eq!(a.by_node.get("lb2"), None, "client-a never reaches lb2");
        assert!(
            b.by_node.get("lb2").copied().unwrap_or(0) > 10,
            "client-b is answered by lb2 during the split"
        );
    }
}

#[test]
fn power_off_fails_over_without_violation() {
    let scenario = load("keepalived-failover.toml");
    for seed in 1..6 {
        let report = world::run(&scenario, seed, None).unwrap().report;
        assert!(
            report.expectation_met(),
            "seed {seed}:\n{}",
            report.to_text()
        );
        assert!(report.split_brains.is_empty());
        let lb2 = report.vrrp.iter().find(|v| v.node == "lb2").unwrap();
        let power_off = report.faults[0].at;
        let takeover = lb2
            .transitions
            .iter()
            .find(|t| t.to == "MASTER" && t.at > power_off)
            .unwrap();
        let delay = takeover.at - power_off;
        assert!(
            delay > 0.0 && delay <= MASTER_DOWN_90 + NET,
            "seed {seed}: takeover {delay} s after power-off"
        );
        let client = &report.clients[0];
        assert!(client.by_node.get("lb2").copied().unwrap_or(0) > 100);
    }
}

#[test]
fn lossy_adverts_cause_counted_spurious_takeovers() {
    let scenario = load("keepalived-lossy.toml");
    let report = world::run(&scenario, 1, None).unwrap().report;
    let spurious: u32 = report.vrrp.iter().map(|v| v.spurious).sum();
    assert!(spurious >= 3, "{}", report.to_text());
    // Every spurious takeover by lb2 is followed by its demotion.
    let lb2 = report.vrrp.iter().find(|v| v.node == "lb2").unwrap();
    assert!(lb2.transitions.len() as u32 >= 2 * lb2.spurious);
}

#[test]
fn no_faults_no_split_brain() {
    let mut scenario = load("keepalived-split-brain.toml");
    scenario.faults.clear();
    let report = world::run(&scenario, 3, None).unwrap().report;
    assert!(report.split_brains.is_empty(), "{}", report.to_text());
    // The scenario expected a split brain; without the partition it is not met.
    assert!(!report.expectation_met());
}
