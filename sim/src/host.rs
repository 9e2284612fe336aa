//! The simulator's side of `hasim_node::Host`: a node daemon's machine,
//! for one incarnation of one host, on the world's fabric (a power cycle
//! makes a new incarnation, and the old one's calls do nothing).

use crate::context::Shared;
use crate::fabric::WorldState;
use crate::machines::ResetLine;
use crate::tcp::SimTcp;
use hasim_node::host::{
    Addresses, Datagrams, Disk, Events, Inbox, Named, NodeEvent, StreamId, StreamSender, Streams,
    Watchdog,
};
use hasim_tcp::{HostInput, SocketOptions};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{MutexGuard, OnceLock};

/// The simulator's implementation of a machine, for one incarnation of one
/// host (a power cycle makes a new one).
pub struct SimHost {
    shared: Shared,
    index: usize,
    name: String,
    incarnation: u64,
    /// The machine lifecycle, for a watchdog reset (`None` on hosts built
    /// outside a world run, such as the fabric benchmark's).
    watchdog: Option<ResetLine>,
    /// The machine's TCP, started by the first stream call.
    tcp: OnceLock<SimTcp>,
}

impl SimHost {
    /// Host `index` of the world, in its incarnation `incarnation`.
    pub fn new(shared: Shared, index: usize, name: &str, incarnation: u64) -> Self {
        Self {
            shared,
            index,
            name: name.to_string(),
            incarnation,
            watchdog: None,
            tcp: OnceLock::new(),
        }
    }

    /// This host's watchdog resets the machine through `line`.
    pub fn with_watchdog(mut self, line: ResetLine) -> Self {
        self.watchdog = Some(line);
        self
    }

    /// The world at the current time, if this incarnation is still the
    /// host's: one clock read and one lock for each call of a daemon.
    fn world(&self) -> Option<MutexGuard<'_, WorldState>> {
        let world = self.shared.world.at(self.shared.now());
        (world.hosts[self.index].incarnation == self.incarnation).then_some(world)
    }
}

impl SimHost {
    /// The machine's TCP, started on first use (from a task of the machine).
    fn tcp(&self) -> std::io::Result<&SimTcp> {
        if let Some(t) = self.tcp.get() {
            return Ok(t);
        }
        let t = SimTcp::start(&self.shared, self.index, self.incarnation)?;
        Ok(self.tcp.get_or_init(|| t))
    }
}

impl Streams for SimHost {
    fn listen(
        &self,
        addr: SocketAddrV4,
        opts: SocketOptions,
        events: StreamSender,
    ) -> std::io::Result<()> {
        self.tcp()?.listen(addr, opts, events)
    }

    fn connect(
        &self,
        local: Ipv4Addr,
        remote: SocketAddrV4,
        opts: SocketOptions,
        events: StreamSender,
    ) -> std::io::Result<StreamId> {
        self.tcp()?.connect(local, remote, opts, events)
    }

    fn stream_send(&self, conn: StreamId, bytes: Vec<u8>) {
        if let Some(t) = self.tcp.get() {
            t.request(HostInput::Send(hasim_tcp::ConnId(conn), bytes));
        }
    }

    fn stream_close(&self, conn: StreamId) {
        if let Some(t) = self.tcp.get() {
            t.request(HostInput::Close(hasim_tcp::ConnId(conn)));
        }
    }

    fn stream_abort(&self, conn: StreamId) {
        if let Some(t) = self.tcp.get() {
            t.request(HostInput::Abort(hasim_tcp::ConnId(conn)));
        }
    }

    fn holds_address(&self, vip: Ipv4Addr) -> bool {
        self.world().is_some_and(|w| w.holds_vip(self.index, vip))
    }
}

impl Named for SimHost {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Datagrams for SimHost {
    fn bind(&self, port: u16) -> std::io::Result<Inbox> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.shared
            .world
            .at(self.shared.now())
            .bind(self.index, self.incarnation, port, tx)?;
        Ok(rx)
    }

    fn send(&self, src: SocketAddrV4, dst: SocketAddrV4, payload: Vec<u8>) {
        let Some(mut world) = self.world() else {
            return;
        };
        let deliveries = world.send(self.index, src, dst, payload);
        drop(world);
        self.shared.schedule(deliveries);
    }
}

impl Addresses for SimHost {
    fn add_vip(&self, vip: Ipv4Addr, _interface: Ipv4Addr) {
        if let Some(mut world) = self.world() {
            world.add_vip(self.index, vip);
        }
        if let Some(t) = self.tcp.get() {
            t.address(vip, true);
        }
    }

    fn remove_vip(&self, vip: Ipv4Addr) {
        if let Some(mut world) = self.world() {
            world.remove_vip(self.index, vip);
        }
        if let Some(t) = self.tcp.get() {
            t.address(vip, false);
        }
    }

    fn gratuitous_arp(&self, vip: Ipv4Addr, _interface: Ipv4Addr) {
        if let Some(mut world) = self.world() {
            world.gratuitous_arp(self.index, vip);
        }
    }
}

impl Events for SimHost {
    fn report(&self, event: NodeEvent) {
        if let Some(mut world) = self.world() {
            world.node_event(self.index, event);
        }
    }
}

/// A reset from an older incarnation (its tasks are already gone) does
/// nothing, like every other call of a stale incarnation.
impl Watchdog for SimHost {
    fn hard_reset(&self) {
        if self.world().is_none() {
            return;
        }
        if let Some(line) = &self.watchdog {
            line.reset(&self.name);
        }
    }
}

impl Disk for SimHost {
    fn load(&self, key: &str) -> Option<Vec<u8>> {
        self.shared.world.at(self.shared.now()).hosts[self.index]
            .disk
            .get(key)
            .cloned()
    }

    fn store(&self, key: &str, value: Vec<u8>) {
        if let Some(mut world) = self.world() {
            world.hosts[self.index].disk.insert(key.to_string(), value);
        }
    }

    fn boot_epoch(&self) -> u64 {
        self.incarnation
    }
}
