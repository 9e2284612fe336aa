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
