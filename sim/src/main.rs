//! `hasim`: run scenarios in the simulator, replay seeds, run a node for real.
//!
//! Exit codes: 0 every run met its expectation; 1 an invariant broke that the
//! scenario did not expect (or an expected one did not break); 2 bad input or
//! usage, an output that cannot be written, or a wall-clock/memory limit;
//! 130 a campaign stopped by Ctrl-C (its partial summary is printed).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The simulator allocates and frees a small buffer for nearly every
/// datagram, trace line and task; glibc's allocator was about a sixth of a
/// run's CPU. Allocation order has no effect on a run, so the trace is
/// unchanged.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod campaign_cli;
mod cli;
#[cfg(madsim)]
mod story_cli;
mod tools_cli;

/// Shown after `hasim --help`.
const AFTER_HELP: &str = "\
Examples (from the repository root; `cargo install --path sim` puts hasim on PATH,
or write `cargo run --release -p hasim --` instead of `hasim`):
  hasim run scenarios/keepalived-split-brain.toml --seed 1
  hasim run scenarios/keepalived-nemesis.toml --seeds 1..500 --json summary.json
  hasim replay scenarios/keepalived-split-brain.toml --seed 1 --trace run.jsonl
  hasim schedule -x ../shared/scheduler-corpus/xml/1360.xml
  hasim conformance --case 1360

Exit status:
  0  every run met the scenario's expectation (or the command succeeded)
  1  an invariant broke that the scenario did not expect, or an expected one held
  2  bad input or usage, an output that cannot be written, or a --max-wall or
     --max-memory limit reached
  130 a campaign stopped by Ctrl-C (its partial summary is printed)";

/// Shown after `hasim run --help`.
const RUN_AFTER_HELP: &str = "\
Examples:
  hasim run scenarios/keepalived-split-brain.toml --seed 1
  hasim run scenarios/keepalived-nemesis.toml --seeds 1..500 --jobs 2
  hasim run scenarios/corosync-3node-power-off.toml --seed 7 --trace t.jsonl --json r.json
  hasim run scenarios/corosync-nemesis.toml --seeds 1..200 --max-wall 30m --max-memory 8G

--seeds 1..500 runs seeds 1 to 500 (500 runs). A run whose outcome was not the
expected one prints a `replay:` line that reruns it exactly.

Exit status: 0 expectation met (every seed of a campaign); 1 not met; 2 bad
input or usage, an output that cannot be written, or a limit reached.";

/// Shown after `hasim replay --help`.
const REPLAY_AFTER_HELP: &str = "\
Example:
  hasim replay scenarios/keepalived-split-brain.toml --seed 1 --trace run.jsonl

The same scenario file and seed give the same run and the same trace hash on
any machine. Exit status as for `run`.";

#[derive(Parser)]
#[command(
    name = "hasim",
    version,
    about = "Deterministic simulation testbed for the Linux HA cluster stack",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario for one seed, or a campaign over a range of seeds.
    #[command(after_help = RUN_AFTER_HELP)]
    Run(cli::RunArgs),
    /// Replay one seed of a scenario exactly, writing its full trace.
    #[command(after_help = REPLAY_AFTER_HELP)]
    Replay(cli::ReplayArgs),
    /// Reduce a failing seed to the fewest, shortest faults that still fail
    /// the same way, and write them as a scenario file.
    Shrink(tools_cli::ShrinkArgs),
    /// Measure failure detection and false failovers over a grid of timer
    /// values under a disturbance model, with advice.
    Sweep(tools_cli::SweepArgs),
    /// Combine the `--json` summaries of the shards of a campaign
    /// (`--shard K/N`) into the summary of the whole campaign.
    Merge {
        /// One summary per shard, every shard exactly once.
        #[arg(required = true)]
        summaries: Vec<PathBuf>,
        /// Write the merged summary (JSON) here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// What Pacemaker's scheduler decides for a CIB, printed as
    /// `crm_simulate -x FILE -S` prints it.
    Schedule(cli::ScheduleArgs),
    /// Compare the scheduler with real crm_simulate 2.1.5 on Pacemaker's
    /// regression corpus.
    Conformance(cli::ConformanceArgs),
    /// Run a node daemon for real, over UDP (real-mode build only).
    #[command(subcommand)]
    Node(cli::NodeCommand),
}

fn main() -> ExitCode {
    hasim::keep_freed_memory();
    // Logs only when asked for: with a subscriber installed, every madsim
    // task carries an (error-level, so enabled) span, entered on every poll,
    // which cost a large share of a simulation's CPU for nothing.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => cli::run(args),
        Command::Replay(args) => cli::run(args.into()),
        Command::Shrink(args) => tools_cli::shrink(args),
        Command::Sweep(args) => tools_cli::sweep(args),
        Command::Merge { summaries, json } => campaign_cli::merge(&summaries, json.as_ref()),
        Command::Schedule(args) => cli::schedule(args),
        Command::Conformance(args) => cli::conformance(args),
        Command::Node(node) => cli::node(node),
    };
    ExitCode::from(code)
}
