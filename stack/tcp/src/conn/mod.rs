//! One TCP connection as a sans-IO state machine.
//!
//! [`Connection::handle`] takes `(now, input)` and returns [`Action`]s:
//! segments to transmit and events for the application. The connection owns
//! one timer table ([`Connection::next_timeout`]); the driver feeds
//! [`Input::Timeout`] when `now` reaches it.
//!
//! Sequence numbers are kept internally as 64-bit offsets from the initial
//! sequence numbers (the SYN is offset 0, data starts at 1), converted to
//! and from the 32-bit wire numbers relative to the current window, so long
//! streams wrap on the wire as TCP's do.
//!
//! What is modelled: the three-way handshake (active and passive) with
//! `tcp_syn_retries` / `tcp_synack_retries`; ordered delivery with an
//! out-of-order queue; cumulative ACKs sent for every data segment; RTO from
//! Linux's estimator with Karn's rule and exponential backoff;
//! `tcp_retries2` and `TCP_USER_TIMEOUT`; keepalive; RST handling; FIN close
//! with FIN-WAIT-2 and TIME-WAIT timers. What is not: congestion control
//! (the sender is limited by the peer's advertised window only), delayed
//! ACKs, SACK and fast retransmit, zero-window persist, simultaneous open,
//! urgent data, options.

mod input;
mod output;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::segment::Segment;
use crate::sysctl::Effective;
use crate::timing::RttEstimator;

/// `TCP_TIMEWAIT_LEN`: how long TIME-WAIT lasts.
pub const TIME_WAIT_LEN: Duration = Duration::from_secs(60);

/// Per-connection configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnConfig {
    /// Timing rules (host sysctls with socket overrides).
    pub timing: Effective,
    /// Our port.
    pub local_port: u16,
    /// Peer's port.
    pub remote_port: u16,
    /// Largest payload per segment.
    pub mss: usize,
    /// Receive window we advertise (the application reads at once).
    pub rcv_window: u32,
}

/// TCP states (RFC 793 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Active open, SYN sent.
    SynSent,
    /// Passive open, SYN-ACK sent.
    SynReceived,
    /// Data flows both ways.
    Established,
    /// We closed; our FIN is not yet acknowledged.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's.
    FinWait2,
    /// The peer closed; we may still send.
    CloseWait,
    /// Both sent FIN, ours not yet acknowledged.
    Closing,
    /// The peer closed first, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both directions closed; lingering for retransmitted FINs.
    TimeWait,
    /// Gone.
    Closed,
}

impl State {
    /// Whether sequence numbers are synchronised (past the handshake).
    pub fn synchronized(self) -> bool {
        !matches!(self, State::SynSent | State::SynReceived | State::Closed)
    }
}

/// The connection's timers; one deadline each in the timer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// SYN, SYN-ACK or data retransmission.
    Retransmit,
    /// Keepalive probing.
    Keepalive,
    /// FIN-WAIT-2 (`tcp_fin_timeout`) or TIME-WAIT.
    Linger,
}

/// Which limit killed a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timeout {
    /// `tcp_syn_retries` SYN retransmissions unanswered (ETIMEDOUT).
    Syn,
    /// `tcp_synack_retries` SYN-ACK retransmissions unanswered.
    SynAck,
    /// Data unacknowledged past the `tcp_retries2` time (ETIMEDOUT).
    Retransmission,
    /// Data unacknowledged past `TCP_USER_TIMEOUT` (ETIMEDOUT).
    UserTimeout,
    /// Keepalive probes unanswered (ETIMEDOUT, RST sent).
    Keepalive,
    /// FIN-WAIT-2 outlived `tcp_fin_timeout`.
    FinWait2,
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CloseReason {
    /// Orderly close (both FINs, or our close before the handshake).
    Normal,
    /// The peer reset an established connection (ECONNRESET).
    Reset,
    /// RST in answer to our SYN (ECONNREFUSED).
    Refused,
    /// A timer gave up (ETIMEDOUT).
    TimedOut(Timeout),
    /// We aborted (RST sent).
    Aborted,
}

/// What the application learns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed.
    Connected,
    /// In-order bytes from the peer.
    Data(Vec<u8>),
    /// The peer's FIN: no more data will come (read returns 0).
    PeerClosed,
    /// The connection is over; reported once.
    Closed(CloseReason),
}

/// Something the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Transmit this segment to the peer.
    Send(Segment),
    /// Tell the application.
    Event(Event),
}

/// An input to the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A segment from the peer.
    Segment(Segment),
    /// `now` reached [`Connection::next_timeout`].
    Timeout,
    /// The application writes bytes.
    Send(Vec<u8>),
    /// The application closes (FIN after queued data).
    Close,
    /// The application aborts (RST).
    Abort,
}

/// One TCP connection.
#[derive(Clone, Debug)]
pub struct Connection {
    cfg: ConnConfig,
    state: State,
    iss: u32,
    irs: u32,
    // Send side, in offsets from `iss`.
    snd_una: u64,
    snd_nxt: u64,
    send_buf: VecDeque<u8>,
    buf_start: u64,
    fin_off: Option<u64>,
    peer_window: u32,
    // Receive side, in offsets from `irs`.
    rcv_nxt: u64,
    out_of_order: BTreeMap<u64, Vec<u8>>,
    peer_fin: Option<u64>,
    // Timing.
    timers: BTreeMap<Timer, Duration>,
    rtt: RttEstimator,
    rtt_probe: Option<(u64, Duration)>,
    backoff: u32,
    retransmits: u32,
    retrans_stamp: Option<Duration>,
    last_rcv: Duration,
    probes_out: u32,
    app_closed: bool,
    reported_closed: bool,
}

impl Connection {
    fn new(now: Duration, cfg: ConnConfig, state: State, iss: u32) -> Self {
        let rto_min = cfg.timing.sysctls.rto_min;
        Connection {
            cfg,
            state,
            iss,
            irs: 0,
            snd_una: 0,
            snd_nxt: 0,
            send_buf: VecDeque::new(),
            buf_start: 1,
            fin_off: None,
            peer_window: 0,
            rcv_nxt: 0,
            out_of_order: BTreeMap::new(),
            peer_fin: None,
            timers: BTreeMap::new(),
            rtt: RttEstimator::new(rto_min),
            rtt_probe: None,
            backoff: 0,
            retransmits: 0,
            retrans_stamp: None,
            last_rcv: now,
            probes_out: 0,
            app_closed: false,
            reported_closed: false,
        }
    }

    /// Active open: sends the SYN. `iss` is the initial sequence number,
    /// drawn by the caller.
    pub fn connect(now: Duration, cfg: ConnConfig, iss: u32) -> (Connection, Vec<Action>) {
        let mut c = Connection::new(now, cfg, State::SynSent, iss);
        let mut out = Vec::new();
        c.send_syn(now, &mut out);
        (c, out)
    }

    /// Passive open on a listener's SYN: sends the SYN-ACK.
    pub fn accept(
        now: Duration,
        cfg: ConnConfig,
        syn: &Segment,
        iss: u32,
    ) -> (Connection, Vec<Action>) {
        let mut c = Connection::new(now, cfg, State::SynReceived, iss);
        c.irs = syn.seq;
        c.rcv_nxt = 1;
        c.peer_window = syn.window;
        let mut out = Vec::new();
        c.send_syn(now, &mut out);
        (c, out)
    }

    /// Handles one input.
    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Segment(seg) => self.on_segment(now, seg, &mut out),
            Input::Timeout => self.on_timeout(now, &mut out),
            Input::Send(bytes) => self.on_send(now, bytes, &mut out),
            Input::Close => self.on_close(now, &mut out),
            Input::Abort => self.on_abort(&mut out),
        }
        out
    }

    /// The earliest timer deadline, if any timer runs.
    pub fn next_timeout(&self) -> Option<Duration> {
        self.timers.values().min().copied()
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The current (backed-off) retransmission timeout.
    pub fn rto(&self) -> Duration {
        let s = &self.cfg.timing.sysctls;
        let base = crate::timing::to_jiffies(self.rtt.rto(s.rto_init, s.rto_max), s.kernel_hz);
        crate::timing::backed_off(base, self.backoff, s.rto_max)
    }

    /// Bytes written by the application and not yet acknowledged.
    pub fn unacknowledged(&self) -> usize {
        self.send_buf.len()
    }

    /// The configuration.
    pub fn config(&self) -> &ConnConfig {
        &self.cfg
    }

    fn on_timeout(&mut self, now: Duration, out: &mut Vec<Action>) {
        let due: Vec<Timer> = self
            .timers
            .iter()
            .filter(|(_, &at)| at <= now)
            .map(|(&t, _)| t)
            .collect();
        for t in due {
            if self.state == State::Closed {
                return;
            }
            self.timers.remove(&t);
            match t {
                Timer::Retransmit => self.on_retransmit_timer(now, out),
                Timer::Keepalive => self.on_keepalive_timer(now, out),
                Timer::Linger => self.on_linger_timer(out),
            }
        }
    }

    fn on_send(&mut self, now: Duration, bytes: Vec<u8>, out: &mut Vec<Action>) {
        if self.fin_off.is_some() || self.state == State::Closed || self.state == State::TimeWait {
            return;
        }
        self.send_buf.extend(bytes);
        self.push(now, out);
    }

    fn on_close(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.app_closed = true;
        match self.state {
            State::SynSent => self.finish(CloseReason::Normal, out),
            State::SynReceived | State::Established | State::CloseWait => {
                self.fin_off = Some(self.buf_start + self.send_buf.len() as u64);
                self.state = if self.state == State::CloseWait {
                    State::LastAck
                } else {
                    State::FinWait1
                };
                self.push(now, out);
            }
            _ => {}
        }
    }

    fn on_abort(&mut self, out: &mut Vec<Action>) {
        if self.state.synchronized() || self.state == State::SynReceived {
            let rst = self.segment(self.snd_nxt, crate::segment::Flags::RST, Vec::new());
            out.push(Action::Send(rst));
        }
        self.finish(CloseReason::Aborted, out);
    }

    fn on_linger_timer(&mut self, out: &mut Vec<Action>) {
        match self.state {
            State::FinWait2 => self.finish(CloseReason::TimedOut(Timeout::FinWait2), out),
            _ => self.finish(CloseReason::Normal, out),
        }
    }

    /// Enters CLOSED, clears every timer and reports the reason once.
    fn finish(&mut self, reason: CloseReason, out: &mut Vec<Action>) {
        self.state = State::Closed;
        self.timers.clear();
        self.report_closed(reason, out);
    }

    fn report_closed(&mut self, reason: CloseReason, out: &mut Vec<Action>) {
        if !self.reported_closed {
            self.reported_closed = true;
            out.push(Action::Event(Event::Closed(reason)));
        }
    }

    fn event(&self, e: Event, out: &mut Vec<Action>) {
        let suppressed = self.app_closed && matches!(e, Event::Data(_) | Event::PeerClosed);
        if !suppressed {
            out.push(Action::Event(e));
        }
    }

    /// Arms `t` to expire `delay` after `now`, firing when the kernel's
    /// timer wheel would.
    fn arm(&mut self, t: Timer, now: Duration, delay: Duration) {
        let s = &self.cfg.timing.sysctls;
        let at = crate::timing::wheel_fire_time(now, delay, s.kernel_hz, s.jiffies_phase);
        self.timers.insert(t, at);
    }
}

#[cfg(test)]
mod tests;
