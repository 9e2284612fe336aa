//! The fencing hook, with the harness's stand-in power fencing device:
//! the quorate side fences the node it lost and only then recovers its
//! resources, so a unique resource never runs twice even in a partition.

mod common;

use common::*;
use hasim_pcmk_harness::Cluster;
use hasim_pcmk_proto::{checkers, Event};

#[test]
fn partitioned_node_is_fenced_before_its_resources_move() {
    let xml = cib_with("stop", true);
    let mut c = Cluster::new(3, &xml, vec![], 3).unwrap();
    c.start_all();
    c.run_until(s(40));
    let home = c.active_on("vip")[0].clone();
    let others: Vec<String> = ["node1", "node2", "node3"]
        .iter()
        .filter(|n| **n != home)
        .map(|n| n.to_string())
        .collect();
    c.partition_at(
        s(50),
        &[&[home.as_str()], &[others[0].as_str(), others[1].as_str()]],
    );
    c.run_until(s(100));
    let fenced: Vec<(std::time::Duration, String)> = c
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::FenceDone {
                target, ok: true, ..
            } => Some((e.at, target.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(fenced.len(), 1, "{fenced:?}");
    assert_eq!(fenced[0].1, home);
    let vip_back = c
        .events
        .iter()
        .find(|e| {
            matches!(&e.event, Event::ResourceActive { rsc, active: true, .. } if rsc == "vip")
                && e.at > s(50)
        })
        .map(|e| e.at)
        .unwrap();
    assert!(
        vip_back >= fenced[0].0,
        "vip recovered at {vip_back:?}, after fencing at {:?}",
        fenced[0].0
    );
    let unique = checkers::unique_resources(&hasim_cib::Cib::from_xml(&xml).unwrap());
    checkers::resource_single_active(&c.events, &unique).unwrap();
    // The fenced node reboots and rejoins once the partition heals.
    c.heal_at(s(105));
    c.run_until(s(220));
    assert_eq!(c.active_on("haproxy").len(), 3);
    checkers::resource_single_active(&c.events, &unique).unwrap();
    checkers::cib_converges(&c.events).unwrap();
    checkers::single_dc(&c.events, s(30)).unwrap();
}

#[test]
fn a_node_never_seen_is_fenced_at_startup() {
    let xml = cib_with("stop", true);
    let mut c = Cluster::new(3, &xml, vec![], 6).unwrap();
    c.power_on_at(s(0), "node1");
    c.power_on_at(s(0), "node2");
    c.run_until(s(60));
    let fenced: Vec<String> = c
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::FenceRequested { target, .. } => Some(target.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(fenced, ["node3"], "startup-fencing of the unseen node");
    // The stand-in fencer "reboots" it: it boots and joins.
    c.run_until(s(150));
    assert_eq!(c.active_on("haproxy").len(), 3);
}
