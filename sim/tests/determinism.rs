//! Same scenario, same seed: the same trace, byte for byte.
#![cfg(madsim)]

mod common;

use common::{load, SharedBuf};
use hasim::world;

fn traced_run(name: &str, seed: u64) -> (Vec<u8>, String) {
    let buf = SharedBuf::default();
    let out = world::run(&load(name), seed, Some(Box::new(buf.clone()))).unwrap();
    let bytes = buf.0.lock().unwrap().clone();
    (bytes, out.report.trace_hash)
}

#[test]
fn identical_traces_for_identical_seeds() {
    for name in [
        "keepalived-split-brain.toml",
        "keepalived-failover.toml",
        "keepalived-lossy.toml",
        "keepalived-nemesis.toml",
    ] {
        for seed in [1, 2, 77] {
            let (a, hash_a) = traced_run(name, seed);
            let (b, hash_b) = traced_run(name, seed);
            assert!(
                a.len() > 1000,
                "{name} seed {seed}: trace suspiciously short"
            );
            assert!(a == b, "{name} seed {seed}: traces differ");
            assert_eq!(hash_a, hash_b);
        }
    }
}

#[test]
fn hash_covers_the_trace_file() {
    use sha2::{Digest, Sha256};
    let (bytes, hash) = traced_run("keepalived-split-brain.toml", 5);
    // The hash is over the trace lines plus the closing verdict lines, which
    // are in the file too.
    let digest = Sha256::digest(&bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, hash);
}

#[test]
fn different_seeds_give_different_runs() {
    let hashes: std::collections::BTreeSet<String> = (1..6)
        .map(|seed| traced_run("keepalived-nemesis.toml", seed).1)
        .collect();
    assert_eq!(hashes.len(), 5);
}
