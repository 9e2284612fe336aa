//! Measure hasim's agreement with the real crm_simulate on random CIBs with
//! Pacemaker Remote: remote nodes, a guest node, bundles
//! (`tests/support/gen_remote.rs`).
//!
//! Usage: cargo run --release -p hasim-scheduler --example differential_remote -- [CASES] [SEED] [no-bundles]
//! Prints the agreement rate and the first few mismatching CIBs' diffs.

#[path = "../tests/support/mod.rs"]
mod support;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn main() {
    let mut args = std::env::args().skip(1);
    let cases: u32 = args.next().and_then(|v| v.parse().ok()).unwrap_or(200);
    let seed: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
    let Some(bin) = support::oracle::crm_simulate() else {
        eprintln!("crm_simulate not installed");
        std::process::exit(2);
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let bundles = args.next().as_deref() != Some("no-bundles");
    let strategy = support::gen_remote::remote_spec_with(bundles);
    let mut agree = 0;
    let mut shown = 0;
    for i in 0..cases {
        let spec = strategy.new_tree(&mut runner).expect("generate").current();
        let xml = spec.to_xml();
        let expected = match support::oracle::real_summary(&bin, &xml, &i.to_string()) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("case {i}: {e}");
                continue;
            }
        };
        let actual = hasim_conformance::hasim_summary(&xml).unwrap_or_default();
        if support::oracle::same_lines(&expected, &actual) {
            agree += 1;
        } else if shown < 5 {
            shown += 1;
            println!("--- mismatch in case {i}");
            for l in &expected {
                if !actual.contains(l) {
                    println!("- {l}");
                }
            }
            for l in &actual {
                if !expected.contains(l) {
                    println!("+ {l}");
                }
            }
            let path = std::env::temp_dir().join(format!("hasim-remote-mismatch-{i}.xml"));
            let _ = std::fs::write(&path, &xml);
            println!("  CIB written to {}", path.display());
        }
    }
    println!(
        "differential agreement: {agree}/{cases} ({:.1}%)",
        100.0 * agree as f64 / cases as f64
    );
}
