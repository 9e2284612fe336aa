//! Run reports: what happened in one simulated run, for machines (JSON) and
//! for people (a one-screen text summary).
//!
//! The simulator fills a [`RunReport`]; this crate only lays it out, so the
//! layout can be tested and reused (campaign summaries, CI output) without
//! running anything.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

mod campaign;
pub mod html;
pub mod junit;
pub mod junit_schema;
pub mod summary;
pub mod sweep;
pub use campaign::{CampaignReport, RunOutcome};
pub use summary::{CampaignSummary, Shard};

/// What a scenario expects of one invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    Hold,
    Break,
    MayBreak,
}

/// The verdict of one named invariant over a whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub checker: String,
    pub held: bool,
    pub expectation: Expectation,
    /// One line: what broke, when and where, or the figure that held.
    pub summary: String,
    /// Supporting facts: times, nodes, evidence from the trace.
    pub evidence: Vec<String>,
    /// Simulated seconds at which it first broke.
    pub first_broken_at: Option<f64>,
}

impl Verdict {
    /// Whether this verdict is what the scenario expected.
    pub fn as_expected(&self) -> bool {
        match self.expectation {
            Expectation::Hold => self.held,
            Expectation::Break => !self.held,
            Expectation::MayBreak => true,
        }
    }
}

/// One injected fault, as it appeared in the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultLine {
    pub at: f64,
    pub what: String,
    /// `script` or `nemesis`.
    pub source: String,
}

/// One VRRP state change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub at: f64,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// A VRRP instance's history on one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpHistory {
    pub node: String,
    pub vrid: u8,
    pub transitions: Vec<Transition>,
    /// Transitions to MASTER taken while another powered, running node was
    /// MASTER and reachable: caused by lost adverts, not by a fault.
    pub spurious: u32,
}

/// An interval in which more than one running node held the same VIP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitBrain {
    pub vip: String,
    pub holders: Vec<String>,
    pub start: f64,
    /// None if it lasted until the end of the run.
    pub end: Option<f64>,
    pub duration: f64,
    /// The node that became the extra owner.
    pub second_owner: String,
    /// The fault that preceded it, and how long before.
    pub after_fault: Option<(String, f64)>,
    /// Seconds between the last VRRP advert the second owner received and
    /// its takeover.
    pub since_last_advert: Option<f64>,
}

/// What one client saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientSummary {
    pub client: String,
    pub target: String,
    pub sent: u64,
    pub answered: u64,
    pub timeouts: u64,
    /// Answers per responding node.
    pub by_node: BTreeMap<String, u64>,
    /// The longest time without an answer, seconds.
    pub longest_outage: f64,
}

/// Server-side connections on one machine whose client went away.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HalfOpenSummary {
    /// The server's machine.
    pub host: String,
    /// Accepted connections whose client's machine lost power, restarted
    /// or lost the client's address.
    pub connections: usize,
    /// The longest any of them stayed in the server's table after that
    /// (until its end, or the end of the run), seconds.
    pub longest_hang: f64,
    /// Of those, still open when the clients' final reads began.
    pub still_open: usize,
}

/// What one data client did and what happened to its data and connections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataClientSummary {
    pub client: String,
    pub operations: usize,
    pub acknowledged: usize,
    pub failed: usize,
    /// Timed out or lost in flight: outcome unknown.
    pub unknown: usize,
    /// Acknowledged writes missing from the final read.
    pub lost: usize,
    /// Reads that missed a write acknowledged before they began.
    pub stale: usize,
    /// Connections whose server went away.
    pub hung: usize,
    /// The longest time one of them stayed open after that, seconds.
    pub longest_hang: f64,
    /// The longest time between two acknowledged operations (or from the
    /// first operation to the first acknowledgement, or from the last
    /// acknowledgement to the end of the last operation), seconds: the
    /// outage the client saw, whether its operations failed or hung.
    pub longest_outage: f64,
}

/// What one fault did to Corosync: how long until a node delivered a new
/// membership (failure detection), until every membership change had
/// settled, and until a node's quorum view changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultImpact {
    pub fault: String,
    pub at: f64,
    /// (node, members, seconds after the fault) of the first new regular membership.
    pub first_membership: Option<(String, Vec<u32>, f64)>,
    /// Seconds after the fault of the last membership change before the next fault.
    pub settled: Option<f64>,
    /// (node, quorate, seconds after the fault) of the first quorum change.
    pub first_quorum_change: Option<(String, bool, f64)>,
}

/// Datagram counts from the fabric.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FabricCounts {
    pub sent: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub dropped: BTreeMap<String, u64>,
}

/// Everything about one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub seed: u64,
    pub simulated_seconds: f64,
    pub wall_seconds: f64,
    pub trace_hash: String,
    pub trace_events: u64,
    pub faults: Vec<FaultLine>,
    pub verdicts: Vec<Verdict>,
    pub vrrp: Vec<VrrpHistory>,
    pub split_brains: Vec<SplitBrain>,
    pub clients: Vec<ClientSummary>,
    /// Effective Totem timers, as corosync logs them at startup.
    pub corosync_timers: Vec<String>,
    pub fault_impacts: Vec<FaultImpact>,
    pub fabric: FabricCounts,
    /// Pacemaker's timeline: placements, DC changes, transitions, per fault.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub pacemaker: Vec<String>,
    /// Data clients, per client.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub data_clients: Vec<DataClientSummary>,
    /// Server-side connections whose client went away, per machine.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub half_open: Vec<HalfOpenSummary>,
    /// With power devices: the machines a device switched off during the
    /// run (sorted); `None` when the scenario has no power device.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fenced: Option<Vec<String>>,
}

impl RunReport {
    /// True when every invariant behaved as the scenario expected.
    pub fn expectation_met(&self) -> bool {
        self.verdicts.iter().all(Verdict::as_expected)
    }

    /// Invariants that did not behave as expected.
    pub fn surprises(&self) -> Vec<&Verdict> {
        self.verdicts.iter().filter(|v| !v.as_expected()).collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The one-screen summary for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario {}  seed {}  ({:.3} s simulated in {:.2} s)",
            self.scenario, self.seed, self.simulated_seconds, self.wall_seconds
        );
        if self.faults.is_empty() {
            let _ = writeln!(out, "faults: none");
        } else {
            let _ = writeln!(out, "faults:");
            for f in &self.faults {
                let _ = writeln!(out, "  t={:>9.3}s  {}  [{}]", f.at, f.what, f.source);
            }
        }
        for v in &self.vrrp {
            let path: Vec<String> = v
                .transitions
                .iter()
                .map(|t| format!("{}@{:.3}", t.to, t.at))
                .collect();
            let _ = writeln!(
                out,
                "vrrp {} vrid {}: {} transitions ({} spurious): {}",
                v.node,
                v.vrid,
                v.transitions.len(),
                v.spurious,
                abbreviate(&path, 8)
            );
        }
        for sb in &self.split_brains {
            let end = sb
                .end
                .map_or("end of run".to_string(), |e| format!("t={e:.3}s"));
            let _ = writeln!(
                out,
                "split brain on {}: {} from t={:.3}s to {} ({:.3} s); second owner {}",
                sb.vip,
                sb.holders.join(" and "),
                sb.start,
                end,
                sb.duration,
                sb.second_owner
            );
            if let Some((fault, delay)) = &sb.after_fault {
                let _ = writeln!(out, "  {delay:.3} s after fault: {fault}");
            }
            if let Some(d) = sb.since_last_advert {
                let _ = writeln!(
                    out,
                    "  {d:.3} s after the last VRRP advert {} received",
                    sb.second_owner
                );
            }
        }
        for c in &self.clients {
            let by: Vec<String> = c.by_node.iter().map(|(n, k)| format!("{n} {k}")).collect();
            let _ = writeln!(
                out,
                "client {} -> {}: {}/{} answered ({}), {} timeouts, longest outage {:.3} s",
                c.client,
                c.target,
                c.answered,
                c.sent,
                if by.is_empty() {
                    "none".to_string()
                } else {
                    by.join(", ")
                },
                c.timeouts,
                c.longest_outage
            );
        }
        for d in &self.data_clients {
            let _ = writeln!(
                out,
                "data client {}: {} operations, {} acknowledged, {} failed, {} unknown, {} lost, {} stale; {} connection(s) lost their server, longest hang {:.1} s; longest outage {:.1} s",
                d.client, d.operations, d.acknowledged, d.failed, d.unknown, d.lost, d.stale, d.hung, d.longest_hang, d.longest_outage
            );
        }
        for h in &self.half_open {
            let _ = writeln!(
                out,
                "server connections on {}: {} lost their client, longest hang {:.1} s, {} still open at the end",
                h.host, h.connections, h.longest_hang, h.still_open
            );
        }
        if !self.corosync_timers.is_empty() {
            let _ = writeln!(out, "corosync timers (as totemsrp logs them):");
            for line in &self.corosync_timers {
                let _ = writeln!(out, "  {line}");
            }
            let _ = writeln!(out, "corosync, per fault:");
        }
        for f in &self.fault_impacts {
            let mut line = format!("  {} at t={:.3}s:", f.fault, f.at);
            match &f.first_membership {
                Some((node, members, dt)) => {
                    line += &format!(" new membership {members:?} on {node} after {dt:.3} s");
                }
                None => line += " no membership change",
            }
            if let Some(settled) = f.settled {
                line += &format!(", settled after {settled:.3} s");
            }
            if let Some((node, quorate, dt)) = &f.first_quorum_change {
                let q = if *quorate { "quorate" } else { "NOT quorate" };
                line += &format!("; quorum view on {node} after {dt:.3} s ({q})");
            }
            let _ = writeln!(out, "{line}");
        }
        if !self.pacemaker.is_empty() {
            let _ = writeln!(out, "pacemaker:");
            for line in &self.pacemaker {
                let _ = writeln!(out, "  {line}");
            }
        }
        let dropped: Vec<String> = self
            .fabric
            .dropped
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "fabric: {} sent, {} delivered, {} duplicated, dropped: {}",
            self.fabric.sent,
            self.fabric.delivered,
            self.fabric.duplicated,
            if dropped.is_empty() {
                "none".to_string()
            } else {
                dropped.join(", ")
            }
        );
        let _ = writeln!(out, "invariants:");
        for v in &self.verdicts {
            let state = if v.held { "held" } else { "BROKEN" };
            let expected = match (v.expectation, v.as_expected()) {
                (Expectation::MayBreak, _) => "allowed",
                (_, true) => "as expected",
                (_, false) => "UNEXPECTED",
            };
            let _ = writeln!(
                out,
                "  {:<18} {:<7} {:<11} {}",
                v.checker, state, expected, v.summary
            );
            for e in &v.evidence {
                let _ = writeln!(out, "  {:<18} {}", "", e);
            }
        }
        let _ = writeln!(
            out,
            "expectation: {}",
            if self.expectation_met() {
                "met"
            } else {
                "NOT met"
            }
        );
        let _ = writeln!(out, "trace hash: {}", self.trace_hash);
        out
    }
}

fn abbreviate(items: &[String], keep: usize) -> String {
    if items.len() <= keep {
        items.join(" ")
    } else {
        format!(
            "{} ... ({} more) {}",
            items[..keep - 1].join(" "),
            items.len() - keep,
            items[items.len() - 1]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(held: bool, expectation: Expectation) -> Verdict {
        Verdict {
            checker: "single-vip-owner".into(),
            held,
            expectation,
            summary: String::new(),
            evidence: vec![],
            first_broken_at: None,
        }
    }

    #[test]
    fn expectation_logic() {
        assert!(verdict(true, Expectation::Hold).as_expected());
        assert!(!verdict(false, Expectation::Hold).as_expected());
        assert!(verdict(false, Expectation::Break).as_expected());
        assert!(!verdict(true, Expectation::Break).as_expected());
        assert!(verdict(true, Expectation::MayBreak).as_expected());
        assert!(verdict(false, Expectation::MayBreak).as_expected());
    }

    #[test]
    fn text_names_the_hash_and_outcome() {
        let report = RunReport {
            scenario: "s".into(),
            seed: 7,
            simulated_seconds: 1.0,
            wall_seconds: 0.1,
            trace_hash: "00112233aabbccdd".into(),
            trace_events: 3,
            faults: vec![],
            verdicts: vec![verdict(false, Expectation::Hold)],
            vrrp: vec![],
            split_brains: vec![],
            clients: vec![],
            corosync_timers: vec![],
            fault_impacts: vec![],
            fabric: FabricCounts::default(),
            pacemaker: vec![],
            data_clients: vec![],
            half_open: vec![],
            fenced: None,
        };
        let text = report.to_text();
        assert!(text.contains("trace hash: 00112233aabbccdd"));
        assert!(text.contains("UNEXPECTED"));
        assert!(text.contains("expectation: NOT met"));
        assert!(!report.expectation_met());
    }
}
