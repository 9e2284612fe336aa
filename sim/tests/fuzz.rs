//! Hostile input never panics or hangs: scenario TOML, corosync.conf, CIB
//! XML, crm shell syntax, Totem and VRRP wire packets.
//!
//! Each target runs `HASIM_FUZZ_CASES` inputs (default 300, a deterministic
//! slice for every test run) from a fixed seed; set `HASIM_FUZZ_SEED` to
//! explore others. The full campaign (about two minutes per target in
//! release mode; see reports/hostile-input-checks.md for measured figures) is
//! `HASIM_FUZZ_CASES=1000000 cargo test --release -p hasim --test fuzz -- --nocapture --test-threads 1`.
//! A panic fails the test with the (shrunk) input; an input that takes more
//! than [`HANG`] to process counts as a hang and fails it too. Each target
//! prints how many inputs ran, how many of them the reader accepted (so a
//! target whose inputs never get past the first check shows as such) and
//! the slowest one.

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

/// Run `check` on `cases()` inputs drawn from `strategy`; `check` says
/// whether the input was accepted.
fn fuzz<S: Strategy>(target: &str, strategy: S, check: impl Fn(S::Value) -> bool) {
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
    let accepted = Cell::new(0u64);
    let started = Instant::now();
    let result = runner.run(&strategy, |input| {
        let t = Instant::now();
        accepted.set(accepted.get() + u64::from(check(input)));
        let took = t.elapsed();
        ran.set(ran.get() + 1);
        slowest.set(slowest.get().max(took));
        prop_assert!(took < HANG, "one input took {took:?}");
        Ok(())
    });
    eprintln!(
        "fuzz {target}: {} inputs ({} accepted) in {:.1} s, 0 panics, 0 hangs, slowest input {:?}",
        ran.get(),
        accepted.get(),
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
        std::str::from_utf8(&bytes)
            .is_ok_and(|text| hasim::scenario::Scenario::parse(text, &path).is_ok())
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
        hasim_corosync_conf::parse_bytes("fuzz.conf", &bytes).is_ok()
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
    // What `hasim schedule` does with the file: parse, schedule, print.
    fuzz("CIB XML", strategy, |bytes| {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return false;
        };
        let Ok(cib) = hasim_cib::Cib::from_xml(text) else {
            return false;
        };
        let _ = hasim_cib::Cib::from_xml(&cib.to_xml());
        hasim_scheduler::simulate::simulate(text).is_ok()
    });
}

// ---- crm shell syntax ----

#[test]
fn crm_syntax() {
    let seeds = read_all("scenarios/pacemaker", "crm");
    assert!(seeds.len() >= 5);
    let word = prop_oneof![
        Just("primitive "),
        Just("clone "),
        Just("ms "),
        Just("group "),
        Just("colocation "),
        Just("order "),
        Just("location "),
        Just("property "),
        Just("rsc_defaults "),
        Just("op_defaults "),
        Just("node "),
        Just("params "),
        Just("meta "),
        Just("op monitor "),
        Just("ocf:heartbeat:Dummy "),
        Just("stonith:fence_ipmilan "),
        Just("inf: "),
        Just("-inf: "),
        Just("INFINITYX: "),
        Just("Mandatory: "),
        Just("interval=0s "),
        Just("a=\"b "),
        Just("\\\n"),
        Just("\n"),
        Just("# c\n"),
        Just("( "),
        Just(") "),
        Just("[ "),
        Just("] "),
        Just("r1 "),
        Just("r2 "),
    ];
    let strategy = prop_oneof![
        (prop::sample::select(seeds.clone()), edits()).prop_map(|(t, e)| mutate(t.as_bytes(), &e)),
        proptest::collection::vec(word, 0..60).prop_map(|w| w.concat().into_bytes()),
        (
            prop::sample::select(seeds),
            proptest::collection::vec("[ -~\n\\\\]{0,40}", 1..4),
            any::<prop::sample::Index>()
        )
            .prop_map(|(t, parts, at)| {
                let mut bytes = t.into_bytes();
                let i = at.index(bytes.len() + 1);
                bytes.splice(i..i, parts.concat().into_bytes());
                bytes
            }),
    ];
    fuzz("crm syntax", strategy, |bytes| {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return false;
        };
        let first = hasim_crmsh::parse(text);
        // Parsing is deterministic.
        assert_eq!(first, hasim_crmsh::parse(text), "second parse differs");
        first.is_ok()
    });
}

// ---- Totem packets ----

/// Well-formed Totem packets of every kind, so mutations start from bytes
/// the decoder accepts rather than only from noise.
fn totem_packet() -> impl Strategy<Value = hasim_totem::wire::Packet> {
    use hasim_totem::wire::*;
    let ring = (any::<u32>(), any::<u64>()).prop_map(|(rep, seq)| RingId { rep, seq });
    let ids = || proptest::collection::vec(any::<u32>(), 0..6);
    let guarantee = prop_oneof![Just(Guarantee::Agreed), Just(Guarantee::Safe)];
    let payload = proptest::collection::vec(any::<u8>(), 0..64);
    let mcast = (ring.clone(), any::<u32>(), any::<u32>(), guarantee, payload).prop_map(
        |(ring_id, seq, system_from, guarantee, p)| Mcast {
            ring_id,
            seq,
            system_from,
            guarantee,
            body: McastBody::Payload(p),
        },
    );
    let rtr = proptest::collection::vec(
        (ring.clone(), any::<u32>()).prop_map(|(ring_id, seq)| RtrItem { ring_id, seq }),
        0..4,
    );
    let token = (ring.clone(), any::<[u32; 6]>(), any::<bool>(), rtr).prop_map(
        |(ring_id, [token_seq, seq, aru, aru_addr, fcc, backlog], retrans_flg, rtr)| {
            Message::OrfToken(OrfToken {
                ring_id,
                token_seq,
                seq,
                aru,
                aru_addr,
                retrans_flg,
                fcc,
                backlog,
                rtr,
            })
        },
    );
    let entry = (ring.clone(), any::<u32>(), any::<u32>(), any::<bool>()).prop_map(
        |(ring_id, aru, high_delivered, received_flg)| MembEntry {
            ring_id,
            aru,
            high_delivered,
            received_flg,
        },
    );
    let commit = (
        ring.clone(),
        any::<u32>(),
        any::<u32>(),
        ids(),
        proptest::collection::vec(entry, 0..6),
    )
        .prop_map(|(ring_id, token_seq, memb_index, addrs, entries)| {
            Message::CommitToken(CommitToken {
                ring_id,
                token_seq,
                memb_index,
                addrs,
                entries,
            })
        });
    let message = prop_oneof![
        token,
        mcast.clone().prop_map(Message::Mcast),
        (mcast.clone(), ring.clone(), any::<u32>()).prop_map(|(inner, ring_id, seq)| {
            Message::Mcast(Mcast {
                ring_id,
                seq,
                system_from: inner.system_from,
                guarantee: inner.guarantee,
                body: McastBody::Encapsulated(Box::new(inner)),
            })
        }),
        (any::<u32>(), any::<u64>(), ids(), ids()).prop_map(|(system_from, ring_seq, p, f)| {
            Message::Join(Join {
                system_from,
                ring_seq,
                proc_list: p,
                failed_list: f,
            })
        }),
        commit,
        (any::<u32>(), ring.clone()).prop_map(|(system_from, ring_id)| {
            Message::MergeDetect(MergeDetect {
                system_from,
                ring_id,
            })
        }),
        ring.prop_map(|ring_id| Message::TokenHoldCancel { ring_id }),
    ];
    (any::<u32>(), message).prop_map(|(sender, msg)| Packet { sender, msg })
}

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
        totem_packet().prop_map(|p| p.encode()),
        (totem_packet(), edits()).prop_map(|(p, e)| mutate(&p.encode(), &e)),
    ];
    fuzz("Totem packets", strategy, |bytes| {
        let Ok(packet) = Packet::decode(&bytes) else {
            return false;
        };
        // Whatever decodes re-encodes to bytes that decode to the same packet.
        let again = Packet::decode(&packet.encode());
        assert_eq!(again.as_ref(), Ok(&packet), "re-decode differs");
        true
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
        let mut decoded = false;
        for (bytes, gap_us) in packets {
            now += Duration::from_micros(gap_us);
            if vrrp.next_timeout().is_some_and(|t| t <= now) {
                let _ = vrrp.handle_timeout(now);
            }
            decoded |= Advert::decode(&bytes, peer, hasim_vrrp::VRRP_GROUP).is_ok();
            let _ = vrrp.handle_packet(now, peer, &bytes);
        }
        let _ = vrrp.shutdown(now);
        decoded
    });
}
