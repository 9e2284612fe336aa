//! `connections-recover`: a client connection whose server went away (its
//! node died, or its VIP moved) is detected as dead and replaced within a
//! bound derived from the client host's TCP settings.
//!
//! The bound is the slower of the two ways Linux notices a silent peer:
//! keepalive (an idle connection: `keepidle + keepcnt × keepintvl`) and
//! retransmission (a request in flight: the `tcp_retries2` time, or
//! `TCP_USER_TIMEOUT`), plus one retransmission timeout of slack, plus the
//! client's reconnect delay. Without keepalive an idle connection is never
//! detected, so there is no bound. With Linux's defaults the bound is
//! above two hours, and a run shorter than that shows hung connections;
//! with Fuel's settings (30 s / 3 s / 8, retries2 5) it is about a minute.

use std::time::Duration;

use hasim_tcp::timing::{keepalive_detection, model_timeout};
use hasim_tcp::{Effective, SocketOptions, TcpSysctls};

use super::{Verdict, Violation};
use crate::history::History;

/// How long detection plus reconnection may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveryBound {
    /// Server gone → client's connection closed.
    pub detect: Duration,
    /// Client's connection closed → a new connection of that client open.
    pub reconnect: Duration,
}

/// The bound for clients on a host with `sysctls` whose sockets use `opts`
/// and who reconnect within `reconnect`; `None` when an idle connection is
/// never detected (no keepalive).
pub fn recovery_bound(
    sysctls: &TcpSysctls,
    opts: &SocketOptions,
    reconnect: Duration,
) -> Option<RecoveryBound> {
    let e = Effective::new(sysctls, opts);
    if !e.keepalive {
        return None;
    }
    let keepalive = keepalive_detection(e.keepidle, e.keepintvl, e.keepcnt, e.user_timeout);
    let retrans = e
        .user_timeout
        .unwrap_or_else(|| model_timeout(sysctls.retries2, sysctls.rto_min, sysctls.rto_max));
    // The last wait may be one capped RTO past the line.
    let slack = retrans.min(sysctls.rto_max);
    Some(RecoveryBound {
        detect: keepalive.max(retrans + slack),
        reconnect,
    })
}

/// Checks every connection whose server went away.
pub fn connections_recover(h: &History, bound: Option<RecoveryBound>) -> Verdict {
    let mut violations = Vec::new();
    let mut examined = 0;
    for c in &h.conns {
        let Some(lost) = c.server_lost else { continue };
        examined += 1;
        let detected = c.closed.map(|(t, _)| t);
        let hung = detected.unwrap_or(h.end).saturating_sub(lost);
        let Some(b) = bound else {
            if detected.is_none() {
                violations.push(hung_violation(c, hung, "no keepalive: never detected"));
            }
            continue;
        };
        if hung > b.detect {
            violations.push(hung_violation(
                c,
                hung,
                &format!("bound {:.1}s", b.detect.as_secs_f64()),
            ));
            continue;
        }
        let Some(closed) = detected else { continue };
        let reopened = h.conns.iter().any(|n| {
            n.client == c.client && n.opened >= closed && n.opened - closed <= b.reconnect
        });
        let run_left = h.end.saturating_sub(closed);
        if !reopened && run_left > b.reconnect {
            violations.push(Violation {
                client: Some(c.client.clone()),
                detail: format!(
                    "connection closed at {:.3}s was not replaced within {:.1}s",
                    closed.as_secs_f64(),
                    b.reconnect.as_secs_f64()
                ),
            });
        }
    }
    Verdict {
        name: "connections-recover",
        violations,
        examined,
    }
}

fn hung_violation(c: &crate::history::ConnLife, hung: Duration, why: &str) -> Violation {
    Violation {
        client: Some(c.client.clone()),
        detail: format!(
            "connection opened at {:.3}s hung {:.1}s after its server went away ({why})",
            c.opened.as_secs_f64(),
            hung.as_secs_f64()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures::t;
    use crate::history::ConnLife;
    use hasim_tcp::{CloseReason, Timeout};

    fn keepalive() -> SocketOptions {
        SocketOptions {
            keepalive: true,
            ..SocketOptions::default()
        }
    }

    fn life(opened: f64, closed: Option<f64>, lost: Option<f64>) -> ConnLife {
        ConnLife {
            client: "c1".into(),
            opened: t(opened),
            closed: closed.map(|c| (t(c), CloseReason::TimedOut(Timeout::Keepalive))),
            server_lost: lost.map(t),
        }
    }

    fn run(conns: Vec<ConnLife>, end: f64) -> History {
        History {
            conns,
            end: t(end),
            ..History::default()
        }
    }

    #[test]
    fn fuel_settings_bound_is_about_a_minute() {
        let b = recovery_bound(&TcpSysctls::fuel(), &keepalive(), t(1.0)).unwrap();
        // keepalive 54 s; retries2 5 = 12.6 s (+ slack) is shorter.
        assert_eq!(b.detect, t(54.0));
        let d = recovery_bound(&TcpSysctls::default(), &keepalive(), t(1.0)).unwrap();
        assert_eq!(d.detect, t(7875.0));
        assert_eq!(
            recovery_bound(&TcpSysctls::default(), &SocketOptions::default(), t(1.0)),
            None
        );
    }

    #[test]
    fn detected_and_replaced_in_time_holds() {
        let b = recovery_bound(&TcpSysctls::fuel(), &keepalive(), t(2.0));
        let h = run(
            vec![life(0.0, Some(70.0), Some(20.0)), life(71.0, None, None)],
            300.0,
        );
        let v = connections_recover(&h, b);
        assert!(v.held(), "{:?}", v.violations);
        assert_eq!(v.examined, 1);
    }

    #[test]
    fn defaults_leave_a_connection_hung_and_fail() {
        let b = recovery_bound(&TcpSysctls::default(), &keepalive(), t(2.0));
        // A 600 s run cannot see the 7875 s detection... but the fuel bound
        // applied to the same hang fails.
        let h = run(vec![life(0.0, None, Some(20.0))], 600.0);
        assert!(connections_recover(&h, b).held());
        let fuel = recovery_bound(&TcpSysctls::fuel(), &keepalive(), t(2.0));
        let v = connections_recover(&h, fuel);
        assert_eq!(v.violations.len(), 1);
        assert!(
            v.violations[0].detail.contains("hung 580.0s"),
            "{:?}",
            v.violations
        );
        let none = connections_recover(&h, None);
        assert!(none.violations[0].detail.contains("never detected"));
    }

    #[test]
    fn detected_but_not_replaced_fails() {
        let b = recovery_bound(&TcpSysctls::fuel(), &keepalive(), t(2.0));
        let h = run(vec![life(0.0, Some(70.0), Some(20.0))], 300.0);
        let v = connections_recover(&h, b);
        assert_eq!(v.violations.len(), 1);
        assert!(v.violations[0].detail.contains("not replaced"));
    }
}
