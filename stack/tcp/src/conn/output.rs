//! Sending: segments, the retransmission timer and keepalive probes.

use std::time::Duration;

use super::{Action, CloseReason, Connection, State, Timeout, Timer};
use crate::segment::{Flags, Segment};
use crate::timing::{backed_off, model_timeout};

impl Connection {
    /// Wire sequence number of send offset `off`.
    pub(super) fn snd_wire(&self, off: u64) -> u32 {
        self.iss.wrapping_add(off as u32)
    }

    /// Wire sequence number of receive offset `off`.
    pub(super) fn rcv_wire(&self, off: u64) -> u32 {
        self.irs.wrapping_add(off as u32)
    }

    /// A segment at send offset `off`, acknowledging what we have received
    /// once the peer's ISN is known.
    pub(super) fn segment(&self, off: u64, flags: Flags, payload: Vec<u8>) -> Segment {
        let acking = self.state != State::SynSent && !flags.contains(Flags::RST);
        Segment {
            src_port: self.cfg.local_port,
            dst_port: self.cfg.remote_port,
            seq: self.snd_wire(off),
            ack: if acking {
                self.rcv_wire(self.rcv_nxt)
            } else {
                0
            },
            flags: if acking { flags | Flags::ACK } else { flags },
            window: self.cfg.rcv_window,
            payload,
        }
    }

    /// A bare ACK of everything received.
    pub(super) fn send_ack(&self, out: &mut Vec<Action>) {
        out.push(Action::Send(self.segment(
            self.snd_nxt,
            Flags::empty(),
            Vec::new(),
        )));
    }

    /// Sends (or resends) the SYN or SYN-ACK and arms its timer.
    pub(super) fn send_syn(&mut self, now: Duration, out: &mut Vec<Action>) {
        out.push(Action::Send(self.segment(0, Flags::SYN, Vec::new())));
        self.snd_nxt = 1;
        if self.retransmits == 0 {
            self.rtt_probe = Some((1, now));
        }
        let s = &self.cfg.timing.sysctls;
        let rto = backed_off(s.rto_init, self.backoff, s.rto_max);
        self.arm(Timer::Retransmit, now, rto);
    }

    /// Sends whatever the peer's window allows: queued data in MSS-sized
    /// segments, then our FIN once all data is out.
    pub(super) fn push(&mut self, now: Duration, out: &mut Vec<Action>) {
        if !matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait1 | State::LastAck
        ) {
            return;
        }
        let buf_end = self.buf_start + self.send_buf.len() as u64;
        loop {
            let window_end = self.snd_una + u64::from(self.peer_window);
            let room = window_end.saturating_sub(self.snd_nxt);
            let unsent = buf_end.saturating_sub(self.snd_nxt);
            let len = unsent.min(room).min(self.cfg.mss as u64);
            if len == 0 {
                break;
            }
            let payload = self.buffered(self.snd_nxt, len as usize);
            out.push(Action::Send(self.segment(
                self.snd_nxt,
                Flags::PSH,
                payload,
            )));
            if self.rtt_probe.is_none() && self.retransmits == 0 {
                self.rtt_probe = Some((self.snd_nxt + len, now));
            }
            self.snd_nxt += len;
        }
        if self.fin_off == Some(self.snd_nxt) && self.snd_nxt == buf_end {
            out.push(Action::Send(self.segment(
                self.snd_nxt,
                Flags::FIN,
                Vec::new(),
            )));
            self.snd_nxt += 1;
        }
        if self.snd_nxt > self.snd_una && !self.timers.contains_key(&Timer::Retransmit) {
            let rto = self.rto();
            self.arm(Timer::Retransmit, now, rto);
        }
    }

    /// `len` bytes of the send buffer from send offset `off`.
    fn buffered(&self, off: u64, len: usize) -> Vec<u8> {
        let start = (off - self.buf_start) as usize;
        self.send_buf.range(start..start + len).copied().collect()
    }

    pub(super) fn on_retransmit_timer(&mut self, now: Duration, out: &mut Vec<Action>) {
        let s = self.cfg.timing.sysctls.clone();
        match self.state {
            State::SynSent | State::SynReceived => {
                let (limit, why) = if self.state == State::SynSent {
                    (s.syn_retries, Timeout::Syn)
                } else {
                    (s.synack_retries, Timeout::SynAck)
                };
                if self.retransmits >= limit {
                    return self.finish(CloseReason::TimedOut(why), out);
                }
                self.note_retransmission(now);
                self.send_syn(now, out);
            }
            _ if self.snd_nxt > self.snd_una => {
                if let Some(why) = self.retransmissions_timed_out(now) {
                    return self.finish(CloseReason::TimedOut(why), out);
                }
                self.note_retransmission(now);
                self.retransmit_head(out);
                let mut delay = self.rto();
                if let (Some(ut), Some(start)) = (self.cfg.timing.user_timeout, self.retrans_stamp)
                {
                    // TCP_USER_TIMEOUT shortens the last wait so the socket
                    // dies when the user timeout is reached, not later.
                    let left = (start + ut)
                        .saturating_sub(now)
                        .max(Duration::from_millis(1));
                    delay = delay.min(left);
                }
                self.arm(Timer::Retransmit, now, delay);
            }
            _ => {}
        }
    }

    /// Counts a retransmission: Karn's rule drops the RTT probe, the backoff
    /// doubles, and the first retransmission's time is recorded as the start
    /// of the retries2 / user-timeout clock.
    fn note_retransmission(&mut self, now: Duration) {
        self.rtt_probe = None;
        self.retransmits += 1;
        self.backoff += 1;
        self.retrans_stamp.get_or_insert(now);
    }

    /// Linux's check at each expiry after the first: has the time since the
    /// first retransmission reached the user timeout, or the time
    /// `tcp_retries2` models from `TCP_RTO_MIN`?
    fn retransmissions_timed_out(&self, now: Duration) -> Option<Timeout> {
        let start = self.retrans_stamp?;
        if self.retransmits == 0 {
            return None;
        }
        let elapsed = now.saturating_sub(start);
        let s = &self.cfg.timing.sysctls;
        match self.cfg.timing.user_timeout {
            Some(ut) => (elapsed >= ut).then_some(Timeout::UserTimeout),
            None => (elapsed >= model_timeout(s.retries2, s.rto_min, s.rto_max))
                .then_some(Timeout::Retransmission),
        }
    }

    /// Resends the first unacknowledged segment (data, FIN or both).
    fn retransmit_head(&self, out: &mut Vec<Action>) {
        let buf_end = self.buf_start + self.send_buf.len() as u64;
        let data = buf_end
            .saturating_sub(self.snd_una)
            .min(self.cfg.mss as u64);
        let data_end = (self.snd_una + data).min(self.snd_nxt);
        let payload = self.buffered(self.snd_una, (data_end - self.snd_una) as usize);
        let with_fin = self.fin_off == Some(data_end) && self.snd_nxt > data_end;
        let flags = if with_fin { Flags::FIN } else { Flags::PSH };
        out.push(Action::Send(self.segment(self.snd_una, flags, payload)));
    }

    /// Arms keepalive `keepidle` after the last segment received.
    pub(super) fn arm_keepalive(&mut self) {
        if self.cfg.timing.keepalive {
            let at = self.last_rcv + self.cfg.timing.keepidle;
            self.arm(Timer::Keepalive, self.last_rcv, at - self.last_rcv);
        }
    }

    pub(super) fn on_keepalive_timer(&mut self, now: Duration, out: &mut Vec<Action>) {
        if !self.state.synchronized() || self.state == State::TimeWait || !self.cfg.timing.keepalive
        {
            return;
        }
        let t = self.cfg.timing.clone();
        if self.snd_nxt > self.snd_una {
            // Keepalive stands aside while data is outstanding.
            return self.arm(Timer::Keepalive, now, t.keepidle);
        }
        let idle = now.saturating_sub(self.last_rcv);
        if idle < t.keepidle {
            let left = (self.last_rcv + t.keepidle).saturating_sub(now);
            return self.arm(Timer::Keepalive, now, left);
        }
        let dead = match t.user_timeout {
            Some(ut) => idle >= ut && self.probes_out > 0,
            None => self.probes_out >= t.keepcnt,
        };
        if dead {
            out.push(Action::Send(self.segment(
                self.snd_nxt,
                Flags::RST,
                Vec::new(),
            )));
            return self.finish(CloseReason::TimedOut(Timeout::Keepalive), out);
        }
        // A probe one byte behind what the peer has: it must answer with an
        // ACK.
        let probe = self.segment(self.snd_nxt.saturating_sub(1), Flags::empty(), Vec::new());
        out.push(Action::Send(probe));
        self.probes_out += 1;
        self.arm(Timer::Keepalive, now, t.keepintvl);
    }
}
