//! `hasim`: run scenarios in the simulator, replay seeds, run a node for real.
//!
//! Exit codes: 0 every run met its expectation; 1 an invariant broke that the
//! scenario did not expect (or an expected one did not break); 2 bad input or
//! usage; 130 a campaign stopped by Ctrl-C (its partial summary is printed).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod campaign_cli;
mod cli;
mod tools_cli;

#[derive(Parser)]
#[command(
    name = "hasim",
    version,
    about = "Deterministic simulation testbed for the Linux HA cluster stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario for one seed, or a campaign over a range of seeds.
    Run(cli::RunArgs),
    /// Replay one seed of a scenario, writing its full trace.
    Replay {
        scenario: PathBuf,
        #[arg(long)]
        seed: u64,
        /// Write the trace (JSON lines) here.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Write the JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
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
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => cli::run(args),
        Command::Replay {
            scenario,
            seed,
            trace,
            json,
        } => cli::run(cli::RunArgs {
            scenario,
            seed: Some(seed),
            seeds: None,
            trace,
            json,
            jobs: None,
            junit: None,
            shard: None,
            fail_fast: false,
            html: None,
        }),
        Command::Shrink(args) => tools_cli::shrink(args),
        Command::Sweep(args) => tools_cli::sweep(args),
        Command::Merge { summaries, json } => campaign_cli::merge(&summaries, json.as_ref()),
        Command::Schedule(args) => cli::schedule(args),
        Command::Conformance(args) => cli::conformance(args),
        Command::Node(node) => cli::node(node),
    };
    ExitCode::from(code)
}
