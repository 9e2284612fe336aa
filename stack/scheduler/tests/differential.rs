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

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::Config;

use support::gen::{spec, spec_extended};
use support::oracle::{
    agree_on, crm_simulate_or_skip, env_number, real_summary, same_lines, seeded_runner,
};

#[test]
fn random_cibs_match_crm_simulate() {
    let Some(bin) = crm_simulate_or_skip("random_cibs_match_crm_simulate") else {
        return;
    };
    // Deterministic by default (HASIM_DIFF_SEED picks another sequence).
    let cases = env_number("HASIM_DIFF_CASES", 48);
    let seed = env_number("HASIM_DIFF_SEED", 2026);
    agree_on(&bin, &spec(), |s| s.to_xml(), cases, seed);
}

/// Fixed-seed slice of the extended generator and the mismatches it has
/// today (lower it as causes are fixed; never raise it).
const EXTENDED_CASES: u32 = 24;
const EXTENDED_SEED: u64 = 2026;
const EXTENDED_MISMATCHES: usize = 0;

#[test]
fn extended_random_cibs_within_known_mismatches() {
    let Some(bin) = crm_simulate_or_skip("extended_random_cibs_within_known_mismatches") else {
        return;
    };
    let mut runner = seeded_runner(Config::default(), EXTENDED_SEED);
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
