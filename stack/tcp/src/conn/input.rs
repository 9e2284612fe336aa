//! Receiving: handshake replies, ACKs, data, FIN and RST.

use std::time::Duration;

use super::{Action, CloseReason, Connection, Event, State, Timer, TIME_WAIT_LEN};
use crate::segment::{Flags, Segment};

impl Connection {
    /// Send offset of wire number `wire`, taken as the nearest to `snd_una`.
    fn snd_off(&self, wire: u32) -> u64 {
        let delta = wire.wrapping_sub(self.snd_wire(self.snd_una)) as i32;
        self.snd_una.saturating_add_signed(i64::from(delta))
    }

    /// Receive offset of wire number `wire`, taken as the nearest to
    /// `rcv_nxt`.
    fn rcv_off(&self, wire: u32) -> u64 {
        let delta = wire.wrapping_sub(self.rcv_wire(self.rcv_nxt)) as i32;
        self.rcv_nxt.saturating_add_signed(i64::from(delta))
    }

    pub(super) fn on_segment(&mut self, now: Duration, seg: Segment, out: &mut Vec<Action>) {
        match self.state {
            State::Closed => {}
            State::SynSent => self.on_syn_sent(now, seg, out),
            State::SynReceived => self.on_syn_received(now, seg, out),
            _ => self.on_synchronized(now, seg, out),
        }
    }

    fn on_syn_sent(&mut self, now: Duration, seg: Segment, out: &mut Vec<Action>) {
        let acks_syn = seg.flags.contains(Flags::ACK) && seg.ack == self.snd_wire(1);
        if seg.flags.contains(Flags::RST) {
            if acks_syn {
                self.finish(CloseReason::Refused, out);
            }
            return;
        }
        if seg.flags.contains(Flags::ACK) && !acks_syn {
            let rst = Segment {
                src_port: self.cfg.local_port,
                dst_port: self.cfg.remote_port,
                seq: seg.ack,
                ack: 0,
                flags: Flags::RST,
                window: 0,
                payload: Vec::new(),
            };
            out.push(Action::Send(rst));
            return;
        }
        if !(seg.flags.contains(Flags::SYN) && acks_syn) {
            return;
        }
        self.irs = seg.seq;
        self.rcv_nxt = 1;
        self.establish(now, &seg, out);
        self.send_ack(out);
        self.push(now, out);
    }

    fn on_syn_received(&mut self, now: Duration, seg: Segment, out: &mut Vec<Action>) {
        if seg.flags.contains(Flags::RST) {
            return self.finish(CloseReason::Reset, out);
        }
        if seg.flags.contains(Flags::SYN) {
            // The peer did not get our SYN-ACK: resend it now.
            out.push(Action::Send(self.segment(0, Flags::SYN, Vec::new())));
            return;
        }
        if !(seg.flags.contains(Flags::ACK) && seg.ack == self.snd_wire(1)) {
            return;
        }
        self.establish(now, &seg, out);
        if self.fin_off.is_some() {
            // Closed before the handshake finished.
            self.state = State::FinWait1;
        }
        self.on_synchronized(now, seg, out);
        self.push(now, out);
    }

    /// Handshake done: sample the SYN's RTT unless it was retransmitted.
    fn establish(&mut self, now: Duration, seg: &Segment, out: &mut Vec<Action>) {
        self.state = State::Established;
        self.snd_una = 1;
        self.peer_window = seg.window;
        self.last_rcv = now;
        if let Some((_, sent)) = self.rtt_probe.take() {
            self.rtt.sample(now.saturating_sub(sent), 1, 1);
        }
        self.backoff = 0;
        self.retransmits = 0;
        self.retrans_stamp = None;
        self.timers.remove(&Timer::Retransmit);
        self.arm_keepalive();
        self.event(Event::Connected, out);
    }

    fn on_synchronized(&mut self, now: Duration, seg: Segment, out: &mut Vec<Action>) {
        let off = self.rcv_off(seg.seq);
        if seg.flags.contains(Flags::RST) {
            return self.on_rst(off, out);
        }
        self.last_rcv = now;
        if self.timers.contains_key(&Timer::Keepalive) {
            self.arm_keepalive();
        }
        if seg.flags.contains(Flags::SYN) {
            // A SYN inside a synchronised connection gets a challenge ACK.
            return self.send_ack(out);
        }
        if seg.flags.contains(Flags::ACK) && !self.on_ack(now, &seg, out) {
            return;
        }
        if self.state == State::Closed {
            return;
        }
        let needs_ack = self.on_data(off, &seg, out);
        if needs_ack {
            self.send_ack(out);
        }
        self.push(now, out);
    }

    fn on_rst(&mut self, off: u64, out: &mut Vec<Action>) {
        let in_window = off >= self.rcv_nxt && off < self.rcv_nxt + u64::from(self.cfg.rcv_window);
        if !in_window {
            return;
        }
        let reason = if self.state == State::TimeWait {
            CloseReason::Normal
        } else {
            CloseReason::Reset
        };
        self.finish(reason, out);
    }

    /// Processes the acknowledgement; false when the segment must be
    /// dropped (it acknowledges data never sent).
    fn on_ack(&mut self, now: Duration, seg: &Segment, out: &mut Vec<Action>) -> bool {
        let ack = self.snd_off(seg.ack);
        if ack > self.snd_nxt {
            self.send_ack(out);
            return false;
        }
        self.peer_window = seg.window;
        self.probes_out = 0;
        if ack <= self.snd_una {
            return true;
        }
        if let Some((end, sent)) = self.rtt_probe {
            if ack >= end {
                self.rtt.sample(now.saturating_sub(sent), ack, self.snd_nxt);
                self.rtt_probe = None;
            }
        }
        let data_end = self.buf_start + self.send_buf.len() as u64;
        let drop = ack.min(data_end).saturating_sub(self.buf_start) as usize;
        self.send_buf.drain(..drop);
        self.buf_start += drop as u64;
        self.snd_una = ack;
        self.backoff = 0;
        self.retransmits = 0;
        self.retrans_stamp = None;
        if self.snd_una == self.snd_nxt {
            self.timers.remove(&Timer::Retransmit);
        } else {
            let rto = self.rto();
            self.arm(Timer::Retransmit, now, rto);
        }
        if self.fin_off.is_some_and(|f| ack > f) {
            self.on_fin_acked(now, out);
        }
        true
    }

    fn on_fin_acked(&mut self, now: Duration, out: &mut Vec<Action>) {
        match self.state {
            State::FinWait1 => {
                self.state = State::FinWait2;
                let t = self.cfg.timing.sysctls.fin_timeout;
                self.arm(Timer::Linger, now, t);
            }
            State::Closing => self.enter_time_wait(now, out),
            State::LastAck => self.finish(CloseReason::Normal, out),
            _ => {}
        }
    }

    fn enter_time_wait(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.state = State::TimeWait;
        self.timers.clear();
        self.arm(Timer::Linger, now, TIME_WAIT_LEN);
        self.report_closed(CloseReason::Normal, out);
    }

    /// Takes in data and FIN; returns whether an ACK must go out.
    fn on_data(&mut self, off: u64, seg: &Segment, out: &mut Vec<Action>) -> bool {
        let len = seg.payload.len() as u64;
        let accepts = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        );
        if seg.flags.contains(Flags::FIN) && accepts {
            self.peer_fin = Some(off + len);
        }
        let mut needs_ack = len > 0 || seg.flags.contains(Flags::FIN) || off < self.rcv_nxt;
        if accepts && len > 0 {
            if off > self.rcv_nxt {
                if off < self.rcv_nxt + u64::from(self.cfg.rcv_window) {
                    self.out_of_order
                        .entry(off)
                        .or_insert_with(|| seg.payload.clone());
                }
            } else if off + len > self.rcv_nxt {
                let skip = (self.rcv_nxt - off) as usize;
                self.deliver(seg.payload[skip..].to_vec(), out);
            }
            self.drain_out_of_order(out);
        }
        if self.peer_fin == Some(self.rcv_nxt) {
            self.peer_fin = None;
            self.rcv_nxt += 1;
            self.on_peer_fin(out);
            needs_ack = true;
        } else if self.state == State::TimeWait && seg.flags.contains(Flags::FIN) {
            // A retransmitted FIN: ACK it again and restart TIME-WAIT.
            let at = self.last_rcv;
            self.arm(Timer::Linger, at, TIME_WAIT_LEN);
            needs_ack = true;
        }
        needs_ack
    }

    fn deliver(&mut self, bytes: Vec<u8>, out: &mut Vec<Action>) {
        self.rcv_nxt += bytes.len() as u64;
        self.event(Event::Data(bytes), out);
    }

    fn drain_out_of_order(&mut self, out: &mut Vec<Action>) {
        while let Some(entry) = self.out_of_order.first_entry() {
            let off = *entry.key();
            if off > self.rcv_nxt {
                break;
            }
            let bytes = entry.remove();
            let end = off + bytes.len() as u64;
            if end > self.rcv_nxt {
                let skip = (self.rcv_nxt - off) as usize;
                self.deliver(bytes[skip..].to_vec(), out);
            }
        }
    }

    fn on_peer_fin(&mut self, out: &mut Vec<Action>) {
        self.event(Event::PeerClosed, out);
        match self.state {
            State::Established => self.state = State::CloseWait,
            State::FinWait1 => self.state = State::Closing,
            State::FinWait2 => {
                let now = self.last_rcv;
                self.enter_time_wait(now, out);
            }
            _ => {}
        }
    }
}
