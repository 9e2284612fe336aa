//! The DC's policy and transition engines: run the scheduler on the live
//! CIB, execute the graph, handle results, lost actions, failures, node
//! loss and fencing, and re-schedule after an abort.

use std::time::Duration;

use hasim_pcmk_proto::{
    wall_seconds, Action, AttrValue, CibOp, Daemon, Event, ExecRequest, LocalMsg,
};

use crate::core::{Controld, State};
use crate::graph::{ActState, Run};
use crate::options::parse_duration;
use crate::resources::{find_primitive, lrm_id, op_timeout};
use crate::wire::Wire;

const RESOURCE_TASKS: [&str; 5] = ["start", "stop", "monitor", "promote", "demote"];

impl Controld {
    /// Something changed that may need new actions.
    pub(crate) fn trigger(&mut self, now: Duration, why: &str, out: &mut Vec<Action>) {
        match self.state {
            State::Idle | State::PolicyEngine => self.pe_invoke(why, out),
            State::TransitionEngine => self.abort(now, why, out),
            _ => {}
        }
    }

    pub(crate) fn abort(&mut self, now: Duration, why: &str, out: &mut Vec<Action>) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if run.aborted.is_none() {
            run.aborted = Some(why.to_string());
        }
        if self.pending_trigger.is_none() {
            self.pending_trigger = Some(why.to_string());
        }
        if run.finished() {
            self.transition_done(now, out);
        }
    }

    /// An abort that starts no new transition (Pacemaker's
    /// `pcmk__graph_wait`): the graph stops and the controller goes idle
    /// until something else triggers the scheduler.
    fn abort_and_wait(&mut self, now: Duration, why: &str, out: &mut Vec<Action>) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if run.aborted.is_none() {
            run.aborted = Some(why.to_string());
        }
        if run.finished() {
            self.transition_done(now, out);
        }
    }

    /// controld_fencing.c `too_many_st_failures` for one target: true once
    /// its failures reach stonith-max-attempts, reported each time.
    fn too_many_fence_failures(&mut self, target: &str, out: &mut Vec<Action>) -> bool {
        let failures = self.fence_failures.get(target).copied().unwrap_or(0);
        if failures < self.opts.stonith_max_attempts {
            return false;
        }
        out.push(Action::Report(Event::FenceGiveUp {
            dc: self.cfg.node.clone(),
            target: target.to_string(),
            failures,
        }));
        true
    }

    /// Run the scheduler on the CIB (once `pe_invoke`'s query is answered).
    pub(crate) fn run_scheduler(&mut self, now: Duration, why: &str, out: &mut Vec<Action>) {
        self.set_state(State::PolicyEngine, out);
        self.pending_trigger = None;
        let Some(cib) = self.model() else {
            self.set_state(State::Idle, out);
            return;
        };
        let mut cib = (*cib).clone();
        let set = |cib: &mut hasim_cib::Cib, k: &str, v: String| {
            cib.attrs.retain(|(n, _)| n != k);
            cib.attrs.push((k.to_string(), v));
        };
        set(&mut cib, "execution-date", wall_seconds(now).to_string());
        set(
            &mut cib,
            "have-quorum",
            if self.quorate { "1" } else { "0" }.to_string(),
        );
        let graph = hasim_scheduler::schedule(&cib);
        self.transition_seq += 1;
        let run = Run::new(self.transition_seq, graph.actions, &graph.edges);
        out.push(Action::Report(Event::Transition {
            dc: self.cfg.node.clone(),
            id: run.id,
            trigger: why.to_string(),
            summary: graph.summary,
            actions: run.describe(),
        }));
        self.run = Some(run);
        self.set_state(State::TransitionEngine, out);
        self.fire(now, out);
    }

    /// Fire what can fire; finish the transition when nothing remains.
    pub(crate) fn fire(&mut self, now: Duration, out: &mut Vec<Action>) {
        loop {
            let (batch, per_node) = (self.opts.batch_limit, self.opts.node_action_limit);
            let Some(run) = self.run.as_mut() else { return };
            let fired = run.fire(batch, per_node);
            if fired.is_empty() {
                break;
            }
            let mut sync_done = false;
            for i in fired {
                sync_done |= self.dispatch(now, i, out);
            }
            if !sync_done {
                break;
            }
        }
        if self.run.as_ref().is_some_and(|r| r.finished()) {
            self.transition_done(now, out);
        }
    }

    /// Start one action; true if it completed at once.
    fn dispatch(&mut self, now: Duration, i: usize, out: &mut Vec<Action>) -> bool {
        let Some(run) = self.run.as_ref() else {
            return false;
        };
        let a = run.actions[i].clone();
        let tid = run.id;
        if a.task == "stonith" {
            if let Some(target) = a.node.clone() {
                self.fencing.insert(target.clone(), i);
                out.push(Action::Report(Event::FenceRequested {
                    dc: self.cfg.node.clone(),
                    target: target.clone(),
                    delay: a.fence_delay,
                }));
                out.push(Action::Send {
                    to: Daemon::Fenced,
                    msg: LocalMsg::FenceRequest {
                        target,
                        action: "reboot".into(),
                        delay: a.fence_delay,
                    },
                });
                let limit = self.opts.stonith_timeout + self.opts.cluster_delay;
                self.set_timer(&format!("lost:{tid}:{i}"), limit, out);
                return false;
            }
        }
        let (Some(rsc), Some(node)) = (a.resource.clone(), a.node.clone()) else {
            return self.complete_now(i, true);
        };
        let model = self.model();
        let prim = model.as_ref().and_then(|m| find_primitive(m, &rsc));
        let (Some(model), Some(p)) = (model, prim) else {
            return self.complete_now(i, true);
        };
        let connection_migration = crate::remote::is_connection_agent(&p.agent)
            && matches!(a.task.as_str(), "migrate_to" | "migrate_from");
        if !RESOURCE_TASKS.contains(&a.task.as_str()) && !connection_migration {
            return self.complete_now(i, true);
        }
        let timeout = op_timeout(&model, &p, &a.task, Duration::ZERO);
        let target_rc = if a.task == "monitor" { 7 } else { 0 };
        let req = ExecRequest {
            rsc: lrm_id(&p, &rsc),
            agent: p.agent.clone(),
            op: a.task.clone(),
            interval_ms: 0,
            timeout_ms: timeout.as_millis() as u64,
            params: p.params.clone(),
            key: format!("{i}:{tid}:{target_rc}:{}", self.cfg.node),
        };
        // An action on a remote node goes to the cluster node hosting its
        // connection, which relays it (the graph's router_node).
        let (target, on) = match a.router_node.clone() {
            Some(router) => (router, Some(node)),
            None => (node, None),
        };
        let w = Wire::Exec {
            dc: self.cfg.node.clone(),
            transition: tid,
            action: i,
            target,
            target_rc,
            req,
            on,
        };
        self.multicast(&w, out);
        self.set_timer(
            &format!("lost:{tid}:{i}"),
            timeout + self.opts.cluster_delay,
            out,
        );
        let _ = now;
        false
    }

    fn complete_now(&mut self, i: usize, ok: bool) -> bool {
        if let Some(run) = self.run.as_mut() {
            run.complete(i, ok);
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_result(
        &mut self,
        now: Duration,
        from: &str,
        tid: u64,
        i: usize,
        ok: bool,
        rc: i32,
        out: &mut Vec<Action>,
    ) {
        let Some(run) = self.run.as_mut() else { return };
        if run.id != tid || run.states.get(i) != Some(&ActState::InFlight) {
            return;
        }
        let a = run.actions[i].clone();
        run.complete(i, ok);
        self.cancel_timer(&format!("lost:{tid}:{i}"), out);
        let rsc = a.resource.clone().unwrap_or_default();
        if !ok {
            let lrm = self
                .model()
                .and_then(|m| find_primitive(&m, &rsc).map(|p| lrm_id(&p, &rsc)))
                .unwrap_or(rsc);
            self.record_failure(now, from, &lrm, &a.task, 0, rc, out);
            self.abort(now, "Event failed", out);
        } else if a.task == "monitor" && rc != 7 {
            self.abort(now, "Probe found the resource active", out);
        }
        self.fire(now, out);
    }

    /// Update fail-count and last-failure through the attribute manager.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_failure(
        &mut self,
        now: Duration,
        node: &str,
        rsc: &str,
        op: &str,
        interval_ms: u64,
        rc: i32,
        out: &mut Vec<Action>,
    ) {
        let _ = rc;
        let suffix = format!("{rsc}#{op}_{interval_ms}");
        let value = if op == "start" && self.opts.start_failure_is_fatal {
            AttrValue::Set("INFINITY".into())
        } else {
            AttrValue::Increment
        };
        let update = |name: String, value| LocalMsg::AttrUpdate {
            target: node.to_string(),
            name,
            value,
            dampen: None,
        };
        out.push(Action::Send {
            to: Daemon::Attrd,
            msg: update(format!("fail-count-{suffix}"), value),
        });
        let when = AttrValue::Set(wall_seconds(now).to_string());
        out.push(Action::Send {
            to: Daemon::Attrd,
            msg: update(format!("last-failure-{suffix}"), when),
        });
    }

    pub(crate) fn action_lost(&mut self, now: Duration, key: &str, out: &mut Vec<Action>) {
        let mut parts = key.split(':').filter_map(|p| p.parse::<u64>().ok());
        let (Some(tid), Some(i)) = (parts.next(), parts.next()) else {
            return;
        };
        let Some(run) = self.run.as_mut() else { return };
        let i = i as usize;
        if run.id != tid || run.states.get(i) != Some(&ActState::InFlight) {
            return;
        }
        let desc = format!(
            "{} {} on {}",
            run.actions[i].task,
            run.actions[i].resource.as_deref().unwrap_or("-"),
            run.actions[i].node.as_deref().unwrap_or("-")
        );
        run.complete(i, false);
        self.fencing.retain(|_, a| *a != i);
        out.push(Action::Report(Event::ActionLost {
            dc: self.cfg.node.clone(),
            id: tid,
            action: desc,
        }));
        self.abort(now, "Action lost", out);
        self.fire(now, out);
    }

    pub(crate) fn transition_done(&mut self, now: Duration, out: &mut Vec<Action>) {
        let Some(run) = self.run.take() else { return };
        let outcome = match &run.aborted {
            Some(why) => format!("aborted: {why}"),
            None => "complete".to_string(),
        };
        out.push(Action::Report(Event::TransitionDone {
            dc: self.cfg.node.clone(),
            id: run.id,
            outcome,
        }));
        match self.pending_trigger.take() {
            Some(why) => self.pe_invoke(&why, out),
            None => {
                self.set_state(State::Idle, out);
                let after = self.recheck_after(now);
                self.set_timer("recheck", after, out);
            }
        }
    }

    /// When to run the scheduler again unprompted: the cluster recheck
    /// interval, or sooner when a failure-timeout expires.
    fn recheck_after(&mut self, now: Duration) -> Duration {
        let mut after = self.opts.cluster_recheck_interval;
        let Some(cib) = self.model() else {
            return after;
        };
        let timeouts: Vec<i64> = cib
            .resources
            .iter()
            .flat_map(|r| r.sets.iter())
            .chain(cib.rsc_defaults.iter())
            .flat_map(|s| s.nvpairs.iter())
            .filter(|nv| nv.name == "failure-timeout")
            .filter_map(|nv| nv.value.as_deref().and_then(parse_duration))
            .map(|d| d.as_secs() as i64)
            .filter(|s| *s > 0)
            .collect();
        let Some(ft) = timeouts.into_iter().min() else {
            return after;
        };
        let wall = wall_seconds(now);
        for ns in &cib.status {
            for (k, v) in ns.transient_attributes() {
                let Some(t) = k
                    .starts_with("last-failure-")
                    .then(|| v.parse::<i64>().ok())
                    .flatten()
                else {
                    continue;
                };
                let expiry = t + ft + 1;
                if expiry > wall {
                    after = after.min(Duration::from_secs((expiry - wall) as u64));
                }
            }
        }
        after
    }

    /// DC: a peer left without a clean shutdown.
    pub(crate) fn node_lost(&mut self, now: Duration, name: &str, out: &mut Vec<Action>) {
        let Some(id) = self.id_of(name) else { return };
        // peer_update_callback's node_state update is anonymous; the
        // transient attributes' deletion registers a callback.
        let xml = format!("<node_state id=\"{id}\" uname=\"{name}\" in_ccm=\"false\" crmd=\"offline\" join=\"down\"/>");
        self.cib_anon_write(
            CibOp::Modify {
                section: "status".into(),
                xml,
            },
            out,
        );
        let path = format!("/cib/status/node_state[@id='{id}']/transient_attributes[@id='{id}']");
        self.cib_write(CibOp::DeleteAt { path }, None, out);
        out.push(Action::Send {
            to: Daemon::Attrd,
            msg: LocalMsg::AttrPurgeNode {
                target: name.to_string(),
            },
        });
        if let Some(run) = self.run.as_mut() {
            for i in 0..run.actions.len() {
                if run.states[i] == ActState::InFlight
                    && run.actions[i].node.as_deref() == Some(name)
                    && run.actions[i].task != "stonith"
                {
                    run.complete(i, false);
                }
            }
        }
        // Abort now; the scheduler runs once the node_state update is in
        // the CIB (a status change the DC recomputes on).
        self.abort(now, "Node failure", out);
        self.fire(now, out);
    }

    /// The fencer's answer: success makes the node's resources safe to
    /// recover (its history and attributes are erased, it is down).
    pub(crate) fn fence_result(
        &mut self,
        now: Duration,
        target: &str,
        ok: bool,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::Report(Event::FenceDone {
            dc: self.cfg.node.clone(),
            target: target.to_string(),
            ok,
        }));
        if ok {
            self.fence_failures.remove(target);
        } else {
            *self.fence_failures.entry(target.to_string()).or_insert(0) += 1;
        }
        if ok && self.is_remote_node(target) {
            self.remote_fenced(target, out);
        } else if ok {
            if let Some(id) = self.id_of(target) {
                let xml = format!("<node_state id=\"{id}\" uname=\"{target}\" in_ccm=\"false\" crmd=\"offline\" join=\"down\" expected=\"down\"/>");
                self.write_fenced_node(&id.to_string(), xml, out);
            }
        }
        if let Some(i) = self.fencing.remove(target) {
            if let Some(run) = self.run.as_mut() {
                run.complete(i, ok);
                let tid = run.id;
                self.cancel_timer(&format!("lost:{tid}:{i}"), out);
            }
            if !ok {
                if self.too_many_fence_failures(target, out) {
                    self.abort_and_wait(now, "Stonith failed", out);
                } else {
                    self.abort(now, "Fencing failed", out);
                }
            }
            self.fire(now, out);
        }
    }
}

impl Controld {
    /// A fenced node's status: its `node_state` as given, and its operation
    /// history and transient attributes erased (they died with it).
    pub(crate) fn write_fenced_node(
        &mut self,
        id: &str,
        node_state: String,
        out: &mut Vec<Action>,
    ) {
        self.cib_write(
            CibOp::Modify {
                section: "status".into(),
                xml: node_state,
            },
            None,
            out,
        );
        for what in ["lrm", "transient_attributes"] {
            let path = format!("/cib/status/node_state[@id='{id}']/{what}[@id='{id}']");
            self.cib_write(CibOp::DeleteAt { path }, None, out);
        }
    }
}
