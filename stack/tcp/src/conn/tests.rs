//! Connection behaviour through the in-memory link, against Linux's rules.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::*;
use crate::host::{ConnId, HostAction, HostConfig, HostInput};
use crate::loopback::Net;
use crate::segment::Flags;
use crate::sysctl::{SocketOptions, TcpSysctls};
use crate::timing::{backed_off, model_timeout};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const C: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const LATENCY: Duration = Duration::from_micros(30);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn server_addr() -> SocketAddrV4 {
    SocketAddrV4::new(B, 5432)
}

/// Two hosts computing with exact durations (no jiffies, no timer wheel),
/// so that Linux's formulas can be checked to the microsecond.
fn net(sysctls: TcpSysctls) -> Net {
    net_hz(TcpSysctls {
        kernel_hz: None,
        ..sysctls
    })
}

fn net_hz(sysctls: TcpSysctls) -> Net {
    let mut n = Net::new(LATENCY);
    let cfg = HostConfig {
        sysctls,
        ..HostConfig::default()
    };
    n.add_host(
        HostConfig {
            secret: 1,
            ..cfg.clone()
        },
        A,
    );
    n.add_host(HostConfig { secret: 2, ..cfg }, B);
    n
}

/// A connection from host 0 to host 1 that has exchanged one request and
/// reply; returns the client's and server's ids.
fn established(n: &mut Net, opts: &SocketOptions) -> (ConnId, ConnId) {
    n.listen(1, server_addr(), SocketOptions::default())
        .unwrap();
    let c = n.connect(0, A, server_addr(), opts).unwrap();
    n.run_until(n.now() + secs(0.01));
    let s = n.accepted(1)[0];
    n.input(0, HostInput::Send(c, b"ping".to_vec()));
    n.run_until(n.now() + secs(0.01));
    n.input(1, HostInput::Send(s, b"pong".to_vec()));
    n.run_until(n.now() + secs(0.01));
    (c, s)
}

fn closed(n: &Net, i: usize, id: ConnId) -> Option<(Duration, CloseReason)> {
    n.conn_events(i, id).into_iter().find_map(|(t, e)| match e {
        Event::Closed(r) => Some((t, r)),
        _ => None,
    })
}

fn data(n: &Net, i: usize, id: ConnId) -> Vec<u8> {
    n.conn_events(i, id)
        .into_iter()
        .flat_map(|(_, e)| match e {
            Event::Data(d) => d,
            _ => Vec::new(),
        })
        .collect()
}

fn run_to_close(n: &mut Net, i: usize, id: ConnId) -> (Duration, CloseReason) {
    n.run_while(Duration::from_secs(100_000), |n| closed(n, i, id).is_none());
    closed(n, i, id).expect("the connection closes")
}

/// Linux's rule restated: the timer fires after each backed-off RTO; from
/// the second expiry on, the connection dies at the first expiry at which
/// the time since the first retransmission has reached `limit`.
fn linux_retransmission_death(rto: Duration, limit: Duration, max: Duration) -> Duration {
    let mut at = Duration::ZERO;
    let mut first_retransmission = None;
    for backoff in 0.. {
        at += backed_off(rto, backoff, max);
        if let Some(first) = first_retransmission {
            if at - first >= limit {
                return at;
            }
        }
        first_retransmission.get_or_insert(at);
    }
    unreachable!()
}

#[test]
fn handshake_data_both_ways_and_orderly_close() {
    let mut n = net(TcpSysctls::default());
    let (c, s) = established(&mut n, &SocketOptions::default());
    assert_eq!(data(&n, 1, s), b"ping");
    assert_eq!(data(&n, 0, c), b"pong");
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    n.input(0, HostInput::Send(c, big.clone()));
    n.input(0, HostInput::Close(c));
    n.run_until(n.now() + secs(1.0));
    assert_eq!(&data(&n, 1, s)[4..], &big[..]);
    assert!(n
        .conn_events(1, s)
        .iter()
        .any(|(_, e)| *e == Event::PeerClosed));
    n.input(1, HostInput::Close(s));
    n.run_until(n.now() + secs(1.0));
    assert_eq!(closed(&n, 1, s).map(|x| x.1), Some(CloseReason::Normal));
    assert_eq!(closed(&n, 0, c).map(|x| x.1), Some(CloseReason::Normal));
    // The active closer lingers in TIME-WAIT for 60 s, then forgets.
    assert_eq!(n.hosts[0].state(c), Some(State::TimeWait));
    assert_eq!(n.hosts[1].state(s), None);
    n.run_until(n.now() + secs(60.0));
    assert_eq!(n.hosts[0].state(c), None);
}

#[test]
fn nothing_listening_refuses_the_connection() {
    let mut n = net(TcpSysctls::default());
    let c = n
        .connect(0, A, SocketAddrV4::new(B, 9), &SocketOptions::default())
        .unwrap();
    let (at, why) = run_to_close(&mut n, 0, c);
    assert_eq!(why, CloseReason::Refused);
    assert_eq!(at, LATENCY * 2);
}

#[test]
fn unanswered_syn_fails_after_tcp_syn_retries() {
    for (retries, total) in [(6, 127.0), (2, 7.0)] {
        let mut n = net(TcpSysctls {
            syn_retries: retries,
            ..TcpSysctls::default()
        });
        n.power_off(1);
        let c = n
            .connect(0, A, server_addr(), &SocketOptions::default())
            .unwrap();
        let (at, why) = run_to_close(&mut n, 0, c);
        assert_eq!(
            (at, why),
            (secs(total), CloseReason::TimedOut(Timeout::Syn))
        );
    }
}

#[test]
fn half_open_request_is_forgotten_after_tcp_synack_retries() {
    let mut n = net(TcpSysctls::default());
    n.listen(1, server_addr(), SocketOptions::default())
        .unwrap();
    let _ = n
        .connect(0, A, server_addr(), &SocketOptions::default())
        .unwrap();
    // The client's SYN went out; everything the client sends next is lost.
    n.silence(0, true);
    n.run_until(secs(62.9));
    assert_eq!(n.hosts[1].connections().count(), 1);
    n.run_until(secs(63.1));
    assert_eq!(
        n.hosts[1].connections().count(),
        0,
        "5 SYN-ACK retries: 1+2+4+8+16+32 s"
    );
    assert!(n.accepted(1).is_empty());
}

fn retransmission_case(
    sysctls: TcpSysctls,
    opts: SocketOptions,
) -> (Duration, Duration, CloseReason) {
    let mut n = net_hz(sysctls);
    let (c, _) = established(&mut n, &opts);
    let rto = n.hosts[0].rto(c).unwrap();
    n.silence(1, true);
    let t0 = n.now();
    n.input(0, HostInput::Send(c, b"x".to_vec()));
    let (at, why) = run_to_close(&mut n, 0, c);
    (at - t0, rto, why)
}

#[test]
fn tcp_retries2_is_a_time_from_rto_min_not_a_count() {
    let max = Duration::from_secs(120);
    for retries2 in [3, 5, 8, 15] {
        let s = TcpSysctls {
            retries2,
            kernel_hz: None,
            ..TcpSysctls::default()
        };
        let (took, rto, why) = retransmission_case(s.clone(), SocketOptions::default());
        assert_eq!(why, CloseReason::TimedOut(Timeout::Retransmission));
        // RTT 60 µs on this link: RTO = 200 ms + SRTT.
        assert_eq!(rto, Duration::from_micros(200_060));
        let limit = model_timeout(retries2, s.rto_min, max);
        assert_eq!(
            took,
            linux_retransmission_death(rto, limit, max),
            "retries2 {retries2}"
        );
        assert!(took >= limit);
    }
    // Linux defaults: about 15.5 minutes, not 15 × 200 ms.
    let exact = TcpSysctls {
        kernel_hz: None,
        ..TcpSysctls::default()
    };
    let (took, _, _) = retransmission_case(exact, SocketOptions::default());
    assert!(took > secs(924.6) && took < secs(1046.0), "{took:?}");
}

#[test]
fn jiffies_decide_which_expiry_crosses_the_retries2_line() {
    // At 250 Hz the LAN RTO is 51 jiffies (204 ms), and with the wheel's
    // lateness the five backed-off waits after the first retransmission
    // exceed the 12.6 s that retries2 = 5 allows: the connection dies at the
    // sixth expiry (~13 s, as measured on Linux), where exact 200 ms
    // arithmetic would let it live to the seventh (~25 s).
    for phase_us in [0, 1_300, 2_900] {
        let s = TcpSysctls {
            retries2: 5,
            jiffies_phase: Duration::from_micros(phase_us),
            ..TcpSysctls::default()
        };
        let (took, rto, _) = retransmission_case(s, SocketOptions::default());
        assert_eq!(rto, Duration::from_millis(204));
        assert!(took > secs(12.85) && took < secs(13.4), "{took:?}");
        let s = TcpSysctls {
            retries2: 3,
            jiffies_phase: Duration::from_micros(phase_us),
            ..TcpSysctls::default()
        };
        let (took, _, _) = retransmission_case(s, SocketOptions::default());
        assert!(took > secs(6.32) && took < secs(6.7), "{took:?}");
    }
}

#[test]
fn user_timeout_replaces_retries2_and_is_met_exactly() {
    let opts = SocketOptions {
        user_timeout: Some(secs(10.0)),
        ..SocketOptions::default()
    };
    let exact = TcpSysctls {
        kernel_hz: None,
        ..TcpSysctls::default()
    };
    let (took, rto, why) = retransmission_case(exact, opts);
    assert_eq!(why, CloseReason::TimedOut(Timeout::UserTimeout));
    // Counted from the first retransmission, which is one RTO after the write.
    assert_eq!(took, rto + secs(10.0));
}

fn keepalive_opts(idle: u64, intvl: u64, cnt: u32) -> SocketOptions {
    SocketOptions {
        keepalive: true,
        keepidle: Some(Duration::from_secs(idle)),
        keepintvl: Some(Duration::from_secs(intvl)),
        keepcnt: Some(cnt),
        user_timeout: None,
    }
}

fn last_receive(n: &Net) -> Duration {
    // The pong and its ACK are the last exchange in `established`.
    n.now() - secs(0.01) + LATENCY
}

#[test]
fn keepalive_detects_a_silent_peer_after_idle_plus_probes() {
    for (opts, sysctls, expect) in [
        (keepalive_opts(5, 1, 3), TcpSysctls::default(), 8.0),
        (
            SocketOptions {
                keepalive: true,
                ..SocketOptions::default()
            },
            TcpSysctls::default(),
            7875.0,
        ),
        (
            SocketOptions {
                keepalive: true,
                ..SocketOptions::default()
            },
            TcpSysctls::fuel(),
            54.0,
        ),
    ] {
        let mut n = net(sysctls);
        let (c, _) = established(&mut n, &opts);
        let last = last_receive(&n);
        n.silence(1, true);
        let (at, why) = run_to_close(&mut n, 0, c);
        assert_eq!(why, CloseReason::TimedOut(Timeout::Keepalive));
        assert_eq!(at - last, secs(expect));
    }
}

#[test]
fn keepalive_gives_up_with_an_rst_the_peer_acts_on() {
    let mut n = net(TcpSysctls::default());
    let (c, s) = established(&mut n, &keepalive_opts(5, 1, 3));
    // The peer answers nothing but still hears us: drop its output only.
    n.silence(1, true);
    run_to_close(&mut n, 0, c);
    n.run_until(n.now() + secs(0.01));
    assert_eq!(closed(&n, 1, s).map(|x| x.1), Some(CloseReason::Reset));
}

#[test]
fn answered_keepalives_keep_an_idle_connection_open() {
    let mut n = net(TcpSysctls::default());
    let (c, _) = established(&mut n, &keepalive_opts(5, 1, 3));
    let before = n.datagrams;
    n.run_until(secs(3600.0));
    assert_eq!(n.hosts[0].state(c), Some(State::Established));
    // One probe and one answer every 5 s for an hour.
    assert!(n.datagrams - before >= 2 * 719, "{}", n.datagrams - before);
}

#[test]
fn keepalive_stands_aside_while_data_is_unacknowledged() {
    let opts = keepalive_opts(1, 1, 1);
    let s = TcpSysctls {
        retries2: 8,
        kernel_hz: None,
        ..TcpSysctls::default()
    };
    let (took, _, why) = retransmission_case(s, opts);
    assert_eq!(why, CloseReason::TimedOut(Timeout::Retransmission));
    assert!(took > secs(51.0), "{took:?}");
}

#[test]
fn a_moved_vip_resets_the_client_and_leaves_the_old_holder_half_open() {
    let mut n = net(TcpSysctls::default());
    let cfg = HostConfig {
        secret: 3,
        ..HostConfig::default()
    };
    let lb2 = n.add_host(cfg, C);
    n.move_address(VIP, 1);
    let vip = SocketAddrV4::new(VIP, 3306);
    n.listen(1, vip, SocketOptions::default()).unwrap();
    n.listen(
        lb2,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 3306),
        SocketOptions::default(),
    )
    .unwrap();
    let c = n.connect(0, A, vip, &SocketOptions::default()).unwrap();
    n.run_until(secs(0.01));
    let s = n.accepted(1)[0];
    n.move_address(VIP, lb2);
    // The old holder writes to its client: its source address is gone, so
    // nothing leaves the host and the socket sits retransmitting.
    n.input(1, HostInput::Send(s, b"late reply".to_vec()));
    n.input(0, HostInput::Send(c, b"query".to_vec()));
    n.run_until(secs(1.0));
    assert_eq!(closed(&n, 0, c).map(|x| x.1), Some(CloseReason::Reset));
    assert_eq!(n.hosts[1].state(s), Some(State::Established));
    assert!(n.hosts[1].unroutable() > 0);
    let (_, why) = run_to_close(&mut n, 1, s);
    assert_eq!(why, CloseReason::TimedOut(Timeout::Retransmission));
    // A new connection to the VIP reaches the new holder.
    let c2 = n.connect(0, A, vip, &SocketOptions::default()).unwrap();
    n.run_until(n.now() + secs(0.01));
    assert_eq!(n.conn_events(0, c2)[0].1, Event::Connected);
    assert_eq!(n.accepted(lb2).len(), 1);
}

#[test]
fn lossy_link_still_delivers_every_byte_in_order() {
    for lose_every in [3, 7, 11] {
        let mut n = net(TcpSysctls::default());
        let (c, s) = established(&mut n, &SocketOptions::default());
        n.lose_every = Some(lose_every);
        let up: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let down: Vec<u8> = (0..30_000u32).map(|i| (i * 13 % 256) as u8).collect();
        n.input(0, HostInput::Send(c, up.clone()));
        n.input(1, HostInput::Send(s, down.clone()));
        n.run_until(n.now() + secs(600.0));
        assert_eq!(&data(&n, 1, s)[4..], &up[..], "lose every {lose_every}");
        assert_eq!(&data(&n, 0, c)[4..], &down[..], "lose every {lose_every}");
    }
}

#[test]
fn garbage_datagram_is_reported_not_fatal() {
    let mut n = net(TcpSysctls::default());
    n.input(
        1,
        HostInput::Datagram {
            src: A,
            dst: B,
            bytes: vec![1, 2, 3],
        },
    );
    assert!(matches!(n.events[0].2, HostAction::Malformed { .. }));
}

/// Two bare connections with chosen ISNs, segments passed by hand.
fn bare_pair(iss_a: u32, iss_b: u32) -> (Connection, Connection) {
    let cfg = |l, r| ConnConfig {
        timing: crate::sysctl::Effective::new(&TcpSysctls::default(), &SocketOptions::default()),
        local_port: l,
        remote_port: r,
        mss: 1000,
        rcv_window: 1 << 20,
    };
    let t = Duration::ZERO;
    let (mut a, syn) = Connection::connect(t, cfg(1, 2), iss_a);
    let Action::Send(syn) = &syn[0] else { panic!() };
    let (b, synack) = Connection::accept(t, cfg(2, 1), syn, iss_b);
    let Action::Send(synack) = synack[0].clone() else {
        panic!()
    };
    let ack = a.handle(t, Input::Segment(synack));
    let mut b = b;
    for act in ack {
        if let Action::Send(seg) = act {
            b.handle(t, Input::Segment(seg));
        }
    }
    (a, b)
}

fn sent(actions: Vec<Action>) -> Vec<Segment> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Send(s) => Some(s),
            Action::Event(_) => None,
        })
        .collect()
}

#[test]
fn sequence_numbers_wrap_on_the_wire() {
    let (mut a, mut b) = bare_pair(u32::MAX - 1500, u32::MAX - 10);
    let bytes: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let segs = sent(a.handle(Duration::ZERO, Input::Send(bytes.clone())));
    assert!(segs.len() >= 5);
    let mut got = Vec::new();
    for s in segs {
        for act in b.handle(Duration::ZERO, Input::Segment(s)) {
            if let Action::Event(Event::Data(d)) = act {
                got.extend(d);
            }
        }
    }
    assert_eq!(got, bytes);
}

#[test]
fn out_of_order_segments_are_delivered_in_order_once() {
    let (mut a, mut b) = bare_pair(7, 9);
    let bytes: Vec<u8> = (0..4500u32).map(|i| (i % 199) as u8).collect();
    let mut segs = sent(a.handle(Duration::ZERO, Input::Send(bytes.clone())));
    segs.reverse();
    let dup = segs[1].clone();
    segs.push(dup);
    let mut got = Vec::new();
    let mut acks = 0;
    for s in segs {
        for act in b.handle(Duration::ZERO, Input::Segment(s)) {
            match act {
                Action::Event(Event::Data(d)) => got.extend(d),
                Action::Send(ack) if ack.flags.contains(Flags::ACK) => acks += 1,
                _ => {}
            }
        }
    }
    assert_eq!(got, bytes);
    assert_eq!(acks, 6, "every data segment, duplicate or early, is ACKed");
}
