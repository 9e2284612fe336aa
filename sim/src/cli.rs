//! The sub-commands behind `hasim`.

use clap::{Args, Subcommand};
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

pub const EXIT_OK: u8 = 0;
#[cfg_attr(not(madsim), allow(dead_code))]
pub const EXIT_UNEXPECTED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Args)]
pub struct RunArgs {
    /// The scenario file (TOML; see scenarios/README.md).
    pub scenario: PathBuf,
    /// Run one seed (default 1).
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run a campaign over seeds A..B, both included (1..500 is 500 runs), in
    /// parallel. `A..=B` means the same.
    #[arg(long, value_parser = parse_seeds, value_name = "A..B")]
    pub seeds: Option<RangeInclusive<u64>>,
    /// Write the trace (JSON lines) of a single run here.
    #[arg(long, conflicts_with = "seeds")]
    pub trace: Option<PathBuf>,
    /// Write the JSON report here (a run report, or the campaign summary).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Threads for a campaign, 1 to 1024 (default: the available cores).
    #[arg(long, value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub guard: GuardArgs,
    /// Write JUnit XML here: one test case per seed.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Run only the K-th of N deterministic slices of the seed range (K/N);
    /// `hasim merge` combines the shards' `--json` summaries.
    #[arg(long, requires = "seeds", value_parser = hasim_reports::Shard::parse)]
    pub shard: Option<hasim_reports::Shard>,
    /// Stop taking new seeds after the first unexpected outcome.
    #[arg(long, requires = "seeds")]
    pub fail_fast: bool,
    /// Write a self-contained HTML timeline of the run here; with `--seeds`,
    /// a directory that gets `seed-N.html` for every seed that did not meet
    /// its expectation.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

/// Limits for unattended runs.
#[derive(Args, Clone, Copy)]
pub struct GuardArgs {
    /// Stop with exit status 2 after this much wall time (30m, 2h; 0: no limit).
    #[arg(long, default_value = "0", value_parser = parse_wall_limit, value_name = "TIME")]
    pub max_wall: WallLimit,
    /// Stop with exit status 2 when resident memory exceeds this (512M, 8G; 0: no limit).
    #[arg(long, default_value = "4G", value_parser = parse_memory_limit, value_name = "SIZE")]
    pub max_memory: MemoryLimit,
}

/// `--max-wall`: `None` is no limit. (Read by the simulator build's commands.)
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(madsim), allow(dead_code))]
pub struct WallLimit(pub Option<Duration>);
/// `--max-memory` in bytes: `None` is no limit.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(madsim), allow(dead_code))]
pub struct MemoryLimit(pub Option<u64>);

fn parse_wall_limit(text: &str) -> Result<WallLimit, String> {
    hasim::guard::parse_wall(text).map(WallLimit)
}

fn parse_memory_limit(text: &str) -> Result<MemoryLimit, String> {
    hasim::guard::parse_memory(text).map(MemoryLimit)
}

/// `replay`: run one seed again, exactly, and write everything it did.
#[derive(Args)]
pub struct ReplayArgs {
    /// The scenario file the seed was run with (as printed on the `replay:`
    /// line of a report or campaign summary).
    pub scenario: PathBuf,
    /// The seed to replay.
    #[arg(long)]
    pub seed: u64,
    /// Write the full event log (JSON lines: deliveries, drops, faults, state
    /// changes, verdicts) here.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub guard: GuardArgs,
}

impl From<ReplayArgs> for RunArgs {
    fn from(r: ReplayArgs) -> RunArgs {
        RunArgs {
            scenario: r.scenario,
            seed: Some(r.seed),
            seeds: None,
            trace: r.trace,
            json: r.json,
            jobs: None,
            guard: r.guard,
            junit: None,
            shard: None,
            fail_fast: false,
            html: None,
        }
    }
}

/// `A..B` or `A..=B`, both ends included; at most
/// `limits::MAX_CAMPAIGN_SEEDS` seeds, so nothing wraps at `u64::MAX`.
pub fn parse_seeds(text: &str) -> Result<RangeInclusive<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or("expected A..B (both included), for example 1..500")?;
    let b = b.strip_prefix('=').unwrap_or(b);
    let number = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{t}` is not a seed number (0 to {})", u64::MAX))
    };
    let (a, b) = (number(a)?, number(b)?);
    if b < a {
        return Err(format!("empty range {a}..{b}: expected A <= B"));
    }
    let count = (b - a).saturating_add(1);
    let max = hasim::limits::MAX_CAMPAIGN_SEEDS;
    if count > max {
        return Err(format!(
            "{count} seeds; a campaign runs at most {max} (split it into several)"
        ));
    }
    if b == u64::MAX {
        return Err(format!("the last seed may be at most {}", u64::MAX - 1));
    }
    Ok(a..=b)
}

pub(crate) fn parse_jobs(text: &str) -> Result<usize, String> {
    let max = hasim::limits::MAX_JOBS;
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a number of threads from 1 to {max}")),
    }
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

/// Print `text` on standard output; a closed pipe or full disk ends the
/// command with a message and exit status 2 instead of a panic.
fn print_or_fail(text: &str) -> Result<(), u8> {
    hasim::output::emit(text).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_BAD_INPUT
    })
}

/// Read the CIB named by `-x` (or standard input for `-p`), at most
/// `limits::MAX_CIB_BYTES`.
fn read_cib(args: &ScheduleArgs) -> Result<(String, String), String> {
    use hasim::input;
    let limit = hasim::limits::MAX_CIB_BYTES;
    match (&args.xml_file, args.xml_pipe) {
        (Some(path), _) => {
            let text = input::read_text(path, limit, "CIB")?;
            Ok((path.display().to_string(), text))
        }
        (None, true) => {
            let text = input::read_limited(std::io::stdin().lock(), limit, "<stdin>: CIB")?;
            Ok(("<stdin>".to_string(), text))
        }
        (None, false) => Err("expected a CIB: -x FILE or -p (standard input)".into()),
    }
}

pub fn schedule(args: ScheduleArgs) -> u8 {
    let (name, xml) = match read_cib(&args) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let _ = args.simulate;
    match hasim_scheduler::simulate::simulate(&xml) {
        Ok(sim) => match print_or_fail(&sim.output) {
            // crm_simulate exits 1 when an ordering loop stops the
            // transition, and reports it on standard error.
            Ok(()) if !sim.completed => {
                eprint!("{}", sim.errors);
                EXIT_UNEXPECTED
            }
            Err(code) => code,
            Ok(()) => EXIT_OK,
        },
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
    let report = hasim_conformance::run(&dir, &opts);
    print_or_fail(&report.to_string()).map_or_else(|code| code, |()| EXIT_OK)
}

#[derive(Subcommand)]
pub enum NodeCommand {
    /// A Keepalived-style VRRP node over real UDP (unicast peers).
    Vrrp(VrrpNodeArgs),
    /// A Corosync node (Totem + votequorum) over real UDP, from a corosync.conf
    /// (udpu-style unicast to each nodelist address, link 0); with `--cib`,
    /// Pacemaker's daemons run on it.
    Corosync(CorosyncNodeArgs),
    /// A power device (an IPMI-style BMC or a PDU) on real UDP, for
    /// Pacemaker's fence agents in real mode: it switches "machines" that
    /// are processes (off = SIGKILL of the pid in a file) or commands.
    PowerDevice(PowerDeviceArgs),
}

#[derive(Args)]
pub struct PowerDeviceArgs {
    /// Device name, printed with every event.
    #[arg(long)]
    pub name: String,
    /// The device's address (the stonith primitive's `ipaddr`).
    #[arg(long)]
    pub address: Ipv4Addr,
    /// Added to the device's port (623), as for the nodes' ports.
    #[arg(long, default_value_t = 0)]
    pub port_offset: u16,
    /// Time from a request to its answer (and to the power change).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10ms")]
    pub latency: Duration,
    /// A BMC in this machine (outlet 0 is its chassis).
    #[arg(
        long,
        value_name = "MACHINE",
        conflicts_with = "outlet",
        required_unless_present = "outlet"
    )]
    pub bmc: Option<String>,
    /// A PDU outlet: `N=MACHINE` (repeat for each outlet).
    #[arg(long, value_name = "N=MACHINE")]
    pub outlet: Vec<String>,
    /// How a machine's power is switched: `MACHINE=pidfile:PATH` (off
    /// kills that process) or `MACHINE=command:CMD` (`sh -c CMD` with
    /// HASIM_ACTION=on|off and HASIM_MACHINE set; exit 0 = switched).
    #[arg(long, value_name = "MACHINE=HOW", required = true)]
    pub machine: Vec<String>,
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
    /// Multicast a test message this often (shows agreed-order delivery);
    /// from 100us to 1h.
    #[arg(long, value_parser = parse_load_interval, value_name = "TIME")]
    pub load_interval: Option<Duration>,
    /// Run a CPG workload beside corosync: it joins the group `hasim-load`
    /// and multicasts a numbered message this often (shows virtual synchrony).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub cpg_interval: Option<Duration>,
    /// Run Pacemaker (CIB manager, attribute manager, executor, controller)
    /// on this corosync, with this CIB (`cibadmin -Q` XML or `crm configure`
    /// lines) as the first boot's: it is written to the disk only when the
    /// disk holds no CIB yet. Needs `--disk`.
    #[arg(long, value_name = "FILE", requires = "disk")]
    pub cib: Option<PathBuf>,
    /// The node's disk: a directory (created if missing) that keeps the CIB
    /// (`cib.xml`, `cib.xml.sig`) and corosync's `ringid` across restarts;
    /// its `run/` is emptied at start and holds `<rsc>.state` for every
    /// resource active on the node.
    #[arg(long, value_name = "DIR")]
    pub disk: Option<PathBuf>,
}

fn parse_load_interval(text: &str) -> Result<Duration, String> {
    use hasim::limits;
    let d = humantime::parse_duration(text).map_err(|e| format!("`{text}`: {e}"))?;
    limits::check_range(d, limits::MIN_LOAD_INTERVAL, limits::MAX_LOAD_INTERVAL)
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

#[cfg(madsim)]
pub fn run(args: RunArgs) -> u8 {
    run_checked(args).unwrap_or_else(|message| {
        eprintln!("error: {message}");
        EXIT_BAD_INPUT
    })
}

/// Load, check the outputs, start the guard, run; any error is a message
/// for exit status 2.
#[cfg(madsim)]
fn run_checked(args: RunArgs) -> Result<u8, String> {
    use hasim::scenario::Scenario;
    if let Some(story) = hasim::story::load(&args.scenario)? {
        return crate::story_cli::run(&args, &story);
    }
    let scenario = Scenario::load(&args.scenario).map_err(|e| e.to_string())?;
    let conf = scenario
        .corosync_conf
        .as_ref()
        .map(|c| PathBuf::from(&c.path));
    let mut inputs = vec![args.scenario.as_path()];
    inputs.extend(conf.as_deref());
    let mut outputs = Vec::new();
    // Written whole after the run, but checked (and created) before it.
    if let Some(j) = &args.junit {
        outputs.push(("--junit", j.as_path()));
    }
    if let Some(h) = args.html.as_ref().filter(|_| args.seeds.is_none()) {
        outputs.push(("--html", h.as_path()));
    }
    if let Some(t) = &args.trace {
        outputs.push(("--trace", t.as_path()));
    }
    if let Some(j) = &args.json {
        outputs.push(("--json", j.as_path()));
    }
    let mut files = hasim::output::prepare(&inputs, &outputs)?;
    let json = args.json.as_ref().and_then(|_| files.pop());
    let trace = args.trace.as_ref().and_then(|_| files.pop());
    hasim::guard::start(hasim::guard::Limits {
        max_wall: args.guard.max_wall.0,
        max_memory: args.guard.max_memory.0,
        run_length: args.seeds.is_none().then_some(scenario.duration),
    });
    let path = args.scenario.display().to_string();
    if let Some(seeds) = args.seeds.clone() {
        // parse_seeds refuses u64::MAX as the last seed, so this cannot wrap.
        let seeds = *seeds.start()..seeds.end().saturating_add(1);
        return Ok(crate::campaign_cli::run(&args, &scenario, seeds));
    }
    let seed = args.seed.unwrap_or(1);
    let trace: Option<Box<dyn std::io::Write + Send>> = match trace {
        Some(file) => Some(Box::new(std::io::BufWriter::new(file.into_writer()?))),
        None => None,
    };
    let observer = std::sync::Arc::new(std::sync::Mutex::new(
        hasim::timeline::TimelineObserver::new(),
    ));
    let trace: Option<Box<dyn std::io::Write + Send>> = match &args.html {
        Some(_) => Some(Box::new(hasim::timeline::TraceTap::new(
            observer.clone(),
            trace,
        ))),
        None => trace,
    };
    let started = std::time::SystemTime::now();
    let out = hasim::world::run(&scenario, seed, trace)?;
    if let Some(html) = &args.html {
        write_file(
            html,
            &crate::campaign_cli::html_page(&observer, &out.report),
        )?;
    }
    if let Some(junit) = &args.junit {
        let case = hasim::ci::case_from_report(&path, &out.report);
        let props = vec![
            ("scenario".to_string(), path.clone()),
            ("seed".to_string(), seed.to_string()),
        ];
        let xml = hasim::ci::junit(&scenario.name, started, props, vec![case]);
        write_file(junit, &xml)?;
    }
    let mut text = out.report.to_text();
    if !out.report.expectation_met() {
        text += &format!(
            "replay: hasim replay {} --seed {seed} --trace seed-{seed}.trace.jsonl\n",
            shell_quote(&path)
        );
    }
    if let Some(file) = json {
        file.write_all(&out.report.to_json())?;
    }
    hasim::output::emit(&text)?;
    Ok(if out.report.expectation_met() {
        EXIT_OK
    } else {
        EXIT_UNEXPECTED
    })
}

/// Write a whole output file (HTML, JUnit) after the run.
#[cfg(madsim)]
fn write_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// `path` as one shell word, so a printed replay line can be pasted.
#[cfg_attr(not(madsim), allow(dead_code))]
pub(crate) fn shell_quote(path: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c);
    if !path.is_empty() && path.chars().all(plain) {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
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
        NodeCommand::PowerDevice(args) => power_device(args),
    }
}

/// A real power device: the `hasim-powerdev` core on UDP, switching
/// processes or commands.
#[cfg(not(madsim))]
fn power_device(args: PowerDeviceArgs) -> u8 {
    let daemon = match power_daemon(&args) {
        Ok(daemon) => daemon,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let host = hasim_node::real::UdpHost::new(args.name, args.address, args.port_offset);
    block_on(hasim_node::power_daemon::run_until(
        host,
        daemon,
        terminated(),
    ))
}

#[cfg(not(madsim))]
fn power_daemon(args: &PowerDeviceArgs) -> Result<hasim_node::power_daemon::PowerDaemon, String> {
    use hasim_node::power_daemon::real::{Machine, ProcessSwitch};
    use hasim_powerdev::{DeviceConfig, DeviceKind};
    let kind = match &args.bmc {
        Some(host) => DeviceKind::Bmc {
            host: host.clone(),
            dies_with_host: false,
        },
        None => {
            let mut outlets = std::collections::BTreeMap::new();
            for text in &args.outlet {
                let parsed = text
                    .split_once('=')
                    .and_then(|(n, m)| Some((n.parse::<u16>().ok().filter(|n| *n > 0)?, m)))
                    .filter(|(_, m)| !m.is_empty());
                let Some((n, machine)) = parsed else {
                    return Err(format!(
                        "--outlet `{text}`: expected N=MACHINE with N from 1"
                    ));
                };
                if outlets.insert(n, machine.to_string()).is_some() {
                    return Err(format!("--outlet `{text}`: outlet {n} given twice"));
                }
            }
            DeviceKind::Pdu { outlets }
        }
    };
    let mut machines = std::collections::BTreeMap::new();
    for text in &args.machine {
        let Some((name, how)) = text.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(format!(
                "--machine `{text}`: expected MACHINE=pidfile:PATH or MACHINE=command:CMD"
            ));
        };
        let how = Machine::parse(how).map_err(|e| format!("--machine {name}: {e}"))?;
        machines.insert(name.to_string(), how);
    }
    let powered: Vec<&String> = match &kind {
        DeviceKind::Bmc { host, .. } => vec![host],
        DeviceKind::Pdu { outlets } => outlets.values().collect(),
    };
    if let Some(missing) = powered.iter().find(|m| !machines.contains_key(m.as_str())) {
        return Err(format!(
            "machine {missing} has no --machine {missing}=... switch"
        ));
    }
    let config = DeviceConfig {
        name: args.name.clone(),
        address: args.address.to_string(),
        kind,
        latency: args.latency,
    };
    let switch = Box::new(ProcessSwitch { machines });
    hasim_node::power_daemon::PowerDaemon::new(config, switch)
}

/// A real node's corosync.conf, read with a size limit and parsed (its
/// warnings printed); a file without a nodelist is an error, as for corosync.
#[cfg(not(madsim))]
fn read_corosync_conf(path: &std::path::Path) -> Result<hasim_corosync_conf::Parsed, String> {
    let file = path.display().to_string();
    let limit = hasim::limits::MAX_COROSYNC_CONF_BYTES;
    let text = hasim::input::read_text(path, limit, "corosync.conf")?;
    let parsed = hasim_corosync_conf::parse(&file, &text).map_err(|e| e.to_string())?;
    for warning in &parsed.warnings {
        eprintln!("warning: {warning}");
    }
    if parsed.config.nodelist.is_empty() {
        return Err(format!(
            "{file}: expected a nodelist with at least one `node {{ ring0_addr: ... nodeid: ... }}`"
        ));
    }
    Ok(parsed)
}

#[cfg(not(madsim))]
fn corosync_node(args: CorosyncNodeArgs) -> u8 {
    use hasim_node::corosync_daemon::CorosyncSetup;
    let file = args.conf.display().to_string();
    let parsed = match read_corosync_conf(&args.conf) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
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
    // The CIB is checked before anything starts or touches the disk.
    let cib = match args
        .cib
        .as_deref()
        .map(|path| hasim::pcmk_scenario::load_cib(path, ""))
    {
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
        Some(Ok(loaded)) => Some(loaded),
        None => None,
    };
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
    let cpg_interval = args.cpg_interval;
    if cpg_interval.is_some_and(|i| i.is_zero()) {
        eprintln!("error: --cpg-interval: expected a non-zero duration");
        return EXIT_BAD_INPUT;
    }
    let host = match &args.disk {
        Some(disk) => {
            match hasim_node::real::UdpHost::with_disk(&name, address, args.port_offset, disk) {
                Ok(host) => host,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
        }
        None => hasim_node::real::UdpHost::new(&name, address, args.port_offset),
    };
    let pacemaker = match &cib {
        Some(cib) => match pacemaker_setup(cib, &host, &parsed.config, args.nodeid, &name) {
            Ok(setup) => Some(setup),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        },
        None => None,
    };
    let code = block_on(async move {
        use hasim_node::local::{Switchboard, COROSYNC};
        let board = Switchboard::new();
        let endpoint = board.register(COROSYNC);
        if let Some(interval) = cpg_interval {
            hasim_node::init::start_cpg_workload(host.clone(), &board, setup.node_id, interval);
        }
        if let Some(pacemaker) = pacemaker {
            hasim_node::init::start_pacemaker(host.clone(), &board, pacemaker);
        }
        hasim_node::corosync_daemon::run(host, setup, Some(endpoint)).await
    });
    if code != EXIT_OK {
        eprintln!(
            "note: {file}: nodeid {} runs on {address} (its ring0_addr); it must be an address of this machine",
            args.nodeid
        );
    }
    code
}

/// Pacemaker's setup for this process: the CIB (put on the disk if the
/// disk has none), the nodelist's names, a seed and the
/// cluster clock from the wall clock (the cores compare wall-clock seconds
/// across nodes, as Pacemaker does).
#[cfg(not(madsim))]
fn pacemaker_setup(
    loaded: &hasim::pcmk_scenario::LoadedCib,
    host: &hasim_node::real::UdpHost,
    conf: &hasim_corosync_conf::CorosyncConf,
    nodeid: u32,
    name: &str,
) -> Result<hasim_node::pacemaker::PacemakerSetup, String> {
    use hasim_node::Disk;
    if host.load(hasim_based::DISK_CIB).is_none() {
        let image =
            hasim_based::disk_image(&loaded.xml).map_err(|e| format!("{}: {e}", loaded.path))?;
        for (key, value) in image {
            host.store(&key, value);
        }
        if host.load(hasim_based::DISK_CIB).is_none() {
            return Err(format!("{}: cannot write the CIB to the disk", loaded.path));
        }
    }
    let nodelist = conf
        .nodelist
        .iter()
        .filter_map(|n| {
            let id = n.nodeid?;
            Some((id, n.name.clone().unwrap_or_else(|| format!("node{id}"))))
        })
        .collect();
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(hasim_node::pacemaker::PacemakerSetup {
        node: name.to_string(),
        node_id: nodeid,
        nodelist,
        // Election "uptime" jitter and the attribute writer's vote: any
        // number that differs between nodes and boots.
        seed: since_epoch.as_nanos() as u64 ^ (u64::from(nodeid) << 48),
        behaviour: Vec::new(),
        interfaces: std::collections::BTreeMap::from([("ring0".to_string(), *host.address())]),
        boot_time: since_epoch,
        // The fencer always runs, as pacemaker-fenced does; its agents
        // talk from the node's own address to power devices
        // (`hasim node power-device`), shifted by the same port offset.
        fencing: Some(hasim_node::fencing::FencingSetup {
            mgmt_address: *host.address(),
            seed: since_epoch.as_nanos() as u64 ^ 0x5eed_fe4c ^ (u64::from(nodeid) << 40),
            sbd_timeout: None,
        }),
        // Remote nodes' connection resources name their address.
        hosts: std::collections::BTreeMap::new(),
    })
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
    block_on(hasim_node::vrrp_daemon::run_until(
        host,
        vec![config],
        terminated(),
    ))
}

/// SIGTERM or Ctrl-C (SIGINT): keepalived's cue to send its priority-0
/// goodbye advert and stop.
#[cfg(not(madsim))]
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(madsim)]
pub fn node(_command: NodeCommand) -> u8 {
    eprintln!("error: this is the simulator build of hasim; real nodes run from the real-mode build (`cargo real run -- node ...`)");
    EXIT_BAD_INPUT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_include_both_ends_and_cannot_wrap() {
        assert_eq!(parse_seeds("1..500").unwrap(), 1..=500);
        assert_eq!(parse_seeds("3..=3").unwrap(), 3..=3);
        let top = u64::MAX;
        assert_eq!(
            parse_seeds(&format!("{}..{}", top - 3, top - 1)).unwrap(),
            top - 3..=top - 1
        );
        // The campaign runs seeds as A..B+1, so the very last seed is refused.
        assert!(parse_seeds(&format!("{}..{top}", top - 2)).is_err());
        assert!(parse_seeds("5..4").is_err());
        assert!(parse_seeds(&format!("0..{top}")).is_err());
        assert!(parse_seeds("1-5").is_err());
    }

    #[test]
    fn replay_paths_paste_into_a_shell() {
        assert_eq!(shell_quote("scenarios/a.toml"), "scenarios/a.toml");
        assert_eq!(shell_quote("my dir/it's.toml"), "'my dir/it'\\''s.toml'");
    }
}
