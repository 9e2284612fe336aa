//! Turn a finished run (the world's history and checkers) into a report.

use crate::checkers::{Checker, SingleVipOwner};
use crate::fabric::Finished;
use crate::faults::{self, TimedFault};
use crate::scenario::Scenario;
use crate::trace::Event;
use hasim_node::NodeEvent;
use hasim_reports::{
    ClientSummary, FaultImpact, FaultLine, RunReport, SplitBrain, Transition, VrrpHistory,
};
use std::collections::BTreeMap;
use std::time::Duration;

pub fn report(
    scenario: &Scenario,
    seed: u64,
    timeline: &[TimedFault],
    mut state: Finished,
    wall_seconds: f64,
) -> Result<RunReport, String> {
    let end = scenario.duration;
    let mut verdicts = Vec::new();
    let mut checkers = std::mem::take(&mut state.checkers);
    for checker in &mut checkers {
        let verdict = checker.finish(end, scenario.expectation(checker.name()));
        verdicts.push(verdict);
    }
    // Verdicts close the trace, so the hash covers the outcome too.
    for v in &verdicts {
        let event = Event::Verdict {
            checker: v.checker.clone(),
            held: v.held,
            summary: v.summary.clone(),
        };
        state.trace.record(end, &event);
    }
    let history = std::mem::take(&mut state.history);
    let counts = std::mem::take(&mut state.counts);
    let trace_events = state.trace.events();
    let (trace_hash, _) = state.trace.finish()?;

    Ok(RunReport {
        scenario: scenario.name.clone(),
        seed,
        simulated_seconds: end.as_secs_f64(),
        wall_seconds,
        trace_hash,
        trace_events,
        faults: timeline
            .iter()
            .map(|f| FaultLine {
                at: f.at.as_secs_f64(),
                what: faults::describe(&f.action),
                source: f.source.as_str().into(),
            })
            .collect(),
        verdicts,
        vrrp: vrrp_histories(&history),
        split_brains: split_brains(&history, end),
        clients: clients(scenario, &history, end),
        corosync_timers: corosync_timers(scenario),
        fault_impacts: fault_impacts(&history, end),
        fabric: counts,
    })
}

fn vrrp_histories(history: &[(Duration, Event)]) -> Vec<VrrpHistory> {
    let mut by_instance: BTreeMap<(String, u8), VrrpHistory> = BTreeMap::new();
    for (t, event) in history {
        if let Event::Node {
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
        {
            let h = by_instance
                .entry((node.clone(), *vrid))
                .or_insert_with(|| VrrpHistory {
                    node: node.clone(),
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
    }
    by_instance.into_values().collect()
}

fn split_brains(history: &[(Duration, Event)], end: Duration) -> Vec<SplitBrain> {
    let mut checker = SingleVipOwner::default();
    for (t, e) in history {
        checker.observe(*t, e);
    }
    let mut overlaps = std::mem::take(&mut checker.overlaps);
    overlaps.extend(checker.take_open());
    overlaps.sort_by_key(|o| o.start);
    overlaps
        .into_iter()
        .map(|o| {
            let after_fault = history
                .iter()
                .rfind(|(t, e)| *t <= o.start && matches!(e, Event::Fault { .. }))
                .and_then(|(t, e)| match e {
                    Event::Fault { what, .. } => Some((what.clone(), (o.start - *t).as_secs_f64())),
                    _ => None,
                });
            let since_last_advert = history
                .iter()
                .filter(|(t, _)| *t <= o.start)
                .filter_map(|(_, e)| match e {
                    Event::Node {
                        node,
                        since_last_advert_us: Some(us),
                        ..
                    } if *node == o.second_owner => Some(*us),
                    _ => None,
                })
                .next_back()
                .map(|us| us as f64 / 1e6);
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

fn clients(
    scenario: &Scenario,
    history: &[(Duration, Event)],
    end: Duration,
) -> Vec<ClientSummary> {
    let mut tally = crate::checkers::VipAvailable::new(0.0, Duration::MAX);
    for (t, e) in history {
        tally.observe(*t, e);
    }
    let _ = tally.finish(end, hasim_reports::Expectation::MayBreak);
    scenario
        .clients
        .iter()
        .map(|c| {
            let name = c.name.get_ref().clone();
            let t = tally.clients.get(&name).cloned().unwrap_or_default();
            ClientSummary {
                client: name,
                target: c.target.to_string(),
                sent: t.sent,
                answered: t.answered,
                timeouts: t.timeouts,
                by_node: t.by_node,
                longest_outage: t.longest_outage.as_secs_f64(),
            }
        })
        .collect()
}

fn corosync_timers(scenario: &Scenario) -> Vec<String> {
    let Some(loaded) = &scenario.corosync_conf else {
        return Vec::new();
    };
    hasim_node::corosync_daemon::totem_config(&loaded.conf)
        .effective(loaded.conf.nodelist.len())
        .startup_log_lines()
}

/// For each fault: the first new regular membership, when changes settled,
/// and the first quorum change, up to the next fault.
fn fault_impacts(history: &[(Duration, Event)], end: Duration) -> Vec<FaultImpact> {
    let has_corosync = history.iter().any(|(_, e)| {
        matches!(
            e,
            Event::Node {
                detail: NodeEvent::Membership { .. },
                ..
            }
        )
    });
    if !has_corosync {
        return Vec::new();
    }
    let faults: Vec<(Duration, &String)> = history
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Fault { what, .. } => Some((*t, what)),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (i, (at, what)) in faults.iter().enumerate() {
        let until = faults.get(i + 1).map_or(end, |(t, _)| *t);
        let window = history.iter().filter(|(t, _)| *t >= *at && *t < until);
        let mut impact = FaultImpact {
            fault: (*what).clone(),
            at: at.as_secs_f64(),
            first_membership: None,
            settled: None,
            first_quorum_change: None,
        };
        for (t, e) in window {
            let dt = (*t - *at).as_secs_f64();
            match e {
                Event::Node {
                    node,
                    detail:
                        NodeEvent::Membership {
                            configuration,
                            members,
                            ..
                        },
                    ..
                } if configuration == "regular" => {
                    impact
                        .first_membership
                        .get_or_insert((node.clone(), members.clone(), dt));
                    impact.settled = Some(dt);
                }
                Event::Node {
                    node,
                    detail: NodeEvent::Quorum { quorate, .. },
                    ..
                } => {
                    impact
                        .first_quorum_change
                        .get_or_insert((node.clone(), *quorate, dt));
                }
                _ => {}
            }
        }
        out.push(impact);
    }
    out
}
