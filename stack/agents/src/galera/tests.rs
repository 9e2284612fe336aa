use super::*;
use hasim_galera::control::Recovery;

fn params() -> BTreeMap<String, String> {
    [("wsrep_cluster_address", "gcomm://n1,n2,n3")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Drive `op` on `node`, answering each question with `reply`, until it
/// finishes; returns the outcome, every effect and the questions asked.
fn drive(
    node: &str,
    op: &str,
    mut reply: impl FnMut(&Ask) -> Answer,
) -> ((i32, AgentState), Vec<Effect>, Vec<Ask>, Vec<String>) {
    let p = params();
    let action = Action {
        rsc: "galera",
        node,
        op,
        probe: false,
        params: &p,
    };
    let mut answers = Vec::new();
    let mut asked = Vec::new();
    for _ in 0..100 {
        let (progress, run) = step(&action, &answers);
        match progress {
            Progress::Done(code, state) => return ((code, state), run.effects, asked, run.log),
            Progress::Ask(q) => {
                answers.push(reply(&q));
                asked.push(q);
            }
        }
    }
    panic!("{op} did not finish");
}

fn attrs(values: &[(&str, &str, &str)]) -> Answer {
    let mut all: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (name, node, value) in values {
        all.entry(format!("galera-{name}"))
            .or_default()
            .insert(node.to_string(), value.to_string());
    }
    Answer::Attrs(all)
}

fn set(target: &str, name: &str, value: Option<&str>) -> Effect {
    Effect::Attr {
        target: target.into(),
        name: name.into(),
        value: value.map(str::to_string),
    }
}

#[test]
fn start_records_the_seqno_and_waits_for_every_node() {
    let (out, fx, asked, log) = drive("n1", "start", |q| match q {
        Ask::Mysqld(Command::Status) => Answer::Mysqld(Mysqld::Stopped),
        Ask::Mysqld(Command::Recover) => Answer::Mysqld(Mysqld::Recovered(Recovery {
            grastate_seqno: None,
            last_commit: 41,
            safe_to_bootstrap: None,
        })),
        Ask::Promoted => Answer::Promoted(false),
        Ask::Attrs(_) => attrs(&[("last-committed", "n2", "40")]),
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(out, (rc::OK, AgentState::Started));
    assert!(asked.contains(&Ask::Mysqld(Command::Recover)));
    assert!(fx.contains(&set("n1", "galera-last-committed", Some("41"))));
    assert!(fx.contains(&set("n1", "galera-no-grastate", Some("true"))));
    assert!(fx.contains(&set("n1", "master-galera", None)));
    assert!(!fx.iter().any(
        |e| matches!(e, Effect::Attr { name, value: Some(_), .. } if name == "galera-bootstrap")
    ));
    assert!(
        log.iter().any(|l| l.contains("Waiting on node <n1>, <n3>")),
        "{log:?}"
    );
}

#[test]
fn monitor_promotes_the_highest_seqno_once_all_reported_ties_to_the_later_node() {
    let seen = attrs(&[
        ("last-committed", "n1", "41"),
        ("last-committed", "n2", "57"),
        ("last-committed", "n3", "57"),
    ]);
    let (out, fx, _, log) = drive("n1", "monitor", |q| match q {
        Ask::Mysqld(Command::Status) => Answer::Mysqld(Mysqld::Stopped),
        Ask::Promoted => Answer::Promoted(false),
        Ask::Attrs(_) => seen.clone(),
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(out, (rc::OK, AgentState::Started));
    assert!(fx.contains(&set("n3", "galera-bootstrap", Some("true"))));
    assert!(fx.contains(&set("n3", "master-galera", Some("100"))));
    assert!(!fx.contains(&set("n2", "master-galera", Some("100"))));
    assert!(log
        .iter()
        .any(|l| l.contains("Promoting n3") && l.contains("n2=57")));
}

#[test]
fn monitor_of_an_unstarted_instance_is_not_running_and_sets_nothing() {
    let (out, fx, _, _) = drive("n1", "monitor", |q| match q {
        Ask::Mysqld(Command::Status) => Answer::Mysqld(Mysqld::Stopped),
        Ask::Attrs(_) => attrs(&[]),
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(out, (rc::NOT_RUNNING, AgentState::Stopped));
    assert!(fx.is_empty());
}

#[test]
fn a_running_node_outside_the_primary_component_fails_its_monitor() {
    let (out, _, _, _) = drive("n1", "monitor", |q| match q {
        Ask::Mysqld(Command::Status) => Answer::Mysqld(Mysqld::Running {
            primary: false,
            seqno: 9,
        }),
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(out.0, rc::ERR_GENERIC);
}

#[test]
fn the_bootstrap_node_starts_a_new_cluster_and_promotes_everyone() {
    let mut started = false;
    let (out, fx, asked, _) = drive("n2", "promote", |q| match q {
        Ask::Promoted => Answer::Promoted(false),
        Ask::Attrs(_) => attrs(&[("bootstrap", "n2", "true"), ("last-committed", "n2", "57")]),
        Ask::Mysqld(Command::Status) if started => Answer::Mysqld(Mysqld::Running {
            primary: true,
            seqno: 57,
        }),
        Ask::Mysqld(Command::Status) => Answer::Mysqld(Mysqld::Stopped),
        Ask::Mysqld(Command::Start { new_cluster: true }) => {
            started = true;
            Answer::Mysqld(Mysqld::Ok)
        }
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(out, (rc::OK, AgentState::Promoted));
    assert!(asked.contains(&Ask::Mysqld(Command::Start { new_cluster: true })));
    for n in ["n1", "n2", "n3"] {
        assert!(fx.contains(&set(n, "master-galera", Some("100"))));
    }
    assert!(fx.contains(&set("n2", "galera-bootstrap", None)));
    assert!(fx.contains(&set("n2", "galera-last-committed", None)));
}

#[test]
fn a_joiner_waits_until_synced() {
    let mut polls = 0;
    let (out, _, asked, _) = drive("n1", "promote", |q| match q {
        Ask::Promoted => Answer::Promoted(true),
        Ask::Mysqld(Command::Status) if polls == 0 => {
            polls += 1;
            Answer::Mysqld(Mysqld::Stopped)
        }
        Ask::Attrs(_) => attrs(&[("last-committed", "n1", "41")]),
        Ask::Mysqld(Command::Start { new_cluster: false }) => Answer::Mysqld(Mysqld::Ok),
        Ask::Mysqld(Command::Status) => {
            polls += 1;
            Answer::Mysqld(Mysqld::Running {
                primary: polls > 4,
                seqno: 41,
            })
        }
        Ask::Sleep(_) => Answer::Woke,
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(out, (rc::OK, AgentState::Promoted));
    let sleeps = asked.iter().filter(|q| matches!(q, Ask::Sleep(_))).count();
    assert_eq!(sleeps, 2, "{asked:?}");
}

#[test]
fn promote_without_a_cluster_to_join_or_bootstrap_demotes_itself() {
    let (out, fx, asked, _) = drive("n1", "promote", |q| match q {
        Ask::Promoted => Answer::Promoted(false),
        Ask::Attrs(_) => attrs(&[("bootstrap", "n3", "true")]),
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(out, (rc::OK, AgentState::Started));
    assert!(fx.contains(&set("n1", "master-galera", None)));
    assert!(!asked
        .iter()
        .any(|q| matches!(q, Ask::Mysqld(Command::Start { .. }))));
}

#[test]
fn stop_kills_mysqld_and_clears_the_attributes() {
    let (out, fx, _, _) = drive("n1", "stop", |q| match q {
        Ask::Mysqld(Command::Stop) => Answer::Mysqld(Mysqld::Ok),
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(out, (rc::OK, AgentState::Stopped));
    for name in [
        "galera-last-committed",
        "galera-safe-to-bootstrap",
        "master-galera",
        "galera-bootstrap",
        "galera-no-grastate",
    ] {
        assert!(fx.contains(&set("n1", name, None)), "{name}");
    }
}

#[test]
fn without_a_cluster_address_start_is_a_configuration_error() {
    let p = BTreeMap::new();
    let action = Action {
        rsc: "galera",
        node: "n1",
        op: "start",
        probe: false,
        params: &p,
    };
    let (progress, _) = step(&action, &[]);
    assert_eq!(
        progress,
        Progress::Done(rc::ERR_CONFIGURED, AgentState::Stopped)
    );
}

#[test]
fn a_joiner_whose_mysqld_aborts_fails_its_promote() {
    let mut polls = 0;
    let (out, _, _, log) = drive("n1", "promote", |q| match q {
        Ask::Promoted => Answer::Promoted(true),
        Ask::Attrs(_) => attrs(&[("last-committed", "n1", "41")]),
        Ask::Mysqld(Command::Start { new_cluster: false }) => Answer::Mysqld(Mysqld::Ok),
        Ask::Mysqld(Command::Status) => {
            polls += 1;
            match polls {
                1 => Answer::Mysqld(Mysqld::Stopped),
                2 | 3 => Answer::Mysqld(Mysqld::Running {
                    primary: false,
                    seqno: 41,
                }),
                _ => Answer::Mysqld(Mysqld::Stopped),
            }
        }
        Ask::Sleep(_) => Answer::Woke,
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(out, (rc::ERR_GENERIC, AgentState::Failed));
    assert!(log.iter().any(|l| l.contains("failed to start")), "{log:?}");
}

#[test]
fn a_single_highest_seqno_wins_even_first_in_the_address() {
    let seen = attrs(&[
        ("last-committed", "n1", "60"),
        ("last-committed", "n2", "57"),
        ("last-committed", "n3", "-1"),
    ]);
    let (_, fx, _, _) = drive("n3", "monitor", |q| match q {
        Ask::Mysqld(Command::Status) => Answer::Mysqld(Mysqld::Stopped),
        Ask::Promoted => Answer::Promoted(false),
        Ask::Attrs(_) => seen.clone(),
        other => panic!("unexpected {other:?}"),
    });
    assert!(fx.contains(&set("n1", "galera-bootstrap", Some("true"))));
    assert!(fx.contains(&set("n1", "master-galera", Some("100"))));
}
