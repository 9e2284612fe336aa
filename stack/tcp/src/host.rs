//! A host's TCP: the sockets table that demultiplexes segments to
//! connections, listeners, ephemeral ports, and the host's own addresses.
//!
//! Like a connection, the host is sans-IO: [`TcpHost::handle`] takes
//! `(now, input)` and returns [`HostAction`]s (datagrams to transmit, events
//! per connection); [`TcpHost::next_timeout`] is the earliest of its
//! connections' timers. What it adds over a single connection is what Linux
//! does for segments that match no socket: a SYN to a port nobody listens on
//! is refused with RST+ACK, any other segment for an unknown connection is
//! answered with RST (the client of a VIP that moved to this host learns its
//! connection is gone), an RST for nothing is dropped. A socket whose local
//! address the host no longer holds (a VIP that moved away) stays in the
//! table with its timers running but cannot transmit: route lookup fails for
//! a source address the host does not own, so its peer hears nothing and
//! the connection is half-open until its own timers give up.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use thiserror::Error;

use crate::conn::{Action, ConnConfig, Connection, Event, Input, State};
use crate::segment::{Flags, Segment, SegmentError};
use crate::sysctl::{Effective, SocketOptions, TcpSysctls};

/// A connection's handle on its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Host-wide settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// The host's `net.ipv4.tcp_*` sysctls.
    pub sysctls: TcpSysctls,
    /// Largest payload per segment (1460 on Ethernet).
    pub mss: usize,
    /// Receive window each socket advertises.
    pub rcv_window: u32,
    /// `ip_local_port_range` (Linux: 32768–60999).
    pub port_range: (u16, u16),
    /// Secret for initial sequence numbers and port choice, drawn by the
    /// driver from the run's seed (Linux draws it at boot).
    pub secret: u64,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            sysctls: TcpSysctls::default(),
            mss: 1460,
            rcv_window: 65535,
            port_range: (32768, 60999),
            secret: 0,
        }
    }
}

/// Inputs to a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostInput {
    /// A datagram carrying a segment, addressed to `dst`.
    Datagram {
        /// Sender's address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
        /// Encoded segment.
        bytes: Vec<u8>,
    },
    /// `now` reached [`TcpHost::next_timeout`].
    Timeout,
    /// The application writes to a connection.
    Send(ConnId, Vec<u8>),
    /// The application closes a connection.
    Close(ConnId),
    /// The application aborts a connection.
    Abort(ConnId),
    /// The host gains an address (boot, VIP added).
    AddAddress(Ipv4Addr),
    /// The host loses an address (VIP removed).
    RemoveAddress(Ipv4Addr),
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostAction {
    /// Send `bytes` in a datagram from `src` to `dst`.
    Transmit {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
        /// Encoded segment.
        bytes: Vec<u8>,
    },
    /// A listener accepted a connection (the handshake completed).
    Accepted {
        /// The new connection.
        id: ConnId,
        /// The listener's address the client reached.
        local: SocketAddrV4,
        /// The client.
        remote: SocketAddrV4,
    },
    /// Something happened on a connection.
    Event(ConnId, Event),
    /// A datagram that is not a segment was dropped.
    Malformed {
        /// Its sender.
        src: Ipv4Addr,
        /// Why.
        error: SegmentError,
    },
}

/// Requests the host refuses.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HostError {
    /// Connect from an address the host does not hold (EADDRNOTAVAIL).
    #[error("local address {0} is not assigned to this host")]
    AddressNotLocal(Ipv4Addr),
    /// Every ephemeral port towards this peer is taken (EADDRNOTAVAIL).
    #[error("no free ephemeral port from {0} to {1}")]
    NoFreePort(Ipv4Addr, SocketAddrV4),
    /// Listen on a port already listened on (EADDRINUSE).
    #[error("{0} is already listening")]
    AddressInUse(SocketAddrV4),
}

struct Socket {
    local: SocketAddrV4,
    remote: SocketAddrV4,
    conn: Connection,
    passive: bool,
}

/// The TCP of one host.
pub struct TcpHost {
    cfg: HostConfig,
    addresses: BTreeSet<Ipv4Addr>,
    listeners: BTreeMap<SocketAddrV4, SocketOptions>,
    sockets: BTreeMap<ConnId, Socket>,
    by_tuple: BTreeMap<(SocketAddrV4, SocketAddrV4), ConnId>,
    next_id: u64,
    port_cursor: u32,
    unroutable: u64,
}

impl TcpHost {
    /// A host holding `addresses`.
    pub fn new(cfg: HostConfig, addresses: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        let port_cursor = (crate::isn::mix(cfg.secret, 0x7063_7572) & 0xffff) as u32;
        TcpHost {
            cfg,
            addresses: addresses.into_iter().collect(),
            listeners: BTreeMap::new(),
            sockets: BTreeMap::new(),
            by_tuple: BTreeMap::new(),
            next_id: 0,
            port_cursor,
            unroutable: 0,
        }
    }

    /// The host's configuration.
    pub fn config(&self) -> &HostConfig {
        &self.cfg
    }

    /// Segments not sent because their source address is no longer ours.
    pub fn unroutable(&self) -> u64 {
        self.unroutable
    }

    /// A connection's state, if the host still has it.
    pub fn state(&self, id: ConnId) -> Option<State> {
        self.sockets.get(&id).map(|s| s.conn.state())
    }

    /// A connection's current retransmission timeout.
    pub fn rto(&self, id: ConnId) -> Option<Duration> {
        self.sockets.get(&id).map(|s| s.conn.rto())
    }

    /// A connection's addresses `(local, remote)`.
    pub fn endpoints(&self, id: ConnId) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.sockets.get(&id).map(|s| (s.local, s.remote))
    }

    /// Connections in the table, in id order.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.sockets.keys().copied()
    }

    /// Starts listening on `addr` (`0.0.0.0` for every address).
    pub fn listen(&mut self, addr: SocketAddrV4, opts: SocketOptions) -> Result<(), HostError> {
        if self.listeners.contains_key(&addr) {
            return Err(HostError::AddressInUse(addr));
        }
        self.listeners.insert(addr, opts);
        Ok(())
    }

    /// Stops listening; established connections stay.
    pub fn unlisten(&mut self, addr: SocketAddrV4) {
        self.listeners.remove(&addr);
    }

    /// Opens a connection from `local` (an address the host holds) to
    /// `remote` on an ephemeral port.
    pub fn connect(
        &mut self,
        now: Duration,
        local: Ipv4Addr,
        remote: SocketAddrV4,
        opts: &SocketOptions,
    ) -> Result<(ConnId, Vec<HostAction>), HostError> {
        if !self.addresses.contains(&local) {
            return Err(HostError::AddressNotLocal(local));
        }
        let port = self.ephemeral_port(local, remote)?;
        let local = SocketAddrV4::new(local, port);
        let iss = crate::isn::initial_sequence(self.cfg.secret, local, remote, now);
        let (conn, actions) = Connection::connect(now, self.conn_config(port, remote, opts), iss);
        let id = self.insert(local, remote, conn, false);
        let mut out = Vec::new();
        self.translate(id, actions, &mut out);
        Ok((id, out))
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Duration, input: HostInput) -> Vec<HostAction> {
        let mut out = Vec::new();
        match input {
            HostInput::Datagram { src, dst, bytes } => {
                self.on_datagram(now, src, dst, &bytes, &mut out)
            }
            HostInput::Timeout => self.on_timeout(now, &mut out),
            HostInput::Send(id, bytes) => self.drive(now, id, Input::Send(bytes), &mut out),
            HostInput::Close(id) => self.drive(now, id, Input::Close, &mut out),
            HostInput::Abort(id) => self.drive(now, id, Input::Abort, &mut out),
            HostInput::AddAddress(a) => {
                self.addresses.insert(a);
            }
            HostInput::RemoveAddress(a) => {
                self.addresses.remove(&a);
            }
        }
        out
    }

    /// The earliest timer of any connection.
    pub fn next_timeout(&self) -> Option<Duration> {
        self.sockets
            .values()
            .filter_map(|s| s.conn.next_timeout())
            .min()
    }

    fn conn_config(
        &self,
        local_port: u16,
        remote: SocketAddrV4,
        opts: &SocketOptions,
    ) -> ConnConfig {
        ConnConfig {
            timing: Effective::new(&self.cfg.sysctls, opts),
            local_port,
            remote_port: remote.port(),
            mss: self.cfg.mss,
            rcv_window: self.cfg.rcv_window,
        }
    }

    fn insert(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        conn: Connection,
        passive: bool,
    ) -> ConnId {
        let id = ConnId(self.next_id);
        self.next_id += 1;
        self.by_tuple.insert((local, remote), id);
        self.sockets.insert(
            id,
            Socket {
                local,
                remote,
                conn,
                passive,
            },
        );
        id
    }

    /// Linux-like choice: a secret-dependent starting point in the range,
    /// then the next port not already used towards the same peer.
    fn ephemeral_port(&mut self, local: Ipv4Addr, remote: SocketAddrV4) -> Result<u16, HostError> {
        let (lo, hi) = self.cfg.port_range;
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        for _ in 0..span {
            self.port_cursor = self.port_cursor.wrapping_add(1);
            let port = lo + (self.port_cursor % span) as u16;
            let key = (SocketAddrV4::new(local, port), remote);
            let listening = self.listeners.keys().any(|l| l.port() == port);
            if !self.by_tuple.contains_key(&key) && !listening {
                return Ok(port);
            }
        }
        Err(HostError::NoFreePort(local, remote))
    }

    fn drive(&mut self, now: Duration, id: ConnId, input: Input, out: &mut Vec<HostAction>) {
        let Some(sock) = self.sockets.get_mut(&id) else {
            return;
        };
        let actions = sock.conn.handle(now, input);
        self.translate(id, actions, out);
    }

    fn on_timeout(&mut self, now: Duration, out: &mut Vec<HostAction>) {
        let due: Vec<ConnId> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.conn.next_timeout().is_some_and(|t| t <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.drive(now, id, Input::Timeout, out);
        }
    }

    fn on_datagram(
        &mut self,
        now: Duration,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        bytes: &[u8],
        out: &mut Vec<HostAction>,
    ) {
        if !self.addresses.contains(&dst) {
            return;
        }
        let seg = match Segment::decode(bytes) {
            Ok(s) => s,
            Err(error) => return out.push(HostAction::Malformed { src, error }),
        };
        let local = SocketAddrV4::new(dst, seg.dst_port);
        let remote = SocketAddrV4::new(src, seg.src_port);
        if let Some(&id) = self.by_tuple.get(&(local, remote)) {
            return self.drive(now, id, Input::Segment(seg), out);
        }
        let is_syn = seg.flags.contains(Flags::SYN) && !seg.flags.contains(Flags::ACK);
        if is_syn {
            if let Some(opts) = self.listener_for(local).cloned() {
                let iss = crate::isn::initial_sequence(self.cfg.secret, local, remote, now);
                let cfg = self.conn_config(local.port(), remote, &opts);
                let (conn, actions) = Connection::accept(now, cfg, &seg, iss);
                let id = self.insert(local, remote, conn, true);
                return self.translate(id, actions, out);
            }
        }
        if !seg.flags.contains(Flags::RST) {
            out.push(reset_for(local, remote, &seg));
        }
    }

    fn listener_for(&self, local: SocketAddrV4) -> Option<&SocketOptions> {
        self.listeners.get(&local).or_else(|| {
            self.listeners
                .get(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, local.port()))
        })
    }

    /// Turns a connection's actions into host actions, and forgets the
    /// connection once it is closed.
    fn translate(&mut self, id: ConnId, actions: Vec<Action>, out: &mut Vec<HostAction>) {
        let Some(sock) = self.sockets.get(&id) else {
            return;
        };
        let (local, remote, passive) = (sock.local, sock.remote, sock.passive);
        let established_before = self.accepted(id);
        for a in actions {
            match a {
                Action::Send(seg) if self.addresses.contains(local.ip()) => {
                    out.push(HostAction::Transmit {
                        src: *local.ip(),
                        dst: *remote.ip(),
                        bytes: seg.encode(),
                    })
                }
                Action::Send(_) => self.unroutable += 1,
                Action::Event(Event::Connected) if passive => {
                    out.push(HostAction::Accepted { id, local, remote })
                }
                // A passive connection that dies in the handshake was never
                // seen by the application.
                Action::Event(Event::Closed(_)) if passive && !established_before => {}
                Action::Event(e) => out.push(HostAction::Event(id, e)),
            }
        }
        if self.state(id) == Some(State::Closed) {
            self.sockets.remove(&id);
            self.by_tuple.remove(&(local, remote));
        }
    }

    /// Whether a passive connection had been reported as accepted.
    fn accepted(&self, id: ConnId) -> bool {
        self.sockets
            .get(&id)
            .is_some_and(|s| s.conn.state() != State::SynReceived)
    }
}

/// Linux's answer to a segment for no socket (`tcp_v4_send_reset`): with an
/// ACK, an RST at the acknowledged number; without, RST+ACK of the segment.
fn reset_for(local: SocketAddrV4, remote: SocketAddrV4, seg: &Segment) -> HostAction {
    let rst = if seg.flags.contains(Flags::ACK) {
        Segment {
            seq: seg.ack,
            ack: 0,
            flags: Flags::RST,
            ..blank(local, remote)
        }
    } else {
        Segment {
            seq: 0,
            ack: seg.seq.wrapping_add(seg.seq_len()),
            flags: Flags::RST | Flags::ACK,
            ..blank(local, remote)
        }
    };
    HostAction::Transmit {
        src: *local.ip(),
        dst: *remote.ip(),
        bytes: rst.encode(),
    }
}

fn blank(local: SocketAddrV4, remote: SocketAddrV4) -> Segment {
    Segment {
        src_port: local.port(),
        dst_port: remote.port(),
        seq: 0,
        ack: 0,
        flags: Flags::empty(),
        window: 0,
        payload: Vec::new(),
    }
}
