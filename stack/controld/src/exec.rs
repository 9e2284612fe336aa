//! The node-local side: operations the DC asks this node to run go to the
//! executor; results are recorded in the status section and, once the CIB
//! has them, reported to the DC. After a successful start, promote or
//! demote (or a probe that finds the resource running) the controller
//! starts the recurring monitors of the new role, as the graph's monitor
//! actions would; recurring failures are reported to the DC. Operations
//! on a remote node whose connection this node hosts are relayed to that
//! node's executor and recorded under its node_state (see `remote`).

use std::time::Duration;

use hasim_pcmk_proto::{encode, Action, Daemon, ExecRequest, ExecResult, LocalMsg, RemoteMsg};

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
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn exec(
        &mut self,
        dc: String,
        transition: u64,
        action: usize,
        _target_rc: i32,
        req: ExecRequest,
        on: Option<String>,
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
        self.send_exec(on.as_deref(), req, out);
    }

    /// Hand an operation to the executor that runs it: a remote node's
    /// over its connection, a connection resource's to this controller's
    /// own remote connection agent, anything else to the local executor.
    pub(crate) fn send_exec(&mut self, on: Option<&str>, req: ExecRequest, out: &mut Vec<Action>) {
        let msg = match on {
            Some(node) => {
                self.note_relayed(node, &req);
                LocalMsg::Remote(RemoteMsg::Exec {
                    node: node.to_string(),
                    req,
                })
            }
            None if crate::remote::is_connection_agent(&req.agent) => {
                let now = self.now;
                return self.connection_op(now, req, out);
            }
            None => LocalMsg::Exec(req),
        };
        out.push(Action::Send {
            to: Daemon::Execd,
            msg,
        });
    }

    /// Cancel a recurring operation on the executor that runs it.
    fn send_cancel(
        &mut self,
        on: Option<&str>,
        rsc: &str,
        interval_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let (rsc, op) = (rsc.to_string(), "monitor".to_string());
        let msg = match on {
            Some(node) => LocalMsg::Remote(RemoteMsg::Cancel {
                node: node.to_string(),
                rsc,
                op,
                interval_ms,
            }),
            None if self.remotes.contains_key(&rsc) => {
                return self.cancel_connection_monitor(&rsc, out);
            }
            None => LocalMsg::ExecCancel {
                rsc,
                op,
                interval_ms,
            },
        };
        out.push(Action::Send {
            to: Daemon::Execd,
            msg,
        });
    }

    /// An operation finished on this node (`on` None) or on the remote
    /// node `on`: record it in that node's history, then report it.
    pub(crate) fn exec_done(
        &mut self,
        now: Duration,
        r: ExecResult,
        on: Option<&str>,
        out: &mut Vec<Action>,
    ) {
        let q = r.request.clone();
        let target_rc = target_rc_of(&q.key);
        let failed = is_failure(&q.op, q.interval_ms, r.rc, r.status, target_rc);
        let from = on.map_or_else(|| self.cfg.node.clone(), str::to_string);
        let report = match self.exec_origin.remove(&q.key) {
            Some(o) => Some(Wire::Result {
                from: from.clone(),
                dc: o.dc,
                transition: o.transition,
                action: o.action,
                ok: !failed,
                rc: r.rc,
            }),
            None if failed => Some(Wire::Failure {
                from,
                rsc: q.rsc.clone(),
                op: q.op.clone(),
                interval_ms: q.interval_ms,
                rc: r.rc,
            }),
            None => None,
        };
        let history = match on {
            Some(node) => match self.remotes.get_mut(node) {
                Some(link) => &mut link.history,
                None => return,
            },
            None => &mut self.history,
        };
        let ops = history.record(&r, &q.key, target_rc);
        let n = ops.len();
        let mut report = report.map(|w| AfterWrite::Multicast(encode(&w)));
        for (i, op) in ops.into_iter().enumerate() {
            let after = if i + 1 == n { report.take() } else { None };
            self.cib_write(op, after, out);
        }
        if !failed {
            self.start_monitors(&q, r.rc, on, out);
        }
        if self.exec_origin.is_empty() {
            if let Some((dc, join)) = self.deferred_ack.take() {
                self.on_join_ack(now, &dc, join, out);
            }
        }
    }

    /// Recurring monitors for the role the resource now has.
    fn start_monitors(
        &mut self,
        q: &ExecRequest,
        rc: i32,
        on: Option<&str>,
        out: &mut Vec<Action>,
    ) {
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
            self.send_cancel(on, &q.rsc, interval.as_millis() as u64, out);
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
            self.send_exec(on, req, out);
        }
    }
}
