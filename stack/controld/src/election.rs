//! DC election (lib/cluster/election.c): every candidate multicasts a
//! vote; a node that would lose answers "no-vote" and waits for the
//! winner's join offer, a node that would win starts its own election; a
//! candidate that collected a no-vote from every peer (or whose
//! election-timeout expired) becomes DC. Votes compare the feature-set
//! version (equal here), then "uptime" (older wins), then the node name
//! (the lower name, case-insensitively, wins).

use std::time::Duration;

use hasim_pcmk_proto::{Action, Daemon, Event, LocalMsg};

use crate::core::{Controld, State};
use crate::wire::Wire;

/// How long a lost election keeps this node from starting another.
const LOSS_DAMPEN: Duration = Duration::from_secs(2);

/// Whether a vote of ours (`age`, `name`) beats theirs.
pub(crate) fn we_win(our_age: u64, our_name: &str, their_age: u64, their_name: &str) -> bool {
    if our_age != their_age {
        return our_age > their_age;
    }
    our_name.to_lowercase() < their_name.to_lowercase()
}

impl Controld {
    /// Our "uptime" for votes, as a seniority that does not change while
    /// the vote travels: larger is older (started earlier on the cluster's
    /// clock, less the seeded jitter). Comparing uptimes read at different
    /// instants let two nodes whose uptimes differ by less than the message
    /// latency both believe they won, and the election never ended.
    pub(crate) fn age(&self, _now: Duration) -> u64 {
        const EPOCH_MS: u64 = 1 << 50;
        EPOCH_MS - self.started_at.as_millis() as u64 + self.cfg.uptime_jitter_ms
    }

    pub(crate) fn start_election(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state == State::Starting {
            return;
        }
        self.step_down(out);
        self.set_state(State::Election, out);
        out.push(Action::Report(Event::ElectionStarted {
            node: self.cfg.node.clone(),
        }));
        self.no_votes.clear();
        self.cancel_timer("election-trigger", out);
        self.set_timer("election-timeout", self.opts.election_timeout, out);
        let vote = Wire::Vote {
            from: self.cfg.node.clone(),
            age: self.age(now),
        };
        self.multicast(&vote, out);
        self.check_election(now, out);
    }

    /// Stop acting as DC (lost an election or another DC appeared).
    pub(crate) fn step_down(&mut self, out: &mut Vec<Action>) {
        if self.state.is_dc() {
            out.push(Action::Send {
                to: Daemon::Based,
                msg: LocalMsg::CibPrimary(false),
            });
            self.run = None;
            self.fencing.clear();
            self.awaiting_sync = None;
            self.set_dc(None, out);
        }
    }

    pub(crate) fn on_vote(&mut self, now: Duration, from: &str, age: u64, out: &mut Vec<Action>) {
        if from == self.cfg.node || self.state == State::Starting {
            return;
        }
        // Pacemaker's election dampening (lib/cluster/election.c,
        // LOSS_DAMPEN): a node that lost within the last 2 s answers even a
        // vote it would beat with a no-vote, so the winner it lost to wins
        // again instead of the two voting each other down in turn.
        let dampened = self
            .last_election_loss
            .is_some_and(|at| now.saturating_sub(at) <= LOSS_DAMPEN);
        if we_win(self.age(now), &self.cfg.node, age, from) && !dampened {
            self.last_election_loss = None;
            if self.state != State::Election {
                self.start_election(now, out);
            }
            return;
        }
        self.last_election_loss = Some(now);
        let was_dc = self.state.is_dc();
        self.multicast(
            &Wire::NoVote {
                from: self.cfg.node.clone(),
                to: from.to_string(),
            },
            out,
        );
        if was_dc || self.state == State::Election {
            self.step_down(out);
            self.cancel_timer("election-timeout", out);
            self.set_state(State::Pending, out);
            self.set_timer("election-trigger", self.opts.dc_deadtime, out);
        }
    }

    pub(crate) fn on_no_vote(
        &mut self,
        now: Duration,
        from: String,
        to: &str,
        out: &mut Vec<Action>,
    ) {
        if to == self.cfg.node && self.state == State::Election {
            self.no_votes.insert(from);
            self.check_election(now, out);
        }
    }

    pub(crate) fn check_election(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state != State::Election {
            return;
        }
        let me = self.cfg.node.clone();
        let all = self
            .member_names()
            .iter()
            .filter(|n| **n != me)
            .all(|n| self.no_votes.contains(n));
        if all {
            self.become_dc(now, out);
        }
    }

    pub(crate) fn become_dc(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.cancel_timer("election-timeout", out);
        self.cancel_timer("election-trigger", out);
        self.set_state(State::Integration, out);
        self.set_dc(Some(self.cfg.node.clone()), out);
        out.push(Action::Send {
            to: Daemon::Based,
            msg: LocalMsg::CibPrimary(true),
        });
        self.offer(now, out);
    }
}

#[cfg(test)]
mod tests {
    use super::we_win;
    use crate::core::{Config, Controld};
    use std::time::Duration;

    #[test]
    fn seniority_is_the_same_whenever_it_is_read() {
        // Two nodes 1 ms apart compare the same numbers on both sides, so
        // exactly one of them wins (the stuck election of pacemaker-dc-loss
        // seed 57 before this).
        let node = |name: &str, started_ms: u64| {
            let mut c = Controld::new(Config {
                node: name.into(),
                node_id: 1,
                nodelist: Default::default(),
                uptime_jitter_ms: 0,
            });
            c.started_at = Duration::from_millis(started_ms);
            c
        };
        let (a, b) = (node("node2", 12_000), node("node3", 12_001));
        let (sent, read) = (Duration::from_secs(60), Duration::from_millis(60_002));
        assert_eq!(a.age(sent), a.age(read));
        let a_wins = we_win(a.age(read), "node2", b.age(sent), "node3");
        let b_wins = we_win(b.age(read), "node3", a.age(sent), "node2");
        assert!(a_wins && !b_wins);
    }

    #[test]
    fn vote_order_is_uptime_then_lower_name() {
        assert!(we_win(10, "node3", 5, "node1"));
        assert!(!we_win(5, "node1", 10, "node3"));
        assert!(we_win(7, "Node1", 7, "node2"));
        assert!(!we_win(7, "node2", 7, "NODE1"));
    }
}
