//! Many seeds of one scenario: which runs met their expectation, and how to
//! replay the ones that did not.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The outcome of one run in a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunOutcome {
    pub seed: u64,
    pub expectation_met: bool,
    /// Invariants that broke in this run.
    pub broken: Vec<String>,
    /// Invariants that did not behave as expected.
    pub surprises: Vec<String>,
    pub trace_hash: String,
    pub simulated_seconds: f64,
    /// Distinct faults drawn for this run (to show seeds differ).
    pub timeline_digest: String,
    /// Set when the run could not be carried out at all.
    pub error: Option<String>,
    /// For each invariant that did not behave as expected: its summary and
    /// evidence (what JUnit failures and the JSON summary carry).
    pub evidence: Vec<String>,
    /// Wall seconds the run took.
    pub wall_seconds: f64,
    /// With power devices: the machines a device switched off (sorted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fenced: Option<Vec<String>>,
}

/// A summary of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignReport {
    pub scenario: String,
    pub scenario_path: String,
    pub runs: Vec<RunOutcome>,
    pub wall_seconds: f64,
    pub threads: usize,
}

impl CampaignReport {
    pub fn failures(&self) -> impl Iterator<Item = &RunOutcome> {
        self.runs.iter().filter(|r| !r.expectation_met)
    }

    pub fn all_met(&self) -> bool {
        self.runs.iter().all(|r| r.expectation_met)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let total = self.runs.len();
        let met = self.runs.iter().filter(|r| r.expectation_met).count();
        let simulated: f64 = self.runs.iter().map(|r| r.simulated_seconds).sum();
        let _ = writeln!(
            out,
            "campaign {}: {total} runs, {met} met their expectation, {} did not",
            self.scenario,
            total - met
        );
        let mut broken: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.runs {
            for b in &r.broken {
                *broken.entry(b).or_default() += 1;
            }
        }
        for (name, n) in &broken {
            let _ = writeln!(out, "  {name} broke in {n}/{total} runs");
        }
        let timelines: std::collections::BTreeSet<&str> = self
            .runs
            .iter()
            .map(|r| r.timeline_digest.as_str())
            .collect();
        let _ = writeln!(out, "  distinct fault timelines: {}", timelines.len());
        if self.wall_seconds > 0.0 {
            let _ = writeln!(
                out,
                "  {:.1} runs/s, {:.0} simulated s per wall s ({} threads, {:.2} s wall)",
                total as f64 / self.wall_seconds,
                simulated / self.wall_seconds,
                self.threads,
                self.wall_seconds
            );
        }
        for r in self.failures() {
            let why = match &r.error {
                Some(e) => format!("error: {e}"),
                None => format!("unexpected: {}", r.surprises.join(", ")),
            };
            let _ = writeln!(
                out,
                "  seed {} {why}\n    hasim replay {} --seed {} --trace seed-{}.trace.jsonl",
                r.seed, self.scenario_path, r.seed, r.seed
            );
        }
        out
    }
}
