//! `hasim`: run scenarios in the simulator, replay seeds, run a node for real.
//!
//! Exit codes: 0 every run met its expectation; 1 an invariant broke that the
//! scenario did not expect (or an expected one did not break); 2 bad input or
//! usage, an output that cannot be written, or a wall-clock/memory limit.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cli;

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
     --max-memory limit reached";

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
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => cli::run(args),
        Command::Replay(args) => cli::run(args.into()),
        Command::Schedule(args) => cli::schedule(args),
        Command::Conformance(args) => cli::conformance(args),
        Command::Node(node) => cli::node(node),
    };
    ExitCode::from(code)
}
