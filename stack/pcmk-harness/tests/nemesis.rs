//! Random power cuts and partitions per seed; after the faults stop the
//! cluster must settle: one DC, everything running, identical CIBs.
//! Seeds 1..=N with N from HASIM_PCMK_SEEDS (default 6, to stay fast).
//!
//! With stonith off, resource-single-active holds for power faults only:
//! in a partition the quorate side starts a unique resource as soon as it
//! sees the other side gone, while the inquorate side stops it at the same
//! moment (no-quorum-policy=stop), so both may run it briefly. Fencing
//! (another crate) closes that window.

mod common;

use common::*;
use hasim_pcmk_harness::Cluster;
use hasim_pcmk_proto::checkers;

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const NODES: [&str; 3] = ["node1", "node2", "node3"];

/// Returns whether any partition was injected.
fn schedule_faults(c: &mut Cluster, seed: u64, partitions: bool) -> bool {
    let mut up = [true; 3];
    let mut t = 40;
    let mut r = seed;
    let mut split = false;
    while t < 240 {
        r = splitmix(r);
        let n = (r % 3) as usize;
        let kind = (r >> 8) % if partitions { 3 } else { 2 };
        match kind {
            0 if up[n] && up.iter().filter(|u| **u).count() > 1 => {
                c.power_off_at(s(t), NODES[n]);
                up[n] = false;
            }
            0 | 1 if !up[n] => {
                c.power_on_at(s(t), NODES[n]);
                up[n] = true;
            }
            2 => {
                let others: Vec<&str> = NODES.iter().copied().filter(|x| *x != NODES[n]).collect();
                c.partition_at(s(t), &[&[NODES[n]], &others]);
                c.heal_at(s(t + 20 + (r >> 20) % 30));
                split = true;
            }
            _ => {}
        }
        t += 25 + (r >> 32) % 40;
    }
    c.heal_at(s(300));
    for n in NODES {
        c.power_on_at(s(300), n);
    }
    split
}

fn seeds() -> u64 {
    std::env::var("HASIM_PCMK_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

fn check_settled(c: &Cluster, seed: u64) {
    let dcs = c.dcs();
    assert!(
        dcs.iter().all(|(_, d)| d.is_some() && *d == dcs[0].1),
        "seed {seed}: {dcs:?}"
    );
    assert_eq!(c.active_on("vip").len(), 1, "seed {seed}");
    assert_eq!(c.active_on("d").len(), 1, "seed {seed}");
    assert_eq!(c.active_on("haproxy").len(), 3, "seed {seed}");
    checkers::cib_converges(&c.events).unwrap_or_else(|v| panic!("seed {seed}: {v}"));
    checkers::single_dc(&c.events, s(60)).unwrap_or_else(|v| panic!("seed {seed}: {v}"));
}

#[test]
fn power_faults_keep_every_checker() {
    let unique = checkers::unique_resources(&hasim_cib::Cib::from_xml(&cib("stop")).unwrap());
    for seed in 1..=seeds() {
        let mut c = Cluster::new(3, &cib("stop"), vec![], seed).unwrap();
        c.start_all();
        schedule_faults(&mut c, seed, false);
        c.run_until(s(420));
        check_settled(&c, seed);
        checkers::resource_single_active(&c.events, &unique)
            .unwrap_or_else(|v| panic!("seed {seed}: {v}"));
    }
}

#[test]
fn with_fencing_partitions_keep_single_active() {
    let xml = cib_with("stop", true);
    let unique = checkers::unique_resources(&hasim_cib::Cib::from_xml(&xml).unwrap());
    for seed in 1..=seeds() {
        let mut c = Cluster::new(3, &xml, vec![], 2000 + seed).unwrap();
        c.start_all();
        schedule_faults(&mut c, 2000 + seed, true);
        c.run_until(s(480));
        check_settled(&c, seed);
        if let Err(v) = checkers::resource_single_active(&c.events, &unique) {
            for e in c
                .events
                .iter()
                .filter(|e| e.at > v.at - s(40) && e.at <= v.at)
            {
                match &e.event {
                    hasim_pcmk_proto::Event::ResourceOp { .. }
                    | hasim_pcmk_proto::Event::CibVersion { .. }
                    | hasim_pcmk_proto::Event::ControllerState { .. } => {}
                    other => eprintln!("{:?} {:?}", e.at, other),
                }
            }
            panic!("seed {seed}: {v}");
        }
    }
}

#[test]
fn partitions_and_power_faults_settle() {
    for seed in 1..=seeds() {
        let mut c = Cluster::new(3, &cib("stop"), vec![], 1000 + seed).unwrap();
        c.start_all();
        schedule_faults(&mut c, 1000 + seed, true);
        c.run_until(s(420));
        check_settled(&c, seed);
    }
}
