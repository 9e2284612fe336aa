//! The boundary between a node daemon and the machine it runs on.

use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddrV4};

/// VRRP is IP protocol 112. hasim carries it as a datagram addressed to this
/// port number, on the simulated fabric and over UDP in real mode.
pub const VRRP_PORT: u16 = 112;

/// The port the demo service behind a virtual IP listens on.
pub const SERVICE_PORT: u16 = 80;

/// One datagram as a node receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: Vec<u8>,
}

/// Datagrams for one bound port arrive here, in delivery order.
pub type Inbox = tokio::sync::mpsc::UnboundedReceiver<Datagram>;

/// Something a node daemon wants recorded: protocol state changes that the
/// simulator's trace and checkers (or a real-mode operator) need to see.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NodeEvent {
    /// A VRRP instance changed state.
    VrrpState {
        vrid: u8,
        from: hasim_vrrp::State,
        to: hasim_vrrp::State,
        reason: hasim_vrrp::Reason,
    },
    /// A VRRP instance received a packet it had to drop (bad checksum, wrong
    /// VRID, ...). Counted by the core; reported so the trace shows it.
    VrrpDropped { vrid: u8, from: Ipv4Addr },
    /// A daemon stopped because of an error it could not handle.
    DaemonFailed { daemon: String, error: String },
    /// Totem delivered a configuration change (extended virtual synchrony:
    /// a transitional configuration, then the regular one).
    Membership {
        configuration: Configuration,
        ring: String,
        members: Vec<u32>,
        left: Vec<u32>,
        joined: Vec<u32>,
    },
    /// votequorum's view changed.
    Quorum {
        quorate: bool,
        total_votes: u32,
        expected_votes: u32,
        quorum: u32,
        members: Vec<u32>,
    },
    /// This node multicast test-load message `counter`.
    TotemSent { counter: u64 },
    /// Totem delivered test-load message (`sender`, `counter`) in agreed order.
    TotemDeliver {
        sender: u32,
        boot: u64,
        counter: u64,
        ring: String,
        seq: u32,
    },
    /// A CPG group's membership changed, as the local member `pid` saw it
    /// (a `cpg_confchg_fn` callback).
    CpgConfChg {
        group: String,
        pid: u32,
        members: Vec<CpgMember>,
        left: Vec<CpgMember>,
        joined: Vec<CpgMember>,
    },
    /// The local CPG workload `pid` multicast its message `counter`.
    CpgSent {
        group: String,
        pid: u32,
        counter: u64,
    },
    /// CPG delivered (`sender`, `sender_pid`)'s message `counter` to the local
    /// member `pid` (a `cpg_deliver_fn` callback).
    CpgDeliver {
        group: String,
        pid: u32,
        sender: u32,
        sender_pid: u32,
        counter: u64,
    },
    /// Something worth a line in the trace (link up/down, ...).
    Log { text: String },
    /// What one of the node's Pacemaker daemons reported (nested: its own
    /// `event` and `node` keys would clash with the trace line's).
    Pacemaker { report: hasim_pcmk_proto::Event },
    /// A systemd unit started or stopped (by a `systemd:` resource agent).
    Unit { unit: String, running: bool },
    /// The node's fencer or one of its fence agents (nested, as Pacemaker's).
    Fencing {
        report: crate::fencing::FencingReport,
    },
    /// The node's SBD (diskless): quorum health changes and the watchdog
    /// reset it lets happen.
    Sbd {
        event: hasim_fenced::watchdog::WatchdogEvent,
    },
}

/// One process in a CPG group, with why it joined or left when it is in a
/// joined/left list (`cpg_reason_t`, lower case).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CpgMember {
    pub node: u32,
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Which of extended virtual synchrony's two configurations a membership
/// event installs (traced as `transitional` / `regular`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Configuration {
    Transitional,
    Regular,
}

/// The machine's name, for logs, reports and service replies.
pub trait Named {
    fn name(&self) -> &str;
}

/// Capability: datagrams. Sending is fire-and-forget, as UDP is: whether a
/// datagram arrives is the network's business.
pub trait Datagrams {
    /// Receive every datagram addressed to this node on `port` (to one of its
    /// own addresses, to a virtual IP it holds, or to a multicast group on one
    /// of its segments).
    fn bind(&self, port: u16) -> std::io::Result<Inbox>;
    /// Send one datagram. `src` names the interface (one of the node's
    /// addresses, or a virtual IP it holds).
    fn send(&self, src: SocketAddrV4, dst: SocketAddrV4, payload: Vec<u8>);
}

/// Capability: the addresses a node holds beyond its own (virtual IPs).
pub trait Addresses {
    /// Bring a virtual IP up on the interface that has address `interface`.
    fn add_vip(&self, vip: Ipv4Addr, interface: Ipv4Addr);
    /// Take a virtual IP down.
    fn remove_vip(&self, vip: Ipv4Addr);
    /// Announce `vip` with a gratuitous ARP from the interface `interface`.
    fn gratuitous_arp(&self, vip: Ipv4Addr, interface: Ipv4Addr);
}

/// Capability: a small disk that survives power cycles.
pub trait Disk {
    /// Read what this node stored on its disk.
    fn load(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }
    /// Store a small value on this node's disk.
    fn store(&self, _key: &str, _value: Vec<u8>) {}
    /// A number that grows with every start of the node (secauth nonces).
    fn boot_epoch(&self) -> u64 {
        0
    }
}

/// Capability: reporting what happened, to the simulator's trace and
/// checkers or a real-mode operator.
pub trait Events {
    /// Record a protocol event.
    fn report(&self, event: NodeEvent);
}

/// Capability: the machine's hardware watchdog. SBD arms it and stops
/// feeding it when the node must die; what the watchdog then does to the
/// machine (a hard reset: power gone and back, nothing volatile kept,
/// booting again after the boot delay) belongs to the machine, not to the
/// daemon, so the daemon only asks.
pub trait Watchdog {
    /// The watchdog fired: reset the machine now. Nothing after this call
    /// is expected to run on this boot.
    fn hard_reset(&self);
}

/// The port number TCP segments travel on as datagrams (TCP is IP protocol
/// 6); the TCP ports themselves are inside each segment.
pub const TCP_DATAGRAM_PORT: u16 = 6;

/// A connection's handle on its machine.
pub type StreamId = u64;

/// What a daemon learns about its TCP connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// A listener accepted a connection (the handshake completed).
    Accepted {
        conn: StreamId,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    },
    /// An outgoing connection completed its handshake.
    Connected(StreamId),
    /// In-order bytes from the peer.
    Data(StreamId, Vec<u8>),
    /// The peer closed its side (read returns 0).
    PeerClosed(StreamId),
    /// The connection is gone, and why (reported once; not after the
    /// daemon's own close or abort).
    Closed(StreamId, hasim_tcp::CloseReason),
}

/// Where a daemon's stream events go.
pub type StreamSender = tokio::sync::mpsc::UnboundedSender<StreamEvent>;
/// Where a daemon reads its stream events.
pub type StreamInbox = tokio::sync::mpsc::UnboundedReceiver<StreamEvent>;

fn no_streams() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "TCP streams are not supported by this host (it has no TCP model)",
    )
}

/// Capability: TCP byte streams. Each listen or connect names the channel
/// its events go to, so one daemon may gather all of its connections on one
/// inbox. The default methods refuse: a machine without a TCP model.
pub trait Streams {
    /// Accept connections on `addr` (`0.0.0.0` for every address); accepted
    /// connections inherit `opts` (SO_KEEPALIVE, TCP_KEEPIDLE, ...).
    fn listen(
        &self,
        _addr: SocketAddrV4,
        _opts: hasim_tcp::SocketOptions,
        _events: StreamSender,
    ) -> std::io::Result<()> {
        Err(no_streams())
    }
    /// Open a connection from the local address `local` to `remote`.
    fn connect(
        &self,
        _local: Ipv4Addr,
        _remote: SocketAddrV4,
        _opts: hasim_tcp::SocketOptions,
        _events: StreamSender,
    ) -> std::io::Result<StreamId> {
        Err(no_streams())
    }
    /// Write bytes on a connection (ignored if it is gone).
    fn stream_send(&self, _conn: StreamId, _bytes: Vec<u8>) {}
    /// Close a connection (FIN).
    fn stream_close(&self, _conn: StreamId) {}
    /// Abort a connection (RST).
    fn stream_abort(&self, _conn: StreamId) {}
    /// Whether the machine holds `vip` now (what keepalived's notify
    /// scripts react to).
    fn holds_address(&self, _vip: Ipv4Addr) -> bool {
        false
    }
}

/// Everything a daemon may need from its machine, as one object; a machine
/// gets `Host` by implementing each capability.
pub trait Host:
    Named + Datagrams + Addresses + Disk + Events + Streams + Watchdog + Send + Sync + 'static
{
}

impl<
        T: Named + Datagrams + Addresses + Disk + Events + Streams + Watchdog + Send + Sync + 'static,
    > Host for T
{
}
