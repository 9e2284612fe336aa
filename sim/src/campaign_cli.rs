//! `hasim run --seeds A..B` with the CI options (`--shard K/N`,
//! `--fail-fast`, `--junit`, `--json` summary, Ctrl-C) and `hasim merge`.

#[cfg(madsim)]
use crate::cli::{RunArgs, EXIT_UNEXPECTED};
use crate::cli::{EXIT_BAD_INPUT, EXIT_OK};
use hasim_reports::CampaignSummary;
use std::path::PathBuf;

/// Exit status of a campaign stopped by Ctrl-C (128 + SIGINT, as shells do).
#[cfg_attr(not(madsim), allow(dead_code))]
pub const EXIT_INTERRUPTED: u8 = 130;

#[cfg_attr(not(madsim), allow(dead_code))]
fn write(path: &PathBuf, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// Run a campaign; called by `hasim run` when `--seeds` is given.
#[cfg(madsim)]
pub fn run(
    args: &RunArgs,
    scenario: &hasim::scenario::Scenario,
    seeds: std::ops::Range<u64>,
) -> u8 {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let path = args.scenario.display().to_string();
    let threads = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A second Ctrl-C while the summary is being written kills as usual.
    if let Err(e) = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("\ninterrupted: finishing the runs in progress, then the partial summary");
    }) {
        eprintln!("warning: Ctrl-C will not print a partial summary: {e}");
    }
    let control = hasim::shard::Control {
        stop: Some(&stop),
        fail_fast: args.fail_fast,
        keep_outcomes: args.junit.is_some(),
    };
    // The failure pages' directory is made before the campaign, so a bad
    // path does not cost the runs.
    if let Some(dir) = &args.html {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: --html {}: cannot create: {e}", dir.display());
            return EXIT_BAD_INPUT;
        }
    }
    let started = std::time::SystemTime::now();
    let mut props = vec![
        ("scenario".to_string(), path.clone()),
        (
            "seeds".to_string(),
            format!("{}..{}", seeds.start, seeds.end - 1),
        ),
    ];
    if let Some(s) = &args.shard {
        props.push(("shard".to_string(), format!("{}/{}", s.index, s.count)));
    }
    let run = hasim::shard::run(scenario, &path, seeds, args.shard, threads, true, &control);
    // The summary is printed first (a file that cannot be written must not
    // lose it), but a closed pipe (`| head`) does not stop the files either.
    let text = format!("{}{}", run.summary.to_text(), run.speed_line());
    let printed = hasim::output::emit(&text);
    if let Some(json) = &args.json {
        let text = serde_json::to_string_pretty(&run.summary).unwrap_or_default();
        if let Err(e) = write(json, &text) {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    if let Some(junit) = &args.junit {
        let cases = run
            .outcomes
            .iter()
            .map(|o| hasim::ci::case_from_outcome(&scenario.name, &path, o))
            .collect();
        let xml = hasim::ci::junit(&scenario.name, started, props, cases);
        if let Err(e) = write(junit, &xml) {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    if let Some(dir) = &args.html {
        if let Err(e) = failure_pages(dir, scenario, &run.summary) {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    if let Err(e) = printed {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    if stop.load(Ordering::SeqCst) {
        EXIT_INTERRUPTED
    } else if run.summary.all_met() {
        EXIT_OK
    } else {
        EXIT_UNEXPECTED
    }
}

/// The HTML page of a finished run from what its observer saw.
#[cfg(madsim)]
pub fn html_page(
    observer: &std::sync::Arc<std::sync::Mutex<hasim::timeline::TimelineObserver>>,
    report: &hasim_reports::RunReport,
) -> String {
    let observer = std::mem::take(&mut *observer.lock().unwrap_or_else(|e| e.into_inner()));
    hasim_reports::html::page(&observer.finish(report))
}

/// Re-run each failing seed (runs are deterministic) and write its page.
#[cfg(madsim)]
fn failure_pages(
    dir: &PathBuf,
    scenario: &hasim::scenario::Scenario,
    summary: &CampaignSummary,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    for failure in summary.failures.iter().filter(|f| f.error.is_none()) {
        let observer = std::sync::Arc::new(std::sync::Mutex::new(
            hasim::timeline::TimelineObserver::new(),
        ));
        let tap = hasim::timeline::TraceTap::new(observer.clone(), None);
        let out = hasim::world::run(scenario, failure.seed, Some(Box::new(tap)))?;
        let path = dir.join(format!("seed-{}.html", failure.seed));
        write(&path, &html_page(&observer, &out.report))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `hasim merge`: combine shard summaries (JSON) into one.
pub fn merge(files: &[PathBuf], json: Option<&PathBuf>) -> u8 {
    // The output is checked against the inputs before anything is read.
    let inputs: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
    let outputs: Vec<(&str, &std::path::Path)> =
        json.iter().map(|p| ("--json", p.as_path())).collect();
    let out = match hasim::output::prepare(&inputs, &outputs) {
        Ok(mut files) => files.pop(),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let mut parts = Vec::new();
    for f in files {
        let limit = hasim::limits::MAX_SUMMARY_BYTES;
        let text = match hasim::input::read_text(f, limit, "campaign summary") {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        };
        match serde_json::from_str::<CampaignSummary>(&text) {
            Ok(s) => parts.push(s),
            Err(e) => {
                eprintln!(
                    "error: {}:{}:{}: expected a campaign summary (`hasim run --seeds A..B --json FILE`): {e}",
                    f.display(),
                    e.line(),
                    e.column()
                );
                return EXIT_BAD_INPUT;
            }
        }
    }
    let merged = match CampaignSummary::merge(&parts) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if let Some(file) = out {
        let text = serde_json::to_string_pretty(&merged).unwrap_or_default();
        if let Err(e) = file.write_all(&text) {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    if let Err(e) = hasim::output::emit(&merged.to_text()) {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    if merged.all_met() {
        EXIT_OK
    } else {
        1
    }
}
