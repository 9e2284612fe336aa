//! The client's reactions to time, connections and responses.

use std::time::Duration;

use hasim_tcp::CloseReason;

use super::{Client, ClientAction, Slot};
use crate::history::Outcome;
use crate::wire::Request;

impl Client {
    pub(super) fn on_timeout(&mut self, now: Duration, out: &mut Vec<ClientAction>) {
        for s in 0..self.slots.len() {
            if self.deadline(&self.slots[s]).is_some_and(|d| d <= now) {
                self.expire(now, s, out);
            }
        }
        while self.next_op_at <= now {
            self.next_op_at += self.cfg.op_interval.max(Duration::from_micros(1));
            self.start_op(now, out);
        }
    }

    /// A connect or an operation outlived its timeout.
    fn expire(&mut self, now: Duration, s: usize, out: &mut Vec<ClientAction>) {
        let retry_at = now + self.cfg.retry_interval;
        match self.slots[s].clone() {
            Slot::Connecting { op, .. } => {
                if let Some(op) = op {
                    self.complete(op, now, Outcome::Failed("connect timeout".into()), None);
                }
                self.slots[s] = Slot::Empty { retry_at };
            }
            Slot::Pinging { conn, op, .. } | Slot::Busy { conn, op, .. } => {
                let pinging = matches!(self.slots[s], Slot::Pinging { .. });
                let outcome = if pinging {
                    Outcome::Failed("ping timeout".into())
                } else {
                    Outcome::Unknown("timeout".into())
                };
                self.complete(op, now, outcome, None);
                self.close_conn(conn, now, CloseReason::Aborted);
                self.slots[s] = Slot::Empty { retry_at: now };
            }
            Slot::Empty { .. } | Slot::Idle { .. } => return,
        }
        out.push(ClientAction::Close(s));
    }

    /// Checks out a slot for a new operation, or skips it.
    fn start_op(&mut self, now: Duration, out: &mut Vec<ClientAction>) {
        let idle = self
            .slots
            .iter()
            .position(|s| matches!(s, Slot::Idle { .. }));
        let empty = self
            .slots
            .iter()
            .position(|s| matches!(s, Slot::Empty { retry_at } if *retry_at <= now));
        let Some(s) = idle.or(empty) else {
            self.skipped += 1;
            return;
        };
        let op = self.new_op(now);
        match self.slots[s] {
            Slot::Idle { conn } if self.cfg.pre_ping => {
                out.push(ClientAction::Send(
                    s,
                    Request::Ping { id: op as u64 }.encode(),
                ));
                self.slots[s] = Slot::Pinging {
                    conn,
                    op,
                    since: now,
                };
            }
            Slot::Idle { conn } => {
                out.push(ClientAction::Send(s, self.request(op)));
                self.slots[s] = Slot::Busy {
                    conn,
                    op,
                    since: now,
                };
            }
            _ => {
                out.push(ClientAction::Connect(s));
                self.buffers[s] = Default::default();
                self.slots[s] = Slot::Connecting {
                    since: now,
                    op: Some(op),
                };
            }
        }
    }

    pub(super) fn on_connected(&mut self, now: Duration, s: usize, out: &mut Vec<ClientAction>) {
        let Some(Slot::Connecting { op, .. }) = self.slots.get(s).cloned() else {
            return;
        };
        let conn = self.open_conn(now);
        self.slots[s] = match op {
            Some(op) => {
                out.push(ClientAction::Send(s, self.request(op)));
                Slot::Busy {
                    conn,
                    op,
                    since: now,
                }
            }
            None => Slot::Idle { conn },
        };
    }

    pub(super) fn on_closed(
        &mut self,
        now: Duration,
        s: usize,
        why: CloseReason,
        out: &mut Vec<ClientAction>,
    ) {
        let Some(slot) = self.slots.get(s).cloned() else {
            return;
        };
        let retry_at = now + self.cfg.retry_interval;
        self.slots[s] = match slot {
            Slot::Connecting { op, .. } => {
                if let Some(op) = op {
                    self.complete(op, now, Outcome::Failed(format!("connect: {why:?}")), None);
                }
                Slot::Empty { retry_at }
            }
            Slot::Idle { conn } => {
                self.close_conn(conn, now, why);
                Slot::Empty { retry_at: now }
            }
            Slot::Pinging { conn, op, .. } => {
                // The statement was not sent: reconnect and send it there.
                self.close_conn(conn, now, why);
                out.push(ClientAction::Connect(s));
                self.buffers[s] = Default::default();
                Slot::Connecting {
                    since: now,
                    op: Some(op),
                }
            }
            Slot::Busy { conn, op, .. } => {
                self.complete(
                    op,
                    now,
                    Outcome::Unknown(format!("connection lost: {why:?}")),
                    None,
                );
                self.close_conn(conn, now, why);
                Slot::Empty { retry_at: now }
            }
            empty @ Slot::Empty { .. } => empty,
        };
    }

    pub(super) fn on_data(
        &mut self,
        now: Duration,
        s: usize,
        bytes: &[u8],
        out: &mut Vec<ClientAction>,
    ) {
        let responses = match self.parse(s, bytes) {
            Ok(r) => r,
            Err(e) => return self.protocol_error(now, s, e, out),
        };
        for r in responses {
            match self.slots[s].clone() {
                Slot::Pinging { conn, op, .. } if r.id == op as u64 => {
                    out.push(ClientAction::Send(s, self.request(op)));
                    self.slots[s] = Slot::Busy {
                        conn,
                        op,
                        since: now,
                    };
                }
                Slot::Busy { conn, op, .. } if r.id == op as u64 => {
                    let outcome = match r.result {
                        Ok(vals) => Outcome::Ok(vals),
                        Err(msg) => Outcome::Failed(msg),
                    };
                    self.complete(op, now, outcome, Some(r.node));
                    self.slots[s] = Slot::Idle { conn };
                }
                _ => {}
            }
        }
    }

    /// A garbled response: the connection is unusable.
    fn protocol_error(&mut self, now: Duration, s: usize, e: String, out: &mut Vec<ClientAction>) {
        if let Slot::Busy { conn, op, .. } | Slot::Pinging { conn, op, .. } = self.slots[s].clone()
        {
            self.complete(
                op,
                now,
                Outcome::Unknown(format!("protocol error: {e}")),
                None,
            );
            self.close_conn(conn, now, CloseReason::Aborted);
        } else if let Slot::Idle { conn } = self.slots[s] {
            self.close_conn(conn, now, CloseReason::Aborted);
        }
        self.slots[s] = Slot::Empty { retry_at: now };
        out.push(ClientAction::Close(s));
    }
}
