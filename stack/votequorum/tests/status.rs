//! corosync-quorumtool -s rendering and configuration from real corosync.conf files.

mod common;

use common::Sim;
use hasim_corosync_conf::parse;
use hasim_votequorum::{
    from_corosync, names_from_conf, render_status, ConfigError, RenderOptions, TieBreaker,
};
use std::collections::BTreeMap;

fn conf(name: &str) -> hasim_corosync_conf::CorosyncConf {
    let path = format!(
        "{}/../../scenarios/corosync/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("example config");
    parse(name, &text).expect("parses").config
}

#[test]
fn quorumtool_layout() {
    let mut s = Sim::uniform(3, |_| {});
    s.partition(&[&[1, 2, 3]]);
    let names: BTreeMap<u32, String> = (1..=3).map(|i| (i, format!("node{i}"))).collect();
    let opts = RenderOptions {
        date: "Sun Nov 22 15:57:35 2026".into(),
        names,
    };
    let text = render_status(&s.nodes[&1].status(), &opts);
    let expected = "Quorum information
------------------
Date:             Sun Nov 22 15:57:35 2026
Quorum provider:  corosync_votequorum
Nodes:            3
Node ID:          1
Ring ID:          1.4
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2  
Flags:            Quorate 

Membership information
----------------------
    Nodeid      Votes Name
         1          1 node1 (local)
         2          1 node2
         3          1 node3
";
    assert_eq!(text, expected);
}

#[test]
fn quorumtool_blocked_two_node() {
    let mut s = Sim::uniform(2, |c| {
        c.two_node = true;
        c.wait_for_all = true;
    });
    s.partition(&[&[2]]);
    let text = render_status(&s.nodes[&2].status(), &RenderOptions::default());
    assert!(
        text.contains("Quorum:           1 Activity blocked\n"),
        "{text}"
    );
    assert!(
        text.contains("Flags:            2Node WaitForAll \n"),
        "{text}"
    );
    assert!(text.contains("Quorate:          No\n"), "{text}");
    assert!(text.contains("         2          1  (local)\n"), "{text}");
}

#[test]
fn config_from_two_node_conf() {
    let c = conf("two-node.conf");
    let l = from_corosync(&c, 2, 0).expect("valid");
    assert!(l.config.two_node);
    assert!(l.config.wait_for_all, "two_node implies wait_for_all");
    assert_eq!((l.config.votes, l.config.expected_votes), (1, 2));
    assert_eq!(
        names_from_conf(&c).get(&2).map(String::as_str),
        Some("beta")
    );
}

#[test]
fn config_from_lms_conf() {
    let l = from_corosync(&conf("last-man-standing.conf"), 1, 0).expect("valid");
    assert!(l.config.last_man_standing);
    assert_eq!(l.config.last_man_standing_window.as_millis(), 20_000);
    assert_eq!(l.config.auto_tie_breaker, Some(TieBreaker::Lowest));
    assert_eq!(l.config.expected_votes, 4);
}

#[test]
fn config_rules() {
    let text = |q: &str| {
        format!(
            "nodelist {{\n node {{\n  nodeid: 1\n  ring0_addr: a\n }}\n node {{\n  nodeid: 2\n  ring0_addr: b\n }}\n node {{\n  nodeid: 3\n  ring0_addr: c\n  quorum_votes: 2\n }}\n}}\nquorum {{\n provider: corosync_votequorum\n{q}}}\n"
        )
    };
    let load =
        |q: &str, id: u32| from_corosync(&parse("t", &text(q)).expect("parses").config, id, 0);
    let l = load("", 3).expect("ok");
    assert_eq!((l.config.votes, l.config.expected_votes), (2, 4));
    let l = load(" expected_votes: 7\n", 1).expect("ok");
    assert_eq!(l.config.expected_votes, 7);
    // Not in the nodelist and no expected_votes: refused.
    assert_eq!(load("", 9), Err(ConfigError::NoExpectedVotes));
    // ATB with two_node: two_node is dropped.
    let l = load(" two_node: 1\n auto_tie_breaker: 1\n wait_for_all: 1\n", 1).expect("ok");
    assert!(!l.config.two_node && l.config.auto_tie_breaker.is_some());
    // ATB on an odd vote total without wait_for_all is disabled ...
    let odd = "nodelist {\n node {\n  nodeid: 1\n  ring0_addr: a\n }\n}\nquorum {\n provider: corosync_votequorum\n auto_tie_breaker: 1\n";
    let c = parse("t", &format!("{odd}}}\n")).expect("parses").config;
    let l = from_corosync(&c, 1, 0).expect("ok");
    assert_eq!(l.config.auto_tie_breaker, None);
    assert!(!l.notices.is_empty());
    // ... and fatal together with last_man_standing.
    let c = parse("t", &format!("{odd} last_man_standing: 1\n}}\n"))
        .expect("parses")
        .config;
    assert_eq!(from_corosync(&c, 1, 0), Err(ConfigError::AtbLmsOddCluster));
    // ATB node list.
    let l = load(" auto_tie_breaker: 1\n auto_tie_breaker_node: 3 1\n", 1).expect("ok");
    assert_eq!(
        l.config.auto_tie_breaker,
        Some(TieBreaker::List(vec![3, 1]))
    );
}
