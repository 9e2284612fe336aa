//! `hasim shrink`: turn a failing seed into the smallest fault timeline that
//! still fails the same way, so a bug report is readable.
//!
//! The run's timeline (scripted faults with their seeded jitter, plus what
//! the nemesis drew) becomes a scripted one; then, keeping the seed, faults
//! are removed (a fault together with what undoes it), shortened, and
//! partition groups made smaller, keeping each change only while the same
//! invariant still behaves unexpectedly in the same direction. Every step is
//! a function of (scenario, seed), so shrinking is deterministic.

use crate::faults::{self, TimedFault};
use crate::scenario::{Fault, FaultAction, Scenario};
use crate::world;
use std::time::Duration;
use toml::Spanned;

/// How a run failed: which invariant, and whether it broke or held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureMode {
    pub checker: String,
    pub held: bool,
}

/// A fault and the fault that undoes it (a heal, resume, power-on, or the
/// link change restoring the same link), removed and shortened together.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub begin: TimedFault,
    pub undo: Option<TimedFault>,
}

/// What shrinking found.
pub struct Shrunk {
    pub mode: FailureMode,
    pub original_faults: usize,
    pub units: Vec<Unit>,
    /// The shrunk scenario (nemesis removed, faults scripted).
    pub scenario: Scenario,
    /// Runs carried out.
    pub runs: usize,
}

impl Shrunk {
    pub fn faults(&self) -> Vec<TimedFault> {
        flatten(&self.units)
    }
}

fn undoes(undo: &FaultAction, begin: &FaultAction) -> bool {
    use FaultAction as F;
    match (begin, undo) {
        (F::Partition { .. }, F::Heal) => true,
        (
            F::DeviceFault { device: a, .. },
            F::DeviceFault {
                device: b,
                fault: hasim_powerdev::DeviceFault::Healthy,
            },
        ) => a == b,
        (F::Pause { node: a }, F::Resume { node: b })
        | (F::PowerOff { node: a }, F::PowerOn { node: b }) => a == b,
        (
            F::Link {
                segment: s1,
                from: f1,
                to: t1,
                ..
            },
            F::Link {
                segment: s2,
                from: f2,
                to: t2,
                ..
            },
        ) => (s1, f1, t1) == (s2, f2, t2),
        _ => false,
    }
}

/// Pair each fault with the later fault that undoes it.
pub fn units(timeline: &[TimedFault]) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    for fault in timeline {
        let open = out
            .iter_mut()
            .rev()
            .find(|u| u.undo.is_none() && undoes(&fault.action, &u.begin.action));
        match open {
            Some(unit) => unit.undo = Some(fault.clone()),
            None => out.push(Unit {
                begin: fault.clone(),
                undo: None,
            }),
        }
    }
    out
}

fn flatten(units: &[Unit]) -> Vec<TimedFault> {
    let mut all: Vec<TimedFault> = units
        .iter()
        .flat_map(|u| std::iter::once(u.begin.clone()).chain(u.undo.clone()))
        .collect();
    all.sort_by_key(|f| f.at);
    all
}

/// The scenario with `units` as its only (scripted, unjittered) faults.
pub fn scripted(scenario: &Scenario, units: &[Unit]) -> Scenario {
    let mut s = scenario.clone();
    s.nemesis = None;
    s.faults = flatten(units)
        .into_iter()
        .map(|f| {
            Spanned::new(
                0..0,
                Fault {
                    at: f.at,
                    jitter: None,
                    action: f.action,
                },
            )
        })
        .collect();
    s
}

/// Run once; the failure mode of the first unexpected verdict, if any.
pub fn failure_mode(scenario: &Scenario, seed: u64) -> Result<Option<FailureMode>, String> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        world::run(scenario, seed, None)
    }))
    .map_err(|_| format!("seed {seed}: the run panicked"))??;
    Ok(run.report.surprises().first().map(|v| FailureMode {
        checker: v.checker.clone(),
        held: v.held,
    }))
}

/// The search state: the seed, the mode to keep, and a run counter.
struct Search<'a> {
    scenario: &'a Scenario,
    seed: u64,
    mode: FailureMode,
    runs: usize,
    progress: &'a mut dyn FnMut(&str),
}

impl Search<'_> {
    /// Does this candidate fail the same way? A candidate that fails
    /// differently, or cannot run, is rejected.
    fn fails(&mut self, units: &[Unit]) -> bool {
        self.runs += 1;
        let candidate = scripted(self.scenario, units);
        let mut keeps = false;
        if let Ok(run) = world::run(&candidate, self.seed, None) {
            keeps = run
                .report
                .surprises()
                .iter()
                .any(|v| v.checker == self.mode.checker && v.held == self.mode.held);
        }
        keeps
    }

    fn say(&mut self, what: &str, units: &[Unit]) {
        let line = format!(
            "shrink: run {:>3}: {what}: {} faults",
            self.runs,
            flatten(units).len()
        );
        (self.progress)(&line);
    }

    /// Remove chunks of units, halving the chunk size (ddmin's complement step).
    fn remove(&mut self, mut units: Vec<Unit>) -> Vec<Unit> {
        let mut chunk = units.len().div_ceil(2).max(1);
        loop {
            let mut i = 0;
            let mut removed = false;
            while i < units.len() && units.len() > 1 {
                let mut candidate = units.clone();
                candidate.drain(i..(i + chunk).min(units.len()));
                if self.fails(&candidate) {
                    units = candidate;
                    removed = true;
                    self.say("removed", &units);
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 && !removed {
                return units;
            }
            if !removed {
                chunk = chunk.div_ceil(2).max(1);
            }
        }
    }

    /// Halve each fault's length while it still fails.
    fn shorten(&mut self, mut units: Vec<Unit>) -> Vec<Unit> {
        for i in 0..units.len() {
            while let Some(undo) = &units[i].undo {
                let length = undo.at.saturating_sub(units[i].begin.at);
                if length < Duration::from_millis(200) {
                    break;
                }
                let mut candidate = units.clone();
                let begin = candidate[i].begin.at;
                if let Some(u) = &mut candidate[i].undo {
                    u.at = begin + length / 2;
                }
                if !self.fails(&candidate) {
                    break;
                }
                units = candidate;
                self.say("shortened", &units);
            }
        }
        units
    }

    /// Drop hosts from partition groups (each group keeps one host).
    fn smaller_groups(&mut self, mut units: Vec<Unit>) -> Vec<Unit> {
        for i in 0..units.len() {
            let mut g = 0;
            let mut h = 0;
            while let FaultAction::Partition { groups, .. } = &units[i].begin.action {
                let Some(group) = groups.get(g) else { break };
                if h >= group.len() {
                    (g, h) = (g + 1, 0);
                    continue;
                }
                if group.len() == 1 {
                    h += 1;
                    continue;
                }
                let mut candidate = units.clone();
                if let FaultAction::Partition { groups, .. } = &mut candidate[i].begin.action {
                    groups[g].remove(h);
                }
                if self.fails(&candidate) {
                    units = candidate;
                    self.say("smaller group", &units);
                } else {
                    h += 1;
                }
            }
        }
        units
    }
}

/// Shrink `seed` of `scenario`. Errors when the seed meets its expectation
/// (nothing to shrink) or when the scripted timeline no longer fails.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<Shrunk, String> {
    let Some(mode) = failure_mode(scenario, seed)? else {
        return Err(format!(
            "seed {seed} of {} meets its expectation: nothing to shrink",
            scenario.name
        ));
    };
    let timeline = faults::timeline(scenario, seed);
    let original = units(&timeline);
    let mut search = Search {
        scenario,
        seed,
        mode: mode.clone(),
        runs: 1,
        progress,
    };
    let state = if mode.held { "held" } else { "broke" };
    let line = format!(
        "shrink: seed {seed}: {} {state} unexpectedly; {} faults",
        mode.checker,
        timeline.len()
    );
    (search.progress)(&line);
    if !search.fails(&original) {
        return Err(format!(
            "seed {seed}: the timeline as scripted faults no longer breaks {} the same way",
            mode.checker
        ));
    }
    let mut units = search.remove(original);
    units = search.shorten(units);
    units = search.smaller_groups(units);
    units = search.remove(units);
    Ok(Shrunk {
        scenario: scripted(scenario, &units),
        mode,
        original_faults: timeline.len(),
        units,
        runs: search.runs,
    })
}
