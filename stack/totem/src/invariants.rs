//! Totem's consistency invariants, in one place: agreed order, virtual
//! synchrony, membership agreement and no loss within a configuration.
//!
//! Both Totem's own fault-timeline tests and the simulator's checkers feed
//! these, so the two can never disagree about what "agreed order" means.
//!
//! Each invariant is a streaming checker: it is told about deliveries and
//! configuration installs as they happen and answers with a violation at
//! once. Memory does not grow with the length of a run:
//! - per-message state is kept for a `window` of time after the message was
//!   first delivered (Totem delivers a message to every member of its ring
//!   within a few token rotations; a delivery later than the window is not
//!   compared, which the window's documentation at the call site states);
//! - per-configuration state is a count and a digest, not a message list.
//!
//! The types are generic: a process key `P` (a node incarnation), a message
//! identity `M` and a ring identity `R`, so the simulator can use names and
//! the Totem harness raw ids.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// Agreed order: any two processes deliver the messages they both deliver in
/// the same order, and no process delivers a message twice.
///
/// Why O(1) per pair suffices: when process `p` delivers `m` that `q` has
/// delivered before, `m` is `p`'s latest delivery, so it comes after every
/// earlier message the two have in common in `p`'s order; agreement needs
/// the same in `q`'s order, i.e. `m`'s position in `q` must be past the
/// latest common position seen so far. Any interleaving of the processes'
/// deliveries gives the same verdict.
pub struct AgreedOrder<P, M> {
    window: Duration,
    next_index: BTreeMap<P, u64>,
    /// Message -> every (process, position) that delivered it.
    holders: BTreeMap<M, Vec<(P, u64)>>,
    /// Messages in order of first delivery, for forgetting them.
    expiry: VecDeque<(Duration, M)>,
    /// (p, q) with p < q -> latest common positions (in p, in q).
    common: BTreeMap<(P, P), (u64, u64)>,
    deliveries: u64,
}

/// A broken agreed order, found as it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderViolation<P, M> {
    /// `proc` delivered `msg` a second time.
    Duplicate { proc: P, msg: M },
    /// `first` and `second` deliver `msg` in different places relative to
    /// the messages they had in common before it.
    Order { first: P, second: P, msg: M },
}

impl<P: Ord + Clone, M: Ord + Clone> AgreedOrder<P, M> {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            next_index: BTreeMap::new(),
            holders: BTreeMap::new(),
            expiry: VecDeque::new(),
            common: BTreeMap::new(),
            deliveries: 0,
        }
    }

    /// `proc` delivered `msg` at `t`.
    pub fn deliver(&mut self, t: Duration, proc: &P, msg: &M) -> Vec<OrderViolation<P, M>> {
        self.forget_before(t);
        self.deliveries += 1;
        let counter = self.next_index.entry(proc.clone()).or_default();
        let index = *counter;
        *counter += 1;
        let mut out = Vec::new();
        if !self.holders.contains_key(msg) {
            self.expiry.push_back((t, msg.clone()));
        }
        let holders = self.holders.entry(msg.clone()).or_default();
        for (other, at) in holders.iter() {
            if other == proc {
                out.push(OrderViolation::Duplicate {
                    proc: proc.clone(),
                    msg: msg.clone(),
                });
                continue;
            }
            if !advance(&mut self.common, proc, index, other, *at) {
                out.push(OrderViolation::Order {
                    first: other.clone(),
                    second: proc.clone(),
                    msg: msg.clone(),
                });
            }
        }
        holders.push((proc.clone(), index));
        out
    }

    fn forget_before(&mut self, t: Duration) {
        while let Some((first, _)) = self.expiry.front() {
            if t.saturating_sub(*first) <= self.window {
                break;
            }
            if let Some((_, msg)) = self.expiry.pop_front() {
                self.holders.remove(&msg);
            }
        }
    }

    /// Messages currently remembered (bounded by the window).
    pub fn remembered(&self) -> usize {
        self.holders.len()
    }

    /// Deliveries seen, and processes that delivered anything.
    pub fn totals(&self) -> (u64, usize) {
        (self.deliveries, self.next_index.len())
    }
}

/// Record that `p` (at `pi`) and `q` (at `qi`) share a message, where `pi` is
/// `p`'s latest position. False when `qi` is not past their latest common
/// position in `q`.
fn advance<P: Ord + Clone>(
    common: &mut BTreeMap<(P, P), (u64, u64)>,
    p: &P,
    pi: u64,
    q: &P,
    qi: u64,
) -> bool {
    let (key, mine, theirs) = if p < q {
        ((p.clone(), q.clone()), pi, qi)
    } else {
        ((q.clone(), p.clone()), qi, pi)
    };
    let p_first = p < q;
    match common.get_mut(&key) {
        None => {
            common.insert(key, (mine, theirs));
            true
        }
        Some(last) => {
            let (last_p, last_q) = if p_first {
                (last.0, last.1)
            } else {
                (last.1, last.0)
            };
            let ok = pi > last_p && qi > last_q;
            let (new_p, new_q) = (pi.max(last_p), qi.max(last_q));
            *last = if p_first {
                (new_p, new_q)
            } else {
                (new_q, new_p)
            };
            ok
        }
    }
}

/// Virtual synchrony: a message is delivered in the configuration it was
/// sent in, by every process that delivers it.
pub struct VirtualSynchrony<P, M, R> {
    window: Duration,
    /// Message -> (first process, the configuration it delivered in).
    first: BTreeMap<M, (P, Option<R>)>,
    expiry: VecDeque<(Duration, M)>,
    deliveries: u64,
}

/// A delivery outside the configuration it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SynchronyViolation<P, R> {
    /// The process had another regular configuration installed.
    WrongConfiguration {
        proc: P,
        sent_in: R,
        installed: Option<R>,
    },
    /// Another process delivered the same message in another configuration.
    Diverged {
        first: P,
        first_in: Option<R>,
        second: P,
        second_in: Option<R>,
    },
}

impl<P: Ord + Clone, M: Ord + Clone, R: Eq + Clone> VirtualSynchrony<P, M, R> {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            first: BTreeMap::new(),
            expiry: VecDeque::new(),
            deliveries: 0,
        }
    }

    /// `proc`, with regular configuration `installed`, delivered `msg`,
    /// which was sent in `sent_in`.
    pub fn deliver(
        &mut self,
        t: Duration,
        proc: &P,
        msg: &M,
        sent_in: &R,
        installed: Option<&R>,
    ) -> Vec<SynchronyViolation<P, R>> {
        while let Some((at, _)) = self.expiry.front() {
            if t.saturating_sub(*at) <= self.window {
                break;
            }
            if let Some((_, m)) = self.expiry.pop_front() {
                self.first.remove(&m);
            }
        }
        self.deliveries += 1;
        let mut out = Vec::new();
        if installed != Some(sent_in) {
            out.push(SynchronyViolation::WrongConfiguration {
                proc: proc.clone(),
                sent_in: sent_in.clone(),
                installed: installed.cloned(),
            });
        }
        match self.first.get(msg) {
            None => {
                self.first
                    .insert(msg.clone(), (proc.clone(), installed.cloned()));
                self.expiry.push_back((t, msg.clone()));
            }
            Some((other, cfg)) if cfg.as_ref() != installed => {
                out.push(SynchronyViolation::Diverged {
                    first: other.clone(),
                    first_in: cfg.clone(),
                    second: proc.clone(),
                    second_in: installed.cloned(),
                });
            }
            Some(_) => {}
        }
        out
    }

    pub fn deliveries(&self) -> u64 {
        self.deliveries
    }
}

/// Membership agreement: the same ring id always comes with the same member
/// list, and a process is a member of every ring it installs.
pub struct MembershipAgreement<P, R, N> {
    rings: BTreeMap<R, (P, Vec<N>)>,
}

/// Two views of one ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipViolation<P, R, N> {
    Disagree {
        ring: R,
        first: P,
        first_members: Vec<N>,
        second: P,
        second_members: Vec<N>,
    },
    NotAMember {
        proc: P,
        id: N,
        ring: R,
    },
}

impl<P: Clone, R: Ord + Clone, N: Ord + Clone> Default for MembershipAgreement<P, R, N> {
    fn default() -> Self {
        Self {
            rings: BTreeMap::new(),
        }
    }
}

impl<P: Clone, R: Ord + Clone, N: Ord + Clone> MembershipAgreement<P, R, N> {
    /// `proc` (whose own id is `id`, when known) installed `ring` with
    /// `members`.
    pub fn install(
        &mut self,
        proc: &P,
        id: Option<&N>,
        ring: &R,
        members: &[N],
    ) -> Vec<MembershipViolation<P, R, N>> {
        let mut sorted = members.to_vec();
        sorted.sort_unstable();
        let mut out = Vec::new();
        if let Some(id) = id.filter(|id| !sorted.contains(id)) {
            out.push(MembershipViolation::NotAMember {
                proc: proc.clone(),
                id: id.clone(),
                ring: ring.clone(),
            });
        }
        match self.rings.get(ring) {
            None => {
                self.rings.insert(ring.clone(), (proc.clone(), sorted));
            }
            Some((other, m)) if *m != sorted => out.push(MembershipViolation::Disagree {
                ring: ring.clone(),
                first: other.clone(),
                first_members: m.clone(),
                second: proc.clone(),
                second_members: sorted,
            }),
            Some(_) => {}
        }
        out
    }

    pub fn rings(&self) -> usize {
        self.rings.len()
    }
}

/// An order-insensitive digest of a set of messages: count and a sum of
/// hashes. Agreed order already judges order; this only has to tell
/// whether two processes delivered the same messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetDigest {
    pub count: u64,
    sum: u64,
}

impl SetDigest {
    pub fn add<M: Hash>(&mut self, msg: &M) {
        // SipHash with fixed keys: deterministic, and only compared within
        // one run.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        msg.hash(&mut h);
        self.count += 1;
        self.sum = self.sum.wrapping_add(h.finish());
    }
}

/// No loss within a configuration: processes that leave one configuration
/// by the same step delivered the same messages in it.
pub struct NoLossInConfiguration<P, S> {
    open: BTreeMap<P, SetDigest>,
    /// Step -> (first process to take it, what it delivered).
    steps: BTreeMap<S, (P, SetDigest)>,
}

/// Two processes took the same step with different deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossViolation<P, S> {
    pub step: S,
    pub first: P,
    pub first_count: u64,
    pub second: P,
    pub second_count: u64,
}

impl<P: Ord + Clone, S: Ord + Clone> Default for NoLossInConfiguration<P, S> {
    fn default() -> Self {
        Self {
            open: BTreeMap::new(),
            steps: BTreeMap::new(),
        }
    }
}

impl<P: Ord + Clone, S: Ord + Clone> NoLossInConfiguration<P, S> {
    /// `proc` starts counting deliveries in a new configuration.
    pub fn open(&mut self, proc: &P) {
        self.open.insert(proc.clone(), SetDigest::default());
    }

    pub fn deliver<M: Hash>(&mut self, proc: &P, msg: &M) {
        if let Some(d) = self.open.get_mut(proc) {
            d.add(msg);
        }
    }

    /// `proc` leaves its configuration by `step`.
    pub fn close(&mut self, proc: &P, step: S) -> Option<LossViolation<P, S>> {
        let mine = self.open.remove(proc)?;
        match self.steps.get(&step) {
            None => {
                self.steps.insert(step, (proc.clone(), mine));
                None
            }
            Some((other, theirs)) if *theirs != mine => Some(LossViolation {
                step,
                first: other.clone(),
                first_count: theirs.count,
                second: proc.clone(),
                second_count: mine.count,
            }),
            Some(_) => None,
        }
    }

    /// `proc` is gone (powered off): its open configuration ends with it.
    pub fn forget(&mut self, proc: &P) {
        self.open.remove(proc);
    }

    pub fn steps(&self) -> usize {
        self.steps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(100);

    fn t(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn agreed_order_accepts_subsets_in_order() {
        let mut a = AgreedOrder::new(W);
        for (p, m) in [("a", 1), ("a", 2), ("b", 2), ("a", 3), ("b", 3), ("c", 1)] {
            assert!(a.deliver(t(1), &p, &m).is_empty(), "{p} {m}");
        }
        assert_eq!(a.totals(), (6, 3));
    }

    #[test]
    fn agreed_order_catches_swaps_in_any_interleaving() {
        let mut a = AgreedOrder::new(W);
        assert!(a.deliver(t(1), &"a", &1).is_empty());
        assert!(a.deliver(t(1), &"a", &2).is_empty());
        assert!(a.deliver(t(1), &"b", &2).is_empty());
        assert_eq!(
            a.deliver(t(1), &"b", &1),
            vec![OrderViolation::Order {
                first: "a",
                second: "b",
                msg: 1
            }]
        );
        let mut late = AgreedOrder::new(W);
        for (p, m) in [("b", 2), ("b", 1), ("a", 1)] {
            assert!(late.deliver(t(1), &p, &m).is_empty());
        }
        assert_eq!(late.deliver(t(1), &"a", &2).len(), 1);
    }

    #[test]
    fn agreed_order_catches_duplicates_and_forgets_old_messages() {
        let mut a = AgreedOrder::new(W);
        assert!(a.deliver(t(1), &"a", &1).is_empty());
        assert_eq!(
            a.deliver(t(2), &"a", &1),
            vec![OrderViolation::Duplicate { proc: "a", msg: 1 }]
        );
        assert!(a.deliver(t(500), &"a", &2).is_empty());
        assert_eq!(a.holders.len(), 1, "message 1 is past the window");
    }

    #[test]
    fn virtual_synchrony_catches_wrong_and_diverging_configurations() {
        let mut v = VirtualSynchrony::new(W);
        assert!(v.deliver(t(1), &"a", &1, &"r1", Some(&"r1")).is_empty());
        let out = v.deliver(t(1), &"b", &1, &"r1", Some(&"r2"));
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(matches!(
            out[0],
            SynchronyViolation::WrongConfiguration { .. }
        ));
        assert!(matches!(out[1], SynchronyViolation::Diverged { .. }));
    }

    #[test]
    fn membership_agreement_catches_two_member_lists_and_outsiders() {
        let mut m = MembershipAgreement::default();
        assert!(m.install(&"a", Some(&1), &"r", &[2, 1]).is_empty());
        assert!(m.install(&"b", Some(&2), &"r", &[1, 2]).is_empty());
        assert_eq!(m.install(&"c", Some(&4), &"r", &[1, 2, 3]).len(), 2);
        assert_eq!(m.rings(), 1);
    }

    #[test]
    fn no_loss_catches_a_message_only_one_side_got() {
        let mut n = NoLossInConfiguration::default();
        for p in ["a", "b"] {
            n.open(&p);
            n.deliver(&p, &1);
        }
        n.deliver(&"a", &2);
        assert!(n.close(&"a", ("r1", "r2")).is_none());
        let v = n.close(&"b", ("r1", "r2")).expect("violation");
        assert_eq!((v.first_count, v.second_count), (2, 1));
        n.open(&"c");
        n.forget(&"c");
        assert!(n.close(&"c", ("r1", "r2")).is_none());
    }
}
