//! Turn a finished run (the bus's checkers and summaries) into a report.

use crate::bus::Bus;
use crate::checkers::{Checker, VipAvailable};
use crate::faults::{self, TimedFault};
use crate::scenario::Scenario;
use crate::trace::Event;
use hasim_reports::{ClientSummary, FabricCounts, FaultLine, RunReport};
use std::time::Duration;

pub fn report(
    scenario: &Scenario,
    seed: u64,
    timeline: &[TimedFault],
    mut bus: Bus,
    counts: FabricCounts,
    wall_seconds: f64,
) -> Result<RunReport, String> {
    let end = scenario.duration;
    let mut verdicts = Vec::new();
    for checker in &mut bus.checkers {
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
        bus.trace.record(end, &event);
    }
    let mut summary = bus.summary;
    let trace_events = bus.trace.events();
    let (trace_hash, _) = bus.trace.finish()?;

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
        vrrp: summary.vrrp_histories(),
        split_brains: summary.split_brains(end),
        clients: clients(scenario, &mut summary.clients, end),
        corosync_timers: corosync_timers(scenario),
        fault_impacts: summary.fault_impacts(end),
        fabric: counts,
        pacemaker: summary
            .pacemaker
            .lines(&timeline.iter().map(|f| f.at).collect::<Vec<_>>()),
        data_clients: std::mem::take(&mut summary.data_clients),
        half_open: std::mem::take(&mut summary.half_open),
        fenced: (!scenario.power_devices.is_empty()).then(|| summary.pacemaker.fenced_machines()),
    })
}

fn clients(scenario: &Scenario, tally: &mut VipAvailable, end: Duration) -> Vec<ClientSummary> {
    let _ = tally.finish(end, hasim_reports::Expectation::MayBreak);
    scenario
        .clients
        .iter()
        .filter(|c| c.workload == crate::scenario::Workload::Ping)
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
