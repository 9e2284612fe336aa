//! Scenario files: what cluster to build, what to inflict on it, and what
//! outcome to expect. TOML, documented in `scenarios/README.md`.
//!
//! Parsing is two steps: serde reads the shape (so misspelt keys and wrong
//! types are caught with their line), then [`Scenario::validate`] checks the
//! references between parts (a fault naming an unknown node, two hosts with
//! one address, ...), again naming the line.

use crate::{limits, names};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// A scenario as written in its file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(deserialize_with = "names::scenario_name")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(deserialize_with = "limits::run_length")]
    pub duration: Duration,
    #[serde(default, rename = "segment")]
    pub segments: Vec<Segment>,
    #[serde(default, rename = "node")]
    pub nodes: Vec<Node>,
    #[serde(default, rename = "client")]
    pub clients: Vec<Client>,
    #[serde(default)]
    pub vrrp: Vec<VrrpInstance>,
    /// Power devices (BMCs, PDUs) on the management network, for fencing.
    #[serde(default, rename = "power_device")]
    pub power_devices: Vec<crate::power_spec::PowerDeviceSpec>,
    /// The `[[fault]]` tables as written; checked into `faults` by `parse`
    /// (there each error can carry its own table's position).
    #[serde(default, rename = "fault")]
    fault_tables: Vec<Spanned<crate::fault_file::FaultFile>>,
    #[serde(skip)]
    pub faults: Vec<Spanned<Fault>>,
    pub nemesis: Option<Spanned<Nemesis>>,
    /// Run Corosync (Totem + votequorum) on the nodes, configured by a real
    /// corosync.conf.
    pub corosync: Option<CorosyncSection>,
    /// Run Pacemaker on the Corosync nodes, starting from this CIB.
    pub pacemaker: Option<crate::pcmk_scenario::PacemakerSection>,
    pub expect: Expect,
    /// Per-host TCP sysctls.
    #[serde(default)]
    pub tcp: Vec<Spanned<crate::data_spec::TcpTable>>,
    /// Key-value database servers.
    #[serde(default)]
    pub kvdb: Vec<crate::data_spec::KvdbSpec>,
    /// HAProxy instances.
    #[serde(default)]
    pub haproxy: Vec<crate::data_spec::HaproxySpec>,
    /// Galera clusters.
    #[serde(default)]
    pub galera: Vec<crate::galera_spec::GaleraSpec>,
    /// Data clients' shared settings.
    pub data: Option<Spanned<crate::data_spec::DataSection>>,
    /// The corosync.conf named by `[corosync]`, parsed (filled by `load`).
    #[serde(skip)]
    pub corosync_conf: Option<LoadedCorosync>,
    /// The CIB named by `[pacemaker]`, read (filled by `load`).
    #[serde(skip)]
    pub pacemaker_cib: Option<crate::pcmk_scenario::LoadedCib>,
}

/// `[corosync]`: which corosync.conf the nodes run, and an optional test load.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorosyncSection {
    /// Path of the corosync.conf, relative to the scenario file.
    pub conf: Spanned<String>,
    /// Every node multicasts a test message this often, so the agreed-order
    /// and virtual-synchrony checkers have traffic to judge.
    #[serde(default, deserialize_with = "limits::opt_load_interval")]
    pub load_interval: Option<Duration>,
    /// Every node runs a CPG workload: a process that joins the CPG group
    /// `hasim-load` through corosync and multicasts a numbered message this
    /// often; its memberships and deliveries are node events in the trace.
    #[serde(default)]
    pub cpg_interval: Option<Spanned<humantime_serde::Serde<Duration>>>,
    /// `corosync` (default): Totem behaves exactly as corosync 3.1.7,
    /// including the three deviations from extended virtual synchrony that
    /// hasim's fault tests found; `strict`: those three fixed.
    #[serde(default)]
    pub totem: TotemVariant,
}

impl CorosyncSection {
    /// How often the CPG workload multicasts, when the scenario runs one.
    pub fn cpg_interval(&self) -> Option<Duration> {
        self.cpg_interval.as_ref().map(|i| **i.get_ref())
    }
}

/// Which Totem to run.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TotemVariant {
    #[default]
    Corosync,
    Strict,
}

/// A parsed corosync.conf and how scenario nodes map onto its nodelist.
#[derive(Debug, Clone)]
pub struct LoadedCorosync {
    pub path: String,
    pub conf: hasim_corosync_conf::CorosyncConf,
    /// Scenario node name -> corosync nodeid.
    pub node_ids: BTreeMap<String, u32>,
    /// What corosync would warn about in the file.
    pub warnings: Vec<String>,
}

/// Link behaviour. A segment sets it for all its links; a fault can change it
/// for the segment or for one direction of one link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkParams {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from [0, jitter) per datagram.
    pub jitter: Duration,
    /// Probability that a datagram is lost, per receiver.
    pub loss: f64,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by up to `reorder_window`,
    /// letting later datagrams overtake it (bounded reordering).
    pub reorder: f64,
    pub reorder_window: Duration,
}

fn default_latency() -> Duration {
    Duration::from_micros(200)
}
fn default_jitter() -> Duration {
    Duration::from_micros(100)
}
fn default_reorder_window() -> Duration {
    Duration::from_millis(5)
}
fn default_arp_ttl() -> Duration {
    Duration::from_secs(30)
}
pub(crate) fn default_boot_delay() -> Duration {
    Duration::from_secs(30)
}

impl Default for LinkParams {
    fn default() -> Self {
        Self {
            latency: default_latency(),
            jitter: default_jitter(),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: default_reorder_window(),
        }
    }
}

/// A named L2 segment (ring0, ring1, mgmt, public, ...).
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "SegmentFile")]
pub struct Segment {
    pub name: Spanned<String>,
    pub link: LinkParams,
    /// How long a host trusts an ARP cache entry before asking again.
    pub arp_ttl: Duration,
}

/// A `[[segment]]` table as written: every key named, so a misspelt one is
/// an error with its position (a flattened struct would ignore it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentFile {
    #[serde(deserialize_with = "names::host_name")]
    name: Spanned<String>,
    #[serde(deserialize_with = "limits::delay", default = "default_latency")]
    latency: Duration,
    #[serde(deserialize_with = "limits::delay", default = "default_jitter")]
    jitter: Duration,
    #[serde(default, deserialize_with = "limits::probability")]
    loss: f64,
    #[serde(default, deserialize_with = "limits::probability")]
    duplicate: f64,
    #[serde(default, deserialize_with = "limits::probability")]
    reorder: f64,
    #[serde(deserialize_with = "limits::delay", default = "default_reorder_window")]
    reorder_window: Duration,
    #[serde(deserialize_with = "limits::period", default = "default_arp_ttl")]
    arp_ttl: Duration,
}

impl From<SegmentFile> for Segment {
    fn from(f: SegmentFile) -> Segment {
        Segment {
            name: f.name,
            link: LinkParams {
                latency: f.latency,
                jitter: f.jitter,
                loss: f.loss,
                duplicate: f.duplicate,
                reorder: f.reorder,
                reorder_window: f.reorder_window,
            },
            arp_ttl: f.arp_ttl,
        }
    }
}

/// A cluster node: a machine that can be paused, powered off and on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    #[serde(deserialize_with = "names::host_name")]
    pub name: Spanned<String>,
    /// The node's address on each segment it sits on.
    pub addresses: std::collections::BTreeMap<String, Ipv4Addr>,
    /// Time from power-on until the node's daemons start.
    #[serde(deserialize_with = "limits::delay", default = "default_boot_delay")]
    pub boot_delay: Duration,
}

/// A client host that sends requests to a service address and records who
/// answered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    #[serde(deserialize_with = "names::host_name")]
    pub name: Spanned<String>,
    pub segment: Spanned<String>,
    pub address: Ipv4Addr,
    /// Service address, usually a virtual IP (`192.168.122.100:80`).
    pub target: SocketAddrV4,
    #[serde(deserialize_with = "limits::client_interval")]
    pub interval: Duration,
    #[serde(deserialize_with = "limits::period")]
    pub timeout: Duration,
    /// What the client does: `ping` (one datagram per interval) or `kv`
    /// (the key-value workload over TCP; `interval` is the time between
    /// operations, `timeout` the connect timeout; see `[data]`).
    #[serde(default)]
    pub workload: Workload,
}

/// A client's workload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    #[default]
    Ping,
    Kv,
}

/// A Keepalived VRRP instance on one node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpInstance {
    pub node: Spanned<String>,
    /// The segment the instance runs on (keepalived's `interface`).
    pub interface: Spanned<String>,
    pub vrid: u8,
    pub priority: u8,
    #[serde(deserialize_with = "limits::period")]
    pub advert_int: Duration,
    pub vips: Vec<Ipv4Addr>,
    #[serde(default = "default_true")]
    pub preempt: bool,
    #[serde(deserialize_with = "limits::delay", default)]
    pub preempt_delay: Duration,
    /// Unicast peers (keepalived's `unicast_peer`); empty means multicast.
    #[serde(default)]
    pub unicast_peers: Vec<Ipv4Addr>,
}

fn default_true() -> bool {
    true
}

/// One scripted fault. `at` is simulated time from the start of the run.
/// Read through [`crate::fault_file::FaultFile`], so each action accepts
/// exactly its own keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub at: Duration,
    /// Move the fault later by a time drawn uniformly from [0, jitter) with
    /// the run seed, so a campaign hits every phase of the protocol's timers
    /// (the advert cycle, the token rotation) as real faults do.
    pub jitter: Option<Duration>,
    pub action: FaultAction,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum FaultAction {
    /// Split hosts into groups that cannot reach each other. Hosts named in
    /// no group keep reaching everyone. With `one_way`, only traffic from the
    /// first group to the others is cut.
    Partition {
        groups: Vec<Vec<String>>,
        #[serde(default)]
        one_way: bool,
    },
    /// Remove every partition.
    Heal,
    /// Change link behaviour on a segment, or on one direction of one link
    /// (`from` and `to` hosts). Unset fields keep their value.
    Link {
        segment: Option<String>,
        from: Option<String>,
        to: Option<String>,
        loss: Option<f64>,
        #[serde(with = "humantime_serde")]
        latency: Option<Duration>,
        /// The link's delay jitter (`link_jitter` in the file).
        #[serde(with = "humantime_serde")]
        jitter: Option<Duration>,
        duplicate: Option<f64>,
        reorder: Option<f64>,
    },
    /// Freeze a node: no timers fire, no packets are processed; what arrives
    /// is queued and processed after `resume`.
    Pause {
        node: String,
    },
    Resume {
        node: String,
    },
    /// Cut a node's power: everything volatile on it is lost.
    PowerOff {
        node: String,
    },
    /// Restore power; the node's daemons start after its boot delay.
    PowerOn {
        node: String,
    },
    /// A power device (`[[power_device]]`) fails or recovers: `Unreachable`
    /// drops every request, `Failing` answers each with an error, `Slow`
    /// answers `extra` late, `Healthy` undoes any of them.
    DeviceFault {
        device: String,
        fault: hasim_powerdev::DeviceFault,
    },
}

/// A random nemesis: a fault timeline drawn from the run seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nemesis {
    /// When the first fault may start.
    #[serde(deserialize_with = "limits::instant")]
    pub start: Duration,
    /// After this time no new fault starts, and every fault is undone by it.
    #[serde(deserialize_with = "limits::instant")]
    pub stop: Duration,
    /// Gap between one fault ending and the next starting.
    pub gap: Spanned<DurationRange>,
    /// How long each fault lasts.
    pub length: Spanned<DurationRange>,
    /// Which kinds of faults to draw from.
    pub kinds: Spanned<Vec<NemesisKind>>,
    /// Loss rate range for `loss` faults.
    #[serde(default = "default_loss_range")]
    pub loss: Spanned<[f64; 2]>,
}

/// A range of durations, `{ min = "1s", max = "5s" }`, drawn uniformly.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DurationRange {
    #[serde(deserialize_with = "limits::delay")]
    pub min: Duration,
    #[serde(deserialize_with = "limits::delay")]
    pub max: Duration,
}

fn default_loss_range() -> Spanned<[f64; 2]> {
    Spanned::new(0..0, [0.1, 0.6])
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum NemesisKind {
    Partition,
    OneWayPartition,
    Loss,
    Pause,
    Power,
    /// A power device turns unreachable, failing or slow, then healthy.
    Device,
}

/// What outcome the scenario expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Invariants to check continuously.
    pub check: Vec<Spanned<String>>,
    /// Invariants this scenario is expected to break (the Keepalived split
    /// brain, say). A run where they hold does not meet its expectation.
    #[serde(default)]
    pub broken: Vec<Spanned<String>>,
    /// Invariants that may or may not break (random nemesis).
    #[serde(default)]
    pub may_break: Vec<Spanned<String>>,
    /// `vip-available`: the least fraction of client requests answered.
    #[serde(
        default = "default_min_answered",
        deserialize_with = "limits::probability"
    )]
    pub min_answered: f64,
    /// `vip-available`: the longest time clients may go without an answer.
    #[serde(deserialize_with = "limits::instant", default = "default_max_outage")]
    pub max_outage: Duration,
    /// `recovers`: how long a unique Pacemaker resource may stay down.
    #[serde(
        deserialize_with = "limits::instant",
        default = "default_recovery_bound"
    )]
    pub recovery_bound: Duration,
    /// `no-active-without-quorum`: how long an inquorate node may take to
    /// stop its resources (no-quorum-policy=stop).
    #[serde(deserialize_with = "limits::instant", default = "default_quorum_grace")]
    pub quorum_grace: Duration,
    /// `connections-recover`: how long a data client connection may hang
    /// after its server went away (Fuel's requirement: under a minute).
    /// Without it the bound comes from the client hosts' TCP settings.
    #[serde(default, deserialize_with = "limits::opt_period")]
    pub max_hang: Option<Duration>,
}

fn default_recovery_bound() -> Duration {
    Duration::from_secs(120)
}
fn default_quorum_grace() -> Duration {
    Duration::from_secs(30)
}

fn default_min_answered() -> f64 {
    0.9
}
fn default_max_outage() -> Duration {
    Duration::from_secs(10)
}

/// A scenario file could not be used. Names the file, the line and column,
/// and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// `name` is one of `names`, or an error naming the kind and the known ones.
fn known<'a>(kind: &str, name: &str, names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let names: Vec<&str> = names.collect();
    if names.contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "unknown {kind} `{name}`; expected one of {names:?}"
        ))
    }
}

/// A check failed: the span of the offending value and what was expected.
type Invalid = (Range<usize>, String);

impl Scenario {
    /// Read and validate a scenario file (at most
    /// [`limits::MAX_SCENARIO_BYTES`]).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = crate::input::read_text(path, limits::MAX_SCENARIO_BYTES, "scenario file")
            .map_err(|message| ScenarioError {
                message: message
                    .strip_prefix(&format!("{file}: "))
                    .unwrap_or(&message)
                    .to_string(),
                file: file.clone(),
                line: 0,
                column: 0,
            })?;
        Self::parse(&text, &file)
    }

    /// Parse and validate scenario text; `file` is used in error messages.
    /// Files the scenario refers to (a corosync.conf) are looked up next to
    /// `file`.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let at = |span: Range<usize>, message: String| {
            let (line, column) = line_col(text, span.start);
            ScenarioError {
                file: file.to_string(),
                line,
                column,
                message,
            }
        };
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| {
            at(
                e.span().unwrap_or(0..0),
                e.message().trim().replace('\n', "; "),
            )
        })?;
        for table in std::mem::take(&mut scenario.fault_tables) {
            let span = table.span();
            // A key the action does not take is placed at its own line.
            let place = table
                .get_ref()
                .misplaced_key()
                .and_then(|k| crate::fault_file::key_offset(text, span.start, k))
                .map_or(span.clone(), |o| o..o);
            let fault = Fault::try_from(table.into_inner()).map_err(|m| at(place, m))?;
            scenario.faults.push(Spanned::new(span, fault));
        }
        if let Some(section) = scenario.corosync.clone() {
            let base = Path::new(file).parent().unwrap_or(Path::new("."));
            let loaded = load_corosync(&base.join(section.conf.get_ref()))
                .map_err(|m| at(section.conf.span(), m))?;
            scenario
                .adopt_nodelist(loaded, section.conf.span())
                .map_err(|(span, m)| at(span, m))?;
            if let Some(interval) = &section.cpg_interval {
                if interval.get_ref().is_zero() {
                    let message = "expected a non-zero `cpg_interval`".to_string();
                    return Err(at(interval.span(), message));
                }
            }
        }
        crate::remote_spec::adopt(&mut scenario).map_err(|(span, m)| at(span, m))?;
        if let Some(section) = scenario.pacemaker.clone() {
            let base = Path::new(file).parent().unwrap_or(Path::new("."));
            let loaded = scenario
                .adopt_pacemaker(&section, base)
                .map_err(|(span, m)| at(span, m))?;
            scenario.pacemaker_cib = Some(loaded);
        }
        scenario
            .validate()
            .and_then(|()| crate::requirements::check(&scenario))
            .map_err(|(span, message)| at(span, message))?;
        Ok(scenario)
    }

    /// Take nodes and segments from a corosync.conf nodelist: a node the
    /// scenario lists is matched by its ring0 address; when the scenario
    /// lists none, every nodelist entry becomes a node, with `ringN_addr` on
    /// segment `ringN`.
    fn adopt_nodelist(
        &mut self,
        mut loaded: LoadedCorosync,
        span: Range<usize>,
    ) -> Result<(), Invalid> {
        if loaded.conf.nodelist.is_empty() {
            return Err((
                span,
                format!(
                    "{}: expected a nodelist with at least one `node {{ ring0_addr: ... nodeid: ... }}`; hasim runs corosync from its nodelist",
                    loaded.path
                ),
            ));
        }
        let links = loaded
            .conf
            .nodelist
            .iter()
            .map(|n| n.ring_addrs.len())
            .max()
            .unwrap_or(0);
        for link in 0..links {
            let name = format!("ring{link}");
            if !self.segments.iter().any(|s| s.name.get_ref() == &name) {
                self.segments.push(Segment {
                    name: Spanned::new(span.clone(), name),
                    link: LinkParams::default(),
                    arp_ttl: default_arp_ttl(),
                });
            }
        }
        let derive = self.nodes.is_empty();
        for entry in &loaded.conf.nodelist {
            let (id, name, addresses) =
                nodelist_entry(&loaded.path, entry).map_err(|m| (span.clone(), m))?;
            if derive {
                self.nodes.push(Node {
                    name: Spanned::new(span.clone(), name.clone()),
                    addresses,
                    boot_delay: default_boot_delay(),
                });
                loaded.node_ids.insert(name, id);
            } else if let Some(node) = self.nodes.iter().find(|n| {
                n.addresses
                    .values()
                    .any(|a| Some(a) == addresses.get("ring0"))
            }) {
                loaded.node_ids.insert(node.name.get_ref().clone(), id);
            }
        }
        self.corosync_conf = Some(loaded);
        Ok(())
    }

    /// Read `[pacemaker]`'s CIB and check its rules and requests against
    /// the nodes and resources.
    fn adopt_pacemaker(
        &self,
        section: &crate::pcmk_scenario::PacemakerSection,
        base: &Path,
    ) -> Result<crate::pcmk_scenario::LoadedCib, Invalid> {
        let Some(corosync) = &self.corosync_conf else {
            return Err((
                section.cib.span(),
                "Pacemaker runs on Corosync: add a `[corosync]` section with `conf`".into(),
            ));
        };
        let loaded =
            crate::pcmk_scenario::load_cib(&base.join(section.cib.get_ref()), &section.crm_extra)
                .map_err(|m| (section.cib.span(), m))?;
        let known = |node: &Option<String>| match node {
            Some(n) if !corosync.node_ids.contains_key(n) => Err(format!(
                "unknown node `{n}`; expected one of {:?}",
                corosync.node_ids.keys().collect::<Vec<_>>()
            )),
            _ => Ok(()),
        };
        for rule in &section.behaviour {
            // A behaviour may also name a remote node (its executor).
            let node = &rule.get_ref().node;
            if !node
                .as_deref()
                .is_some_and(|n| crate::remote_spec::is_remote(self, n))
            {
                known(node).map_err(|m| (rule.span(), m))?;
            }
        }
        if let Some(sbd) = &section.sbd {
            sbd.get_ref()
                .check(&loaded.cib)
                .map_err(|m| (sbd.span(), m))?;
        }
        for request in &section.operator {
            let r = request.get_ref();
            known(&r.node)
                .and_then(|()| r.op(&corosync.node_ids, &loaded.cib).map(|_| ()))
                .map_err(|m| (request.span(), m))?;
            if r.at > self.duration {
                let m = "operator request after the end of the run".to_string();
                return Err((request.span(), m));
            }
        }
        Ok(loaded)
    }

    /// Every host name (nodes, then clients), in file order.
    pub fn host_names(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .map(|n| n.name.get_ref().as_str())
            .chain(self.clients.iter().map(|c| c.name.get_ref().as_str()))
            .collect()
    }

    /// Check references between the parts. Errors carry the span of the
    /// offending value.
    fn validate(&self) -> Result<(), Invalid> {
        let segments: BTreeSet<&str> = self
            .segments
            .iter()
            .map(|s| s.name.get_ref().as_str())
            .collect();
        let mut seen_hosts = BTreeSet::new();
        let mut seen_addresses = BTreeSet::new();
        for segment in &self.segments {
            check_link(&segment.link).map_err(|m| (segment.name.span(), m))?;
        }
        for node in &self.nodes {
            self.check_node(node, &segments, &mut seen_hosts, &mut seen_addresses)?;
        }
        for client in &self.clients {
            check_client(client, &segments, &mut seen_hosts, &mut seen_addresses)?;
        }
        for vrrp in &self.vrrp {
            self.check_vrrp(vrrp)?;
        }
        let nodes: Vec<&str> = self
            .nodes
            .iter()
            .map(|n| n.name.get_ref().as_str())
            .collect();
        for device in &self.power_devices {
            let span = device.name.span();
            let name = device.name.get_ref().as_str();
            if !seen_hosts.insert(name) {
                return Err((span, format!("host name `{name}` is used twice")));
            }
            if !segments.contains(device.segment.as_str()) {
                let m = format!("power device `{name}` is on unknown segment `{}`; expected one of {segments:?}", device.segment);
                return Err((span, m));
            }
            if !seen_addresses.insert(device.address) {
                return Err((span, format!("address {} is used twice", device.address)));
            }
            device
                .config(&nodes)
                .map_err(|m| (device.kind.span(), format!("power device `{name}`: {m}")))?;
        }
        for fault in &self.faults {
            self.check_fault(fault, &segments, &seen_hosts)?;
        }
        if let Some(nemesis) = &self.nemesis {
            check_nemesis(nemesis, self.duration)?;
            let kinds = &nemesis.get_ref().kinds;
            if kinds.get_ref().contains(&NemesisKind::Device) && self.power_devices.is_empty() {
                let m = "nemesis kind `device` needs at least one `[[power_device]]`".to_string();
                return Err((kinds.span(), m));
            }
        }
        self.check_data(&seen_hosts, &nodes)?;
        self.check_expect()
    }

    /// `[[tcp]]`, `[[kvdb]]`, `[[haproxy]]` and `[data]` name known hosts,
    /// and kv clients have a `[data]` section.
    fn check_data(&self, hosts: &BTreeSet<&str>, nodes: &[&str]) -> Result<(), Invalid> {
        let all: Vec<&str> = hosts.iter().copied().collect();
        for t in &self.tcp {
            t.get_ref().check(&all).map_err(|m| (t.span(), m))?;
        }
        let dbs: Vec<&str> = self
            .kvdb
            .iter()
            .map(|k| k.node.get_ref().as_str())
            .collect();
        for k in &self.kvdb {
            let node = k.node.get_ref().as_str();
            if !nodes.contains(&node) {
                return Err((
                    k.node.span(),
                    format!("[[kvdb]] on unknown node `{node}`; expected one of {nodes:?}"),
                ));
            }
            let named = k
                .replicates_from
                .iter()
                .chain(k.follow_vip.as_ref().map(|f| &f.peer));
            for other in named {
                if !dbs.contains(&other.as_str()) || other == node {
                    return Err((k.node.span(), format!("[[kvdb]] `{node}` names `{other}`, which is not another [[kvdb]] node; expected one of {dbs:?}")));
                }
            }
        }
        crate::galera_spec::check_all(self, nodes)?;
        for h in &self.haproxy {
            let node = h.node.get_ref().as_str();
            if !nodes.contains(&node) {
                return Err((
                    h.node.span(),
                    format!("[[haproxy]] on unknown node `{node}`; expected one of {nodes:?}"),
                ));
            }
            if h.servers.is_empty() || h.rise == 0 || h.fall == 0 {
                return Err((
                    h.node.span(),
                    "[[haproxy]] needs at least one server, and rise and fall of at least 1".into(),
                ));
            }
        }
        let kv = self.clients.iter().find(|c| c.workload == Workload::Kv);
        match (&self.data, kv) {
            (Some(d), _) => d.get_ref().check(self.duration).map_err(|m| (d.span(), m)),
            (None, Some(c)) => Err((
                c.name.span(),
                format!(
                    "client `{}` has workload \"kv\" but the scenario has no [data] section",
                    c.name.get_ref()
                ),
            )),
            (None, None) => Ok(()),
        }
    }

    fn check_node<'a>(
        &self,
        node: &'a Node,
        segments: &BTreeSet<&str>,
        seen_hosts: &mut BTreeSet<&'a str>,
        seen_addresses: &mut BTreeSet<Ipv4Addr>,
    ) -> Result<(), Invalid> {
        if !seen_hosts.insert(node.name.get_ref().as_str()) {
            return Err((
                node.name.span(),
                format!("host name `{}` is used twice", node.name.get_ref()),
            ));
        }
        if node.addresses.is_empty() {
            return Err((
                node.name.span(),
                "expected at least one address (`addresses = { segment = \"ip\" }`)".into(),
            ));
        }
        for (segment, ip) in &node.addresses {
            if !segments.contains(segment.as_str()) {
                return Err((node.name.span(), format!("node `{}` has an address on unknown segment `{segment}`; expected one of {segments:?}", node.name.get_ref())));
            }
            if !seen_addresses.insert(*ip) {
                return Err((node.name.span(), format!("address {ip} is used twice")));
            }
        }
        Ok(())
    }

    fn check_vrrp(&self, vrrp: &VrrpInstance) -> Result<(), Invalid> {
        let Some(node) = self
            .nodes
            .iter()
            .find(|n| n.name.get_ref() == vrrp.node.get_ref())
        else {
            return Err((
                vrrp.node.span(),
                format!("unknown node `{}`", vrrp.node.get_ref()),
            ));
        };
        let Some(primary_ip) = node.addresses.get(vrrp.interface.get_ref()) else {
            return Err((
                vrrp.interface.span(),
                format!(
                    "node `{}` has no address on segment `{}`",
                    vrrp.node.get_ref(),
                    vrrp.interface.get_ref()
                ),
            ));
        };
        // The same checks keepalived makes when it reads its configuration,
        // so a bad instance is refused here, not by the daemon mid-run.
        vrrp.config(*primary_ip).validate().map_err(|e| {
            (
                vrrp.node.span(),
                format!("vrrp instance on `{}`: {e}", vrrp.node.get_ref()),
            )
        })
    }

    fn check_fault(
        &self,
        fault: &Spanned<Fault>,
        segments: &BTreeSet<&str>,
        hosts: &BTreeSet<&str>,
    ) -> Result<(), Invalid> {
        let span = fault.span();
        let f = fault.get_ref();
        // Both are at most limits::MAX_RUN, so the sum cannot overflow.
        let latest = f.at + f.jitter.unwrap_or_default();
        if latest > self.duration {
            return Err((
                span,
                format!(
                    "fault at {} (+ jitter {}) is after the end of the run ({})",
                    limits::show(f.at),
                    limits::show(f.jitter.unwrap_or_default()),
                    limits::show(self.duration)
                ),
            ));
        }
        let fail = |m: String| (span.clone(), m);
        let need_host = |h: &str| {
            if hosts.contains(h) {
                Ok(())
            } else {
                Err(fail(format!(
                    "unknown host `{h}`; expected one of {hosts:?}"
                )))
            }
        };
        match &f.action {
            FaultAction::Partition { groups, .. } => {
                if groups.len() < 2 {
                    return Err(fail("a partition needs at least two groups".into()));
                }
                let mut once = BTreeSet::new();
                for host in groups.iter().flatten() {
                    need_host(host)?;
                    if !once.insert(host) {
                        return Err(fail(format!("host `{host}` is in two partition groups")));
                    }
                }
            }
            FaultAction::Heal => {}
            FaultAction::Link {
                segment,
                from,
                to,
                loss,
                duplicate,
                reorder,
                ..
            } => {
                if let Some(s) = segment {
                    if !segments.contains(s.as_str()) {
                        return Err(fail(format!("unknown segment `{s}`")));
                    }
                }
                match (from, to) {
                    (Some(a), Some(b)) => {
                        need_host(a)?;
                        need_host(b)?;
                    }
                    (None, None) => {}
                    _ => return Err(fail("expected both `from` and `to`, or neither".into())),
                }
                for (name, p) in [
                    ("loss", loss),
                    ("duplicate", duplicate),
                    ("reorder", reorder),
                ] {
                    if let Some(p) = p {
                        limits::check_probability(name, *p).map_err(fail)?;
                    }
                }
            }
            FaultAction::DeviceFault { device, .. } => {
                let names = self.power_devices.iter().map(|d| d.name.get_ref().as_str());
                known("power device", device, names).map_err(fail)?;
            }
            FaultAction::Pause { node }
            | FaultAction::Resume { node }
            | FaultAction::PowerOff { node }
            | FaultAction::PowerOn { node } => {
                let names = self.nodes.iter().map(|n| n.name.get_ref().as_str());
                known("node", node, names).map_err(fail)?;
            }
        }
        Ok(())
    }

    fn check_expect(&self) -> Result<(), Invalid> {
        let expect = &self.expect;
        for name in expect
            .check
            .iter()
            .chain(&expect.broken)
            .chain(&expect.may_break)
        {
            if crate::checkers::registry::find(name.get_ref()).is_none() {
                return Err((
                    name.span(),
                    format!(
                        "unknown invariant `{}`; expected one of {:?}",
                        name.get_ref(),
                        crate::checkers::registry::names()
                    ),
                ));
            }
        }
        for name in expect.broken.iter().chain(&expect.may_break) {
            if !expect.check.iter().any(|c| c.get_ref() == name.get_ref()) {
                return Err((
                    name.span(),
                    format!(
                        "`{}` is expected to break but is not in `check`",
                        name.get_ref()
                    ),
                ));
            }
        }
        limits::check_probability("min_answered", expect.min_answered)
            .map_err(|m| (0..0, format!("[expect] {m}")))
    }

    /// What the scenario expects of one invariant.
    pub fn expectation(&self, checker: &str) -> Expectation {
        if self.expect.broken.iter().any(|b| b.get_ref() == checker) {
            Expectation::Break
        } else if self.expect.may_break.iter().any(|b| b.get_ref() == checker) {
            Expectation::MayBreak
        } else {
            Expectation::Hold
        }
    }
}

impl VrrpInstance {
    /// The VRRP core's configuration of this instance, with `primary_ip` the
    /// node's address on the instance's interface.
    pub fn config(&self, primary_ip: Ipv4Addr) -> hasim_vrrp::Config {
        let mut cfg = hasim_vrrp::Config::new(self.vrid, primary_ip, self.vips.clone());
        cfg.priority = self.priority;
        cfg.advert_int = self.advert_int;
        cfg.preempt = self.preempt;
        cfg.preempt_delay = self.preempt_delay;
        cfg.unicast_peers = self.unicast_peers.clone();
        cfg
    }
}

fn check_client<'a>(
    client: &'a Client,
    segments: &BTreeSet<&str>,
    seen_hosts: &mut BTreeSet<&'a str>,
    seen_addresses: &mut BTreeSet<Ipv4Addr>,
) -> Result<(), Invalid> {
    if !seen_hosts.insert(client.name.get_ref().as_str()) {
        return Err((
            client.name.span(),
            format!("host name `{}` is used twice", client.name.get_ref()),
        ));
    }
    if !segments.contains(client.segment.get_ref().as_str()) {
        return Err((
            client.segment.span(),
            format!(
                "unknown segment `{}`; expected one of {segments:?}",
                client.segment.get_ref()
            ),
        ));
    }
    if !seen_addresses.insert(client.address) {
        return Err((
            client.name.span(),
            format!("address {} is used twice", client.address),
        ));
    }
    Ok(())
}

/// The nemesis window lies within the run, its ranges are ordered, and it
/// cannot draw more than [`limits::MAX_NEMESIS_FAULTS`] faults (a zero gap
/// with a tiny length would otherwise draw billions).
fn check_nemesis(nemesis: &Spanned<Nemesis>, duration: Duration) -> Result<(), Invalid> {
    let n = nemesis.get_ref();
    if n.stop <= n.start || n.stop > duration {
        return Err((
            nemesis.span(),
            format!(
                "nemesis: expected start < stop <= duration ({}), found start {} and stop {}",
                limits::show(duration),
                limits::show(n.start),
                limits::show(n.stop)
            ),
        ));
    }
    for (name, range) in [("gap", &n.gap), ("length", &n.length)] {
        if range.get_ref().min > range.get_ref().max {
            return Err((
                range.span(),
                format!("nemesis `{name}`: expected min <= max"),
            ));
        }
    }
    let length = n.length.get_ref();
    limits::check_range(length.min, limits::MIN_NEMESIS_LENGTH, limits::DAY)
        .map_err(|m| (n.length.span(), format!("nemesis `length.min`: {m}")))?;
    let per_fault = n.gap.get_ref().min + length.min;
    let most = (n.stop - n.start).as_nanos() / per_fault.as_nanos().max(1);
    if most > u128::from(limits::MAX_NEMESIS_FAULTS) {
        return Err((
            n.gap.span(),
            format!(
                "nemesis: gap.min + length.min = {} would allow {most} faults between start and stop; at most {} are allowed",
                limits::show(per_fault),
                limits::MAX_NEMESIS_FAULTS
            ),
        ));
    }
    if n.kinds.get_ref().is_empty() {
        return Err((n.kinds.span(), "nemesis: expected at least one kind".into()));
    }
    let [lo, hi] = *n.loss.get_ref();
    if limits::check_probability("loss", lo).is_err()
        || limits::check_probability("loss", hi).is_err()
        || lo > hi
    {
        return Err((
            n.loss.span(),
            "nemesis: expected `loss` as [min, max] probabilities from 0 to 1".into(),
        ));
    }
    Ok(())
}

/// One nodelist entry as a scenario node: its nodeid, name and addresses.
fn nodelist_entry(
    path: &str,
    entry: &hasim_corosync_conf::Node,
) -> Result<(u32, String, BTreeMap<String, Ipv4Addr>), String> {
    let Some(id) = entry.nodeid else {
        return Err(format!(
            "{path}:{}: node without nodeid; hasim needs explicit nodeids",
            entry.line
        ));
    };
    let mut addresses = BTreeMap::new();
    for (link, addr) in &entry.ring_addrs {
        let ip: Ipv4Addr = addr.parse().map_err(|_| {
            format!(
                "{path}:{}: ring{link}_addr `{addr}` is not an IPv4 address",
                entry.line
            )
        })?;
        addresses.insert(format!("ring{link}"), ip);
    }
    let name = entry.name.clone().unwrap_or_else(|| format!("node{id}"));
    names::check_host_name(&name).map_err(|m| format!("{path}:{}: node name: {m}", entry.line))?;
    Ok((id, name, addresses))
}

/// Read and parse a corosync.conf (at most
/// [`limits::MAX_COROSYNC_CONF_BYTES`]); errors name the file and line.
fn load_corosync(path: &Path) -> Result<LoadedCorosync, String> {
    let shown = path.display().to_string();
    let text = crate::input::read_text(path, limits::MAX_COROSYNC_CONF_BYTES, "corosync.conf")?;
    let parsed = hasim_corosync_conf::parse(&shown, &text).map_err(|e| e.to_string())?;
    Ok(LoadedCorosync {
        path: shown,
        conf: parsed.config,
        node_ids: BTreeMap::new(),
        warnings: parsed.warnings.iter().map(|w| w.to_string()).collect(),
    })
}

fn check_link(link: &LinkParams) -> Result<(), String> {
    for (name, p) in [
        ("loss", link.loss),
        ("duplicate", link.duplicate),
        ("reorder", link.reorder),
    ] {
        limits::check_probability(name, p)?;
    }
    Ok(())
}

pub use hasim_reports::Expectation;

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
duration = "10s"
[[segment]]
name = "public"
[[node]]
name = "lb1"
addresses = { public = "10.0.0.1" }
[expect]
check = ["single-vip-owner"]
[[vrrp]]
node = "lb1"
interface = "public"
vrid = 51
priority = 100
advert_int = "1s"
vips = ["10.0.0.100"]
"#;

    #[test]
    fn minimal_scenario_parses() {
        let s = Scenario::parse(MINIMAL, "t.toml").unwrap();
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(s.segments[0].arp_ttl, Duration::from_secs(30));
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let text = MINIMAL.replace("duration = \"10s\"", "duration = \"10s\"\nfoo = 1");
        let e = Scenario::parse(&text, "bad.toml").unwrap_err();
        assert_eq!(e.file, "bad.toml");
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("foo"), "{e}");
    }

    #[test]
    fn wrong_type_names_line() {
        let text = MINIMAL.replace("duration = \"10s\"", "duration = 10");
        let e = Scenario::parse(&text, "bad.toml").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn unknown_node_in_fault_names_line() {
        let text =
            format!("{MINIMAL}\n[[fault]]\nat = \"1s\"\naction = \"pause\"\nnode = \"nope\"\n");
        let e = Scenario::parse(&text, "bad.toml").unwrap_err();
        assert!(e.message.contains("unknown node `nope`"), "{e}");
        assert!(e.line >= 12, "{e}");
    }

    #[test]
    fn unknown_checker_is_rejected() {
        let text = MINIMAL.replace("single-vip-owner", "no-such-check");
        let e = Scenario::parse(&text, "bad.toml").unwrap_err();
        assert!(e.message.contains("unknown invariant"), "{e}");
        assert_eq!((e.line, e.column), (10, 10), "{e}");
    }

    #[test]
    fn unknown_keys_in_nested_tables_name_their_line() {
        let text = MINIMAL.replace("name = \"public\"", "name = \"public\"\nlatencyy = 1");
        let e = Scenario::parse(&text, "bad.toml").unwrap_err();
        assert!(e.message.contains("latencyy"), "{e}");
        assert_eq!(e.line, 6, "{e}");
        let text = format!("{MINIMAL}[[fault]]\nat = \"1s\"\naction = \"heal\"\nnode = \"lb1\"\n");
        let e = Scenario::parse(&text, "bad.toml").unwrap_err();
        assert!(
            e.message
                .contains("key `node` does not apply to action `heal`"),
            "{e}"
        );
        // The `node = ...` line, not the `[[fault]]` header.
        assert_eq!((e.line, e.column), (21, 1), "{e}");
    }

    #[test]
    fn line_col_is_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
