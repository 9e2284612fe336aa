//! Run the scheduler conformance corpus and print per-tier agreement.
//!
//! Usage (from the repository root):
//!   cargo run --release -p hasim-scheduler --example conformance -- [--diffs] [--write-passing] [CASE...]
//!
//! `--write-passing` rewrites stack/scheduler/tests/conformance-passing.txt
//! (the ratchet list) as the union of the old list and the cases passing now.

use std::path::PathBuf;

use hasim_conformance::{run, Options};

fn main() {
    let mut opts = Options::default();
    let mut write = false;
    let mut status = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--diffs" => opts.show_diffs = true,
            "--write-passing" => write = true,
            "--status" => status = true,
            _ => opts.filter.push(a),
        }
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // HASIM_SHARED: the shared data directory elsewhere (e.g. from a
    // worktree that is not a sibling of `shared/`).
    let corpus = std::env::var_os("HASIM_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared"))
        .join("scheduler-corpus");
    if status {
        let filter = opts.filter.clone();
        let c = corpus.clone();
        let (n, cur, rev) = std::thread::Builder::new()
            .stack_size(256 * 1024 * 1024)
            .spawn(move || hasim_conformance::status_agreement(&c, &filter))
            .expect("spawn")
            .join()
            .expect("status run");
        println!("status sections identical: current {cur}/{n}, revised {rev}/{n}");
        return;
    }
    // Deep recursion in some cases: run on a thread with a large stack.
    let report = std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(move || run(&corpus, &opts))
        .expect("spawn")
        .join()
        .expect("conformance run");
    print!("{report}");
    if write {
        let path = manifest.join("tests/conformance-passing.txt");
        let mut names: Vec<String> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        names.extend(report.passing());
        names.sort();
        names.dedup();
        let mut text = String::from("# Cases of the scheduler corpus hasim reproduces (order-insensitive).\n# Regenerate: cargo run --release -p hasim-scheduler --example conformance -- --write-passing\n");
        for n in names {
            text.push_str(&n);
            text.push('\n');
        }
        std::fs::write(&path, text).expect("write ratchet list");
    }
}
