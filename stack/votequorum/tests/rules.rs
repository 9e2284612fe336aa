//! One test per votequorum rule, on small simulated clusters.

mod common;

use common::Sim;
use hasim_votequorum::{Config, Input, TieBreaker, Votequorum};
use std::time::Duration;

const WINDOW: Duration = Duration::from_secs(10);

#[test]
fn three_nodes_lose_one_stay_quorate() {
    let mut s = Sim::uniform(3, |_| {});
    s.partition(&[&[1, 2, 3]]);
    assert_eq!(s.quorate_set(&[1, 2, 3]), [true, true, true]);
    assert_eq!(s.nodes[&1].quorum(), 2);
    s.partition(&[&[1, 2]]);
    assert_eq!(s.quorate_set(&[1, 2]), [true, true]);
    let r = s.last_report(1);
    assert_eq!((r.total_votes, r.expected_votes, r.quorum), (2, 3, 2));
    assert_eq!(r.members, vec![1, 2]);
}

#[test]
fn two_one_split_only_majority_quorate() {
    let mut s = Sim::uniform(3, |_| {});
    s.partition(&[&[1, 2, 3]]);
    s.partition(&[&[1, 3], &[2]]);
    assert_eq!(s.quorate_set(&[1, 3, 2]), [true, true, false]);
    assert_eq!(s.nodes[&2].quorum(), 2);
    // Healing restores quorum everywhere.
    s.partition(&[&[1, 2, 3]]);
    assert_eq!(s.quorate_set(&[1, 2, 3]), [true, true, true]);
}

#[test]
fn quorum_never_decreases_on_loss() {
    let mut s = Sim::uniform(5, |_| {});
    s.partition(&[&[1, 2, 3, 4, 5]]);
    assert_eq!(s.nodes[&1].quorum(), 3);
    s.partition(&[&[1, 2, 3]]);
    assert!(s.quorate(1));
    assert_eq!(s.nodes[&1].quorum(), 3);
    s.partition(&[&[1, 2]]);
    assert!(!s.quorate(1));
    assert_eq!(s.nodes[&1].quorum(), 3);
    assert_eq!(s.nodes[&1].expected_votes(), 5);
}

#[test]
fn expected_votes_follow_highest_total() {
    // Configured expected 2 but three one-vote nodes join: expected rises to 3.
    let mut s = Sim::new((1..=3).map(|id| Config::simple(id, 1, 2)).collect());
    s.partition(&[&[1, 2, 3]]);
    assert_eq!(s.nodes[&1].expected_votes(), 3);
    assert_eq!(s.nodes[&1].quorum(), 2);
}

fn two_node() -> Sim {
    Sim::uniform(2, |c| {
        c.two_node = true;
        c.wait_for_all = true;
    })
}

#[test]
fn two_node_survivor_keeps_quorum_either_way() {
    for survivor in [1u32, 2] {
        let mut s = two_node();
        s.partition(&[&[1, 2]]);
        assert_eq!(s.quorate_set(&[1, 2]), [true, true]);
        assert_eq!(s.nodes[&1].quorum(), 1);
        s.partition(&[&[survivor]]);
        assert!(s.quorate(survivor), "node {survivor} alone");
        let r = s.last_report(survivor);
        assert_eq!((r.total_votes, r.expected_votes, r.quorum), (1, 2, 1));
    }
}

#[test]
fn two_node_wait_for_all_at_startup() {
    let mut s = two_node();
    s.partition(&[&[1]]);
    assert!(
        !s.quorate(1),
        "a lone two_node node must wait for its peer first"
    );
    assert!(s.nodes[&1].waiting_for_all());
    s.partition(&[&[1, 2]]);
    assert!(s.quorate(1) && s.quorate(2));
    s.partition(&[&[1]]);
    assert!(s.quorate(1));
}

#[test]
fn wait_for_all_startup() {
    let mut s = Sim::uniform(3, |c| c.wait_for_all = true);
    s.partition(&[&[1, 2]]);
    assert_eq!(
        s.quorate_set(&[1, 2]),
        [false, false],
        "2 of 3 at boot must wait"
    );
    assert!(s
        .logs
        .iter()
        .any(|(_, l)| l.contains("Waiting for all cluster members")));
    s.partition(&[&[1, 2, 3]]);
    assert_eq!(s.quorate_set(&[1, 2, 3]), [true, true, true]);
    s.partition(&[&[1, 2]]);
    assert_eq!(
        s.quorate_set(&[1, 2]),
        [true, true],
        "after all were seen, 2 of 3 is enough"
    );

    // Control: without wait_for_all two booting nodes of three are quorate.
    let mut c = Sim::uniform(3, |_| {});
    c.partition(&[&[1, 2]]);
    assert_eq!(c.quorate_set(&[1, 2]), [true, true]);
}

#[test]
fn wait_for_all_cancel() {
    let mut s = Sim::uniform(3, |c| c.wait_for_all = true);
    s.partition(&[&[1, 2]]);
    assert!(!s.quorate(1));
    let actions = s
        .nodes
        .get_mut(&1)
        .expect("node")
        .handle(s.now, Input::CancelWaitForAll);
    let msg = match &actions[..] {
        [hasim_votequorum::Action::Broadcast(m)] => *m,
        other => panic!("{other:?}"),
    };
    for id in [1u32, 2] {
        s.nodes
            .get_mut(&id)
            .expect("node")
            .handle(s.now, Input::Message { from: 1, msg });
    }
    assert_eq!(s.quorate_set(&[1, 2]), [true, true]);
}

fn lms(atb: bool) -> Sim {
    Sim::uniform(4, |c| {
        c.last_man_standing = true;
        c.last_man_standing_window = WINDOW;
        if atb {
            c.auto_tie_breaker = Some(TieBreaker::Lowest);
        }
    })
}

#[test]
fn last_man_standing_down_to_two_without_atb() {
    let mut s = lms(false);
    s.partition(&[&[1, 2, 3, 4]]);
    s.partition(&[&[1, 2, 3]]);
    assert!(s.quorate(1));
    assert_eq!(s.nodes[&1].expected_votes(), 4, "not before the window");
    s.advance(WINDOW + Duration::from_millis(1));
    assert_eq!((s.nodes[&1].expected_votes(), s.nodes[&1].quorum()), (3, 2));
    s.partition(&[&[1, 2]]);
    assert!(s.quorate(1));
    s.advance(WINDOW + Duration::from_millis(1));
    assert_eq!((s.nodes[&1].expected_votes(), s.nodes[&1].quorum()), (2, 2));
    s.partition(&[&[1]]);
    assert!(!s.quorate(1), "LMS alone cannot go from 2 to 1");
    s.advance(WINDOW * 2);
    assert!(!s.quorate(1));
}

#[test]
fn last_man_standing_down_to_one_with_atb() {
    let mut s = lms(true);
    s.partition(&[&[1, 2, 3, 4]]);
    for (members, expected) in [(&[1u32, 2, 3][..], 3u32), (&[1, 2][..], 2)] {
        s.partition(&[members]);
        assert!(s.quorate(1));
        s.advance(WINDOW + Duration::from_millis(1));
        assert_eq!(s.nodes[&1].expected_votes(), expected);
    }
    s.partition(&[&[1], &[2]]);
    assert!(
        s.quorate(1),
        "ATB: node 1 holds the lowest id of the 1|1 split"
    );
    assert!(
        !s.quorate(2),
        "the other half of the 1|1 split stays inquorate"
    );
    s.advance(WINDOW + Duration::from_millis(1));
    assert_eq!((s.nodes[&1].expected_votes(), s.nodes[&1].quorum()), (1, 1));
}

#[test]
fn last_man_standing_window_restarts_on_change() {
    let mut s = Sim::uniform(5, |c| {
        c.last_man_standing = true;
        c.last_man_standing_window = WINDOW;
    });
    s.partition(&[&[1, 2, 3, 4, 5]]);
    s.partition(&[&[1, 2, 3, 4]]);
    s.advance(WINDOW / 2);
    s.partition(&[&[1, 2, 3]]); // still >= quorum 3: the window starts again
    s.advance(WINDOW / 2 + Duration::from_millis(1));
    assert_eq!(
        s.nodes[&1].expected_votes(),
        5,
        "window restarted by the second loss"
    );
    s.advance(WINDOW / 2);
    assert_eq!((s.nodes[&1].expected_votes(), s.nodes[&1].quorum()), (3, 2));
}

#[test]
fn last_man_standing_needs_quorum_when_the_window_ends() {
    // Losing two of four inside one window drops below quorum: LMS cannot help.
    let mut s = lms(false);
    s.partition(&[&[1, 2, 3, 4]]);
    s.partition(&[&[1, 2, 3]]);
    s.advance(WINDOW / 2);
    s.partition(&[&[1, 2]]);
    assert!(!s.quorate(1));
    s.advance(WINDOW * 2);
    assert!(!s.quorate(1));
    assert_eq!(s.nodes[&1].expected_votes(), 4);
}

fn atb(t: TieBreaker) -> Sim {
    Sim::uniform(4, |c| c.auto_tie_breaker = Some(t.clone()))
}

#[test]
fn atb_even_split_lowest_wins() {
    let mut s = atb(TieBreaker::Lowest);
    s.partition(&[&[1, 2, 3, 4]]);
    s.partition(&[&[1, 3], &[2, 4]]);
    assert_eq!(s.quorate_set(&[1, 3, 2, 4]), [true, true, false, false]);
    // Without ATB neither half is quorate.
    let mut n = Sim::uniform(4, |_| {});
    n.partition(&[&[1, 2, 3, 4]]);
    n.partition(&[&[1, 3], &[2, 4]]);
    assert_eq!(n.quorate_set(&[1, 3, 2, 4]), [false, false, false, false]);
}

#[test]
fn atb_highest_and_list() {
    let mut s = atb(TieBreaker::Highest);
    s.partition(&[&[1, 2, 3, 4]]);
    s.partition(&[&[1, 3], &[2, 4]]);
    assert_eq!(s.quorate_set(&[1, 3, 2, 4]), [false, false, true, true]);

    let mut l = atb(TieBreaker::List(vec![3, 1]));
    l.partition(&[&[1, 2, 3, 4]]);
    l.partition(&[&[1, 2], &[3, 4]]);
    assert_eq!(l.quorate_set(&[1, 2, 3, 4]), [false, false, true, true]);
}

#[test]
fn atb_not_used_for_uneven_loss() {
    // 1|3 split of four: the single node holding the lowest id must not win.
    let mut s = atb(TieBreaker::Lowest);
    s.partition(&[&[1, 2, 3, 4]]);
    s.partition(&[&[1], &[2, 3, 4]]);
    assert_eq!(s.quorate_set(&[1, 2, 3, 4]), [false, true, true, true]);
}

#[test]
fn leaving_node_with_allow_downscale() {
    let mut s = Sim::uniform(3, |c| {
        c.allow_downscale = true;
        c.ev_tracking = true;
    });
    s.partition(&[&[1, 2, 3]]);
    assert!(s.quorate(1));
    let msg = match s
        .nodes
        .get_mut(&3)
        .expect("n")
        .handle(s.now, Input::Shutdown)
        .as_slice()
    {
        [hasim_votequorum::Action::Broadcast(m)] => *m,
        other => panic!("{other:?}"),
    };
    for id in [1u32, 2, 3] {
        s.nodes
            .get_mut(&id)
            .expect("n")
            .handle(s.now, Input::Message { from: 3, msg });
    }
    // votequorum recomputes from the remaining members at once: expected 2, quorum 2.
    assert_eq!((s.nodes[&1].expected_votes(), s.nodes[&1].quorum()), (2, 2));
    s.partition(&[&[1, 2]]);
    assert!(s.quorate(1));
}

#[test]
fn lms_disabled_when_a_node_has_two_votes() {
    let mut cfgs: Vec<Config> = (1..=3)
        .map(|id| {
            let mut c = Config::simple(id, 1, 4);
            c.last_man_standing = true;
            c
        })
        .collect();
    cfgs[2].votes = 2;
    let mut s = Sim::new(cfgs);
    s.partition(&[&[1, 2, 3]]);
    assert!(s.logs.iter().any(|(_, l)| l.contains("Disabling LMS")));
    assert!(!s.nodes[&1]
        .status()
        .flags
        .has(hasim_votequorum::InfoFlags::LAST_MAN_STANDING));
}

#[test]
fn set_expected_votes_validation() {
    let mut s = Sim::uniform(3, |_| {});
    s.partition(&[&[1, 2, 3]]);
    let vq: &mut Votequorum = s.nodes.get_mut(&1).expect("n");
    let a = vq.handle(s.now, Input::SetExpectedVotes(2));
    assert!(
        matches!(a.as_slice(), [hasim_votequorum::Action::Rejected(_)]),
        "{a:?}"
    );
    let a = vq.handle(s.now, Input::SetExpectedVotes(4));
    assert!(
        matches!(a.as_slice(), [hasim_votequorum::Action::Broadcast(_)]),
        "{a:?}"
    );
}

#[test]
fn deterministic_outputs() {
    let run = || {
        let mut s = lms(true);
        s.partition(&[&[1, 2, 3, 4]]);
        s.partition(&[&[1, 2], &[3, 4]]);
        s.advance(WINDOW * 2);
        format!("{:?}", s.reports)
    };
    assert_eq!(run(), run());
}
