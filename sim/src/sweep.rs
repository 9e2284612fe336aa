//! `hasim sweep`: for every grid point of timer values, run the disturbance
//! model over many seeds and measure failure detection (real failures),
//! false failovers (disturbances that should not fail over) and the time to
//! a stable ring after heal.
//!
//! Every grid point sees the same episodes for the same seed (common random
//! numbers): the timeline is drawn from the seed alone, with gaps long
//! enough for the slowest point to settle, so differences between points
//! come from the timers, not from luck.

use crate::faults::{Source, TimedFault};
use crate::scenario::{FaultAction, Scenario};
pub use crate::sweep_spec::SweepSpec;
use crate::sweep_spec::{Disturbance, DisturbanceKind};
use crate::world;
use hasim_node::corosync_daemon;
use hasim_reports::sweep::{DisturbanceRate, Stats, SweepPoint, SweepResult};
use hasim_reports::RunReport;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;
use std::time::Duration;

const SWEEP_STREAM: u64 = 0x7377_6565_7021_2121;

/// One grid point: axis values and the scenario they make.
pub struct Point {
    pub values: Vec<(String, String)>,
    pub scenario: Scenario,
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

/// Apply one axis value to a scenario.
fn apply(s: &mut Scenario, axis: &str, value: &str) -> Result<(), String> {
    if axis == "advert_int" {
        let d =
            humantime::parse_duration(value).map_err(|e| format!("advert_int `{value}`: {e}"))?;
        s.vrrp.iter_mut().for_each(|v| v.advert_int = d);
        return Ok(());
    }
    let v: u32 = value.parse().map_err(|_| format!("{axis} `{value}`"))?;
    let totem = &mut s
        .corosync_conf
        .as_mut()
        .ok_or(format!("{axis}: the base scenario runs no corosync"))?
        .conf
        .totem;
    match axis {
        "token" => totem.token = Some(v),
        "consensus" => totem.consensus = Some(v),
        "token_retransmits_before_loss_const" => {
            totem.token_retransmits_before_loss_const = Some(v)
        }
        "join" => totem.join = Some(v),
        _ => return Err(format!("unknown axis {axis}")),
    }
    Ok(())
}

/// The grid's axes in a fixed order, values as text.
fn axes(spec: &SweepSpec) -> Vec<(String, Vec<String>)> {
    let g = &spec.file.grid;
    let nums = |name: &str, v: &Option<toml::Spanned<Vec<u32>>>| {
        v.as_ref().map(|v| {
            (
                name.to_string(),
                v.get_ref().iter().map(u32::to_string).collect(),
            )
        })
    };
    [
        nums("token", &g.token),
        nums("consensus", &g.consensus),
        nums(
            "token_retransmits_before_loss_const",
            &g.token_retransmits_before_loss_const,
        ),
        nums("join", &g.join),
        g.advert_int
            .as_ref()
            .map(|v| ("advert_int".to_string(), v.get_ref().clone())),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every combination of axis values, first axis slowest.
pub fn points(spec: &SweepSpec) -> Result<Vec<Point>, String> {
    let mut out = vec![Point {
        values: vec![],
        scenario: spec.base.clone(),
    }];
    for (axis, values) in axes(spec) {
        let mut next = Vec::new();
        for p in &out {
            for v in &values {
                let mut scenario = p.scenario.clone();
                apply(&mut scenario, &axis, v).map_err(|e| format!("{}: grid: {e}", spec.path))?;
                let mut values = p.values.clone();
                values.push((axis.clone(), v.clone()));
                next.push(Point { values, scenario });
            }
        }
        out = next;
    }
    for p in &mut out {
        if let Some(loaded) = &p.scenario.corosync_conf {
            let t =
                corosync_daemon::totem_config(&loaded.conf).effective(loaded.conf.nodelist.len());
            t.validate().map_err(|e| {
                format!(
                    "{}: grid point {:?}: corosync would refuse it: {e}",
                    spec.path, p.values
                )
            })?;
        }
    }
    Ok(out)
}

/// The value the user's own file has on each axis, to find the baseline.
fn users_value(base: &Scenario, axis: &str) -> Option<String> {
    if axis == "advert_int" {
        return base
            .vrrp
            .first()
            .map(|v| humantime::format_duration(v.advert_int).to_string());
    }
    let t = &base.corosync_conf.as_ref()?.conf.totem;
    let d = corosync_daemon::totem_config(&base.corosync_conf.as_ref()?.conf).effective(2);
    match axis {
        "token" => Some(t.token.unwrap_or(d.token_ms)),
        "consensus" => t.consensus,
        "token_retransmits_before_loss_const" => Some(d.token_retransmits_before_loss_const),
        "join" => Some(d.join_ms),
        _ => None,
    }
    .map(|v| v.to_string())
}

/// Time for the slowest point to detect and settle: what separates episodes.
fn settle_gap(points: &[Point]) -> Duration {
    let worst = points
        .iter()
        .map(|p| detection_formula(&p.scenario).map_or(Duration::from_secs(5), |f| f.2))
        .max();
    worst.unwrap_or(Duration::from_secs(5)) * 3 + Duration::from_secs(5)
}

/// (formula, window low, window high) for detecting a dead node, from the
/// protocol's timers: corosync token + consensus (the token was last seen up
/// to one hold before the failure); VRRP master_down_interval (the last
/// advert up to one advert_int before).
pub fn detection_formula(s: &Scenario) -> Option<(Duration, Duration, Duration)> {
    if let Some(loaded) = &s.corosync_conf {
        let t = corosync_daemon::totem_config(&loaded.conf).effective(loaded.conf.nodelist.len());
        let f = ms(t.token_ms + t.consensus_ms);
        return Some((f, f.saturating_sub(ms(t.hold_ms + 50)), f + ms(200)));
    }
    let mut prios: Vec<&crate::scenario::VrrpInstance> = s.vrrp.iter().collect();
    prios.sort_by_key(|v| std::cmp::Reverse(v.priority));
    let backup = prios.get(1)?;
    let adv = backup.advert_int;
    let f = adv * 3 + adv * (256 - u32::from(backup.priority)) / 256;
    Some((f, f.saturating_sub(adv + ms(50)), f + ms(200)))
}

/// One episode of the model in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// Index into the sweep's `[[disturbance]]` list.
    pub kind: usize,
    pub begin: Duration,
    pub end: Duration,
    pub node: String,
}

/// The node episodes hit: any corosync node; for VRRP alone, the master
/// (the highest priority), whose loss or freeze is what fails over.
fn targets(s: &Scenario) -> Vec<String> {
    if s.corosync_conf.is_some() {
        return s.nodes.iter().map(|n| n.name.get_ref().clone()).collect();
    }
    s.vrrp
        .iter()
        .max_by_key(|v| v.priority)
        .map(|v| vec![v.node.get_ref().clone()])
        .unwrap_or_default()
}

fn boot_delay(s: &Scenario, node: &str) -> Duration {
    s.nodes
        .iter()
        .find(|n| n.name.get_ref() == node)
        .map_or(Duration::ZERO, |n| n.boot_delay)
}

fn uniform(rng: &mut ChaCha8Rng, lo: Duration, hi: Duration) -> Duration {
    let (a, b) = (lo.as_micros() as u64, hi.as_micros() as u64);
    Duration::from_micros(if b > a { rng.gen_range(a..=b) } else { a })
}

/// The episodes of one seed, and the run length they need.
pub fn episodes(spec: &SweepSpec, seed: u64, gap: Duration) -> (Vec<Episode>, Duration) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SWEEP_STREAM);
    let mut kinds: Vec<usize> = Vec::new();
    for (i, d) in spec.file.disturbances.iter().enumerate() {
        kinds.extend(std::iter::repeat_n(i, d.get_ref().count as usize));
    }
    kinds.shuffle(&mut rng);
    let nodes = targets(&spec.base);
    let mut t = spec.file.warmup + uniform(&mut rng, Duration::ZERO, Duration::from_secs(1));
    let mut out = Vec::new();
    for kind in kinds {
        let d: &Disturbance = spec.file.disturbances[kind].get_ref();
        let length = uniform(&mut rng, d.length.min, d.length.max).max(Duration::from_millis(1));
        let node = nodes.choose(&mut rng).cloned().unwrap_or_default();
        let end = t + length;
        let recovery = if d.kind.is_real_failure() {
            boot_delay(&spec.base, &node)
        } else {
            Duration::ZERO
        };
        out.push(Episode {
            kind,
            begin: t,
            end,
            node,
        });
        t = end + recovery + gap;
    }
    (out, t)
}

/// The two faults of an episode: the disturbance and its end.
fn episode_faults(s: &Scenario, d: &Disturbance, e: &Episode) -> [TimedFault; 2] {
    let base = s.segments.first().map(|g| g.link).unwrap_or_default();
    let link = |loss: Option<f64>, latency: Option<Duration>| FaultAction::Link {
        segment: None,
        from: None,
        to: None,
        loss,
        latency,
        jitter: None,
        duplicate: None,
        reorder: None,
    };
    let node = e.node.clone();
    let (begin, undo) = match d.kind {
        DisturbanceKind::Pause => (
            FaultAction::Pause { node: node.clone() },
            FaultAction::Resume { node },
        ),
        DisturbanceKind::PowerFailure => (
            FaultAction::PowerOff { node: node.clone() },
            FaultAction::PowerOn { node },
        ),
        DisturbanceKind::LossBurst => (link(d.loss, None), link(Some(base.loss), None)),
        DisturbanceKind::LatencySpike => (link(None, d.latency), link(None, Some(base.latency))),
    };
    let fault = |at, action| TimedFault {
        at,
        action,
        source: Source::Script,
    };
    [fault(e.begin, begin), fault(e.end, undo)]
}

/// The scenario of one point for one seed's episodes.
pub fn run_scenario(
    spec: &SweepSpec,
    point: &Scenario,
    eps: &[Episode],
    length: Duration,
) -> Scenario {
    let timeline: Vec<TimedFault> = eps
        .iter()
        .flat_map(|e| episode_faults(point, spec.file.disturbances[e.kind].get_ref(), e))
        .collect();
    let units = crate::shrink::units(&timeline);
    let mut s = crate::shrink::scripted(point, &units);
    s.duration = length;
    s.expect.check.clear();
    s.expect.broken.clear();
    s.expect.may_break.clear();
    s
}

/// What one run showed.
#[derive(Debug, Default)]
struct RunMetrics {
    detection: Vec<f64>,
    in_window: u64,
    undetected: u64,
    /// (disturbance index, failed over, ring re-formed) per non-failure episode.
    disturbed: Vec<(usize, bool, bool)>,
    stable: Vec<f64>,
}

/// Per episode: seconds to the first failover after its start, and seconds
/// from its end to the last change before the next episode.
type EpisodeTiming = (Option<f64>, Option<f64>);

/// Corosync: the first new membership after the fault, or after its end
/// (a paused node's ring forms a new membership only after the token
/// timeout, which may fall after the resume).
/// Only a membership without some node counts: a ring re-formed with every
/// member (the paused node answered the join in time) fails nothing over.
fn corosync_timing(report: &RunReport, i: usize, e: &Episode, ring: usize) -> EpisodeTiming {
    let begin = report.fault_impacts.get(2 * i);
    let end = report.fault_impacts.get(2 * i + 1);
    let length = (e.end - e.begin).as_secs_f64();
    let lost = |m: &&(String, Vec<u32>, f64)| m.1.len() < ring;
    let first = begin
        .and_then(|b| b.first_membership.as_ref().filter(lost).map(|m| m.2))
        .or_else(|| {
            end.and_then(|x| {
                x.first_membership
                    .as_ref()
                    .filter(lost)
                    .map(|m| m.2 + length)
            })
        });
    (first, end.and_then(|x| x.settled))
}

/// VRRP alone: the first takeover by another node, and the last state change.
fn vrrp_timing(report: &RunReport, e: &Episode, until: f64) -> EpisodeTiming {
    let (b, end) = (e.begin.as_secs_f64(), e.end.as_secs_f64());
    let all = report
        .vrrp
        .iter()
        .flat_map(|h| h.transitions.iter().map(move |t| (h, t)));
    let first = all
        .clone()
        .filter(|(h, t)| h.node != e.node && t.to == "MASTER" && t.at >= b && t.at < until)
        .map(|(_, t)| t.at - b)
        .reduce(f64::min);
    let last = all
        .filter(|(_, t)| t.at >= end && t.at < until)
        .map(|(_, t)| t.at - end)
        .reduce(f64::max);
    (first, last)
}

fn measure(spec: &SweepSpec, point: &Scenario, report: &RunReport, eps: &[Episode]) -> RunMetrics {
    let window = detection_formula(point);
    let corosync = point.corosync_conf.is_some();
    let mut m = RunMetrics::default();
    for (i, e) in eps.iter().enumerate() {
        let d = spec.file.disturbances[e.kind].get_ref();
        let until = eps
            .get(i + 1)
            .map_or(report.simulated_seconds, |n| n.begin.as_secs_f64());
        let (first, settled) = if corosync {
            let ring = point
                .corosync_conf
                .as_ref()
                .map_or(0, |c| c.conf.nodelist.len());
            corosync_timing(report, i, e, ring)
        } else {
            vrrp_timing(report, e, until)
        };
        if d.kind.is_real_failure() {
            match first {
                Some(dt) => {
                    m.detection.push(dt);
                    let inside = window.is_some_and(|(_, lo, hi)| {
                        dt >= lo.as_secs_f64() && dt <= hi.as_secs_f64()
                    });
                    m.in_window += u64::from(inside);
                }
                None => m.undetected += 1,
            }
            // Power-on: the daemons start after the boot delay.
            let boot = boot_delay(point, &e.node).as_secs_f64();
            if let Some(s) = settled.filter(|s| *s >= boot) {
                m.stable.push(s - boot);
            }
        } else {
            let reformed = if corosync {
                (2 * i..2 * i + 2).any(|j| {
                    report
                        .fault_impacts
                        .get(j)
                        .is_some_and(|f| f.first_membership.is_some())
                })
            } else {
                first.is_some()
            };
            m.disturbed.push((e.kind, first.is_some(), reformed));
            if first.is_some() {
                m.stable.extend(settled);
            }
        }
    }
    m
}

/// The timers of a point in corosync's arithmetic (or VRRP's), for people.
pub fn timers_text(s: &Scenario) -> String {
    if let Some(loaded) = &s.corosync_conf {
        let cfg = corosync_daemon::totem_config(&loaded.conf);
        let n = loaded.conf.nodelist.len();
        let t = cfg.effective(n);
        let raw = cfg.effective(2).token_ms;
        let scaled = if n > 2 {
            format!(
                " = {raw} + ({n} - 2) x token_coefficient {}",
                (t.token_ms - raw) / (n as u32 - 2)
            )
        } else {
            String::new()
        };
        let consensus = if cfg.consensus.is_some() {
            "set"
        } else {
            "1.2 x token"
        };
        return format!(
            "token {} ms{scaled}; consensus {} ms ({consensus}); token_retransmit {} ms = token / ({} + 0.2); hold {} ms; detection = token + consensus = {:.3} s",
            t.token_ms,
            t.consensus_ms,
            t.token_retransmit_ms,
            t.token_retransmits_before_loss_const,
            t.hold_ms,
            f64::from(t.token_ms + t.consensus_ms) / 1000.0
        );
    }
    match detection_formula(s) {
        Some((f, _, _)) => format!(
            "master_down_interval = 3 x advert_int + (256 - priority) x advert_int / 256 = {:.3} s",
            f.as_secs_f64()
        ),
        None => String::new(),
    }
}

fn assemble(spec: &SweepSpec, point: &Point, runs: &[RunMetrics]) -> SweepPoint {
    let window = detection_formula(&point.scenario);
    let disturbances = spec
        .file
        .disturbances
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.get_ref().kind.is_real_failure())
        .map(|(i, d)| {
            let d = d.get_ref();
            let seen = runs
                .iter()
                .flat_map(|r| r.disturbed.iter())
                .filter(|(k, _, _)| *k == i);
            let kind = d.kind.name();
            let (lo, hi) = (d.length.min, d.length.max);
            let length = if lo == hi {
                humantime::format_duration(lo).to_string()
            } else {
                format!(
                    "{}-{}",
                    humantime::format_duration(lo),
                    humantime::format_duration(hi)
                )
            };
            DisturbanceRate {
                label: format!("{kind} {length}"),
                episodes: seen.clone().count() as u64,
                failovers: seen.clone().filter(|(_, f, _)| *f).count() as u64,
                reformed: seen.filter(|(_, _, r)| *r).count() as u64,
                per_hour: d.per_hour,
            }
        })
        .collect();
    SweepPoint {
        values: point.values.clone(),
        timers: timers_text(&point.scenario),
        formula: window.map(|(f, lo, hi)| (f.as_secs_f64(), lo.as_secs_f64(), hi.as_secs_f64())),
        detection: Stats::of(
            runs.iter()
                .flat_map(|r| r.detection.iter().copied())
                .collect(),
        ),
        in_window: runs.iter().map(|r| r.in_window).sum(),
        undetected: runs.iter().map(|r| r.undetected).sum(),
        disturbances,
        stable_after_heal: Stats::of(runs.iter().flat_map(|r| r.stable.iter().copied()).collect()),
    }
}

/// One run of one point; an error names the point and seed.
fn one_run(
    spec: &SweepSpec,
    point: &Point,
    seed: u64,
    eps: &[Episode],
    length: Duration,
) -> Result<RunMetrics, String> {
    let scenario = run_scenario(spec, &point.scenario, eps, length);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        world::run(&scenario, seed, None)
    }))
    .map_err(|_| "the run panicked".to_string())
    .and_then(|r| r)
    .map_err(|e| format!("{:?} seed {seed}: {e}", point.values))?;
    Ok(measure(spec, &point.scenario, &run.report, eps))
}

/// Run the sweep: every point × seeds 1..=seeds, on `threads` threads.
pub fn run(
    spec: &SweepSpec,
    seeds: u64,
    threads: usize,
    progress: bool,
) -> Result<SweepResult, String> {
    let wall = std::time::Instant::now();
    let pts = points(spec)?;
    let gap = settle_gap(&pts);
    let plans: Vec<(Vec<Episode>, Duration)> =
        (1..=seeds).map(|s| episodes(spec, s, gap)).collect();
    let total = pts.len() * plans.len();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Mutex<Vec<Vec<RunMetrics>>> =
        Mutex::new((0..pts.len()).map(|_| Vec::new()).collect());
    let errors = Mutex::new(Vec::new());
    let bar = if progress {
        indicatif::ProgressBar::new(total as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let threads = threads.max(1).min(total.max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let job = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if job >= total {
                    break;
                }
                let (p, s) = (job / plans.len(), job % plans.len());
                let (eps, length) = &plans[s];
                match one_run(spec, &pts[p], s as u64 + 1, eps, *length) {
                    Ok(m) => results.lock().unwrap_or_else(|e| e.into_inner())[p].push(m),
                    Err(e) => errors.lock().unwrap_or_else(|e| e.into_inner()).push(e),
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    errors.sort();
    let baseline = pts.iter().position(|p| {
        p.values
            .iter()
            .all(|(axis, v)| users_value(&spec.base, axis).as_deref() == Some(v.as_str()))
    });
    Ok(SweepResult {
        name: spec.file.name.clone(),
        seeds,
        baseline,
        points: pts
            .iter()
            .zip(&results)
            .map(|(p, r)| assemble(spec, p, r))
            .collect(),
        errors,
        runs: total as u64,
        wall_seconds: wall.elapsed().as_secs_f64(),
        threads,
    })
}
