//! Pacemaker Remote, the controller's side (controld_remote_ra.c): the
//! connection resource agent `ocf:pacemaker:remote` runs inside the
//! controller of the cluster node the DC places it on, not in the
//! executor. Its start opens the connection to the remote node's executor
//! (port 3121) and completes the handshake; its recurring monitor pokes the
//! executor and fails when no answer comes within the monitor's timeout or
//! the connection is lost; its stop closes the connection. While the
//! connection is up, this controller relays the remote node's operations
//! (the graph's router_node) and records their results under the remote
//! node's node_state, whose id is its name.
//!
//! The network itself is the node's business: the core asks with
//! [`RemoteMsg`] requests sent to the executor side and hears back with
//! [`RemoteMsg`] events.

use std::collections::BTreeMap;
use std::time::Duration;

use hasim_pcmk_proto::{
    wall_seconds, Action, AgentRef, CibOp, Daemon, Event, ExecRequest, ExecResult, LocalMsg,
    OpStatus, RemoteMsg,
};

use crate::core::Controld;
use crate::lrm::LrmHistory;

/// pacemaker_remoted's default port (`PCMK_remote_port`).
pub const REMOTE_PORT: u16 = 3121;

/// How long a failed connection attempt waits before the next while the
/// start's timeout has not run out (the remote RA retries its connect).
const RETRY: Duration = Duration::from_secs(1);

/// Whether an agent is the remote connection agent.
pub(crate) fn is_connection_agent(a: &AgentRef) -> bool {
    a.class == "ocf" && a.provider.as_deref() == Some("pacemaker") && a.kind == "remote"
}

/// One connection this controller hosts (or hosted), by remote node.
pub(crate) struct Link {
    /// The remote node's operation history as this controller recorded it.
    pub history: LrmHistory,
    up: bool,
    /// A start waiting for the handshake, and its deadline.
    start: Option<(ExecRequest, Duration)>,
    /// The connection's recurring monitor.
    monitor: Option<ExecRequest>,
    /// Whether the monitor's first result was reported (later ones only
    /// when they fail, as the executor reports recurring results).
    monitor_reported: bool,
    /// A poke waiting for its answer.
    poking: bool,
    /// Operations relayed to the remote executor, by transition key.
    relayed: BTreeMap<String, ExecRequest>,
    /// A migrate_to handed the connection to another cluster node: the
    /// stop that follows closes it without taking the remote node down.
    migrated_away: bool,
}

impl Link {
    fn new(node: &str) -> Link {
        Link {
            history: LrmHistory::remote(node),
            up: false,
            start: None,
            monitor: None,
            monitor_reported: false,
            poking: false,
            relayed: BTreeMap::new(),
            migrated_away: false,
        }
    }
}

fn to_link(msg: RemoteMsg) -> Action {
    Action::Send {
        to: Daemon::Execd,
        msg: LocalMsg::Remote(msg),
    }
}

impl Controld {
    fn link(&mut self, node: &str) -> &mut Link {
        self.remotes
            .entry(node.to_string())
            .or_insert_with(|| Link::new(node))
    }

    fn report_link(&self, remote: &str, state: &str, why: &str, out: &mut Vec<Action>) {
        out.push(Action::Report(Event::RemoteLink {
            node: self.cfg.node.clone(),
            remote: remote.to_string(),
            state: state.to_string(),
            why: why.to_string(),
        }));
    }

    /// Remember an operation relayed to a remote executor (to fail it if
    /// the connection drops before its result comes).
    pub(crate) fn note_relayed(&mut self, node: &str, req: &ExecRequest) {
        if self.exec_origin.contains_key(&req.key) {
            self.link(node).relayed.insert(req.key.clone(), req.clone());
        }
    }

    /// An operation of a connection resource, run here.
    pub(crate) fn connection_op(&mut self, now: Duration, req: ExecRequest, out: &mut Vec<Action>) {
        let node = req.rsc.clone();
        let up = self.link(&node).up;
        match (req.op.as_str(), req.interval_ms) {
            // A migration's target connects as a start would.
            ("start" | "migrate_from", _) => {
                let timeout = Duration::from_millis(req.timeout_ms);
                let server = req.params.get("server").cloned().unwrap_or(node.clone());
                let port = req
                    .params
                    .get("port")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(REMOTE_PORT);
                self.link(&node).start = Some((req, now + timeout));
                out.push(to_link(RemoteMsg::Connect {
                    node: node.clone(),
                    server,
                    port,
                }));
                self.set_timer(&format!("remote-start:{node}"), timeout, out);
            }
            ("migrate_to", _) => {
                self.link(&node).migrated_away = true;
                self.finish(now, req, 0, OpStatus::Done, out);
            }
            ("stop", _) => {
                let handed_over = std::mem::take(&mut self.link(&node).migrated_away);
                if up {
                    out.push(to_link(RemoteMsg::Disconnect { node: node.clone() }));
                    self.report_link(&node, "disconnected", "", out);
                    if !handed_over {
                        self.remote_node_state(&node, false, out);
                    }
                }
                self.link(&node).up = false;
                self.cancel_connection_monitor(&node, out);
                self.finish(now, req, 0, OpStatus::Done, out);
            }
            ("monitor", 0) => {
                let rc = if up { 0 } else { 7 };
                self.finish(now, req, rc, OpStatus::Done, out);
            }
            ("monitor", _) if up => {
                let link = self.link(&node);
                link.monitor = Some(req);
                link.monitor_reported = false;
                self.poke(&node, out);
            }
            ("monitor", _) => self.finish(now, req, 1, OpStatus::Error, out),
            _ => self.finish(now, req, 3, OpStatus::NotSupported, out),
        }
    }

    /// Stop the connection's recurring monitor.
    pub(crate) fn cancel_connection_monitor(&mut self, node: &str, out: &mut Vec<Action>) {
        let link = self.link(node);
        link.monitor = None;
        link.poking = false;
        self.cancel_timer(&format!("remote-monitor:{node}"), out);
        self.cancel_timer(&format!("remote-poke:{node}"), out);
    }

    fn poke(&mut self, node: &str, out: &mut Vec<Action>) {
        let Some(timeout) = self.link(node).monitor.as_ref().map(|m| m.timeout_ms) else {
            return;
        };
        self.link(node).poking = true;
        out.push(to_link(RemoteMsg::Poke {
            node: node.to_string(),
        }));
        let after = Duration::from_millis(timeout);
        self.set_timer(&format!("remote-poke:{node}"), after, out);
    }

    /// A connection operation's result, recorded and reported like any
    /// executor result of this node.
    fn finish(
        &mut self,
        now: Duration,
        req: ExecRequest,
        rc: i32,
        status: OpStatus,
        out: &mut Vec<Action>,
    ) {
        self.next_call += 1;
        let r = ExecResult {
            request: req,
            call_id: self.next_call,
            rc,
            status,
            exec_ms: 0,
            finished_at: wall_seconds(now),
        };
        self.exec_done(now, r, None, out);
    }

    /// What the node's connection layer reports.
    pub(crate) fn remote_event(&mut self, now: Duration, m: RemoteMsg, out: &mut Vec<Action>) {
        match m {
            RemoteMsg::Connected { node } => self.connected(now, &node, out),
            RemoteMsg::ConnectFailed { node, why } => {
                let Some((_, deadline)) = self.link(&node).start.clone() else {
                    return;
                };
                self.report_link(&node, "connect-failed", &why, out);
                if now + RETRY < deadline {
                    self.set_timer(&format!("remote-retry:{node}"), RETRY, out);
                }
            }
            RemoteMsg::Lost { node, why } => self.lost(now, &node, &why, out),
            RemoteMsg::Poked { node } => self.poked(&node, out),
            RemoteMsg::ExecDone { node, result } => {
                self.link(&node).relayed.remove(&result.request.key);
                self.exec_done(now, result, Some(&node), out);
            }
            _ => {}
        }
    }

    fn connected(&mut self, now: Duration, node: &str, out: &mut Vec<Action>) {
        let link = self.link(node);
        let Some((req, _)) = link.start.take() else {
            // Nobody is starting it (any more): close it again.
            out.push(to_link(RemoteMsg::Disconnect {
                node: node.to_string(),
            }));
            return;
        };
        link.up = true;
        link.relayed.clear();
        // A start purges the node's history (remote_node_up): the executor
        // may have restarted since anyone last heard from it. A migration
        // takes over a live connection's node, whose history stands.
        let purge = req.op == "start";
        if purge {
            link.history.clear();
        }
        self.cancel_timer(&format!("remote-start:{node}"), out);
        self.cancel_timer(&format!("remote-retry:{node}"), out);
        self.report_link(node, "connected", "", out);
        if purge {
            let path = format!("/cib/status/node_state[@id='{node}']/lrm[@id='{node}']");
            self.cib_write(CibOp::DeleteAt { path }, None, out);
        }
        let xml = format!("<node id=\"{node}\" uname=\"{node}\" type=\"remote\"/>");
        self.cib_anon_write(
            CibOp::Modify {
                section: "nodes".into(),
                xml,
            },
            out,
        );
        self.remote_node_state(node, true, out);
        self.finish(now, req, 0, OpStatus::Done, out);
    }

    /// The remote node's node_state as its connection leaves it.
    fn remote_node_state(&mut self, node: &str, up: bool, out: &mut Vec<Action>) {
        let (ccm, crmd) = if up {
            ("true", "online")
        } else {
            ("false", "offline")
        };
        let fenced = if up { " node_fenced=\"0\"" } else { "" };
        let xml = format!("<node_state id=\"{node}\" uname=\"{node}\" remote_node=\"true\" in_ccm=\"{ccm}\" crmd=\"{crmd}\"{fenced}/>");
        self.cib_write(
            CibOp::Modify {
                section: "status".into(),
                xml,
            },
            None,
            out,
        );
    }

    /// The connection dropped (or stopped answering): the monitor fails,
    /// and so does every operation relayed and not answered.
    fn lost(&mut self, now: Duration, node: &str, why: &str, out: &mut Vec<Action>) {
        let link = self.link(node);
        if !link.up {
            return;
        }
        link.up = false;
        link.poking = false;
        let relayed: Vec<ExecRequest> = std::mem::take(&mut link.relayed).into_values().collect();
        let monitor = link.monitor.clone();
        self.report_link(node, "lost", why, out);
        self.cancel_timer(&format!("remote-poke:{node}"), out);
        self.cancel_timer(&format!("remote-monitor:{node}"), out);
        for req in relayed {
            self.next_call += 1;
            let r = ExecResult {
                request: req,
                call_id: self.next_call,
                rc: 1,
                status: OpStatus::Error,
                exec_ms: 0,
                finished_at: wall_seconds(now),
            };
            self.exec_done(now, r, Some(node), out);
        }
        if let Some(m) = monitor {
            self.finish(now, m, 1, OpStatus::Error, out);
        }
    }

    fn poked(&mut self, node: &str, out: &mut Vec<Action>) {
        let link = self.link(node);
        if !link.poking {
            return;
        }
        link.poking = false;
        let first = !link.monitor_reported;
        link.monitor_reported = true;
        let Some(m) = link.monitor.clone() else {
            return;
        };
        self.cancel_timer(&format!("remote-poke:{node}"), out);
        let interval = Duration::from_millis(m.interval_ms);
        self.set_timer(&format!("remote-monitor:{node}"), interval, out);
        if first {
            let now = self.now;
            self.finish(now, m, 0, OpStatus::Done, out);
        }
    }

    /// `remote-KIND:NODE` timers.
    pub(crate) fn remote_timer(&mut self, now: Duration, rest: &str, out: &mut Vec<Action>) {
        let Some((kind, node)) = rest.split_once(':') else {
            return;
        };
        match kind {
            "start" => {
                if let Some((req, _)) = self.link(node).start.take() {
                    out.push(to_link(RemoteMsg::Disconnect {
                        node: node.to_string(),
                    }));
                    self.report_link(node, "connect-failed", "start timed out", out);
                    self.finish(now, req, 1, OpStatus::Timeout, out);
                }
            }
            "retry" => {
                if let Some((req, _)) = self.link(node).start.clone() {
                    let server = req.params.get("server").cloned();
                    let port = req.params.get("port").and_then(|p| p.parse().ok());
                    out.push(to_link(RemoteMsg::Connect {
                        node: node.to_string(),
                        server: server.unwrap_or_else(|| node.to_string()),
                        port: port.unwrap_or(REMOTE_PORT),
                    }));
                }
            }
            "monitor" if self.link(node).up => self.poke(node, out),
            "poke" if self.link(node).poking => {
                out.push(to_link(RemoteMsg::Disconnect {
                    node: node.to_string(),
                }));
                self.lost(
                    now,
                    node,
                    "no answer to a poke within the monitor timeout",
                    out,
                );
            }
            _ => {}
        }
    }

    /// Whether `name` is a remote node of the configuration (an
    /// `ocf:pacemaker:remote` primitive of that id).
    pub(crate) fn is_remote_node(&mut self, name: &str) -> bool {
        self.model().is_some_and(|cib| {
            crate::resources::find_primitive(&cib, name)
                .is_some_and(|p| is_connection_agent(&p.agent))
        })
    }

    /// DC: a remote node was fenced. Its history and attributes go, it is
    /// down, and `node_fenced` tells the scheduler the fencing happened so
    /// that the failed connection does not ask for it again.
    pub(crate) fn remote_fenced(&mut self, target: &str, out: &mut Vec<Action>) {
        let when = wall_seconds(self.now);
        let xml = format!("<node_state id=\"{target}\" uname=\"{target}\" remote_node=\"true\" in_ccm=\"false\" crmd=\"offline\" node_fenced=\"{when}\"/>");
        self.write_fenced_node(target, xml, out);
        if let Some(link) = self.remotes.get_mut(target) {
            link.history.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Config;
    use hasim_pcmk_proto::{Input, TimerId};

    fn request(op: &str, interval_ms: u64, timeout_ms: u64) -> ExecRequest {
        ExecRequest {
            rsc: "compute1".into(),
            agent: AgentRef {
                class: "ocf".into(),
                provider: Some("pacemaker".into()),
                kind: "remote".into(),
            },
            op: op.into(),
            interval_ms,
            timeout_ms,
            params: BTreeMap::from([("server".to_string(), "10.0.1.1".to_string())]),
            key: format!("3:1:0:{op}"),
        }
    }

    fn link_requests(out: &[Action]) -> Vec<RemoteMsg> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send {
                    msg: LocalMsg::Remote(m),
                    ..
                } => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    fn cib_writes(out: &[Action]) -> String {
        out.iter()
            .filter_map(|a| match a {
                Action::Send {
                    msg: LocalMsg::CibRequest(r),
                    ..
                } => Some(format!("{:?}", r.op)),
                _ => None,
            })
            .collect()
    }

    fn link_states(out: &[Action]) -> Vec<String> {
        out.iter()
            .filter_map(|a| match a {
                Action::Report(Event::RemoteLink { state, .. }) => Some(state.clone()),
                _ => None,
            })
            .collect()
    }

    /// Start connects and handshakes before it succeeds; the node then
    /// appears as a remote node; a poke left unanswered for the monitor's
    /// timeout loses the connection and fails the monitor.
    #[test]
    fn connection_start_monitor_and_loss() {
        let mut c = Controld::new(Config {
            node: "node1".into(),
            node_id: 1,
            nodelist: BTreeMap::from([(1, "node1".into())]),
            uptime_jitter_ms: 0,
        });
        let now = Duration::from_secs(30);
        c.now = now;
        let mut out = Vec::new();
        c.exec(
            "node2".into(),
            1,
            3,
            0,
            request("start", 0, 60_000),
            None,
            &mut out,
        );
        assert_eq!(
            link_requests(&out),
            [RemoteMsg::Connect {
                node: "compute1".into(),
                server: "10.0.1.1".into(),
                port: REMOTE_PORT,
            }]
        );
        assert!(
            cib_writes(&out).is_empty(),
            "nothing recorded before the handshake"
        );
        let connected = RemoteMsg::Connected {
            node: "compute1".into(),
        };
        let input = Input::Local {
            from: Daemon::Execd,
            msg: LocalMsg::Remote(connected),
        };
        let out = c.handle(now, input);
        assert_eq!(link_states(&out), ["connected"]);
        let writes = cib_writes(&out);
        assert!(writes.contains("remote_node=\\\"true\\\""), "{writes}");
        assert!(writes.contains("compute1_last_0"), "{writes}");
        let mut out = Vec::new();
        c.connection_op(now, request("monitor", 10_000, 2_000), &mut out);
        assert_eq!(
            link_requests(&out),
            [RemoteMsg::Poke {
                node: "compute1".into()
            }]
        );
        let later = now + Duration::from_secs(2);
        let out = c.handle(later, Input::Timer(TimerId::new("remote-poke:compute1")));
        assert_eq!(link_states(&out), ["lost"]);
        assert!(link_requests(&out).contains(&RemoteMsg::Disconnect {
            node: "compute1".into()
        }));
        let writes = cib_writes(&out);
        assert!(writes.contains("compute1_monitor_10000"), "{writes}");
        assert!(writes.contains("rc-code=\\\"1\\\""), "{writes}");
        // A probe now finds the connection down.
        let mut out = Vec::new();
        c.connection_op(later, request("monitor", 0, 2_000), &mut out);
        assert!(cib_writes(&out).contains("rc-code=\\\"7\\\""));
    }
}
