//! Property test: random fault timelines on 3–5 nodes. Whatever happens, the
//! EVS invariants hold; once the network is whole and stable, one ring with
//! every running node forms within a bound derived from the timers.

mod harness;

use harness::*;
use hasim_totem::{NodeId, Quirks, TotemConfig};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Fault {
    Stop(usize),
    Leave(usize),
    Start(usize),
    Pause(usize),
    Resume(usize),
    /// Bit i set: node i goes to side B.
    Partition(u8),
    Heal,
    Loss(u8),
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        (0usize..5).prop_map(Fault::Stop),
        (0usize..5).prop_map(Fault::Leave),
        (0usize..5).prop_map(Fault::Start),
        (0usize..5).prop_map(Fault::Pause),
        (0usize..5).prop_map(Fault::Resume),
        (1u8..31).prop_map(Fault::Partition),
        Just(Fault::Heal),
        prop_oneof![Just(0u8), Just(5), Just(20)].prop_map(Fault::Loss),
    ]
}

/// How long after the world becomes whole and stable one ring must exist.
///
/// Totem's gather can need several consensus rounds in a row: each node that
/// a stale join re-introduces (a stopped node still in someone's proc list,
/// a node whose failed list others will not adopt because it comes from a
/// foreign ring) costs a full consensus timeout before it is failed and the
/// survivors merge again. One round per node plus two is a bound the
/// corosync algorithm meets; a token timeout is added per round for the
/// operational ring to notice.
fn liveness_bound(n: usize, t: &hasim_totem::EffectiveTimers) -> std::time::Duration {
    (t.token() + t.consensus() + t.merge()) * (n as u32 + 2)
}

/// The property holds for the strict variant. `TOTEM_FAULT_QUIRKS=corosync`
/// runs it against corosync 3.1.7's exact behaviour instead, to explore how
/// often its quirks break EVS or liveness.
fn run(n: usize, seed: u64, steps: &[(u64, Fault)]) -> Result<(), String> {
    let quirks = match std::env::var("TOTEM_FAULT_QUIRKS").as_deref() {
        Ok("corosync") => Quirks::corosync(),
        _ => Quirks::strict(),
    };
    run_with(n, seed, steps, quirks)
}

fn run_with(n: usize, seed: u64, steps: &[(u64, Fault)], quirks: Quirks) -> Result<(), String> {
    if std::env::var("TOTEM_FAULT_VERBOSE").is_ok() {
        eprintln!("case n={n} seed={seed} steps={steps:?}");
    }
    let ids: Vec<NodeId> = (1..=n as NodeId).collect();
    let t = TotemConfig {
        token: Some(1000),
        ..Default::default()
    }
    .effective(n);
    let mut s = Sim::new(seed, &ids, default_setup(ids.clone(), t, 1, false));
    s.quirks = quirks;
    s.trace = std::env::var("TOTEM_TRACE").is_ok();
    s.start_all();
    s.run_with_load(ms(3000), ms(40));
    for (delay, f) in steps {
        let pick = |i: &usize| ids[*i % n];
        match f {
            Fault::Stop(i) => s.stop(pick(i)),
            Fault::Leave(i) => s.leave(pick(i)),
            Fault::Start(i) => s.start(pick(i)),
            Fault::Pause(i) => s.pause(pick(i)),
            Fault::Resume(i) => s.resume(pick(i)),
            Fault::Partition(mask) => {
                let (a, b): (Vec<NodeId>, Vec<NodeId>) =
                    ids.iter().partition(|id| mask & (1 << (**id - 1)) == 0);
                s.partition(&[&a, &b]);
            }
            Fault::Heal => s.heal(),
            Fault::Loss(p) => s.loss = f64::from(*p) / 100.0,
        }
        s.run_with_load(ms(*delay), ms(40));
    }
    // Make the world whole and stable.
    s.heal();
    s.loss = 0.0;
    for id in ids.clone() {
        s.resume(id);
    }
    if s.running().is_empty() {
        s.start(ids[0]);
    }
    let bound = liveness_bound(n, &t);
    let formed = s.run_until_ring(bound, ms(10));
    if s.storm {
        return Err(format!(
            "message storm: {} events processed",
            s.events_processed
        ));
    }
    check_all(&s.records())?;
    if formed.is_none() {
        return Err(format!(
            "no single ring of running nodes {:?} within {:?} after stabilising; states {:?}",
            s.running(),
            bound,
            s.running()
                .iter()
                .map(|id| {
                    let c = s.core(*id).map(|c| c.srp());
                    c.map(|c| (c.state(), c.ring_id(), c.members().to_vec()))
                })
                .collect::<Vec<_>>()
        ));
    }
    // And it stays usable: traffic after formation is delivered everywhere.
    let before: std::collections::BTreeMap<(NodeId, u64), usize> = s
        .records()
        .iter()
        .map(|r| ((r.node, r.boot), r.deliveries.len()))
        .collect();
    s.run_with_load(ms(500), ms(20));
    s.run_for(ms(1000));
    let recs = s.records();
    check_all(&recs)?;
    let live: Vec<&Record> = recs
        .iter()
        .filter(|r| s.core(r.node).is_some() && s.nodes[&r.node].boot == r.boot)
        .collect();
    if live
        .iter()
        .any(|r| r.deliveries.len() <= before.get(&(r.node, r.boot)).copied().unwrap_or(0))
    {
        return Err("no delivery after the ring formed".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("TOTEM_FAULT_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
        max_shrink_iters: 200,
        // Deterministic by default (CI); explore other seeds with
        // TOTEM_FAULT_SEED=<n>. A failure prints its minimal timeline, which
        // becomes a named regression test below.
        rng_seed: proptest::test_runner::RngSeed::Fixed(
            std::env::var("TOTEM_FAULT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x7073),
        ),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn evs_invariants_and_liveness_under_random_faults(
        n in 3usize..=5,
        seed in any::<u64>(),
        steps in prop::collection::vec((50u64..4000, fault()), 1..8),
    ) {
        if let Err(e) = run(n, seed, &steps) {
            prop_assert!(false, "{}", e);
        }
    }
}

#[test]
fn regression_stuck_gather_after_pause_partition_stop() {
    let steps = [
        (52, Fault::Pause(1)),
        (1064, Fault::Start(0)),
        (860, Fault::Partition(9)),
        (1251, Fault::Stop(2)),
        (3241, Fault::Loss(5)),
    ];
    run(5, 23555295883813082, &steps).unwrap();
}

/// Found by the property test: under 5% loss a token retransmission reaches
/// node 4 after node 1 lowered the aru; corosync frees messages on it anyway
/// (before its duplicate check), node 2, the only other holder, then stops,
/// and nodes 1 and 4 leave ring 1.d together with different message sets.
/// With corosync's order the EVS violation happens; with the strict order it
/// does not.
#[test]
fn corosync_frees_on_retransmitted_token_and_breaks_evs() {
    let steps = [
        (1360, Fault::Partition(11)),
        (3720, Fault::Start(0)),
        (2091, Fault::Loss(5)),
        (50, Fault::Stop(1)),
    ];
    let seed = 13679039661711798608;
    let err = run_with(5, seed, &steps, Quirks::corosync()).unwrap_err();
    assert!(err.contains("with different messages"), "{err}");
    run_with(5, seed, &steps, Quirks::strict()).unwrap();
}

/// Found by the property test: three nodes resume together from long
/// pauses into singleton rings while the other two formed a ring. Their
/// failed lists differ and none adopts a foreign node's failed list, so with
/// corosync's rule every join makes the others re-gather and re-send: a join
/// storm that never lets a consensus timeout expire. With the strict rule
/// (re-gather only when the join changed something) one ring forms.
#[test]
fn corosync_regather_on_unchanged_join_storms() {
    let steps = [
        (3067, Fault::Pause(2)),
        (3237, Fault::Pause(1)),
        (3721, Fault::Loss(5)),
        (1710, Fault::Pause(0)),
        (3940, Fault::Loss(20)),
        (764, Fault::Partition(29)),
        (2479, Fault::Loss(20)),
    ];
    let seed = 7606291875086735622;
    let err = run_with(5, seed, &steps, Quirks::corosync()).unwrap_err();
    assert!(err.starts_with("message storm"), "{err}");
    run_with(5, seed, &steps, Quirks::strict()).unwrap();
}

/// Found by the property test run against corosync's behaviour: node 1's
/// leave arrives in the last rotations of a recovery; the next recovery
/// starts with stale counters, node 2 installs the ring after two tokens
/// and node 3 stays in RECOVERY for good. Fresh counters (strict) avoid it.
#[test]
fn corosync_stale_recovery_counters_stall_the_ring() {
    let steps = [
        (2128, Fault::Loss(20)),
        (2943, Fault::Start(0)),
        (393, Fault::Leave(0)),
    ];
    let seed = 10369728362061310126;
    let err = run_with(3, seed, &steps, Quirks::corosync()).unwrap_err();
    assert!(err.starts_with("no single ring"), "{err}");
    let corosync_with_fresh_counters = Quirks {
        stale_recovery_counters: false,
        ..Quirks::corosync()
    };
    run_with(3, seed, &steps, corosync_with_fresh_counters).unwrap();
    run_with(3, seed, &steps, Quirks::strict()).unwrap();
}
