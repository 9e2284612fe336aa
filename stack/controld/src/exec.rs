//! The node-local side: operations the DC asks this node to run go to the
//! executor; results are recorded in the status section and, once the CIB
//! has them, reported to the DC. After a successful start, promote or
//! demote (or a probe that finds the resource running) the controller
//! starts the recurring monitors of the new role, as the graph's monitor
//! actions would; recurring failures are reported to the DC.

use std::time::Duration;

use hasim_pcmk_proto::{encode, Action, Daemon, ExecRequest, ExecResult, LocalMsg};

use crate::core::{AfterWrite, Controld, ExecOrigin};
use crate::lrm::is_failure;
use crate::resources::{find_primitive, recurring_monitors};
use crate::wire::Wire;

fn target_rc_of(key: &str) -> i32 {
    key.split(':')
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Controld {
    pub(crate) fn exec(
        &mut self,
        dc: String,
        transition: u64,
        action: usize,
        _target_rc: i32,
        req: ExecRequest,
        out: &mut Vec<Action>,
    ) {
        self.exec_origin.insert(
            req.key.clone(),
            ExecOrigin {
                dc,
                transition,
                action,
            },
        );
        out.push(Action::Send {
            to: Daemon::Execd,
            msg: LocalMsg::Exec(req),
        });
    }

    pub(crate) fn exec_done(&mut self, now: Duration, r: ExecResult, out: &mut Vec<Action>) {
        let q = r.request.clone();
        let target_rc = target_rc_of(&q.key);
        let failed = is_failure(&q.op, q.interval_ms, r.rc, r.status, target_rc);
        let report = match self.exec_origin.remove(&q.key) {
            Some(o) => Some(Wire::Result {
                from: self.cfg.node.clone(),
                dc: o.dc,
                transition: o.transition,
                action: o.action,
                ok: !failed,
                rc: r.rc,
            }),
            None if failed => Some(Wire::Failure {
                from: self.cfg.node.clone(),
                rsc: q.rsc.clone(),
                op: q.op.clone(),
                interval_ms: q.interval_ms,
                rc: r.rc,
            }),
            None => None,
        };
        let ops = self.history.record(&r, &q.key, target_rc);
        let n = ops.len();
        let mut report = report.map(|w| AfterWrite::Multicast(encode(&w)));
        for (i, op) in ops.into_iter().enumerate() {
            let after = if i + 1 == n { report.take() } else { None };
            self.cib_write(op, after, out);
        }
        if !failed {
            self.start_monitors(&q, r.rc, out);
        }
        if self.exec_origin.is_empty() {
            if let Some((dc, join)) = self.deferred_ack.take() {
                self.on_join_ack(now, &dc, join, out);
            }
        }
    }

    /// Recurring monitors for the role the resource now has.
    fn start_monitors(&mut self, q: &ExecRequest, rc: i32, out: &mut Vec<Action>) {
        let promoted = match (q.op.as_str(), q.interval_ms, rc) {
            ("start" | "demote", _, _) => false,
            ("promote", _, _) => true,
            ("monitor", 0, 0) => false,
            ("monitor", 0, 8) => true,
            _ => return,
        };
        let Some(cib) = self.model() else { return };
        let graph_id = q.rsc.clone();
        let Some(p) = find_primitive(&cib, &graph_id) else {
            return;
        };
        for (interval, _, _) in recurring_monitors(&cib, &p, !promoted) {
            let msg = LocalMsg::ExecCancel {
                rsc: q.rsc.clone(),
                op: "monitor".into(),
                interval_ms: interval.as_millis() as u64,
            };
            out.push(Action::Send {
                to: Daemon::Execd,
                msg,
            });
        }
        for (interval, timeout, expect) in recurring_monitors(&cib, &p, promoted) {
            let req = ExecRequest {
                rsc: q.rsc.clone(),
                agent: q.agent.clone(),
                op: "monitor".into(),
                interval_ms: interval.as_millis() as u64,
                timeout_ms: timeout.as_millis() as u64,
                params: q.params.clone(),
                key: format!("0:0:{expect}:{}", self.cfg.node),
            };
            out.push(Action::Send {
                to: Daemon::Execd,
                msg: LocalMsg::Exec(req),
            });
        }
    }
}
