//! The controller core: state, dispatch, membership, quorum and CIB
//! notifications. Election, join, transition engine and the node-local
//! execution side live in their own modules (`impl Controld` blocks).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use hasim_cib::{Cib, Element};
use hasim_pcmk_proto::{
    decode, encode, Action, CibOp, CibRequest, CibVersion, ConfChange, Daemon, Event, Input,
    LocalMsg, NodeId, TimerId,
};

use crate::graph::Run;
use crate::lrm::LrmHistory;
use crate::options::Options;
use crate::wire::Wire;

/// Pacemaker's controller FSA states (the ones this core uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Starting,
    Pending,
    Election,
    Integration,
    FinalizeJoin,
    PolicyEngine,
    TransitionEngine,
    Idle,
    NotDc,
}

impl State {
    /// Pacemaker's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "S_STARTING",
            State::Pending => "S_PENDING",
            State::Election => "S_ELECTION",
            State::Integration => "S_INTEGRATION",
            State::FinalizeJoin => "S_FINALIZE_JOIN",
            State::PolicyEngine => "S_POLICY_ENGINE",
            State::TransitionEngine => "S_TRANSITION_ENGINE",
            State::Idle => "S_IDLE",
            State::NotDc => "S_NOT_DC",
        }
    }

    /// States in which this node is the DC.
    pub fn is_dc(self) -> bool {
        matches!(
            self,
            State::Integration
                | State::FinalizeJoin
                | State::PolicyEngine
                | State::TransitionEngine
                | State::Idle
        )
    }
}

/// Static configuration of one node's controller.
#[derive(Debug, Clone)]
pub struct Config {
    pub node: String,
    pub node_id: NodeId,
    /// Corosync's nodelist: node id → name.
    pub nodelist: BTreeMap<NodeId, String>,
    /// Seeded addition to the election "uptime" (real Pacemaker votes with
    /// its process CPU time, which differs per node; the driver draws this
    /// from the run seed).
    pub uptime_jitter_ms: u64,
}

/// What to do once a CIB write is acknowledged.
#[derive(Debug, Clone)]
pub(crate) enum AfterWrite {
    Multicast(Vec<u8>),
}

/// Where an operation the DC asked for came from.
#[derive(Debug, Clone)]
pub(crate) struct ExecOrigin {
    pub dc: String,
    pub transition: u64,
    pub action: usize,
}

/// One node's controller.
pub struct Controld {
    pub(crate) cfg: Config,
    pub(crate) state: State,
    pub(crate) started_at: Duration,
    pub(crate) members: BTreeSet<NodeId>,
    pub(crate) quorate: bool,
    pub(crate) dc: Option<String>,
    pub(crate) cib: Option<Arc<Element>>,
    pub(crate) cib_version: CibVersion,
    pub(crate) model: Option<(String, Arc<Cib>)>,
    pub(crate) digest: String,
    pub(crate) fingerprint: String,
    pub(crate) opts: Options,
    pub(crate) no_votes: BTreeSet<String>,
    /// When this node last lost an election (Pacemaker's election
    /// dampening: a recent loser does not start a new election).
    pub(crate) last_election_loss: Option<Duration>,
    pub(crate) join_id: u64,
    pub(crate) join_requests: BTreeMap<String, CibVersion>,
    pub(crate) join_acked: BTreeSet<String>,
    pub(crate) join_confirmed: BTreeSet<String>,
    pub(crate) awaiting_sync: Option<CibVersion>,
    pub(crate) run: Option<Run>,
    pub(crate) transition_seq: u64,
    pub(crate) pending_trigger: Option<String>,
    pub(crate) history: LrmHistory,
    pub(crate) next_call: u64,
    pub(crate) cib_waits: BTreeMap<u64, AfterWrite>,
    pub(crate) exec_origin: BTreeMap<String, ExecOrigin>,
    pub(crate) fencing: BTreeMap<String, usize>,
    /// A join acknowledgement (DC, join id) whose history write waits for
    /// this node's in-flight operations (see `on_join_ack`).
    pub(crate) deferred_ack: Option<(String, u64)>,
    /// Failed fencing operations per target since its last success
    /// (controld_fencing.c's `stonith_failures`), checked against
    /// stonith-max-attempts.
    pub(crate) fence_failures: BTreeMap<String, u32>,
    /// This controller's CIB calls whose replies have not come back and
    /// that registered a callback (libcib's callback table, counted by
    /// `num_cib_op_callbacks()`); anonymous updates are not in it.
    /// Updates with a registered callback, by call id: when they were sent.
    pub(crate) cib_callbacks: BTreeMap<u64, Duration>,
    /// The time of the input being handled (for registering callbacks).
    pub(crate) now: Duration,
    /// The scheduler's current CIB query (`fsa_pe_query`): an answer to an
    /// older one is superseded.
    pub(crate) pe_query: Option<u64>,
    /// Why the scheduler was first asked for since its last run.
    pub(crate) pe_why: Option<String>,
    /// The controller sleeps in its main loop (the 1 s re-ask pause of
    /// `do_pe_invoke_callback`): inputs wait here, in order, until it wakes.
    pub(crate) asleep: Option<Vec<Input>>,
    /// This node's connections to remote nodes' executors, by remote node
    /// (see `remote`).
    pub(crate) remotes: BTreeMap<String, crate::remote::Link>,
}

impl Controld {
    pub fn new(cfg: Config) -> Controld {
        let history = LrmHistory::new(&cfg.node, cfg.node_id);
        Controld {
            cfg,
            state: State::Starting,
            started_at: Duration::ZERO,
            members: BTreeSet::new(),
            quorate: false,
            dc: None,
            cib: None,
            cib_version: CibVersion::default(),
            model: None,
            digest: String::new(),
            fingerprint: String::new(),
            opts: Options::default(),
            no_votes: BTreeSet::new(),
            last_election_loss: None,
            join_id: 0,
            join_requests: BTreeMap::new(),
            join_acked: BTreeSet::new(),
            join_confirmed: BTreeSet::new(),
            awaiting_sync: None,
            run: None,
            transition_seq: 0,
            pending_trigger: None,
            history,
            next_call: 1,
            cib_waits: BTreeMap::new(),
            exec_origin: BTreeMap::new(),
            fencing: BTreeMap::new(),
            deferred_ack: None,
            fence_failures: BTreeMap::new(),
            cib_callbacks: BTreeMap::new(),
            now: Duration::ZERO,
            pe_query: None,
            pe_why: None,
            asleep: None,
            remotes: BTreeMap::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The DC this node follows (itself when it is DC).
    pub fn dc(&self) -> Option<&str> {
        self.dc.as_deref()
    }

    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Action> {
        self.now = now;
        let mut out = Vec::new();
        if let Some(waiting) = self.asleep.as_mut() {
            match input {
                Input::Start => {}
                Input::Timer(TimerId(t)) if t == crate::pe_invoke::REASK_TIMER => {
                    self.wake(now, &mut out);
                    return out;
                }
                other => {
                    waiting.push(other);
                    return out;
                }
            }
        }
        self.input(now, input, &mut out);
        out
    }

    /// Handle one input (the controller is awake).
    pub(crate) fn input(&mut self, now: Duration, input: Input, out: &mut Vec<Action>) {
        match input {
            Input::Start => {
                *self = Controld::new(self.cfg.clone());
                self.started_at = now;
            }
            Input::ConfChange(cc) => self.conf_change(now, cc, out),
            Input::Quorum { quorate, .. } => self.quorum(now, quorate, out),
            Input::Deliver { data, .. } => {
                if let Some(w) = decode::<Wire>(&data) {
                    self.deliver(now, w, out);
                }
            }
            Input::Local { msg, .. } => self.local(now, msg, out),
            Input::Timer(TimerId(t)) => self.timer(now, &t, out),
            Input::Client(_) | Input::Loaded { .. } => {}
        }
    }

    pub(crate) fn name_of(&self, id: NodeId) -> String {
        self.cfg
            .nodelist
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("node{id}"))
    }

    pub(crate) fn id_of(&self, name: &str) -> Option<NodeId> {
        self.cfg
            .nodelist
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(i, _)| *i)
    }

    pub(crate) fn member_names(&self) -> BTreeSet<String> {
        self.members.iter().map(|&i| self.name_of(i)).collect()
    }

    pub(crate) fn set_state(&mut self, to: State, out: &mut Vec<Action>) {
        if to != self.state {
            out.push(Action::Report(Event::ControllerState {
                node: self.cfg.node.clone(),
                from: self.state.name().into(),
                to: to.name().into(),
            }));
            self.state = to;
        }
    }

    pub(crate) fn set_dc(&mut self, dc: Option<String>, out: &mut Vec<Action>) {
        if dc != self.dc {
            self.dc = dc.clone();
            out.push(Action::Report(Event::DcChanged {
                node: self.cfg.node.clone(),
                dc,
            }));
        }
    }

    pub(crate) fn multicast(&self, w: &Wire, out: &mut Vec<Action>) {
        out.push(Action::Multicast(encode(w)));
    }

    /// Send a CIB update with a callback registered for its reply (the
    /// controller's `fsa_register_cib_callback` updates); `after` runs when
    /// it is acknowledged. Until then it counts as pending for the
    /// scheduler's CIB query (see `pe_invoke`).
    pub(crate) fn cib_write(
        &mut self,
        op: CibOp,
        after: Option<AfterWrite>,
        out: &mut Vec<Action>,
    ) {
        let call_id = self.cib_call(op, out);
        self.cib_callbacks.insert(call_id, self.now);
        if let Some(a) = after {
            self.cib_waits.insert(call_id, a);
        }
    }

    /// Send a CIB update without a callback (`fsa_cib_anon_update`): its
    /// reply is not waited for and never delays the scheduler.
    pub(crate) fn cib_anon_write(&mut self, op: CibOp, out: &mut Vec<Action>) {
        self.cib_call(op, out);
    }

    /// Send one CIB operation; returns its call id.
    pub(crate) fn cib_call(&mut self, op: CibOp, out: &mut Vec<Action>) -> u64 {
        let call_id = self.next_call;
        self.next_call += 1;
        out.push(Action::Send {
            to: Daemon::Based,
            msg: LocalMsg::CibRequest(CibRequest { call_id, op }),
        });
        call_id
    }

    pub(crate) fn set_timer(&self, name: &str, after: Duration, out: &mut Vec<Action>) {
        out.push(Action::SetTimer {
            id: TimerId::new(name),
            after,
        });
    }

    pub(crate) fn cancel_timer(&self, name: &str, out: &mut Vec<Action>) {
        out.push(Action::CancelTimer(TimerId::new(name)));
    }

    fn conf_change(&mut self, now: Duration, cc: ConfChange, out: &mut Vec<Action>) {
        self.members = cc.members.iter().map(|m| m.node).collect();
        out.push(Action::Report(Event::Peers {
            node: self.cfg.node.clone(),
            peers: self.member_names().into_iter().collect(),
        }));
        if self.state == State::Starting && self.members.contains(&self.cfg.node_id) {
            self.set_state(State::Pending, out);
            // controld_join_client.c sleeps 1 s ("give the cluster layer
            // time to propagate to the DC") before it queries for a DC;
            // dc-deadtime runs from the query (measured on 2.1.5: cold
            // start to DC is dc-deadtime + 1 s after the ring forms).
            self.set_timer("join-query", Duration::from_secs(1), out);
        }
        for (m, _) in &cc.left {
            let name = self.name_of(m.node);
            if self.dc.as_deref() == Some(name.as_str()) && name != self.cfg.node {
                // The DC is gone: every node erases its transient attributes
                // (there is no DC to do it), then elects a new one.
                let path = format!(
                    "/cib/status/node_state[@id='{0}']/transient_attributes[@id='{0}']",
                    m.node
                );
                self.cib_write(CibOp::DeleteAt { path }, None, out);
                out.push(Action::Send {
                    to: Daemon::Attrd,
                    msg: LocalMsg::AttrPurgeNode {
                        target: name.clone(),
                    },
                });
                self.set_dc(None, out);
                self.start_election(now, out);
            } else if self.state.is_dc() {
                self.node_lost(now, &name, out);
            }
        }
        if self.state.is_dc() {
            // post_cache_update: the DC refreshes the CIB's node list.
            self.populate_cib_nodes(false, out);
        }
        if self.state.is_dc() && !cc.joined.is_empty() {
            self.start_election(now, out);
        }
        match self.state {
            State::Election => self.check_election(now, out),
            State::Integration => self.check_integrated(now, out),
            _ => {}
        }
    }

    fn quorum(&mut self, now: Duration, quorate: bool, out: &mut Vec<Action>) {
        if quorate == self.quorate {
            return;
        }
        self.quorate = quorate;
        out.push(Action::Report(Event::Quorum {
            node: self.cfg.node.clone(),
            quorate,
        }));
        if self.state.is_dc() {
            // The DC records quorum in the CIB, as Pacemaker does.
            let xml = format!("<cib have-quorum=\"{}\"/>", if quorate { "1" } else { "0" });
            self.cib_write(
                CibOp::Modify {
                    section: "cib".into(),
                    xml,
                },
                None,
                out,
            );
        }
        let why = if quorate {
            "Quorum gained"
        } else {
            "Quorum lost"
        };
        self.trigger(now, why, out);
    }

    fn deliver(&mut self, now: Duration, w: Wire, out: &mut Vec<Action>) {
        match w {
            Wire::Vote { from, age } => self.on_vote(now, &from, age, out),
            Wire::NoVote { from, to } => self.on_no_vote(now, from, &to, out),
            Wire::Announce { from } => {
                if self.state.is_dc() && from != self.cfg.node {
                    self.offer(now, out);
                }
            }
            Wire::JoinOffer { dc, join } => self.on_offer(now, dc, join, out),
            Wire::JoinRequest {
                from,
                dc,
                join,
                version,
            } => self.on_join_request(now, from, &dc, join, version, out),
            Wire::JoinAck { dc, join } => self.on_join_ack(now, &dc, join, out),
            Wire::JoinConfirm { from, dc, join } => self.on_join_confirm(now, from, &dc, join, out),
            Wire::Exec {
                dc,
                transition,
                action,
                target,
                target_rc,
                req,
                on,
            } => {
                if target == self.cfg.node {
                    self.exec(dc, transition, action, target_rc, req, on, out);
                }
            }
            Wire::Result {
                from,
                dc,
                transition,
                action,
                ok,
                rc,
            } => {
                if dc == self.cfg.node {
                    self.on_result(now, &from, transition, action, ok, rc, out);
                }
            }
            Wire::Failure {
                from,
                rsc,
                op,
                interval_ms,
                rc,
            } => {
                if self.state.is_dc() {
                    self.record_failure(now, &from, &rsc, &op, interval_ms, rc, out);
                    self.trigger(now, "Resource op failure", out);
                }
            }
        }
    }

    fn local(&mut self, now: Duration, msg: LocalMsg, out: &mut Vec<Action>) {
        match msg {
            LocalMsg::CibUpdated {
                version,
                digest,
                cib,
                config_changed,
            } => self.cib_updated(now, version, digest, cib, config_changed, out),
            LocalMsg::CibReply { call_id, .. } => {
                self.cib_callbacks.remove(&call_id);
                if let Some(AfterWrite::Multicast(data)) = self.cib_waits.remove(&call_id) {
                    out.push(Action::Multicast(data));
                }
                if self.pe_query == Some(call_id) {
                    self.pe_query_answered(now, out);
                }
            }
            LocalMsg::ExecDone(r) => self.exec_done(now, r, None, out),
            LocalMsg::Remote(m) => self.remote_event(now, m, out),
            LocalMsg::FenceResult { target, ok } => self.fence_result(now, &target, ok, out),
            _ => {}
        }
    }

    fn timer(&mut self, now: Duration, t: &str, out: &mut Vec<Action>) {
        match t {
            "join-query" if self.state == State::Pending => {
                let from = self.cfg.node.clone();
                self.multicast(&Wire::Announce { from }, out);
                self.set_timer("election-trigger", self.opts.dc_deadtime, out);
            }
            "election-trigger" if matches!(self.state, State::Pending) => {
                self.start_election(now, out)
            }
            "election-timeout" if self.state == State::Election => self.become_dc(now, out),
            "integration" if self.state == State::Integration => self.finalize(now, out),
            "finalization" if self.state == State::FinalizeJoin => self.start_election(now, out),
            "recheck" if self.state == State::Idle => self.trigger(now, "Cluster recheck", out),
            _ => {
                if let Some(rest) = t.strip_prefix("lost:") {
                    self.action_lost(now, rest, out);
                } else if let Some(rest) = t.strip_prefix("remote-") {
                    self.remote_timer(now, rest, out);
                }
            }
        }
    }

    /// Node states and transient attributes: the status changes that
    /// make the DC recompute (operation history changes are expected
    /// results; configuration changes are flagged by the CIB manager).
    fn status_fingerprint(cib: &Element) -> String {
        let mut fp = String::new();
        if let Some(st) = cib.child("status") {
            for ns in &st.children {
                for (k, v) in &ns.attrs {
                    if k != "crm-debug-origin" {
                        fp.push_str(k);
                        fp.push_str(v);
                    }
                }
                for t in ns.children_named("transient_attributes") {
                    fp.push_str(&t.to_xml_string());
                }
            }
        }
        fp
    }

    fn cib_updated(
        &mut self,
        now: Duration,
        version: CibVersion,
        digest: String,
        cib: Arc<Element>,
        config_changed: bool,
        out: &mut Vec<Action>,
    ) {
        let fp = Self::status_fingerprint(&cib);
        let changed = config_changed || self.cib.is_none() || fp != self.fingerprint;
        self.fingerprint = fp;
        self.cib = Some(cib);
        self.cib_version = version;
        self.digest = digest;
        if changed {
            if let Some(model) = self.model() {
                self.opts = Options::from_cib(&model);
            }
        }
        if let Some(want) = self.awaiting_sync {
            if version >= want {
                self.awaiting_sync = None;
                self.send_join_acks(now, out);
            }
        }
        if changed {
            self.trigger(now, "CIB change", out);
        }
    }

    /// The CIB as a typed model (cached per digest).
    pub(crate) fn model(&mut self) -> Option<Arc<Cib>> {
        if let Some((d, m)) = &self.model {
            if *d == self.digest {
                return Some(m.clone());
            }
        }
        let m = Arc::new(Cib::from_element(self.cib.as_ref()?).ok()?);
        self.model = Some((self.digest.clone(), m.clone()));
        Some(m)
    }
}
