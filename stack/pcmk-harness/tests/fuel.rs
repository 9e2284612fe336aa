//! The Fuel controller configuration (seed 001, in its own crm syntax) on
//! three nodes: cold start follows the order and colocation constraints,
//! and losing the node that runs the L3 agent recovers it elsewhere.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::s;
use hasim_pcmk_harness::Cluster;
use hasim_pcmk_proto::{checkers, Event};

fn fuel_cib() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/seeds/001_8a02210644ca144b.txt");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = hasim_crmsh::rst_crm_blocks(&doc);
    text.push_str("\nnode 1: node1\nnode 2: node2\nnode 3: node3\nproperty stonith-enabled=false no-quorum-policy=stop\n");
    hasim_crmsh::to_cib_xml(&text).unwrap_or_else(|e| panic!("001_8a02210644ca144b.txt:{e}"))
}

/// When `rsc` last completed a start on `node`.
fn started(c: &Cluster, rsc: &str, node: &str) -> Option<Duration> {
    c.events.iter().rev().find_map(|e| match &e.event {
        Event::ResourceOp {
            node: n,
            rsc: r,
            op,
            rc: 0,
            ..
        } if n == node && r == rsc && op == "start" => Some(e.at),
        _ => None,
    })
}

#[test]
fn fuel_controllers_cold_start_in_order_and_recover_a_lost_controller() {
    let xml = fuel_cib();
    let mut c = Cluster::new(3, &xml, vec![], 11).unwrap();
    c.start_all();
    c.run_until(s(60));
    for rsc in [
        "p_haproxy",
        "p_mysql",
        "p_quantum-metadata-agent",
        "p_quantum-openvswitch-agent",
    ] {
        assert_eq!(c.active_on(rsc).len(), 3, "{rsc} cloned on every node");
    }
    let dhcp = c.active_on("p_quantum-dhcp-agent");
    let l3 = c.active_on("p_quantum-l3-agent");
    assert_eq!((dhcp.len(), l3.len()), (1, 1));
    assert_ne!(
        dhcp, l3,
        "dhcp-without-l3 -100 keeps them apart when it can"
    );
    for agent in [&dhcp[0], &l3[0]] {
        let rsc = if *agent == dhcp[0] {
            "p_quantum-dhcp-agent"
        } else {
            "p_quantum-l3-agent"
        };
        let t = started(&c, rsc, agent).unwrap();
        for first in ["p_quantum-metadata-agent", "p_quantum-openvswitch-agent"] {
            let f = started(&c, first, agent).unwrap();
            assert!(
                f < t,
                "{first} started at {f:?} before {rsc} at {t:?} on {agent}"
            );
        }
    }
    let lost = l3[0].clone();
    c.power_off_at(s(70), &lost);
    c.run_until(s(140));
    let l3_now = c.active_on("p_quantum-l3-agent");
    assert_eq!(l3_now.len(), 1);
    assert_ne!(l3_now[0], lost);
    let cib = hasim_cib::Cib::from_xml(&xml).unwrap();
    checkers::resource_single_active(&c.events, &checkers::unique_resources(&cib)).unwrap();
    checkers::single_dc(&c.events, s(30)).unwrap();
    checkers::cib_converges(&c.events).unwrap();
}
