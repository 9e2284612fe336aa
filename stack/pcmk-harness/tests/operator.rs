//! Operator requests from the scenario timeline: standby, maintenance-mode,
//! target-role; and replay determinism.

mod common;

use common::*;
use hasim_pcmk_harness::Cluster;
use hasim_pcmk_proto::{checkers, cibops};

#[test]
fn standby_moves_resources_away_and_back_maintenance_leaves_them_alone() {
    let mut c = Cluster::new(3, &cib("stop"), vec![], 5).unwrap();
    c.start_all();
    c.run_until(s(40));
    let home = c.active_on("d")[0].clone();
    let id = home.trim_start_matches("node").to_string();
    c.client_at(s(45), "node1", cibops::set_node_attr(&id, "standby", "on"));
    c.run_until(s(70));
    assert!(!c.active_on("d").contains(&home), "standby moved d away");
    assert_eq!(c.active_on("d").len(), 1);
    assert!(
        !c.active_on("haproxy").contains(&home),
        "standby stopped the clone instance"
    );
    c.client_at(s(75), "node2", cibops::set_node_attr(&id, "standby", "off"));
    c.run_until(s(100));
    assert!(c.active_on("haproxy").contains(&home), "back from standby");
    // Maintenance: a target-role change is not acted on until it ends.
    let d_at = c.active_on("d");
    c.client_at(
        s(105),
        "node3",
        cibops::set_property("maintenance-mode", "true"),
    );
    c.client_at(
        s(110),
        "node3",
        cibops::set_resource_meta("primitive", "d", "target-role", "Stopped"),
    );
    c.run_until(s(140));
    assert_eq!(c.active_on("d"), d_at, "maintenance-mode leaves d alone");
    c.client_at(
        s(145),
        "node1",
        cibops::set_property("maintenance-mode", "false"),
    );
    c.run_until(s(170));
    assert!(
        c.active_on("d").is_empty(),
        "target-role=Stopped applied after maintenance"
    );
    let unique = checkers::unique_resources(&hasim_cib::Cib::from_xml(&cib("stop")).unwrap());
    checkers::resource_single_active(&c.events, &unique).unwrap();
    checkers::cib_converges(&c.events).unwrap();
}

#[test]
fn same_seed_same_events_other_seed_may_differ() {
    let run = |seed| {
        let mut c = Cluster::new(3, &cib("stop"), vec![], seed).unwrap();
        c.start_all();
        c.power_off_at(s(50), "node1");
        c.run_until(s(100));
        serde_json::to_string(&c.events).unwrap()
    };
    assert_eq!(run(7), run(7));
    let differ = (8..20).any(|seed| run(seed) != run(7));
    assert!(differ, "the seed changes elections or durations");
}
