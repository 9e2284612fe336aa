//! Real mode: two `hasim node vrrp` processes on loopback addresses talk
//! VRRP over real UDP; killing the master makes the backup take over.
#![cfg(not(madsim))]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(name: &str, address: &str, peer: &str, priority: u8, offset: u16) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args([
            "node",
            "vrrp",
            "--name",
            name,
            "--address",
            address,
            "--peer",
            peer,
        ])
        .args([
            "--priority",
            &priority.to_string(),
            "--port-offset",
            &offset.to_string(),
        ])
        .args([
            "--advert-int",
            "200ms",
            "--vip",
            "10.99.0.100",
            "--vrid",
            "7",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start hasim node");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Node { child, lines }
}

/// Wait until the node prints a line containing all of `needles`.
fn wait_for(node: &Node, needles: &[&str], limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match node.lines.recv_timeout(left) {
            Ok(line) if needles.iter().all(|n| line.contains(n)) => return Some(line),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn backup_takes_over_when_master_process_dies() {
    // A port range unlikely to collide with another test run on this machine.
    let offset = 20000 + (std::process::id() % 20000) as u16;
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
