//! The timings the issue compares with real Pacemaker, measured in hasim
//! over seeds 1..=N (first argument, default 50): medians of cold start to
//! everything started, DC power loss to a new DC and to its resources
//! running elsewhere, non-DC power loss to its resources running
//! elsewhere, and a monitor failure (rc 7) to the resource running again.
//!
//!     cargo run -p hasim-pcmk-harness --example timings -- 50

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{cib, s};
use hasim_agents::{BehaviourRule, Outcome};
use hasim_pcmk_harness::Cluster;
use hasim_pcmk_proto::Event;

const UNIQUE: [&str; 2] = ["vip", "d"];

fn all_started(c: &Cluster) -> bool {
    UNIQUE.iter().all(|r| c.active_on(r).len() == 1) && c.active_on("haproxy").len() == 3
}

/// First instant after `from` at which `cond` holds, stepping 10 ms.
fn first_when(
    c: &mut Cluster,
    from: Duration,
    limit: Duration,
    cond: impl Fn(&Cluster) -> bool,
) -> Option<Duration> {
    let mut t = from;
    while t <= limit {
        c.run_until(t);
        if cond(c) {
            return Some(t);
        }
        t += Duration::from_millis(10);
    }
    None
}

fn median(mut v: Vec<f64>) -> String {
    if v.is_empty() {
        return "n/a".into();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    format!("{:.2} s (n={})", v[v.len() / 2], v.len())
}

fn cluster(seed: u64) -> Cluster {
    let mut c = match Cluster::new(3, &cib("stop"), vec![], seed) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bad CIB: {e}");
            std::process::exit(2);
        }
    };
    c.start_all();
    c
}

/// Power off a node (the DC or not) at 60 s; (to new DC, to resources back).
fn power_loss(seed: u64, dc_target: bool) -> (Option<f64>, Option<f64>) {
    let mut c = cluster(seed);
    c.run_until(s(59));
    let dc = c.dcs()[0].1.clone().unwrap_or_default();
    let victim = ["node1", "node2", "node3"].into_iter().find(|n| {
        (*n == dc) == dc_target
            && UNIQUE
                .iter()
                .any(|r| c.active_on(r).contains(&n.to_string()))
    });
    let Some(victim) = victim else {
        return (None, None);
    };
    c.power_off_at(s(60), victim);
    let back = first_when(&mut c, s(60), s(200), all_after_loss).map(|t| (t - s(60)).as_secs_f64());
    let new_dc = c.events.iter().find_map(|e| match &e.event {
        Event::DcChanged { node, dc: Some(d) } if e.at > s(60) && node == d && d != victim => {
            Some((e.at - s(60)).as_secs_f64())
        }
        _ => None,
    });
    (if dc_target { new_dc } else { None }, back)
}

fn all_after_loss(c: &Cluster) -> bool {
    UNIQUE.iter().all(|r| c.active_on(r).len() == 1)
}

fn monitor_failure(seed: u64) -> Option<f64> {
    let mut c = cluster(seed);
    c.run_until(s(40));
    let home = c.active_on("d").first()?.clone();
    c.add_rule(BehaviourRule {
        rsc: "d".into(),
        node: Some(home),
        op: Some("monitor".into()),
        from: s(45),
        times: Some(1),
        duration: (s(0), s(0)),
        outcome: Outcome::Rc(7),
    });
    let failed = first_when(&mut c, s(45), s(100), |c| c.active_on("d").is_empty())?;
    let back = first_when(&mut c, failed, s(200), |c| c.active_on("d").len() == 1)?;
    // The failure happened when the monitor ran; the agent died at 45 s.
    Some((back - s(45)).as_secs_f64())
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let (mut cold, mut dc_new, mut dc_back, mut other_back, mut mon) =
        (vec![], vec![], vec![], vec![], vec![]);
    for seed in 1..=n {
        let mut c = cluster(seed);
        if let Some(t) = first_when(&mut c, s(0), s(120), all_started) {
            cold.push(t.as_secs_f64());
        }
        let (d, b) = power_loss(seed, true);
        dc_new.extend(d);
        dc_back.extend(b);
        other_back.extend(power_loss(seed, false).1);
        mon.extend(monitor_failure(seed));
    }
    println!("cold start to all resources started: {}", median(cold));
    println!("DC power loss to new DC:             {}", median(dc_new));
    println!("DC power loss to its resources back: {}", median(dc_back));
    println!(
        "non-DC power loss to resources back: {}",
        median(other_back)
    );
    println!("monitor failure (agent dies) to back: {}", median(mon));
}
