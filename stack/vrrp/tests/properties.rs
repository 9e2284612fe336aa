//! Property tests: hostile input never panics and is always accounted for;
//! groups of instances elect as keepalived would.

mod common;

use common::Exchange;
use hasim_vrrp::packet::{vrrp_checksum, Ipv4Datagram};
use hasim_vrrp::{Advert, Config, State, Vrrp, VRRP_GROUP};
use proptest::prelude::*;
use std::net::Ipv4Addr;
use std::time::Duration;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const VRID: u8 = 7;

fn node_ip(i: usize, salt: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, salt, 1 + i as u8)
}

/// An instance in BACKUP or MASTER.
fn running(master: bool) -> Vrrp {
    let mut v = Vrrp::new(Config::new(VRID, Ipv4Addr::new(10, 0, 0, 1), vec![VIP])).expect("valid");
    v.start(Duration::ZERO);
    if master {
        let t = v.next_timeout().expect("timer");
        v.handle_timeout(t);
    }
    v
}

fn accounted(v: &Vrrp) -> bool {
    let s = v.stats();
    s.packets_received == s.dropped_total() + s.adverts_accepted
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random bytes never panic and each packet is either accepted or
    /// counted as dropped.
    #[test]
    fn random_bytes_are_dropped_and_counted(
        packets in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..20),
        master in any::<bool>(),
        vrid_hit in any::<bool>(),
    ) {
        let mut v = running(master);
        let mut now = Duration::from_secs(1);
        for mut p in packets {
            if vrid_hit && p.len() > 1 {
                p[1] = VRID; // get past the VRID lookup more often
            }
            now += Duration::from_millis(10);
            let _ = v.handle_packet(now, Ipv4Addr::new(10, 0, 0, 9), &p);
            let _ = v.handle_ipv4_datagram(now, &p);
            prop_assert!(accounted(&v));
        }
        prop_assert!(v.stats().dropped_total() > 0);
    }

    /// Mutations of a valid advert (bit flips, truncation, extension) never
    /// panic, are counted, and are never accepted while their checksum is
    /// wrong. Flips that cancel out in the one's-complement sum (the same
    /// bit at two even offsets, one set and one cleared) leave a valid
    /// advert, which a real receiver accepts too (reserved bits are ignored
    /// on receipt, RFC 5798 5.2.3).
    #[test]
    fn corrupted_adverts_are_refused(
        flips in prop::collection::vec((0usize..64, 0u8..8), 0..4),
        cut in 0usize..4,
        extra in prop::collection::vec(any::<u8>(), 0..3),
        master in any::<bool>(),
    ) {
        let src = Ipv4Addr::new(10, 0, 0, 9);
        let good = Advert::new(VRID, 200, 100, vec![VIP]).encode(src, VRRP_GROUP);
        let mut p = good.clone();
        for (i, bit) in flips {
            let i = i % p.len();
            p[i] ^= 1 << bit;
        }
        p.truncate(p.len() - cut.min(p.len()));
        p.extend_from_slice(&extra);
        let mut v = running(master);
        let _ = v.handle_packet(Duration::from_secs(1), src, &p);
        prop_assert!(accounted(&v));
        let corrupt = p != good && vrrp_checksum(src, VRRP_GROUP, &p) != 0;
        if corrupt {
            prop_assert_eq!(v.stats().adverts_accepted, 0);
        }
        // Same through the IPv4 path.
        let mut v = running(master);
        let d = Ipv4Datagram::encode(src, VRRP_GROUP, 1, &p);
        let _ = v.handle_ipv4_datagram(Duration::from_secs(1), &d);
        prop_assert!(accounted(&v));
        if corrupt {
            prop_assert_eq!(v.stats().adverts_accepted, 0);
        }
    }
}

/// A group to elect: priorities, start times (ms), advert interval (cs).
fn group() -> impl Strategy<Value = (Vec<(u8, u64)>, u16, u8)> {
    (
        prop::collection::vec((1u8..=255, 0u64..5_000), 2..=4),
        prop::sample::select(vec![10u16, 50, 100, 100, 100, 200, 300]),
        any::<u8>(),
    )
}

fn configs(members: &[(u8, u64)], cs: u16, salt: u8) -> Vec<(Config, Duration)> {
    members
        .iter()
        .enumerate()
        .map(|(i, &(prio, start_ms))| {
            let mut c = Config::new(VRID, node_ip(i, salt), vec![VIP]);
            c.priority = prio;
            c.advert_int = Duration::from_millis(u64::from(cs) * 10);
            (c, Duration::from_millis(start_ms))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Full connectivity, no loss: after convergence exactly one MASTER, of
    /// the highest configured priority; a unique top priority always wins.
    /// Among equal top priorities keepalived does NOT promote the higher
    /// address over a running master (a backup accepts an equal-priority
    /// advert); the address decides only between simultaneous masters,
    /// which the next property checks.
    #[test]
    fn connected_group_elects_one_master_of_top_priority(
        (members, cs, salt) in group(),
        latency_ms in prop::sample::select(vec![0u64, 1, 20]),
    ) {
        let cfgs = configs(&members, cs, salt);
        let adv = Duration::from_millis(u64::from(cs) * 10);
        let mut x = Exchange::new(cfgs, true, Duration::from_millis(latency_ms));
        let settle = Duration::from_secs(5) + adv * 40;
        x.run_until(settle);
        let quiet_from = x.now;
        x.run_until(settle + adv * 20);
        let masters = x.masters();
        prop_assert_eq!(masters.len(), 1, "masters: {:?}", masters);
        // The winner has the top priority (so a unique top always wins).
        let top = members.iter().map(|m| m.0).max().unwrap_or(0);
        let winner = masters[0];
        prop_assert_eq!(members[winner].0, top);
        for (i, n) in x.nodes.iter().enumerate() {
            if i != winner {
                prop_assert_eq!(n.vrrp.state(), State::Backup);
            }
        }
        // Converged: nobody changed state in the last 20 advert intervals.
        prop_assert!(x.last_transition().is_some_and(|t| t <= quiet_from));
    }

    /// Equal top priorities started together (with some latency so their
    /// simultaneous timeouts all fire): the highest address wins.
    #[test]
    fn simultaneous_equal_masters_resolve_to_highest_address(
        n in 2usize..=4,
        prio in 1u8..=255,
        cs in prop::sample::select(vec![10u16, 100, 200]),
        salt in any::<u8>(),
        start_ms in 0u64..1000,
    ) {
        let members: Vec<(u8, u64)> = (0..n).map(|_| (prio, start_ms)).collect();
        let cfgs = configs(&members, cs, salt);
        let adv = Duration::from_millis(u64::from(cs) * 10);
        let mut x = Exchange::new(cfgs, true, Duration::from_millis(1));
        x.run_until(Duration::from_secs(5) + adv * 40);
        let masters = x.masters();
        prop_assert_eq!(masters.len(), 1, "masters: {:?}", masters);
        let highest = (0..n)
            .max_by_key(|&i| x.nodes[i].vrrp.config().primary_ip)
            .unwrap_or(0);
        prop_assert_eq!(masters[0], highest);
    }

    /// No connectivity: every instance becomes MASTER exactly one
    /// Master_Down_Interval (its own priority and interval) after it
    /// starts; the owner 1 µs after.
    #[test]
    fn disconnected_instances_all_become_master_on_time(
        members in prop::collection::vec((1u8..=255, 0u64..5_000, prop::sample::select(vec![10u16, 100, 150, 4095])), 2..=4),
        salt in any::<u8>(),
    ) {
        let cfgs: Vec<(Config, Duration)> = members
            .iter()
            .enumerate()
            .map(|(i, &(prio, start_ms, cs))| {
                let mut c = Config::new(VRID, node_ip(i, salt), vec![VIP]);
                c.priority = prio;
                c.advert_int = Duration::from_millis(u64::from(cs) * 10);
                (c, Duration::from_millis(start_ms))
            })
            .collect();
        let expected: Vec<Duration> = cfgs
            .iter()
            .map(|(c, start)| {
                if c.priority == 255 {
                    *start + Duration::from_micros(1)
                } else {
                    *start + c.master_down_interval(c.advert_int)
                }
            })
            .collect();
        let mut x = Exchange::new(cfgs, false, Duration::ZERO);
        x.run_until(Duration::from_secs(200));
        prop_assert_eq!(x.delivered, 0);
        for (i, want) in expected.iter().enumerate() {
            prop_assert_eq!(x.nodes[i].vrrp.state(), State::Master);
            prop_assert_eq!(x.entered(i, State::Master), vec![*want]);
        }
    }
}

/// The split-brain scenario by hand: two nodes, partition, both MASTER,
/// heal, the higher priority keeps the address.
#[test]
fn partition_then_heal() {
    let members = [(100u8, 0u64), (90, 0)];
    let mut x = Exchange::new(configs(&members, 100, 0), true, Duration::from_millis(1));
    x.run_until(Duration::from_secs(10));
    assert_eq!(x.masters(), vec![0]);
    x.connected = false;
    x.run_until(Duration::from_secs(20));
    assert_eq!(x.masters(), vec![0, 1], "split brain");
    x.connected = true;
    x.run_until(Duration::from_secs(30));
    assert_eq!(x.masters(), vec![0]);
    // Node 0 went MASTER at 3.609375 s and advertises every second; node 1
    // heard the last advert before the cut at 9.609375 + 0.001 s and went
    // MASTER one Master_Down_Interval (3.648437 s) later.
    let m = x.entered(1, State::Master);
    assert_eq!(m, vec![Duration::from_micros(9_610_375 + 3_648_437)]);
    assert_eq!(x.entered(1, State::Backup).len(), 2);
}

#[derive(Debug, Clone)]
enum Op {
    Start,
    Packet(Vec<u8>, bool),
    Valid(u8, u16, bool),
    Timeout,
    Shutdown,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Start),
        3 => (prop::collection::vec(any::<u8>(), 0..40), any::<bool>()).prop_map(|(b, ip)| Op::Packet(b, ip)),
        4 => (any::<u8>(), 0u16..0x1000, any::<bool>()).prop_map(|(p, cs, hi)| Op::Valid(p, cs, hi)),
        4 => Just(Op::Timeout),
        1 => Just(Op::Shutdown),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any sequence of operations at non-decreasing times, including valid
    /// adverts with any priority and interval (0 included), never panics,
    /// keeps every packet accounted for and keeps the VIPs set exactly in
    /// MASTER.
    #[test]
    fn random_operation_sequences_keep_invariants(
        ops in prop::collection::vec((op(), 0u64..3_000_000), 1..60),
        prio in 1u8..=255,
    ) {
        let me = Ipv4Addr::new(10, 0, 0, 5);
        let mut c = Config::new(VRID, me, vec![VIP]);
        c.priority = prio;
        let mut v = Vrrp::new(c).expect("valid");
        let mut now = Duration::ZERO;
        for (op, dt) in ops {
            now += Duration::from_micros(dt);
            match op {
                Op::Start => { v.start(now); }
                Op::Packet(b, ip) => {
                    if ip { v.handle_ipv4_datagram(now, &b); } else { v.handle_packet(now, me, &b); }
                }
                Op::Valid(p, cs, higher) => {
                    let src = if higher { Ipv4Addr::new(10, 0, 0, 9) } else { Ipv4Addr::new(10, 0, 0, 2) };
                    let pkt = Advert::new(VRID, p, cs, vec![VIP]).encode(src, VRRP_GROUP);
                    v.handle_packet(now, src, &pkt);
                }
                Op::Timeout => {
                    // A driver fires everything due by `now`.
                    while let Some(t) = v.next_timeout().filter(|&t| t <= now) {
                        v.handle_timeout(t);
                    }
                }
                Op::Shutdown => { v.shutdown(now); }
            }
            prop_assert!(accounted(&v));
            prop_assert_eq!(v.vips_set(), v.state() == State::Master);
            if matches!(v.state(), State::Backup | State::Master) {
                prop_assert!(v.next_timeout().is_some());
            }
        }
    }
}

#[test]
fn huge_clock_values_do_not_panic() {
    let mut v = running(false);
    let end = Duration::MAX;
    let a = v.handle_timeout(end);
    assert_eq!(v.state(), State::Master);
    assert!(
        a.len() < 20,
        "saturated timers must not spin: {} actions",
        a.len()
    );
    let _ = v.handle_packet(
        end,
        Ipv4Addr::new(10, 0, 0, 9),
        &Advert::new(VRID, 200, 100, vec![VIP]).encode(Ipv4Addr::new(10, 0, 0, 9), VRRP_GROUP),
    );
    let _ = v.shutdown(end);
    assert_eq!(v.state(), State::Stop);
}

/// `nopreempt`: a higher-priority node that starts after a lower one became
/// MASTER stays BACKUP; without it, it takes over.
#[test]
fn nopreempt_keeps_the_running_master() {
    for (preempt, expected) in [(false, 0usize), (true, 1)] {
        let mut cfgs = configs(&[(100, 0), (200, 10_000)], 100, 3);
        cfgs[1].0.preempt = preempt;
        let mut x = Exchange::new(cfgs, true, Duration::from_millis(1));
        x.run_until(Duration::from_secs(40));
        assert_eq!(x.masters(), vec![expected], "preempt = {preempt}");
    }
}

/// `preempt_delay`: the higher node waits `preempt_delay` from the first
/// lower-priority advert it hears, then one more down interval.
#[test]
fn preempt_delay_postpones_takeover_in_a_group() {
    let mut cfgs = configs(&[(100, 0), (200, 10_000)], 100, 4);
    cfgs[1].0.preempt_delay = Duration::from_secs(15);
    let mut x = Exchange::new(cfgs, true, Duration::from_millis(1));
    x.run_until(Duration::from_secs(60));
    assert_eq!(x.masters(), vec![1]);
    let took_over = x.entered(1, State::Master);
    assert_eq!(took_over.len(), 1);
    // Node 0 is MASTER from 3.609375 s, adverts at that phase each second,
    // received 1 ms later. Node 1 starts at 10 s and hears the first at
    // 10.610375 s: preempt_time = 25.610375 s. Adverts are accepted while
    // preempt_time is strictly later than now, so the last one accepted is
    // received at 24.610375 s and node 1 goes MASTER 3 s + 56/256 s
    // (218750 µs) after it.
    assert_eq!(took_over[0], Duration::from_micros(24_610_375 + 3_218_750));
}
