//! CPG in real mode: three `hasim node corosync --cpg-interval` processes on
//! loopback addresses each run a CPG workload beside corosync. Killing one
//! and starting it again, the members see the same joins, leaves and
//! messages in the same order (virtual synchrony).
#![cfg(not(madsim))]

mod common;

use common::cpg::{align, deliveries, find, same_from, seen_of, Seen, ALL_THREE};
use common::process::{loopback_conf, port_offset, start_corosync, wait_keeping, Daemon};
use serde_json::Value;
use std::time::{Duration, Instant};

fn start(conf: &std::path::Path, nodeid: u32, offset: u16) -> Daemon {
    start_corosync(conf, nodeid, offset, &["--cpg-interval", "100ms"])
}

/// The CPG events among a daemon's output lines, timed from `origin`.
fn seen_in(lines: &[(Instant, String)], origin: Instant) -> Vec<Seen> {
    lines
        .iter()
        .filter_map(|(at, line)| {
            let v: Value = serde_json::from_str(line).ok()?;
            let t_us = at.saturating_duration_since(origin).as_micros() as u64;
            seen_of(&v["detail"], t_us)
        })
        .collect()
}

/// Read `daemon`'s output into `kept` for `span`.
fn keep_for(daemon: &Daemon, span: Duration, kept: &mut Vec<(Instant, String)>) {
    let _ = wait_keeping(daemon, &[], span, kept);
}

const NODEDOWN3: &str = r#"{"node":3,"pid":1001,"reason":"nodedown"}"#;

#[test]
fn cpg_members_see_the_same_order_across_a_kill() {
    let dir = std::env::temp_dir().join(format!("hasim-real-cpg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("corosync.conf");
    std::fs::write(&conf, loopback_conf("realcpg")).unwrap();
    let offset = port_offset().wrapping_add(7);
    let origin = Instant::now();
    let (n1, n2) = (start(&conf, 1, offset), start(&conf, 2, offset));
    let n3 = start(&conf, 3, offset);
    let (mut k1, mut k2, mut k3) = (Vec::new(), Vec::new(), Vec::new());
    let all3 = [
        "cpg-conf-chg",
        r#""members":[{"node":1,"pid":1001},{"node":2,"pid":1001},{"node":3,"pid":1001}]"#,
    ];
    assert!(
        wait_keeping(&n1, &all3, Duration::from_secs(20), &mut k1).is_some(),
        "no 3-member group"
    );
    for (daemon, kept) in [(&n2, &mut k2), (&n3, &mut k3), (&n1, &mut k1)] {
        keep_for(daemon, Duration::from_millis(700), kept);
    }
    drop(n3);
    let killed = origin.elapsed().as_micros() as u64;
    let down = ["cpg-conf-chg", NODEDOWN3];
    assert!(
        wait_keeping(&n1, &down, Duration::from_secs(20), &mut k1).is_some(),
        "node1: no nodedown"
    );
    assert!(
        wait_keeping(&n2, &down, Duration::from_secs(20), &mut k2).is_some(),
        "node2: no nodedown"
    );
    let restarted = origin.elapsed().as_micros() as u64;
    let n3 = start(&conf, 3, offset);
    let mut k3b = Vec::new();
    assert!(
        wait_keeping(&n3, &all3, Duration::from_secs(20), &mut k3b).is_some(),
        "node3 did not rejoin"
    );
    for (daemon, kept) in [(&n1, &mut k1), (&n2, &mut k2), (&n3, &mut k3b)] {
        keep_for(daemon, Duration::from_millis(1500), kept);
    }
    let (s1, s2) = (seen_in(&k1, origin), seen_in(&k2, origin));
    let (s3, s3b) = (seen_in(&k3, origin), seen_in(&k3b, origin));
    // The survivors saw the same history, from their first common message on.
    let (i1, i2) = align(&s1, 0, &s2, 0).expect("node1 and node2 share no delivery");
    let survivors = same_from(&s1, i1, &s2, i2).unwrap();
    assert!(survivors > 30, "only {survivors} events compared");
    // node3's first life agreed with node1 until it was killed.
    let (j1, j3) = align(&s1, 0, &s3, 0).expect("node3 shared no delivery");
    assert!(same_from(&s1, j1, &s3, j3).unwrap() > 5);
    assert!(find(&s1, killed, &[NODEDOWN3]).is_some());
    // node3's second life gets node1's messages in node1's order from its
    // first common message on. As a newcomer it also learns the old members
    // from their joinlists, in confchgs node1 never sees, and when those
    // arrive among the messages depends on real timing: compare messages.
    let back = find(&s1, restarted, &[ALL_THREE]).expect("node1 never saw node3 again");
    let (t1, t3) = (deliveries(&s1[back..]), deliveries(&s3b));
    let (l1, l3) = align(&t1, 0, &t3, 0).expect("node3 shares no delivery after restart");
    let rejoined = same_from(&t1, l1, &t3, l3).unwrap();
    assert!(rejoined > 5, "only {rejoined} events after the restart");
    let _ = std::fs::remove_dir_all(&dir);
}
