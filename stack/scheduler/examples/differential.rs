//! Measure hasim's agreement with the real crm_simulate on random CIBs.
//!
//! Usage: cargo run --release -p hasim-scheduler --example differential -- [CASES] [SEED] [basic|extended|full]
//! Prints the agreement rate and the first few mismatching CIBs' diffs.
//! `extended` (default `basic`) adds promotable clones, parameter changes,
//! discovery, rules, sets, utilization, templates and tags; `full` mixes
//! all of that with remote and guest nodes, a bundle, a cloned group,
//! notifications, on-fail variants and fail counts in one CIB
//! (`tests/support/gen_full.rs`). CIBs the real
//! crm_simulate refuses are counted apart, not as agreement.

#[path = "../tests/support/mod.rs"]
mod support;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn main() {
    let mut args = std::env::args().skip(1);
    let cases: u32 = args.next().and_then(|v| v.parse().ok()).unwrap_or(200);
    let seed: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
    let kind = args.next().unwrap_or_else(|| "basic".into());
    let Some(bin) = support::oracle::crm_simulate() else {
        eprintln!("crm_simulate not installed");
        std::process::exit(2);
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = match kind.as_str() {
        "basic" => support::gen::spec().prop_map(|s| s.to_xml()).boxed(),
        "extended" => support::gen::spec_extended()
            .prop_map(|s| s.to_xml())
            .boxed(),
        "full" => support::gen_full::full_spec()
            .prop_map(|s| s.to_xml())
            .boxed(),
        other => {
            eprintln!("unknown generator {other:?}: expected basic, extended or full");
            std::process::exit(2);
        }
    };
    // HASIM_DIFF_DIR: keep every mismatching CIB and its diff there (for
    // classifying causes over a whole run).
    let keep = std::env::var_os("HASIM_DIFF_DIR").map(std::path::PathBuf::from);
    if let Some(dir) = &keep {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut refused = 0;
    let mut agree = 0;
    let mut shown = 0;
    for i in 0..cases {
        let xml = strategy.new_tree(&mut runner).expect("generate").current();
        let expected = match support::oracle::real_summary(&bin, &xml, &i.to_string()) {
            Ok(e) => e,
            Err(e) => {
                refused += 1;
                if refused <= 3 {
                    eprintln!("case {i}: {e}");
                }
                continue;
            }
        };
        let actual = hasim_conformance::hasim_summary(&xml).unwrap_or_default();
        if support::oracle::same_lines(&expected, &actual) {
            agree += 1;
            continue;
        }
        let diff = line_diff(&expected, &actual);
        if let Some(dir) = &keep {
            let _ = std::fs::write(dir.join(format!("{i}.xml")), &xml);
            let _ = std::fs::write(dir.join(format!("{i}.diff")), &diff);
        }
        if shown < 5 {
            shown += 1;
            print!("--- mismatch in case {i}\n{diff}");
            let path = std::env::temp_dir().join(format!("hasim-mismatch-{i}.xml"));
            let _ = std::fs::write(&path, &xml);
            println!("  CIB written to {}", path.display());
        }
    }
    println!(
        "differential agreement: {agree}/{} ({:.1}%), {refused} refused by crm_simulate",
        cases - refused,
        100.0 * agree as f64 / f64::from((cases - refused).max(1))
    );
}

/// Expected lines missing from hasim's summary (`-`) and extra ones (`+`).
fn line_diff(expected: &[String], actual: &[String]) -> String {
    let mut out = String::new();
    for l in expected.iter().filter(|l| !actual.contains(l)) {
        out.push_str(&format!("- {l}\n"));
    }
    for l in actual.iter().filter(|l| !expected.contains(l)) {
        out.push_str(&format!("+ {l}\n"));
    }
    out
}
