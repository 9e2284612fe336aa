//! TCP in the simulated world: one `hasim_tcp::TcpHost` per incarnation of
//! a machine, its segments carried as fabric datagrams on
//! [`TCP_DATAGRAM_PORT`] and addressed to IP addresses as they are. A
//! segment to a VIP therefore reaches whichever host holds the VIP when it
//! arrives, and that host's TCP answers RST for a connection it does not
//! know: the client of a moved VIP learns its connection is gone.
//!
//! The stack is created by the first stream call of a daemon on the machine
//! (so scenarios without TCP run exactly as before) and runs as one task on
//! the machine's madsim node: a power loss kills the task and drops every
//! connection without a segment sent, leaving peers half-open.

use crate::context::Shared;
use hasim_node::host::{StreamEvent, StreamId, StreamSender, TCP_DATAGRAM_PORT};
use hasim_node::Inbox;
use hasim_tcp::{ConnId, HostAction, HostConfig, HostInput, SocketOptions, TcpHost};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::sleep_until;

/// How long the stack task sleeps with no timer set.
const IDLE: Duration = Duration::from_secs(3600);

/// Tag mixed into the run's seed for the TCP secrets.
const TCP_STREAM: u64 = 0x7463_7073_6563_7265;

/// The TCP of one machine incarnation and who hears about its connections.
struct Stack {
    tcp: TcpHost,
    listeners: BTreeMap<SocketAddrV4, StreamSender>,
    routes: BTreeMap<ConnId, StreamSender>,
    /// Connections a listener accepted: the server side.
    accepted: BTreeSet<ConnId>,
}

/// Every machine incarnation's TCP, for the half-open watcher
/// (`crate::half_open`). Held weakly: a stack lives as long as its
/// machine's tasks do.
#[derive(Default)]
pub struct TcpStacks(Mutex<Vec<StackRef>>);

/// A machine's index and incarnation, and its stack while it runs.
type StackRef = (usize, u64, Weak<Mutex<Stack>>);

/// One open server-side connection: host index, incarnation, id, and
/// (local, remote) addresses.
pub type ServerConn = (usize, u64, ConnId, SocketAddrV4, SocketAddrV4);

impl TcpStacks {
    fn add(&self, index: usize, incarnation: u64, stack: &Arc<Mutex<Stack>>) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|(_, _, s)| s.strong_count() > 0);
        all.push((index, incarnation, Arc::downgrade(stack)));
    }

    /// The connections listeners accepted that are still in their host's
    /// table, on stacks still running.
    pub fn server_connections(&self) -> Vec<ServerConn> {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (index, incarnation, stack) in all.iter() {
            let Some(stack) = stack.upgrade() else {
                continue;
            };
            let stack = stack.lock().unwrap_or_else(|e| e.into_inner());
            for &id in &stack.accepted {
                if let Some((local, remote)) = stack.tcp.endpoints(id) {
                    out.push((*index, *incarnation, id, local, remote));
                }
            }
        }
        out
    }
}

/// Handle to one machine's TCP, shared by its daemons.
#[derive(Clone)]
pub struct SimTcp {
    shared: Shared,
    index: usize,
    incarnation: u64,
    stack: Arc<Mutex<Stack>>,
    wake: Arc<Notify>,
}

impl SimTcp {
    /// Start the TCP of host `index` in `incarnation`: bind its datagram
    /// port and spawn its task on the current (the machine's) node.
    pub fn start(shared: &Shared, index: usize, incarnation: u64) -> std::io::Result<SimTcp> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut world = shared.world.at(shared.now());
        world.bind(index, incarnation, TCP_DATAGRAM_PORT, tx)?;
        let sysctls = world.hosts[index].tcp.clone();
        let secret =
            hasim_tcp::isn::mix(world.seed ^ TCP_STREAM, (index as u64) << 32 | incarnation);
        let addresses = world.addresses_of(index);
        drop(world);
        let cfg = HostConfig {
            sysctls: hasim_tcp::TcpSysctls {
                jiffies_phase: Duration::from_micros(secret % 4_000),
                ..sysctls
            },
            secret,
            ..HostConfig::default()
        };
        let me = SimTcp {
            shared: shared.clone(),
            index,
            incarnation,
            stack: Arc::new(Mutex::new(Stack {
                tcp: TcpHost::new(cfg, addresses),
                listeners: BTreeMap::new(),
                routes: BTreeMap::new(),
                accepted: BTreeSet::new(),
            })),
            wake: Arc::new(Notify::new()),
        };
        shared.tcp.add(index, incarnation, &me.stack);
        tokio::spawn(me.clone().run(rx));
        Ok(me)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stack> {
        self.stack.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stack's task: segments from the fabric and timers.
    async fn run(self, mut inbox: Inbox) {
        loop {
            let next = self.lock().tcp.next_timeout();
            let deadline = self.shared.start + next.unwrap_or(self.shared.now() + IDLE);
            tokio::select! {
                biased;
                d = inbox.recv() => {
                    let Some(d) = d else { return };
                    self.input(HostInput::Datagram {
                        src: *d.src.ip(),
                        dst: *d.dst.ip(),
                        bytes: d.payload,
                    });
                }
                () = self.wake.notified() => {}
                () = sleep_until(deadline) => self.input(HostInput::Timeout),
            }
        }
    }

    /// Feed one input to the host and carry out what it asks.
    fn input(&self, input: HostInput) {
        let now = self.shared.now();
        let mut stack = self.lock();
        let actions = stack.tcp.handle(now, input);
        self.apply(&mut stack, actions);
    }

    /// Transmit segments, hand events to their daemons.
    fn apply(&self, stack: &mut Stack, actions: Vec<HostAction>) {
        for action in actions {
            match action {
                HostAction::Transmit { src, dst, bytes } => self.transmit(src, dst, bytes),
                HostAction::Accepted { id, local, remote } => {
                    let listener = stack.listeners.get(&local).or_else(|| {
                        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, local.port());
                        stack.listeners.get(&any)
                    });
                    stack.accepted.insert(id);
                    if let Some(tx) = listener.cloned() {
                        let _ = tx.send(StreamEvent::Accepted {
                            conn: id.0,
                            local,
                            remote,
                        });
                        stack.routes.insert(id, tx);
                    }
                }
                HostAction::Event(id, event) => route(stack, id, event),
                HostAction::Malformed { .. } => {}
            }
        }
    }

    fn transmit(&self, src: Ipv4Addr, dst: Ipv4Addr, bytes: Vec<u8>) {
        let mut world = self.shared.world.at(self.shared.now());
        let h = &world.hosts[self.index];
        if h.incarnation != self.incarnation || !h.powered {
            return;
        }
        let deliveries = world.send(
            self.index,
            SocketAddrV4::new(src, TCP_DATAGRAM_PORT),
            SocketAddrV4::new(dst, TCP_DATAGRAM_PORT),
            bytes,
        );
        drop(world);
        self.shared.schedule(deliveries);
    }

    /// Accept connections on `addr` for `events`.
    pub fn listen(
        &self,
        addr: SocketAddrV4,
        opts: SocketOptions,
        events: StreamSender,
    ) -> std::io::Result<()> {
        let mut stack = self.lock();
        stack
            .tcp
            .listen(addr, opts)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::AddrInUse, e.to_string()))?;
        stack.listeners.insert(addr, events);
        Ok(())
    }

    /// Open a connection whose events go to `events`.
    pub fn connect(
        &self,
        local: Ipv4Addr,
        remote: SocketAddrV4,
        opts: SocketOptions,
        events: StreamSender,
    ) -> std::io::Result<StreamId> {
        let now = self.shared.now();
        let mut stack = self.lock();
        let (id, actions) = stack.tcp.connect(now, local, remote, &opts).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, e.to_string())
        })?;
        stack.routes.insert(id, events);
        self.apply(&mut stack, actions);
        drop(stack);
        self.wake.notify_one();
        Ok(id.0)
    }

    /// The machine gained or lost an address (a VIP).
    pub fn address(&self, ip: Ipv4Addr, up: bool) {
        self.request(if up {
            HostInput::AddAddress(ip)
        } else {
            HostInput::RemoveAddress(ip)
        });
    }

    /// Send, close or abort on behalf of a daemon; the daemon hears no
    /// `Closed` after its own close or abort.
    pub fn request(&self, input: HostInput) {
        let forget = match &input {
            HostInput::Close(id) | HostInput::Abort(id) => Some(*id),
            _ => None,
        };
        let now = self.shared.now();
        let mut stack = self.lock();
        if let Some(id) = forget {
            stack.routes.remove(&id);
        }
        let actions = stack.tcp.handle(now, input);
        self.apply(&mut stack, actions);
        drop(stack);
        self.wake.notify_one();
    }
}

/// Hand a connection's event to its daemon; a closed connection is
/// forgotten.
fn route(stack: &mut Stack, id: ConnId, event: hasim_tcp::Event) {
    let event = match event {
        hasim_tcp::Event::Connected => StreamEvent::Connected(id.0),
        hasim_tcp::Event::Data(bytes) => StreamEvent::Data(id.0, bytes),
        hasim_tcp::Event::PeerClosed => StreamEvent::PeerClosed(id.0),
        hasim_tcp::Event::Closed(why) => {
            stack.accepted.remove(&id);
            if let Some(tx) = stack.routes.remove(&id) {
                let _ = tx.send(StreamEvent::Closed(id.0, why));
            }
            return;
        }
    };
    if let Some(tx) = stack.routes.get(&id) {
        let _ = tx.send(event);
    }
}
