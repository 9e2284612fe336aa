//! Data behind the VIP: TCP over the fabric, HAProxy and the database as
//! node daemons, data clients and their checkers.
#![cfg(madsim)]

mod common;

use common::load;
use hasim::scenario::Scenario;
use hasim::world;

fn data_clients(scenario: &str, seed: u64) -> hasim_reports::RunReport {
    let report = world::run(&load(scenario), seed, None).unwrap().report;
    assert!(
        report.expectation_met(),
        "seed {seed}:\n{}",
        report.to_text()
    );
    report
}

/// With Linux's defaults an idle connection to the dead balancer is found
/// only when the client next uses it: hangs are minutes long, and each
/// ends when the pre-ping reaches the VIP's new holder and is reset.
#[test]
fn default_keepalive_leaves_idle_connections_hanging_for_minutes() {
    for seed in 1..4 {
        let r = data_clients("tcp-keepalive-defaults.toml", seed);
        assert_eq!(r.data_clients.len(), 3);
        for d in &r.data_clients {
            assert_eq!(d.hung, 1, "seed {seed}: {d:?}");
            assert!(d.longest_hang > 60.0, "seed {seed}: {d:?}");
            assert_eq!((d.lost, d.unknown), (0, 0), "seed {seed}: {d:?}");
        }
        // The server side: db1's sockets from the dead balancer's HAProxy
        // outlive the run (keepalive would first probe after 2 hours).
        let [db1] = r.half_open.as_slice() else {
            panic!("seed {seed}: {:?}", r.half_open)
        };
        assert_eq!(db1.host, "db1");
        assert!(db1.connections > 0, "seed {seed}: {db1:?}");
        assert_eq!(db1.still_open, db1.connections, "seed {seed}: {db1:?}");
        assert!(db1.longest_hang > 250.0, "seed {seed}: {db1:?}");
    }
}

/// Fuel's settings: a keepalive probe at most 30 s after the last segment
/// reaches the new VIP holder, which answers RST.
#[test]
fn short_keepalive_detects_within_thirty_seconds() {
    for seed in 1..4 {
        let r = data_clients("tcp-keepalive-short.toml", seed);
        for d in &r.data_clients {
            assert_eq!(d.hung, 1, "seed {seed}: {d:?}");
            assert!(d.longest_hang <= 31.0, "seed {seed}: {d:?}");
        }
        // mysqld keeps SO_KEEPALIVE on its client sockets: idle 30 s, then
        // 8 probes 3 s apart, so db1 drops them within 54 s.
        let [db1] = r.half_open.as_slice() else {
            panic!("seed {seed}: {:?}", r.half_open)
        };
        assert!(db1.connections > 0, "seed {seed}: {db1:?}");
        assert_eq!(db1.still_open, 0, "seed {seed}: {db1:?}");
        assert!(db1.longest_hang <= 54.5, "seed {seed}: {db1:?}");
    }
}

/// Only the side that was cut from the primary loses writes: what db2
/// acknowledged during the partition.
#[test]
fn replication_split_brain_loses_only_the_minority_sides_writes() {
    let r = data_clients("keepalived-haproxy-replication.toml", 1);
    let lost = |c: &str| r.data_clients.iter().find(|d| d.client == c).unwrap().lost;
    assert_eq!(lost("client-a1") + lost("client-a2"), 0);
    assert!(lost("client-b1") + lost("client-b2") > 0, "{}", r.to_text());
}

/// A kv client without `[data]`, and `[[tcp]]` naming nobody, are refused
/// with the file and line.
#[test]
fn bad_data_tables_name_file_and_line() {
    let text = std::fs::read_to_string(common::scenario_path("tcp-keepalive-short.toml")).unwrap();
    let start = text.find("[data]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let no_data = format!("{}{}", &text[..start], &text[end..]);
    let e = Scenario::parse(&no_data, "x.toml").unwrap_err().to_string();
    assert!(
        e.contains("x.toml:") && e.contains("no [data] section"),
        "{e}"
    );
    let bad_host = text.replace("[[tcp]]\n", "[[tcp]]\nhosts = [\"nobody\"]\n");
    let e = Scenario::parse(&bad_host, "y.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("y.toml:") && e.contains("nobody"), "{e}");
    let bad_probes = text.replace("keepalive_probes = 8", "keepalive_probes = 0");
    let e = Scenario::parse(&bad_probes, "z.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("keepalive_probes"), "{e}");
}

/// Galera's own quorum: n2, cut off alone, is non-primary and acknowledges
/// nothing; the majority side keeps taking writes; nothing acknowledged is
/// lost, though Keepalived still splits.
#[test]
fn galera_minority_refuses_writes_and_nothing_acknowledged_is_lost() {
    for seed in 1..3 {
        let r = data_clients("keepalived-haproxy-galera.toml", seed);
        let client = |c: &str| r.data_clients.iter().find(|d| d.client == c).unwrap();
        for d in &r.data_clients {
            assert_eq!(d.lost, 0, "seed {seed}: {d:?}");
        }
        for a in ["client-a1", "client-a2"] {
            assert_eq!(client(a).failed, 0, "seed {seed}: {:?}", client(a));
            assert!(client(a).longest_outage < 10.0, "seed {seed}");
        }
        for b in ["client-b1", "client-b2"] {
            let d = client(b);
            assert!(d.failed + d.unknown > 0, "seed {seed}: {d:?}");
            assert!(d.longest_outage > 30.0, "seed {seed}: {d:?}");
        }
    }
}

/// Bad `[[galera]]` tables are refused with the file, line and what was
/// expected.
#[test]
fn bad_galera_tables_name_file_and_line() {
    let text =
        std::fs::read_to_string(common::scenario_path("keepalived-haproxy-galera.toml")).unwrap();
    let cases = [
        (
            "= \"gcomm://n1,n2,n3",
            "= \"gcomm://n1,n2,nx",
            "unknown node `nx`",
        ),
        (
            "= \"gcomm://n1,n2,n3",
            "= \"gcomm://n1,n2,n1",
            "names `n1` twice",
        ),
        (
            "= \"gcomm://n1,n2,n3",
            "= \"gcomm://",
            "expected gcomm://node1",
        ),
        (
            "bootstrap = \"n1\"",
            "bootstrap = \"client-a1\"",
            "not in cluster_address",
        ),
        (
            "bootstrap = \"n1\"",
            "bootstrap = \"n1\"\nsuspect_timeout = \"20s\"",
            "suspect_timeout <= inactive_timeout",
        ),
        (
            "bootstrap = \"n1\"",
            "bootstrap = \"n1\"\nbogus = 1",
            "unknown field `bogus`",
        ),
        (
            "bootstrap = \"n1\"",
            "bootstrap = \"n1\"\npacemaker = true",
            "bootstrap cannot be given with pacemaker = true",
        ),
    ];
    for (from, to, expected) in cases {
        let bad = text.replacen(from, to, 1);
        let e = Scenario::parse(&bad, "g.toml").unwrap_err().to_string();
        assert!(e.contains("g.toml:") && e.contains(expected), "{to}: {e}");
    }
}

/// Pacemaker cuts off and fences the VIP's node: the majority side's
/// clients see one outage bounded by detection, fencing, the VIP move and
/// HAProxy's checks; nothing acknowledged is lost on either side.
#[test]
fn pacemaker_galera_has_one_bounded_outage_and_loses_nothing() {
    let r = data_clients("pacemaker-haproxy-galera.toml", 1);
    assert_eq!(r.data_clients.len(), 10);
    for d in &r.data_clients {
        assert_eq!(d.lost, 0, "{d:?}");
        if d.client.starts_with("client-b") {
            assert!(d.longest_outage < 40.0, "{d:?}");
            assert!(d.longest_outage > 7.0, "{d:?}");
        }
    }
}

/// All three nodes lose power: Galera re-forms from the most advanced node
/// and every acknowledged write is still there.
#[test]
fn galera_full_power_failure_loses_no_acknowledged_write() {
    let r = data_clients("galera-full-power-failure.toml", 1);
    for d in &r.data_clients {
        assert_eq!(d.lost, 0, "{d:?}");
        assert!(d.acknowledged > 0, "{d:?}");
    }
}

/// After the full power failure, Pacemaker's galera agent (not Galera by
/// itself) brings the cluster back: every node's agent reads the others'
/// `galera-last-committed` attributes, the bootstrap choice names the node
/// with the highest seqno (ties going to the later node of
/// wsrep_cluster_address), that node's promote starts mysqld as a new
/// cluster at that seqno, and no other node bootstraps.
#[test]
fn galera_full_power_failure_bootstraps_from_the_highest_seqno_through_the_agent() {
    let buf = common::SharedBuf::default();
    let scenario = load("galera-full-power-failure.toml");
    let out = world::run(&scenario, 1, Some(Box::new(buf.clone()))).unwrap();
    assert!(out.report.expectation_met(), "{}", out.report.to_text());
    let trace = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let after_power_on = 75_000_000;
    let mut choices = Vec::new();
    let mut bootstraps = Vec::new();
    for line in trace.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["t_us"].as_u64().unwrap_or(0) < after_power_on {
            continue;
        }
        let node = v["node"].as_str().unwrap_or_default().to_string();
        let text = v["report"]["text"].as_str().or(v["text"].as_str());
        let Some(text) = text else { continue };
        if let Some(rest) = text.strip_prefix("Promoting ") {
            let (chosen, seen) = rest
                .split_once(" to be our bootstrap node (last-committed ")
                .unwrap();
            let seen: Vec<(String, i64)> = seen
                .trim_end_matches(')')
                .split(' ')
                .map(|p| {
                    let (n, s) = p.split_once('=').unwrap();
                    (n.to_string(), s.parse().expect("every node reported"))
                })
                .collect();
            choices.push((chosen.to_string(), seen));
        }
        if text.contains("bootstrapping a new cluster") {
            bootstraps.push((node, text.to_string()));
        }
    }
    assert!(
        !choices.is_empty(),
        "no bootstrap choice after the power came back"
    );
    for (chosen, seen) in &choices {
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["node1", "node2", "node3"],
            "wsrep_cluster_address order"
        );
        let best = seen.iter().map(|(_, s)| *s).max().unwrap();
        assert!(
            seen.iter().any(|(_, s)| *s < best),
            "the seqnos differ: {seen:?}"
        );
        let later_of_the_best = seen.iter().rev().find(|(_, s)| *s == best).unwrap();
        assert_eq!(chosen, &later_of_the_best.0, "{seen:?}");
    }
    let (chosen, seen) = &choices[0];
    let best = seen.iter().map(|(_, s)| *s).max().unwrap();
    assert_eq!(bootstraps.len(), 1, "{bootstraps:?}");
    assert_eq!(&bootstraps[0].0, chosen);
    assert!(
        bootstraps[0]
            .1
            .contains(&format!("starts at seqno {best}, bootstrapping")),
        "{bootstraps:?}"
    );
    for d in &out.report.data_clients {
        assert_eq!(d.lost, 0, "{d:?}");
    }
}
