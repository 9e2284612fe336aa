//! Re-forming a primary component after it was lost for lack of quorum.
//!
//! gcomm keeps the last primary component: when nodes that lost it see
//! each other again and together hold a quorum of it (the same rule as
//! for keeping it, [`have_quorum`]), they form it again without an
//! operator. Here every non-primary node announces its last primary
//! component and seqno ([`Msg::Waiting`]); once a quorum of that component
//! is heard waiting, the most advanced of them (highest seqno, then the
//! lowest name) forms the component alone and the others join it with a
//! state transfer, so nothing any of them committed is lost. A node that
//! restarted has no last component and only ever joins. No node re-forms
//! while it hears a primary peer: gcomm decides this inside one agreed
//! membership, where two components cannot both be primary; here a
//! `Waiting` heard a moment ago may come from a node that has joined a
//! component since (pacemaker-haproxy-galera-nemesis seed 8 had two).

use std::collections::BTreeSet;
use std::time::Duration;

use super::{have_quorum, Action, GaleraNode, Msg};

impl GaleraNode {
    /// A non-primary node tells every peer what it last belonged to.
    pub(super) fn announce_waiting(&mut self, out: &mut Vec<Action>) {
        if let Some(v) = &self.view {
            if *v != self.last_prim {
                self.last_prim = v.clone();
                out.push(Action::WriteViewState(Some(v.clone())));
            }
            return;
        }
        if self.last_prim.is_empty() {
            return;
        }
        for peer in self.cfg.cluster.iter().filter(|p| **p != self.cfg.name) {
            out.push(Action::Send {
                to: peer.clone(),
                msg: Msg::Waiting {
                    last_prim: self.last_prim.clone(),
                    seqno: self.seqno,
                },
            });
        }
    }

    /// Forms the last primary component again when a quorum of it is
    /// waiting and this node is the most advanced of them.
    pub(super) fn try_restore(&mut self, now: Duration, _out: &mut Vec<Action>) {
        if self.view.is_some() || self.last_prim.is_empty() {
            return;
        }
        let suspect = self.cfg.evs.suspect;
        if self
            .primary_peers
            .values()
            .any(|&t| now.saturating_sub(t) < suspect)
        {
            // A primary component exists: join it (its orderer admits us)
            // rather than form a second one. A peer still listed as
            // waiting may already be in it.
            return;
        }
        let mut group: Vec<(i64, &String)> = vec![(self.seqno, &self.cfg.name)];
        for (peer, (last, seqno)) in &self.waiting {
            let recent = self
                .heard
                .get(peer)
                .is_some_and(|&t| now.saturating_sub(t) < suspect);
            if recent && *last == self.last_prim {
                group.push((*seqno, peer));
            }
        }
        let names: BTreeSet<String> = group.iter().map(|(_, n)| (*n).clone()).collect();
        if !have_quorum(
            &names,
            &BTreeSet::new(),
            &self.last_prim,
            &Default::default(),
        ) {
            return;
        }
        let best = group
            .iter()
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)))
            .map(|(_, n)| (*n).clone());
        if best.as_ref() == Some(&self.cfg.name) {
            self.view = Some([self.cfg.name.clone()].into());
            self.next_order = self.seqno;
            self.waiting.clear();
        }
    }
}
