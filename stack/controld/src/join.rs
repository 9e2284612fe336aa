//! The DC's join (controld_join_dc.c / controld_join_client.c): offer,
//! requests carrying each node's CIB version, finalization that makes the
//! newest CIB everyone's (sync from the node holding it), node_state
//! updates, and confirmations carrying each node's operation history.

use std::time::Duration;

use hasim_pcmk_proto::{encode, Action, CibOp, CibVersion, Daemon, LocalMsg};

use crate::core::{AfterWrite, Controld, State};
use crate::wire::Wire;

impl Controld {
    /// Start an integration round: offer membership to every peer.
    pub(crate) fn offer(&mut self, _now: Duration, out: &mut Vec<Action>) {
        self.set_state(State::Integration, out);
        self.join_id += 1;
        self.join_requests.clear();
        self.join_acked.clear();
        self.join_confirmed.clear();
        self.run = None;
        self.cancel_timer("finalization", out);
        self.set_timer("integration", self.opts.join_integration_timeout, out);
        self.multicast(
            &Wire::JoinOffer {
                dc: self.cfg.node.clone(),
                join: self.join_id,
            },
            out,
        );
    }

    pub(crate) fn on_offer(&mut self, now: Duration, dc: String, join: u64, out: &mut Vec<Action>) {
        if self.state == State::Starting {
            return;
        }
        if dc != self.cfg.node {
            if self.state.is_dc() {
                // Another DC: the partitions merged.
                self.start_election(now, out);
                return;
            }
            self.cancel_timer("election-trigger", out);
            self.cancel_timer("election-timeout", out);
            self.set_state(State::NotDc, out);
            self.set_dc(Some(dc.clone()), out);
        }
        let req = Wire::JoinRequest {
            from: self.cfg.node.clone(),
            dc,
            join,
            version: self.cib_version,
        };
        self.multicast(&req, out);
    }

    pub(crate) fn on_join_request(
        &mut self,
        now: Duration,
        from: String,
        dc: &str,
        join: u64,
        version: CibVersion,
        out: &mut Vec<Action>,
    ) {
        if dc != self.cfg.node || join != self.join_id || self.state != State::Integration {
            return;
        }
        self.join_requests.insert(from, version);
        self.check_integrated(now, out);
    }

    pub(crate) fn check_integrated(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.state == State::Integration
            && self
                .member_names()
                .iter()
                .all(|n| self.join_requests.contains_key(n))
        {
            self.finalize(now, out);
        }
    }

    /// Make the newest CIB everyone's, then acknowledge the joiners.
    pub(crate) fn finalize(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.cancel_timer("integration", out);
        self.set_state(State::FinalizeJoin, out);
        self.set_timer("finalization", self.opts.join_finalization_timeout, out);
        let me = self.cfg.node.clone();
        let best = self
            .join_requests
            .iter()
            .filter(|(n, _)| self.members.contains(&self.id_of(n).unwrap_or(0)))
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| (*a.0 == me).cmp(&(*b.0 == me))))
            .map(|(n, v)| (n.clone(), *v));
        match best {
            Some((node, v)) if node != me && v > self.cib_version => {
                self.awaiting_sync = Some(v);
                out.push(Action::Send {
                    to: Daemon::Based,
                    msg: LocalMsg::CibSync { from: Some(node) },
                });
            }
            _ => {
                out.push(Action::Send {
                    to: Daemon::Based,
                    msg: LocalMsg::CibSync { from: None },
                });
                self.send_join_acks(now, out);
            }
        }
    }

    fn node_state_xml(&self, id: u32, name: &str, online: bool) -> String {
        if online {
            format!("<node_state id=\"{id}\" uname=\"{name}\" in_ccm=\"true\" crmd=\"online\" crm-debug-origin=\"do_state_transition\" join=\"member\" expected=\"member\"/>")
        } else {
            format!("<node_state id=\"{id}\" uname=\"{name}\" in_ccm=\"false\" crmd=\"offline\" crm-debug-origin=\"do_state_transition\" join=\"down\"/>")
        }
    }

    fn has_node_state(&self, id: u32) -> bool {
        let id = id.to_string();
        self.cib
            .as_ref()
            .and_then(|c| c.child("status"))
            .is_some_and(|st| {
                st.children
                    .iter()
                    .any(|ns| ns.attr("id") == Some(id.as_str()))
            })
    }

    /// controld_membership.c `populate_cib_nodes`: the DC rewrites the
    /// node list and the state of every node it knows, as two updates with
    /// callbacks (so the scheduler's next CIB query may find them pending).
    /// `after_join`: on S_FINALIZE_JOIN -> S_POLICY_ENGINE, with each
    /// node's join state (node_update_all); otherwise after a membership
    /// change, membership and peer state only. Only nodes that already
    /// have a node_state are written; a new node gets its own at its join.
    pub(crate) fn populate_cib_nodes(&mut self, after_join: bool, out: &mut Vec<Action>) {
        let members = self.member_names();
        let known: Vec<(u32, String)> = self
            .cfg
            .nodelist
            .iter()
            .filter(|(id, _)| self.has_node_state(**id))
            .map(|(i, n)| (*i, n.clone()))
            .collect();
        if known.is_empty() {
            return;
        }
        let mut nodes = String::from("<nodes>");
        let mut status = String::from("<status>");
        for (id, name) in &known {
            let member = members.contains(name);
            nodes.push_str(&format!("<node id=\"{id}\" uname=\"{name}\"/>"));
            if after_join {
                let online = member && self.join_requests.contains_key(name);
                status.push_str(&self.node_state_xml(*id, name, online));
            } else {
                let (ccm, crmd) = if member {
                    ("true", "online")
                } else {
                    ("false", "offline")
                };
                status.push_str(&format!(
                    "<node_state id=\"{id}\" uname=\"{name}\" in_ccm=\"{ccm}\" crmd=\"{crmd}\"/>"
                ));
            }
        }
        nodes.push_str("</nodes>");
        status.push_str("</status>");
        let section = "nodes".to_string();
        self.cib_write(
            CibOp::Modify {
                section,
                xml: nodes,
            },
            None,
            out,
        );
        let section = "status".to_string();
        self.cib_write(
            CibOp::Modify {
                section,
                xml: status,
            },
            None,
            out,
        );
    }

    pub(crate) fn send_join_acks(&mut self, _now: Duration, out: &mut Vec<Action>) {
        let nodes: Vec<(u32, String)> = self
            .cfg
            .nodelist
            .iter()
            .map(|(i, n)| (*i, n.clone()))
            .collect();
        let members = self.member_names();
        for (id, name) in nodes {
            let online = members.contains(&name) && self.join_requests.contains_key(&name);
            // A node never seen keeps no node_state: the scheduler treats it
            // as unseen (startup-fencing applies), as in Pacemaker.
            if !online && !self.has_node_state(id) {
                continue;
            }
            if online {
                // The DC enters every member in the configuration's nodes
                // section (Pacemaker's populate_cib_nodes): the scheduler
                // places resources only on configured nodes.
                let xml = format!("<node id=\"{id}\" uname=\"{name}\"/>");
                let section = "nodes".into();
                self.cib_anon_write(CibOp::Modify { section, xml }, out);
            }
            let xml = self.node_state_xml(id, &name, online);
            self.cib_anon_write(
                CibOp::Modify {
                    section: "status".into(),
                    xml,
                },
                out,
            );
        }
        let have_quorum = if self.quorate { "1" } else { "0" };
        let attrs = format!(
            // The DC stamps its feature set (Pacemaker 2.1.5's), which also
            // selects per-operation fail-count names in the scheduler.
            "<cib have-quorum=\"{have_quorum}\" dc-uuid=\"{}\" crm_feature_set=\"3.16.2\"/>",
            self.cfg.node_id
        );
        self.cib_anon_write(
            CibOp::Modify {
                section: "cib".into(),
                xml: attrs,
            },
            out,
        );
        self.join_acked = self.join_requests.keys().cloned().collect();
        self.multicast(
            &Wire::JoinAck {
                dc: self.cfg.node.clone(),
                join: self.join_id,
            },
            out,
        );
    }

    /// A joiner writes its own history, then confirms. While operations a
    /// DC asked for are still running here, the write (and so the DC's
    /// next scheduler run) waits for their results: the history would
    /// otherwise hide a start in flight, and the new DC would start the
    /// resource a second time elsewhere. Pacemaker 2.1 avoids that by
    /// recording pending operations in the CIB (record-pending, default
    /// true), which hasim does not model; waiting gives the DC the same
    /// knowledge.
    pub(crate) fn on_join_ack(
        &mut self,
        _now: Duration,
        dc: &str,
        join: u64,
        out: &mut Vec<Action>,
    ) {
        if self.dc.as_deref() != Some(dc) {
            return;
        }
        if !self.exec_origin.is_empty() {
            self.deferred_ack = Some((dc.to_string(), join));
            return;
        }
        self.deferred_ack = None;
        let ops = self.history.full_update();
        let confirm = Wire::JoinConfirm {
            from: self.cfg.node.clone(),
            dc: dc.to_string(),
            join,
        };
        let n = ops.len();
        for (i, op) in ops.into_iter().enumerate() {
            let after = (i + 1 == n).then(|| AfterWrite::Multicast(encode(&confirm)));
            self.cib_write(op, after, out);
        }
    }

    pub(crate) fn on_join_confirm(
        &mut self,
        _now: Duration,
        from: String,
        dc: &str,
        join: u64,
        out: &mut Vec<Action>,
    ) {
        if dc != self.cfg.node || join != self.join_id || self.state != State::FinalizeJoin {
            return;
        }
        self.join_confirmed.insert(from);
        let members = self.member_names();
        let done = self
            .join_acked
            .iter()
            .filter(|n| members.contains(*n))
            .all(|n| self.join_confirmed.contains(n));
        if done {
            self.cancel_timer("finalization", out);
            // S_FINALIZE_JOIN -> S_POLICY_ENGINE refreshes the node list
            // and every node's state, then the scheduler queries the CIB.
            self.set_state(State::PolicyEngine, out);
            self.populate_cib_nodes(true, out);
            self.pe_invoke("Join complete", out);
        }
    }
}
