use super::*;

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

fn rep(safe: Option<bool>, commit: Option<i64>, no_grastate: bool) -> NodeReport {
    NodeReport {
        safe_to_bootstrap: safe,
        last_commit: commit,
        no_grastate,
    }
}

fn node(n: &str) -> BootstrapChoice {
    BootstrapChoice::Node(n.into())
}

/// The rules stated declaratively, independently of the agent's loop.
fn oracle(order: &[String], reports: &BTreeMap<String, NodeReport>) -> BootstrapChoice {
    let visiting: Vec<&String> = order
        .iter()
        .filter(|n| reports[*n].no_grastate)
        .chain(order.iter().filter(|n| !reports[*n].no_grastate))
        .collect();
    if let Some(safe) = visiting
        .iter()
        .find(|n| reports[**n].safe_to_bootstrap == Some(true))
    {
        return BootstrapChoice::Node((*safe).clone());
    }
    let missing: Vec<String> = visiting
        .iter()
        .filter(|n| reports[**n].last_commit.is_none())
        .map(|n| (*n).clone())
        .collect();
    if !missing.is_empty() {
        return BootstrapChoice::Waiting { missing };
    }
    let seq = |n: &String| reports[n].last_commit.map_or(0, |c| c.max(0));
    let top = visiting.iter().map(|n| seq(n)).max().unwrap_or(0);
    let winner = visiting
        .iter()
        .rev()
        .find(|n| seq(n) == top)
        .expect("a node");
    BootstrapChoice::Node((*winner).clone())
}

#[test]
fn every_combination_of_flags_ties_and_missing_seqnos() {
    let order = names(&["node1", "node2", "node3"]);
    let safes = [None, Some(false), Some(true)];
    let commits = [None, Some(-1), Some(0), Some(5), Some(7)];
    let per_node: Vec<NodeReport> = safes
        .iter()
        .flat_map(|&s| {
            commits
                .iter()
                .flat_map(move |&c| [false, true].map(|g| rep(s, c, g)))
        })
        .collect();
    let mut checked = 0;
    let (mut waits, mut safes_won, mut ties) = (0, 0, 0);
    for a in &per_node {
        for b in &per_node {
            for c in &per_node {
                let reports: BTreeMap<String, NodeReport> = order
                    .iter()
                    .cloned()
                    .zip([a.clone(), b.clone(), c.clone()])
                    .collect();
                let got = choose_bootstrap(&order, &reports, None);
                assert_eq!(got, oracle(&order, &reports), "{reports:?}");
                checked += 1;
                match &got {
                    BootstrapChoice::Waiting { .. } => waits += 1,
                    BootstrapChoice::Node(n) if reports[n].safe_to_bootstrap == Some(true) => {
                        safes_won += 1
                    }
                    BootstrapChoice::Node(_) => {
                        let seqs: Vec<i64> = reports
                            .values()
                            .map(|r| r.last_commit.unwrap_or(0).max(0))
                            .collect();
                        let top = seqs.iter().max().copied().unwrap_or(0);
                        if seqs.iter().filter(|&&s| s == top).count() > 1 {
                            ties += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 30usize.pow(3));
    assert!(
        waits > 0 && safes_won > 0 && ties > 0,
        "{waits} {safes_won} {ties}"
    );
}

#[test]
fn seed_story_bootstraps_from_the_most_advanced_node() {
    let order = names(&["ctl1", "ctl2", "ctl3"]);
    let r: BTreeMap<_, _> = [
        ("ctl1".to_string(), rep(Some(false), Some(1200), false)),
        ("ctl2".to_string(), rep(Some(false), Some(1350), false)),
        ("ctl3".to_string(), rep(Some(false), Some(1190), false)),
    ]
    .into();
    assert_eq!(choose_bootstrap(&order, &r, None), node("ctl2"));
}

#[test]
fn ties_go_to_the_later_node_in_the_cluster_address() {
    let order = names(&["a", "b", "c"]);
    let same = rep(Some(false), Some(9), false);
    let r: BTreeMap<_, _> = [
        ("a".into(), same.clone()),
        ("b".into(), same.clone()),
        ("c".into(), rep(Some(false), Some(3), false)),
    ]
    .into();
    assert_eq!(choose_bootstrap(&order, &r, None), node("b"));
    // A recovered node (grastate.dat missing) loses the tie to an intact one
    // even when it comes later in the address.
    let r: BTreeMap<_, _> = [
        ("a".into(), same.clone()),
        ("b".into(), rep(None, Some(9), true)),
        ("c".into(), rep(Some(false), Some(3), false)),
    ]
    .into();
    assert_eq!(choose_bootstrap(&order, &r, None), node("a"));
}

#[test]
fn waits_for_every_seqno_unless_a_node_is_safe() {
    let order = names(&["a", "b", "c"]);
    let mut r: BTreeMap<_, _> = [
        ("a".into(), rep(Some(false), Some(10), false)),
        ("b".into(), rep(None, None, false)),
        ("c".into(), rep(Some(false), Some(4), false)),
    ]
    .into();
    assert_eq!(
        choose_bootstrap(&order, &r, None),
        BootstrapChoice::Waiting {
            missing: names(&["b"])
        }
    );
    // A safe node after the missing one still wins at once.
    r.insert("c".into(), rep(Some(true), Some(4), false));
    assert_eq!(choose_bootstrap(&order, &r, None), node("c"));
    // The two-node quorate survivor counts as safe.
    r.insert("c".into(), rep(Some(false), Some(4), false));
    assert_eq!(choose_bootstrap(&order, &r, Some("a")), node("a"));
}

#[test]
fn no_commit_yet_counts_as_zero_and_the_last_node_is_the_default() {
    let order = names(&["a", "b"]);
    let r: BTreeMap<_, _> = [
        ("a".into(), rep(None, Some(-1), false)),
        ("b".into(), rep(None, Some(-1), false)),
    ]
    .into();
    assert_eq!(choose_bootstrap(&order, &r, None), node("b"));
}

#[test]
fn cluster_address_parsing() {
    assert_eq!(
        parse_cluster_address("gcomm://n1, n2,n3").unwrap(),
        names(&["n1", "n2", "n3"])
    );
    assert!(parse_cluster_address("gcomm://").is_err());
}
