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
//! seed and size: `examples/differential.rs N SEED extended`. The full
//! generator (`support/gen_full.rs`: everything at once, with Pacemaker
//! Remote, bundles, notifications) has its own fixed-seed slice and
//! ratchet (`FULL_CASES`, `FULL_MISMATCHES`; any seed:
//! `examples/differential.rs N SEED full`).

mod support;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::Config;

use support::gen::{spec, spec_extended};
use support::gen_full::full_spec;
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
    let xml = spec_extended().prop_map(|s| s.to_xml());
    let mismatches = mismatches_on(&bin, &xml, EXTENDED_CASES, EXTENDED_SEED, "ext");
    assert_within(&mismatches, EXTENDED_CASES, EXTENDED_MISMATCHES);
}

/// Fixed-seed slice of the full generator (every feature in one CIB:
/// remote and guest nodes, bundles, cloned groups, notifications, on-fail
/// variants, fail counts, ... see support/gen_full.rs) and the mismatches
/// it has today (lower it as causes are fixed; never raise it).
const FULL_CASES: u32 = 48;
const FULL_SEED: u64 = 2026;
const FULL_MISMATCHES: usize = 0;

#[test]
fn full_random_cibs_within_known_mismatches() {
    let Some(bin) = crm_simulate_or_skip("full_random_cibs_within_known_mismatches") else {
        return;
    };
    let xml = full_spec().prop_map(|s| s.to_xml());
    let mismatches = mismatches_on(&bin, &xml, FULL_CASES, FULL_SEED, "full");
    assert_within(&mismatches, FULL_CASES, FULL_MISMATCHES);
}

/// The cases among `cases` CIBs of `strategy` (from `seed`) on which hasim
/// and crm_simulate disagree, each described with both summaries.
fn mismatches_on<S: Strategy<Value = String>>(
    bin: &std::path::Path,
    strategy: &S,
    cases: u32,
    seed: u64,
    tag: &str,
) -> Vec<String> {
    let mut runner = seeded_runner(Config::default(), seed);
    let mut mismatches = Vec::new();
    for i in 0..cases {
        let xml = strategy.new_tree(&mut runner).expect("generate").current();
        let expected = real_summary(bin, &xml, &format!("{tag}{i}"))
            .unwrap_or_else(|e| panic!("case {i}: generated CIB refused: {e}\n{xml}"));
        let actual = hasim_conformance::hasim_summary(&xml).expect("hasim schedules it");
        if !same_lines(&expected, &actual) {
            mismatches.push(format!(
                "case {i}:\ncrm_simulate: {expected:#?}\nhasim: {actual:#?}"
            ));
        }
    }
    mismatches
}

/// At most `allowed` of `cases` may differ (printing those that do).
fn assert_within(mismatches: &[String], cases: u32, allowed: usize) {
    for m in mismatches {
        eprintln!("{m}");
    }
    assert!(
        // (saturating_sub: the allowance may be zero)
        mismatches.len().saturating_sub(allowed) == 0,
        "{} of {cases} differ, more than the known {allowed}",
        mismatches.len()
    );
}
