//! This node's operation history, written to the status section the way
//! Pacemaker's controller records it: one `lrm_rsc_op` per resource for the
//! last non-recurring operation (`RSC_last_0`), one per recurring operation
//! (`RSC_monitor_10000`) and one for the last failure
//! (`RSC_last_failure_0`), with call-id, rc-code, op-status, interval,
//! transition key and magic, and op-digest.

use std::collections::BTreeMap;

use hasim_pcmk_proto::{AgentRef, CibOp, ExecResult, NodeId, OpStatus};
use hasim_scheduler::digest::params_digest;

/// Whether a result is a failure given the rc the transition expected.
/// Probes (monitor, interval 0) only fail on rc other than 0, 7 or 8.
pub fn is_failure(op: &str, interval_ms: u64, rc: i32, status: OpStatus, target_rc: i32) -> bool {
    if status != OpStatus::Done {
        return true;
    }
    if op == "monitor" && interval_ms == 0 {
        return !matches!(rc, 0 | 7 | 8);
    }
    rc != target_rc
}

#[derive(Debug, Clone, Default)]
struct RscHist {
    agent: Option<AgentRef>,
    ops: BTreeMap<String, Vec<(String, String)>>,
}

/// One node's history of every resource.
#[derive(Debug, Clone)]
pub struct LrmHistory {
    node: String,
    /// The node_state id: the corosync node id of a cluster node, the
    /// node name of a remote node.
    node_id: String,
    rscs: BTreeMap<String, RscHist>,
}

fn esc(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

impl LrmHistory {
    pub fn new(node: &str, node_id: NodeId) -> LrmHistory {
        LrmHistory::with_id(node, &node_id.to_string())
    }

    /// A remote node's history: its node_state id is its name.
    pub fn remote(node: &str) -> LrmHistory {
        LrmHistory::with_id(node, node)
    }

    fn with_id(node: &str, id: &str) -> LrmHistory {
        LrmHistory {
            node: node.to_string(),
            node_id: id.to_string(),
            rscs: BTreeMap::new(),
        }
    }

    fn lrm_path(&self) -> String {
        format!(
            "/cib/status/node_state[@id='{0}']/lrm[@id='{0}']",
            self.node_id
        )
    }

    fn op_attrs(&self, r: &ExecResult, id: &str, key: &str) -> Vec<(String, String)> {
        let q = &r.request;
        let pairs = [
            ("id", id.to_string()),
            (
                "operation_key",
                format!("{}_{}_{}", q.rsc, q.op, q.interval_ms),
            ),
            ("operation", q.op.clone()),
            ("crm-debug-origin", "do_update_resource".into()),
            ("crm_feature_set", "3.16.2".into()),
            ("transition-key", key.to_string()),
            (
                "transition-magic",
                format!("{}:{};{}", r.status as i32, r.rc, key),
            ),
            ("exit-reason", String::new()),
            ("on_node", self.node.clone()),
            ("call-id", r.call_id.to_string()),
            ("rc-code", r.rc.to_string()),
            ("op-status", (r.status as i32).to_string()),
            ("interval", q.interval_ms.to_string()),
            ("last-rc-change", r.finished_at.to_string()),
            ("last-run", r.finished_at.to_string()),
            ("exec-time", r.exec_ms.to_string()),
            ("queue-time", "0".into()),
            ("op-digest", params_digest(&q.params)),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Record a result; returns the CIB operations that write it.
    pub fn record(&mut self, r: &ExecResult, key: &str, target_rc: i32) -> Vec<CibOp> {
        let q = &r.request;
        let mut ops = Vec::new();
        let failed = is_failure(&q.op, q.interval_ms, r.rc, r.status, target_rc);
        let main_id = if q.interval_ms > 0 {
            format!("{}_{}_{}", q.rsc, q.op, q.interval_ms)
        } else {
            format!("{}_last_0", q.rsc)
        };
        let main = self.op_attrs(r, &main_id, key);
        let failure = failed.then(|| self.op_attrs(r, &format!("{}_last_failure_0", q.rsc), key));
        let path = format!(
            "{}/lrm_resources[1]/lrm_resource[@id='{}']",
            self.lrm_path(),
            q.rsc
        );
        let h = self.rscs.entry(q.rsc.clone()).or_default();
        h.agent = Some(q.agent.clone());
        if q.op == "stop" && !failed {
            let recurring: Vec<String> = h
                .ops
                .keys()
                .filter(|k| k.contains("_monitor_") && !k.ends_with("_0"))
                .cloned()
                .collect();
            for id in recurring {
                h.ops.remove(&id);
                ops.push(CibOp::DeleteAt {
                    path: format!("{path}/lrm_rsc_op[@id='{id}']"),
                });
            }
        }
        h.ops.insert(main_id, main);
        if let Some(f) = failure {
            h.ops.insert(f[0].1.clone(), f);
        }
        ops.push(CibOp::Modify {
            section: "status".into(),
            xml: self.node_state_xml(Some(&q.rsc)),
        });
        ops
    }

    /// Forget everything (the node restarted: its executor knows nothing).
    pub fn clear(&mut self) {
        self.rscs.clear();
    }

    /// Replace this node's whole history in the CIB (at join).
    pub fn full_update(&self) -> Vec<CibOp> {
        vec![
            CibOp::DeleteAt {
                path: self.lrm_path(),
            },
            CibOp::Modify {
                section: "status".into(),
                xml: self.node_state_xml(None),
            },
        ]
    }

    /// `<node_state>` with the history of one resource or of all.
    pub fn node_state_xml(&self, only: Option<&str>) -> String {
        let id = esc(&self.node_id);
        let mut x = format!(
            "<node_state id=\"{id}\" uname=\"{}\"><lrm id=\"{id}\"><lrm_resources>",
            esc(&self.node)
        );
        for (rsc, h) in &self.rscs {
            if only.is_some_and(|o| o != rsc) {
                continue;
            }
            x.push_str(&format!("<lrm_resource id=\"{}\"", esc(rsc)));
            if let Some(a) = &h.agent {
                x.push_str(&format!(
                    " type=\"{}\" class=\"{}\"",
                    esc(&a.kind),
                    esc(&a.class)
                ));
                if let Some(p) = &a.provider {
                    x.push_str(&format!(" provider=\"{}\"", esc(p)));
                }
            }
            x.push('>');
            for attrs in h.ops.values() {
                x.push_str("<lrm_rsc_op");
                for (k, v) in attrs {
                    x.push_str(&format!(" {k}=\"{}\"", esc(v)));
                }
                x.push_str("/>");
            }
            x.push_str("</lrm_resource>");
        }
        x.push_str("</lrm_resources></lrm></node_state>");
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasim_cib::Cib;
    use hasim_pcmk_proto::ExecRequest;

    fn result(op: &str, interval_ms: u64, rc: i32, call_id: u64) -> ExecResult {
        ExecResult {
            request: ExecRequest {
                rsc: "d".into(),
                agent: AgentRef {
                    class: "ocf".into(),
                    provider: Some("pacemaker".into()),
                    kind: "Dummy".into(),
                },
                op: op.into(),
                interval_ms,
                timeout_ms: 20_000,
                params: BTreeMap::new(),
                key: String::new(),
            },
            call_id,
            rc,
            status: OpStatus::Done,
            exec_ms: 10,
            finished_at: 1_800_000_100,
        }
    }

    #[test]
    fn history_reads_back_as_pacemaker_status() {
        let mut h = LrmHistory::new("n1", 1);
        h.record(&result("start", 0, 0, 3), "5:1:0:uuid", 0);
        h.record(&result("monitor", 10_000, 0, 4), "6:1:0:uuid", 0);
        let ops = h.record(&result("monitor", 10_000, 7, 5), "6:1:0:uuid", 0);
        assert!(matches!(&ops[0], CibOp::Modify { .. }));
        let xml = format!("<cib><configuration><crm_config/><nodes/><resources/><constraints/></configuration><status>{}</status></cib>", h.node_state_xml(None));
        let cib = Cib::from_xml(&xml).unwrap();
        let lrm = cib.status[0].lrm.as_ref().unwrap();
        let ids: Vec<&str> = lrm[0].ops.iter().map(|o| o.id()).collect();
        assert_eq!(ids, ["d_last_0", "d_last_failure_0", "d_monitor_10000"]);
        let fail = &lrm[0].ops[1];
        assert_eq!(
            (
                fail.rc_code(),
                fail.interval_ms(),
                fail.call_id(),
                fail.target_rc()
            ),
            (7, 10_000, 5, Some(0))
        );
        let stop = h.record(&result("stop", 0, 0, 6), "7:2:0:uuid", 0);
        assert!(
            matches!(&stop[0], CibOp::DeleteAt { path } if path.ends_with("lrm_rsc_op[@id='d_monitor_10000']"))
        );
        assert!(
            is_failure("monitor", 0, 1, OpStatus::Done, 7)
                && !is_failure("monitor", 0, 0, OpStatus::Done, 7)
        );
    }
}
