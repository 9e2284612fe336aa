mod common;

use common::*;
use hasim_agents::{BehaviourRule, Outcome};
use hasim_pcmk_harness::Cluster;
use hasim_pcmk_proto::checkers;

fn dump(c: &Cluster) {
    for t in c.transitions() {
        eprintln!("{:?} {} #{} {}: {:?}", t.0, t.1, t.2, t.3, t.4);
    }
}

fn monitor_fails(rsc: &str, node: &str, at: u64) -> BehaviourRule {
    BehaviourRule {
        rsc: rsc.into(),
        node: Some(node.into()),
        op: Some("monitor".into()),
        from: s(at),
        times: Some(1),
        duration: (s(0), s(0)),
        outcome: Outcome::Rc(7),
    }
}

fn unique() -> std::collections::BTreeSet<String> {
    checkers::unique_resources(&hasim_cib::Cib::from_xml(&cib("stop")).unwrap())
}

#[test]
fn monitor_failure_restarts_then_moves_at_migration_threshold() {
    let mut c = Cluster::new(3, &cib("stop"), vec![], 1).unwrap();
    c.start_all();
    c.run_until(s(40));
    let first = c.active_on("d");
    assert_eq!(first.len(), 1);
    let home = first[0].clone();
    c.add_rule(monitor_fails("d", &home, 45));
    c.run_until(s(70));
    dump(&c);
    assert_eq!(
        c.active_on("d"),
        vec![home.clone()],
        "first failure: restart in place"
    );
    c.add_rule(monitor_fails("d", &home, 75));
    c.run_until(s(110));
    dump(&c);
    let now = c.active_on("d");
    assert_eq!(now.len(), 1);
    assert_ne!(
        now[0], home,
        "second failure reaches migration-threshold=2: move"
    );
    checkers::resource_single_active(&c.events, &unique()).unwrap();
    checkers::cib_converges(&c.events).unwrap();
    // failure-timeout=120s after the last failure (about 82 s): the DC's
    // recheck timer fires at expiry and the scheduler runs again.
    c.run_until(s(260));
    let recheck = c
        .transitions()
        .into_iter()
        .find(|t| t.3 == "Cluster recheck")
        .expect("a recheck at failure-timeout expiry");
    assert!(recheck.0 > s(200) && recheck.0 < s(212), "{:?}", recheck.0);
}

#[test]
fn dc_loss_elects_a_new_dc_and_recovers_its_resources() {
    let mut c = Cluster::new(3, &cib("stop"), vec![], 2).unwrap();
    c.start_all();
    c.run_until(s(40));
    let dc = c.dcs()[0].1.clone().unwrap();
    c.power_off_at(s(50), &dc);
    c.run_until(s(120));
    dump(&c);
    let dcs = c.dcs();
    let new_dc = dcs[0].1.clone().expect("new DC");
    assert_ne!(new_dc, dc);
    assert!(
        dcs.iter()
            .all(|(_, d)| d.as_deref() == Some(new_dc.as_str())),
        "{dcs:?}"
    );
    assert_eq!(c.active_on("vip").len(), 1);
    assert_eq!(c.active_on("d").len(), 1);
    assert_eq!(c.active_on("haproxy").len(), 2);
    let report = hasim_pcmk_proto::timeline::render(&c.events);
    assert!(report.contains(&format!("{new_dc} became DC")), "{report}");
    // Detection (8.03 s) + election + join + start: well under 20 s.
    checkers::recovers(&c.events, "vip", s(20)).unwrap();
    checkers::recovers(&c.events, "d", s(20)).unwrap();
    checkers::resource_single_active(&c.events, &unique()).unwrap();
    checkers::single_dc(&c.events, s(30)).unwrap();
    checkers::cib_converges(&c.events).unwrap();
    // The old DC comes back: it rejoins, the CIBs converge, nothing runs twice.
    c.power_on_at(s(130), &dc);
    c.run_until(s(200));
    dump(&c);
    assert_eq!(c.active_on("haproxy").len(), 3);
    checkers::resource_single_active(&c.events, &unique()).unwrap();
    checkers::single_dc(&c.events, s(30)).unwrap();
    checkers::cib_converges(&c.events).unwrap();
}

#[test]
fn lone_node_of_a_2_1_partition_stops_everything_with_no_quorum_policy_stop() {
    let mut c = Cluster::new(3, &cib("stop"), vec![], 3).unwrap();
    c.start_all();
    c.run_until(s(40));
    let vip_home = c.active_on("vip")[0].clone();
    let others: Vec<String> = ["node1", "node2", "node3"]
        .iter()
        .filter(|n| **n != vip_home)
        .map(|n| n.to_string())
        .collect();
    c.partition_at(
        s(50),
        &[
            &[vip_home.as_str()],
            &[others[0].as_str(), others[1].as_str()],
        ],
    );
    c.run_until(s(120));
    dump(&c);
    let vip = c.active_on("vip");
    assert_eq!(vip.len(), 1);
    assert_ne!(vip[0], vip_home, "the VIP moved to the quorate side");
    assert!(
        !c.active_on("haproxy").contains(&vip_home),
        "the lone node stopped its clone instance"
    );
    assert!(!c.active_on("d").contains(&vip_home));
    // Detection (8.03 s), election, then the stops: within 15 s of quorum loss.
    checkers::no_active_without_quorum(&c.events, s(15)).unwrap();
    assert!(
        checkers::no_active_without_quorum(&c.events, s(0)).is_err(),
        "the stops take a moment"
    );
    let lone_dc = c.dcs().into_iter().find(|(n, _)| *n == vip_home).unwrap().1;
    assert_eq!(
        lone_dc.as_deref(),
        Some(vip_home.as_str()),
        "the lone node is DC of its own partition"
    );
    checkers::single_dc(&c.events, s(30)).unwrap();
    // Heal: one DC again, CIBs converge.
    c.heal_at(s(130));
    c.run_until(s(220));
    dump(&c);
    let dcs = c.dcs();
    assert!(dcs.iter().all(|(_, d)| d == &dcs[0].1), "{dcs:?}");
    assert_eq!(c.active_on("haproxy").len(), 3);
    checkers::cib_converges(&c.events).unwrap();
    checkers::single_dc(&c.events, s(30)).unwrap();
}

#[test]
fn a_result_that_never_comes_is_lost_after_timeout_plus_cluster_delay() {
    use hasim_pcmk_proto::{cibops, Daemon, Event};
    let mut c = Cluster::new(3, &cib("stop"), vec![], 4).unwrap();
    c.start_all();
    c.run_until(s(40));
    let home = c.active_on("d")[0].clone();
    let dc = c.dcs()[0].1.clone().unwrap();
    assert_ne!(home, dc, "seed 4 puts d on a non-DC node");
    c.mute(&home, Daemon::Controld, true);
    c.client_at(
        s(50),
        &dc,
        cibops::set_resource_meta("primitive", "d", "target-role", "Stopped"),
    );
    c.run_until(s(200));
    let lost: Vec<_> = c
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::ActionLost { action, .. } => Some((e.at, action.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    // stop timeout 20 s (Dummy metadata) + cluster-delay 60 s after ~50 s.
    assert!(lost[0].0 > s(129) && lost[0].0 < s(132), "{lost:?}");
    assert_eq!(lost[0].1, format!("stop d on {home}"));
}
