//! Real mode: the node daemon over real UDP sockets and the OS clock.
//!
//! Virtual IPs are reported, not configured: hasim never touches the
//! machine's interfaces. Every event is printed as one JSON line on stdout,
//! with its wall-clock time, so scripts and tests can follow and time the
//! daemon.
//!
//! The node's disk is a directory when one is given ([`UdpHost::with_disk`]):
//! every [`Disk`] key is a file in it (the CIB manager's `cib.xml` and
//! `cib.xml.sig`, corosync's `ringid`), written whole and renamed into
//! place. Its `run/` subdirectory plays `/run`, which a reboot empties: it
//! is emptied when the host starts, and holds one `<rsc>.state` file per
//! resource the executor reports active on this node, the way
//! `ocf:pacemaker:Dummy` keeps its state file in `/run/resource-agents`.
//! What is real there: the files. What decides: the executor's model of the
//! agent (the same code as in the simulator); the agent's monitor does not
//! read the file back.

use crate::host::{
    Addresses, Datagram, Datagrams, Disk, Events, Inbox, Named, NodeEvent, Watchdog,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A machine with one IPv4 address. Logical ports (112 for VRRP, ...) are
/// shifted by `port_offset` so unprivileged test runs can use high ports.
pub struct UdpHost {
    name: String,
    address: Ipv4Addr,
    port_offset: u16,
    sockets: Mutex<BTreeMap<u16, UdpSocket>>,
    /// The node's disk: a directory, or none (nothing kept).
    disk: Option<PathBuf>,
    /// The OS's TCP behind the `Streams` capability.
    streams: crate::real_streams::OsStreams,
    /// The virtual IPs this node reported up (what keepalived's notify
    /// scripts look at), though hasim never configures them.
    vips: Mutex<std::collections::BTreeSet<Ipv4Addr>>,
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
            disk: None,
            streams: crate::real_streams::OsStreams::new(port_offset),
            vips: Mutex::new(Default::default()),
        })
    }

    /// Like [`UdpHost::new`], with the directory `disk` as the node's disk
    /// (created if missing). Its `run/` is emptied: the machine booted.
    pub fn with_disk(
        name: impl Into<String>,
        address: Ipv4Addr,
        port_offset: u16,
        disk: &Path,
    ) -> io::Result<Arc<Self>> {
        let run = disk.join(RUN_DIR);
        let described =
            |e: io::Error| io::Error::new(e.kind(), format!("disk {}: {e}", disk.display()));
        match std::fs::remove_dir_all(&run) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(described(e)),
            _ => {}
        }
        std::fs::create_dir_all(&run).map_err(described)?;
        Ok(Arc::new(Self {
            name: name.into(),
            address,
            port_offset,
            sockets: Mutex::new(BTreeMap::new()),
            disk: Some(disk.to_path_buf()),
            streams: crate::real_streams::OsStreams::new(port_offset),
            vips: Mutex::new(Default::default()),
        }))
    }

    /// The file that says resource `rsc` is active on this node.
    pub fn state_file(disk: &Path, rsc: &str) -> PathBuf {
        disk.join(RUN_DIR).join(format!("{}.state", file_name(rsc)))
    }

    /// Mirror the executor's view of one resource into its state file.
    fn resource_state(&self, rsc: &str, active: bool) {
        let Some(disk) = &self.disk else {
            return;
        };
        let path = Self::state_file(disk, rsc);
        let _ = if active {
            std::fs::write(&path, format!("{}\n", self.name))
        } else {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        };
    }

    /// The machine's address.
    pub fn address(&self) -> &Ipv4Addr {
        &self.address
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

/// The subdirectory of the disk that plays `/run`.
const RUN_DIR: &str = "run";

/// A disk key or resource id as one file name: anything but ASCII letters,
/// digits, `.`, `-` and `_` becomes `_` (and a leading `.` too).
fn file_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    name
}

/// Without a disk directory real mode keeps nothing across restarts: the
/// Totem ring sequence starts from the network's, as corosync does without
/// its ringid file. With one, every key is a file in it.
/// Real mode's streams are the OS's TCP connections (`real_streams`),
/// ports shifted by the host's offset like its UDP ports.
impl crate::host::Streams for UdpHost {
    fn listen(
        &self,
        addr: SocketAddrV4,
        opts: hasim_tcp::SocketOptions,
        events: crate::host::StreamSender,
    ) -> io::Result<()> {
        self.streams.listen(addr, opts, events)
    }

    fn connect(
        &self,
        local: Ipv4Addr,
        remote: SocketAddrV4,
        opts: hasim_tcp::SocketOptions,
        events: crate::host::StreamSender,
    ) -> io::Result<crate::host::StreamId> {
        self.streams.connect(local, remote, opts, events)
    }

    fn stream_send(&self, conn: crate::host::StreamId, bytes: Vec<u8>) {
        self.streams.send(conn, bytes);
    }

    fn stream_close(&self, conn: crate::host::StreamId) {
        self.streams.close(conn);
    }

    fn stream_abort(&self, conn: crate::host::StreamId) {
        self.streams.abort(conn);
    }

    fn holds_address(&self, vip: Ipv4Addr) -> bool {
        self.vips.lock().is_ok_and(|v| v.contains(&vip))
    }
}

impl Disk for UdpHost {
    fn load(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.disk.as_ref()?.join(file_name(key))).ok()
    }

    fn store(&self, key: &str, value: Vec<u8>) {
        let Some(disk) = &self.disk else {
            return;
        };
        // Whole or not at all: a crash mid-write leaves the old copy.
        let path = disk.join(file_name(key));
        let partial = disk.join(format!("{}.partial", file_name(key)));
        if std::fs::write(&partial, value).is_ok() {
            let _ = std::fs::rename(&partial, &path);
        }
    }
}

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
        if let Ok(mut vips) = self.vips.lock() {
            vips.insert(vip);
        }
        self.print(Printed::VipUp { vip });
    }

    fn remove_vip(&self, vip: Ipv4Addr) {
        if let Ok(mut vips) = self.vips.lock() {
            vips.remove(&vip);
        }
        self.print(Printed::VipDown { vip });
    }

    fn gratuitous_arp(&self, vip: Ipv4Addr, _interface: Ipv4Addr) {
        self.print(Printed::Garp { vip });
    }
}

impl Events for UdpHost {
    fn report(&self, event: NodeEvent) {
        if let NodeEvent::Pacemaker {
            report: hasim_pcmk_proto::Event::ResourceActive { rsc, active, .. },
        } = &event
        {
            self.resource_state(rsc, *active);
        }
        self.print(Printed::Protocol { detail: &event });
    }
}

/// Real mode has no hardware watchdog of its own: a reset ends the node
/// process at once, without stopping its daemons (no leave messages, no
/// CIB writes), which is what the cluster sees of a machine that resets.
/// Whatever supervises the process (systemd, the test) starts it again.
impl Watchdog for UdpHost {
    fn hard_reset(&self) {
        self.print(Printed::Protocol {
            detail: &NodeEvent::Log {
                text: "watchdog reset: exiting at once".into(),
            },
        });
        std::process::exit(WATCHDOG_EXIT);
    }
}

/// The node process's exit status after a watchdog reset (128 + SIGKILL,
/// as a shell reports a process killed without warning).
pub const WATCHDOG_EXIT: i32 = 137;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_resource_ids_are_plain_file_names() {
        assert_eq!(file_name("cib.xml.sig"), "cib.xml.sig");
        assert_eq!(file_name("../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_name(""), "_");
        assert_eq!(file_name("haproxy:0"), "haproxy_0");
    }

    #[test]
    fn the_disk_is_a_directory_and_run_is_emptied_at_boot() {
        let dir = std::env::temp_dir().join(format!("hasim-udphost-disk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let localhost = Ipv4Addr::LOCALHOST;
        let host = UdpHost::with_disk("n1", localhost, 0, &dir).unwrap();
        host.store("cib.xml", b"<cib/>".to_vec());
        assert_eq!(host.load("cib.xml").as_deref(), Some(&b"<cib/>"[..]));
        assert_eq!(host.load("ringid"), None);
        let active = |active| NodeEvent::Pacemaker {
            report: hasim_pcmk_proto::Event::ResourceActive {
                node: "n1".into(),
                rsc: "d1".into(),
                active,
            },
        };
        host.report(active(true));
        let state = UdpHost::state_file(&dir, "d1");
        assert_eq!(std::fs::read_to_string(&state).unwrap(), "n1\n");
        host.report(active(false));
        assert!(!state.exists());
        host.report(active(true));
        // A new boot: the CIB stays, /run does not.
        let host = UdpHost::with_disk("n1", localhost, 0, &dir).unwrap();
        assert!(!state.exists());
        assert_eq!(host.load("cib.xml").as_deref(), Some(&b"<cib/>"[..]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
