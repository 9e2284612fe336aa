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
                joined: vec![],
            };
            feed(nodes, q, out, i, Input::ConfChange(cc));
        }
    }
    run(nodes, q, out, up);
}

#[test]
fn longest_uptime_writes_fail_counts_with_dampening_and_a_new_writer_takes_over() {
    let mut nodes = vec![
        Attrd::new("n1", 10),
        Attrd::new("n2", 30),
        Attrd::new("n3", 20),
    ];
    let mut q = VecDeque::new();
    let mut out = Out::default();
    let mut up = vec![true; 3];
    confchg(&mut nodes, &mut q, &mut out, &up, vec![]);
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
    let mut nodes = vec![Attrd::new("n1", 10), Attrd::new("n2", 30)];
    let mut q = VecDeque::new();
    let mut out = Out::default();
    let up = vec![true; 2];
    confchg(&mut nodes, &mut q, &mut out, &up, vec![]);
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
