//! The one loop every node daemon runs in.
//!
//! A daemon is a sans-IO core plus a small adapter that implements
//! [`Service`]: the driver owns the waiting (datagrams from one bound port,
//! messages on the in-node channel, one timer table per core) and calls the
//! adapter with each input; the adapter feeds its core and carries out the
//! core's actions through [`Io`]. Time comes from `tokio::time`: virtual in
//! the simulator build, the OS clock in the real build.
//!
//! Order is part of the behaviour (the simulator's trace depends on it), so
//! it is fixed here: datagrams before in-node messages before timers when
//! several are ready; timers due together fire in the order of their keys,
//! each key at most once per wake-up.

use crate::host::{Datagram, Host, Inbox, StreamEvent, StreamInbox};
use crate::local::{Envelope, LocalInbox, LocalMessage, Switchboard};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// With no timer set, the driver still wakes this often (and finds nothing due).
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// The adapter between one sans-IO core and the driver.
pub trait Service {
    /// Names one timer of the core. Timers due at the same wake-up fire in
    /// this type's order.
    type Timer: Ord + Copy + std::fmt::Debug;
    /// The core starts (the driver's clock starts at zero here).
    fn start(&mut self, io: &mut Io<'_, Self::Timer>);
    /// A datagram arrived on the bound port.
    fn datagram(&mut self, _io: &mut Io<'_, Self::Timer>, _datagram: Datagram) {}
    /// Something happened on one of the daemon's TCP connections.
    fn stream(&mut self, _io: &mut Io<'_, Self::Timer>, _event: StreamEvent) {}
    /// A message arrived on the in-node channel.
    fn message(&mut self, _io: &mut Io<'_, Self::Timer>, _envelope: Envelope) {}
    /// `timer` is due.
    fn timer(&mut self, io: &mut Io<'_, Self::Timer>, timer: Self::Timer);
    /// The daemon is told to stop (real mode: SIGTERM); the driver returns
    /// right after.
    fn stop(&mut self, _io: &mut Io<'_, Self::Timer>) {}
    /// After every input: finish what it started (corosync feeds back the
    /// packets it sent to itself; a core's own next deadline is copied into
    /// the timer table).
    fn settle(&mut self, _io: &mut Io<'_, Self::Timer>) {}
}

/// The driver's clock. The simulator build holds madsim's time handle:
/// `Instant::now()` and `sleep_until` reach the same clock through an
/// intercepted `clock_gettime` or a thread-local lookup, with two reference
/// counts, on every wake-up of every daemon. The reads and timers are the
/// same either way, so the run is too.
struct Clock {
    #[cfg(madsim)]
    handle: madsim::time::TimeHandle,
}

impl Clock {
    fn new() -> Self {
        Clock {
            #[cfg(madsim)]
            handle: madsim::time::TimeHandle::current(),
        }
    }

    fn now(&self) -> Instant {
        #[cfg(madsim)]
        return self.handle.now_instant();
        #[cfg(not(madsim))]
        Instant::now()
    }

    #[cfg(madsim)]
    fn sleep_until(&self, deadline: Instant) -> madsim::time::Sleep {
        self.handle.sleep_until(deadline)
    }

    #[cfg(not(madsim))]
    fn sleep_until(&self, deadline: Instant) -> tokio::time::Sleep {
        tokio::time::sleep_until(deadline)
    }
}

/// What an adapter may do while handling one input.
pub struct Io<'a, T> {
    origin: Instant,
    /// Time since the core started, read when the driver woke.
    woke: Duration,
    timers: &'a mut BTreeMap<T, Duration>,
    /// The machine.
    pub host: &'a dyn Host,
    local: Option<(&'a Switchboard, &'a str)>,
}

impl<T: Ord + Copy> Io<'_, T> {
    /// Time since the core started. Simulated time stands still while a
    /// task runs (madsim advances it only when every task waits), so the
    /// simulator build reads the clock once per wake-up, not once per call;
    /// the real build reads the OS clock each time.
    pub fn now(&self) -> Duration {
        if cfg!(madsim) {
            self.woke
        } else {
            self.origin.elapsed()
        }
    }

    /// Fire `timer` at `at` (since the core started), replacing an earlier setting.
    pub fn set_timer(&mut self, timer: T, at: Duration) {
        self.timers.insert(timer, at);
    }

    /// Forget `timer`.
    pub fn cancel_timer(&mut self, timer: T) {
        self.timers.remove(&timer);
    }

    /// When `timer` fires, if it is set.
    pub fn timer(&self, timer: T) -> Option<Duration> {
        self.timers.get(&timer).copied()
    }

    /// Set `timer` to `at`, or cancel it for `None`: for cores that keep
    /// their own deadline.
    pub fn follow(&mut self, timer: T, at: Option<Duration>) {
        match at {
            Some(at) => self.set_timer(timer, at),
            None => self.cancel_timer(timer),
        }
    }

    /// Send to another daemon on this node; false if it is not there (or
    /// this daemon has no endpoint).
    pub fn send_local(&self, to: &str, message: LocalMessage) -> bool {
        self.local
            .is_some_and(|(board, me)| board.send(me, to, message))
    }
}

/// Where a daemon's inputs come from.
pub struct Inputs {
    /// Datagrams from a bound port; when this closes (the node went away)
    /// the daemon stops.
    pub datagrams: Option<Inbox>,
    /// The daemon's endpoint on the in-node channel: the switchboard, its
    /// name, its inbox.
    pub local: Option<(Switchboard, String, LocalInbox)>,
    /// Events of the daemon's TCP connections (the channel it handed to
    /// `listen` and `connect`).
    pub streams: Option<StreamInbox>,
    /// Becomes true when the daemon must stop; checked before anything else.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
}

/// Wait until `stop` changes; true when told to stop, false when the sender
/// is gone (nobody will ever ask). Without a receiver, never.
async fn stop_requested(stop: &mut Option<tokio::sync::watch::Receiver<bool>>) -> bool {
    match stop {
        Some(rx) => rx.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Wait on an optional inbox; without one, never.
async fn recv_or_wait<T>(inbox: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match inbox {
        Some(inbox) => inbox.recv().await,
        None => std::future::pending().await,
    }
}

/// What woke the driver.
enum Woke {
    Stop(bool),
    Datagram(Option<Datagram>),
    Stream(Option<StreamEvent>),
    Message(Option<Envelope>),
    Timer,
}

/// Run `service` until its datagram inbox closes (or forever, if it has none).
pub async fn run<S: Service>(service: &mut S, host: Arc<dyn Host>, inputs: Inputs) {
    let Inputs {
        mut datagrams,
        local,
        mut streams,
        mut stop,
    } = inputs;
    let (board, name, inbox) = match local {
        Some((board, name, inbox)) => (Some(board), name, Some(inbox)),
        None => (None, String::new(), None),
    };
    let mut messages = inbox;
    let clock = Clock::new();
    let origin = clock.now();
    let mut timers: BTreeMap<S::Timer, Duration> = BTreeMap::new();
    let mut io = Io {
        origin,
        woke: Duration::ZERO,
        timers: &mut timers,
        host: &*host,
        local: board.as_ref().map(|b| (b, name.as_str())),
    };
    service.start(&mut io);
    service.settle(&mut io);
    loop {
        let deadline = io
            .timers
            .values()
            .min()
            .map(|t| origin + *t)
            .unwrap_or_else(|| clock.now() + IDLE_WAKE);
        let woke = tokio::select! {
            biased;
            asked = stop_requested(&mut stop) => Woke::Stop(asked),
            d = recv_or_wait(&mut datagrams) => Woke::Datagram(d),
            e = recv_or_wait(&mut streams) => Woke::Stream(e),
            m = recv_or_wait(&mut messages) => Woke::Message(m),
            _ = clock.sleep_until(deadline) => Woke::Timer,
        };
        io.woke = clock.now() - origin;
        match woke {
            Woke::Stop(true) => {
                service.stop(&mut io);
                return;
            }
            // The daemon itself is gone: nothing to send.
            Woke::Stop(false) => return,
            Woke::Datagram(Some(d)) => service.datagram(&mut io, d),
            Woke::Datagram(None) => return,
            Woke::Stream(Some(e)) => service.stream(&mut io, e),
            // The machine's TCP is gone (power loss): nothing more comes.
            Woke::Stream(None) => streams = None,
            Woke::Message(Some(m)) => service.message(&mut io, m),
            // Nobody can write to this daemon any more; it keeps running.
            Woke::Message(None) => messages = None,
            Woke::Timer => fire_due(service, &mut io),
        }
        service.settle(&mut io);
    }
}

/// Fire every due timer once, in key order; a timer set again during this
/// wake-up to a time already past waits for the next wake-up if its key was
/// passed.
fn fire_due<S: Service>(service: &mut S, io: &mut Io<'_, S::Timer>) {
    let mut passed: Option<S::Timer> = None;
    loop {
        let now = io.now();
        let next = io
            .timers
            .iter()
            .find(|(key, at)| **at <= now && passed.is_none_or(|p| **key > p))
            .map(|(key, _)| *key);
        let Some(key) = next else {
            return;
        };
        io.timers.remove(&key);
        passed = Some(key);
        service.timer(io, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Addresses, Datagrams, Disk, Events, Named, NodeEvent, Streams};
    use std::net::{Ipv4Addr, SocketAddrV4};

    struct NoMachine;
    impl Named for NoMachine {
        fn name(&self) -> &str {
            "test"
        }
    }
    impl Datagrams for NoMachine {
        fn bind(&self, _port: u16) -> std::io::Result<Inbox> {
            Err(std::io::ErrorKind::Unsupported.into())
        }
        fn send(&self, _src: SocketAddrV4, _dst: SocketAddrV4, _payload: Vec<u8>) {}
    }
    impl Addresses for NoMachine {
        fn add_vip(&self, _vip: Ipv4Addr, _interface: Ipv4Addr) {}
        fn remove_vip(&self, _vip: Ipv4Addr) {}
        fn gratuitous_arp(&self, _vip: Ipv4Addr, _interface: Ipv4Addr) {}
    }
    impl Disk for NoMachine {}
    impl crate::host::Watchdog for NoMachine {
        fn hard_reset(&self) {}
    }
    impl Streams for NoMachine {}
    impl Events for NoMachine {
        fn report(&self, _event: NodeEvent) {}
    }

    /// Records firings; firing `1` sets `1` again (due at once) and `0` too.
    struct Recorder(Vec<u8>);
    impl Service for Recorder {
        type Timer = u8;
        fn start(&mut self, _io: &mut Io<'_, u8>) {}
        fn timer(&mut self, io: &mut Io<'_, u8>, timer: u8) {
            self.0.push(timer);
            if timer == 1 {
                io.set_timer(1, Duration::ZERO);
                io.set_timer(0, Duration::ZERO);
            }
        }
    }

    /// A machine without a TCP model refuses streams
    /// with a clear error instead of pretending to connect.
    #[test]
    fn a_host_without_streams_refuses_listen_and_connect() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 3306);
        let opts = hasim_tcp::SocketOptions::default();
        let e = NoMachine
            .listen(addr, opts.clone(), tx.clone())
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
        assert!(e.to_string().contains("not supported"), "{e}");
        let e = NoMachine
            .connect(Ipv4Addr::LOCALHOST, addr, opts, tx)
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
        assert!(!NoMachine.holds_address(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn due_timers_fire_once_each_in_key_order() {
        let mut timers = BTreeMap::from([(2, Duration::ZERO), (1, Duration::ZERO)]);
        timers.insert(9, Duration::from_secs(3600));
        let mut io = Io {
            origin: Instant::now(),
            woke: Duration::ZERO,
            timers: &mut timers,
            host: &NoMachine,
            local: None,
        };
        let mut service = Recorder(Vec::new());
        fire_due(&mut service, &mut io);
        // 1 before 2; 1 set again and 0 set during the wake-up wait for the next.
        assert_eq!(service.0, vec![1, 2]);
        assert_eq!(timers.keys().copied().collect::<Vec<_>>(), vec![0, 1, 9]);
    }
}
