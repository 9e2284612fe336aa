//! Scenario tables for data behind the VIP: per-host TCP sysctls
//! (`[[tcp]]`), the key-value database daemons (`[[kvdb]]`), HAProxy
//! (`[[haproxy]]`) and the data clients' shared settings (`[data]`).
//! Every table is optional: a scenario without them runs no TCP at all.

use crate::limits;
use serde::Deserialize;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;
use toml::Spanned;

/// `[[tcp]]`: the `net.ipv4.tcp_*` sysctls of some hosts (all hosts when
/// `hosts` is absent). Unset keys keep Linux's defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpTable {
    #[serde(default)]
    pub hosts: Option<Spanned<Vec<String>>>,
    #[serde(default, deserialize_with = "limits::opt_period")]
    pub keepalive_time: Option<Duration>,
    #[serde(default, deserialize_with = "limits::opt_period")]
    pub keepalive_intvl: Option<Duration>,
    #[serde(default)]
    pub keepalive_probes: Option<u32>,
    #[serde(default)]
    pub retries2: Option<u32>,
}

impl TcpTable {
    /// Whether the table sets `host`'s sysctls.
    pub fn applies_to(&self, host: &str) -> bool {
        self.hosts
            .as_ref()
            .is_none_or(|h| h.get_ref().iter().any(|n| n == host))
    }

    /// Linux's defaults with this table's settings over them.
    pub fn sysctls(&self) -> hasim_tcp::TcpSysctls {
        let d = hasim_tcp::TcpSysctls::default();
        hasim_tcp::TcpSysctls {
            keepalive_time: self.keepalive_time.unwrap_or(d.keepalive_time),
            keepalive_intvl: self.keepalive_intvl.unwrap_or(d.keepalive_intvl),
            keepalive_probes: self.keepalive_probes.unwrap_or(d.keepalive_probes),
            retries2: self.retries2.unwrap_or(d.retries2),
            ..d
        }
    }

    /// Every named host exists; probes and retries2 are in Linux's ranges.
    pub fn check(&self, hosts: &[&str]) -> Result<(), String> {
        if let Some(list) = &self.hosts {
            for h in list.get_ref() {
                if !hosts.contains(&h.as_str()) {
                    return Err(format!(
                        "[[tcp]] names unknown host `{h}`; expected one of {hosts:?}"
                    ));
                }
            }
        }
        if self.keepalive_probes.is_some_and(|p| p == 0 || p > 127) {
            return Err(
                "[[tcp]] keepalive_probes must be 1 to 127 (Linux's MAX_TCP_KEEPCNT)".into(),
            );
        }
        if self.retries2.is_some_and(|r| r > 255) {
            return Err("[[tcp]] retries2 must be 0 to 255".into());
        }
        Ok(())
    }
}

/// How a kvdb node's role follows keepalived: keepalived's
/// `notify_master` promotes the local database when the node takes the VIP,
/// `notify_backup` makes it a replica of `peer` when it gives the VIP up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowVip {
    pub vip: Ipv4Addr,
    pub peer: String,
}

/// `[[kvdb]]`: a primary/replica database server on a node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvdbSpec {
    pub node: Spanned<String>,
    /// `primary`, or the name of the primary this node replicates from.
    pub replicates_from: Option<String>,
    /// Port the server listens on (every address).
    #[serde(default = "default_db_port")]
    pub port: u16,
    /// Replication delay of a replica.
    #[serde(default = "default_lag", deserialize_with = "limits::delay")]
    pub lag: Duration,
    /// Keepalived notify scripts drive the role (see [`FollowVip`]).
    pub follow_vip: Option<FollowVip>,
}

fn default_db_port() -> u16 {
    3306
}

fn default_lag() -> Duration {
    Duration::from_millis(500)
}

/// One `server` line of a `[[haproxy]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaproxyServer {
    pub name: String,
    pub addr: SocketAddrV4,
    #[serde(default)]
    pub backup: bool,
}

/// `[[haproxy]]`: HAProxy on a node, one `listen` section in TCP mode
/// (`balance source`, checks `inter 2s rise 2 fall 5` unless given).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaproxySpec {
    pub node: Spanned<String>,
    pub bind: SocketAddrV4,
    pub servers: Vec<HaproxyServer>,
    #[serde(default = "default_inter", deserialize_with = "limits::period")]
    pub inter: Duration,
    #[serde(default = "default_rise")]
    pub rise: u32,
    #[serde(default = "default_fall")]
    pub fall: u32,
    #[serde(default)]
    pub tcpka: bool,
}

fn default_inter() -> Duration {
    Duration::from_secs(2)
}
fn default_rise() -> u32 {
    2
}
fn default_fall() -> u32 {
    5
}

/// `[data]`: settings shared by the data clients (`[[client]]` tables with
/// `workload = "kv"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Connections in each client's pool.
    #[serde(default = "default_pool")]
    pub pool_size: usize,
    /// oslo.db's `pool_pre_ping`.
    #[serde(default = "default_true")]
    pub pre_ping: bool,
    /// SO_KEEPALIVE on the client's sockets (libmysqlclient sets it).
    #[serde(default = "default_true")]
    pub keepalive: bool,
    /// Query timeout; none by default (oslo.db over PyMySQL).
    #[serde(default, deserialize_with = "limits::opt_period")]
    pub op_timeout: Option<Duration>,
    /// Every n-th operation is a read.
    #[serde(default = "default_read_every")]
    pub read_every: u32,
    /// When clients stop issuing operations.
    #[serde(deserialize_with = "limits::instant")]
    pub stop_at: Duration,
    /// When each client reads every key for the final check (after faults
    /// heal and the database settles).
    #[serde(deserialize_with = "limits::instant")]
    pub final_read_at: Duration,
}

fn default_pool() -> usize {
    5
}
fn default_true() -> bool {
    true
}
fn default_read_every() -> u32 {
    3
}

impl DataSection {
    /// The workload stops before the final read, which is within the run.
    pub fn check(&self, duration: Duration) -> Result<(), String> {
        if self.pool_size == 0 || self.pool_size > 64 {
            return Err("[data] pool_size must be 1 to 64".into());
        }
        if self.stop_at >= self.final_read_at || self.final_read_at >= duration {
            return Err(format!(
                "[data] expected stop_at < final_read_at < duration ({}), got {} and {}",
                limits::show(duration),
                limits::show(self.stop_at),
                limits::show(self.final_read_at)
            ));
        }
        Ok(())
    }
}

/// `connections-recover`'s bound for a scenario's data clients: `[expect]
/// max_hang` when given, else what the first kv client host's TCP settings
/// guarantee. Reconnection is lazy (oslo.db opens a connection when an
/// operation needs one), so replacing a closed connection may take up to
/// the longest kv client interval plus a retry (1 s) on top.
pub fn connection_bound(
    scenario: &crate::scenario::Scenario,
) -> Option<hasim_data::checkers::RecoveryBound> {
    let kv: Vec<&crate::scenario::Client> = scenario
        .clients
        .iter()
        .filter(|c| c.workload == crate::scenario::Workload::Kv)
        .collect();
    let first = kv.first()?;
    let interval = kv.iter().map(|c| c.interval).max().unwrap_or_default();
    let reconnect = interval + Duration::from_secs(1);
    if let Some(max_hang) = scenario.expect.max_hang {
        return Some(hasim_data::checkers::RecoveryBound {
            detect: max_hang,
            reconnect: reconnect + max_hang,
        });
    }
    let name = first.name.get_ref();
    let sysctls = scenario
        .tcp
        .iter()
        .rev()
        .map(|t| t.get_ref())
        .find(|t| t.applies_to(name))
        .map(TcpTable::sysctls)
        .unwrap_or_default();
    let keepalive = scenario.data.as_ref().is_none_or(|d| d.get_ref().keepalive);
    let opts = hasim_tcp::SocketOptions {
        keepalive,
        ..Default::default()
    };
    hasim_data::checkers::recovery_bound(&sysctls, &opts, reconnect)
}
