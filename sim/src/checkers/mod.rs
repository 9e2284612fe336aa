//! Named invariants, evaluated on every event as the run goes.
//!
//! A checker sees the event stream (the same stream the trace holds) and the
//! cluster view the bus keeps up to date, so it can be tested by feeding it
//! hand-written events. Every checker is listed once, in [`registry`].

pub mod corosync;
pub mod data;
pub mod fencing;
pub mod pacemaker;
pub mod registry;
pub mod remote;

use crate::trace::Event;
use crate::view::ClusterView;
use hasim_reports::{Expectation, Verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

/// A named invariant.
pub trait Checker: Send {
    fn name(&self) -> &'static str;
    /// `view` already includes `event`.
    fn observe(&mut self, t: Duration, event: &Event, view: &ClusterView);
    /// The verdict over the whole run, which ended at `end`.
    fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict;
}

fn secs(t: Duration) -> f64 {
    t.as_secs_f64()
}

/// An interval during which more than one running node held a VIP.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    pub vip: Ipv4Addr,
    pub start: Duration,
    pub end: Option<Duration>,
    /// Every node that held the VIP at some point during the overlap.
    pub holders: BTreeSet<String>,
    /// The node whose takeover started the overlap.
    pub second_owner: String,
}

/// `single-vip-owner`: at any instant, at most one powered, unpaused node
/// holds a given virtual IP. A paused node still has the address configured
/// but cannot answer, so it does not count; a powered-off node has lost it.
#[derive(Default)]
pub struct SingleVipOwner {
    holders: BTreeMap<Ipv4Addr, BTreeSet<String>>,
    open: BTreeMap<Ipv4Addr, Overlap>,
    pub overlaps: Vec<Overlap>,
}

impl SingleVipOwner {
    fn running_holders(&self, vip: Ipv4Addr, view: &ClusterView) -> BTreeSet<String> {
        self.holders
            .get(&vip)
            .map(|h| h.iter().filter(|n| view.running(n)).cloned().collect())
            .unwrap_or_default()
    }

    fn reevaluate(&mut self, t: Duration, changed_node: &str, view: &ClusterView) {
        let vips: Vec<Ipv4Addr> = self.holders.keys().copied().collect();
        for vip in vips {
            let running = self.running_holders(vip, view);
            match (running.len() > 1, self.open.contains_key(&vip)) {
                (true, false) => {
                    self.open.insert(
                        vip,
                        Overlap {
                            vip,
                            start: t,
                            end: None,
                            holders: running.clone(),
                            second_owner: changed_node.to_string(),
                        },
                    );
                }
                (true, true) => {
                    if let Some(o) = self.open.get_mut(&vip) {
                        o.holders.extend(running);
                    }
                }
                (false, true) => {
                    if let Some(mut o) = self.open.remove(&vip) {
                        o.end = Some(t);
                        self.overlaps.push(o);
                    }
                }
                (false, false) => {}
            }
        }
    }
}

impl SingleVipOwner {
    /// Overlaps still open (lasting to the end of what was observed).
    pub fn take_open(&mut self) -> Vec<Overlap> {
        std::mem::take(&mut self.open).into_values().collect()
    }

    /// Overlaps in progress right now.
    pub fn open_overlaps(&self) -> impl Iterator<Item = &Overlap> {
        self.open.values()
    }
}

impl Checker for SingleVipOwner {
    fn name(&self) -> &'static str {
        "single-vip-owner"
    }

    fn observe(&mut self, t: Duration, event: &Event, view: &ClusterView) {
        let node = match event {
            Event::VipUp { node, vip } => {
                self.holders.entry(*vip).or_default().insert(node.clone());
                node
            }
            Event::VipDown { node, vip } => {
                if let Some(h) = self.holders.get_mut(vip) {
                    h.remove(node);
                }
                node
            }
            Event::PowerOff { node }
            | Event::Pause { node }
            | Event::Resume { node }
            | Event::Boot { node } => node,
            _ => return,
        };
        self.reevaluate(t, node, view);
    }

    fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict {
        let mut all = self.overlaps.clone();
        all.extend(self.open.values().cloned());
        all.sort_by_key(|o| o.start);
        let held = all.is_empty();
        let total: Duration = all
            .iter()
            .map(|o| o.end.unwrap_or(end).saturating_sub(o.start))
            .sum();
        let summary = match all.first() {
            None => "never more than one running owner of any VIP".to_string(),
            Some(first) => format!(
                "{} held by {} at once from t={:.3}s; {} overlap(s), {:.3} s in total",
                first.vip,
                first
                    .holders
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" and "),
                secs(first.start),
                all.len(),
                secs(total)
            ),
        };
        let evidence = all
            .iter()
            .map(|o| {
                let end_text = o
                    .end
                    .map_or("end of run".to_string(), |e| format!("t={:.3}s", secs(e)));
                format!(
                    "{}: {} from t={:.3}s to {} (second owner {})",
                    o.vip,
                    o.holders.iter().cloned().collect::<Vec<_>>().join(", "),
                    secs(o.start),
                    end_text,
                    o.second_owner
                )
            })
            .collect();
        Verdict {
            checker: self.name().to_string(),
            held,
            expectation,
            summary,
            evidence,
            first_broken_at: all.first().map(|o| secs(o.start)),
        }
    }
}

/// Per-client request bookkeeping for [`VipAvailable`].
#[derive(Default, Clone)]
pub struct ClientTally {
    pub sent: u64,
    pub answered: u64,
    pub timeouts: u64,
    pub by_node: BTreeMap<String, u64>,
    pub first_request: Option<Duration>,
    pub last_answer: Option<Duration>,
    pub last_request: Option<Duration>,
    pub longest_outage: Duration,
    pub outage_start: Option<Duration>,
}

/// `vip-available`: clients get answers. Breaks when the fraction of
/// requests answered falls below `min_answered`, or clients go longer than
/// `max_outage` without any answer.
pub struct VipAvailable {
    pub min_answered: f64,
    pub max_outage: Duration,
    pub clients: BTreeMap<String, ClientTally>,
}

impl VipAvailable {
    pub fn new(min_answered: f64, max_outage: Duration) -> Self {
        Self {
            min_answered,
            max_outage,
            clients: BTreeMap::new(),
        }
    }
}

impl Checker for VipAvailable {
    fn name(&self) -> &'static str {
        "vip-available"
    }

    fn observe(&mut self, t: Duration, event: &Event, _view: &ClusterView) {
        match event {
            Event::Request { client, .. } => {
                let c = self.clients.entry(client.clone()).or_default();
                c.sent += 1;
                c.first_request.get_or_insert(t);
                c.last_request = Some(t);
            }
            Event::Answer { client, by, .. } => {
                let c = self.clients.entry(client.clone()).or_default();
                c.answered += 1;
                *c.by_node.entry(by.clone()).or_default() += 1;
                let since = c.last_answer.or(c.first_request).unwrap_or(t);
                if t.saturating_sub(since) > c.longest_outage {
                    c.longest_outage = t.saturating_sub(since);
                    c.outage_start = Some(since);
                }
                c.last_answer = Some(t);
            }
            Event::Timeout { client, .. } => {
                self.clients.entry(client.clone()).or_default().timeouts += 1;
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict {
        let mut evidence = Vec::new();
        let mut held = true;
        let mut first_broken: Option<f64> = None;
        let (mut sent, mut answered) = (0u64, 0u64);
        let mut worst = Duration::ZERO;
        for (name, c) in &mut self.clients {
            // A client still waiting at the end is in an outage too.
            if let Some(since) = c.last_answer.or(c.first_request) {
                let waited = end.saturating_sub(since);
                if waited > c.longest_outage && c.last_request.is_some_and(|r| r > since) {
                    c.longest_outage = waited;
                    c.outage_start = Some(since);
                }
            }
            sent += c.sent;
            answered += c.answered;
            worst = worst.max(c.longest_outage);
            if c.longest_outage > self.max_outage {
                held = false;
                let start = c.outage_start.unwrap_or_default();
                first_broken = Some(first_broken.map_or(secs(start), |f: f64| f.min(secs(start))));
                evidence.push(format!(
                    "{name}: no answer for {:.3} s from t={:.3}s (limit {:.3} s)",
                    secs(c.longest_outage),
                    secs(start),
                    secs(self.max_outage)
                ));
            }
        }
        let fraction = if sent == 0 {
            1.0
        } else {
            answered as f64 / sent as f64
        };
        if fraction < self.min_answered {
            held = false;
            evidence.push(format!(
                "{answered}/{sent} requests answered ({:.1}%), below the required {:.1}%",
                fraction * 100.0,
                self.min_answered * 100.0
            ));
        }
        Verdict {
            checker: self.name().to_string(),
            held,
            expectation,
            summary: format!(
                "{answered}/{sent} answered ({:.1}%), longest outage {:.3} s",
                fraction * 100.0,
                secs(worst)
            ),
            evidence,
            first_broken_at: first_broken,
        }
    }
}

/// Test support: a checker fed through a cluster view, as the bus feeds it.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub struct Feed<C> {
        pub c: C,
        pub view: ClusterView,
    }

    impl<C: Checker> Feed<C> {
        pub fn new(c: C) -> Self {
            Self {
                c,
                view: ClusterView::default(),
            }
        }

        pub fn observe(&mut self, t: Duration, event: &Event) {
            self.view.observe(event);
            self.c.observe(t, event, &self.view);
        }

        pub fn finish(&mut self, end: Duration, expectation: Expectation) -> Verdict {
            self.c.finish(end, expectation)
        }
    }

    impl<C> std::ops::Deref for Feed<C> {
        type Target = C;
        fn deref(&self) -> &C {
            &self.c
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Feed;
    use super::*;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

    fn s(x: f64) -> Duration {
        Duration::from_secs_f64(x)
    }

    fn up(node: &str) -> Event {
        Event::VipUp {
            node: node.into(),
            vip: VIP,
        }
    }

    fn down(node: &str) -> Event {
        Event::VipDown {
            node: node.into(),
            vip: VIP,
        }
    }

    #[test]
    fn single_owner_breaks_on_two_holders() {
        let mut c = Feed::new(SingleVipOwner::default());
        c.observe(s(1.0), &up("lb1"));
        c.observe(s(5.0), &up("lb2"));
        c.observe(s(9.0), &down("lb2"));
        let v = c.finish(s(10.0), Expectation::Hold);
        assert!(!v.held);
        assert_eq!(v.first_broken_at, Some(5.0));
        assert!(v.summary.contains("lb1 and lb2"), "{}", v.summary);
        assert_eq!(c.overlaps[0].end, Some(s(9.0)));
        assert_eq!(c.overlaps[0].second_owner, "lb2");
    }

    #[test]
    fn handover_is_not_a_violation() {
        let mut c = Feed::new(SingleVipOwner::default());
        c.observe(s(1.0), &up("lb1"));
        c.observe(s(5.0), &down("lb1"));
        c.observe(s(5.0), &up("lb2"));
        assert!(c.finish(s(10.0), Expectation::Hold).held);
    }

    #[test]
    fn paused_or_dead_holder_does_not_count() {
        let mut c = Feed::new(SingleVipOwner::default());
        c.observe(s(1.0), &up("lb1"));
        c.observe(s(2.0), &Event::Pause { node: "lb1".into() });
        c.observe(s(3.0), &up("lb2"));
        assert!(c.open.is_empty());
        // Resuming the old master while the new one holds the VIP is a split brain.
        c.observe(s(4.0), &Event::Resume { node: "lb1".into() });
        let v = c.finish(s(10.0), Expectation::Hold);
        assert!(!v.held);
        assert_eq!(v.first_broken_at, Some(4.0));
    }

    #[test]
    fn open_overlap_lasts_until_end() {
        let mut c = Feed::new(SingleVipOwner::default());
        c.observe(s(1.0), &up("lb1"));
        c.observe(s(2.0), &up("lb2"));
        let v = c.finish(s(10.0), Expectation::Hold);
        assert!(v.evidence[0].contains("end of run"), "{:?}", v.evidence);
        assert!(v.summary.contains("8.000 s"), "{}", v.summary);
    }

    fn request(id: u64) -> Event {
        Event::Request {
            client: "c".into(),
            id,
        }
    }

    fn answer(id: u64) -> Event {
        Event::Answer {
            client: "c".into(),
            id,
            by: "lb1".into(),
            rtt_us: 500,
        }
    }

    #[test]
    fn availability_holds_when_answered() {
        let mut c = Feed::new(VipAvailable::new(0.9, s(2.0)));
        for i in 0..10 {
            c.observe(s(i as f64), &request(i));
            c.observe(s(i as f64 + 0.001), &answer(i));
        }
        let v = c.finish(s(10.0), Expectation::Hold);
        assert!(v.held, "{v:?}");
    }

    #[test]
    fn availability_breaks_on_long_outage() {
        let mut c = Feed::new(VipAvailable::new(0.0, s(2.0)));
        c.observe(s(0.0), &request(0));
        c.observe(s(0.1), &answer(0));
        for i in 1..5 {
            c.observe(s(i as f64), &request(i));
            c.observe(
                s(i as f64 + 0.5),
                &Event::Timeout {
                    client: "c".into(),
                    id: i,
                },
            );
        }
        c.observe(s(5.0), &request(5));
        c.observe(s(5.1), &answer(5));
        let v = c.finish(s(6.0), Expectation::Hold);
        assert!(!v.held);
        assert!(
            v.evidence[0].contains("no answer for 5.000 s from t=0.100s"),
            "{:?}",
            v.evidence
        );
    }

    #[test]
    fn availability_breaks_on_low_fraction() {
        let mut c = Feed::new(VipAvailable::new(0.9, s(100.0)));
        for i in 0..10 {
            c.observe(s(i as f64), &request(i));
            if i % 2 == 0 {
                c.observe(s(i as f64 + 0.1), &answer(i));
            }
        }
        let v = c.finish(s(10.0), Expectation::Hold);
        assert!(!v.held);
        assert!(
            v.evidence.iter().any(|e| e.contains("5/10")),
            "{:?}",
            v.evidence
        );
    }
}
