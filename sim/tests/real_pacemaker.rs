//! Pacemaker in real mode: three `hasim node corosync --cib` processes on
//! loopback addresses run corosync and Pacemaker's daemons (the same cores
//! as the simulator) over real UDP. They elect a DC and start two Dummy
//! resources, each recorded as a state file in its node's disk directory;
//! killing the process that holds one (SIGKILL: corosync notices the lost
//! node, stonith is off) gets it started on another node.
#![cfg(not(madsim))]

mod common;

use common::pcmk_view::{watch, View};
use common::process::{loopback_conf, port_offset, start_corosync, Daemon};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The shipped real-mode CIB (crm syntax): d1 and d2, Dummy, stonith off,
/// dc-deadtime 2 s; corosync's token is 1 s ([`loopback_conf`]).
const CIB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/pacemaker/real-dummies.crm"
);

const RESOURCES: [&str; 2] = ["d1", "d2"];

fn start(conf: &Path, cib: &Path, disk: &Path, nodeid: u32, offset: u16) -> Daemon {
    let (cib, disk) = (cib.display().to_string(), disk.display().to_string());
    start_corosync(conf, nodeid, offset, &["--cib", &cib, "--disk", &disk])
}

fn disk_of(dir: &Path, node: &str) -> PathBuf {
    dir.join(node)
}

fn state_file(dir: &Path, node: &str, rsc: &str) -> PathBuf {
    disk_of(dir, node).join("run").join(format!("{rsc}.state"))
}

#[test]
fn three_real_nodes_elect_a_dc_start_resources_and_recover_a_killed_node() {
    let began = Instant::now();
    let dir = std::env::temp_dir().join(format!("hasim-real-pacemaker-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("corosync.conf");
    std::fs::write(&conf, loopback_conf("realpcmk")).unwrap();
    let cib = Path::new(CIB);
    let offset = port_offset().wrapping_add(13);
    let names = ["node1", "node2", "node3"];
    let mut daemons: BTreeMap<&str, Daemon> = names
        .iter()
        .zip(1..)
        .map(|(name, id)| (*name, start(&conf, cib, &disk_of(&dir, name), id, offset)))
        .collect();
    let mut view = View::default();

    // A DC all three follow, and every resource on exactly one node.
    let all: Vec<&Daemon> = daemons.values().collect();
    let settled =
        |v: &View| v.agreed_dc(&names).is_some() && RESOURCES.iter().all(|r| v.holder(r).is_some());
    assert!(
        watch(&all, &mut view, Duration::from_secs(25), settled),
        "no DC and started resources after 25 s: dc {:?}, active {:?}, {} lines",
        view.dc,
        view.active,
        view.lines
    );
    let dc = view.agreed_dc(&names).unwrap();
    let victim = view.holder("d1").unwrap().to_string();
    for rsc in RESOURCES {
        let on = view.holder(rsc).unwrap();
        assert!(
            state_file(&dir, on, rsc).exists(),
            "{rsc} runs on {on} but its state file is missing"
        );
    }
    let first_start = began.elapsed();
    // The CIB's dc-deadtime (2 s), not the default 20 s, timed the first
    // election: the controller read its options from the CIB on disk.
    assert!(
        first_start < Duration::from_secs(15),
        "resources took {first_start:?} to start"
    );

    // Kill the process holding d1: the survivors must start it elsewhere.
    drop(daemons.remove(victim.as_str()));
    let killed = Instant::now();
    let survivors: Vec<&str> = names.iter().copied().filter(|n| **n != victim).collect();
    let alive: Vec<&Daemon> = daemons.values().collect();
    // Every resource on exactly one survivor (the dead node's last word
    // stays in the view and is ignored), under a DC both survivors follow.
    let on_survivors = |v: &View, rsc: &str| -> Vec<String> {
        v.on(rsc, &survivors).into_iter().map(|(n, _)| n).collect()
    };
    let recovered = |v: &View| {
        v.agreed_dc(&survivors).is_some() && RESOURCES.iter().all(|r| on_survivors(v, r).len() == 1)
    };
    assert!(
        watch(&alive, &mut view, Duration::from_secs(25), recovered),
        "resources not running on the survivors within 25 s of killing {victim}: dc {:?}, active {:?}",
        view.dc,
        view.active
    );
    let recovery = killed.elapsed();
    let new_dc = view.agreed_dc(&survivors).unwrap();
    for rsc in RESOURCES {
        let on = &on_survivors(&view, rsc)[0];
        assert!(
            state_file(&dir, on, rsc).exists(),
            "{rsc} runs on {on} but its state file is missing"
        );
    }
    let new_holder = on_survivors(&view, "d1").remove(0);
    eprintln!(
        "DC {dc}; resources started {first_start:?} after launch; killed {victim} (d1); \
         DC {new_dc}, d1 on {new_holder} {recovery:?} later"
    );

    // The killed node starts again from its disk (the CIB it kept; its
    // run/ emptied, as a reboot empties /run) and rejoins under one DC.
    assert!(disk_of(&dir, &victim).join("cib.xml").exists());
    view.dc.remove(victim.as_str());
    for on in view.active.values_mut() {
        on.retain(|(n, _)| *n != victim);
    }
    let id = names.iter().position(|n| *n == victim).unwrap() as u32 + 1;
    let again = start(&conf, cib, &disk_of(&dir, &victim), id, offset);
    let stale = state_file(&dir, &victim, "d1");
    let booted = Instant::now();
    while stale.exists() && booted.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!stale.exists(), "the restarted node kept its old run/");
    daemons.insert(names[id as usize - 1], again);
    let all: Vec<&Daemon> = daemons.values().collect();
    assert!(
        watch(&all, &mut view, Duration::from_secs(25), settled),
        "{victim} did not rejoin within 25 s: dc {:?}, active {:?}",
        view.dc,
        view.active
    );
    eprintln!(
        "{victim} rejoined under DC {}; {:?} in all",
        view.agreed_dc(&names).unwrap(),
        began.elapsed()
    );
    drop(all);
    drop(daemons);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bad CIB is refused with its file and line before anything starts or
/// touches the disk; `--cib` needs `--disk`.
#[test]
fn a_bad_cib_is_refused_before_anything_starts() {
    let dir = std::env::temp_dir().join(format!("hasim-real-badcib-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.crm");
    std::fs::write(&bad, "property stonith-enabled=false\nbogus d1\n").unwrap();
    let conf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/corosync/real-loopback.conf"
    );
    let disk = dir.join("disk");
    let hasim = || std::process::Command::new(env!("CARGO_BIN_EXE_hasim"));
    let out = hasim()
        .args(["node", "corosync", "--nodeid", "1", "--conf", conf, "--cib"])
        .arg(&bad)
        .arg("--disk")
        .arg(&disk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.crm:2: expected primitive"), "{err}");
    assert!(!disk.exists(), "the disk was touched");
    let out = hasim()
        .args(["node", "corosync", "--nodeid", "1", "--conf", conf, "--cib"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--disk"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
