//! What one corosync node runs with, derived from corosync.conf.

use hasim_corosync_conf::{CorosyncConf, Transport};
use hasim_totem::{NodeSetup, TotemConfig};
use hasim_votequorum as vq;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Everything one corosync node runs with.
#[derive(Debug, Clone)]
pub struct CorosyncSetup {
    pub node_id: u32,
    pub totem: NodeSetup,
    pub quorum: vq::Config,
    /// Node id -> address per link (index = link number).
    pub addresses: BTreeMap<u32, Vec<Ipv4Addr>>,
    /// Multicast group per link, when the transport is `udp`.
    pub mcast: Vec<Option<Ipv4Addr>>,
    pub port: u16,
    /// Multicast a test message this often (agreed-order checking load).
    pub load_interval: Option<Duration>,
    /// What corosync would log at startup about its timers and quorum.
    pub startup_log: Vec<String>,
    /// Which of corosync 3.1.7's known Totem deviations to reproduce
    /// (default: all of them, as the real corosync behaves).
    pub quirks: hasim_totem::srp::Quirks,
    /// Grows with every start of the node; part of every test message's
    /// identity, so a rebooted node's counter starting again at 1 is new.
    pub boot_epoch: u64,
}

/// Map corosync.conf's raw totem keys onto the Totem core's configuration.
pub fn totem_config(conf: &CorosyncConf) -> TotemConfig {
    let t = &conf.totem;
    TotemConfig {
        token: t.token,
        token_coefficient: t.token_coefficient,
        token_retransmits_before_loss_const: t.token_retransmits_before_loss_const,
        token_retransmit: t.token_retransmit,
        token_warning: t.token_warning,
        hold: t.hold,
        join: t.join,
        send_join: t.send_join,
        consensus: t.consensus,
        merge: t.merge,
        downcheck: t.downcheck,
        fail_recv_const: t.fail_recv_const,
        seqno_unchanged_const: t.seqno_unchanged_const,
        max_network_delay: t.max_network_delay,
        window_size: t.window_size,
        max_messages: t.max_messages,
        miss_count_const: t.miss_count_const,
        heartbeat_failures_allowed: t.heartbeat_failures_allowed,
        netmtu: t.netmtu,
    }
}

/// The secauth key hasim uses when a config enables crypto. Real corosync
/// reads /etc/corosync/authkey; every node of a simulated cluster shares
/// this one, derived from the cluster name so distinct clusters differ.
fn authkey(conf: &CorosyncConf) -> Vec<u8> {
    let name = conf.totem.cluster_name.clone().unwrap_or_default();
    let mut key = b"hasim-authkey:".to_vec();
    key.extend_from_slice(name.as_bytes());
    key.resize(128, 0x5a);
    key
}

fn crypto_enabled(conf: &CorosyncConf) -> bool {
    use hasim_corosync_conf::CryptoCipher;
    matches!(conf.totem.crypto_cipher, Some(c) if c != CryptoCipher::None)
        || conf.totem.secauth == Some(true)
}

/// Node id -> IPv4 address per link, from the nodelist.
fn nodelist_addresses(conf: &CorosyncConf) -> Result<BTreeMap<u32, Vec<Ipv4Addr>>, String> {
    let mut addresses = BTreeMap::new();
    for node in &conf.nodelist {
        let Some(id) = node.nodeid else {
            return Err(format!(
                "node at line {} has no nodeid (hasim needs explicit nodeids)",
                node.line
            ));
        };
        let mut links = Vec::new();
        for (link, addr) in &node.ring_addrs {
            let ip: Ipv4Addr = addr
                .parse()
                .map_err(|_| format!("node {id}: ring{link}_addr `{addr}` is not an IPv4 address (hasim does not resolve names)"))?;
            if *link as usize != links.len() {
                return Err(format!(
                    "node {id}: ring{link}_addr without ring{}_addr",
                    links.len()
                ));
            }
            links.push(ip);
        }
        addresses.insert(id, links);
    }
    Ok(addresses)
}

/// The multicast group of every link when the transport is `udp`
/// (corosync's default groups when the config names none).
fn mcast_groups(conf: &CorosyncConf, link_count: usize) -> Vec<Option<Ipv4Addr>> {
    let multicast = matches!(conf.totem.transport, Some(Transport::Udp));
    (0..link_count)
        .map(|link| {
            if !multicast {
                return None;
            }
            conf.totem
                .interfaces
                .iter()
                .find(|i| i.link() as usize == link)
                .and_then(|i| i.mcastaddr.as_deref())
                .and_then(|a| a.parse().ok())
                .or(Some(Ipv4Addr::new(239, 192, 0, 1 + link as u8)))
        })
        .collect()
}

impl CorosyncSetup {
    /// Derive a node's setup from a parsed corosync.conf, as corosync does at
    /// startup. `boot_epoch` must grow with every start of the node.
    pub fn from_conf(conf: &CorosyncConf, node_id: u32, boot_epoch: u64) -> Result<Self, String> {
        let addresses = nodelist_addresses(conf)?;
        if !addresses.contains_key(&node_id) {
            return Err(format!("nodeid {node_id} is not in the nodelist"));
        }
        let link_count = addresses.values().map(Vec::len).min().unwrap_or(0);
        if link_count == 0 {
            return Err("the nodelist has no ring0_addr".into());
        }
        let raw = totem_config(conf);
        let timers = raw.effective(addresses.len());
        timers.validate().map_err(|e| e.to_string())?;
        let loaded = vq::from_corosync(conf, node_id, 0).map_err(|e| e.to_string())?;
        let port = conf
            .totem
            .interfaces
            .iter()
            .find_map(|i| i.mcastport)
            .unwrap_or(5405);
        let mut startup_log = timers.startup_log_lines();
        startup_log.extend(loaded.notices.iter().cloned());
        Ok(CorosyncSetup {
            node_id,
            totem: NodeSetup {
                node_id,
                nodelist: addresses.keys().copied().collect(),
                timers,
                links: link_count as u8,
                secauth: crypto_enabled(conf).then(|| (authkey(conf), boot_epoch)),
            },
            quorum: loaded.config,
            addresses,
            mcast: mcast_groups(conf, link_count),
            port,
            load_interval: None,
            startup_log,
            quirks: hasim_totem::srp::Quirks::corosync(),
            boot_epoch,
        })
    }
}
