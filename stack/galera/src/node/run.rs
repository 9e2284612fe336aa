//! The node's reactions.

use std::collections::BTreeSet;
use std::time::Duration;

use hasim_data::wire::Request;

use super::{have_quorum, Action, GaleraNode, Msg, WriteSet, CERT_FAILURE, NOT_PRIMARY};

impl GaleraNode {
    pub(super) fn on_request(&mut self, conn: u64, req: Request, out: &mut Vec<Action>) {
        if self.view.is_none() {
            let a = self.reply(conn, req.id(), Err(NOT_PRIMARY.into()));
            return out.push(a);
        }
        match req {
            Request::Ping { id } => out.push(self.reply(conn, id, Ok(None))),
            Request::Read { id, key } => {
                out.push(self.reply(conn, id, Ok(Some(self.values(&key)))))
            }
            Request::Write { id, key, value } => {
                let ws = WriteSet {
                    origin: self.cfg.name.clone(),
                    conn,
                    id,
                    key,
                    value,
                    depends: self.seqno,
                };
                self.pending.insert((conn, id));
                match self.orderer().cloned() {
                    Some(o) if o == self.cfg.name => self.order(ws, out),
                    Some(o) => out.push(Action::Send {
                        to: o,
                        msg: Msg::Replicate(ws),
                    }),
                    None => {}
                }
            }
        }
    }

    /// The orderer gives the next global seqno and sends it to every member.
    fn order(&mut self, ws: WriteSet, out: &mut Vec<Action>) {
        let Some(view) = self.view.clone() else {
            return;
        };
        self.next_order = self.next_order.max(self.seqno) + 1;
        let seqno = self.next_order;
        let others: BTreeSet<String> = view.into_iter().filter(|m| *m != self.cfg.name).collect();
        for m in &others {
            out.push(Action::Send {
                to: m.clone(),
                msg: Msg::Ordered {
                    seqno,
                    ws: ws.clone(),
                },
            });
        }
        self.early.insert(seqno, ws);
        self.missing_acks.insert(seqno, others);
        self.commit_acknowledged(out);
    }

    /// The orderer commits, and tells members to commit, the write-sets
    /// every member has.
    fn commit_acknowledged(&mut self, out: &mut Vec<Action>) {
        let mut upto = None;
        while let Some(entry) = self.missing_acks.first_entry() {
            if !entry.get().is_empty() {
                break;
            }
            upto = Some(*entry.key());
            entry.remove();
        }
        let Some(upto) = upto else { return };
        if let Some(view) = self.view.clone() {
            for m in view.iter().filter(|m| **m != self.cfg.name) {
                out.push(Action::Send {
                    to: m.clone(),
                    msg: Msg::Commit { upto },
                });
            }
        }
        self.commit_upto(upto, out);
    }

    /// Commits buffered write-sets in seqno order, certifying each.
    fn commit_upto(&mut self, upto: i64, out: &mut Vec<Action>) {
        while self.seqno < upto {
            let Some(ws) = self.early.remove(&(self.seqno + 1)) else {
                break;
            };
            self.seqno += 1;
            let passes = self
                .cert
                .get(&ws.key)
                .is_none_or(|(last, origin)| *last <= ws.depends || *origin == ws.origin);
            if passes {
                self.cert
                    .insert(ws.key.clone(), (self.seqno, ws.origin.clone()));
                self.data
                    .entry(ws.key.clone())
                    .or_default()
                    .insert(ws.value);
            }
            out.push(Action::Committed {
                seqno: self.seqno,
                write: passes.then(|| (ws.key.clone(), ws.value)),
            });
            if ws.origin == self.cfg.name && self.pending.remove(&(ws.conn, ws.id)) {
                let result = if passes {
                    Ok(None)
                } else {
                    Err(CERT_FAILURE.to_string())
                };
                out.push(self.reply(ws.conn, ws.id, result));
            }
        }
    }

    pub(super) fn on_peer(&mut self, now: Duration, from: String, msg: Msg, out: &mut Vec<Action>) {
        self.heard.insert(from.clone(), now);
        let from_orderer = self.orderer() == Some(&from);
        let i_order = self.orderer() == Some(&self.cfg.name);
        match msg {
            Msg::Keepalive { view } => {
                if view.is_some() {
                    self.waiting.remove(&from);
                    self.primary_peers.insert(from.clone(), now);
                } else {
                    self.primary_peers.remove(&from);
                }
                self.on_keepalive(from, view, out)
            }
            Msg::Waiting { last_prim, seqno } => {
                self.waiting.insert(from, (last_prim, seqno));
            }
            Msg::Replicate(ws) if i_order && self.is_member(&from) => self.order(ws, out),
            Msg::Ordered { seqno, ws } if from_orderer => {
                if seqno > self.seqno {
                    let replaced = self.early.insert(seqno, ws.clone());
                    self.roll_back_replaced(replaced, &ws, out);
                }
                out.push(Action::Send {
                    to: from,
                    msg: Msg::Ack { seqno },
                });
            }
            Msg::Ack { seqno } if i_order => {
                if let Some(missing) = self.missing_acks.get_mut(&seqno) {
                    missing.remove(&from);
                }
                self.commit_acknowledged(out);
            }
            Msg::Commit { upto } if from_orderer => self.commit_upto(upto, out),
            Msg::State {
                view,
                seqno,
                data,
                cert,
            } if self.view.is_none() && view.contains(&self.cfg.name) => {
                self.view = Some(view);
                self.seqno = seqno;
                self.next_order = seqno;
                self.data = data;
                self.cert = cert;
                self.early.clear();
                out.push(Action::StateReceived);
            }
            _ => {}
        }
    }

    fn on_keepalive(
        &mut self,
        from: String,
        theirs: Option<BTreeSet<String>>,
        out: &mut Vec<Action>,
    ) {
        let Some(mine) = self.view.clone() else {
            return;
        };
        let dropped = theirs.as_ref().is_some_and(|v| {
            mine.contains(&from) && v.first() == Some(&from) && !v.contains(&self.cfg.name)
        });
        if dropped {
            // The orderer of a primary component with a member of ours
            // has left us out: we were evicted while silent (paused, or
            // heard but not hearing). Leave, and rejoin with a state
            // transfer.
            self.view = None;
            return self.abort_uncommitted(NOT_PRIMARY, out);
        }
        let i_order = self.orderer() == Some(&self.cfg.name);
        if i_order && theirs.is_none() && mine.contains(&from) {
            // A member restarted or stepped down: it leaves the view now
            // and is admitted again with a state transfer.
            return self.evict(&from, out);
        }
        if i_order {
            // A node outside any primary component joins ours with a full
            // state transfer of what is committed. The view changes only
            // between write-sets (none awaiting acks), as a configuration
            // change is delivered between messages in virtual synchrony.
            let joins = !mine.contains(&from) && self.cfg.cluster.contains(&from);
            if joins && theirs.is_none() && self.missing_acks.is_empty() {
                let mut view = mine;
                view.insert(from.clone());
                self.view = Some(view.clone());
                let (seqno, data, cert) = (self.seqno, self.data.clone(), self.cert.clone());
                out.push(Action::Send {
                    to: from.clone(),
                    msg: Msg::State {
                        view: view.clone(),
                        seqno,
                        data,
                        cert,
                    },
                });
                // Members learn the new view at once, not at the next
                // keepalive, so they take the new orderer's write-sets.
                for m in view.iter().filter(|m| **m != self.cfg.name && **m != from) {
                    out.push(Action::Send {
                        to: m.clone(),
                        msg: Msg::Keepalive {
                            view: Some(view.clone()),
                        },
                    });
                }
                self.orderer_may_have_changed(&BTreeSet::from([self.cfg.name.clone()]), out);
            }
        } else if mine.first() == Some(&from) && theirs.is_none() {
            // Our orderer left the primary component (it restarted or lost
            // quorum): so did we.
            self.last_prim = mine;
            self.view = None;
            self.abort_uncommitted(NOT_PRIMARY, out);
        } else if mine.first() == Some(&from) {
            // Members follow the orderer's view of the component.
            if let Some(v) = theirs.filter(|v| v.contains(&self.cfg.name)) {
                self.view = Some(v);
                self.orderer_may_have_changed(&mine, out);
            }
        }
    }

    /// When a joiner takes over ordering (the lowest name), write-sets this
    /// node sent to the old orderer may have been dropped there: their
    /// clients get 1213, as a transaction caught in a view change is rolled
    /// back. Ordered ones still commit as the new orderer says.
    fn orderer_may_have_changed(&mut self, before: &BTreeSet<String>, out: &mut Vec<Action>) {
        if self.orderer() == before.first() {
            return;
        }
        for (conn, id) in std::mem::take(&mut self.pending) {
            out.push(self.reply(conn, id, Err(CERT_FAILURE.to_string())));
        }
    }

    pub(super) fn on_timeout(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.next_keepalive <= now {
            self.next_keepalive = now + self.cfg.keepalive_period;
            self.resend_unacknowledged(out);
            self.announce_waiting(out);
            for peer in self.cfg.cluster.iter().filter(|p| **p != self.cfg.name) {
                out.push(Action::Send {
                    to: peer.clone(),
                    msg: Msg::Keepalive {
                        view: self.view.clone(),
                    },
                });
            }
        }
        if self.next_check <= now {
            self.next_check = now + self.cfg.evs.check_period;
            self.drop_silent(now, out);
            self.try_restore(now, out);
        }
    }

    /// A write-set of ours that a new orderer never received was replaced
    /// by another under its seqno: its client gets 1213.
    fn roll_back_replaced(&mut self, old: Option<WriteSet>, new: &WriteSet, out: &mut Vec<Action>) {
        let Some(old) = old.filter(|o| o != new && o.origin == self.cfg.name) else {
            return;
        };
        if self.pending.remove(&(old.conn, old.id)) {
            out.push(self.reply(old.conn, old.id, Err(CERT_FAILURE.to_string())));
        }
    }

    /// The orderer removes `node` from the component and tells the others;
    /// if the rest is no quorum of the component, it leaves it instead.
    fn evict(&mut self, node: &String, out: &mut Vec<Action>) {
        let Some(prev) = self.view.clone() else {
            return;
        };
        let mut view = prev.clone();
        view.remove(node);
        if !have_quorum(&view, &BTreeSet::new(), &prev, &Default::default()) {
            // Without it we were not a primary component either (a paused
            // orderer that lost its quorum while it slept).
            self.last_prim = prev;
            self.view = None;
            return self.abort_uncommitted(NOT_PRIMARY, out);
        }
        for missing in self.missing_acks.values_mut() {
            missing.remove(node);
        }
        for m in view.iter().filter(|m| **m != self.cfg.name) {
            out.push(Action::Send {
                to: m.clone(),
                msg: Msg::Keepalive {
                    view: Some(view.clone()),
                },
            });
        }
        self.view = Some(view);
        self.commit_acknowledged(out);
    }

    fn is_member(&self, node: &String) -> bool {
        self.view.as_ref().is_some_and(|v| v.contains(node))
    }

    /// The orderer sends write-sets again to members that have not
    /// acknowledged them (one may have arrived before the member knew the
    /// view): EVS retransmits until every member of the view has a message.
    fn resend_unacknowledged(&self, out: &mut Vec<Action>) {
        if self.orderer() != Some(&self.cfg.name) {
            return;
        }
        for (seqno, missing) in &self.missing_acks {
            let Some(ws) = self.early.get(seqno) else {
                continue;
            };
            for m in missing {
                out.push(Action::Send {
                    to: m.clone(),
                    msg: Msg::Ordered {
                        seqno: *seqno,
                        ws: ws.clone(),
                    },
                });
            }
        }
    }

    /// Removes members silent for `evs.suspect_timeout`; keeps primary only
    /// with a quorum of the previous component.
    fn drop_silent(&mut self, now: Duration, out: &mut Vec<Action>) {
        let Some(prev) = self.view.clone() else {
            return;
        };
        let me = self.cfg.name.clone();
        let suspect = self.cfg.evs.suspect;
        let alive: BTreeSet<String> = prev
            .iter()
            .filter(|m| {
                **m == me
                    || self
                        .heard
                        .get(*m)
                        .is_some_and(|&t| now.saturating_sub(t) < suspect)
            })
            .cloned()
            .collect();
        if alive.len() == prev.len() {
            return;
        }
        if !have_quorum(&alive, &BTreeSet::new(), &prev, &Default::default()) {
            self.last_prim = prev;
            self.view = None;
            return self.abort_uncommitted(NOT_PRIMARY, out);
        }
        let same_orderer = alive.first() == prev.first();
        self.view = Some(alive.clone());
        if same_orderer {
            // Acks from members that left are no longer awaited.
            for missing in self.missing_acks.values_mut() {
                missing.retain(|m| alive.contains(m));
            }
            if alive.first() == Some(&me) {
                self.commit_acknowledged(out);
            }
        } else {
            self.take_over_ordering(&alive, out);
        }
    }

    /// The orderer left but the component kept its quorum. As EVS delivers
    /// to every survivor what any survivor received in the old view, the
    /// write-sets the old orderer sent are not lost: the new orderer sends
    /// the ones it holds again under their seqnos and commits them once
    /// every survivor has them. (One the old orderer committed and
    /// acknowledged was acknowledged by every member first, so the new
    /// orderer holds it.) Writes this node passed to the old orderer that
    /// no survivor received are rolled back: their clients get 1213.
    fn take_over_ordering(&mut self, alive: &BTreeSet<String>, out: &mut Vec<Action>) {
        let me = self.cfg.name.clone();
        let held: BTreeSet<(u64, u64)> = self
            .early
            .values()
            .filter(|ws| ws.origin == me)
            .map(|ws| (ws.conn, ws.id))
            .collect();
        for (conn, id) in std::mem::take(&mut self.pending) {
            if held.contains(&(conn, id)) {
                self.pending.insert((conn, id));
            } else {
                out.push(self.reply(conn, id, Err(CERT_FAILURE.to_string())));
            }
        }
        self.missing_acks.clear();
        if alive.first() != Some(&me) {
            return;
        }
        let others: BTreeSet<String> = alive.iter().filter(|m| **m != me).cloned().collect();
        let mut next = self.seqno;
        while let Some(ws) = self.early.get(&(next + 1)).cloned() {
            next += 1;
            for m in &others {
                out.push(Action::Send {
                    to: m.clone(),
                    msg: Msg::Ordered {
                        seqno: next,
                        ws: ws.clone(),
                    },
                });
            }
            self.missing_acks.insert(next, others.clone());
        }
        self.early.retain(|s, _| *s <= next);
        self.next_order = next;
        self.commit_acknowledged(out);
    }

    /// Forgets ordered but uncommitted write-sets and fails this node's
    /// waiting clients with `error`.
    fn abort_uncommitted(&mut self, error: &str, out: &mut Vec<Action>) {
        self.early.clear();
        self.missing_acks.clear();
        self.next_order = self.seqno;
        for (conn, id) in std::mem::take(&mut self.pending) {
            out.push(self.reply(conn, id, Err(error.to_string())));
        }
    }
}
