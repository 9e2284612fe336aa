//! A CIB snapshot taken from a simulated run (the DC's copy at the moment
//! it scheduled the recovery of a lost node) gives the same Transition
//! Summary in real crm_simulate 2.1.5 as the controller's transition.
//! Runs when crm_simulate is installed; with CI=true it must be.

mod common;

use std::time::Duration;

use common::*;
use hasim_pcmk_harness::Cluster;
use hasim_pcmk_proto::Event;

fn real_summary(bin: &std::path::Path, xml: &str) -> Vec<String> {
    let mut lines = hasim_conformance::oracle::transition_summary(bin, xml, "harness")
        .unwrap_or_else(|e| panic!("{e}"));
    lines.sort();
    lines
}

/// The recovery transition after the VIP holder loses power at 41 s:
/// (time, DC, summary).
fn recovery(c: &Cluster) -> Option<(Duration, String, Vec<String>)> {
    c.events.iter().find_map(|e| match &e.event {
        Event::Transition { dc, summary, .. } if e.at > s(41) && !summary.is_empty() => {
            Some((e.at, dc.clone(), summary.clone()))
        }
        _ => None,
    })
}

#[test]
fn snapshot_from_a_run_gives_crm_simulates_transition_summary() {
    let Some(bin) = hasim_conformance::oracle::crm_simulate() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "crm_simulate is required in CI"
        );
        eprintln!("crm_simulate not installed: skipped");
        return;
    };
    let run = |until: Option<Duration>| {
        let mut c = Cluster::new(3, &cib("stop"), vec![], 9).unwrap();
        c.start_all();
        c.run_until(s(40));
        let holder = c.active_on("vip")[0].clone();
        c.power_off_at(s(41), &holder);
        c.run_until(until.unwrap_or(s(80)));
        c
    };
    let (at, dc, mut summary) = recovery(&run(None)).expect("a recovery transition");
    let c = run(Some(at));
    let snapshot = c.cib_xml(&dc).unwrap();
    summary.sort();
    let ours = {
        let mut v =
            hasim_scheduler::schedule(&hasim_cib::Cib::from_xml(&snapshot).unwrap()).summary;
        v.sort();
        v
    };
    assert_eq!(ours, summary, "the snapshot is what the DC scheduled on");
    let normalised: Vec<String> = summary
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        real_summary(&bin, &snapshot),
        normalised,
        "snapshot:\n{snapshot}"
    );
}
