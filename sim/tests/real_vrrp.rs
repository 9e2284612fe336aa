//! Real mode: two `hasim node vrrp` processes on loopback addresses talk
//! VRRP over real UDP; killing the master makes the backup take over.
#![cfg(not(madsim))]

mod common;

use common::process::{port_offset, spawn, wait_for, Daemon};
use std::time::{Duration, Instant};

fn start(name: &str, address: &str, peer: &str, priority: u8, offset: u16) -> Daemon {
    start_with(name, address, peer, priority, offset, "200ms")
}

fn start_with(
    name: &str,
    address: &str,
    peer: &str,
    priority: u8,
    offset: u16,
    advert_int: &str,
) -> Daemon {
    spawn([
        "node",
        "vrrp",
        "--name",
        name,
        "--address",
        address,
        "--peer",
        peer,
        "--priority",
        &priority.to_string(),
        "--port-offset",
        &offset.to_string(),
        "--advert-int",
        advert_int,
        "--vip",
        "10.99.0.100",
        "--vrid",
        "7",
    ])
}

#[test]
fn backup_takes_over_when_master_process_dies() {
    let offset = port_offset();
    // lb1 first, lb2 once lb1 is MASTER: started together, their
    // master_down_intervals (0.72 s and 0.73 s) differ by less than a loaded
    // machine's process start-up, and lb2 may rightly be MASTER for a moment
    // before lb1 preempts it.
    let master = start("lb1", "127.0.0.1", "127.0.0.2", 100, offset);
    let became_master = wait_for(&master, &["\"to\":\"MASTER\""], Duration::from_secs(10));
    assert!(became_master.is_some(), "lb1 never became MASTER");
    let backup = start("lb2", "127.0.0.2", "127.0.0.1", 90, offset);
    assert!(wait_for(&master, &["vip-up", "10.99.0.100"], Duration::from_secs(2)).is_some());
    // lb2 hears lb1's adverts and stays BACKUP.
    assert!(wait_for(&backup, &["\"to\":\"MASTER\""], Duration::from_secs(2)).is_none());
    drop(master);
    let killed = Instant::now();
    let took_over = wait_for(&backup, &["\"to\":\"MASTER\""], Duration::from_secs(10));
    assert!(took_over.is_some(), "lb2 never took over");
    // master_down_interval at 200 ms and priority 90: 3 x 0.2 + 166/256 x 0.2 s.
    let waited = killed.elapsed();
    assert!(waited < Duration::from_secs(3), "takeover took {waited:?}");
    assert!(wait_for(&backup, &["vip-up", "10.99.0.100"], Duration::from_secs(2)).is_some());
}

/// keepalived on SIGTERM: the MASTER sends a priority-0 advert, so the
/// backup takes over after its skew time ((256 - 90) / 256 x 0.5 s = 0.32 s)
/// instead of master_down_interval (3 x 0.5 s + 0.32 s after the last advert).
#[test]
fn sigterm_sends_a_goodbye_and_the_backup_takes_over_at_once() {
    let offset = port_offset().wrapping_add(7);
    let mut master = start_with("lb1", "127.0.0.1", "127.0.0.2", 100, offset, "500ms");
    let became_master = wait_for(&master, &["\"to\":\"MASTER\""], Duration::from_secs(10));
    assert!(became_master.is_some(), "lb1 never became MASTER");
    let backup = start_with("lb2", "127.0.0.2", "127.0.0.1", 90, offset, "500ms");
    // Timestamps let a reader time the takeover from the output alone.
    let line = became_master.unwrap_or_default();
    assert!(line.starts_with("{\"time\":\"20"), "{line}");
    assert!(wait_for(&backup, &["\"to\":\"MASTER\""], Duration::from_secs(2)).is_none());
    master.terminate();
    let stopped = Instant::now();
    let took_over = wait_for(&backup, &["\"to\":\"MASTER\""], Duration::from_secs(10));
    assert!(took_over.is_some(), "lb2 never took over");
    let waited = stopped.elapsed();
    assert!(
        waited < Duration::from_millis(1200),
        "takeover took {waited:?}: no priority-0 advert?"
    );
    assert!(wait_for(
        &master,
        &["vip-down", "10.99.0.100"],
        Duration::from_secs(2)
    )
    .is_some());
    assert_eq!(master.wait_exit(Duration::from_secs(5)), Some(0));
}
