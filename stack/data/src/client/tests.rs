use super::*;
use hasim_tcp::Timeout;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn cfg() -> ClientConfig {
    ClientConfig {
        pool_size: 1,
        read_every: 0,
        ..ClientConfig::oslo_db("c1", 1000)
    }
}

fn ok(id: u64) -> ClientInput {
    ClientInput::Data(0, format!("OK {id} db1\n").into_bytes())
}

#[test]
fn connects_writes_and_reuses_the_pooled_connection_after_a_ping() {
    let mut c = Client::new(cfg(), ms(0));
    assert_eq!(
        c.handle(ms(0), ClientInput::Timeout),
        vec![ClientAction::Connect(0)]
    );
    let a = c.handle(ms(1), ClientInput::Connected(0));
    assert_eq!(a, vec![ClientAction::Send(0, b"W 0 k0 1000\n".to_vec())]);
    c.handle(ms(2), ok(0));
    assert_eq!(
        c.history().ops[0].completed,
        Some((ms(2), Outcome::Ok(None)))
    );
    assert_eq!(c.history().ops[0].node.as_deref(), Some("db1"));
    // Next op: checkout ping first, then the statement.
    assert_eq!(
        c.handle(ms(100), ClientInput::Timeout),
        vec![ClientAction::Send(0, b"P 1\n".to_vec())]
    );
    assert_eq!(
        c.handle(ms(101), ok(1)),
        vec![ClientAction::Send(0, b"W 1 k1 1001\n".to_vec())]
    );
    c.handle(ms(102), ok(1));
    assert_eq!(c.history().conns.len(), 1);
}

#[test]
fn refused_connect_fails_the_op_and_waits_before_retrying() {
    let mut c = Client::new(cfg(), ms(0));
    c.handle(ms(0), ClientInput::Timeout);
    c.handle(ms(1), ClientInput::Closed(0, CloseReason::Refused));
    assert!(matches!(
        c.history().ops[0].completed,
        Some((_, Outcome::Failed(_)))
    ));
    // Within the 1 s retry interval, ops are skipped.
    for t in (100..1000).step_by(100) {
        assert!(c.handle(ms(t), ClientInput::Timeout).is_empty());
    }
    assert_eq!(c.skipped(), 9);
    assert_eq!(
        c.handle(ms(1001), ClientInput::Timeout),
        vec![ClientAction::Connect(0)]
    );
}

#[test]
fn without_a_query_timeout_an_op_waits_for_tcp_and_ends_unknown() {
    let mut c = Client::new(cfg(), ms(0));
    c.handle(ms(0), ClientInput::Timeout);
    c.handle(ms(1), ClientInput::Connected(0));
    // Nothing answers for 15 minutes: the op is still pending.
    assert_eq!(c.next_timeout(), Some(ms(100)));
    for t in (100..900_000).step_by(100) {
        c.handle(ms(t), ClientInput::Timeout);
    }
    assert_eq!(c.history().ops[0].completed, None);
    c.handle(
        ms(925_000),
        ClientInput::Closed(0, CloseReason::TimedOut(Timeout::Retransmission)),
    );
    assert!(
        matches!(&c.history().ops[0].completed, Some((_, Outcome::Unknown(m))) if m.contains("Retransmission"))
    );
    assert!(c.history().conns[0].closed.is_some());
}

#[test]
fn a_query_timeout_gives_up_and_closes() {
    let mut c = Client::new(
        ClientConfig {
            op_timeout: Some(ms(500)),
            ..cfg()
        },
        ms(0),
    );
    c.handle(ms(0), ClientInput::Timeout);
    c.handle(ms(1), ClientInput::Connected(0));
    let a = c.handle(ms(501), ClientInput::Timeout);
    assert!(a.contains(&ClientAction::Close(0)));
    assert_eq!(
        c.history().ops[0].completed,
        Some((ms(501), Outcome::Unknown("timeout".into())))
    );
}

#[test]
fn a_dead_pooled_connection_is_replaced_before_the_statement() {
    let mut c = Client::new(cfg(), ms(0));
    c.handle(ms(0), ClientInput::Timeout);
    c.handle(ms(1), ClientInput::Connected(0));
    c.handle(ms(2), ok(0));
    c.handle(ms(100), ClientInput::Timeout);
    // The ping meets an RST: reconnect and send the statement there.
    let a = c.handle(ms(101), ClientInput::Closed(0, CloseReason::Reset));
    assert_eq!(a, vec![ClientAction::Connect(0)]);
    let a = c.handle(ms(102), ClientInput::Connected(0));
    assert_eq!(a, vec![ClientAction::Send(0, b"W 1 k1 1001\n".to_vec())]);
    c.handle(ms(103), ok(1));
    assert_eq!(
        c.history().ops[1].completed,
        Some((ms(103), Outcome::Ok(None)))
    );
    assert_eq!(c.history().conns.len(), 2);
}

#[test]
fn server_errors_are_definite_failures_and_garbage_closes() {
    let mut c = Client::new(cfg(), ms(0));
    c.handle(ms(0), ClientInput::Timeout);
    c.handle(ms(1), ClientInput::Connected(0));
    c.handle(
        ms(2),
        ClientInput::Data(
            0,
            b"ERR 0 db3 1047 WSREP has not yet prepared node for application use\n".to_vec(),
        ),
    );
    assert!(
        matches!(&c.history().ops[0].completed, Some((_, Outcome::Failed(m))) if m.starts_with("1047"))
    );
    c.handle(ms(100), ClientInput::Timeout);
    let a = c.handle(ms(101), ClientInput::Data(0, b"nonsense\n".to_vec()));
    assert_eq!(a, vec![ClientAction::Close(0)]);
}
