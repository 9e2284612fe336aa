//! The report's sections, built as the run goes: VRRP histories, split
//! brains, client tallies and per-fault impacts.
//!
//! Each keeps only what its section prints (bounded by the number of faults,
//! transitions and overlaps, not by the number of events), so nothing the
//! run produced has to be kept until the end.

use crate::checkers::{Checker, Overlap, SingleVipOwner, VipAvailable};
use crate::trace::Event;
use crate::view::ClusterView;
use hasim_node::host::Configuration;
use hasim_node::NodeEvent;
use hasim_reports::{FaultImpact, SplitBrain, Transition, VrrpHistory};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Everything the report needs from the event stream.
pub struct RunSummary {
    vrrp: BTreeMap<(String, u8), VrrpHistory>,
    split: SplitBrains,
    pub clients: VipAvailable,
    impacts: FaultImpacts,
    pub pacemaker: crate::pcmk_report::PacemakerLog,
    /// Data clients' figures, as their `data-history` events gave them.
    pub data_clients: Vec<hasim_reports::DataClientSummary>,
    pub half_open: Vec<hasim_reports::HalfOpenSummary>,
}

impl Default for RunSummary {
    fn default() -> Self {
        Self {
            vrrp: BTreeMap::new(),
            split: SplitBrains::default(),
            clients: VipAvailable::new(0.0, Duration::MAX),
            impacts: FaultImpacts::default(),
            pacemaker: Default::default(),
            data_clients: Vec::new(),
            half_open: Vec::new(),
        }
    }
}

impl RunSummary {
    pub fn observe(&mut self, t: Duration, event: &Event, view: &ClusterView) {
        self.vrrp_transition(t, event);
        self.split.observe(t, event, view);
        self.clients.observe(t, event, view);
        self.impacts.observe(t, event);
        self.pacemaker.observe(t, event);
        self.data_client(event);
        if let Event::HalfOpen {
            host,
            connections,
            longest_hang_ms,
            still_open,
        } = event
        {
            self.half_open.push(hasim_reports::HalfOpenSummary {
                host: host.clone(),
                connections: *connections,
                longest_hang: *longest_hang_ms as f64 / 1000.0,
                still_open: *still_open,
            });
        }
    }

    fn data_client(&mut self, event: &Event) {
        if let Event::DataHistory {
            client,
            operations,
            acknowledged,
            failed,
            unknown,
            lost,
            stale,
            hung,
            longest_hang_ms,
            history,
            ..
        } = event
        {
            self.data_clients.push(hasim_reports::DataClientSummary {
                client: client.clone(),
                operations: *operations,
                acknowledged: *acknowledged,
                failed: *failed,
                unknown: *unknown,
                lost: *lost,
                stale: *stale,
                hung: *hung,
                longest_hang: *longest_hang_ms as f64 / 1000.0,
                longest_outage: longest_outage(history, client).as_secs_f64(),
            });
            self.data_clients.sort_by(|a, b| a.client.cmp(&b.client));
        }
    }

    fn vrrp_transition(&mut self, t: Duration, event: &Event) {
        let Event::Node {
            node,
            detail:
                NodeEvent::VrrpState {
                    vrid,
                    from,
                    to,
                    reason,
                },
            spurious,
            ..
        } = event
        else {
            return;
        };
        let h = self
            .vrrp
            .entry((node.to_string(), *vrid))
            .or_insert_with(|| VrrpHistory {
                node: node.to_string(),
                vrid: *vrid,
                transitions: Vec::new(),
                spurious: 0,
            });
        h.transitions.push(Transition {
            at: t.as_secs_f64(),
            from: from.to_string(),
            to: to.to_string(),
            reason: reason.to_string(),
        });
        if *spurious == Some(true) {
            h.spurious += 1;
        }
    }

    pub fn vrrp_histories(&self) -> Vec<VrrpHistory> {
        self.vrrp.values().cloned().collect()
    }

    pub fn split_brains(&mut self, end: Duration) -> Vec<SplitBrain> {
        self.split.finish(end)
    }

    pub fn fault_impacts(&mut self, end: Duration) -> Vec<FaultImpact> {
        self.impacts.finish(end)
    }
}

/// What led to a split brain: the fault before it (and how long before), and
/// how long the new owner had gone without an advert.
type Context = (Option<(String, f64)>, Option<f64>);

/// Split brains: the overlaps `single-vip-owner` finds, with what led to
/// each, captured the moment the overlap begins.
#[derive(Default)]
struct SplitBrains {
    owner: SingleVipOwner,
    last_fault: Option<(Duration, String)>,
    /// node -> the latest "time since last advert" of its takeovers.
    since_advert: BTreeMap<String, u64>,
    /// (vip, start) -> (fault before it and how long before, since advert).
    context: BTreeMap<(Ipv4Addr, Duration), Context>,
}

impl SplitBrains {
    fn observe(&mut self, t: Duration, event: &Event, view: &ClusterView) {
        match event {
            Event::Fault { action, .. } => {
                self.last_fault = Some((t, crate::faults::describe(action)));
            }
            Event::Node {
                node,
                since_last_advert_us: Some(us),
                ..
            } => {
                self.since_advert.insert(node.to_string(), *us);
            }
            _ => {}
        }
        self.owner.observe(t, event, view);
        for o in self.owner.open_overlaps() {
            let key = (o.vip, o.start);
            if self.context.contains_key(&key) {
                continue;
            }
            let fault = self
                .last_fault
                .as_ref()
                .map(|(at, what)| (what.clone(), (o.start - *at).as_secs_f64()));
            let advert = self
                .since_advert
                .get(&o.second_owner)
                .map(|us| *us as f64 / 1e6);
            self.context.insert(key, (fault, advert));
        }
    }

    fn finish(&mut self, end: Duration) -> Vec<SplitBrain> {
        let mut overlaps: Vec<Overlap> = std::mem::take(&mut self.owner.overlaps);
        overlaps.extend(self.owner.take_open());
        overlaps.sort_by_key(|o| o.start);
        overlaps
            .into_iter()
            .map(|o| {
                let (after_fault, since_last_advert) = self
                    .context
                    .get(&(o.vip, o.start))
                    .cloned()
                    .unwrap_or_default();
                let stop = o.end.unwrap_or(end);
                SplitBrain {
                    vip: o.vip.to_string(),
                    holders: o.holders.iter().cloned().collect(),
                    start: o.start.as_secs_f64(),
                    end: o.end.map(|e| e.as_secs_f64()),
                    duration: (stop - o.start).as_secs_f64(),
                    second_owner: o.second_owner.clone(),
                    after_fault,
                    since_last_advert,
                }
            })
            .collect()
    }
}

/// For each fault: the first new regular membership, when changes settled,
/// and the first quorum change, up to the next fault.
#[derive(Default)]
struct FaultImpacts {
    impacts: Vec<(Duration, FaultImpact)>,
    seen_membership: bool,
}

impl FaultImpacts {
    fn observe(&mut self, t: Duration, event: &Event) {
        match event {
            Event::Fault { action, .. } => self.impacts.push((
                t,
                FaultImpact {
                    fault: crate::faults::describe(action),
                    at: t.as_secs_f64(),
                    first_membership: None,
                    settled: None,
                    first_quorum_change: None,
                },
            )),
            Event::Node { node, detail, .. } => self.node_event(t, node, detail),
            _ => {}
        }
    }

    fn node_event(&mut self, t: Duration, node: &str, detail: &NodeEvent) {
        let is_regular = matches!(
            detail,
            NodeEvent::Membership {
                configuration: Configuration::Regular,
                ..
            }
        );
        if matches!(detail, NodeEvent::Membership { .. }) {
            self.seen_membership = true;
        }
        let Some((at, impact)) = self.impacts.last_mut() else {
            return;
        };
        let dt = (t - *at).as_secs_f64();
        match detail {
            NodeEvent::Membership { members, .. } if is_regular => {
                impact
                    .first_membership
                    .get_or_insert((node.to_string(), members.clone(), dt));
                impact.settled = Some(dt);
            }
            NodeEvent::Quorum { quorate, .. } => {
                impact
                    .first_quorum_change
                    .get_or_insert((node.to_string(), *quorate, dt));
            }
            _ => {}
        }
    }

    fn finish(&mut self, _end: Duration) -> Vec<FaultImpact> {
        if !self.seen_membership {
            return Vec::new();
        }
        std::mem::take(&mut self.impacts)
            .into_iter()
            .map(|(_, i)| i)
            .collect()
    }
}

/// The longest stretch without an acknowledged operation of `client`,
/// from its first operation to the end of its last one (an operation still
/// pending ends with the history): the outage it saw, whether its
/// operations failed or hung (see
/// `hasim_reports::DataClientSummary::longest_outage`).
fn longest_outage(history: &hasim_data::History, client: &str) -> Duration {
    let ops: Vec<&hasim_data::history::Op> =
        history.ops.iter().filter(|o| o.client == client).collect();
    let ended = |o: &&hasim_data::history::Op| o.completed.as_ref().map_or(history.end, |c| c.0);
    let (Some(first), Some(last)) = (
        ops.iter().map(|o| o.invoked).min(),
        ops.iter().map(ended).max(),
    ) else {
        return Duration::ZERO;
    };
    let mut marks = vec![first];
    marks.extend(ops.iter().filter_map(|o| o.acked_at()));
    marks.sort();
    marks.push(last);
    marks
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .max()
        .unwrap_or_default()
}
