use super::*;
use crate::{Balance, Server};
use std::net::Ipv4Addr;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn addr(last: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port)
}

fn vip() -> SocketAddrV4 {
    addr(100, 3306)
}

fn galera() -> Haproxy {
    let l = crate::Listen::galera(
        vip(),
        &[
            ("db1", addr(11, 3306)),
            ("db2", addr(12, 3306)),
            ("db3", addr(13, 3306)),
        ],
    );
    let mut h = Haproxy::new(vec![l]);
    h.handle(ms(0), Input::Start);
    h
}

/// Runs checks until `until`, answering each check with `answer(server ip)`.
fn run_checks(
    h: &mut Haproxy,
    from: u64,
    until: u64,
    answer: impl Fn(Ipv4Addr) -> bool,
) -> Vec<Action> {
    let mut log = Vec::new();
    for t in (from..=until).step_by(100) {
        for a in h.handle(ms(t), Input::Timeout) {
            if let Action::Connect { conn, to, .. } = a {
                let input = if answer(*to.ip()) {
                    Input::Connected(conn)
                } else {
                    Input::Closed(conn, CloseReason::Refused)
                };
                log.extend(h.handle(ms(t + 1), input));
            } else {
                log.push(a);
            }
        }
    }
    log
}

#[test]
fn fall_takes_a_server_down_and_rise_brings_it_back() {
    let mut h = galera();
    let down = Ipv4Addr::new(10, 0, 0, 11);
    // Checks every 2 s; fall 5: DOWN at the fifth failed check (10 s).
    run_checks(&mut h, 100, 9_900, |ip| ip != down);
    assert_eq!(h.is_up("galera_cluster", "db1"), Some(true));
    let log = run_checks(&mut h, 10_000, 10_000, |ip| ip != down);
    assert!(log.contains(&Action::ServerState {
        listen: "galera_cluster".into(),
        server: "db1".into(),
        up: false
    }));
    // rise 2: UP again at the second good check.
    run_checks(&mut h, 10_100, 12_000, |_| true);
    assert_eq!(h.is_up("galera_cluster", "db1"), Some(false));
    run_checks(&mut h, 12_100, 14_000, |_| true);
    assert_eq!(h.is_up("galera_cluster", "db1"), Some(true));
}

fn accept(h: &mut Haproxy, id: u64, client: u8) -> Vec<Action> {
    h.handle(
        ms(20_000),
        Input::Accepted {
            conn: id,
            local: vip(),
            client: addr(client, 40000),
        },
    )
}

fn target(actions: &[Action]) -> Option<(Conn, Ipv4Addr)> {
    actions.iter().find_map(|a| match a {
        Action::Connect { conn, to, .. } => Some((*conn, *to.ip())),
        _ => None,
    })
}

#[test]
fn backups_take_over_only_when_the_active_server_is_down() {
    let mut h = galera();
    assert_eq!(
        target(&accept(&mut h, 1, 50)).map(|t| t.1),
        Some(Ipv4Addr::new(10, 0, 0, 11))
    );
    let db1 = Ipv4Addr::new(10, 0, 0, 11);
    run_checks(&mut h, 100, 10_000, |ip| ip != db1);
    // Only the first UP backup, for every client.
    for (id, client) in [(2, 51), (3, 52), (4, 53)] {
        assert_eq!(
            target(&accept(&mut h, id, client)).map(|t| t.1),
            Some(Ipv4Addr::new(10, 0, 0, 12))
        );
    }
}

#[test]
fn source_balance_is_sticky_and_roundrobin_rotates() {
    let servers = vec![
        Server::new("a", addr(11, 80)),
        Server::new("b", addr(12, 80)),
        Server::new("c", addr(13, 80)),
    ];
    let mut l = crate::Listen::galera(vip(), &[]);
    l.servers = servers;
    let mut h = Haproxy::new(vec![l.clone()]);
    let first = target(&accept(&mut h, 1, 77)).map(|t| t.1);
    for id in 2..6 {
        assert_eq!(target(&accept(&mut h, id, 77)).map(|t| t.1), first);
    }
    let spread: std::collections::BTreeSet<_> = (10..60)
        .filter_map(|c| target(&accept(&mut h, 100 + u64::from(c), c)).map(|t| t.1))
        .collect();
    assert_eq!(spread.len(), 3, "source hashing spreads clients");
    l.balance = Balance::RoundRobin;
    let mut h = Haproxy::new(vec![l]);
    let seq: Vec<_> = (1..=4)
        .filter_map(|id| target(&accept(&mut h, id, 77)).map(|t| t.1.octets()[3]))
        .collect();
    assert_eq!(seq, vec![11, 12, 13, 11]);
}

#[test]
fn relays_both_ways_and_closes_the_other_side() {
    let mut h = galera();
    let (out, _) = target(&accept(&mut h, 1, 50)).unwrap();
    // Client bytes before the server connects are held, then flushed.
    assert!(h
        .handle(ms(20_001), Input::Data(Conn::In(1), b"W 1 k 1\n".to_vec()))
        .is_empty());
    assert_eq!(
        h.handle(ms(20_002), Input::Connected(out)),
        vec![Action::Send(out, b"W 1 k 1\n".to_vec())]
    );
    assert_eq!(
        h.handle(ms(20_003), Input::Data(out, b"OK 1 db1\n".to_vec())),
        vec![Action::Send(Conn::In(1), b"OK 1 db1\n".to_vec())]
    );
    // The server resets: the client is reset too.
    assert_eq!(
        h.handle(ms(20_004), Input::Closed(out, CloseReason::Reset)),
        vec![Action::Abort(Conn::In(1))]
    );
    assert_eq!(h.sessions(), 0);
}

#[test]
fn connect_failures_are_retried_then_the_client_is_dropped() {
    let mut h = galera();
    let (mut out, _) = target(&accept(&mut h, 1, 50)).unwrap();
    for _ in 0..3 {
        let a = h.handle(ms(20_001), Input::Closed(out, CloseReason::Refused));
        out = target(&a).expect("a retry").0;
    }
    assert_eq!(
        h.handle(ms(20_002), Input::Closed(out, CloseReason::Refused)),
        vec![Action::Abort(Conn::In(1))]
    );
}

#[test]
fn idle_sessions_end_at_the_client_and_server_timeouts() {
    let mut l = crate::Listen::galera(vip(), &[("db1", addr(11, 3306))]);
    l.timeout_client = Duration::from_secs(30);
    l.servers[0].check = false;
    let mut h = Haproxy::new(vec![l]);
    let (out, _) = target(&accept(&mut h, 1, 50)).unwrap();
    h.handle(ms(20_010), Input::Connected(out));
    assert_eq!(h.next_timeout(), Some(ms(50_010)));
    let a = h.handle(ms(50_010), Input::Timeout);
    assert_eq!(a, vec![Action::Close(Conn::In(1)), Action::Close(out)]);
}

#[test]
fn no_usable_server_resets_the_client() {
    let mut l = crate::Listen::galera(vip(), &[("db1", addr(11, 3306))]);
    l.servers[0].fall = 1;
    let mut h = Haproxy::new(vec![l]);
    h.handle(ms(0), Input::Start);
    run_checks(&mut h, 100, 2_000, |_| false);
    assert_eq!(accept(&mut h, 1, 50), vec![Action::Abort(Conn::In(1))]);
}
