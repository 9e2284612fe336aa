//! The sub-commands behind `hasim`.

use clap::{Args, Subcommand};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

pub const EXIT_OK: u8 = 0;
#[cfg_attr(not(madsim), allow(dead_code))]
pub const EXIT_UNEXPECTED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Run one seed.
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run a campaign over seeds A..B (B excluded), in parallel.
    #[arg(long, value_parser = parse_range)]
    pub seeds: Option<std::ops::Range<u64>>,
    /// Write the trace (JSON lines) of a single run here.
    #[arg(long, conflicts_with = "seeds")]
    pub trace: Option<PathBuf>,
    /// Write the JSON report here (a run report, or the campaign summary).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Threads for a campaign (default: the available cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

fn parse_range(text: &str) -> Result<std::ops::Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or("expected A..B, for example 1..500")?;
    let a: u64 = a
        .parse()
        .map_err(|_| format!("`{a}` is not a seed number"))?;
    let b: u64 = b
        .parse()
        .map_err(|_| format!("`{b}` is not a seed number"))?;
    if b <= a {
        return Err(format!("empty range {a}..{b}: the end is excluded"));
    }
    Ok(a..b)
}

/// The flags of `crm_simulate` that apply, so an HA engineer's habits carry over.
#[derive(Args)]
pub struct ScheduleArgs {
    /// The CIB to schedule (configuration and status).
    #[arg(short = 'x', long = "xml-file", conflicts_with = "xml_pipe")]
    pub xml_file: Option<PathBuf>,
    /// Read the CIB from standard input.
    #[arg(short = 'p', long = "xml-pipe")]
    pub xml_pipe: bool,
    /// Simulate the transition's execution and show the resulting cluster
    /// status (hasim always does; accepted for compatibility).
    #[arg(short = 'S', long = "simulate")]
    pub simulate: bool,
}

#[derive(Args)]
pub struct ConformanceArgs {
    /// The corpus: xml/, expected/ and tiers/ (default ../shared/scheduler-corpus).
    pub dir: Option<PathBuf>,
    /// Print a diff of the Transition Summary for every failing case.
    #[arg(long)]
    pub diff: bool,
    /// Only these cases (repeatable).
    #[arg(long = "case")]
    pub cases: Vec<String>,
}

pub fn schedule(args: ScheduleArgs) -> u8 {
    use hasim_scheduler::hasim_cib::read_limited;
    let (name, xml) = match (&args.xml_file, args.xml_pipe) {
        (Some(path), _) => match std::fs::File::open(path).and_then(read_limited) {
            Ok(text) => (path.display().to_string(), text),
            Err(e) => {
                eprintln!("error: {}: cannot read: {e}", path.display());
                return EXIT_BAD_INPUT;
            }
        },
        (None, true) => match read_limited(std::io::stdin()) {
            Ok(text) => ("<stdin>".to_string(), text),
            Err(e) => {
                eprintln!("error: standard input: {e}");
                return EXIT_BAD_INPUT;
            }
        },
        (None, false) => {
            eprintln!("error: expected a CIB: -x FILE or -p (standard input)");
            return EXIT_BAD_INPUT;
        }
    };
    let _ = args.simulate;
    match hasim_scheduler::simulate::simulate(&xml) {
        Ok(sim) => {
            print!("{}", sim.output);
            // crm_simulate exits 1 when an ordering loop stops the transition.
            if sim.completed {
                EXIT_OK
            } else {
                EXIT_UNEXPECTED
            }
        }
        Err(e) => {
            eprintln!("error: {name}: {e}");
            EXIT_BAD_INPUT
        }
    }
}

pub fn conformance(args: ConformanceArgs) -> u8 {
    let dir = args.dir.unwrap_or_else(|| {
        let beside = PathBuf::from("../shared/scheduler-corpus");
        if beside.is_dir() {
            beside
        } else {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/scheduler-corpus"
            ))
        }
    });
    if !dir.join("tiers").is_dir() {
        eprintln!(
            "error: {}: expected a scheduler corpus (xml/, expected/, tiers/)",
            dir.display()
        );
        return EXIT_BAD_INPUT;
    }
    let opts = hasim_conformance::Options {
        show_diffs: args.diff,
        filter: args.cases,
    };
    print!("{}", hasim_conformance::run(&dir, &opts));
    EXIT_OK
}

#[derive(Subcommand)]
pub enum NodeCommand {
    /// A Keepalived-style VRRP node over real UDP (unicast peers).
    Vrrp(VrrpNodeArgs),
    /// A Corosync node (Totem + votequorum) over real UDP, from a corosync.conf
    /// (udpu-style unicast to each nodelist address, link 0).
    Corosync(CorosyncNodeArgs),
}

#[derive(Args)]
pub struct CorosyncNodeArgs {
    /// The corosync.conf; nodelist addresses must be IPv4 literals.
    #[arg(long)]
    pub conf: PathBuf,
    /// Which nodelist entry this process is.
    #[arg(long)]
    pub nodeid: u32,
    /// Added to the Totem port, so runs need no privileges and do not clash.
    #[arg(long, default_value_t = 0)]
    pub port_offset: u16,
    /// Multicast a test message this often (shows agreed-order delivery).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub load_interval: Option<Duration>,
}

#[derive(Args)]
pub struct VrrpNodeArgs {
    /// Node name, printed with every event.
    #[arg(long)]
    pub name: String,
    /// This node's address (for example 127.0.0.1); also the VRRP primary IP.
    #[arg(long)]
    pub address: Ipv4Addr,
    /// Added to every protocol port (VRRP is 112), so runs need no privileges.
    #[arg(long, default_value_t = 0)]
    pub port_offset: u16,
    #[arg(long, default_value_t = 51)]
    pub vrid: u8,
    #[arg(long)]
    pub priority: u8,
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub advert_int: Duration,
    /// Virtual IPs (reported, never configured on an interface).
    #[arg(long = "vip", required = true)]
    pub vips: Vec<Ipv4Addr>,
    /// Unicast peers.
    #[arg(long = "peer", required = true)]
    pub peers: Vec<Ipv4Addr>,
    /// Do not take over from a lower-priority master.
    #[arg(long)]
    pub nopreempt: bool,
}

#[cfg_attr(not(madsim), allow(dead_code))]
fn write_file(path: &PathBuf, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

#[cfg(madsim)]
pub fn run(args: RunArgs) -> u8 {
    use hasim::scenario::Scenario;
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let path = args.scenario.display().to_string();
    if let Some(seeds) = args.seeds {
        let threads = args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let report = hasim::campaign::run(&scenario, &path, seeds, threads, true);
        print!("{}", report.to_text());
        if let Some(json) = &args.json {
            let text = serde_json::to_string_pretty(&report).unwrap_or_default();
            if let Err(e) = write_file(json, &text) {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        }
        return if report.all_met() {
            EXIT_OK
        } else {
            EXIT_UNEXPECTED
        };
    }
    let seed = args.seed.unwrap_or(1);
    let trace: Option<Box<dyn std::io::Write + Send>> = match &args.trace {
        None => None,
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Some(Box::new(std::io::BufWriter::new(f))),
            Err(e) => {
                eprintln!("error: {}: cannot create trace file: {e}", p.display());
                return EXIT_BAD_INPUT;
            }
        },
    };
    let out = match hasim::world::run(&scenario, seed, trace) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    print!("{}", out.report.to_text());
    if let Some(json) = &args.json {
        if let Err(e) = write_file(json, &out.report.to_json()) {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    if out.report.expectation_met() {
        EXIT_OK
    } else {
        println!("replay: hasim replay {path} --seed {seed} --trace seed-{seed}.trace.jsonl");
        EXIT_UNEXPECTED
    }
}

#[cfg(not(madsim))]
pub fn run(_args: RunArgs) -> u8 {
    eprintln!("error: this is the real-mode build of hasim; scenarios run in the simulator build (`cargo run --release -- run ...`)");
    EXIT_BAD_INPUT
}

#[cfg(not(madsim))]
fn block_on<F: std::future::Future<Output = std::io::Result<()>>>(future: F) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    match runtime.block_on(future) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

#[cfg(not(madsim))]
pub fn node(command: NodeCommand) -> u8 {
    match command {
        NodeCommand::Vrrp(args) => vrrp_node(args),
        NodeCommand::Corosync(args) => corosync_node(args),
    }
}

#[cfg(not(madsim))]
fn corosync_node(args: CorosyncNodeArgs) -> u8 {
    use hasim_node::corosync_daemon::CorosyncSetup;
    let file = args.conf.display().to_string();
    let text = match std::fs::read_to_string(&args.conf) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {file}: cannot read: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let parsed = match hasim_corosync_conf::parse(&file, &text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    for warning in &parsed.warnings {
        eprintln!("warning: {warning}");
    }
    // Secauth nonces must never repeat across restarts: the epoch is the start time.
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut setup = match CorosyncSetup::from_conf(&parsed.config, args.nodeid, epoch) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {file}: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    setup.load_interval = args.load_interval;
    for line in &setup.startup_log {
        eprintln!("[TOTEM ] {line}");
    }
    let Some(address) = setup
        .addresses
        .get(&args.nodeid)
        .and_then(|a| a.first())
        .copied()
    else {
        eprintln!("error: {file}: nodeid {} has no ring0_addr", args.nodeid);
        return EXIT_BAD_INPUT;
    };
    let name = parsed
        .config
        .node_by_id(args.nodeid)
        .and_then(|n| n.name.clone())
        .unwrap_or_else(|| format!("node{}", args.nodeid));
    let host = hasim_node::real::UdpHost::new(name, address, args.port_offset);
    block_on(hasim_node::corosync_daemon::run(host, setup))
}

#[cfg(not(madsim))]
fn vrrp_node(args: VrrpNodeArgs) -> u8 {
    let mut config = hasim_vrrp::Config::new(args.vrid, args.address, args.vips);
    config.priority = args.priority;
    config.advert_int = args.advert_int;
    config.preempt = !args.nopreempt;
    config.unicast_peers = args.peers;
    if let Err(e) = config.validate() {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    let host = hasim_node::real::UdpHost::new(args.name, args.address, args.port_offset);
    block_on(hasim_node::vrrp_daemon::run(host, vec![config]))
}

#[cfg(madsim)]
pub fn node(_command: NodeCommand) -> u8 {
    eprintln!("error: this is the simulator build of hasim; real nodes run from the real-mode build (`cargo real run -- node ...`)");
    EXIT_BAD_INPUT
}
