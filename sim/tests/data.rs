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
