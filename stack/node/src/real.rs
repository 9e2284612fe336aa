//! Real mode: the node daemon over real UDP sockets and the OS clock.
//!
//! Virtual IPs are reported, not configured: hasim never touches the
//! machine's interfaces. Every event is printed as one JSON line on stdout,
//! with its wall-clock time, so scripts and tests can follow and time the
//! daemon.

use crate::host::{Addresses, Datagram, Datagrams, Disk, Events, Inbox, Named, NodeEvent};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A machine with one IPv4 address. Logical ports (112 for VRRP, ...) are
/// shifted by `port_offset` so unprivileged test runs can use high ports.
pub struct UdpHost {
    name: String,
    address: Ipv4Addr,
    port_offset: u16,
    sockets: Mutex<BTreeMap<u16, UdpSocket>>,
}

/// One line of real-mode output.
#[derive(Serialize)]
struct Line<'a> {
    /// Wall-clock time of the event (RFC 3339, UTC, microseconds).
    time: String,
    node: &'a str,
    #[serde(flatten)]
    event: Printed<'a>,
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
enum Printed<'a> {
    VipUp { vip: Ipv4Addr },
    VipDown { vip: Ipv4Addr },
    Garp { vip: Ipv4Addr },
    Protocol { detail: &'a NodeEvent },
}

impl UdpHost {
    pub fn new(name: impl Into<String>, address: Ipv4Addr, port_offset: u16) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            address,
            port_offset,
            sockets: Mutex::new(BTreeMap::new()),
        })
    }

    fn real_port(&self, port: u16) -> u16 {
        port.wrapping_add(self.port_offset)
    }

    fn print(&self, event: Printed<'_>) {
        let line = Line {
            time: crate::wallclock::rfc3339(std::time::SystemTime::now()),
            node: &self.name,
            event,
        };
        if let Ok(text) = serde_json::to_string(&line) {
            // A closed stdout must not stop the daemon (or panic it).
            use std::io::Write;
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }
}

impl Named for UdpHost {
    fn name(&self) -> &str {
        &self.name
    }
}

/// Real mode keeps nothing across restarts: the Totem ring sequence starts
/// from the network's, as corosync does without its ringid file.
impl Disk for UdpHost {}

impl Datagrams for UdpHost {
    fn bind(&self, port: u16) -> io::Result<Inbox> {
        let at = SocketAddrV4::new(self.address, self.real_port(port));
        // Name the address: "Cannot assign requested address" alone does not
        // say which one (an address that is on no interface of this machine).
        let socket = UdpSocket::bind(at)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bind UDP {at}: {e}")))?;
        socket.set_nonblocking(true)?;
        let sender = socket.try_clone()?;
        let receiver = tokio::net::UdpSocket::from_std(socket)?;
        let local = SocketAddrV4::new(self.address, port);
        let offset = self.port_offset;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok((len, from)) = receiver.recv_from(&mut buf).await {
                let std::net::SocketAddr::V4(from) = from else {
                    continue;
                };
                let src = SocketAddrV4::new(*from.ip(), from.port().wrapping_sub(offset));
                let datagram = Datagram {
                    src,
                    dst: local,
                    payload: buf[..len].to_vec(),
                };
                if tx.send(datagram).is_err() {
                    break;
                }
            }
        });
        if let Ok(mut sockets) = self.sockets.lock() {
            sockets.insert(port, sender);
        }
        Ok(rx)
    }

    fn send(&self, src: SocketAddrV4, dst: SocketAddrV4, payload: Vec<u8>) {
        if dst.ip().is_multicast() {
            // Real mode speaks unicast only (keepalived's unicast_peer).
            return;
        }
        let Ok(sockets) = self.sockets.lock() else {
            return;
        };
        if let Some(socket) = sockets.get(&src.port()) {
            let to = SocketAddrV4::new(*dst.ip(), self.real_port(dst.port()));
            // Datagram semantics: a full buffer or an unreachable peer is a loss.
            let _ = socket.send_to(&payload, to);
        }
    }
}

impl Addresses for UdpHost {
    fn add_vip(&self, vip: Ipv4Addr, _interface: Ipv4Addr) {
        self.print(Printed::VipUp { vip });
    }

    fn remove_vip(&self, vip: Ipv4Addr) {
        self.print(Printed::VipDown { vip });
    }

    fn gratuitous_arp(&self, vip: Ipv4Addr, _interface: Ipv4Addr) {
        self.print(Printed::Garp { vip });
    }
}

impl Events for UdpHost {
    fn report(&self, event: NodeEvent) {
        self.print(Printed::Protocol { detail: &event });
    }
}
