//! Hostile input never panics or hangs: scenario TOML, corosync.conf, CIB
//! XML, Totem and VRRP wire packets.
//!
//! Each target runs `HASIM_FUZZ_CASES` inputs (default 300, a deterministic
//! slice for every test run) from a fixed seed; set `HASIM_FUZZ_SEED` to
//! explore others. The full campaign is
//! `HASIM_FUZZ_CASES=1000000 cargo test -p hasim --test fuzz -- --nocapture`.
//! A panic fails the test with the (shrunk) input; an input that takes more
//! than [`HANG`] to process counts as a hang and fails it too. Each target
//! prints how many inputs ran and the slowest one.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::Cell;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One input taking longer than this is a hang.
const HANG: Duration = Duration::from_secs(2);

fn cases() -> u32 {
    std::env::var("HASIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn seed() -> u64 {
    std::env::var("HASIM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6861_7369_6d21)
}

/// Run `check` on `cases()` inputs drawn from `strategy`.
fn fuzz<S: Strategy>(target: &str, strategy: S, check: impl Fn(S::Value)) {
    let cases = cases();
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed().to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let slowest = Cell::new(Duration::ZERO);
    let ran = Cell::new(0u64);
    let started = Instant::now();
    let result = runner.run(&strategy, |input| {
        let t = Instant::now();
        check(input);
        let took = t.elapsed();
        ran.set(ran.get() + 1);
        slowest.set(slowest.get().max(took));
        prop_assert!(took < HANG, "one input took {took:?}");
        Ok(())
    });
    eprintln!(
        "fuzz {target}: {} inputs in {:.1} s, 0 panics, 0 hangs, slowest input {:?}",
        ran.get(),
        started.elapsed().as_secs_f64(),
        slowest.get()
    );
    if let Err(e) = result {
        panic!("fuzz {target}: {e}");
    }
}

/// Apply byte edits (replace, delete, insert) to `seed`.
fn mutate(seed: &[u8], edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for (idx, byte, op) in edits {
        if bytes.is_empty() {
            bytes.push(*byte);
            continue;
        }
        let i = idx.index(bytes.len());
        match op % 3 {
            0 => bytes[i] = *byte,
            1 => {
                bytes.remove(i);
            }
            _ => bytes.insert(i, *byte),
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
    proptest::collection::vec(
        (any::<prop::sample::Index>(), any::<u8>(), any::<u8>()),
        1..8,
    )
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn read_all(dir: &str, ext: &str) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo(dir))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == ext));
    files.sort();
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

// ---- scenario TOML ----

/// Values a careless or hostile user puts in a scenario.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"0s\"".to_string()),
        Just("\"1ns\"".to_string()),
        Just("\"1us\"".to_string()),
        Just("\"18446744073709551615s\"".to_string()),
        Just("\"1000000h\"".to_string()),
        Just("nan".to_string()),
        Just("-1".to_string()),
        Just("1e308".to_string()),
        Just("0".to_string()),
        Just("\"\\u001b[2J\"".to_string()),
        Just("{ min = \"0s\", max = \"0s\" }".to_string()),
        Just("[]".to_string()),
        "\"[0-9]{1,20}(ns|us|ms|s|m|h|d)\"",
        "-?[0-9]{1,25}",
    ]
}

const SCENARIO_KEYS: &[&str] = &[
    "duration",
    "at",
    "jitter",
    "interval",
    "timeout",
    "advert_int",
    "preempt_delay",
    "load_interval",
    "start",
    "stop",
    "gap",
    "length",
    "latency",
    "loss",
    "vrid",
    "priority",
    "min_answered",
    "max_outage",
    "boot_delay",
    "arp_ttl",
    "name",
];

/// Replace the value of one `key = ...` line of `text` with `value`.
fn set_key(text: &str, key: &str, value: &str) -> String {
    let prefix = format!("{key} = ");
    let mut out = String::with_capacity(text.len());
    let mut done = false;
    for line in text.lines() {
        if !done && line.trim_start().starts_with(&prefix) {
            out += &format!("{prefix}{value}\n");
            done = true;
        } else {
            out += line;
            out.push('\n');
        }
    }
    out
}

#[test]
fn scenario_toml() {
    let seeds = read_all("scenarios", "toml");
    assert!(seeds.len() >= 10);
    // Parsed as if it sat beside the shipped scenarios, so `[corosync] conf`
    // references resolve.
    let path = repo("scenarios/fuzz.toml").display().to_string();
    let structured = (
        prop::sample::select(seeds.clone()),
        proptest::collection::vec((prop::sample::select(SCENARIO_KEYS), hostile_value()), 1..4),
    )
        .prop_map(|(text, changes)| {
            changes
                .iter()
                .fold(text, |t, (k, v)| set_key(&t, k, v))
                .into_bytes()
        });
    let mutated =
        (prop::sample::select(seeds), edits()).prop_map(|(text, e)| mutate(text.as_bytes(), &e));
    let strategy = prop_oneof![structured, mutated];
    fuzz("scenario TOML", strategy, |bytes| {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = hasim::scenario::Scenario::parse(text, &path);
        }
    });
}

// ---- corosync.conf ----

#[test]
fn corosync_conf() {
    let seeds = read_all("scenarios/corosync", "conf");
    assert!(seeds.len() >= 5);
    let fragment = prop_oneof![
        Just("nodelist {\n node {\n".to_string()),
        Just("}\n".to_string()),
        Just("totem {\n".to_string()),
        Just("quorum {\n".to_string()),
        "nodeid: [0-9-]{0,12}\n",
        "ring[0-9]_addr: [0-9.:a-f]{0,20}\n",
        "[a-z_]{0,16}: [ -~]{0,16}\n",
        "[ \t{}:#a-z0-9\r]{0,20}\n",
    ];
    let strategy = prop_oneof![
        (prop::sample::select(seeds), edits()).prop_map(|(t, e)| mutate(t.as_bytes(), &e)),
        proptest::collection::vec(fragment, 0..40).prop_map(|p| p.concat().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..400),
    ];
    fuzz("corosync.conf", strategy, |bytes| {
        let _ = hasim_corosync_conf::parse_bytes("fuzz.conf", &bytes);
    });
}

// ---- CIB XML ----

#[test]
fn cib_xml() {
    let mut seeds: Vec<String> = ["simple1.xml", "simple2.xml", "1360.xml"]
        .iter()
        .filter_map(|n| {
            std::fs::read_to_string(repo(&format!("../shared/scheduler-corpus/xml/{n}"))).ok()
        })
        .collect();
    seeds.push(
        "<cib><configuration><resources/><constraints/></configuration><status/></cib>".into(),
    );
    let tag = prop_oneof![
        Just("<primitive id=\"r\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\">"),
        Just("</primitive>"),
        Just("<group id=\"g\">"),
        Just("</group>"),
        Just("<rsc_location id=\"l\" rsc=\"r\" node=\"n\" score=\"INFINITY\"/>"),
        Just("<rsc_order id=\"o\" first=\"a\" then=\"b\"/>"),
        Just("<!ENTITY x \"&x;&x;\">"),
        Just("&x;"),
        Just("<![CDATA[ ]]>"),
        Just("<?xml version=\"1.0\"?>"),
        Just("\"'<>&"),
    ];
    let strategy = prop_oneof![
        (prop::sample::select(seeds.clone()), edits()).prop_map(|(t, e)| mutate(t.as_bytes(), &e)),
        (
            prop::sample::select(seeds),
            proptest::collection::vec(tag, 0..30),
            any::<prop::sample::Index>()
        )
            .prop_map(|(t, tags, at)| {
                let mut bytes = t.into_bytes();
                let i = at.index(bytes.len() + 1);
                bytes.splice(i..i, tags.concat().into_bytes());
                bytes
            }),
    ];
    fuzz("CIB XML", strategy, |bytes| {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(cib) = hasim_cib::Cib::from_xml(text) {
                let _ = hasim_cib::Cib::from_xml(&cib.to_xml());
            }
        }
    });
}

// ---- Totem packets ----

#[test]
fn totem_packets() {
    use hasim_totem::wire::{Packet, MAGIC, VERSION};
    let header = (0u8..12, any::<u32>()).prop_map(|(kind, sender)| {
        let mut h = MAGIC.to_be_bytes().to_vec();
        h.push(VERSION);
        h.push(kind);
        h.extend_from_slice(&sender.to_be_bytes());
        h
    });
    let strategy = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        (header, proptest::collection::vec(any::<u8>(), 0..400)).prop_map(|(mut h, tail)| {
            h.extend(tail);
            h
        }),
    ];
    fuzz("Totem packets", strategy, |bytes| {
        if let Ok(packet) = Packet::decode(&bytes) {
            // Whatever decodes re-encodes and decodes to the same packet.
            let again = Packet::decode(&packet.encode());
            assert!(again.is_ok(), "re-decode failed: {again:?}");
        }
    });
}

// ---- VRRP packets, through a running instance ----

#[test]
fn vrrp_packets() {
    use hasim_vrrp::{Advert, Config, Vrrp};
    let me = Ipv4Addr::new(10, 0, 0, 1);
    let peer = Ipv4Addr::new(10, 0, 0, 2);
    let vip = Ipv4Addr::new(10, 0, 0, 100);
    let valid = (any::<u8>(), any::<u8>(), any::<u16>(), 0usize..4).prop_map(
        move |(vrid, priority, adv, n)| {
            Advert::new(vrid % 3 + 50, priority, adv, vec![vip; n])
                .encode(peer, hasim_vrrp::VRRP_GROUP)
        },
    );
    let packet = prop_oneof![
        valid.clone(),
        (valid, edits()).prop_map(|(p, e)| mutate(&p, &e)),
        proptest::collection::vec(any::<u8>(), 0..64),
    ];
    let strategy = proptest::collection::vec((packet, 0u64..3_000_000), 1..20);
    fuzz("VRRP packets", strategy, |packets| {
        let Ok(mut vrrp) = Vrrp::new(Config::new(51, me, vec![vip])) else {
            panic!("valid config refused");
        };
        let mut now = Duration::ZERO;
        let _ = vrrp.start(now);
        for (bytes, gap_us) in packets {
            now += Duration::from_micros(gap_us);
            if vrrp.next_timeout().is_some_and(|t| t <= now) {
                let _ = vrrp.handle_timeout(now);
            }
            let _ = Advert::decode(&bytes, peer, hasim_vrrp::VRRP_GROUP);
            let _ = vrrp.handle_packet(now, peer, &bytes);
        }
        let _ = vrrp.shutdown(now);
    });
}
