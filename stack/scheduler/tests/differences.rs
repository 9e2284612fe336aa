//! Minimal reproductions of past disagreements with Pacemaker 2.1.5
//! (`../shared/scheduler-differences/`: a CIB and real crm_simulate's output
//! for each). Every case listed in `AGREEING` must produce exactly the real
//! Transition Summary (order-insensitive); the others are printed with
//! their differences (`cargo test -p hasim-scheduler --test differences --
//! --nocapture`) so the list can grow.

use std::path::PathBuf;

/// Cases that agree with crm_simulate; this list only grows.
const AGREEING: &[&str] = &[
    "e01", "e02", "e03", "e04", "e05", "e06", "e07", "e08", "e09", "e10", "e11", "e12", "e13",
    "e14", "e15", "e16", "e17", "e18", "e19", "e20", "e21", "e22", "e23", "e24", "e25",
];

fn dir() -> PathBuf {
    std::env::var_os("HASIM_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("scheduler-differences")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// (case name, expected lines, produced lines) for every reproduction.
fn compare_all() -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("scheduler-differences directory")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".xml").map(str::to_string)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let xml = std::fs::read_to_string(dir().join(format!("{name}.xml"))).expect("xml");
            let out =
                std::fs::read_to_string(dir().join(format!("{name}.summary"))).expect("summary");
            let expected = sorted(hasim_conformance::extract_summary(&out));
            let produced = sorted(hasim_conformance::hasim_summary(&xml).unwrap_or_default());
            (name, expected, produced)
        })
        .collect()
}

#[test]
fn listed_reproductions_agree_with_crm_simulate() {
    let results = compare_all();
    let mut regressed = Vec::new();
    for (name, expected, produced) in &results {
        let agree = expected == produced;
        println!("{} {name}", if agree { "agree   " } else { "DIFFER  " });
        if !agree {
            expected
                .iter()
                .filter(|l| !produced.contains(l))
                .for_each(|l| println!("    - {l}"));
            produced
                .iter()
                .filter(|l| !expected.contains(l))
                .for_each(|l| println!("    + {l}"));
        }
        let short = name.split('-').next().unwrap_or(name);
        if AGREEING.contains(&short) && !agree {
            regressed.push(name.clone());
        }
    }
    assert!(results.len() >= 20, "reproductions missing");
    assert!(regressed.is_empty(), "regressed: {regressed:?}");
}
