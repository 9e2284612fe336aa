//! The JSON summary of a campaign, built one run at a time so a campaign of
//! a million seeds keeps a summary, not a million reports; and mergeable, so
//! the K-th of N shards of a seed range (`--shard K/N`), run on different
//! machines, combine into exactly the summary the unsharded campaign gives.
//!
//! Everything in it is order-independent: counts add up, failures are
//! sorted by seed, the fault timelines are a set, and the outcome digest is
//! the XOR of one hash per run. Wall-clock figures are not part of it (two
//! machines never agree on them); the campaign prints them beside it.

use crate::campaign::RunOutcome;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Range;

/// The K-th (1-based) of N deterministic slices of a seed range: every seed
/// whose offset from the range start is K-1 modulo N. Strided rather than
/// contiguous, so slow seeds spread over all shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parse `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or(format!("`{text}`: expected K/N, for example 3/8"))?;
        let index: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("`{text}`: `{k}` is not a shard number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{text}`: `{n}` is not a shard count"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("`{text}`: expected 1 <= K <= N"));
        }
        Ok(Shard { index, count })
    }

    /// The seeds of this shard, in order.
    pub fn seeds(self, range: Range<u64>) -> impl Iterator<Item = u64> {
        let start = range.start.saturating_add(self.index - 1);
        (start..range.end).step_by(self.count.try_into().unwrap_or(usize::MAX))
    }
}

/// One run whose outcome was not the expected one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRun {
    pub seed: u64,
    /// Invariants that did not behave as expected.
    pub surprises: Vec<String>,
    pub error: Option<String>,
    /// The surprising verdicts' summaries and evidence.
    pub evidence: Vec<String>,
    pub replay: String,
}

/// The mergeable summary of a campaign (or of one shard of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSummary {
    pub scenario: String,
    pub scenario_path: String,
    /// The whole seed range, A..B with B excluded.
    pub seeds: Range<u64>,
    /// Set for one shard; `None` for a whole (or merged) campaign.
    pub shard: Option<Shard>,
    pub runs: u64,
    pub met: u64,
    pub errors: u64,
    /// Invariant -> runs in which it broke.
    pub broken: BTreeMap<String, u64>,
    /// Invariant -> runs in which it did not behave as expected.
    pub unexpected: BTreeMap<String, u64>,
    /// Sorted by seed.
    pub failures: Vec<FailedRun>,
    /// Digests of the distinct fault timelines drawn.
    pub timeline_digests: BTreeSet<String>,
    /// XOR over runs of SHA-256(seed, trace hash, met), first 16 bytes: equal
    /// digests mean the same runs with the same traces.
    pub outcome_digest: String,
    /// Simulated time of all runs, microseconds.
    pub simulated_us: u64,
    /// Stopped early (Ctrl-C or `--fail-fast`): not every seed ran.
    pub interrupted: bool,
    /// With power devices: runs per set of machines a device switched off
    /// ("alpha", "alpha + beta", "none"), so a fence race's campaign shows
    /// in what fraction of seeds each node survived.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fenced_outcomes: BTreeMap<String, u64>,
}

fn xor_hex(a: &str, b: &[u8]) -> String {
    let mut bytes: Vec<u8> = (0..b.len())
        .map(|i| u8::from_str_radix(a.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0))
        .collect();
    for (x, y) in bytes.iter_mut().zip(b) {
        *x ^= y;
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The replay command for one seed.
pub fn replay_line(scenario_path: &str, seed: u64) -> String {
    format!("hasim replay {scenario_path} --seed {seed} --trace seed-{seed}.trace.jsonl")
}

impl CampaignSummary {
    pub fn new(scenario: &str, path: &str, seeds: Range<u64>, shard: Option<Shard>) -> Self {
        CampaignSummary {
            scenario: scenario.to_string(),
            scenario_path: path.to_string(),
            seeds,
            shard,
            runs: 0,
            met: 0,
            errors: 0,
            broken: BTreeMap::new(),
            unexpected: BTreeMap::new(),
            failures: Vec::new(),
            timeline_digests: BTreeSet::new(),
            outcome_digest: "0".repeat(32),
            simulated_us: 0,
            interrupted: false,
            fenced_outcomes: BTreeMap::new(),
        }
    }

    /// Fold one run in.
    pub fn add(&mut self, run: &RunOutcome) {
        self.runs += 1;
        self.met += u64::from(run.expectation_met);
        self.errors += u64::from(run.error.is_some());
        for b in &run.broken {
            *self.broken.entry(b.clone()).or_default() += 1;
        }
        for s in &run.surprises {
            *self.unexpected.entry(s.clone()).or_default() += 1;
        }
        if !run.expectation_met {
            let at = self.failures.partition_point(|f| f.seed < run.seed);
            self.failures.insert(
                at,
                FailedRun {
                    seed: run.seed,
                    surprises: run.surprises.clone(),
                    error: run.error.clone(),
                    evidence: run.evidence.clone(),
                    replay: replay_line(&self.scenario_path, run.seed),
                },
            );
        }
        if let Some(fenced) = &run.fenced {
            let key = if fenced.is_empty() {
                "none".to_string()
            } else {
                fenced.join(" + ")
            };
            *self.fenced_outcomes.entry(key).or_default() += 1;
        }
        self.timeline_digests.insert(run.timeline_digest.clone());
        let line = format!("{}:{}:{}", run.seed, run.trace_hash, run.expectation_met);
        let hash = Sha256::digest(line.as_bytes());
        self.outcome_digest = xor_hex(&self.outcome_digest, &hash[..16]);
        self.simulated_us += (run.simulated_seconds * 1e6).round() as u64;
    }

    pub fn all_met(&self) -> bool {
        self.met == self.runs && !self.interrupted
    }

    /// Combine the shards of one campaign: the same scenario and seed range,
    /// each of the N shards exactly once.
    pub fn merge(parts: &[CampaignSummary]) -> Result<CampaignSummary, String> {
        let first = parts.first().ok_or("no shard summaries to merge")?;
        let count = first.shard.map_or(1, |s| s.count);
        let mut seen = BTreeSet::new();
        for p in parts {
            if p.scenario_path != first.scenario_path || p.seeds != first.seeds {
                return Err(format!(
                    "shard of {} seeds {:?} does not belong with {} seeds {:?}",
                    p.scenario_path, p.seeds, first.scenario_path, first.seeds
                ));
            }
            let shard = p.shard.unwrap_or(Shard { index: 1, count: 1 });
            if shard.count != count || !seen.insert(shard.index) {
                return Err(format!(
                    "shard {}/{} is repeated or from a different split (expected N = {count})",
                    shard.index, shard.count
                ));
            }
        }
        if seen.len() as u64 != count {
            let missing: Vec<String> = (1..=count)
                .filter(|k| !seen.contains(k))
                .map(|k| format!("{k}/{count}"))
                .collect();
            return Err(format!("missing shards: {}", missing.join(", ")));
        }
        let mut out = CampaignSummary::new(
            &first.scenario,
            &first.scenario_path,
            first.seeds.clone(),
            None,
        );
        for p in parts {
            out.absorb(p);
        }
        Ok(out)
    }

    fn absorb(&mut self, p: &CampaignSummary) {
        self.runs += p.runs;
        self.met += p.met;
        self.errors += p.errors;
        for (k, v) in &p.broken {
            *self.broken.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &p.unexpected {
            *self.unexpected.entry(k.clone()).or_default() += v;
        }
        self.failures.extend(p.failures.iter().cloned());
        self.failures.sort_by_key(|f| f.seed);
        self.timeline_digests
            .extend(p.timeline_digests.iter().cloned());
        let other: Vec<u8> = (0..16)
            .map(|i| {
                u8::from_str_radix(p.outcome_digest.get(2 * i..2 * i + 2).unwrap_or("00"), 16)
                    .unwrap_or(0)
            })
            .collect();
        self.outcome_digest = xor_hex(&self.outcome_digest, &other);
        self.simulated_us += p.simulated_us;
        self.interrupted |= p.interrupted;
        for (k, v) in &p.fenced_outcomes {
            *self.fenced_outcomes.entry(k.clone()).or_default() += v;
        }
    }

    /// The text people read; the first lines match the campaign's.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let shard = self.shard.map_or(String::new(), |s| {
            format!(" (shard {}/{})", s.index, s.count)
        });
        let _ = writeln!(
            out,
            "campaign {}{shard}: {} runs, {} met their expectation, {} did not",
            self.scenario,
            self.runs,
            self.met,
            self.runs - self.met
        );
        for (name, n) in &self.broken {
            let _ = writeln!(out, "  {name} broke in {n}/{} runs", self.runs);
        }
        if !self.fenced_outcomes.is_empty() {
            let counts: Vec<String> = self
                .fenced_outcomes
                .iter()
                .map(|(k, n)| format!("{k} {n}/{}", self.runs))
                .collect();
            let _ = writeln!(
                out,
                "  switched off by a power device: {}",
                counts.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "  distinct fault timelines: {}",
            self.timeline_digests.len()
        );
        let _ = writeln!(out, "  outcome digest: {}", self.outcome_digest);
        if self.interrupted {
            let _ = writeln!(
                out,
                "  INTERRUPTED: partial summary, not every seed of {}..{} ran",
                self.seeds.start,
                self.seeds.end.saturating_sub(1)
            );
        }
        for f in &self.failures {
            let why = match &f.error {
                Some(e) => format!("error: {e}"),
                None => format!("unexpected: {}", f.surprises.join(", ")),
            };
            let _ = writeln!(out, "  seed {} {why}\n    {}", f.seed, f.replay);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, met: bool) -> RunOutcome {
        RunOutcome {
            seed,
            expectation_met: met,
            broken: if met { vec![] } else { vec!["liveness".into()] },
            surprises: if met { vec![] } else { vec!["liveness".into()] },
            trace_hash: format!("{seed:032x}"),
            simulated_seconds: 1.5,
            timeline_digest: format!("d{}", seed % 3),
            error: None,
            evidence: vec![],
            wall_seconds: 0.0,
            fenced: None,
        }
    }

    /// The fence race's question: in what fraction of seeds was each node
    /// (or both) switched off; shards merge their counts.
    #[test]
    fn fenced_outcomes_are_counted_per_set_of_machines_and_merge() {
        let fenced = |seed: u64, who: &[&str]| RunOutcome {
            fenced: Some(who.iter().map(|s| s.to_string()).collect()),
            ..run(seed, true)
        };
        let mut a = CampaignSummary::new("s", "s.toml", 1..5, Some(Shard { index: 1, count: 2 }));
        a.add(&fenced(1, &["beta"]));
        a.add(&fenced(3, &["alpha", "beta"]));
        let mut b = CampaignSummary::new("s", "s.toml", 1..5, Some(Shard { index: 2, count: 2 }));
        b.add(&fenced(2, &["beta"]));
        b.add(&fenced(4, &[]));
        let whole = CampaignSummary::merge(&[a, b]).unwrap();
        let counts: Vec<(&str, u64)> = whole
            .fenced_outcomes
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(counts, [("alpha + beta", 1), ("beta", 2), ("none", 1)]);
        assert!(whole
            .to_text()
            .contains("switched off by a power device: alpha + beta 1/4, beta 2/4, none 1/4"));
        // Without power devices nothing is counted or printed.
        let mut plain = CampaignSummary::new("s", "s.toml", 1..2, None);
        plain.add(&run(1, true));
        assert!(!plain.to_text().contains("switched off"));
    }

    #[test]
    fn shards_partition_the_range() {
        let range = 10..31;
        let mut all: Vec<u64> = (1..=4)
            .flat_map(|k| Shard { index: k, count: 4 }.seeds(range.clone()))
            .collect();
        all.sort();
        assert_eq!(all, range.collect::<Vec<_>>());
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
    }

    #[test]
    fn merged_shards_equal_the_whole() {
        let range = 1..41;
        let mut whole = CampaignSummary::new("s", "s.toml", range.clone(), None);
        for seed in range.clone() {
            whole.add(&run(seed, seed % 7 != 0));
        }
        let parts: Vec<CampaignSummary> = (1..=3)
            .map(|k| {
                let shard = Shard { index: k, count: 3 };
                let mut s = CampaignSummary::new("s", "s.toml", range.clone(), Some(shard));
                for seed in shard
                    .seeds(range.clone())
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    s.add(&run(seed, seed % 7 != 0));
                }
                s
            })
            .collect();
        assert_eq!(CampaignSummary::merge(&parts).unwrap(), whole);
        // A missing or repeated shard is refused.
        assert!(CampaignSummary::merge(&parts[..2]).is_err());
        let repeated = [parts[0].clone(), parts[0].clone(), parts[1].clone()];
        assert!(CampaignSummary::merge(&repeated).is_err());
        // A different run changes the digest.
        let mut other = parts.clone();
        other[0].add(&run(1000, true));
        assert_ne!(
            CampaignSummary::merge(&other).unwrap().outcome_digest,
            whole.outcome_digest
        );
    }
}
