//! Schedule every CIB of Pacemaker's regression corpus, pre-parsed, N times
//! (default 5): a steady loop for profilers (`perf record`, callgrind).
//! Usage: cargo run --release -p hasim-scheduler --example schedule_corpus -- [N] [DIR|remote-3x1000|large-cluster]

use hasim_scheduler::hasim_cib::Cib;

/// `hasim schedule` runs on mimalloc (sim/src/main.rs); so does this loop.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // As the hasim binary does (hasim::keep_freed_memory): mimalloc's
    // option 15, purge_delay, -1 = never return freed pages to the OS.
    // SAFETY: sets a global option mimalloc reads atomically.
    unsafe { libmimalloc_sys::mi_option_set(15, -1) };
    let mut args = std::env::args().skip(1);
    let passes: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let dir = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/scheduler-corpus/xml"
        )
        .to_string()
    });
    if let Some(xml) = generated(&dir) {
        match Cib::from_xml(&xml) {
            Ok(cib) => run(passes, &[cib]),
            Err(e) => eprintln!("{dir}: {e}"),
        }
        return;
    }
    let mut paths: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("{dir}: {e}");
            std::process::exit(1);
        }
    };
    paths.sort();
    let cibs: Vec<Cib> = paths
        .iter()
        .filter_map(|p| Cib::from_xml(&std::fs::read_to_string(p).ok()?).ok())
        .collect();
    run(passes, &cibs);
}

/// `remote-3x1000` / `large-cluster` instead of a directory: the bench's
/// generated clusters.
fn generated(name: &str) -> Option<String> {
    match name {
        "remote-3x1000" => Some(
            hasim_benches::RemoteCluster {
                cluster_nodes: 3,
                remote_nodes: 1000,
            }
            .to_xml(),
        ),
        "large-cluster" => Some(hasim_benches::large_cluster()),
        _ => None,
    }
}

fn run(passes: u32, cibs: &[Cib]) {
    let started = std::time::Instant::now();
    let cpu_started = thread_cpu();
    let mut actions = 0usize;
    for _ in 0..passes {
        for cib in cibs {
            let result = std::panic::catch_unwind(|| hasim_scheduler::schedule(cib));
            actions += result.map_or(0, |g| g.actions.len());
        }
    }
    let per_pass = started.elapsed() / passes.max(1);
    let cpu = match (cpu_started, thread_cpu()) {
        (Some(a), Some(b)) => format!(" ({:?} CPU)", b.saturating_sub(a) / passes.max(1)),
        _ => String::new(),
    };
    println!(
        "{} CIBs, {passes} passes, {per_pass:?}{cpu} per pass, {actions} actions",
        cibs.len()
    );
}

/// This thread's time on a CPU so far (Linux's schedstat): on a busy
/// machine it is steadier than the wall clock.
fn thread_cpu() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}
