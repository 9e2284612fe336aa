//! Reactions: relaying, closing, retrying, health checks.

use std::time::Duration;

use hasim_tcp::CloseReason;

use super::{Action, Haproxy};
use crate::Conn;

impl Haproxy {
    /// The session a connection belongs to, by its client leg.
    fn session_of(&self, c: Conn) -> Option<Conn> {
        match c {
            Conn::In(_) => self.sessions.contains_key(&c).then_some(c),
            Conn::Out(_) => self.server_leg.get(&c).copied(),
        }
    }

    fn check_of(&self, c: Conn) -> Option<(usize, usize)> {
        self.health.iter().enumerate().find_map(|(l, hs)| {
            hs.iter()
                .position(|h| h.in_flight.is_some_and(|(x, _)| x == c))
                .map(|s| (l, s))
        })
    }

    pub(super) fn on_connected(&mut self, now: Duration, c: Conn, out: &mut Vec<Action>) {
        if let Some((l, s)) = self.check_of(c) {
            out.push(Action::Close(c));
            return self.check_result(l, s, true, out);
        }
        let Some(key) = self.session_of(c) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&key) else {
            return;
        };
        if s.out == c {
            s.connected = true;
            s.last_activity = now;
            let pending = std::mem::take(&mut s.pending);
            if !pending.is_empty() {
                out.push(Action::Send(c, pending));
            }
        }
    }

    pub(super) fn on_data(
        &mut self,
        now: Duration,
        c: Conn,
        bytes: Vec<u8>,
        out: &mut Vec<Action>,
    ) {
        let Some(key) = self.session_of(c) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&key) else {
            return;
        };
        s.last_activity = now;
        if c == s.client {
            if s.connected {
                out.push(Action::Send(s.out, bytes));
            } else {
                s.pending.extend(bytes);
            }
        } else if c == s.out {
            out.push(Action::Send(s.client, bytes));
        }
    }

    pub(super) fn on_closed(
        &mut self,
        now: Duration,
        c: Conn,
        why: CloseReason,
        out: &mut Vec<Action>,
    ) {
        if let Some((l, s)) = self.check_of(c) {
            return self.check_result(l, s, false, out);
        }
        let Some(key) = self.session_of(c) else {
            return;
        };
        let Some(s) = self.sessions.get(&key).cloned() else {
            return;
        };
        if c == s.client {
            out.push(if s.connected {
                Action::Close(s.out)
            } else {
                Action::Abort(s.out)
            });
            return self.drop_session(key);
        }
        if c != s.out {
            return;
        }
        if !s.connected {
            return self.connect_failed(now, key, out);
        }
        out.push(if why == CloseReason::Normal {
            Action::Close(s.client)
        } else {
            Action::Abort(s.client)
        });
        self.drop_session(key);
    }

    /// A server connect failed or timed out: retry up to `retries`, then
    /// give up on the client.
    fn connect_failed(&mut self, now: Duration, key: Conn, out: &mut Vec<Action>) {
        let Some(s) = self.sessions.get(&key).cloned() else {
            return;
        };
        let l = &self.listens[s.listen];
        if s.attempts > l.retries {
            out.push(Action::Abort(s.client));
            return self.drop_session(key);
        }
        let deadline = now + l.timeout_connect;
        let o = self.alloc();
        self.server_leg.remove(&s.out);
        self.server_leg.insert(o, key);
        if let Some(sess) = self.sessions.get_mut(&key) {
            sess.out = o;
            sess.attempts += 1;
            sess.connect_deadline = deadline;
        }
        if let Some(sess) = self.sessions.get(&key) {
            out.push(self.connect_action(sess));
        }
    }

    fn drop_session(&mut self, key: Conn) {
        if let Some(s) = self.sessions.remove(&key) {
            self.server_leg.remove(&s.out);
        }
    }

    pub(super) fn on_timeout(&mut self, now: Duration, out: &mut Vec<Action>) {
        let due: Vec<Conn> = self
            .sessions
            .iter()
            .filter(|(_, s)| self.session_deadline(s) <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(s) = self.sessions.get(&key).cloned() else {
                continue;
            };
            if s.connected {
                out.push(Action::Close(s.client));
                out.push(Action::Close(s.out));
                self.drop_session(key);
            } else {
                out.push(Action::Abort(s.out));
                self.connect_failed(now, key, out);
            }
        }
        self.run_checks(now, out);
    }

    fn run_checks(&mut self, now: Duration, out: &mut Vec<Action>) {
        for l in 0..self.listens.len() {
            for s in 0..self.listens[l].servers.len() {
                if let Some((c, deadline)) = self.health[l][s].in_flight {
                    if deadline <= now {
                        out.push(Action::Abort(c));
                        self.check_result(l, s, false, out);
                    }
                }
                let due = self.health[l][s].next_check.is_some_and(|t| t <= now);
                if due && self.health[l][s].in_flight.is_none() {
                    let inter = self.listens[l].servers[s].inter;
                    let c = self.alloc();
                    out.push(Action::Connect {
                        conn: c,
                        to: self.listens[l].servers[s].addr,
                        keepalive: false,
                    });
                    self.health[l][s].in_flight = Some((c, now + inter));
                    self.health[l][s].next_check = Some(now + inter);
                }
            }
        }
    }

    /// Counts a check result; `rise` successes bring a server UP, `fall`
    /// failures take it DOWN.
    fn check_result(&mut self, l: usize, s: usize, ok: bool, out: &mut Vec<Action>) {
        let server = &self.listens[l].servers[s];
        let (rise, fall) = (server.rise, server.fall);
        let h = &mut self.health[l][s];
        h.in_flight = None;
        let changed = if ok {
            h.failures = 0;
            h.successes += 1;
            !h.up && h.successes >= rise
        } else {
            h.successes = 0;
            h.failures += 1;
            h.up && h.failures >= fall
        };
        if changed {
            h.up = ok;
            out.push(Action::ServerState {
                listen: self.listens[l].name.clone(),
                server: self.listens[l].servers[s].name.clone(),
                up: ok,
            });
        }
    }
}
