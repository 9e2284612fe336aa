//! Typed corosync.conf: the settings hasim's cores consume, still raw (no defaults
//! applied), plus the warnings corosync would log.
//!
//! Value checks follow corosync 3.1.7: integer keys use the cmap type's range
//! (coroparse), enumerations are the ones coroparse, totemconfig and logconfig reject.
//! Keys that corosync stores without reading produce a warning here so typos are visible.

use crate::error::{ParseError, Pos, Warning};
use crate::tree::{Document, Entry, Section};
use crate::value::{i32_of, one_of, u16_of, u32_of, u64_of, u8_of};

/// Totem transport (`totem.transport`); corosync 3 defaults to knet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP multicast.
    Udp,
    /// UDP unicast to every nodelist member.
    Udpu,
    /// Kronosnet (corosync 3 default).
    Knet,
}

/// `totem.ip_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    /// `ipv4`
    Ipv4,
    /// `ipv6`
    Ipv6,
    /// `ipv4-6`: resolve IPv4 first, fall back to IPv6.
    Ipv4Then6,
    /// `ipv6-4`: resolve IPv6 first, fall back to IPv4.
    Ipv6Then4,
}

/// `totem.crypto_cipher`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoCipher {
    /// `none`
    None,
    /// `aes256`
    Aes256,
    /// `aes192`
    Aes192,
    /// `aes128`
    Aes128,
}

/// `totem.crypto_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoHash {
    /// `none`
    None,
    /// `md5`
    Md5,
    /// `sha1`
    Sha1,
    /// `sha256`
    Sha256,
    /// `sha384`
    Sha384,
    /// `sha512`
    Sha512,
}

/// One `totem { interface { ... } }` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interface {
    /// Line of the `interface {` header.
    pub line: u32,
    /// `linknumber` (0..255). Corosync 3 puts an interface without it on link 0.
    pub linknumber: Option<u8>,
    /// `ringnumber` (corosync 1/2 name). Corosync 3 ignores it; kept raw for old configs.
    pub ringnumber: Option<String>,
    /// `bindnetaddr`
    pub bindnetaddr: Option<String>,
    /// `mcastaddr`
    pub mcastaddr: Option<String>,
    /// `broadcast` (`yes` to use broadcast instead of multicast with udp).
    pub broadcast: Option<String>,
    /// `mcastport` (0..65535; corosync default 5405).
    pub mcastport: Option<u16>,
    /// `ttl` (0..255)
    pub ttl: Option<u8>,
    /// `knet_link_priority` (0..255)
    pub knet_link_priority: Option<u8>,
    /// `knet_ping_interval` (ms)
    pub knet_ping_interval: Option<u32>,
    /// `knet_ping_timeout` (ms)
    pub knet_ping_timeout: Option<u32>,
    /// `knet_ping_precision`
    pub knet_ping_precision: Option<u32>,
    /// `knet_pong_count`
    pub knet_pong_count: Option<u32>,
    /// `knet_transport` (`udp` or `sctp`)
    pub knet_transport: Option<String>,
    /// Deprecated `member { memberaddr: ... }` addresses, in order.
    pub members: Vec<String>,
}

impl Interface {
    /// The link this interface configures under corosync 3 rules: `linknumber`, else 0
    /// (`ringnumber` is not read by corosync 3).
    pub fn link(&self) -> u8 {
        self.linknumber.unwrap_or(0)
    }
}

/// The `totem { ... }` section. Every value is raw: `None` means "not set, use the
/// corosync default" (see [`crate::defaults`]); timer derivation lives in the totem crate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)] // field names are the corosync.conf(5) key names
pub struct Totem {
    pub version: Option<u32>,
    pub cluster_name: Option<String>,
    pub config_version: Option<u64>,
    /// Deprecated and ignored by corosync 3 (warning emitted).
    pub nodeid: Option<u32>,
    pub threads: Option<u32>,
    pub token: Option<u32>,
    pub token_coefficient: Option<u32>,
    pub token_retransmit: Option<u32>,
    pub token_warning: Option<u32>,
    pub token_retransmits_before_loss_const: Option<u32>,
    pub hold: Option<u32>,
    pub join: Option<u32>,
    pub send_join: Option<u32>,
    pub consensus: Option<u32>,
    pub merge: Option<u32>,
    pub downcheck: Option<u32>,
    pub fail_recv_const: Option<u32>,
    pub seqno_unchanged_const: Option<u32>,
    pub heartbeat_failures_allowed: Option<u32>,
    pub max_network_delay: Option<u32>,
    pub window_size: Option<u32>,
    pub max_messages: Option<u32>,
    pub miss_count_const: Option<u32>,
    pub netmtu: Option<u32>,
    pub knet_pmtud_interval: Option<u32>,
    pub knet_mtu: Option<u32>,
    pub knet_compression_threshold: Option<u32>,
    pub knet_compression_level: Option<i32>,
    pub knet_compression_model: Option<String>,
    pub transport: Option<Transport>,
    /// Corosync 1/2 redundant ring mode; corosync 3 stores it and ignores it.
    pub rrp_mode: Option<String>,
    /// knet link mode (`passive`, `active`, `rr`).
    pub link_mode: Option<String>,
    /// `secauth`: `Some(true)` only for the exact word `on`, as corosync reads it.
    pub secauth: Option<bool>,
    pub crypto_cipher: Option<CryptoCipher>,
    pub crypto_hash: Option<CryptoHash>,
    pub crypto_model: Option<String>,
    pub ip_version: Option<IpVersion>,
    /// `clear_node_high_bit`: true only for `yes`.
    pub clear_node_high_bit: Option<bool>,
    pub block_unlisted_ips: Option<bool>,
    pub cancel_token_hold_on_retransmit: Option<bool>,
    pub keyfile: Option<String>,
    pub interfaces: Vec<Interface>,
}

/// One `nodelist { node { ... } }` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// Line of the `node {` header.
    pub line: u32,
    /// `nodeid`
    pub nodeid: Option<u32>,
    /// `name`
    pub name: Option<String>,
    /// `quorum_votes` (votequorum counts 1 when absent).
    pub quorum_votes: Option<u32>,
    /// `ringX_addr` by link number X (0..7), sorted by X.
    pub ring_addrs: Vec<(u8, String)>,
}

impl Node {
    /// Address on link `link`, if configured.
    pub fn ring_addr(&self, link: u8) -> Option<&str> {
        self.ring_addrs
            .iter()
            .find(|(l, _)| *l == link)
            .map(|(_, a)| a.as_str())
    }
}

/// `quorum.auto_tie_breaker_node`, interpreted as votequorum does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TieBreaker {
    /// The partition holding the lowest node id wins an even split (the default).
    Lowest,
    /// The partition holding the highest node id wins.
    Highest,
    /// The first listed node present decides, in list order.
    List(Vec<u32>),
}

impl TieBreaker {
    /// Interpret an `auto_tie_breaker_node` string the way votequorum does: `lowest`,
    /// `highest`, or node ids separated by spaces. `None` means invalid (votequorum then
    /// logs a warning and disables the tie breaker).
    pub fn parse(s: &str) -> Option<TieBreaker> {
        if s == "lowest" {
            return Some(TieBreaker::Lowest);
        }
        if s == "highest" {
            return Some(TieBreaker::Highest);
        }
        // votequorum reads numbers with strtol until one of them is 0 or unparsable.
        let mut ids = Vec::new();
        for word in s.split([' ', '\t', '\n']).filter(|w| !w.is_empty()) {
            let digits: String = word
                .chars()
                .enumerate()
                .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
                .map(|(_, c)| c)
                .collect();
            match digits.parse::<i64>() {
                Ok(n) if n != 0 => ids.push(u32::try_from(n).unwrap_or(0)),
                _ => break,
            }
            if digits.len() != word.len() {
                break;
            }
        }
        if ids.is_empty() || ids.contains(&0) {
            None
        } else {
            Some(TieBreaker::List(ids))
        }
    }
}

/// The `quorum { ... }` section (raw values; votequorum applies defaults and implications).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)] // field names are the votequorum(5) key names
pub struct Quorum {
    pub provider: Option<String>,
    pub expected_votes: Option<u32>,
    /// `quorum.votes`: this node's votes when there is no nodelist.
    pub votes: Option<u32>,
    pub two_node: Option<bool>,
    pub wait_for_all: Option<bool>,
    pub last_man_standing: Option<bool>,
    pub last_man_standing_window: Option<u32>,
    pub auto_tie_breaker: Option<bool>,
    /// Raw `auto_tie_breaker_node`; see [`TieBreaker::parse`].
    pub auto_tie_breaker_node: Option<String>,
    pub allow_downscale: Option<bool>,
    pub expected_votes_tracking: Option<bool>,
    pub leaving_timeout: Option<u32>,
    /// `device { model: ... }` is present (qdevice; not modelled further).
    pub device_model: Option<String>,
}

/// `logging.debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Debug {
    /// `off`
    Off,
    /// `on`
    On,
    /// `trace`
    Trace,
}

/// `logging.timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// `off`
    Off,
    /// `on`
    On,
    /// `hires`
    Hires,
}

/// Logging options shared by `logging` and `logger_subsys`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)] // field names are the corosync.conf(5) key names
pub struct LogOptions {
    pub to_stderr: Option<bool>,
    pub to_logfile: Option<bool>,
    pub to_syslog: Option<bool>,
    pub logfile: Option<String>,
    pub logfile_priority: Option<String>,
    pub syslog_facility: Option<String>,
    pub syslog_priority: Option<String>,
    pub debug: Option<Debug>,
}

/// One `logging { logger_subsys { subsys: NAME ... } }` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoggerSubsys {
    /// `subsys` (required by corosync).
    pub subsys: String,
    /// The subsystem's own options.
    pub options: LogOptions,
}

/// The `logging { ... }` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)] // field names are the corosync.conf(5) key names
pub struct Logging {
    pub options: LogOptions,
    pub timestamp: Option<Timestamp>,
    pub fileline: Option<bool>,
    pub function_name: Option<bool>,
    pub blackbox: Option<bool>,
    pub logger_subsys: Vec<LoggerSubsys>,
}

/// A typed corosync.conf.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorosyncConf {
    /// `totem { }`
    pub totem: Totem,
    /// `nodelist { node { } ... }` in file order.
    pub nodelist: Vec<Node>,
    /// `quorum { }`
    pub quorum: Quorum,
    /// `logging { }`
    pub logging: Logging,
}

impl CorosyncConf {
    /// The node with this node id, if the nodelist has it.
    pub fn node_by_id(&self, nodeid: u32) -> Option<&Node> {
        self.nodelist.iter().find(|n| n.nodeid == Some(nodeid))
    }
}

struct Ctx<'a> {
    file: &'a str,
    warnings: Vec<Warning>,
}

impl Ctx<'_> {
    fn warn(&mut self, line: u32, message: String) {
        self.warnings.push(Warning {
            file: self.file.to_string(),
            line,
            message,
        });
    }

    fn unknown_key(&mut self, path: &str, e: &Entry) {
        self.warn(
            e.key_pos.line,
            format!(
                "unknown key \"{path}.{}\" (stored by corosync but not used)",
                e.key
            ),
        );
    }

    fn unknown_section(&mut self, path: &str, s: &Section) {
        let full = if path.is_empty() {
            s.name.clone()
        } else {
            format!("{path}.{}", s.name)
        };
        self.warn(
            s.pos.line,
            format!("unknown section \"{full}\" (stored by corosync but not used)"),
        );
    }
}

fn yes_no(file: &str, path: &str, e: &Entry) -> Result<bool, ParseError> {
    Ok(one_of(file, path, e, &["yes", "no"])? == "yes")
}

fn on_off(file: &str, path: &str, e: &Entry) -> Result<bool, ParseError> {
    Ok(one_of(file, path, e, &["on", "off"])? == "on")
}

fn yes_no_on_off(file: &str, path: &str, e: &Entry) -> Result<bool, ParseError> {
    let v = one_of(file, path, e, &["yes", "no", "on", "off"])?;
    Ok(v == "yes" || v == "on")
}

fn totem(ctx: &mut Ctx<'_>, s: &Section, t: &mut Totem) -> Result<(), ParseError> {
    let f = ctx.file;
    for e in s.entries() {
        let p = format!("totem.{}", e.key);
        let p = p.as_str();
        match e.key.as_str() {
            "version" => t.version = Some(u32_of(f, p, e)?),
            "cluster_name" => t.cluster_name = Some(e.value.clone()),
            "config_version" => t.config_version = Some(u64_of(f, p, e)?),
            "nodeid" => {
                t.nodeid = Some(u32_of(f, p, e)?);
                ctx.warn(
                    e.key_pos.line,
                    "nodeid in totem section is deprecated and ignored; use nodelist.node.nodeid"
                        .into(),
                );
            }
            "threads" => t.threads = Some(u32_of(f, p, e)?),
            "token" => t.token = Some(u32_of(f, p, e)?),
            "token_coefficient" => t.token_coefficient = Some(u32_of(f, p, e)?),
            "token_retransmit" => t.token_retransmit = Some(u32_of(f, p, e)?),
            "token_warning" => t.token_warning = Some(u32_of(f, p, e)?),
            "token_retransmits_before_loss_const" => {
                t.token_retransmits_before_loss_const = Some(u32_of(f, p, e)?)
            }
            "hold" => t.hold = Some(u32_of(f, p, e)?),
            "join" => t.join = Some(u32_of(f, p, e)?),
            "send_join" => t.send_join = Some(u32_of(f, p, e)?),
            "consensus" => t.consensus = Some(u32_of(f, p, e)?),
            "merge" => t.merge = Some(u32_of(f, p, e)?),
            "downcheck" => t.downcheck = Some(u32_of(f, p, e)?),
            "fail_recv_const" => t.fail_recv_const = Some(u32_of(f, p, e)?),
            "seqno_unchanged_const" => t.seqno_unchanged_const = Some(u32_of(f, p, e)?),
            "heartbeat_failures_allowed" => t.heartbeat_failures_allowed = Some(u32_of(f, p, e)?),
            "max_network_delay" => t.max_network_delay = Some(u32_of(f, p, e)?),
            "window_size" => t.window_size = Some(u32_of(f, p, e)?),
            "max_messages" => t.max_messages = Some(u32_of(f, p, e)?),
            "miss_count_const" => t.miss_count_const = Some(u32_of(f, p, e)?),
            "netmtu" => t.netmtu = Some(u32_of(f, p, e)?),
            "knet_pmtud_interval" => t.knet_pmtud_interval = Some(u32_of(f, p, e)?),
            "knet_mtu" => t.knet_mtu = Some(u32_of(f, p, e)?),
            "knet_compression_threshold" => t.knet_compression_threshold = Some(u32_of(f, p, e)?),
            "knet_compression_level" => t.knet_compression_level = Some(i32_of(f, p, e)?),
            "knet_compression_model" => t.knet_compression_model = Some(e.value.clone()),
            "rrp_token_expired_timeout"
            | "rrp_problem_count_timeout"
            | "rrp_problem_count_threshold"
            | "rrp_problem_count_mcast_threshold"
            | "rrp_autorecovery_check_timeout" => {
                u32_of(f, p, e)?;
                ctx.warn(
                    e.key_pos.line,
                    format!("\"{p}\" is a corosync 2 RRP setting; corosync 3 ignores it"),
                );
            }
            "transport" => {
                t.transport = Some(match one_of(f, p, e, &["udpu", "udp", "knet"])? {
                    "udpu" => Transport::Udpu,
                    "udp" => Transport::Udp,
                    _ => Transport::Knet,
                })
            }
            "rrp_mode" => {
                t.rrp_mode = Some(e.value.clone());
                ctx.warn(
                    e.key_pos.line,
                    "\"totem.rrp_mode\" is a corosync 2 setting; corosync 3 ignores it (see link_mode)".into(),
                );
            }
            "link_mode" => {
                // totemconfig rejects link modes that do not fit its 16-byte buffer.
                if e.value.len() >= 16 {
                    return Err(ParseError::new(
                        f,
                        e.value_pos,
                        "expected a link_mode shorter than 16 characters (passive, active or rr)",
                    ));
                }
                t.link_mode = Some(e.value.clone())
            }
            "secauth" => t.secauth = Some(e.value == "on"),
            "crypto_cipher" => {
                t.crypto_cipher = Some(
                    match one_of(f, p, e, &["none", "aes256", "aes192", "aes128"])? {
                        "aes256" => CryptoCipher::Aes256,
                        "aes192" => CryptoCipher::Aes192,
                        "aes128" => CryptoCipher::Aes128,
                        _ => CryptoCipher::None,
                    },
                )
            }
            "crypto_hash" => {
                t.crypto_hash = Some(
                    match one_of(
                        f,
                        p,
                        e,
                        &["none", "md5", "sha1", "sha256", "sha384", "sha512"],
                    )? {
                        "md5" => CryptoHash::Md5,
                        "sha1" => CryptoHash::Sha1,
                        "sha256" => CryptoHash::Sha256,
                        "sha384" => CryptoHash::Sha384,
                        "sha512" => CryptoHash::Sha512,
                        _ => CryptoHash::None,
                    },
                )
            }
            "crypto_model" => t.crypto_model = Some(one_of(f, p, e, &["nss", "openssl"])?.into()),
            "ip_version" => {
                t.ip_version = Some(
                    match one_of(f, p, e, &["ipv4", "ipv6", "ipv4-6", "ipv6-4"])? {
                        "ipv4" => IpVersion::Ipv4,
                        "ipv6" => IpVersion::Ipv6,
                        "ipv4-6" => IpVersion::Ipv4Then6,
                        _ => IpVersion::Ipv6Then4,
                    },
                )
            }
            "clear_node_high_bit" => t.clear_node_high_bit = Some(e.value == "yes"),
            "block_unlisted_ips" => t.block_unlisted_ips = Some(yes_no(f, p, e)?),
            "cancel_token_hold_on_retransmit" => {
                t.cancel_token_hold_on_retransmit = Some(yes_no(f, p, e)?)
            }
            "keyfile" => t.keyfile = Some(e.value.clone()),
            "key" => {}
            "vsftype" => ctx.warn(
                e.key_pos.line,
                "\"totem.vsftype\" is a corosync 1 setting; corosync 3 ignores it".into(),
            ),
            _ => ctx.unknown_key("totem", e),
        }
    }
    for sub in s.sections() {
        if sub.name == "interface" {
            t.interfaces.push(interface(ctx, sub)?);
        } else {
            ctx.unknown_section("totem", sub);
        }
    }
    // totemconfig: secauth "on" means aes256 + sha256 unless crypto_* override them;
    // a cipher without a hash is refused.
    let on = t.secauth == Some(true);
    let cipher = t.crypto_cipher.unwrap_or(if on {
        CryptoCipher::Aes256
    } else {
        CryptoCipher::None
    });
    let hash = t.crypto_hash.unwrap_or(if on {
        CryptoHash::Sha256
    } else {
        CryptoHash::None
    });
    if cipher != CryptoCipher::None && hash == CryptoHash::None {
        return Err(ParseError::new(
            f,
            s.pos,
            "expected crypto_hash other than none, because crypto_cipher requires it",
        ));
    }
    Ok(())
}

fn interface(ctx: &mut Ctx<'_>, s: &Section) -> Result<Interface, ParseError> {
    let f = ctx.file;
    let mut i = Interface {
        line: s.pos.line,
        ..Interface::default()
    };
    for e in s.entries() {
        let p = format!("totem.interface.{}", e.key);
        let p = p.as_str();
        match e.key.as_str() {
            "linknumber" => i.linknumber = Some(u8_of(f, p, e)?),
            "ringnumber" => {
                i.ringnumber = Some(e.value.clone());
                ctx.warn(
                    e.key_pos.line,
                    "\"ringnumber\" is not read by corosync 3 (use linknumber); this interface configures link 0 unless linknumber is set".into(),
                );
            }
            "bindnetaddr" => i.bindnetaddr = Some(e.value.clone()),
            "mcastaddr" => i.mcastaddr = Some(e.value.clone()),
            "broadcast" => i.broadcast = Some(e.value.clone()),
            "mcastport" => i.mcastport = Some(u16_of(f, p, e)?),
            "ttl" => i.ttl = Some(u8_of(f, p, e)?),
            "knet_link_priority" => i.knet_link_priority = Some(u8_of(f, p, e)?),
            "knet_ping_interval" => i.knet_ping_interval = Some(u32_of(f, p, e)?),
            "knet_ping_timeout" => i.knet_ping_timeout = Some(u32_of(f, p, e)?),
            "knet_ping_precision" => i.knet_ping_precision = Some(u32_of(f, p, e)?),
            "knet_pong_count" => i.knet_pong_count = Some(u32_of(f, p, e)?),
            "knet_transport" => i.knet_transport = Some(e.value.clone()),
            _ => ctx.unknown_key("totem.interface", e),
        }
    }
    for sub in s.sections() {
        if sub.name == "member" {
            ctx.warn(sub.pos.line, "member section is deprecated".into());
            for e in sub.entries() {
                if e.key != "memberaddr" {
                    return Err(ParseError::new(
                        f,
                        e.key_pos,
                        format!(
                            "expected only memberaddr in member section, found \"{}\"",
                            e.key
                        ),
                    ));
                }
                i.members.push(e.value.clone());
            }
        } else {
            ctx.unknown_section("totem.interface", sub);
        }
    }
    Ok(i)
}

fn node(ctx: &mut Ctx<'_>, s: &Section) -> Result<Node, ParseError> {
    let f = ctx.file;
    let mut n = Node {
        line: s.pos.line,
        ..Node::default()
    };
    for e in s.entries() {
        let p = format!("nodelist.node.{}", e.key);
        let p = p.as_str();
        let ring = e
            .key
            .strip_prefix("ring")
            .and_then(|r| r.strip_suffix("_addr"))
            .and_then(|d| d.parse::<u8>().ok().filter(|x| *x < 8 && d.len() == 1));
        match (e.key.as_str(), ring) {
            ("nodeid", _) => n.nodeid = Some(nodeid_of(f, p, e)?),
            ("quorum_votes", _) => n.quorum_votes = Some(u32_of(f, p, e)?),
            ("name", _) => n.name = Some(e.value.clone()),
            (_, Some(link)) => {
                n.ring_addrs.retain(|(l, _)| *l != link);
                n.ring_addrs.push((link, e.value.clone()));
                n.ring_addrs.sort_by_key(|(l, _)| *l);
            }
            _ => ctx.unknown_key("nodelist.node", e),
        }
    }
    for sub in s.sections() {
        ctx.unknown_section("nodelist.node", sub);
    }
    Ok(n)
}

/// A nodeid: corosync and votequorum use 0 for "no node" / "this node"
/// (votequorum_getinfo, cfg's node status), so a node numbered 0 never joins.
fn nodeid_of(file: &str, path: &str, e: &Entry) -> Result<u32, ParseError> {
    let id = u32_of(file, path, e)?;
    if id == 0 {
        return Err(ParseError::new(
            file,
            e.value_pos,
            format!(
                "{path}: expected a nodeid from 1 to {}; 0 means \"no node\" to corosync",
                u32::MAX
            ),
        ));
    }
    Ok(id)
}

/// Corosync refuses to start when two nodes share a nodeid
/// (totemconfig.c, check_for_duplicate_nodeids); so do we, at the second one.
fn check_duplicate_nodeids(file: &str, nodelist: &[Node]) -> Result<(), ParseError> {
    let mut first_seen: std::collections::BTreeMap<u32, u32> = std::collections::BTreeMap::new();
    for node in nodelist {
        let Some(id) = node.nodeid else { continue };
        if let Some(first) = first_seen.insert(id, node.line) {
            return Err(ParseError::new(
                file,
                Pos::new(node.line, 1),
                format!("Nodeid {id} appears twice in corosync.conf (first in the node at line {first})"),
            ));
        }
    }
    Ok(())
}

fn quorum(ctx: &mut Ctx<'_>, s: &Section, q: &mut Quorum) -> Result<(), ParseError> {
    let f = ctx.file;
    for e in s.entries() {
        let p = format!("quorum.{}", e.key);
        let p = p.as_str();
        // votequorum's switches are uint8 in cmap: any value 0..255, non-zero means on.
        let flag = |e: &Entry| u8_of(f, p, e).map(|v| v != 0);
        match e.key.as_str() {
            "provider" => q.provider = Some(e.value.clone()),
            "expected_votes" => q.expected_votes = Some(u32_of(f, p, e)?),
            "votes" => q.votes = Some(u32_of(f, p, e)?),
            "last_man_standing_window" => q.last_man_standing_window = Some(u32_of(f, p, e)?),
            "leaving_timeout" => q.leaving_timeout = Some(u32_of(f, p, e)?),
            "two_node" => q.two_node = Some(flag(e)?),
            "wait_for_all" => q.wait_for_all = Some(flag(e)?),
            "last_man_standing" => q.last_man_standing = Some(flag(e)?),
            "auto_tie_breaker" => q.auto_tie_breaker = Some(flag(e)?),
            "allow_downscale" => q.allow_downscale = Some(flag(e)?),
            "expected_votes_tracking" => q.expected_votes_tracking = Some(flag(e)?),
            "auto_tie_breaker_node" => {
                if TieBreaker::parse(&e.value).is_none() {
                    ctx.warn(
                        e.key_pos.line,
                        "auto_tie_breaker_node is not valid: it must be 'lowest', 'highest' or a space-separated list of node IDs; auto_tie_breaker is disabled".into(),
                    );
                }
                q.auto_tie_breaker_node = Some(e.value.clone())
            }
            _ => ctx.unknown_key("quorum", e),
        }
    }
    for sub in s.sections() {
        if sub.name == "device" {
            for e in sub.entries() {
                let p = format!("quorum.device.{}", e.key);
                match e.key.as_str() {
                    "timeout" | "sync_timeout" | "votes" => {
                        u32_of(f, &p, e)?;
                    }
                    "master_wins" => {
                        u8_of(f, &p, e)?;
                    }
                    "model" => q.device_model = Some(e.value.clone()),
                    _ => {}
                }
            }
        } else {
            ctx.unknown_section("quorum", sub);
        }
    }
    if let (Some(p), Some(e)) = (&q.provider, s.get("provider")) {
        if p != "corosync_votequorum" {
            return Err(ParseError::new(
                f,
                e.value_pos,
                format!("expected quorum provider corosync_votequorum, but \"{p}\" was given"),
            ));
        }
    }
    Ok(())
}

/// Reads one logging option shared by `logging` and `logger_subsys`; false if not one.
fn log_option(path: &str, f: &str, e: &Entry, o: &mut LogOptions) -> Result<bool, ParseError> {
    let p = format!("{path}.{}", e.key);
    let p = p.as_str();
    match e.key.as_str() {
        "to_stderr" => o.to_stderr = Some(yes_no_on_off(f, p, e)?),
        "to_logfile" => o.to_logfile = Some(yes_no_on_off(f, p, e)?),
        "to_syslog" => o.to_syslog = Some(yes_no_on_off(f, p, e)?),
        "logfile" => o.logfile = Some(e.value.clone()),
        "logfile_priority" => o.logfile_priority = Some(e.value.clone()),
        "syslog_facility" => o.syslog_facility = Some(e.value.clone()),
        "syslog_priority" => o.syslog_priority = Some(e.value.clone()),
        "debug" => {
            o.debug = Some(match one_of(f, p, e, &["on", "off", "trace"])? {
                "on" => Debug::On,
                "trace" => Debug::Trace,
                _ => Debug::Off,
            })
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn logging(ctx: &mut Ctx<'_>, s: &Section, l: &mut Logging) -> Result<(), ParseError> {
    let f = ctx.file;
    for e in s.entries() {
        let p = format!("logging.{}", e.key);
        let p = p.as_str();
        if log_option("logging", f, e, &mut l.options)? {
            continue;
        }
        match e.key.as_str() {
            "timestamp" => {
                l.timestamp = Some(match one_of(f, p, e, &["on", "hires", "off"])? {
                    "on" => Timestamp::On,
                    "hires" => Timestamp::Hires,
                    _ => Timestamp::Off,
                })
            }
            "fileline" => l.fileline = Some(on_off(f, p, e)?),
            "function_name" => l.function_name = Some(on_off(f, p, e)?),
            "blackbox" => l.blackbox = Some(on_off(f, p, e)?),
            _ => ctx.unknown_key("logging", e),
        }
    }
    for sub in s.sections() {
        match sub.name.as_str() {
            "logger_subsys" => {
                let mut ls = LoggerSubsys::default();
                let mut subsys = None;
                for e in sub.entries() {
                    if e.key == "subsys" {
                        subsys = Some(e.value.clone());
                    } else if !log_option("logging.logger_subsys", f, e, &mut ls.options)? {
                        ctx.unknown_key("logging.logger_subsys", e);
                    }
                }
                ls.subsys = subsys.ok_or_else(|| {
                    ParseError::new(
                        f,
                        sub.pos,
                        "expected a subsys key in logger_subsys directive",
                    )
                })?;
                l.logger_subsys.push(ls);
            }
            "logging_daemon" => {
                if sub.get("name").is_none() {
                    return Err(ParseError::new(
                        f,
                        sub.pos,
                        "expected a name key in logging_daemon directive",
                    ));
                }
            }
            _ => ctx.unknown_section("logging", sub),
        }
    }
    Ok(())
}

fn system(ctx: &mut Ctx<'_>, s: &Section) -> Result<(), ParseError> {
    let f = ctx.file;
    for e in s.entries() {
        let p = format!("system.{}", e.key);
        let p = p.as_str();
        match e.key.as_str() {
            "qb_ipc_type" => {
                one_of(f, p, e, &["native", "shm", "socket"])?;
            }
            "sched_rr" | "allow_knet_handle_fallback" => {
                one_of(f, p, e, &["yes", "no"])?;
            }
            "move_to_root_cgroup" => {
                one_of(f, p, e, &["yes", "no", "auto"])?;
            }
            "priority" | "state_dir" => {}
            _ => ctx.unknown_key("system", e),
        }
    }
    for sub in s.sections() {
        ctx.unknown_section("system", sub);
    }
    Ok(())
}

fn uidgid(ctx: &mut Ctx<'_>, s: &Section) -> Result<(), ParseError> {
    for e in s.entries() {
        if e.key != "uid" && e.key != "gid" {
            return Err(ParseError::new(
                ctx.file,
                e.key_pos,
                format!("expected uid or gid in uidgid section, found \"{}\"", e.key),
            ));
        }
    }
    Ok(())
}

fn resources(ctx: &mut Ctx<'_>, s: &Section, path: &str) -> Result<(), ParseError> {
    for e in s.entries() {
        let p = format!("{path}.{}", e.key);
        match e.key.as_str() {
            "watchdog_timeout" if path == "resources" => {
                u32_of(ctx.file, &p, e)?;
            }
            "poll_period" if path != "resources" => {
                u64_of(ctx.file, &p, e)?;
            }
            _ => {}
        }
    }
    for sub in s.sections() {
        resources(ctx, sub, &format!("{path}.{}", sub.name))?;
    }
    Ok(())
}

/// Build the typed configuration from a parsed tree, with corosync's warnings.
pub fn from_tree(doc: &Document) -> Result<(CorosyncConf, Vec<Warning>), ParseError> {
    let mut ctx = Ctx {
        file: &doc.file,
        warnings: Vec::new(),
    };
    let mut conf = CorosyncConf::default();
    for e in doc.root.entries() {
        ctx.warn(
            e.key_pos.line,
            format!(
                "unknown top-level key \"{}\" (stored by corosync but not used)",
                e.key
            ),
        );
    }
    for s in doc.root.sections() {
        match s.name.as_str() {
            "totem" => totem(&mut ctx, s, &mut conf.totem)?,
            "nodelist" => {
                for e in s.entries() {
                    ctx.unknown_key("nodelist", e);
                }
                for sub in s.sections() {
                    if sub.name == "node" {
                        conf.nodelist.push(node(&mut ctx, sub)?);
                    } else {
                        ctx.unknown_section("nodelist", sub);
                    }
                }
            }
            "quorum" => quorum(&mut ctx, s, &mut conf.quorum)?,
            "logging" => logging(&mut ctx, s, &mut conf.logging)?,
            "system" => system(&mut ctx, s)?,
            "uidgid" => uidgid(&mut ctx, s)?,
            "resources" => resources(&mut ctx, s, "resources")?,
            "nozzle" | "qb" => {}
            "service" | "aisexec" | "amf" => ctx.warn(
                s.pos.line,
                format!(
                    "section \"{}\" is a corosync 1/2 plugin setting; corosync 3 ignores it",
                    s.name
                ),
            ),
            _ => ctx.unknown_section("", s),
        }
    }
    check_duplicate_nodeids(&doc.file, &conf.nodelist)?;
    let has_nodelist_addrs = conf.nodelist.iter().any(|n| n.ring_addr(0).is_some());
    if has_nodelist_addrs {
        if let Some(i) = conf
            .totem
            .interfaces
            .iter()
            .find(|i| i.bindnetaddr.is_some())
        {
            ctx.warn(
                i.line,
                "interface section bindnetaddr is used together with nodelist; nodelist one is going to be used".into(),
            );
        }
    }
    Ok((conf, ctx.warnings))
}
