//! hasim's Pacemaker scheduler against real `crm_simulate` 2.1.5, side by side.
//!
//! Criterion groups:
//! * `corpus`: one pass over Pacemaker's 798 regression inputs, parse +
//!   schedule, and schedule only (pre-parsed CIBs), to separate the costs;
//! * `large-cluster`: 32 nodes, 2,000 primitives (groups, clones,
//!   promotable clones, constraints, failures);
//! * `remote-nodes`: 16 cluster nodes, 1,000 Pacemaker Remote nodes, a clone;
//!   `remote-nodes-3`: the same with 3 cluster nodes.
//!
//! Afterwards the same inputs go through real crm_simulate (if installed) and
//! a ratio table is printed. crm_simulate's pure scheduling time comes from
//! `crm_simulate -P DIR -N n` (parse once, schedule n times): the difference
//! between `-N 1+k` and `-N 1` divided by k is k scheduling passes without
//! process start, XML parsing or schema validation. `-x FILE -R` timings are
//! whole processes (start, parse, schedule, printing); `-S` would add the
//! simulated execution of every action, which takes minutes on the large
//! cluster, so it is opt-in: `HASIM_BENCH_CRM_MODE=S cargo bench ...`.
//! hasim's counterpart is `simulate::render` (parse, schedule, print).
//!
//! The summary agreement (hasim's Transition Summary against crm_simulate's,
//! whitespace-collapsed, as a multiset) is printed for both generated
//! clusters.
//!
//! Cases hasim cannot parse or that make it panic are left out of every
//! timing (hasim's and crm_simulate's alike) and counted in the report.

use std::hint::black_box;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use hasim_benches::{by_action, multiset_agreement, normalize, transition_summary, LargeCluster};
use hasim_scheduler::hasim_cib::Cib;

/// `hasim schedule` and the controller run on mimalloc (the hasim binary's
/// global allocator, sim/src/main.rs); the scheduler is measured on it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/scheduler-corpus/xml"
);

/// Extra scheduling passes crm_simulate makes on top of the `-N 1` baseline.
const CRM_EXTRA_PASSES: u32 = 3;

/// A `crm_simulate -P -N 1` run slower than this is not repeated.
const SLOW_PROFILE: Duration = Duration::from_secs(10);

/// A single hasim run slower than this is timed by hand (a few runs) rather
/// than by criterion, whose minimum of 10 samples would blow the time budget.
const CRITERION_LIMIT: Duration = Duration::from_secs(3);

/// Wall and CPU time of one measured thing.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

impl Cost {
    fn per(self, n: u32) -> Cost {
        Cost {
            wall: self.wall / n.max(1),
            cpu: self.cpu / n.max(1),
        }
    }
    fn minus(self, other: Cost) -> Cost {
        Cost {
            wall: self.wall.saturating_sub(other.wall),
            cpu: self.cpu.saturating_sub(other.cpu),
        }
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// CPU time (user + system) of all waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

/// CPU time of the calling thread (hasim schedules on one thread).
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime only writes into the zeroed struct we pass.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Median cost of `runs` runs of `f` in this thread.
fn time_hasim(runs: u32, mut f: impl FnMut()) -> Cost {
    let mut samples = Vec::new();
    for _ in 0..runs.max(1) {
        let (w, c) = (Instant::now(), thread_cpu());
        f();
        samples.push(Cost {
            wall: w.elapsed(),
            cpu: thread_cpu() - c,
        });
    }
    median(samples)
}

fn median(mut samples: Vec<Cost>) -> Cost {
    samples.sort_by_key(|c| c.wall);
    samples[samples.len() / 2]
}

/// Run `f`, catching panics without printing them.
fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(f)).ok();
    std::panic::set_hook(hook);
    result
}

struct Case {
    name: String,
    path: PathBuf,
    xml: String,
    cib: Cib,
}

/// The corpus cases hasim parses and schedules without panicking.
struct Corpus {
    cases: Vec<Case>,
    total: usize,
    parse_errors: Vec<String>,
    panics: Vec<String>,
}

fn load_corpus() -> Corpus {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "xml"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    let mut corpus = Corpus {
        cases: Vec::new(),
        total: paths.len(),
        parse_errors: Vec::new(),
        panics: Vec::new(),
    };
    for path in paths {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(xml) = std::fs::read_to_string(&path) else {
            corpus.parse_errors.push(name);
            continue;
        };
        match quietly(|| Cib::from_xml(&xml).map(|cib| (hasim_scheduler::schedule(&cib), cib))) {
            None => corpus.panics.push(name),
            Some(Err(_)) => corpus.parse_errors.push(name),
            Some(Ok((_, cib))) => corpus.cases.push(Case {
                name,
                path,
                xml,
                cib,
            }),
        }
    }
    corpus
}

/// One generated cluster, written to disk for crm_simulate.
struct Generated {
    label: &'static str,
    path: PathBuf,
    xml: String,
    cib: Option<Cib>,
    /// hasim's single run took too long for criterion's sampling.
    slow: bool,
}

fn generate(label: &'static str, xml: String, dir: &Path) -> Generated {
    let path = dir.join(label).join(format!("{label}.xml"));
    let written = std::fs::create_dir_all(path.parent().unwrap_or(dir))
        .and_then(|()| std::fs::write(&path, &xml));
    if let Err(e) = written {
        eprintln!("cannot write {}: {e}", path.display());
    }
    let start = Instant::now();
    let run = quietly(|| Cib::from_xml(&xml).map(|cib| (hasim_scheduler::schedule(&cib), cib)));
    let elapsed = start.elapsed();
    let cib = match run {
        Some(Ok((_, cib))) => Some(cib),
        Some(Err(e)) => {
            eprintln!("{label}: hasim cannot parse the generated CIB: {e}");
            None
        }
        None => {
            eprintln!("{label}: hasim's scheduler panicked");
            None
        }
    };
    eprintln!(
        "{label}: {} bytes of XML, first hasim parse+schedule {:.3} s",
        xml.len(),
        elapsed.as_secs_f64()
    );
    Generated {
        label,
        path,
        xml,
        cib,
        slow: elapsed > CRITERION_LIMIT,
    }
}

fn parse_and_schedule_all(cases: &[Case]) {
    for case in cases {
        if let Ok(cib) = Cib::from_xml(&case.xml) {
            black_box(hasim_scheduler::schedule(&cib));
        }
    }
}

fn schedule_all(cases: &[Case]) {
    for case in cases {
        black_box(hasim_scheduler::schedule(&case.cib));
    }
}

fn bench_corpus(c: &mut Criterion, corpus: &Corpus) {
    if corpus.cases.is_empty() {
        eprintln!("corpus: no schedulable cases under {CORPUS}; skipped");
        return;
    }
    let mut group = c.benchmark_group("corpus");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("parse+schedule", |b| {
        b.iter(|| parse_and_schedule_all(&corpus.cases))
    });
    group.bench_function("schedule-preparsed", |b| {
        b.iter(|| schedule_all(&corpus.cases))
    });
    group.bench_function("parse-only", |b| {
        b.iter(|| {
            for case in &corpus.cases {
                black_box(Cib::from_xml(&case.xml).ok());
            }
        })
    });
    group.finish();
}

fn bench_generated(c: &mut Criterion, g: &Generated) {
    let Some(cib) = &g.cib else {
        eprintln!(
            "{}: hasim cannot schedule it; criterion group skipped",
            g.label
        );
        return;
    };
    if g.slow {
        eprintln!(
            "{}: one hasim run exceeds {:?}; timed by hand in the summary instead of criterion",
            g.label, CRITERION_LIMIT
        );
        return;
    }
    let mut group = c.benchmark_group(g.label);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("parse+schedule", |b| {
        b.iter(|| {
            if let Ok(cib) = Cib::from_xml(&g.xml) {
                black_box(hasim_scheduler::schedule(&cib));
            }
        })
    });
    group.bench_function("schedule-preparsed", |b| {
        b.iter(|| black_box(hasim_scheduler::schedule(cib)))
    });
    group.finish();
}

/// The crm_simulate binary, if installed.
fn crm_simulate() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from("/usr/sbin/crm_simulate"),
        PathBuf::from("crm_simulate"),
    ];
    candidates.into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Run crm_simulate once; wall and CPU cost and its combined output.
fn run_crm(bin: &Path, args: &[&str]) -> Option<(Cost, String, bool)> {
    let cpu = children_cpu();
    let start = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .ok()?;
    let cost = Cost {
        wall: start.elapsed(),
        cpu: children_cpu() - cpu,
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Some((cost, text, out.status.success()))
}

/// crm_simulate's own per-file timings ("Testing FILE ... 0.12 secs", CPU
/// clock from after parsing to the end of the repeats), summed.
fn printed_timings(output: &str) -> Duration {
    output
        .lines()
        .filter(|l| l.contains("Testing "))
        .filter_map(|l| {
            l.trim_end()
                .strip_suffix(" secs")?
                .rsplit(' ')
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map(Duration::from_secs_f64)
        .sum()
}

/// Pure scheduling cost per pass over the `*.xml` files of `dir`, and how
/// it was obtained. Normally `-N 1+k` minus `-N 1`, over k. When a single
/// pass is so slow that repeating it would blow the time budget, the `-N 1`
/// run alone is used: its printed CPU time (which also covers one schema
/// validation) and its wall time less the process start.
fn crm_profile_pass(bin: &Path, dir: &Path, start: Cost) -> Option<(Cost, &'static str)> {
    let dir = dir.to_str()?;
    let (base, text, _) = run_crm(bin, &["-P", dir, "-N", "1"])?;
    if base.wall > SLOW_PROFILE {
        let cost = Cost {
            wall: base.wall.saturating_sub(start.wall),
            cpu: printed_timings(&text),
        };
        return Some((cost, "crm -P -N 1 (incl. validation)"));
    }
    let n = (1 + CRM_EXTRA_PASSES).to_string();
    let (more, _, _) = run_crm(bin, &["-P", dir, "-N", &n])?;
    Some((more.minus(base).per(CRM_EXTRA_PASSES), "crm -P pass"))
}

fn secs(d: Duration) -> String {
    if d < Duration::from_millis(10) {
        format!("{:.3} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        "n/a".into()
    } else {
        format!("{:.3}", a.as_secs_f64() / b.as_secs_f64())
    }
}

struct Row {
    what: String,
    hasim: Cost,
    crm: Cost,
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<66} {:>11} {:>11} {:>8} | {:>11} {:>11} {:>8}",
        "measurement (hasim vs crm_simulate)",
        "hasim wall",
        "crm wall",
        "ratio",
        "hasim cpu",
        "crm cpu",
        "ratio"
    );
    for r in rows {
        println!(
            "{:<66} {:>11} {:>11} {:>8} | {:>11} {:>11} {:>8}",
            r.what,
            secs(r.hasim.wall),
            secs(r.crm.wall),
            ratio(r.hasim.wall, r.crm.wall),
            secs(r.hasim.cpu),
            secs(r.crm.cpu),
            ratio(r.hasim.cpu, r.crm.cpu)
        );
    }
}

/// Link the schedulable corpus cases into `dir` so crm_simulate -P times
/// exactly the cases hasim was timed on.
fn corpus_subset(corpus: &Corpus, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for case in &corpus.cases {
        let link = dir.join(format!("{}.xml", case.name));
        if !link.exists() {
            std::os::unix::fs::symlink(&case.path, link)?;
        }
    }
    Ok(())
}

fn compare(corpus: &Corpus, generated: &[Generated], work: &Path) {
    println!("\n=== hasim scheduler vs crm_simulate 2.1.5 ===");
    println!(
        "corpus: {} cases, {} scheduled by hasim, {} parse errors, {} panics{}",
        corpus.total,
        corpus.cases.len(),
        corpus.parse_errors.len(),
        corpus.panics.len(),
        if corpus.panics.is_empty() {
            String::new()
        } else {
            format!(" ({})", corpus.panics.join(", "))
        }
    );
    let Some(bin) = crm_simulate() else {
        println!(
            "crm_simulate not found (apt-get install -y pacemaker-cli-utils): comparison skipped"
        );
        return;
    };
    let mut rows = Vec::new();
    // -S also simulates executing every action, rewriting the whole status
    // per action: on the large cluster that takes minutes, far beyond this
    // bench's budget, so whole-process runs use -R (same Transition Summary,
    // no simulated execution) unless HASIM_BENCH_CRM_MODE=S asks for -S.
    let mode = match std::env::var("HASIM_BENCH_CRM_MODE").as_deref() {
        Ok("S") => "-S",
        _ => "-R",
    };

    // Process start: a one-node cluster with only a fencing device.
    let tiny = LargeCluster {
        nodes: 1,
        groups: 0,
        group_size: 0,
        clones: 0,
        clone_max: 1,
        promotable: 0,
        standalone: 0,
    };
    let tiny_path = work.join("tiny.xml");
    let mut start_cost = Cost::default();
    if std::fs::write(&tiny_path, tiny.to_xml()).is_ok() {
        let path = tiny_path.to_string_lossy().into_owned();
        let samples: Vec<Cost> = (0..5)
            .filter_map(|_| run_crm(&bin, &["-x", &path, "-S"]).map(|r| r.0))
            .collect();
        if !samples.is_empty() {
            start_cost = median(samples);
        }
    }
    println!(
        "crm_simulate process start (one-node CIB, -S): {} wall, {} cpu",
        secs(start_cost.wall),
        secs(start_cost.cpu)
    );

    if !corpus.cases.is_empty() {
        let dir = work.join("corpus");
        let n = corpus.cases.len();
        let parse_sched = time_hasim(3, || parse_and_schedule_all(&corpus.cases));
        let sched = time_hasim(3, || schedule_all(&corpus.cases));
        match corpus_subset(corpus, &dir)
            .ok()
            .and_then(|()| crm_profile_pass(&bin, &dir, start_cost))
        {
            Some((crm, how)) => {
                rows.push(Row {
                    what: format!("corpus ({n} cases): hasim parse+schedule vs {how}"),
                    hasim: parse_sched,
                    crm,
                });
                rows.push(Row {
                    what: format!("corpus ({n} cases): hasim schedule-only vs {how}"),
                    hasim: sched,
                    crm,
                });
            }
            None => println!("crm_simulate -P on the corpus failed"),
        }
    }

    for g in generated {
        let path = g.path.to_string_lossy().into_owned();
        let Some((first, output, ok)) = run_crm(&bin, &["-x", &path, mode]) else {
            println!("{}: crm_simulate did not run", g.label);
            continue;
        };
        let errors: Vec<&str> = output
            .lines()
            .filter(|l| l.contains("error:") || l.contains("Relax-NG") || l.contains("assertion"))
            .collect();
        println!(
            "{}: crm_simulate -x FILE {mode}: exit {}, {} error lines{}",
            g.label,
            if ok { "ok" } else { "FAILED" },
            errors.len(),
            errors
                .first()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
        let reference = transition_summary(&output);
        let Some(cib) = &g.cib else {
            println!("{}: hasim could not schedule it; no timing", g.label);
            continue;
        };
        let graph = hasim_scheduler::schedule(cib);
        let ours: Vec<String> = graph.summary.iter().map(|l| normalize(l)).collect();
        let agreement = multiset_agreement(&ours, &reference);
        println!(
            "{}: Transition Summary hasim {} lines, crm_simulate {} lines, {} in common, \
             {} only hasim, {} only crm_simulate => {}",
            g.label,
            ours.len(),
            reference.len(),
            agreement.common,
            agreement.only_hasim.len(),
            agreement.only_reference.len(),
            if agreement.identical() {
                "IDENTICAL"
            } else {
                "DIFFERENT"
            }
        );
        let breakdown = |lines: &[String]| {
            by_action(lines)
                .iter()
                .map(|(a, n)| format!("{a} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "    by action: crm_simulate [{}]; hasim [{}]; only hasim [{}]; only crm_simulate [{}]",
            breakdown(&reference),
            breakdown(&ours),
            breakdown(&agreement.only_hasim),
            breakdown(&agreement.only_reference)
        );
        for l in agreement.only_hasim.iter().take(5) {
            println!("    only hasim:        {l}");
        }
        for l in agreement.only_reference.iter().take(5) {
            println!("    only crm_simulate: {l}");
        }

        // Whole process, -S: repeat while cheap.
        let runs = (Duration::from_secs(10).as_secs_f64() / first.wall.as_secs_f64().max(1e-3))
            .clamp(1.0, 5.0) as u32;
        let mut samples = vec![first];
        samples.extend((1..runs).filter_map(|_| run_crm(&bin, &["-x", &path, mode]).map(|r| r.0)));
        let crm_process = median(samples);
        let hasim_runs = if g.slow { 2 } else { 5 };
        let hasim_render = time_hasim(hasim_runs, || {
            black_box(hasim_scheduler::simulate::render(&g.xml).ok());
        });
        let hasim_sched = time_hasim(hasim_runs, || {
            black_box(hasim_scheduler::schedule(cib));
        });
        rows.push(Row {
            what: format!("{}: hasim render vs crm -x {mode} process", g.label),
            hasim: hasim_render,
            crm: crm_process,
        });
        rows.push(Row {
            what: format!("{}: hasim render vs crm {mode} less process start", g.label),
            hasim: hasim_render,
            crm: crm_process.minus(start_cost),
        });
        match g
            .path
            .parent()
            .and_then(|dir| crm_profile_pass(&bin, dir, start_cost))
        {
            Some((crm, how)) => rows.push(Row {
                what: format!("{}: hasim schedule-only vs {how}", g.label),
                hasim: hasim_sched,
                crm,
            }),
            None => println!("{}: crm_simulate -P failed", g.label),
        }
    }
    println!();
    print_table(&rows);
    println!(
        "(ratio = hasim / crm_simulate; below 1 means hasim is faster. crm -P = per scheduling \
         pass from -N {} minus -N 1, which includes crm_simulate's XML copy and unpacking but no \
         parsing or process start.)",
        1 + CRM_EXTRA_PASSES
    );
}

fn main() {
    hasim::keep_freed_memory();
    let mut criterion = Criterion::default().configure_from_args();
    let work = std::env::temp_dir().join(format!("hasim-bench-scheduler-{}", std::process::id()));
    let corpus = load_corpus();
    eprintln!(
        "corpus: {} of {} cases scheduled by hasim",
        corpus.cases.len(),
        corpus.total
    );
    let generated = [
        generate("large-cluster", hasim_benches::large_cluster(), &work),
        generate("remote-nodes", hasim_benches::remote_cluster(), &work),
        // The compute-node shape: 3 cluster nodes, 1,000 remote nodes.
        generate(
            "remote-nodes-3",
            hasim_benches::RemoteCluster {
                cluster_nodes: 3,
                remote_nodes: 1000,
            }
            .to_xml(),
            &work,
        ),
    ];
    bench_corpus(&mut criterion, &corpus);
    for g in &generated {
        bench_generated(&mut criterion, g);
    }
    criterion.final_summary();
    // `cargo bench` passes --bench; `cargo test --benches` only smoke-tests
    // the benchmark functions, so the slow comparison is left out there.
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--bench") && !has("--test") && !has("--list") {
        compare(&corpus, &generated, &work);
    }
    let _ = std::fs::remove_dir_all(&work);
}
