//! `tcp-keepalive-defaults` against `tcp-keepalive-short` at the model
//! level: an idle client connection with SO_KEEPALIVE whose server's node
//! loses power. With Linux's defaults the client's kernel notices after
//! 2 h 11 min; with Fuel's 30 s / 3 s / 8 after 54 s of silence. Judged by
//! `connections-recover` with the one-minute requirement Fuel set.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use hasim_data::checkers::{connections_recover, recovery_bound, RecoveryBound};
use hasim_data::history::{ConnLife, History};
use hasim_tcp::loopback::Net;
use hasim_tcp::{CloseReason, Event, HostConfig, SocketOptions, TcpSysctls, Timeout};

const POWER_OFF: Duration = Duration::from_secs(20);

/// Runs the scenario; returns the history and when the client's kernel
/// closed the connection.
fn run(sysctls: TcpSysctls, end: Duration) -> (History, Option<Duration>) {
    let mut net = Net::new(Duration::from_micros(200));
    let client = net.add_host(
        HostConfig {
            sysctls: sysctls.clone(),
            secret: 1,
            ..HostConfig::default()
        },
        [10, 0, 0, 1].into(),
    );
    let server = net.add_host(
        HostConfig {
            secret: 2,
            ..HostConfig::default()
        },
        [10, 0, 0, 2].into(),
    );
    let addr = SocketAddrV4::new([10, 0, 0, 2].into(), 5672);
    net.listen(server, addr, SocketOptions::default()).unwrap();
    let opts = SocketOptions {
        keepalive: true,
        ..SocketOptions::default()
    };
    let id = net
        .connect(client, Ipv4Addr::new(10, 0, 0, 1), addr, &opts)
        .unwrap();
    net.run_until(POWER_OFF);
    net.power_off(server);
    net.run_while(end, |n| {
        !n.conn_events(client, id)
            .iter()
            .any(|(_, e)| matches!(e, Event::Closed(_)))
    });
    net.run_until(end);
    let closed = net
        .conn_events(client, id)
        .into_iter()
        .find_map(|(t, e)| match e {
            Event::Closed(r) => Some((t, r)),
            _ => None,
        });
    let life = ConnLife {
        client: "c1".into(),
        opened: Duration::ZERO,
        closed,
        server_lost: Some(POWER_OFF),
    };
    // The client reconnects a second after noticing (to a VIP that moved).
    let mut conns = vec![life];
    if let Some((t, _)) = closed {
        conns.push(ConnLife {
            client: "c1".into(),
            opened: t + Duration::from_secs(1),
            closed: None,
            server_lost: None,
        });
    }
    (
        History {
            conns,
            end,
            ..History::default()
        },
        closed.map(|c| c.0),
    )
}

fn fuel_requirement() -> Option<RecoveryBound> {
    Some(RecoveryBound {
        detect: Duration::from_secs(60),
        reconnect: Duration::from_secs(5),
    })
}

#[test]
fn short_keepalives_detect_a_dead_server_within_a_minute() {
    let (h, closed) = run(TcpSysctls::fuel(), Duration::from_secs(600));
    // Last segment received at connection set-up (t ≈ 0): 30 + 8 × 3 s,
    // rounded onto the 250 Hz timer wheel.
    let closed = closed.expect("detected");
    assert!(
        closed >= Duration::from_secs(54) && closed < Duration::from_secs(56),
        "{closed:?}"
    );
    assert_eq!(
        h.conns[0].closed.map(|c| c.1),
        Some(CloseReason::TimedOut(Timeout::Keepalive))
    );
    assert!(connections_recover(&h, fuel_requirement()).held());
    // The settings' own bound agrees.
    let own = recovery_bound(
        &TcpSysctls::fuel(),
        &SocketOptions {
            keepalive: true,
            ..SocketOptions::default()
        },
        Duration::from_secs(5),
    );
    assert!(connections_recover(&h, own).held());
}

#[test]
fn linux_defaults_leave_the_connection_hung_for_hours() {
    let end = Duration::from_secs(3 * 3600);
    let (h, closed) = run(TcpSysctls::default(), end);
    let closed = closed.expect("detected eventually");
    assert!(
        closed >= Duration::from_secs(7875) && closed < Duration::from_secs(7900),
        "{closed:?}"
    );
    let v = connections_recover(&h, fuel_requirement());
    assert_eq!(v.violations.len(), 1);
    assert!(
        v.violations[0].detail.contains("hung 78"),
        "{:?}",
        v.violations
    );
    assert_eq!(
        hasim_data::summary::per_client(&h)["c1"].hung[0].as_secs(),
        (closed - POWER_OFF).as_secs()
    );
    assert_eq!(
        h.conns[0].closed.map(|c| c.1),
        Some(CloseReason::TimedOut(Timeout::Keepalive))
    );
}
