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
    /// Seeds per grid point (overrides the file), from 1 to 100000.
    #[arg(long, value_parser = parse_sweep_seeds)]
    pub seeds: Option<u64>,
    /// Threads (default: the available cores), from 1 to 1024.
    #[arg(long, value_parser = crate::cli::parse_jobs)]
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

/// `--seeds` of `hasim sweep`: a number in the range a sweep accepts.
fn parse_sweep_seeds(text: &str) -> Result<u64, String> {
    let n = text
        .parse::<u64>()
        .map_err(|_| format!("expected a number of seeds per point, found `{text}`"))?;
    hasim::limits::check_sweep_seeds(n)
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
    // Checked before the (long) shrink: never the scenario itself, and
    // writable.
    let out_file = match hasim::output::prepare(&[&args.scenario], &[("--out", &out_path)]) {
        Ok(mut files) => files.pop(),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
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
            .and_then(|t| out_file.map_or(Ok(()), |f| f.write_all(&t)));
    if let Err(e) = written {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    let mut report = format!("{description} ({} runs)\n", shrunk.runs);
    for f in &faults {
        let what = hasim::faults::describe(&f.action);
        report += &format!("  t={:>9.3}s  {what}\n", f.at.as_secs_f64());
    }
    report += &format!(
        "wrote {}\nreplay: hasim run {} --seed {} --html seed-{}.html\n",
        out_path.display(),
        out_path.display(),
        args.seed,
        args.seed
    );
    emit_or_fail(&report).unwrap_or(EXIT_OK)
}

#[cfg(madsim)]
/// Print `text`; a closed pipe or a full disk is a message and exit status
/// 2 (`Some(2)`), never a panic.
fn emit_or_fail(text: &str) -> Option<u8> {
    hasim::output::emit(text).err().map(|e| {
        eprintln!("error: {e}");
        EXIT_BAD_INPUT
    })
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
    // The outputs are checked (never an input, writable) before the sweep.
    let conf = spec
        .base
        .corosync_conf
        .as_ref()
        .map(|c| PathBuf::from(&c.path));
    let mut inputs = vec![args.sweep.as_path(), spec.base_path.as_path()];
    inputs.extend(conf.as_deref());
    let named = [
        ("--csv", &args.csv),
        ("--json", &args.json),
        ("--svg", &args.svg),
    ];
    let outputs: Vec<(&str, &std::path::Path)> = named
        .iter()
        .filter_map(|(flag, p)| p.as_deref().map(|p| (*flag, p)))
        .collect();
    let files = match hasim::output::prepare(&inputs, &outputs) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let result = match hasim::sweep::run(&spec, seeds, threads, true) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let texts = [
        args.csv
            .as_ref()
            .map(|_| hasim_reports::sweep::to_csv(&result)),
        args.json
            .as_ref()
            .map(|_| serde_json::to_string_pretty(&result).unwrap_or_default()),
        args.svg
            .as_ref()
            .map(|_| hasim_reports::sweep::to_svg(&result)),
    ];
    for (file, text) in files.into_iter().zip(texts.into_iter().flatten()) {
        if let Err(e) = file.write_all(&text) {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    if let Some(code) = emit_or_fail(&hasim_reports::sweep::to_text(&result)) {
        return code;
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
