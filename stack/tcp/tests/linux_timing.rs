//! Compares the model's keepalive and retransmission timeouts with Linux's
//! own TCP. The test makes two network namespaces joined by a veth pair,
//! opens a real connection between them, silences the server with an
//! iptables DROP rule on the client's input, and measures how long the
//! client's kernel takes to fail the connection (ETIMEDOUT). The same
//! settings are then run through the model; the two must agree within 10%.
//!
//! It needs root, `ip` and `iptables`; without them (or in the simulator
//! build, where the suite runs once already in real mode) it prints why and
//! passes without measuring. Set `HASIM_REQUIRE_NETNS=1` to make a missing
//! prerequisite a failure instead.

use std::time::Duration;

use hasim_tcp::loopback::Net;
use hasim_tcp::{CloseReason, Event, HostConfig, HostInput, SocketOptions, TcpSysctls, Timeout};

/// What one case measures.
#[derive(Clone, Copy, Debug)]
enum Case {
    /// Idle connection with keepalive (idle, interval, count).
    Keepalive(u64, u64, u32),
    /// Unacknowledged data with this `tcp_retries2`.
    Retries2(u32),
}

/// The model's detection time for a case: from the last segment received
/// (keepalive) or from the write (retransmission) to the connection's death.
fn model_detection(case: Case) -> Duration {
    // The mean over a few positions of the jiffies counter, which Linux's
    // timer wheel rounds against.
    let phases = [0u64, 1_100, 2_300, 3_700];
    let total: Duration = phases
        .iter()
        .map(|&p| model_at(case, Duration::from_micros(p)))
        .sum();
    total / phases.len() as u32
}

/// This kernel's `CONFIG_HZ`, 250 if it cannot be read.
fn kernel_hz() -> u32 {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    std::fs::read_to_string(format!("/boot/config-{}", release.trim()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("CONFIG_HZ=").and_then(|v| v.parse().ok()))
        .unwrap_or(250)
}

fn model_at(case: Case, phase: Duration) -> Duration {
    let mut sysctls = TcpSysctls {
        kernel_hz: Some(kernel_hz()),
        jiffies_phase: phase,
        ..TcpSysctls::default()
    };
    let mut opts = SocketOptions::default();
    match case {
        Case::Keepalive(idle, intvl, cnt) => {
            opts.keepalive = true;
            opts.keepidle = Some(Duration::from_secs(idle));
            opts.keepintvl = Some(Duration::from_secs(intvl));
            opts.keepcnt = Some(cnt);
        }
        Case::Retries2(r) => sysctls.retries2 = r,
    }
    let cfg = HostConfig {
        sysctls,
        ..HostConfig::default()
    };
    let mut net = Net::new(Duration::from_micros(30));
    let a = net.add_host(cfg.clone(), [10, 0, 0, 1].into());
    let b = net.add_host(cfg, [10, 0, 0, 2].into());
    let server = std::net::SocketAddrV4::new([10, 0, 0, 2].into(), 7000);
    net.listen(b, server, SocketOptions::default())
        .expect("listen");
    let id = net
        .connect(a, [10, 0, 0, 1].into(), server, &opts)
        .expect("connect");
    net.run_until(Duration::from_millis(10));
    net.input(a, HostInput::Send(id, b"ping".to_vec()));
    net.run_until(Duration::from_millis(20));
    let last_rcv = net.now();
    net.silence(b, true);
    let start = match case {
        Case::Keepalive(..) => last_rcv,
        Case::Retries2(_) => {
            net.input(a, HostInput::Send(id, b"x".to_vec()));
            net.now()
        }
    };
    net.run_while(Duration::from_secs(20_000), |n| {
        !n.conn_events(a, id)
            .iter()
            .any(|(_, e)| matches!(e, Event::Closed(_)))
    });
    let (at, ev) = net.conn_events(a, id).pop().expect("an event");
    let want = match case {
        Case::Keepalive(..) => Timeout::Keepalive,
        Case::Retries2(_) => Timeout::Retransmission,
    };
    assert_eq!(ev, Event::Closed(CloseReason::TimedOut(want)));
    at - start
}

#[cfg(all(not(madsim), target_os = "linux"))]
mod real {
    use super::Case;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::process::Command;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// Two namespaces and a veth pair, removed on drop.
    pub struct Lab {
        pub client_ns: String,
        pub server_ns: String,
        pub client_ip: String,
        pub server_ip: String,
    }

    fn run(args: &[&str]) -> Result<(), String> {
        let out = Command::new(args[0])
            .args(&args[1..])
            .output()
            .map_err(|e| format!("{}: {e}", args.join(" ")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    impl Lab {
        pub fn new(tag: usize) -> Result<Lab, String> {
            let pid = std::process::id();
            let lab = Lab {
                client_ns: format!("hasim-tcp-c{tag}-{pid}"),
                server_ns: format!("hasim-tcp-s{tag}-{pid}"),
                client_ip: format!("10.231.{tag}.1"),
                server_ip: format!("10.231.{tag}.2"),
            };
            run(&["ip", "netns", "add", &lab.client_ns])?;
            run(&["ip", "netns", "add", &lab.server_ns])?;
            let (vc, vs) = (format!("hvc{tag}x{pid}"), format!("hvs{tag}x{pid}"));
            let (vc, vs) = (&vc[..vc.len().min(15)], &vs[..vs.len().min(15)]);
            run(&["ip", "link", "add", vc, "type", "veth", "peer", "name", vs])?;
            run(&["ip", "link", "set", vc, "netns", &lab.client_ns])?;
            run(&["ip", "link", "set", vs, "netns", &lab.server_ns])?;
            for (ns, dev, ip) in [
                (&lab.client_ns, vc, &lab.client_ip),
                (&lab.server_ns, vs, &lab.server_ip),
            ] {
                run(&[
                    "ip",
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{ip}/24"),
                    "dev",
                    dev,
                ])?;
                run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
                run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            }
            Ok(lab)
        }

        pub fn sysctl(&self, key: &str, value: &str) -> Result<(), String> {
            run(&[
                "ip",
                "netns",
                "exec",
                &self.client_ns,
                "sysctl",
                "-qw",
                &format!("{key}={value}"),
            ])
        }

        /// Drops everything the server sends, at the client's input.
        pub fn silence_server(&self) -> Result<(), String> {
            run(&[
                "ip",
                "netns",
                "exec",
                &self.client_ns,
                "iptables",
                "-A",
                "INPUT",
                "-s",
                &self.server_ip,
                "-j",
                "DROP",
            ])
        }
    }

    impl Drop for Lab {
        fn drop(&mut self) {
            let _ = run(&["ip", "netns", "del", &self.client_ns]);
            let _ = run(&["ip", "netns", "del", &self.server_ns]);
        }
    }

    /// Moves the calling thread into namespace `ns`.
    fn enter(ns: &str) -> Result<(), String> {
        let f = std::fs::File::open(format!("/var/run/netns/{ns}"))
            .map_err(|e| format!("{ns}: {e}"))?;
        // SAFETY: setns on a valid namespace fd affects only this thread's
        // network namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(format!("setns {ns}: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    fn set_int(fd: i32, level: i32, opt: i32, value: i32) -> Result<(), String> {
        // SAFETY: a valid socket fd and a pointer to a live i32 of the
        // declared size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                level,
                opt,
                (&value as *const i32).cast(),
                std::mem::size_of::<i32>() as u32,
            )
        };
        if rc != 0 {
            return Err(format!(
                "setsockopt {opt}: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// Runs one case; returns the measured detection time.
    pub fn measure(tag: usize, case: Case) -> Result<Duration, String> {
        let lab = Lab::new(tag)?;
        if let Case::Retries2(r) = case {
            lab.sysctl("net.ipv4.tcp_retries2", &r.to_string())?;
        }
        let (ready_tx, ready_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let (server_ns, server_ip) = (lab.server_ns.clone(), lab.server_ip.clone());
        let server = std::thread::spawn(move || -> Result<(), String> {
            enter(&server_ns)?;
            let l = TcpListener::bind((server_ip.as_str(), 7000)).map_err(|e| e.to_string())?;
            let _ = ready_tx.send(());
            let (mut s, _) = l.accept().map_err(|e| e.to_string())?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).map_err(|e| e.to_string())?;
            s.write_all(b"pong").map_err(|e| e.to_string())?;
            let _ = done_rx.recv_timeout(Duration::from_secs(60));
            Ok(())
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| "server did not start".to_string())?;
        enter(&lab.client_ns)?;
        let mut s =
            TcpStream::connect((lab.server_ip.as_str(), 7000)).map_err(|e| e.to_string())?;
        if let Case::Keepalive(idle, intvl, cnt) = case {
            let fd = s.as_raw_fd();
            set_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
            set_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle as i32)?;
            set_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, intvl as i32)?;
            set_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, cnt as i32)?;
        }
        s.write_all(b"ping").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).map_err(|e| e.to_string())?;
        let last_rcv = Instant::now();
        lab.silence_server()?;
        let start = match case {
            Case::Keepalive(..) => last_rcv,
            Case::Retries2(_) => {
                let t = Instant::now();
                s.write_all(b"x").map_err(|e| e.to_string())?;
                t
            }
        };
        let err = s.read(&mut buf);
        let took = start.elapsed();
        let _ = done_tx.send(());
        let _ = server.join();
        match err {
            Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => Ok(took),
            other => Err(format!("expected ETIMEDOUT, read gave {other:?}")),
        }
    }

    /// Why the lab cannot run here, if it cannot.
    pub fn unavailable() -> Option<String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Some("not root".into());
        }
        for tool in ["ip", "iptables"] {
            if Command::new(tool).arg("-V").output().is_err()
                && Command::new(tool).arg("--version").output().is_err()
            {
                return Some(format!("`{tool}` is not installed"));
            }
        }
        let probe = format!("hasim-tcp-probe-{}", std::process::id());
        if let Err(e) = run(&["ip", "netns", "add", &probe]) {
            return Some(format!("cannot create a network namespace ({e})"));
        }
        let _ = run(&["ip", "netns", "del", &probe]);
        None
    }
}

#[test]
fn model_matches_linux_within_ten_percent() {
    let cases = [
        Case::Keepalive(5, 1, 3),
        Case::Retries2(5),
        Case::Retries2(3),
    ];
    for case in cases {
        println!(
            "model {case:?}: {:.3} s",
            model_detection(case).as_secs_f64()
        );
    }
    #[cfg(all(not(madsim), target_os = "linux"))]
    {
        if let Some(why) = real::unavailable() {
            assert!(
                std::env::var_os("HASIM_REQUIRE_NETNS").is_none(),
                "real TCP lab required: {why}"
            );
            println!("skipping the real-Linux comparison: {why}");
            return;
        }
        let handles: Vec<_> = cases
            .into_iter()
            .enumerate()
            .map(|(tag, case)| std::thread::spawn(move || (case, real::measure(tag + 1, case))))
            .collect();
        let mut failures = Vec::new();
        for h in handles {
            let (case, measured) = h.join().expect("measurement thread");
            let measured = measured.unwrap_or_else(|e| panic!("{case:?}: {e}"));
            let model = model_detection(case);
            let ratio = model.as_secs_f64() / measured.as_secs_f64();
            println!(
                "linux {case:?}: {:.3} s, model {:.3} s, model/linux {ratio:.3}",
                measured.as_secs_f64(),
                model.as_secs_f64()
            );
            if !(0.9..=1.1).contains(&ratio) {
                failures.push(format!("{case:?}: model {model:?} vs Linux {measured:?}"));
            }
        }
        assert!(failures.is_empty(), "{failures:?}");
    }
    #[cfg(madsim)]
    println!("skipping the real-Linux comparison: simulator build (runs under `cargo real-test`)");
}
