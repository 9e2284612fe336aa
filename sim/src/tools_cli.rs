//! `hasim shrink` and `hasim sweep`.

use crate::cli::EXIT_BAD_INPUT;
#[cfg(madsim)]
use crate::cli::{EXIT_OK, EXIT_UNEXPECTED};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ShrinkArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The seed whose outcome was not the expected one.
    #[arg(long)]
    pub seed: u64,
    /// Where to write the shrunk scenario (default: NAME-seed-N.shrunk.toml
    /// in the current directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct SweepArgs {
    /// The sweep file (TOML; see scenarios/README.md, "Sweeps").
    pub sweep: PathBuf,
    /// Seeds per grid point (overrides the file).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Threads (default: the available cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Write the per-point results as CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the SVG plot (detection time against false failovers) here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

#[cfg(madsim)]
pub fn shrink(args: ShrinkArgs) -> u8 {
    use hasim::scenario::Scenario;
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let text = std::fs::read_to_string(&args.scenario).unwrap_or_default();
    let out_path = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!("{}-seed-{}.shrunk.toml", scenario.name, args.seed))
    });
    let mut progress = |line: &str| eprintln!("{line}");
    let shrunk = match hasim::shrink::shrink(&scenario, args.seed, &mut progress) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e}", args.scenario.display());
            return EXIT_BAD_INPUT;
        }
    };
    let faults = shrunk.faults();
    let description = format!(
        "{} seed {}, shrunk by hasim shrink from {} faults to {}: {} {} unexpectedly",
        args.scenario.display(),
        args.seed,
        shrunk.original_faults,
        faults.len(),
        shrunk.mode.checker,
        if shrunk.mode.held { "held" } else { "broke" }
    );
    let written =
        hasim::scenario_write::with_faults(&text, &args.scenario, &out_path, &faults, &description)
            .and_then(|t| {
                std::fs::write(&out_path, t).map_err(|e| format!("{}: {e}", out_path.display()))
            });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    println!("{description} ({} runs)", shrunk.runs);
    for f in &faults {
        let what = hasim::faults::describe(&f.action);
        println!("  t={:>9.3}s  {what}", f.at.as_secs_f64());
    }
    println!("wrote {}", out_path.display());
    println!(
        "replay: hasim run {} --seed {} --html seed-{}.html",
        out_path.display(),
        args.seed,
        args.seed
    );
    EXIT_OK
}

#[cfg(madsim)]
pub fn sweep(args: SweepArgs) -> u8 {
    let spec = match hasim::sweep::SweepSpec::load(&args.sweep) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let threads = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let seeds = args.seeds.unwrap_or(spec.file.seeds);
    let result = match hasim::sweep::run(&spec, seeds, threads, true) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    print!("{}", hasim_reports::sweep::to_text(&result));
    let outputs = [
        (&args.csv, hasim_reports::sweep::to_csv(&result)),
        (
            &args.json,
            serde_json::to_string_pretty(&result).unwrap_or_default(),
        ),
        (&args.svg, hasim_reports::sweep::to_svg(&result)),
    ];
    for (path, text) in outputs {
        if let Some(path) = path {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("error: {}: cannot write: {e}", path.display());
                return EXIT_BAD_INPUT;
            }
        }
    }
    if result.errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_UNEXPECTED
    }
}

#[cfg(not(madsim))]
pub fn shrink(_args: ShrinkArgs) -> u8 {
    eprintln!("error: this is the real-mode build of hasim; shrinking runs in the simulator build");
    EXIT_BAD_INPUT
}

#[cfg(not(madsim))]
pub fn sweep(_args: SweepArgs) -> u8 {
    eprintln!("error: this is the real-mode build of hasim; sweeps run in the simulator build");
    EXIT_BAD_INPUT
}
