//! One test per keepalived rule, driving a single instance by hand.

use hasim_vrrp::packet::Ipv4Datagram;
use hasim_vrrp::{
    Action, Advert, Config, Destination, DropReason, InitialState, Reason, State, Vrrp, VRRP_GROUP,
};
use std::net::Ipv4Addr;
use std::time::Duration;

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
const LOWER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const HIGHER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const VRID: u8 = 51;

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}
fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn cfg(priority: u8) -> Config {
    let mut c = Config::new(VRID, ME, vec![VIP]);
    c.priority = priority;
    c
}

/// An advert from `src` with `priority`, interval in centiseconds.
fn advert(src: Ipv4Addr, priority: u8, cs: u16) -> Vec<u8> {
    Advert::new(VRID, priority, cs, vec![VIP]).encode(src, VRRP_GROUP)
}

fn transitions(actions: &[Action]) -> Vec<(State, State, Reason)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StateChanged { from, to, reason } => Some((*from, *to, *reason)),
            _ => None,
        })
        .collect()
}

fn sends(actions: &[Action]) -> Vec<(Destination, Advert)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { dest, packet } => {
                let dst = match dest {
                    Destination::Multicast => VRRP_GROUP,
                    Destination::Unicast(ip) => *ip,
                };
                Some((
                    *dest,
                    Advert::decode(packet, ME, dst).expect("valid advert"),
                ))
            }
            _ => None,
        })
        .collect()
}

fn garps(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::GratuitousArp(_)))
        .count()
}

/// Fires every timer due up to `until`, as a driver would.
fn run_to(v: &mut Vrrp, until: Duration) -> Vec<Action> {
    let mut out = Vec::new();
    while let Some(t) = v.next_timeout().filter(|&t| t <= until) {
        out.extend(v.handle_timeout(t));
    }
    out
}

/// An instance started at 0 with no peers, MASTER since 3.6 s and run up to
/// 9.9 s (past its second GARP burst at 8.6 s).
fn master(priority: u8) -> Vrrp {
    let mut v = Vrrp::new(cfg(priority)).expect("valid");
    v.start(Duration::ZERO);
    run_to(&mut v, s(9.9));
    assert_eq!(v.state(), State::Master);
    v
}

#[test]
fn start_enters_backup_with_full_master_down_timer() {
    let mut v = Vrrp::new(cfg(100)).expect("valid");
    assert_eq!(v.state(), State::Init);
    let a = v.start(s(10.0));
    assert_eq!(
        transitions(&a),
        vec![(State::Init, State::Backup, Reason::Startup)]
    );
    assert_eq!(a.len(), 1, "no advert, no VIP change at init: {a:?}");
    // 3 × 1 s + (256 − 100)/256 s = 3.609375 s
    assert_eq!(v.next_timeout(), Some(s(10.0) + us(3_609_375)));
}

#[test]
fn priority_90_becomes_master_after_exactly_3_648437_s() {
    let mut v = Vrrp::new(cfg(90)).expect("valid");
    v.start(Duration::ZERO);
    let deadline = v.next_timeout().expect("timer");
    assert_eq!(deadline, us(3_648_437));
    assert!(v.handle_timeout(deadline - us(1)).is_empty());
    assert_eq!(v.state(), State::Backup);
    let a = v.handle_timeout(deadline);
    assert_eq!(
        transitions(&a),
        vec![(State::Backup, State::Master, Reason::MasterDownTimerExpired)]
    );
}

#[test]
fn becoming_master_sends_advert_then_adds_vips_then_five_garps() {
    let mut v = Vrrp::new(cfg(100)).expect("valid");
    v.start(Duration::ZERO);
    let t = v.next_timeout().expect("timer");
    let a = v.handle_timeout(t);
    assert!(matches!(
        a[0],
        Action::Send {
            dest: Destination::Multicast,
            ..
        }
    ));
    assert!(matches!(
        a[1],
        Action::StateChanged {
            to: State::Master,
            ..
        }
    ));
    assert_eq!(a[2], Action::AddVips(vec![VIP]));
    assert_eq!(garps(&a), 5);
    assert_eq!(a.len(), 8);
    let sent = sends(&a);
    assert_eq!(sent[0].1, Advert::new(VRID, 100, 100, vec![VIP]));
    // Adverts every advert_int; the second GARP burst 5 s after MASTER.
    let mut adverts = 0;
    let mut late_garps = Vec::new();
    while let Some(next) = v.next_timeout() {
        if next > t + s(10.5) {
            break;
        }
        let a = v.handle_timeout(next);
        adverts += sends(&a).len();
        if garps(&a) > 0 {
            late_garps.push((next - t, garps(&a)));
        }
    }
    assert_eq!(adverts, 10);
    assert_eq!(late_garps, vec![(s(5.0), 5)]);
    assert_eq!(v.stats().become_master, 1);
    assert_eq!(v.stats().adverts_sent, 11);
}

#[test]
fn address_owner_goes_master_one_microsecond_after_start() {
    let mut v = Vrrp::new(cfg(255)).expect("valid");
    assert!(v.start(s(2.0)).is_empty());
    assert_eq!(v.state(), State::Init);
    assert_eq!(v.next_timeout(), Some(s(2.0) + us(1)));
    let a = v.handle_timeout(s(2.0) + us(1));
    assert_eq!(
        transitions(&a),
        vec![(State::Init, State::Master, Reason::AddressOwner)]
    );
    assert_eq!(sends(&a)[0].1.priority, 255);
}

#[test]
fn owner_with_state_backup_waits_the_full_interval() {
    let mut c = cfg(255);
    c.initial_state = Some(InitialState::Backup);
    let mut v = Vrrp::new(c).expect("valid");
    v.start(Duration::ZERO);
    assert_eq!(v.state(), State::Backup);
    // 3 s + 1/256 s (3906.25 µs truncated)
    assert_eq!(v.next_timeout(), Some(us(3_003_906)));
}

#[test]
fn state_master_on_a_non_owner_starts_as_backup() {
    let mut c = cfg(150);
    c.initial_state = Some(InitialState::Master);
    let mut v = Vrrp::new(c.clone()).expect("valid");
    v.start(Duration::ZERO);
    assert_eq!(v.state(), State::Backup);
    assert_eq!(
        v.next_timeout(),
        Some(c.master_down_interval(Duration::from_secs(1)))
    );
}

#[test]
fn backup_resets_down_timer_on_higher_and_equal_priority_adverts() {
    let mut v = Vrrp::new(cfg(100)).expect("valid");
    v.start(Duration::ZERO);
    v.handle_packet(s(1.0), HIGHER_IP, &advert(HIGHER_IP, 200, 100));
    assert_eq!(v.next_timeout(), Some(s(1.0) + us(3_609_375)));
    assert_eq!(v.master(), Some((HIGHER_IP, 200)));
    // Equal priority from a LOWER address is still accepted by a backup
    // (RFC 5798 §6.4.2 and keepalived: ">=" — the address only breaks ties
    // between two masters).
    v.handle_packet(s(2.0), LOWER_IP, &advert(LOWER_IP, 100, 100));
    assert_eq!(v.next_timeout(), Some(s(2.0) + us(3_609_375)));
    assert_eq!(v.state(), State::Backup);
}

#[test]
fn backup_learns_master_advert_interval() {
    let mut v = Vrrp::new(cfg(100)).expect("valid");
    v.start(Duration::ZERO);
    // Master advertises 3 s (300 cs) while we are configured with 1 s:
    // VRRPv3 adopts the master's interval (keepalived only drops mismatches
    // for VRRPv2).
    v.handle_packet(s(1.0), HIGHER_IP, &advert(HIGHER_IP, 200, 300));
    assert_eq!(v.master_adver_int(), s(3.0));
    // 3 × 3 s + 156 × 300 × 625 / 16 µs = 9 s + 1.828125 s
    assert_eq!(v.next_timeout(), Some(s(1.0) + us(10_828_125)));
    // On becoming master it goes back to its own interval.
    let t = v.next_timeout().expect("timer");
    let a = v.handle_timeout(t);
    assert_eq!(sends(&a)[0].1.max_advert_int_cs, 100);
    assert_eq!(v.master_adver_int(), s(1.0));
    assert_eq!(v.next_timeout(), Some(t + s(1.0)));
}

#[test]
fn backup_discards_lower_priority_adverts_and_preempts() {
    let mut v = Vrrp::new(cfg(150)).expect("valid");
    v.start(Duration::ZERO);
    let deadline = v.next_timeout().expect("timer");
    for k in 1..=3 {
        v.handle_packet(s(f64::from(k)), LOWER_IP, &advert(LOWER_IP, 100, 100));
        assert_eq!(v.next_timeout(), Some(deadline), "timer must not move");
    }
    assert_eq!(v.stats().adverts_accepted, 3);
    let a = v.handle_timeout(deadline);
    assert_eq!(
        transitions(&a),
        vec![(
            State::Backup,
            State::Master,
            Reason::PreemptedLowerPriorityMaster
        )]
    );
}

#[test]
fn nopreempt_backup_follows_a_lower_priority_master() {
    let mut c = cfg(150);
    c.preempt = false;
    let mut v = Vrrp::new(c).expect("valid");
    v.start(Duration::ZERO);
    for k in 1..=20 {
        let now = s(f64::from(k));
        v.handle_packet(now, LOWER_IP, &advert(LOWER_IP, 100, 100));
        assert!(v.handle_timeout(now).is_empty());
    }
    assert_eq!(v.state(), State::Backup);
    assert_eq!(v.master(), Some((LOWER_IP, 100)));
}

#[test]
fn priority_zero_advert_makes_backup_take_over_after_skew() {
    let mut v = Vrrp::new(cfg(90)).expect("valid");
    v.start(Duration::ZERO);
    v.handle_packet(s(1.0), HIGHER_IP, &advert(HIGHER_IP, 200, 100));
    v.handle_packet(s(1.5), HIGHER_IP, &advert(HIGHER_IP, 0, 100));
    assert_eq!(v.stats().priority_zero_received, 1);
    assert_eq!(v.next_timeout(), Some(s(1.5) + us(648_437)));
    let a = v.handle_timeout(s(1.5) + us(648_437));
    assert_eq!(
        transitions(&a),
        vec![(State::Backup, State::Master, Reason::PriorityZeroAdvert)]
    );
}

#[test]
fn master_yields_to_higher_priority() {
    let mut v = master(100);
    let a = v.handle_packet(s(10.0), LOWER_IP, &advert(LOWER_IP, 101, 200));
    assert_eq!(
        transitions(&a),
        vec![(State::Master, State::Backup, Reason::HigherPriorityAdvert)]
    );
    assert_eq!(a[1], Action::RemoveVips(vec![VIP]));
    assert!(sends(&a).is_empty(), "no advert by default");
    // Down timer from the new master's interval (2 s): 6 s + 156×200×625/16 µs.
    assert_eq!(v.next_timeout(), Some(s(10.0) + us(6_000_000 + 1_218_750)));
    assert_eq!(v.stats().release_master, 1);
}

#[test]
fn master_with_higher_prio_send_advert_answers_before_yielding() {
    let mut c = cfg(100);
    c.higher_prio_send_advert = true;
    let mut v = Vrrp::new(c).expect("valid");
    v.start(Duration::ZERO);
    let t = v.next_timeout().expect("timer");
    v.handle_timeout(t);
    let a = v.handle_packet(s(10.0), HIGHER_IP, &advert(HIGHER_IP, 200, 100));
    assert_eq!(sends(&a).len(), 1);
    assert_eq!(v.state(), State::Backup);
}

#[test]
fn equal_priority_tie_is_broken_by_higher_address() {
    let mut v = master(100);
    let a = v.handle_packet(s(10.0), HIGHER_IP, &advert(HIGHER_IP, 100, 100));
    assert_eq!(
        transitions(&a),
        vec![(
            State::Master,
            State::Backup,
            Reason::EqualPriorityHigherAddress
        )]
    );
    let mut v = master(100);
    let a = v.handle_packet(s(10.0), LOWER_IP, &advert(LOWER_IP, 100, 100));
    assert!(transitions(&a).is_empty());
    assert_eq!(v.state(), State::Master);
    // The numerically higher address wins, compared as host-order integers.
    let mut v = master(100);
    let high_first_octet = Ipv4Addr::new(11, 0, 0, 1);
    v.handle_packet(
        s(10.0),
        high_first_octet,
        &advert(high_first_octet, 100, 100),
    );
    assert_eq!(v.state(), State::Backup);
}

#[test]
fn master_answers_lower_priority_advert_at_once_with_garps() {
    let mut v = master(150);
    let now = s(20.0);
    run_to(&mut v, now);
    let a = v.handle_packet(now, HIGHER_IP, &advert(HIGHER_IP, 100, 100));
    assert_eq!(v.state(), State::Master);
    let sent = sends(&a);
    assert_eq!(sent.len(), 1, "forcing new election");
    assert_eq!(sent[0].1.priority, 150);
    assert_eq!(garps(&a), 5, "garp_lower_prio_repeat defaults to 5");
    // Advert timer re-armed from now; a second GARP burst 5 s later.
    assert_eq!(v.next_timeout(), Some(now + s(1.0)));
    let mut late = 0;
    let mut t = now;
    while t < now + s(5.5) {
        t = v.next_timeout().expect("timer");
        let a = v.handle_timeout(t);
        if t == now + s(5.0) {
            late = garps(&a);
        }
    }
    assert_eq!(late, 5);
}

#[test]
fn lower_prio_no_advert_keeps_master_quiet_and_its_timer() {
    let mut c = cfg(150);
    c.lower_prio_no_advert = true;
    c.garp_lower_prio_repeat = 0;
    let mut v = Vrrp::new(c).expect("valid");
    v.start(Duration::ZERO);
    let t = v.next_timeout().expect("timer");
    v.handle_timeout(t);
    let next = v.next_timeout();
    let a = v.handle_packet(t + s(0.5), LOWER_IP, &advert(LOWER_IP, 100, 100));
    assert!(a.is_empty());
    assert_eq!(v.next_timeout(), next);
}

#[test]
fn master_answers_priority_zero_with_an_advert() {
    let mut v = master(100);
    let a = v.handle_packet(s(10.0), HIGHER_IP, &advert(HIGHER_IP, 0, 100));
    assert_eq!(sends(&a).len(), 1);
    assert_eq!(v.state(), State::Master);
    assert_eq!(v.next_timeout(), Some(s(11.0)));
}

#[test]
fn master_postpones_its_advert_on_any_packet_for_its_vrid() {
    // Keepalived re-arms the MASTER timer after every packet it reads for
    // the VRID, even one it rejects (vrrp_dispatcher_read).
    let mut v = master(100);
    let mut bad = advert(LOWER_IP, 100, 100);
    bad[7] ^= 1;
    assert!(v.handle_packet(s(10.0), LOWER_IP, &bad).is_empty());
    assert_eq!(v.stats().dropped(DropReason::Checksum), 1);
    assert_eq!(v.next_timeout(), Some(s(11.0)));
}

#[test]
fn two_owners_lower_the_receiver_to_254() {
    let mut v = master(255);
    let a = v.handle_packet(s(10.0), LOWER_IP, &advert(LOWER_IP, 255, 100));
    assert_eq!(v.effective_priority(), 254);
    assert_eq!(
        transitions(&a),
        vec![(State::Master, State::Backup, Reason::HigherPriorityAdvert)]
    );
}

#[test]
fn shutdown_of_master_sends_priority_zero_and_releases_vips() {
    let mut v = master(100);
    let a = v.shutdown(s(30.0));
    let sent = sends(&a);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.priority, 0);
    assert_eq!(a[1], Action::RemoveVips(vec![VIP]));
    assert_eq!(
        transitions(&a),
        vec![(State::Master, State::Stop, Reason::Shutdown)]
    );
    assert_eq!(v.stats().priority_zero_sent, 1);
    assert_eq!(v.next_timeout(), None);
    assert!(v
        .handle_packet(s(31.0), LOWER_IP, &advert(LOWER_IP, 100, 100))
        .is_empty());
    assert_eq!(v.stats().dropped(DropReason::NotRunning), 1);
}

#[test]
fn shutdown_of_backup_is_silent() {
    let mut v = Vrrp::new(cfg(100)).expect("valid");
    v.start(Duration::ZERO);
    let a = v.shutdown(s(1.0));
    assert_eq!(
        transitions(&a),
        vec![(State::Backup, State::Stop, Reason::Shutdown)]
    );
    assert_eq!(a.len(), 1);
}

#[test]
fn a_backup_hearing_the_stopping_master_takes_over() {
    let mut m = master(200);
    let mut b = Vrrp::new(cfg(100)).expect("valid");
    b.start(Duration::ZERO);
    let bye = m.shutdown(s(2.0));
    let Action::Send { packet, .. } = &bye[0] else {
        panic!("first action must be the priority-0 advert: {bye:?}");
    };
    b.handle_packet(s(2.0), ME, packet);
    assert_eq!(b.next_timeout(), Some(s(2.0) + us(609_375)));
}

#[test]
fn unicast_sends_one_advert_per_peer_with_its_own_checksum() {
    let peers = vec![Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(10, 0, 1, 2)];
    let mut c = cfg(100);
    c.unicast_peers = peers.clone();
    let mut v = Vrrp::new(c).expect("valid");
    v.start(Duration::ZERO);
    let t = v.next_timeout().expect("timer");
    let a = v.handle_timeout(t);
    let sent = sends(&a); // decodes with the peer as pseudo-header destination
    assert_eq!(
        sent.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        peers
            .iter()
            .map(|&p| Destination::Unicast(p))
            .collect::<Vec<_>>()
    );
    assert_eq!(v.stats().adverts_sent, 1, "one advert round");

    // A unicast instance checks checksums against its own address.
    let mut c = cfg(100);
    c.unicast_peers = vec![HIGHER_IP];
    let mut b = Vrrp::new(c).expect("valid");
    b.start(Duration::ZERO);
    let to_me = Advert::new(VRID, 200, 100, vec![VIP]).encode(HIGHER_IP, ME);
    b.handle_packet(s(1.0), HIGHER_IP, &to_me);
    assert_eq!(b.stats().adverts_accepted, 1);
    b.handle_packet(s(1.1), HIGHER_IP, &advert(HIGHER_IP, 200, 100));
    assert_eq!(b.stats().dropped(DropReason::Checksum), 1);
}

#[test]
fn check_unicast_src_refuses_strangers() {
    let mut c = cfg(100);
    c.unicast_peers = vec![HIGHER_IP];
    c.check_unicast_src = true;
    let mut b = Vrrp::new(c).expect("valid");
    b.start(Duration::ZERO);
    let stranger = Ipv4Addr::new(10, 9, 9, 9);
    let pkt = Advert::new(VRID, 200, 100, vec![VIP]).encode(stranger, ME);
    b.handle_packet(s(1.0), stranger, &pkt);
    assert_eq!(b.stats().dropped(DropReason::UnicastSource), 1);
}

#[test]
fn invalid_packets_are_dropped_and_counted_by_reason() {
    let mut v = Vrrp::new(cfg(100)).expect("valid");
    v.start(Duration::ZERO);
    let deadline = v.next_timeout();
    let good = advert(HIGHER_IP, 200, 100);
    let mut cases: Vec<(Vec<u8>, DropReason)> = vec![
        (good[..4].to_vec(), DropReason::TooShort),
        (good[..10].to_vec(), DropReason::Length),
    ];
    let mut other_vrid = Advert::new(VRID + 1, 200, 100, vec![VIP]);
    cases.push((
        other_vrid.encode(HIGHER_IP, VRRP_GROUP),
        DropReason::UnknownVrid,
    ));
    other_vrid.vrid = VRID;
    other_vrid.version = 2;
    let mut v2 = other_vrid.encode(HIGHER_IP, VRRP_GROUP);
    v2.extend_from_slice(&[0; 8]);
    cases.push((v2, DropReason::Version));
    let mut bad_type = Advert::new(VRID, 200, 100, vec![VIP]);
    bad_type.kind = 7;
    cases.push((bad_type.encode(HIGHER_IP, VRRP_GROUP), DropReason::Type));
    cases.push((
        Advert::new(VRID, 200, 100, vec![VIP, LOWER_IP]).encode(HIGHER_IP, VRRP_GROUP),
        DropReason::AddressCount,
    ));
    let mut bad_sum = good.clone();
    bad_sum[2] = 201;
    cases.push((bad_sum, DropReason::Checksum));
    cases.push((
        Advert::new(VRID, 200, 100, vec![LOWER_IP]).encode(HIGHER_IP, VRRP_GROUP),
        DropReason::AddressList,
    ));
    for (i, (bytes, reason)) in cases.iter().enumerate() {
        let before = v.stats().dropped(*reason);
        assert!(v.handle_packet(s(1.0), HIGHER_IP, bytes).is_empty());
        assert_eq!(v.stats().dropped(*reason), before + 1, "case {i}: {reason}");
    }
    assert_eq!(
        v.next_timeout(),
        deadline,
        "drops never move a backup's timer"
    );
    let st = v.stats();
    assert_eq!(st.packets_received, cases.len() as u64);
    assert_eq!(st.dropped_total(), cases.len() as u64);
    // The VIP-list failure happens after keepalived counted advert_rcvd.
    assert_eq!(st.adverts_received, 1);
    assert_eq!(st.adverts_accepted, 0);
}

#[test]
fn ipv4_datagrams_get_ttl_length_and_destination_checks() {
    let mut v = Vrrp::new(cfg(100)).expect("valid");
    v.start(Duration::ZERO);
    let msg = advert(HIGHER_IP, 200, 100);
    let good = Ipv4Datagram::encode(HIGHER_IP, VRRP_GROUP, 1, &msg);
    v.handle_ipv4_datagram(s(1.0), &good);
    assert_eq!(v.stats().adverts_accepted, 1);

    // TTL 254 (header checksum fixed up so only the TTL is wrong).
    let mut ttl = good.clone();
    ttl[8] = 254;
    ttl[10] = 0;
    ttl[11] = 0;
    let sum = hasim_vrrp::packet::ipv4_header_checksum(&ttl[..20]);
    ttl[10..12].copy_from_slice(&sum.to_be_bytes());
    v.handle_ipv4_datagram(s(1.1), &ttl);
    assert_eq!(v.stats().dropped(DropReason::Ttl), 1);

    // Unicast destination on a multicast instance (checksum made for it).
    let uni = Advert::new(VRID, 200, 100, vec![VIP]).encode(HIGHER_IP, ME);
    v.handle_ipv4_datagram(s(1.2), &Ipv4Datagram::encode(HIGHER_IP, ME, 2, &uni));
    assert_eq!(v.stats().dropped(DropReason::DestinationKind), 1);

    // Trailing byte: IP total length no longer matches... but the VRRP
    // length check comes first in keepalived.
    let mut long = good.clone();
    long.push(0);
    v.handle_ipv4_datagram(s(1.3), &long);
    assert_eq!(v.stats().dropped(DropReason::Length), 1);

    // Not IPv4 at all.
    let mut garbage = good.clone();
    garbage[0] = 0x65;
    v.handle_ipv4_datagram(s(1.4), &garbage);
    assert_eq!(v.stats().dropped(DropReason::IpHeader), 1);
}

#[test]
fn skip_check_adv_addr_trusts_the_known_master() {
    let mut c = cfg(100);
    c.skip_check_adv_addr = true;
    let mut v = Vrrp::new(c).expect("valid");
    v.start(Duration::ZERO);
    let other_list = Advert::new(VRID, 200, 100, vec![LOWER_IP]).encode(HIGHER_IP, VRRP_GROUP);
    // Unknown master: list checked and refused.
    v.handle_packet(s(1.0), HIGHER_IP, &other_list);
    assert_eq!(v.stats().dropped(DropReason::AddressList), 1);
    // Known master: list skipped.
    v.handle_packet(s(1.5), HIGHER_IP, &advert(HIGHER_IP, 200, 100));
    v.handle_packet(s(2.0), HIGHER_IP, &other_list);
    assert_eq!(v.stats().adverts_accepted, 2);
    assert_eq!(v.next_timeout(), Some(s(2.0) + us(3_609_375)));
}

#[test]
fn preempt_delay_counts_from_the_first_lower_priority_advert() {
    let mut c = cfg(200);
    c.preempt_delay = s(10.0);
    let mut v = Vrrp::new(c).expect("valid");
    v.start(Duration::ZERO);
    // A lower-priority master advertises every second from t = 1 s.
    let mut became_master = None;
    for k in 1..=40u32 {
        let now = s(f64::from(k));
        if let Some(t) = v.next_timeout() {
            if t <= now {
                let a = v.handle_timeout(t);
                if let Some(tr) = transitions(&a).first() {
                    became_master = Some((t, *tr));
                    break;
                }
            }
        }
        v.handle_packet(now, LOWER_IP, &advert(LOWER_IP, 100, 100));
    }
    // Adverts are accepted until preempt_time = 1 s + 10 s; the one at 11 s
    // and later are discarded, so the timer armed at 10 s fires at
    // 10 s + 3 s + 56/256 s (218750 µs).
    let (t, tr) = became_master.expect("preempts eventually");
    assert_eq!(t, s(10.0) + us(3_218_750));
    assert_eq!(
        tr,
        (
            State::Backup,
            State::Master,
            Reason::PreemptedLowerPriorityMaster
        )
    );
}

#[test]
fn preempt_delay_is_cancelled_by_a_higher_priority_advert() {
    let mut c = cfg(200);
    c.preempt_delay = s(5.0);
    let mut v = Vrrp::new(c).expect("valid");
    v.start(Duration::ZERO);
    v.handle_packet(s(1.0), LOWER_IP, &advert(LOWER_IP, 100, 100)); // starts the delay
    v.handle_packet(s(2.0), HIGHER_IP, &advert(HIGHER_IP, 250, 100)); // cancels it
                                                                      // A lower advert at 7 s (after the old 6 s deadline) restarts the delay
                                                                      // instead of being discarded.
    v.handle_packet(s(4.0), HIGHER_IP, &advert(HIGHER_IP, 250, 100));
    v.handle_packet(s(7.0), LOWER_IP, &advert(LOWER_IP, 100, 100));
    assert_eq!(v.next_timeout(), Some(s(7.0) + us(3_218_750)));
}

#[test]
fn garp_refresh_rides_on_the_advert_timer() {
    let mut c = cfg(100);
    c.garp_master_refresh = s(3.0);
    c.garp_master_refresh_repeat = 2;
    c.garp_master_delay = Duration::ZERO;
    let mut v = Vrrp::new(c).expect("valid");
    v.start(Duration::ZERO);
    let t0 = v.next_timeout().expect("timer");
    v.handle_timeout(t0);
    let mut refresh = Vec::new();
    while let Some(t) = v.next_timeout() {
        if t > t0 + s(8.5) {
            break;
        }
        let a = v.handle_timeout(t);
        if garps(&a) > 0 {
            refresh.push((t - t0, garps(&a)));
        }
    }
    // Strictly after the refresh deadline: at the 4th advert, then 4 s later.
    assert_eq!(refresh, vec![(s(4.0), 2), (s(8.0), 2)]);
}

#[test]
fn delayed_garp_after_leaving_master_sends_nothing() {
    let mut v = master(100);
    let t = v.next_timeout().expect("timer");
    v.handle_packet(t, HIGHER_IP, &advert(HIGHER_IP, 200, 100));
    assert_eq!(v.state(), State::Backup);
    let mut total = 0;
    for k in 0..5 {
        let now = t + s(f64::from(k) + 0.5);
        v.handle_packet(now, HIGHER_IP, &advert(HIGHER_IP, 200, 100));
        total += garps(&v.handle_timeout(now));
    }
    assert_eq!(total, 0);
}

#[test]
fn describe_timers_prints_keepalived_dump_lines() {
    let mut v = Vrrp::new(cfg(90)).expect("valid");
    v.start(Duration::ZERO);
    let d = v.describe_timers();
    assert!(d.contains("   State = BACKUP"), "{d}");
    assert!(d.contains("   Master down timer = 3648437 usecs"), "{d}");
    assert!(d.contains("   Advert interval = 1000 milli-sec"), "{d}");
    assert!(d.contains("   Gratuitous ARP delay = 5"), "{d}");
    assert!(d.contains("   Skew time = 648437 usecs"), "{d}");
}

#[test]
fn same_inputs_same_outputs() {
    let run = || {
        let mut v = Vrrp::new(cfg(120)).expect("valid");
        let mut out = v.start(Duration::ZERO);
        out.extend(v.handle_packet(s(0.5), LOWER_IP, &advert(LOWER_IP, 100, 100)));
        for _ in 0..20 {
            let t = v.next_timeout().expect("timer");
            out.extend(v.handle_timeout(t));
        }
        out.extend(v.shutdown(s(100.0)));
        serde_json::to_string(&out).expect("serialises")
    };
    assert_eq!(run(), run());
}

#[test]
fn discarded_adverts_keep_a_nanosecond_deadline_exact() {
    let mut v = Vrrp::new(cfg(150)).expect("valid");
    v.start(Duration::from_nanos(123));
    let deadline = v.next_timeout().expect("timer");
    v.handle_packet(
        Duration::from_nanos(1_000_000_777),
        LOWER_IP,
        &advert(LOWER_IP, 100, 100),
    );
    assert_eq!(v.next_timeout(), Some(deadline));
}

#[test]
fn describe_timers_shows_the_master_a_backup_follows() {
    let mut v = Vrrp::new(cfg(90)).expect("valid");
    v.start(Duration::ZERO);
    v.handle_packet(s(1.0), HIGHER_IP, &advert(HIGHER_IP, 200, 250));
    let d = v.describe_timers();
    for line in [
        "   Master router = 10.0.0.9",
        "   Master priority = 200",
        "   Master advert int = 2.50 sec",
        "   Master advert interval = 2500 milli-sec",
        "   Read timeout = 10.121093",
        "   Master down timer = 9121093 usecs",
    ] {
        assert!(d.lines().any(|l| l == line), "missing {line:?} in\n{d}");
    }
}
