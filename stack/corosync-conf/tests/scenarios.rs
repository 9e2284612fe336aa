//! Every shipped example config parses, with the values it claims.

use hasim_corosync_conf::{parse, Transport};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/corosync"
    ))
}

fn load(name: &str) -> hasim_corosync_conf::Parsed {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).expect("read example");
    parse(name, &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_shipped_file_parses() {
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir())
        .expect("scenarios/corosync exists")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("conf") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let name = path.display().to_string();
        parse(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        n += 1;
    }
    assert!(n >= 6, "expected at least 6 example configs, found {n}");
}

#[test]
fn udpu_three_nodes() {
    let p = load("udpu-3node.conf");
    let c = &p.config;
    assert_eq!(c.totem.transport, Some(Transport::Udpu));
    assert_eq!(c.nodelist.len(), 3);
    assert_eq!(c.nodelist[2].ring_addr(0), Some("10.0.0.3"));
    assert_eq!(c.nodelist[2].nodeid, Some(3));
    assert_eq!(c.quorum.provider.as_deref(), Some("corosync_votequorum"));
    assert_eq!(c.logging.options.to_logfile, Some(true));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn five_nodes_with_subsys_logging() {
    let p = load("knet-5node.conf");
    assert_eq!(p.config.nodelist.len(), 5);
    assert_eq!(p.config.totem.token, Some(5000));
    assert_eq!(p.config.logging.logger_subsys[0].subsys, "QUORUM");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn two_node_flag() {
    let p = load("two-node.conf");
    assert_eq!(p.config.quorum.two_node, Some(true));
    assert_eq!(p.config.quorum.wait_for_all, None);
}

#[test]
fn two_links() {
    let p = load("two-links.conf");
    let t = &p.config.totem;
    assert_eq!(t.interfaces.len(), 2);
    assert_eq!(t.interfaces[1].link(), 1);
    assert_eq!(t.interfaces[0].knet_ping_timeout, Some(1000));
    assert_eq!(p.config.nodelist[1].ring_addr(1), Some("172.16.0.2"));
}

#[test]
fn last_man_standing() {
    let q = load("last-man-standing.conf").config.quorum;
    assert_eq!(q.last_man_standing, Some(true));
    assert_eq!(q.last_man_standing_window, Some(20000));
    assert_eq!(q.auto_tie_breaker, Some(true));
}

#[test]
fn fuel_totem_section() {
    let p = load("fuel-multicast.conf");
    let t = &p.config.totem;
    assert_eq!(t.token, Some(3000));
    assert_eq!(t.token_retransmits_before_loss_const, Some(10));
    assert_eq!(t.join, Some(60));
    assert_eq!(t.consensus, Some(3600));
    assert_eq!(t.max_messages, Some(20));
    assert_eq!(t.transport, Some(Transport::Udp));
    assert_eq!(t.secauth, Some(false));
    assert_eq!(t.interfaces[0].mcastaddr.as_deref(), Some("239.1.1.2"));
    assert_eq!(t.interfaces[0].mcastport, Some(5405));
    let msgs: Vec<String> = p.warnings.iter().map(|w| w.to_string()).collect();
    assert!(msgs.iter().any(|m| m.contains("vsftype")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("ringnumber")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("rrp_mode")), "{msgs:?}");
    assert_eq!(msgs.len(), 3, "{msgs:?}");
}

/// The seed document's totem block, cut out of the reStructuredText, parses as is.
#[test]
fn seed_001_totem_block_parses() {
    let seeds = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/seeds"
    ));
    let Ok(rd) = std::fs::read_dir(&seeds) else {
        return; // shared data not mounted: nothing to check against
    };
    let mut files: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    let Some(seed) = files.iter().find(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("001_"))
    }) else {
        return;
    };
    let text = String::from_utf8_lossy(&std::fs::read(seed).expect("read seed")).into_owned();
    let start = text.find("  totem {").expect("seed has a totem block");
    let block: String = text[start..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let p = parse("seed-001", &block).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.config.totem.token, Some(3000));
    assert_eq!(p.config.totem.consensus, Some(3600));
    assert_eq!(
        p.config.totem.interfaces[0].bindnetaddr.as_deref(),
        Some("10.107.0.8")
    );
}
