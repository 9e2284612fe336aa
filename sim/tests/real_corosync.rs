//! Real mode: three `hasim node corosync` processes on loopback addresses
//! form a ring over real UDP; killing one leaves a quorate two-node ring;
//! restarting it brings it back.
#![cfg(not(madsim))]

mod common;

use common::process::{loopback_conf, port_offset, start_corosync, wait_for, Daemon};
use std::time::{Duration, Instant};

fn start(conf: &std::path::Path, nodeid: u32, offset: u16) -> Daemon {
    start_corosync(conf, nodeid, offset, &[])
}

#[test]
fn three_real_processes_form_lose_and_regain_a_ring() {
    let dir = std::env::temp_dir().join(format!("hasim-real-corosync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("corosync.conf");
    std::fs::write(&conf, loopback_conf("realtest")).unwrap();
    let offset = port_offset();
    let n1 = start(&conf, 1, offset);
    let _n2 = start(&conf, 2, offset);
    let n3 = start(&conf, 3, offset);
    let regular3 = ["\"configuration\":\"regular\"", "\"members\":[1,2,3]"];
    assert!(
        wait_for(&n1, &regular3, Duration::from_secs(20)).is_some(),
        "no 3-member ring"
    );
    assert!(
        wait_for(
            &n1,
            &[
                "\"kind\":\"quorum\"",
                "\"quorate\":true",
                "\"members\":[1,2,3]"
            ],
            Duration::from_secs(10)
        )
        .is_some(),
        "3-member ring not quorate"
    );
    drop(n3);
    let killed = Instant::now();
    assert!(
        wait_for(
            &n1,
            &["\"configuration\":\"regular\"", "\"members\":[1,2]"],
            Duration::from_secs(20)
        )
        .is_some(),
        "no 2-member ring after node 3 died"
    );
    let detection = killed.elapsed();
    assert!(
        wait_for(
            &n1,
            &[
                "\"kind\":\"quorum\"",
                "\"quorate\":true",
                "\"members\":[1,2]"
            ],
            Duration::from_secs(10)
        )
        .is_some(),
        "2-member ring not quorate"
    );
    // token 1000 on three nodes: 1650 ms token + 1980 ms consensus, plus slack.
    assert!(
        detection < Duration::from_secs(10),
        "detection took {detection:?}"
    );
    let _n3 = start(&conf, 3, offset);
    assert!(
        wait_for(&n1, &regular3, Duration::from_secs(20)).is_some(),
        "node 3 did not rejoin"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 13: `--load-interval 0s` busy-looped; a corosync.conf without a
/// nodelist ran alone. Both are refused before anything starts.
#[test]
fn zero_load_interval_and_missing_nodelist_are_refused() {
    let hasim = || std::process::Command::new(env!("CARGO_BIN_EXE_hasim"));
    let conf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/corosync/real-loopback.conf"
    );
    for bad in ["0s", "1ns"] {
        let out = hasim()
            .args([
                "node",
                "corosync",
                "--conf",
                conf,
                "--nodeid",
                "1",
                "--load-interval",
                bad,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("expected a duration from 100us to 1h"),
            "{err}"
        );
    }
    let dir = std::env::temp_dir().join(format!("hasim-real-nonodes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.conf");
    std::fs::write(&empty, "totem {\n version: 2\n}\n").unwrap();
    let out = hasim()
        .args(["node", "corosync", "--nodeid", "1", "--conf"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected a nodelist"), "{err}");
}
