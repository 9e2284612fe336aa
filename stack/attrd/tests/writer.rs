//! Three attribute managers on an in-memory CPG.
#![allow(clippy::needless_range_loop)]

use std::collections::VecDeque;
use std::time::Duration;

use hasim_attrd::Attrd;
use hasim_pcmk_proto::{
    Action, AttrValue, CibOp, ConfChange, Daemon, Event, Input, LocalMsg, Member,
};

#[derive(Default)]
struct Out {
    writes: Vec<(usize, CibOp)>,
    timers: Vec<(usize, String, Duration)>,
    events: Vec<Event>,
}

fn feed(
    nodes: &mut [Attrd],
    q: &mut VecDeque<(usize, Vec<u8>)>,
    out: &mut Out,
    i: usize,
    input: Input,
) {
    for a in nodes[i].handle(Duration::ZERO, input) {
        match a {
            Action::Multicast(d) => q.push_back((i, d)),
            Action::Send {
                to: Daemon::Based,
                msg: LocalMsg::CibRequest(r),
            } => out.writes.push((i, r.op)),
            Action::SetTimer { id, after } => out.timers.push((i, id.0, after)),
            Action::Report(e) => out.events.push(e),
            _ => {}
        }
    }
}

fn run(nodes: &mut [Attrd], q: &mut VecDeque<(usize, Vec<u8>)>, out: &mut Out, up: &[bool]) {
    while let Some((from, data)) = q.pop_front() {
        for i in 0..nodes.len() {
            if up[i] {
                let from = Member {
                    node: from as u32 + 1,
                    pid: 2,
                };
                feed(
                    nodes,
                    q,
                    out,
                    i,
                    Input::Deliver {
                        from,
                        data: data.clone(),
                    },
                );
            }
        }
    }
}

fn confchg(
    nodes: &mut [Attrd],
    q: &mut VecDeque<(usize, Vec<u8>)>,
    out: &mut Out,
    up: &[bool],
    left: Vec<u32>,
) {
    confchg_joined(nodes, q, out, up, left, vec![]);
}

fn confchg_joined(
    nodes: &mut [Attrd],
    q: &mut VecDeque<(usize, Vec<u8>)>,
    out: &mut Out,
    up: &[bool],
    left: Vec<u32>,
    joined: Vec<u32>,
) {
    let members: Vec<Member> = (0..nodes.len())
        .filter(|&i| up[i])
        .map(|i| Member {
            node: i as u32 + 1,
            pid: 2,
        })
        .collect();
    for i in 0..nodes.len() {
        if up[i] {
            let cc = ConfChange {
                members: members.clone(),
                left: left
                    .iter()
                    .map(|&n| {
                        (
                            Member { node: n, pid: 2 },
                            hasim_pcmk_proto::Reason::NodeDown,
                        )
                    })
                    .collect(),
                joined: joined
                    .iter()
                    .map(|&n| (Member { node: n, pid: 2 }, hasim_pcmk_proto::Reason::Join))
                    .collect(),
            };
            feed(nodes, q, out, i, Input::ConfChange(cc));
        }
    }
    run(nodes, q, out, up);
}

type Queue = VecDeque<(usize, Vec<u8>)>;

/// The first `n` of n1 (uptime 10), n2 (30), n3 (20), all up, after their
/// first membership: n2 is the writer.
fn started(n: usize) -> (Vec<Attrd>, Queue, Out, Vec<bool>) {
    let mut nodes: Vec<Attrd> = [("n1", 10), ("n2", 30), ("n3", 20)][..n]
        .iter()
        .map(|(name, uptime)| Attrd::new(name, *uptime))
        .collect();
    let mut q = VecDeque::new();
    let mut out = Out::default();
    let up = vec![true; n];
    confchg(&mut nodes, &mut q, &mut out, &up, vec![]);
    (nodes, q, out, up)
}

#[test]
fn longest_uptime_writes_fail_counts_with_dampening_and_a_new_writer_takes_over() {
    let (mut nodes, mut q, mut out, mut up) = started(3);
    assert!(nodes[1].is_writer() && !nodes[0].is_writer() && !nodes[2].is_writer());
    // Fail count incremented twice from node 1 (DC), for node 3.
    for _ in 0..2 {
        let msg = LocalMsg::AttrUpdate {
            target: "n3".into(),
            name: "fail-count-d#monitor_10000".into(),
            value: AttrValue::Increment,
            dampen: None,
        };
        feed(
            &mut nodes,
            &mut q,
            &mut out,
            0,
            Input::Local {
                from: Daemon::Controld,
                msg,
            },
        );
        run(&mut nodes, &mut q, &mut out, &up);
    }
    assert!(nodes
        .iter()
        .all(|n| n.value("n3", "fail-count-d#monitor_10000") == Some("2")));
    let writers: Vec<usize> = out.writes.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        writers,
        vec![1, 1],
        "only the writer writes, once per change"
    );
    match &out.writes[1].1 {
        CibOp::Modify { section, xml } => {
            assert_eq!(section, "status");
            assert!(
                xml.contains("<node_state id=\"3\">") && xml.contains("value=\"2\""),
                "{xml}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A dampened attribute is written by a timer, not at once.
    let msg = LocalMsg::AttrUpdate {
        target: "n1".into(),
        name: "pingd".into(),
        value: AttrValue::Set("100".into()),
        dampen: Some(Duration::from_secs(5)),
    };
    feed(
        &mut nodes,
        &mut q,
        &mut out,
        0,
        Input::Local {
            from: Daemon::Controld,
            msg,
        },
    );
    run(&mut nodes, &mut q, &mut out, &up);
    assert_eq!(out.writes.len(), 2);
    assert_eq!(
        out.timers,
        vec![(1, "dampen:pingd".to_string(), Duration::from_secs(5))]
    );
    feed(
        &mut nodes,
        &mut q,
        &mut out,
        1,
        Input::Timer(hasim_pcmk_proto::TimerId::new("dampen:pingd")),
    );
    assert_eq!(out.writes.len(), 3);
    // The writer dies: n3 (uptime 20) takes over and rewrites everything.
    up[1] = false;
    confchg(&mut nodes, &mut q, &mut out, &up, vec![2]);
    assert!(nodes[2].is_writer());
    assert!(out.writes[3..].iter().all(|(i, _)| *i == 2) && out.writes.len() > 3);
    assert!(out
        .events
        .iter()
        .any(|e| matches!(e, Event::AttrWriter { node, writer: true } if node == "n3")));
}

#[test]
fn a_query_answers_the_asker_with_every_nodes_value_once_delivered() {
    let (mut nodes, mut q, mut out, up) = started(2);
    for (i, target, value) in [(0, "n1", "41"), (1, "n2", "57")] {
        let msg = LocalMsg::AttrUpdate {
            target: target.into(),
            name: "galera-last-committed".into(),
            value: AttrValue::Set(value.into()),
            dampen: None,
        };
        let from = Daemon::Execd;
        feed(&mut nodes, &mut q, &mut out, i, Input::Local { from, msg });
    }
    let query = |nodes: &mut Vec<Attrd>| {
        let msg = LocalMsg::AttrQuery {
            call: 9,
            names: vec!["galera-last-committed".into(), "other".into()],
        };
        let from = Daemon::Execd;
        let answers = nodes[0].handle(Duration::ZERO, Input::Local { from, msg });
        match answers.as_slice() {
            [Action::Send {
                to: Daemon::Execd,
                msg: LocalMsg::AttrAnswer { call: 9, values },
            }] => values.clone(),
            other => panic!("expected one answer to execd, got {other:?}"),
        }
    };
    // Not applied before the group delivers the updates (agreed order).
    assert!(query(&mut nodes)["galera-last-committed"].is_empty());
    run(&mut nodes, &mut q, &mut out, &up);
    let values = query(&mut nodes);
    assert_eq!(values["galera-last-committed"]["n1"], "41");
    assert_eq!(values["galera-last-committed"]["n2"], "57");
    assert!(values["other"].is_empty());
}

fn set(
    nodes: &mut [Attrd],
    q: &mut VecDeque<(usize, Vec<u8>)>,
    out: &mut Out,
    at: usize,
    target: &str,
    value: AttrValue,
) {
    let msg = LocalMsg::AttrUpdate {
        target: target.into(),
        name: "master-galera".into(),
        value,
        dampen: None,
    };
    feed(
        nodes,
        q,
        out,
        at,
        Input::Local {
            from: Daemon::Execd,
            msg,
        },
    );
}

/// The writer's last CIB write of master-galera for node `id`: Some(value)
/// for a modify, None for a delete.
fn last_write_for(writes: &[(usize, CibOp)], id: u32) -> Option<Option<String>> {
    let nv = format!("status-{id}-master-galera");
    writes.iter().rev().find_map(|(_, op)| match op {
        CibOp::Modify { xml, .. } if xml.contains(&format!("id=\"{nv}\"")) => {
            let v = xml.split("value=\"").nth(1)?.split('"').next()?;
            Some(Some(v.to_string()))
        }
        CibOp::DeleteIn { id: d, .. } if *d == nv => Some(None),
        _ => None,
    })
}

#[test]
fn a_node_that_comes_back_from_a_partition_gets_its_own_values_written_again() {
    let (mut nodes, mut q, mut out, mut up) = started(3);
    set(
        &mut nodes,
        &mut q,
        &mut out,
        0,
        "n3",
        AttrValue::Set("100".into()),
    );
    run(&mut nodes, &mut q, &mut out, &up);
    assert_eq!(last_write_for(&out.writes, 3), Some(Some("100".into())));

    // n3 is cut off: the others forget its values (the DC erases them from
    // the CIB), n3 keeps its own.
    up[2] = false;
    confchg(&mut nodes, &mut q, &mut out, &up, vec![3]);
    assert_eq!(nodes[1].value("n3", "master-galera"), None);
    assert_eq!(nodes[2].value("n3", "master-galera"), Some("100"));

    // It comes back: the writer's sync lacks n3's value, so n3 sends it
    // again and the writer writes it.
    let writes = out.writes.len();
    up[2] = true;
    confchg_joined(&mut nodes, &mut q, &mut out, &up, vec![], vec![3]);
    assert!(nodes[1].is_writer());
    assert!(nodes
        .iter()
        .all(|n| n.value("n3", "master-galera") == Some("100")));
    assert!(out.writes[writes..].iter().all(|(i, _)| *i == 1));
    assert_eq!(
        last_write_for(&out.writes[writes..], 3),
        Some(Some("100".into()))
    );
}

#[test]
fn the_returning_nodes_own_copy_wins_over_the_writers_including_an_absent_value() {
    let (mut nodes, mut q, mut out, up) = started(2);
    // n1 restarts with an empty attribute table while the writer (n2)
    // wrongly still holds a value for it (say, n1's departure was not seen).
    set(
        &mut nodes,
        &mut q,
        &mut out,
        1,
        "n1",
        AttrValue::Set("5".into()),
    );
    run(&mut nodes, &mut q, &mut out, &up);
    nodes[0] = Attrd::new("n1", 10);
    let writes = out.writes.len();
    confchg_joined(&mut nodes, &mut q, &mut out, &up, vec![], vec![1]);
    assert!(nodes
        .iter()
        .all(|n| n.value("n1", "master-galera").is_none()));
    assert_eq!(
        last_write_for(&out.writes[writes..], 1),
        Some(None),
        "the stale value is deleted"
    );
}

#[test]
fn a_writer_that_was_paused_and_wins_again_rewrites_every_value() {
    let (mut nodes, mut q, mut out, mut up) = started(3);
    set(
        &mut nodes,
        &mut q,
        &mut out,
        1,
        "n2",
        AttrValue::Set("100".into()),
    );
    run(&mut nodes, &mut q, &mut out, &up);
    assert!(nodes[1].is_writer());
    // n2 is paused: it sees no membership change and still believes it is
    // the writer; the others elect n3 (and the DC erases n2's attributes).
    up[1] = false;
    confchg(&mut nodes, &mut q, &mut out, &up, vec![2]);
    assert!(nodes[2].is_writer() && nodes[1].is_writer());
    // It resumes; the members elect again and n2 wins: it rewrites
    // everything, its own master score included.
    up[1] = true;
    let writes = out.writes.len();
    confchg_joined(&mut nodes, &mut q, &mut out, &up, vec![], vec![2]);
    assert!(nodes[1].is_writer() && !nodes[2].is_writer());
    let rewritten: Vec<usize> = out.writes[writes..].iter().map(|(i, _)| *i).collect();
    assert!(rewritten.contains(&1), "{rewritten:?}");
    assert_eq!(
        last_write_for(&out.writes[writes..], 2),
        Some(Some("100".into()))
    );
}

#[test]
fn the_writer_writes_everything_again_when_its_cib_copy_was_replaced() {
    let (mut nodes, mut q, mut out, up) = started(2);
    set(
        &mut nodes,
        &mut q,
        &mut out,
        0,
        "n1",
        AttrValue::Set("100".into()),
    );
    run(&mut nodes, &mut q, &mut out, &up);
    for i in [0, 1] {
        let writes = out.writes.len();
        let msg = LocalMsg::CibReplaced;
        feed(
            &mut nodes,
            &mut q,
            &mut out,
            i,
            Input::Local {
                from: Daemon::Based,
                msg,
            },
        );
        let again = last_write_for(&out.writes[writes..], 1);
        let expected = (i == 1).then(|| Some("100".to_string()));
        assert_eq!(again, expected, "only the writer (n2) writes again");
    }
}
