//! Running the real crm_simulate on a CIB (the oracle of differential tests).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Path of crm_simulate if it is on PATH (or in /usr/sbin).
pub use hasim_conformance::oracle::crm_simulate;

/// The normalised Transition Summary real Pacemaker computes for `xml`.
pub fn real_summary(bin: &Path, xml: &str, tag: &str) -> Result<Vec<String>, String> {
    hasim_conformance::oracle::transition_summary(bin, xml, tag)
}

/// Multiset equality of summary lines.
pub fn same_lines(a: &[String], b: &[String]) -> bool {
    let mut x = a.to_vec();
    let mut y = b.to_vec();
    x.sort();
    y.sort();
    x == y
}

/// crm_simulate for test `name`, or `None` with a skip notice; under
/// CI=true its absence is a failure.
pub fn crm_simulate_or_skip(name: &str) -> Option<PathBuf> {
    let bin = crm_simulate();
    if bin.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("crm_simulate not found but CI=true: install pacemaker-cli-utils");
        }
        eprintln!("SKIP {name}: crm_simulate not installed");
    }
    bin
}

/// A number from the environment, or `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A proptest runner whose cases are a pure function of `seed`.
pub fn seeded_runner(
    config: proptest::test_runner::Config,
    seed: u64,
) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    )
}

/// Run `strategy` for `cases` CIBs (written by `to_xml`) from `seed`; each
/// must get the same Transition Summary from crm_simulate (`bin`) and hasim.
pub fn agree_on<S: proptest::strategy::Strategy>(
    bin: &Path,
    strategy: &S,
    to_xml: fn(&S::Value) -> String,
    cases: u32,
    seed: u64,
) {
    use proptest::test_runner::{Config, TestCaseError};
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let counter = std::sync::atomic::AtomicU32::new(0);
    let result = seeded_runner(config, seed).run(strategy, |s| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let xml = to_xml(&s);
        let expected = real_summary(bin, &xml, &n.to_string()).map_err(TestCaseError::fail)?;
        let actual = hasim_conformance::hasim_summary(&xml).map_err(TestCaseError::fail)?;
        proptest::prop_assert!(
            same_lines(&expected, &actual),
            "crm_simulate: {expected:#?}\nhasim: {actual:#?}\nCIB:\n{xml}"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
