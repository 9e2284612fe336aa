//! Real mode: two `hasim node vrrp` processes on loopback addresses talk
//! VRRP over real UDP; killing the master makes the backup take over.
#![cfg(not(madsim))]

mod common;

use common::process::{port_offset, spawn, wait_for, Daemon};
use std::time::{Duration, Instant};

fn start(name: &str, address: &str, peer: &str, priority: u8, offset: u16) -> Daemon {
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
        "200ms",
        "--vip",
        "10.99.0.100",
        "--vrid",
        "7",
    ])
}

#[test]
fn backup_takes_over_when_master_process_dies() {
    let offset = port_offset();
    let master = start("lb1", "127.0.0.1", "127.0.0.2", 100, offset);
    let backup = start("lb2", "127.0.0.2", "127.0.0.1", 90, offset);
    let became_master = wait_for(&master, &["\"to\":\"MASTER\""], Duration::from_secs(10));
    assert!(became_master.is_some(), "lb1 never became MASTER");
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
