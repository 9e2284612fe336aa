//! A campaign: many seeds of one scenario, run in parallel on the available
//! cores. Each run has its own madsim runtime on its own thread, so runs share
//! nothing and each stays deterministic.

use crate::faults;
use crate::scenario::Scenario;
use crate::world;
use hasim_reports::{CampaignReport, RunOutcome};
use indicatif::{ProgressBar, ProgressStyle};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Run one seed and keep only its outcome.
pub fn outcome(scenario: &Scenario, seed: u64) -> RunOutcome {
    let wall = std::time::Instant::now();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        world::run(scenario, seed, None)
    }));
    let error = |e: String| RunOutcome {
        seed,
        expectation_met: false,
        broken: vec![],
        surprises: vec![],
        trace_hash: String::new(),
        simulated_seconds: 0.0,
        timeline_digest: faults::digest(&faults::timeline(scenario, seed)),
        error: Some(e),
        evidence: vec![],
        wall_seconds: wall.elapsed().as_secs_f64(),
        fenced: None,
    };
    match run {
        Ok(Ok(out)) => RunOutcome {
            seed,
            expectation_met: out.report.expectation_met(),
            broken: out
                .report
                .verdicts
                .iter()
                .filter(|v| !v.held)
                .map(|v| v.checker.clone())
                .collect(),
            surprises: out
                .report
                .surprises()
                .iter()
                .map(|v| v.checker.clone())
                .collect(),
            trace_hash: out.report.trace_hash.clone(),
            simulated_seconds: out.report.simulated_seconds,
            timeline_digest: faults::digest(&out.timeline),
            error: None,
            evidence: surprise_evidence(&out.report),
            wall_seconds: wall.elapsed().as_secs_f64(),
            fenced: out.report.fenced.clone(),
        },
        Ok(Err(e)) => error(e),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            error(format!("the run panicked: {msg}"))
        }
    }
}

/// The surprising verdicts, one line each with their evidence (bounded).
fn surprise_evidence(report: &hasim_reports::RunReport) -> Vec<String> {
    let mut out = Vec::new();
    for v in report.surprises() {
        let state = if v.held { "held" } else { "BROKEN" };
        out.push(format!("{} {state}: {}", v.checker, v.summary));
        out.extend(v.evidence.iter().take(8).map(|e| format!("  {e}")));
    }
    out
}

/// Run every seed in `seeds` (both ends included) on `threads` threads.
pub fn run(
    scenario: &Scenario,
    scenario_path: &str,
    seeds: RangeInclusive<u64>,
    threads: usize,
    progress: bool,
) -> CampaignReport {
    let wall = std::time::Instant::now();
    // Counting runs, not seeds, cannot wrap at u64::MAX.
    let (first, total) = (*seeds.start(), seeds_in(&seeds));
    let bar = if progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {per_sec}  eta {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let next = AtomicU64::new(0);
    let results = Mutex::new(Vec::new());
    let failed = AtomicU64::new(0);
    let threads = threads.max(1).min(total.max(1) as usize);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    break;
                }
                let seed = first + index;
                let out = outcome(scenario, seed);
                if !out.expectation_met {
                    let n = failed.fetch_add(1, Ordering::Relaxed) + 1;
                    bar.set_message(format!("{n} unexpected"));
                }
                results.lock().unwrap_or_else(|e| e.into_inner()).push(out);
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let mut runs = results.into_inner().unwrap_or_else(|e| e.into_inner());
    runs.sort_by_key(|r| r.seed);
    CampaignReport {
        scenario: scenario.name.clone(),
        scenario_path: scenario_path.to_string(),
        runs,
        wall_seconds: wall.elapsed().as_secs_f64(),
        threads,
    }
}

/// How many seeds `seeds` holds, saturating at `u64::MAX` (the CLI allows at
/// most `limits::MAX_CAMPAIGN_SEEDS`).
pub fn seeds_in(seeds: &RangeInclusive<u64>) -> u64 {
    (seeds.end().saturating_sub(*seeds.start())).saturating_add(u64::from(!seeds.is_empty()))
}
