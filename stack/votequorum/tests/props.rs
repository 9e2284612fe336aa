//! Properties: a single quorate partition, and robust message decoding.

mod common;

use common::Sim;
use hasim_votequorum::Message;
use proptest::prelude::*;

/// Group index per node; index `n` means the node is down.
fn run_partition(n: u32, rounds: &[Vec<u32>]) -> Result<(), TestCaseError> {
    let mut s = Sim::uniform(n, |_| {});
    let all: Vec<u32> = (1..=n).collect();
    s.partition(&[&all]);
    prop_assert!(s.quorate(1));
    for assign in rounds {
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); n as usize];
        for (i, g) in assign.iter().enumerate() {
            if (*g as usize) < groups.len() {
                groups[*g as usize].push(i as u32 + 1);
            }
        }
        groups.retain(|g| !g.is_empty());
        let refs: Vec<&[u32]> = groups.iter().map(Vec::as_slice).collect();
        s.partition(&refs);
        let quorate_groups = groups
            .iter()
            .filter(|g| g.iter().any(|id| s.quorate(*id)))
            .count();
        prop_assert!(
            quorate_groups <= 1,
            "groups {:?} quorate {}",
            groups,
            quorate_groups
        );
        for g in &groups {
            let q: Vec<bool> = g.iter().map(|id| s.quorate(*id)).collect();
            prop_assert!(
                q.iter().all(|x| *x == q[0]),
                "members of {:?} disagree: {:?}",
                g,
                q
            );
            let votes = g.len() as u32;
            prop_assert_eq!(q[0], votes > n / 2, "group {:?} of {} nodes", g, n);
        }
    }
    Ok(())
}

fn scenario() -> impl Strategy<Value = (u32, Vec<Vec<u32>>)> {
    (3u32..=7).prop_flat_map(|n| {
        let round = proptest::collection::vec(0..=n, n as usize);
        (Just(n), proptest::collection::vec(round, 1..4))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn single_quorate_partition((n, rounds) in scenario()) {
        run_partition(n, &rounds)?;
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(m) = Message::decode(&bytes) {
            prop_assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn nodeinfo_roundtrip(nodeid: u32, votes: u32, expected_votes: u32, flags: u32) {
        let m = Message::NodeInfo { nodeid, votes, expected_votes, flags };
        prop_assert_eq!(Message::decode(&m.encode()), Ok(m));
    }
}

fn any_input() -> impl Strategy<Value = hasim_votequorum::Input> {
    use hasim_votequorum::{Input, ReconfigParam, RingId, Timer};
    let id = prop_oneof![Just(0u32), 1u32..6, Just(u32::MAX)];
    let big = prop_oneof![0u32..8, Just(u32::MAX), any::<u32>()];
    prop_oneof![
        (proptest::collection::vec(id.clone(), 0..6), any::<u64>()).prop_map(|(members, seq)| {
            Input::Membership {
                members,
                ring_id: RingId { rep: 1, seq },
            }
        }),
        (
            id.clone(),
            id.clone(),
            big.clone(),
            big.clone(),
            any::<u32>()
        )
            .prop_map(
                |(from, nodeid, votes, expected_votes, flags)| Input::Message {
                    from,
                    msg: Message::NodeInfo {
                        nodeid,
                        votes,
                        expected_votes,
                        flags
                    },
                }
            ),
        (id.clone(), id.clone(), big.clone(), 0u8..3).prop_map(|(from, nodeid, value, p)| {
            let param = [
                ReconfigParam::ExpectedVotes,
                ReconfigParam::NodeVotes,
                ReconfigParam::CancelWaitForAll,
            ][p as usize];
            Input::Message {
                from,
                msg: Message::Reconfigure {
                    nodeid,
                    value,
                    param,
                },
            }
        }),
        Just(Input::TimerExpired(Timer::LastManStanding)),
        big.clone().prop_map(Input::SetExpectedVotes),
        (id, big).prop_map(|(nodeid, votes)| Input::SetVotes { nodeid, votes }),
        Just(Input::CancelWaitForAll),
        Just(Input::Shutdown),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Arbitrary (even hostile) input sequences never panic, and replaying them gives
    /// identical actions.
    #[test]
    fn random_inputs_never_panic(
        flags in 0u8..32,
        inputs in proptest::collection::vec(any_input(), 0..40),
    ) {
        use hasim_votequorum::{Config, Input, TieBreaker, Votequorum};
        use std::time::Duration;
        let mut c = Config::simple(1, 1, 3);
        c.two_node = flags & 1 != 0;
        c.wait_for_all = flags & 2 != 0;
        c.last_man_standing = flags & 4 != 0;
        c.auto_tie_breaker = (flags & 8 != 0).then_some(TieBreaker::Lowest);
        c.allow_downscale = flags & 16 != 0;
        c.ev_tracking = c.allow_downscale;
        let run = || {
            let mut vq = Votequorum::new(1);
            let mut all = vq.handle(Duration::ZERO, Input::Configure(c.clone()));
            for (i, input) in inputs.iter().enumerate() {
                all.extend(vq.handle(Duration::from_millis(i as u64 * 100), input.clone()));
            }
            let _ = vq.status();
            all
        };
        prop_assert_eq!(run(), run());
    }
}
