//! Invoking the scheduler (controld_schedulerd.c `do_pe_invoke` and its
//! callback): the DC first asks its CIB manager for the current CIB. A
//! query is answered locally at once, while every update the controller
//! sent goes through the `cib` CPG group before its reply comes back. If,
//! when the query's answer arrives, some of this controller's updates that
//! registered a callback are still unanswered, Pacemaker 2.1 logs
//! "Re-asking for the CIB: N other peer updates still pending", sleeps 1 s
//! in its main loop (nothing else is handled meanwhile) and queries again.
//!
//! The pause therefore follows from what is in flight at that instant: the
//! updates `populate_cib_nodes` sends as the join completes (right before
//! the query, so nearly always pending), a lost node's transient-attribute
//! deletion and node list refresh, history and fencing updates.

use std::time::Duration;

use hasim_pcmk_proto::{Action, CibOp, Event};

use crate::core::{Controld, State};

/// The controller's timer that ends the re-ask sleep.
pub(crate) const REASK_TIMER: &str = "pe-reask";

/// `MIN_CIB_OP_TIMEOUT` in controld_utils.c, seconds.
const MIN_CIB_OP_TIMEOUT: u64 = 30;

/// `sleep(1)` in `do_pe_invoke_callback`.
const REASK_PAUSE: Duration = Duration::from_secs(1);

impl Controld {
    /// `do_pe_invoke`: enter S_POLICY_ENGINE and query the CIB; a newer
    /// query supersedes an older one still unanswered.
    pub(crate) fn pe_invoke(&mut self, why: &str, out: &mut Vec<Action>) {
        self.set_state(State::PolicyEngine, out);
        self.pending_trigger = None;
        if self.pe_why.is_none() {
            self.pe_why = Some(why.to_string());
        }
        let call_id = self.cib_call(CibOp::Query, out);
        self.pe_query = Some(call_id);
    }

    /// `do_pe_invoke_callback`: the current query was answered.
    pub(crate) fn pe_query_answered(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.pe_query = None;
        if self.state != State::PolicyEngine {
            return;
        }
        self.expire_cib_callbacks(now);
        let pending = self.cib_callbacks.len();
        if pending > 0 {
            out.push(Action::Report(Event::CibReask {
                dc: self.cfg.node.clone(),
                pending: pending as u32,
            }));
            self.asleep = Some(Vec::new());
            self.set_timer(REASK_TIMER, REASK_PAUSE, out);
            return;
        }
        let why = self.pe_why.take().unwrap_or_default();
        self.run_scheduler(now, &why, out);
    }

    /// `cib_op_timeout` (controld_utils.c): a registered callback fires
    /// with a timeout after max(30 s, 10 s × (1 + active peers)); from then
    /// on it no longer counts as pending, so an update whose reply never
    /// comes delays the scheduler for that long, not for ever.
    fn expire_cib_callbacks(&mut self, now: Duration) {
        let peers = self.members.len() as u64;
        let timeout = Duration::from_secs((10 * (1 + peers)).max(MIN_CIB_OP_TIMEOUT));
        self.cib_callbacks
            .retain(|_, sent| now.saturating_sub(*sent) < timeout);
    }

    /// The sleep is over: handle what arrived meanwhile, in order (CIB
    /// replies included, so they are counted before the next query's
    /// answer, as they sit ahead of it on the real connection), then query
    /// again unless that already happened.
    pub(crate) fn wake(&mut self, now: Duration, out: &mut Vec<Action>) {
        let waiting = self.asleep.take().unwrap_or_default();
        for input in waiting {
            if self.asleep.is_some() {
                // Cannot sleep again before a new query is answered, and
                // no answer can arrive within this replay.
                break;
            }
            self.input(now, input, out);
        }
        if self.state == State::PolicyEngine && self.pe_query.is_none() {
            let why = self.pe_why.clone().unwrap_or_default();
            self.pe_invoke(&why, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use hasim_pcmk_proto::{Action, CibOp, CibVersion, Event, Input, LocalMsg, TimerId};

    use crate::core::{Config, Controld, State};

    /// A DC in S_IDLE with an empty CIB already known.
    fn idle_dc() -> Controld {
        let mut c = Controld::new(Config {
            node: "n1".into(),
            node_id: 1,
            nodelist: BTreeMap::from([(1, "n1".to_string())]),
            uptime_jitter_ms: 0,
        });
        c.state = State::Idle;
        c.dc = Some("n1".into());
        let cib = hasim_cib::xml::parse(
            "<cib admin_epoch=\"0\" epoch=\"1\" num_updates=\"0\"><configuration>\
             <crm_config/><nodes/><resources/><constraints/></configuration>\
             <status/></cib>",
        )
        .unwrap();
        c.cib = Some(std::sync::Arc::new(cib));
        c
    }

    fn queries(out: &[Action]) -> Vec<u64> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send {
                    msg: LocalMsg::CibRequest(r),
                    ..
                } if r.op == CibOp::Query => Some(r.call_id),
                _ => None,
            })
            .collect()
    }

    fn reply(call_id: u64) -> Input {
        Input::Local {
            from: hasim_pcmk_proto::Daemon::Based,
            msg: LocalMsg::CibReply {
                call_id,
                result: Ok(CibVersion::default()),
                xml: None,
            },
        }
    }

    fn scheduled(out: &[Action]) -> bool {
        out.iter()
            .any(|a| matches!(a, Action::Report(Event::Transition { .. })))
    }

    #[test]
    fn no_pending_update_runs_the_scheduler_at_once() {
        let mut c = idle_dc();
        let t = Duration::from_secs(10);
        let mut out = Vec::new();
        c.trigger(t, "test", &mut out);
        let q = queries(&out);
        assert_eq!(q.len(), 1, "the scheduler first queries the CIB");
        assert!(!scheduled(&out));
        let out = c.handle(t, reply(q[0]));
        assert!(scheduled(&out), "nothing pending: scheduler at once");
        let sleeps =
            |a: &Action| matches!(a, Action::SetTimer { id, .. } if id.0 == super::REASK_TIMER);
        assert!(!out.iter().any(sleeps));
    }

    #[test]
    fn a_pending_update_delays_the_scheduler_by_one_second() {
        let mut c = idle_dc();
        let t = Duration::from_secs(10);
        let mut out = Vec::new();
        // An update with a callback, still in flight through CPG.
        let path = "/cib/status/node_state[@id='2']/transient_attributes[@id='2']";
        c.cib_write(CibOp::DeleteAt { path: path.into() }, None, &mut out);
        let write = c.next_call - 1;
        c.trigger(t, "Node failure", &mut out);
        let q = queries(&out);
        let out = c.handle(t, reply(q[0]));
        assert!(!scheduled(&out));
        assert!(out
            .iter()
            .any(|a| matches!(a, Action::Report(Event::CibReask { pending: 1, .. }))));
        let sleep = out.iter().find_map(|a| match a {
            Action::SetTimer { id, after } if id.0 == super::REASK_TIMER => Some(*after),
            _ => None,
        });
        assert_eq!(sleep, Some(Duration::from_secs(1)));
        // The write's reply arrives while the controller sleeps: held.
        let t2 = t + Duration::from_millis(3);
        assert!(c.handle(t2, reply(write)).is_empty());
        // Awake: the held reply is handled, then a new query.
        let t3 = t + Duration::from_secs(1);
        let out = c.handle(t3, Input::Timer(TimerId::new(super::REASK_TIMER)));
        let q2 = queries(&out);
        assert_eq!(q2.len(), 1);
        let out = c.handle(t3, reply(q2[0]));
        assert!(scheduled(&out), "nothing pending now: scheduler runs");
    }

    /// A callback whose reply never comes fires with a timeout after
    /// cib_op_timeout (30 s at least): the controller re-asks until then,
    /// not for ever.
    #[test]
    fn an_unanswered_update_stops_delaying_the_scheduler_at_its_timeout() {
        let mut c = idle_dc();
        let t = Duration::from_secs(10);
        let mut out = Vec::new();
        c.now = t;
        let path = "/cib/status/node_state[@id='2']/transient_attributes[@id='2']";
        c.cib_write(CibOp::DeleteAt { path: path.into() }, None, &mut out);
        let mut now = t;
        c.trigger(now, "Node failure", &mut out);
        let mut q = queries(&out);
        let mut reasks = 0;
        loop {
            let out = c.handle(now, reply(q[0]));
            if scheduled(&out) {
                break;
            }
            reasks += 1;
            assert!(reasks < 100, "still re-asking at {now:?}");
            now += Duration::from_secs(1);
            let out = c.handle(now, Input::Timer(TimerId::new(super::REASK_TIMER)));
            q = queries(&out);
        }
        assert_eq!(
            now - t,
            Duration::from_secs(30),
            "scheduled once the callback timed out"
        );
        assert_eq!(reasks, 30);
    }

    #[test]
    fn an_anonymous_update_does_not_delay_the_scheduler() {
        let mut c = idle_dc();
        let t = Duration::from_secs(10);
        let mut out = Vec::new();
        let xml = "<node_state id=\"2\" uname=\"n2\" in_ccm=\"false\"/>".to_string();
        let section = "status".to_string();
        c.cib_anon_write(CibOp::Modify { section, xml }, &mut out);
        c.trigger(t, "Node failure", &mut out);
        let q = queries(&out);
        assert!(scheduled(&c.handle(t, reply(q[0]))));
    }

    #[test]
    fn a_newer_query_supersedes_an_older_one() {
        let mut c = idle_dc();
        let t = Duration::from_secs(10);
        let mut out = Vec::new();
        c.trigger(t, "first", &mut out);
        c.trigger(t, "second", &mut out);
        let q = queries(&out);
        assert_eq!(q.len(), 2);
        assert!(!scheduled(&c.handle(t, reply(q[0]))));
        let out = c.handle(t, reply(q[1]));
        let trigger = out.iter().find_map(|a| match a {
            Action::Report(Event::Transition { trigger, .. }) => Some(trigger.clone()),
            _ => None,
        });
        assert_eq!(trigger.as_deref(), Some("first"));
    }
}
