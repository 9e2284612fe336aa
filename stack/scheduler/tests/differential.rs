//! Differential testing: random CIBs (tier-1/2 features) scheduled by hasim
//! and by the real crm_simulate 2.1.5 must give the same Transition Summary
//! (order-insensitive). Runs when crm_simulate is installed; otherwise
//! prints a skip notice, except with CI=true where its absence fails.
//! Case count: HASIM_DIFF_CASES (default 48); seed: HASIM_DIFF_SEED.
//!
//! The extended generator (promotable clones, parameter changes,
//! discovery, rules, sets, utilization, templates, tags) is checked on a
//! fixed-seed slice against a ratchet: at most `EXTENDED_MISMATCHES` of
//! `EXTENDED_CASES` may differ (known causes: KNOWN-DIFFERENCES.md). Any
//! seed and size: `examples/differential.rs N SEED extended`.

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use proptest::strategy::ValueTree;
use support::gen::{spec, spec_extended};
use support::oracle::{crm_simulate, real_summary, same_lines};

#[test]
fn random_cibs_match_crm_simulate() {
    let Some(bin) = crm_simulate() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("crm_simulate not found but CI=true: install pacemaker-cli-utils");
        }
        eprintln!("SKIP random_cibs_match_crm_simulate: crm_simulate not installed");
        return;
    };
    let cases = std::env::var("HASIM_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    // Deterministic by default (HASIM_DIFF_SEED picks another sequence).
    let seed: u64 = std::env::var("HASIM_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2026);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let counter = std::sync::atomic::AtomicU32::new(0);
    let result = runner.run(&spec(), |s| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let xml = s.to_xml();
        let expected = real_summary(&bin, &xml, &n.to_string()).map_err(TestCaseError::fail)?;
        let actual = hasim_conformance::hasim_summary(&xml).map_err(TestCaseError::fail)?;
        prop_assert!(
            same_lines(&expected, &actual),
            "crm_simulate: {expected:#?}\nhasim: {actual:#?}\nCIB:\n{xml}"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Fixed-seed slice of the extended generator and the mismatches it has
/// today (lower it as causes are fixed; never raise it).
const EXTENDED_CASES: u32 = 24;
const EXTENDED_SEED: u64 = 2026;
const EXTENDED_MISMATCHES: usize = 0;

#[test]
fn extended_random_cibs_within_known_mismatches() {
    let Some(bin) = crm_simulate() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("crm_simulate not found but CI=true: install pacemaker-cli-utils");
        }
        eprintln!("SKIP extended_random_cibs_within_known_mismatches: crm_simulate not installed");
        return;
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&EXTENDED_SEED.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let strategy = spec_extended();
    let mut mismatches = Vec::new();
    for i in 0..EXTENDED_CASES {
        let xml = strategy
            .new_tree(&mut runner)
            .expect("generate")
            .current()
            .to_xml();
        let expected = real_summary(&bin, &xml, &format!("ext{i}"))
            .unwrap_or_else(|e| panic!("case {i}: generated CIB refused: {e}\n{xml}"));
        let actual = hasim_conformance::hasim_summary(&xml).expect("hasim schedules it");
        if !same_lines(&expected, &actual) {
            mismatches.push(format!(
                "case {i}:\ncrm_simulate: {expected:#?}\nhasim: {actual:#?}"
            ));
        }
    }
    for m in &mismatches {
        eprintln!("{m}");
    }
    assert!(
        // (saturating_sub: the allowance may be zero)
        mismatches.len().saturating_sub(EXTENDED_MISMATCHES) == 0,
        "{} of {EXTENDED_CASES} differ, more than the known {EXTENDED_MISMATCHES}",
        mismatches.len()
    );
}
