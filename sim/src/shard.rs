//! A campaign over one shard of a seed range (or all of it) that can be
//! stopped: by Ctrl-C, or by `--fail-fast` at the first unexpected outcome.
//! Runs are folded into a [`CampaignSummary`] as they finish, so memory does
//! not grow with the number of seeds; per-run outcomes are kept only when
//! asked (for JUnit).

use crate::campaign;
use crate::scenario::Scenario;
use hasim_reports::{CampaignSummary, RunOutcome, Shard};
use indicatif::{ProgressBar, ProgressStyle};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// How a campaign may end early, and what it keeps.
#[derive(Default)]
pub struct Control<'a> {
    /// Set from outside (the Ctrl-C handler): take no new seed.
    pub stop: Option<&'a AtomicBool>,
    /// Stop taking seeds after the first run that did not meet its expectation.
    pub fail_fast: bool,
    /// Keep every run's outcome (for JUnit), not only the summary.
    pub keep_outcomes: bool,
}

/// What a campaign produced.
pub struct CampaignRun {
    pub summary: CampaignSummary,
    /// Sorted by seed; empty unless `keep_outcomes`.
    pub outcomes: Vec<RunOutcome>,
    pub wall_seconds: f64,
    pub threads: usize,
}

impl CampaignRun {
    /// Speed, for people; not part of the (mergeable) summary.
    pub fn speed_line(&self) -> String {
        if self.wall_seconds <= 0.0 {
            return String::new();
        }
        format!(
            "  {:.1} runs/s, {:.0} simulated s per wall s ({} threads, {:.2} s wall)\n",
            self.summary.runs as f64 / self.wall_seconds,
            self.summary.simulated_us as f64 / 1e6 / self.wall_seconds,
            self.threads,
            self.wall_seconds
        )
    }
}

fn progress_bar(total: u64, show: bool) -> ProgressBar {
    let bar = if show {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {per_sec}  eta {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Run the seeds of `shard` (all of `seeds` when `None`) on `threads` threads.
pub fn run(
    scenario: &Scenario,
    scenario_path: &str,
    seeds: Range<u64>,
    shard: Option<Shard>,
    threads: usize,
    progress: bool,
    control: &Control,
) -> CampaignRun {
    let wall = std::time::Instant::now();
    let slice = shard.unwrap_or(Shard { index: 1, count: 1 });
    let total = slice.seeds(seeds.clone()).count() as u64;
    let queue = Mutex::new(slice.seeds(seeds.clone()));
    let summary = Mutex::new(CampaignSummary::new(
        &scenario.name,
        scenario_path,
        seeds,
        shard,
    ));
    let outcomes = Mutex::new(Vec::new());
    let failed = AtomicBool::new(false);
    let bar = progress_bar(total, progress);
    let stopping = || {
        control.stop.is_some_and(|s| s.load(Ordering::SeqCst))
            || (control.fail_fast && failed.load(Ordering::SeqCst))
    };
    let threads = threads.max(1).min(total.max(1) as usize);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                if stopping() {
                    break;
                }
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some(seed) = next else { break };
                let out = campaign::outcome(scenario, seed);
                if !out.expectation_met {
                    failed.store(true, Ordering::SeqCst);
                    bar.set_message(format!("seed {seed} unexpected"));
                }
                summary.lock().unwrap_or_else(|e| e.into_inner()).add(&out);
                if control.keep_outcomes {
                    outcomes.lock().unwrap_or_else(|e| e.into_inner()).push(out);
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let mut summary = summary.into_inner().unwrap_or_else(|e| e.into_inner());
    summary.interrupted = summary.runs < total;
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by_key(|o| o.seed);
    CampaignRun {
        summary,
        outcomes,
        wall_seconds: wall.elapsed().as_secs_f64(),
        threads,
    }
}
