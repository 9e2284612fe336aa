//! A minimal in-memory driver: several [`TcpHost`]s joined by a link with a
//! fixed one-way latency. It exists for tests and benchmarks, and shows the
//! contract a real driver follows: route each `Transmit` by destination
//! address, feed datagrams and timeouts in time order, record events.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use crate::host::{ConnId, HostAction, HostConfig, HostError, HostInput, TcpHost};
use crate::sysctl::SocketOptions;

/// Several hosts on one link.
pub struct Net {
    /// The hosts, by index.
    pub hosts: Vec<TcpHost>,
    routes: BTreeMap<Ipv4Addr, usize>,
    latency: Duration,
    queue: BTreeMap<(Duration, u64), (Ipv4Addr, Ipv4Addr, Vec<u8>)>,
    counter: u64,
    now: Duration,
    silenced: BTreeSet<usize>,
    down: BTreeSet<usize>,
    /// Everything but transmissions, with time and host index.
    pub events: Vec<(Duration, usize, HostAction)>,
    /// Datagrams handed to the link.
    pub datagrams: u64,
    /// When set to n, every n-th datagram handed to the link is lost.
    pub lose_every: Option<u64>,
}

impl Net {
    /// An empty link with `latency` each way.
    pub fn new(latency: Duration) -> Self {
        Net {
            hosts: Vec::new(),
            routes: BTreeMap::new(),
            latency,
            queue: BTreeMap::new(),
            counter: 0,
            now: Duration::ZERO,
            silenced: BTreeSet::new(),
            down: BTreeSet::new(),
            events: Vec::new(),
            datagrams: 0,
            lose_every: None,
        }
    }

    /// Adds a host holding `addr`; returns its index.
    pub fn add_host(&mut self, cfg: HostConfig, addr: Ipv4Addr) -> usize {
        let i = self.hosts.len();
        self.hosts.push(TcpHost::new(cfg, [addr]));
        self.routes.insert(addr, i);
        i
    }

    /// Current time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Drops everything host `i` sends from now on (a firewall DROP rule on
    /// its output, as the real-Linux test does), or lifts that.
    pub fn silence(&mut self, i: usize, on: bool) {
        if on {
            self.silenced.insert(i);
        } else {
            self.silenced.remove(&i);
        }
    }

    /// Powers host `i` off: it receives, sends and times out nothing.
    pub fn power_off(&mut self, i: usize) {
        self.down.insert(i);
    }

    /// Moves address `addr` to host `to` (as a VIP moves): the old holder
    /// loses it, the new one gains it, the link routes it to `to`.
    pub fn move_address(&mut self, addr: Ipv4Addr, to: usize) {
        if let Some(&from) = self.routes.get(&addr) {
            self.input(from, HostInput::RemoveAddress(addr));
        }
        self.routes.insert(addr, to);
        self.input(to, HostInput::AddAddress(addr));
    }

    /// Host `i` listens on `addr`.
    pub fn listen(
        &mut self,
        i: usize,
        addr: SocketAddrV4,
        opts: SocketOptions,
    ) -> Result<(), HostError> {
        self.hosts[i].listen(addr, opts)
    }

    /// Host `i` connects from `local` to `remote`.
    pub fn connect(
        &mut self,
        i: usize,
        local: Ipv4Addr,
        remote: SocketAddrV4,
        opts: &SocketOptions,
    ) -> Result<ConnId, HostError> {
        let (id, actions) = self.hosts[i].connect(self.now, local, remote, opts)?;
        self.apply(i, actions);
        Ok(id)
    }

    /// Gives host `i` an input now.
    pub fn input(&mut self, i: usize, input: HostInput) {
        let actions = self.hosts[i].handle(self.now, input);
        self.apply(i, actions);
    }

    fn apply(&mut self, i: usize, actions: Vec<HostAction>) {
        for a in actions {
            match a {
                HostAction::Transmit { src, dst, bytes } => {
                    if self.silenced.contains(&i) || self.down.contains(&i) {
                        continue;
                    }
                    self.datagrams += 1;
                    if self
                        .lose_every
                        .is_some_and(|n| n > 0 && self.datagrams.is_multiple_of(n))
                    {
                        continue;
                    }
                    self.counter += 1;
                    self.queue
                        .insert((self.now + self.latency, self.counter), (src, dst, bytes));
                }
                other => self.events.push((self.now, i, other)),
            }
        }
    }

    /// The next moment something happens, if anything will.
    pub fn next_event(&self) -> Option<Duration> {
        let timers = (0..self.hosts.len())
            .filter(|i| !self.down.contains(i))
            .filter_map(|i| self.hosts[i].next_timeout());
        let deliveries = self.queue.keys().next().map(|k| k.0);
        timers.chain(deliveries).min()
    }

    /// Runs every delivery and timer up to and including `until`.
    pub fn run_until(&mut self, until: Duration) {
        while let Some(t) = self.next_event().filter(|&t| t <= until) {
            self.now = self.now.max(t);
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Runs until nothing is queued and `pred` holds, or `limit` passes.
    pub fn run_while(&mut self, limit: Duration, mut pred: impl FnMut(&Net) -> bool) {
        while pred(self) {
            match self.next_event().filter(|&t| t <= limit) {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.step();
                }
                None => break,
            }
        }
    }

    fn step(&mut self) {
        let now = self.now;
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (src, dst, bytes) = entry.remove();
            let Some(&to) = self.routes.get(&dst) else {
                continue;
            };
            if !self.down.contains(&to) {
                self.input(to, HostInput::Datagram { src, dst, bytes });
            }
        }
        for i in 0..self.hosts.len() {
            let due = self.hosts[i].next_timeout().is_some_and(|t| t <= now);
            if due && !self.down.contains(&i) {
                self.input(i, HostInput::Timeout);
            }
        }
    }

    /// Events of host `i` for connection `id`.
    pub fn conn_events(&self, i: usize, id: ConnId) -> Vec<(Duration, crate::conn::Event)> {
        self.events
            .iter()
            .filter_map(|(t, h, a)| match a {
                HostAction::Event(c, e) if *h == i && *c == id => Some((*t, e.clone())),
                _ => None,
            })
            .collect()
    }

    /// Connections host `i` accepted.
    pub fn accepted(&self, i: usize) -> Vec<ConnId> {
        self.events
            .iter()
            .filter_map(|(_, h, a)| match a {
                HostAction::Accepted { id, .. } if *h == i => Some(*id),
                _ => None,
            })
            .collect()
    }
}
