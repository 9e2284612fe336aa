//! Random and mutated input never panics, and whatever parses re-parses identically.

use hasim_corosync_conf::{parse, parse_bytes};
use proptest::prelude::*;

const SEED: &str = include_str!("../../../scenarios/corosync/last-man-standing.conf");
const FUEL: &str = include_str!("../../../scenarios/corosync/fuel-multicast.conf");

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("totem {\n".to_string()),
        Just("}\n".to_string()),
        Just("interface {\n".to_string()),
        Just("nodelist {\n node {\n".to_string()),
        Just("quorum {\n".to_string()),
        Just("logging {\n logger_subsys {\n".to_string()),
        Just("# comment\n".to_string()),
        "[a-z_]{0,12}: [ -~]{0,12}\n",
        "[ \t{}:#a-z0-9\r]{0,20}\n",
        "token: [0-9+-]{0,12}\n",
        "two_node: [0-9a-z]{0,4}\n",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_bytes("fuzz", &bytes);
    }

    #[test]
    fn structured_fragments_never_panic(parts in proptest::collection::vec(fragment(), 0..30)) {
        let text: String = parts.concat();
        let _ = parse("fuzz", &text);
    }

    #[test]
    fn mutated_examples_never_panic(
        which in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut bytes = if which { SEED } else { FUEL }.as_bytes().to_vec();
        for (idx, byte, op) in edits {
            if bytes.is_empty() { break; }
            let i = idx.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        if let Ok(p) = parse_bytes("fuzz", &bytes) {
            // Parsing is deterministic.
            let again = parse_bytes("fuzz", &bytes).expect("same input parses again");
            prop_assert_eq!(p, again);
        }
    }
}
