use super::*;

fn plan(requested: i64, base: u64, max: u64) -> DelayPlan {
    DelayPlan {
        requested,
        base,
        max,
    }
}

#[test]
fn delay_is_base_plus_draw_below_max_minus_base() {
    // pcmk_delay_max=15, base 0: rand() % 15, so 0..=14, never 15 (2.1.x).
    assert!(plan(0, 0, 15).needs_draw());
    assert_eq!(plan(0, 0, 15).delay(14), 14);
    assert_eq!(plan(0, 0, 15).delay(15), 0);
    assert_eq!((0..1000).map(|d| plan(0, 0, 15).delay(d)).max(), Some(14));
    // base 5, max 10: 5 + rand() % 5.
    assert_eq!(plan(0, 5, 10).delay(7), 7);
    assert_eq!((0..100).map(|d| plan(0, 5, 10).delay(d)).min(), Some(5));
    // Only a base: static delay, no draw.
    assert!(!plan(0, 5, 0).needs_draw());
    assert_eq!(plan(0, 5, 0).delay(123), 5);
    // max below base: base lowered to max, static.
    assert_eq!(plan(0, 9, 4).delay(3), 4);
    // The requested (priority) delay adds; -1 disables everything.
    assert_eq!(plan(20, 0, 15).delay(3), 23);
    assert_eq!(plan(-1, 5, 15).delay(3), 0);
    assert!(!plan(-1, 5, 15).needs_draw());
    assert_eq!(plan(0, 0, 0).delay(99), 0);
}

#[test]
fn reported_delay_has_the_2_1_5_unit_bug() {
    assert_eq!(reported_delay(15), 0);
}

fn node(name: &str, online: bool, priority: i64) -> NodeView {
    NodeView {
        name: name.into(),
        online,
        priority,
    }
}

#[test]
fn priority_delay_only_for_the_top_priority_lost_node_without_majority() {
    let two = [node("n1", true, 0), node("n2", false, 10)];
    assert_eq!(
        priority_fencing_delay(20, "n2", &two),
        20,
        "lost node holds the higher priority"
    );
    let low = [node("n1", true, 10), node("n2", false, 0)];
    assert_eq!(
        priority_fencing_delay(20, "n2", &low),
        0,
        "lower-priority target: no delay"
    );
    let equal = [node("n1", true, 5), node("n2", false, 5)];
    assert_eq!(
        priority_fencing_delay(20, "n2", &equal),
        0,
        "equal priorities"
    );
    let majority = [
        node("n1", true, 0),
        node("n2", true, 0),
        node("n3", false, 10),
    ];
    assert_eq!(
        priority_fencing_delay(20, "n3", &majority),
        0,
        "we hold a majority"
    );
    let in_partition = [node("n1", true, 0), node("n2", true, 10)];
    assert_eq!(
        priority_fencing_delay(20, "n2", &in_partition),
        0,
        "target in our partition"
    );
    assert_eq!(priority_fencing_delay(0, "n2", &two), 0, "disabled");
}

#[test]
fn partition_may_fence_only_with_quorum_ignore_or_target_in_membership() {
    let mut cfg = FencingConfig::default();
    assert!(!may_fence(&cfg, true, false), "no device");
    cfg = crate::config::FencingConfig::from_cib(
        &hasim_cib::Cib::from_xml(crate::config::tests::CIB).unwrap(),
    )
    .unwrap();
    cfg.no_quorum_policy = NoQuorumPolicy::Stop;
    assert!(may_fence(&cfg, true, false));
    assert!(!may_fence(&cfg, false, false));
    assert!(may_fence(&cfg, false, true));
    cfg.no_quorum_policy = NoQuorumPolicy::Ignore;
    assert!(may_fence(&cfg, false, false));
    cfg.stonith_enabled = false;
    assert!(!may_fence(&cfg, true, true));
}

#[test]
fn max_attempts_stops_retries_and_success_resets() {
    let mut fc = FailCounts::default();
    for _ in 0..3 {
        assert!(fc.may_retry("n2", 3));
        fc.record("n2", false);
    }
    assert!(!fc.may_retry("n2", 3));
    fc.record("n2", true);
    assert_eq!(fc.count("n2"), 0);
}

#[test]
fn only_the_target_reacts_to_its_own_fencing() {
    assert_eq!(
        on_fence_notification("n1", "N1", true, FenceReaction::Stop),
        NotifyReaction::FencedWhileAlive(FenceReaction::Stop)
    );
    assert_eq!(
        on_fence_notification("n1", "n1", false, FenceReaction::Stop),
        NotifyReaction::None
    );
    assert_eq!(
        on_fence_notification("n2", "n1", true, FenceReaction::Panic),
        NotifyReaction::None
    );
}

#[test]
fn watchdog_timeout_shorter_than_sbd_is_refused() {
    assert_eq!(effective_watchdog_timeout(10_000, 5_000), Ok(10_000));
    assert_eq!(effective_watchdog_timeout(-1, 5_000), Ok(10_000));
    assert_eq!(
        effective_watchdog_timeout(5_000, 5_000),
        Ok(5_000),
        "equal passes (2.1.5 checks <)"
    );
    assert!(effective_watchdog_timeout(3_000, 5_000).is_err());
    assert_eq!(effective_watchdog_timeout(0, 5_000), Ok(0));
}

#[test]
fn node_priority_sums_instances_and_adds_one_for_promoted() {
    let i = |priority, promoted, failed| ActiveInstance {
        priority,
        promoted,
        failed,
    };
    assert_eq!(node_priority(&[i(10, false, false), i(5, true, false)]), 16);
    assert_eq!(
        node_priority(&[i(0, true, false)]),
        0,
        "a zero base gets no +1"
    );
    assert_eq!(
        node_priority(&[i(10, false, true)]),
        0,
        "failed instances do not count"
    );
}
