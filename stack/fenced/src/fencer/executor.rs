//! The executor's side (fenced_commands.c): run the capable devices one
//! after another, each after its start delay, retrying a failed agent run
//! while `pcmk_<action>_retries` and 70% of the timeout allow
//! (lib/fencing/st_actions.c `update_remaining_timeout`), and answer the
//! requester.

use std::collections::VecDeque;
use std::time::Duration;

use super::{ms, AgentResult, AgentRun, Fencer, FencerAction, FencerEvent, TimerKind};
use crate::config::FenceAction;
use crate::rules::{reported_delay, DelayPlan};
use crate::wire::{DeviceOffer, FencerMsg};

/// A fence order from a requester.
#[derive(Debug, Clone)]
pub(super) struct Order {
    pub op: String,
    pub origin: String,
    pub target: String,
    pub action: FenceAction,
    pub device: Option<String>,
    pub timeout: u64,
    pub delay: i64,
}

/// An order being executed here (`async_command_t`).
#[derive(Debug, Clone)]
pub(super) struct LocalExec {
    order: Order,
    devices: VecDeque<String>,
    current: Option<String>,
    /// Start delay requested for the next device: the order's delay first,
    /// then the previous total (fenced adds to `cmd->start_delay`).
    requested: i64,
    delay: u64,
    timeout: Duration,
    tries: u32,
    first_start: Duration,
    call: Option<u64>,
    timer: Option<u64>,
    reason: String,
    timed_out: bool,
}

impl Fencer {
    /// Answer a query with the devices registered here that can fence the target.
    pub(super) fn on_query(
        &mut self,
        op: String,
        origin: String,
        target: &str,
        action: FenceAction,
        out: &mut Vec<FencerAction>,
    ) {
        let devices = self
            .cfg
            .devices
            .iter()
            .filter(|d| d.can_fence(&self.me, target))
            .map(|d| DeviceOffer {
                device: d.id.clone(),
                verified: self.running.contains(&d.id),
                action_timeout: d.action_timeouts.get(&action).copied(),
                delay_max: reported_delay(
                    DelayPlan {
                        requested: 0,
                        base: d.delay_base.for_target(target),
                        max: d.delay_max,
                    }
                    .bounds()
                    .1,
                ),
            })
            .collect();
        let reply = FencerMsg::QueryReply {
            op,
            from: self.me.clone(),
            to: origin,
            devices,
        };
        self.mcast(&reply, out);
    }

    pub(super) fn on_fence(&mut self, now: Duration, order: Order, out: &mut Vec<FencerAction>) {
        let devices: VecDeque<String> = match &order.device {
            Some(d) => self
                .cfg
                .device(d)
                .filter(|dev| dev.can_fence(&self.me, &order.target))
                .map(|dev| dev.id.clone())
                .into_iter()
                .collect(),
            None => self
                .cfg
                .devices
                .iter()
                .filter(|d| d.can_fence(&self.me, &order.target))
                .map(|d| d.id.clone())
                .collect(),
        };
        let exec = LocalExec {
            requested: order.delay,
            order,
            devices,
            current: None,
            delay: 0,
            timeout: Duration::ZERO,
            tries: 0,
            first_start: now,
            call: None,
            timer: None,
            reason: "No capable device on the executor".into(),
            timed_out: false,
        };
        // A fresh key per order: the same operation may send this node a
        // second order (another device) while the first still runs.
        let n = self.fresh_id();
        let id = format!("{}@{n}", exec.order.op);
        self.execs.insert(id.clone(), exec);
        self.next_device(now, &id, out);
    }

    /// Move to the next capable device, or answer with the last failure.
    fn next_device(&mut self, now: Duration, id: &str, out: &mut Vec<FencerAction>) {
        let Some(mut exec) = self.execs.remove(id) else {
            return;
        };
        let Some(device_id) = exec.devices.pop_front() else {
            self.reply(&exec, false, out);
            return;
        };
        let Some(dev) = self.cfg.device(&device_id).cloned() else {
            self.execs.insert(id.to_string(), exec);
            return self.next_device(now, id, out);
        };
        exec.current = Some(device_id);
        exec.tries = 0;
        exec.timed_out = false;
        let secs = dev
            .action_timeouts
            .get(&exec.order.action)
            .copied()
            .unwrap_or(exec.order.timeout);
        exec.timeout = Duration::from_secs(secs);
        let plan = DelayPlan {
            requested: exec.requested,
            base: dev.delay_base.for_target(&exec.order.target),
            max: dev.delay_max,
        };
        self.execs.insert(id.to_string(), exec);
        if plan.needs_draw() {
            let request = self.fresh_id();
            self.draws.insert(request, id.to_string());
            out.push(FencerAction::DrawRandom { request });
        } else {
            self.start_delay(now, id, plan, 0, out);
        }
    }

    pub(super) fn on_random(
        &mut self,
        now: Duration,
        request: u64,
        value: u32,
        out: &mut Vec<FencerAction>,
    ) {
        let Some(id) = self.draws.remove(&request) else {
            return;
        };
        let Some(exec) = self.execs.get(&id) else {
            return;
        };
        let Some(dev) = exec.current.as_ref().and_then(|d| self.cfg.device(d)) else {
            return;
        };
        let plan = DelayPlan {
            requested: exec.requested,
            base: dev.delay_base.for_target(&exec.order.target),
            max: dev.delay_max,
        };
        self.start_delay(now, &id, plan, value, out);
    }

    fn start_delay(
        &mut self,
        now: Duration,
        id: &str,
        plan: DelayPlan,
        draw: u32,
        out: &mut Vec<FencerAction>,
    ) {
        let Some(exec) = self.execs.get_mut(id) else {
            return;
        };
        let delay = plan.delay(draw);
        exec.delay = delay;
        exec.requested = delay as i64;
        let (base, max) = plan.bounds();
        let device = exec.current.clone().unwrap_or_default();
        out.push(FencerAction::Report(FencerEvent::DelayStarted {
            op: exec.order.op.clone(),
            device,
            delay,
            base,
            max,
        }));
        if delay > 0 {
            let at = now + Duration::from_secs(delay);
            let timer = self.set_timer(at, TimerKind::Delay(id.to_string()), out);
            if let Some(exec) = self.execs.get_mut(id) {
                exec.timer = Some(timer);
            }
        } else {
            self.run_agent(now, id, out);
        }
    }

    pub(super) fn on_delay_done(&mut self, now: Duration, id: &str, out: &mut Vec<FencerAction>) {
        if let Some(exec) = self.execs.get_mut(id) {
            exec.timer = None;
            exec.first_start = now;
        }
        self.run_agent(now, id, out);
    }

    /// Start (or retry) the agent with the time that is left.
    fn run_agent(&mut self, now: Duration, id: &str, out: &mut Vec<FencerAction>) {
        let call = self.fresh_id();
        let Some(exec) = self.execs.get_mut(id) else {
            return;
        };
        let Some(dev) = exec.current.as_ref().and_then(|d| self.cfg.device(d)) else {
            return;
        };
        if exec.tries == 0 {
            exec.first_start = now;
        }
        exec.tries += 1;
        let remaining = exec.timeout.saturating_sub(now - exec.first_start);
        let run = AgentRun {
            call,
            device: dev.id.clone(),
            agent: dev.agent.clone(),
            address: dev.address.clone(),
            plug: dev.plug_for(&exec.order.target),
            target: exec.order.target.clone(),
            action: exec.order.action,
            timeout: remaining,
        };
        exec.call = Some(call);
        let event = FencerEvent::AgentStarted {
            op: exec.order.op.clone(),
            device: dev.id.clone(),
            attempt: exec.tries,
            timeout_ms: ms(remaining),
        };
        out.push(FencerAction::Report(event));
        out.push(FencerAction::RunAgent(run));
        self.calls.insert(call, id.to_string());
        let timer = self.set_timer(now + remaining, TimerKind::Agent(id.to_string()), out);
        if let Some(exec) = self.execs.get_mut(id) {
            exec.timer = Some(timer);
        }
    }

    pub(super) fn on_agent_done(
        &mut self,
        now: Duration,
        call: u64,
        result: AgentResult,
        out: &mut Vec<FencerAction>,
    ) {
        let Some(id) = self.calls.remove(&call) else {
            return;
        };
        let Some(exec) = self.execs.get_mut(&id) else {
            return;
        };
        if exec.call != Some(call) {
            return;
        }
        exec.call = None;
        let timer = exec.timer.take();
        let device = exec.current.clone().unwrap_or_default();
        let (ok, reason) = match result {
            AgentResult::Ok => (true, String::new()),
            AgentResult::Failed(r) => (false, r),
        };
        exec.reason = reason.clone();
        // st_actions.c: retry while tries remain and less than 70% of the
        // timeout has passed (never after a timeout).
        let max_tries = self
            .cfg
            .device(&device)
            .map(|d| d.retries_for(exec.order.action))
            .unwrap_or(2);
        let elapsed = now - exec.first_start;
        let retry = !ok
            && exec.tries < max_tries
            && elapsed.as_secs_f64() < exec.timeout.as_secs_f64() * 0.7;
        let op = exec.order.op.clone();
        self.cancel_timer(timer, out);
        out.push(FencerAction::Report(FencerEvent::AgentFinished {
            op,
            device,
            ok,
            timed_out: false,
            reason,
        }));
        if ok {
            if let Some(exec) = self.execs.remove(&id) {
                self.reply(&exec, true, out);
            }
        } else if retry {
            self.run_agent(now, &id, out);
        } else {
            self.next_device(now, &id, out);
        }
    }

    /// The agent ran out of time: kill it; a timeout is not retried.
    pub(super) fn on_agent_timeout(
        &mut self,
        now: Duration,
        id: &str,
        out: &mut Vec<FencerAction>,
    ) {
        let Some(exec) = self.execs.get_mut(id) else {
            return;
        };
        exec.timer = None;
        exec.timed_out = true;
        exec.reason = "Fence agent did not complete within the timeout".into();
        let device = exec.current.clone().unwrap_or_default();
        if let Some(call) = exec.call.take() {
            self.calls.remove(&call);
            out.push(FencerAction::KillAgent { call });
        }
        let reason = "timeout".to_string();
        let op = exec.order.op.clone();
        out.push(FencerAction::Report(FencerEvent::AgentFinished {
            op,
            device,
            ok: false,
            timed_out: true,
            reason,
        }));
        self.next_device(now, id, out);
    }

    fn reply(&self, exec: &LocalExec, ok: bool, out: &mut Vec<FencerAction>) {
        let msg = FencerMsg::FenceReply {
            op: exec.order.op.clone(),
            from: self.me.clone(),
            to: exec.order.origin.clone(),
            device: exec.current.clone().or(exec.order.device.clone()),
            ok,
            timed_out: !ok && exec.timed_out,
            reason: if ok {
                String::new()
            } else {
                exec.reason.clone()
            },
            delay: exec.delay,
        };
        self.mcast(&msg, out);
    }
}
