//! Figures for the report, measured on the harness (printed with
//! `cargo test -p hasim-totem --release --test measurements -- --nocapture`).
//! The assertions keep them honest: they fail if the protocol gets slower
//! than the timer formulas allow.

mod harness;

use harness::*;
use hasim_totem::{Guarantee, NodeId, TotemConfig};

#[test]
fn agreed_throughput_five_nodes_no_faults() {
    let ids: Vec<NodeId> = (1..=5).collect();
    let t = TotemConfig::default().effective(5);
    let mut s = Sim::new(11, &ids, default_setup(ids.clone(), t, 1, false));
    s.start_all();
    assert!(s.run_until_ring(t.consensus() * 3, ms(10)).is_some());
    // Saturate: every node keeps a backlog of 1000 messages.
    let start = s.now;
    let before = s.records()[0].deliveries.len();
    let window = ms(1000);
    while s.now < start + window {
        for id in s.running() {
            let backlog = s.core(id).unwrap().srp().backlog();
            for _ in backlog..1000 {
                s.mcast(id, Guarantee::Agreed);
            }
        }
        s.run_for(ms(5));
    }
    let delivered = s.records()[0].deliveries.len() - before;
    let per_sec = delivered as f64 / window.as_secs_f64();
    let rotation_us = 5.0 * 100.0;
    eprintln!(
        "5-node ring, one-way latency 80-120us, no faults: {per_sec:.0} agreed msgs/s \
         (window_size {} per rotation of ~{rotation_us}us => bound {:.0}/s)",
        t.window_size,
        f64::from(t.window_size) / (rotation_us / 1e6)
    );
    assert!(!s.storm, "harness storm guard tripped");
    check_all(&s.records()).unwrap();
    assert!(per_sec > 10_000.0);
}

fn detection(token: u32, seed: u64) -> (std::time::Duration, std::time::Duration) {
    let ids: Vec<NodeId> = (1..=3).collect();
    let t = TotemConfig {
        token: Some(token),
        ..Default::default()
    }
    .effective(3);
    let mut s = Sim::new(seed, &ids, default_setup(ids.clone(), t, 1, false));
    s.start_all();
    assert!(s.run_until_ring(t.consensus() * 3, ms(10)).is_some());
    s.run_with_load(ms(1000), ms(50));
    let t0 = s.now;
    s.stop(3);
    s.run_with_load(t.failure_detection_bound() + ms(500), ms(50));
    let rec = s
        .records()
        .into_iter()
        .find(|r| r.node == 1 && r.boot == 1)
        .unwrap();
    let d = detection_time(&rec, t0, 3).expect("node 3 never removed");
    (d, t.token() + t.consensus())
}

#[test]
fn failure_detection_time_three_nodes() {
    for token in [1000u32, 3000] {
        let mut ds = Vec::new();
        let mut formula = Default::default();
        for seed in 0..5 {
            let (d, f) = detection(token, 100 + seed);
            ds.push(d);
            formula = f;
        }
        let min = ds.iter().min().unwrap();
        let max = ds.iter().max().unwrap();
        eprintln!(
            "token {token} (3 nodes): stop -> new membership {:?}..{:?} over 5 seeds; \
             token_eff + consensus = {:?}",
            min, max, formula
        );
        let t = TotemConfig {
            token: Some(token),
            ..Default::default()
        }
        .effective(3);
        assert!(*max <= t.failure_detection_bound());
        assert!(*min + t.token_retransmit() >= formula - t.token() / 2);
    }
}
