//! Real-mode daemons as child processes, and reading their JSON-line events.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A `hasim node ...` child process; killed when dropped.
pub struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Send SIGTERM, as `systemctl stop` does.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The process id (what a power device's pidfile holds).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (reaping it if so).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// The next stdout line, waiting up to `limit`.
    pub fn next_line(&self, limit: Duration) -> Option<String> {
        self.lines.recv_timeout(limit).ok()
    }

    /// Wait up to `limit` for the process to exit; its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Start `hasim` with `args`, collecting its stdout lines.
pub fn spawn<I, S>(args: I) -> Daemon
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hasim");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Daemon { child, lines }
}

/// Wait until the daemon prints a line containing all of `needles`.
pub fn wait_for(daemon: &Daemon, needles: &[&str], limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match daemon.lines.recv_timeout(left) {
            Ok(line) if needles.iter().all(|n| line.contains(n)) => return Some(line),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// A port offset unlikely to collide with another test run on this machine.
pub fn port_offset() -> u16 {
    20000 + (std::process::id() % 20000) as u16
}

/// Like [`wait_for`], keeping every line read (matching or not) in `kept`.
pub fn wait_keeping(
    daemon: &Daemon,
    needles: &[&str],
    limit: Duration,
    kept: &mut Vec<(Instant, String)>,
) -> Option<String> {
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = daemon.lines.recv_timeout(left) else {
            return None;
        };
        kept.push((Instant::now(), line.clone()));
        if !needles.is_empty() && needles.iter().all(|n| line.contains(n)) {
            return Some(line);
        }
    }
    None
}

/// A three-node corosync.conf on 127.0.0.1–3 (udpu, token 1000) for the
/// real-mode tests, named `cluster`.
pub fn loopback_conf(cluster: &str) -> String {
    let nodes: String = (1..=3)
        .map(|id| format!("\tnode {{\n\t\tring0_addr: 127.0.0.{id}\n\t\tnodeid: {id}\n\t}}\n"))
        .collect();
    format!(
        "totem {{\n\tversion: 2\n\tcluster_name: {cluster}\n\ttransport: udpu\n\ttoken: 1000\n}}\n\
         nodelist {{\n{nodes}}}\nquorum {{\n\tprovider: corosync_votequorum\n}}\n"
    )
}

/// `hasim node corosync` for `nodeid` of `conf`, with `extra` arguments.
pub fn start_corosync(conf: &std::path::Path, nodeid: u32, offset: u16, extra: &[&str]) -> Daemon {
    let (conf, nodeid, offset) = (
        conf.display().to_string(),
        nodeid.to_string(),
        offset.to_string(),
    );
    let mut args = vec!["node", "corosync", "--nodeid", &nodeid, "--conf", &conf];
    args.extend(["--port-offset", &offset]);
    args.extend_from_slice(extra);
    spawn(args)
}
