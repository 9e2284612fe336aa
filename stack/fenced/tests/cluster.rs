//! Multi-node fencing scenarios on the deterministic in-memory harness.
//!
//! Figures (fractions over seeds) are printed; run with `--nocapture`.

mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use harness::{ms, Fault, Setup, World};
use hasim_cib::Cib;
use hasim_fenced::checkers::{self, Observation, PowerCause};
use hasim_fenced::watchdog::WatchdogConfig;
use hasim_fenced::{FencerEvent, FencingConfig};
use hasim_powerdev::{DeviceConfig, DeviceFault, DeviceKind};

/// Knobs for one cluster.
#[derive(Clone)]
struct Spec {
    nodes: usize,
    options: Vec<(&'static str, String)>,
    /// Extra instance attributes on every BMC device.
    bmc_params: Vec<(&'static str, String)>,
    bmc_dies_with_host: bool,
    bmc_latency: Duration,
    /// Add a PDU as topology level 2 (level 1 is the node's BMC).
    pdu_level: bool,
    /// No BMC devices (watchdog-only fencing, or the PDU alone).
    no_devices: bool,
    /// The PDU's pcmk_host_map in the CIB, when it differs from the wiring
    /// (outlet i feeds node i).
    pdu_map: Option<&'static str>,
    two_node: bool,
    wait_for_all: bool,
    watchdog: Option<WatchdogConfig>,
    /// Resource -> (node, priority).
    resources: Vec<(&'static str, &'static str, i64)>,
    mgmt_jitter: Duration,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            nodes: 3,
            options: Vec::new(),
            bmc_params: Vec::new(),
            bmc_dies_with_host: false,
            bmc_latency: ms(100),
            pdu_level: false,
            no_devices: false,
            pdu_map: None,
            two_node: false,
            wait_for_all: false,
            watchdog: None,
            resources: vec![("vip", "n1", 0)],
            mgmt_jitter: Duration::ZERO,
        }
    }
}

fn name(i: usize) -> String {
    format!("n{i}")
}

fn nvpairs(prefix: &str, pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| format!(r#"<nvpair id="{prefix}-{i}" name="{k}" value="{v}"/>"#))
        .collect()
}

/// The CIB for a spec, in Pacemaker's XML, so the test goes through the parser.
fn cib(spec: &Spec) -> String {
    let mut rsc = String::new();
    let mut cons = String::new();
    let mut topo = String::new();
    let n = spec.nodes;
    if !spec.no_devices {
        for i in 1..=n {
            let mut params = vec![("ip", format!("10.0.9.{i}")), ("pcmk_host_list", name(i))];
            params.extend(spec.bmc_params.iter().cloned());
            rsc += &format!(
                r#"<primitive id="fence-n{i}" class="stonith" type="fence_ipmilan"><instance_attributes id="fa{i}">{}</instance_attributes></primitive>"#,
                nvpairs(&format!("f{i}"), &params)
            );
            cons += &format!(
                r#"<rsc_location id="ban{i}" rsc="fence-n{i}" node="n{i}" score="-INFINITY"/>"#
            );
            if spec.pdu_level {
                topo += &format!(
                    r#"<fencing-level id="l1-{i}" target="n{i}" index="1" devices="fence-n{i}"/>"#
                );
                topo += &format!(
                    r#"<fencing-level id="l2-{i}" target="n{i}" index="2" devices="pdu"/>"#
                );
            }
        }
    }
    if spec.pdu_level {
        let map: Vec<String> = (1..=n).map(|i| format!("n{i}:{i}")).collect();
        let params = vec![
            ("ip", "10.0.9.100".to_string()),
            (
                "pcmk_host_map",
                spec.pdu_map.map(str::to_string).unwrap_or(map.join(";")),
            ),
        ];
        rsc += &format!(
            r#"<primitive id="pdu" class="stonith" type="fence_apc_snmp"><instance_attributes id="pa">{}</instance_attributes></primitive>"#,
            nvpairs("p", &params)
        );
    }
    let nodes: String = (1..=n)
        .map(|i| format!(r#"<node id="{i}" uname="n{i}"/>"#))
        .collect();
    format!(
        r#"<cib admin_epoch="0" epoch="1" num_updates="0"><configuration><crm_config><cluster_property_set id="o">{}</cluster_property_set></crm_config><nodes>{nodes}</nodes><resources>{rsc}</resources><constraints>{cons}</constraints><fencing-topology>{topo}</fencing-topology></configuration><status/></cib>"#,
        nvpairs("o", &spec.options)
    )
}

/// Fault to new membership with corosync 3.1 defaults: effective token
/// (3000 ms + 650 ms per node beyond two) plus consensus (1.2 × token).
fn detection(nodes: usize) -> Duration {
    let token = 3000 + 650 * nodes.saturating_sub(2) as u64;
    ms(token + token * 12 / 10)
}

fn setup(spec: &Spec) -> Setup {
    let xml = cib(spec);
    let cfg =
        FencingConfig::from_cib(&Cib::from_xml(&xml).expect("CIB parses")).expect("fencing config");
    let n = spec.nodes;
    let mut devices = Vec::new();
    let mut running = BTreeMap::new();
    if !spec.no_devices {
        for i in 1..=n {
            devices.push(DeviceConfig {
                name: format!("fence-n{i}"),
                address: format!("10.0.9.{i}"),
                kind: DeviceKind::Bmc {
                    host: name(i),
                    dies_with_host: spec.bmc_dies_with_host,
                },
                latency: spec.bmc_latency,
            });
            // The scheduler would place each BMC device on another node.
            running.insert(format!("fence-n{i}"), name(i % n + 1));
        }
    }
    if spec.pdu_level {
        let outlets = (1..=n).map(|i| (i as u16, name(i))).collect();
        devices.push(DeviceConfig {
            name: "pdu".into(),
            address: "10.0.9.100".into(),
            kind: DeviceKind::Pdu { outlets },
            latency: ms(200),
        });
        running.insert("pdu".into(), name(n));
    }
    Setup {
        nodes: (1..=n).map(name).collect(),
        cfg,
        devices,
        device_running_on: running,
        resources: spec
            .resources
            .iter()
            .map(|(r, nd, p)| (r.to_string(), (nd.to_string(), *p)))
            .collect(),
        detect: detection(n),
        cpg_latency: ms(1),
        mgmt_latency: ms(1),
        mgmt_jitter: spec.mgmt_jitter,
        two_node: spec.two_node,
        wait_for_all: spec.wait_for_all,
        watchdog: spec.watchdog,
        boot_delay: Duration::from_secs(60),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn finished(w: &World) -> Vec<hasim_fenced::FenceRecord> {
    w.events
        .iter()
        .filter_map(|(_, _, e)| match e {
            FencerEvent::Finished(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn started_at(w: &World, rsc: &str, node: &str) -> Option<u64> {
    w.observations.iter().find_map(|o| match o {
        Observation::ResourceStarted {
            resource,
            node: n,
            at_ms,
        } if resource == rsc && n == node && *at_ms > 0 => Some(*at_ms),
        _ => None,
    })
}

fn assert_safe(w: &World) {
    for v in [
        checkers::fenced_before_recovery(&w.observations),
        checkers::no_fence_race(&w.observations),
        checkers::no_fence_loop(&w.observations),
    ] {
        assert!(v.held, "{}: {}\n{:#?}", v.name, v.evidence, w.log);
    }
}

#[test]
fn three_node_power_loss_is_fenced_through_the_bmc_before_recovery() {
    let spec = Spec::default();
    let mut w = World::new(setup(&spec), 1);
    w.schedule(secs(10), Fault::PowerLoss("n1".into()));
    w.run_until(secs(300));
    let done = finished(&w);
    assert_eq!(done.len(), 1, "{done:#?}");
    let r = &done[0];
    assert!(r.ok, "{r:?}");
    assert_eq!(
        (
            r.origin.as_str(),
            r.executor.as_deref(),
            r.device.as_deref()
        ),
        ("n2", Some("n2"), Some("fence-n1"))
    );
    // Detection (token + consensus), then fence_ipmilan: the BMC on standby
    // power reports the chassis off, so "reboot" powers it on again.
    assert_eq!(r.started_ms, 10_000 + 8030);
    let recovered = started_at(&w, "vip", "n2").expect("vip recovered on n2");
    assert!(
        recovered >= r.completed_ms,
        "recovery {recovered} before fencing done {}",
        r.completed_ms
    );
    print!(
        "{}{}",
        hasim_fenced::report::operations(&done),
        hasim_fenced::report::power_timeline(&w.observations)
    );
    println!(
        "3-node power loss: detection {} ms, fencing {} ms, recovery at +{} ms after the fault",
        r.started_ms - 10_000,
        r.completed_ms - r.started_ms,
        recovered - 10_000
    );
    assert_safe(&w);
}

#[test]
fn bmc_that_dies_with_its_host_blocks_until_the_pdu_level_fences() {
    let spec = Spec {
        bmc_dies_with_host: true,
        pdu_level: true,
        ..Spec::default()
    };
    let mut w = World::new(setup(&spec), 1);
    w.schedule(secs(10), Fault::PowerLoss("n1".into()));
    w.run_until(secs(600));
    let done = finished(&w);
    assert_eq!(done.len(), 1, "{done:#?}");
    let r = &done[0];
    assert!(
        r.ok && r.level == 2 && r.device.as_deref() == Some("pdu"),
        "{r:?}"
    );
    let tried_bmc = w.events.iter().any(|(_, _, e)| matches!(e, FencerEvent::AgentFinished { device, ok: false, .. } if device == "fence-n1"));
    assert!(tried_bmc, "level 1 (the dead BMC) was tried first");
    assert!(started_at(&w, "vip", "n2").is_some_and(|t| t >= r.completed_ms));
    assert_safe(&w);
}

#[test]
fn without_a_second_level_a_dead_bmc_leaves_resources_blocked_after_max_attempts() {
    let spec = Spec {
        bmc_dies_with_host: true,
        options: vec![("stonith-max-attempts", "3".into())],
        ..Spec::default()
    };
    let mut w = World::new(setup(&spec), 1);
    w.schedule(secs(10), Fault::PowerLoss("n1".into()));
    w.run_until(secs(3600));
    let done = finished(&w);
    assert_eq!(done.len(), 3, "stonith-max-attempts=3: {done:#?}");
    assert!(done.iter().all(|r| !r.ok));
    assert_eq!(w.gave_up.len(), 1, "the controller stops retrying");
    assert_eq!(
        started_at(&w, "vip", "n2"),
        None,
        "vip stays blocked (safe, unavailable)"
    );
    println!(
        "dead BMC, no PDU level: {} failed attempts, first failure: {}",
        done.len(),
        done[0].reason
    );
    assert_safe(&w);
}

#[test]
fn management_network_cut_times_out_every_attempt_up_to_max_attempts() {
    let spec = Spec::default();
    let mut w = World::new(setup(&spec), 1);
    w.schedule(
        secs(5),
        Fault::MgmtCut(vec!["n1".into(), "n2".into(), "n3".into()]),
    );
    w.schedule(secs(10), Fault::PowerLoss("n1".into()));
    w.run_until(secs(4 * 3600));
    let done = finished(&w);
    assert_eq!(done.len(), 10, "default stonith-max-attempts");
    assert!(done.iter().all(|r| !r.ok));
    // Both n2 (verified) and n3 (unverified) tried the device each attempt.
    let executors: std::collections::BTreeSet<_> = w
        .events
        .iter()
        .filter_map(|(_, _, e)| match e {
            FencerEvent::ExecutorChosen { executor, .. } => Some(executor.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(executors.len(), 2, "{executors:?}");
    let first = &done[0];
    println!(
        "mgmt cut: attempt takes {} ms ({}); {} attempts, then the controller gives up",
        first.completed_ms - first.started_ms,
        first.reason,
        done.len()
    );
    assert_eq!(started_at(&w, "vip", "n2"), None);
    assert_safe(&w);
}

fn two_node(
    extra: Vec<(&'static str, String)>,
    bmc_params: Vec<(&'static str, String)>,
    latency: Duration,
) -> Spec {
    let mut options = vec![("stonith-action", "off".to_string())];
    options.extend(extra);
    Spec {
        nodes: 2,
        two_node: true,
        wait_for_all: true,
        options,
        bmc_params,
        bmc_latency: latency,
        resources: vec![("vip", "n1", 10)],
        mgmt_jitter: ms(400),
        ..Spec::default()
    }
}

/// Outcome counts over seeds: (n1 survives, n2 survives, both off).
fn race(spec: &Spec, seeds: std::ops::Range<u64>) -> (u32, u32, u32) {
    let mut tally = (0, 0, 0);
    for seed in seeds {
        let mut w = World::new(setup(spec), seed);
        w.schedule(
            secs(10),
            Fault::Partition(vec![vec!["n1".into()], vec!["n2".into()]]),
        );
        w.run_until(secs(200));
        let off = |n: &str| {
            w.observations.iter().any(|o| matches!(o, Observation::PowerOff { node, cause: PowerCause::Fenced { .. }, .. } if node == n))
        };
        match (off("n1"), off("n2")) {
            (false, true) => tally.0 += 1,
            (true, false) => tally.1 += 1,
            (true, true) => {
                assert!(!checkers::no_fence_race(&w.observations).held);
                tally.2 += 1
            }
            (false, false) => panic!("seed {seed}: nobody fenced\n{:#?}", w.log),
        }
        assert!(
            checkers::fenced_before_recovery(&w.observations).held,
            "seed {seed}"
        );
    }
    tally
}

#[test]
fn two_node_fence_race_outcomes_depend_on_timing_and_delays() {
    let seeds = 1..201;
    let mut both_off = Vec::new();
    for latency in [50, 100, 300, 1000, 1500] {
        let t = race(&two_node(vec![], vec![], ms(latency)), seeds.clone());
        println!(
            "no delay, BMC {latency} ms: n1 survives {} / n2 survives {} / both off {} of 200",
            t.0, t.1, t.2
        );
        both_off.push(t.2);
    }
    let fast = race(&two_node(vec![], vec![], ms(100)), seeds.clone());
    assert!(fast.2 > 0, "without a delay both nodes die in some seeds");
    assert!(
        both_off[4] > both_off[0],
        "a slow BMC widens the window: {both_off:?}"
    );

    let delayed = race(
        &two_node(vec![], vec![("pcmk_delay_max", "15s".into())], ms(100)),
        seeds.clone(),
    );
    println!(
        "pcmk_delay_max=15: n1 {} / n2 {} / both off {} of 200",
        delayed.0, delayed.1, delayed.2
    );
    // Whole-second draws from [0, 14]: equal draws (1 in 15) still race.
    assert!(
        delayed.2 < fast.2,
        "a random delay makes mutual fencing rarer"
    );

    let prio = race(
        &two_node(
            vec![("priority-fencing-delay", "20s".into())],
            vec![],
            ms(100),
        ),
        seeds,
    );
    println!(
        "priority-fencing-delay=20: n1 {} / n2 {} / both off {} of 200",
        prio.0, prio.1, prio.2
    );
    assert_eq!(
        prio,
        (200, 0, 0),
        "the node running the higher-priority vip survives in every seed"
    );
}

#[test]
fn watchdog_fencing_waits_for_the_lost_node_to_reset() {
    let spec = Spec {
        no_devices: true,
        watchdog: Some(WatchdogConfig::default()),
        options: vec![("stonith-watchdog-timeout", "10s".into())],
        ..Spec::default()
    };
    let mut w = World::new(setup(&spec), 1);
    w.schedule(
        secs(10),
        Fault::Partition(vec![vec!["n1".into()], vec!["n2".into(), "n3".into()]]),
    );
    w.run_until(secs(120));
    let done = finished(&w);
    assert!(
        done.iter()
            .any(|r| r.ok && r.device.as_deref() == Some("watchdog") && r.target == "n1"),
        "{done:#?}"
    );
    let reset = w.observations.iter().find_map(|o| match o {
        Observation::PowerOff {
            node,
            at_ms,
            cause: PowerCause::SelfFenced,
        } if node == "n1" => Some(*at_ms),
        _ => None,
    });
    let recovered = started_at(&w, "vip", "n2").expect("recovered");
    println!("watchdog 5 s, stonith-watchdog-timeout 10 s: n1 reset at {reset:?} ms, vip on n2 at {recovered} ms");
    assert!(reset.is_some_and(|r| r < recovered));
    assert_safe(&w);
}

#[test]
fn stonith_watchdog_timeout_equal_to_the_watchdog_recovers_too_early() {
    // 5 s passes Pacemaker 2.1.5's check (it refuses only < SBD timeout),
    // but SBD resets about io + loop + watchdog after the last quorate loop.
    assert!(hasim_fenced::rules::effective_watchdog_timeout(5000, 5000).is_ok());
    let spec = Spec {
        no_devices: true,
        watchdog: Some(WatchdogConfig::default()),
        options: vec![("stonith-watchdog-timeout", "5s".into())],
        ..Spec::default()
    };
    let mut w = World::new(setup(&spec), 1);
    w.schedule(
        secs(10),
        Fault::Partition(vec![vec!["n1".into()], vec!["n2".into(), "n3".into()]]),
    );
    w.run_until(secs(120));
    let v = checkers::fenced_before_recovery(&w.observations);
    println!(
        "stonith-watchdog-timeout 5 s = SBD_WATCHDOG_TIMEOUT: {}",
        v.evidence
    );
    assert!(!v.held, "vip started on n2 while n1 still ran");
}

#[test]
fn runs_replay_identically() {
    let spec = two_node(vec![], vec![("pcmk_delay_max", "15s".into())], ms(100));
    let run = |seed| {
        let mut w = World::new(setup(&spec), seed);
        w.schedule(
            secs(10),
            Fault::Partition(vec![vec!["n1".into()], vec!["n2".into()]]),
        );
        w.run_until(secs(200));
        format!("{:?}{:?}", w.observations, w.events)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8), "different seeds draw different delays");
}

#[test]
fn a_failing_device_fault_is_reported_and_the_pdu_level_takes_over() {
    let spec = Spec {
        pdu_level: true,
        ..Spec::default()
    };
    let mut w = World::new(setup(&spec), 1);
    w.schedule(
        secs(1),
        Fault::Device("fence-n1".into(), DeviceFault::Failing),
    );
    w.schedule(secs(10), Fault::PowerLoss("n1".into()));
    w.run_until(secs(600));
    let done = finished(&w);
    assert!(done.iter().any(|r| r.ok && r.level == 2), "{done:#?}");
    assert_safe(&w);
}

/// Two nodes, the cluster link stays cut, stonith-action reboot: the
/// rebooted loser comes up alone and (startup-fencing) fences the winner,
/// which comes up and fences it back, unless wait_for_all keeps a fresh
/// node inquorate until it has seen its peer.
fn fence_loop_run(wait_for_all: bool) -> World {
    let mut spec = two_node(
        vec![("priority-fencing-delay", "20s".into())],
        vec![],
        ms(100),
    );
    spec.options.retain(|(k, _)| *k != "stonith-action");
    spec.wait_for_all = wait_for_all;
    let mut w = World::new(setup(&spec), 1);
    w.schedule(
        secs(10),
        Fault::Partition(vec![vec!["n1".into()], vec!["n2".into()]]),
    );
    w.run_until(secs(900));
    w
}

#[test]
fn two_node_without_wait_for_all_fences_in_a_loop() {
    let w = fence_loop_run(false);
    let v = checkers::no_fence_loop(&w.observations);
    let kills = w
        .observations
        .iter()
        .filter(|o| matches!(o, Observation::PowerOff { .. }))
        .count();
    println!(
        "two_node, no wait_for_all, link cut for 900 s: {kills} fencing kills; {}",
        v.evidence
    );
    assert!(!v.held);
    let w = fence_loop_run(true);
    let kills = w
        .observations
        .iter()
        .filter(|o| matches!(o, Observation::PowerOff { .. }))
        .count();
    println!("two_node with wait_for_all: {kills} fencing kill(s)");
    assert_eq!(kills, 1);
    assert_safe(&w);
}

#[test]
fn a_miswired_pdu_map_fences_the_wrong_node_and_the_target_stops_itself() {
    // The CIB says n1 is on outlet 2; outlet 2 feeds n2. The PDU runs on
    // n3, whose controller fences n1 (as on-fail=fence would).
    let spec = Spec {
        no_devices: true,
        pdu_level: true,
        pdu_map: Some("n1:2"),
        ..Spec::default()
    };
    let mut w = World::new(setup(&spec), 1);
    w.schedule_fence(secs(10), "n3", "n1");
    w.run_until(secs(600));
    let n2_off = w.observations.iter().any(|o| matches!(o, Observation::PowerOff { node, cause: PowerCause::Fenced { .. }, .. } if node == "n2"));
    assert!(n2_off, "the wrong machine lost power");
    assert!(
        w.log
            .iter()
            .any(|l| l.contains("n1 was told it was fenced")),
        "{:#?}",
        w.log
    );
    let stopped = w
        .observations
        .iter()
        .any(|o| matches!(o, Observation::ResourceStopped { node, .. } if node == "n1"));
    assert!(stopped, "fence-reaction=stop: n1 stops");
    let v = checkers::fenced_before_recovery(&w.observations);
    println!("miswired PDU: {}", v.evidence);
    assert!(!v.held, "vip was recovered on n3 before n1 stopped it");
}
