//! The requester's side of an operation (fenced_remote.c): query every
//! fencer, choose an executor, watch the query, total and per-peer
//! timeouts, walk the topology levels, and broadcast the final result.

use std::time::Duration;

use super::peers::{self, PeerResult, Pick};
use super::{
    ms, times_1_2, ControllerNotice, FenceRequest, Fencer, FencerAction, FencerEvent, TimerKind,
};
use crate::config::FenceAction;
use crate::wire::{DeviceOffer, FenceRecord, FencerMsg};

/// fenced_remote.c phases: a reboot on a level with several devices is
/// remapped to "off" on all of them, then "on" on all of them (think of
/// the outlets of redundant power supplies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Requested,
    Off,
    On,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpState {
    Query,
    Exec,
}

/// An operation this node requested (`remote_fencing_op_t` with owner).
#[derive(Debug, Clone)]
pub(super) struct RemoteOp {
    pub id: String,
    pub target: String,
    pub action: FenceAction,
    pub client_call: u64,
    pub base_timeout: u64,
    /// Requested delay; cleared once the first level or device used it.
    pub delay: i64,
    pub state: OpState,
    pub replies: u32,
    pub replies_expected: u32,
    pub results: Vec<PeerResult>,
    pub topology: bool,
    pub level: u32,
    /// Devices of the current level still to run.
    pub devices: Vec<String>,
    /// All devices of the current level (walked again in the "on" phase).
    pub level_devices: Vec<String>,
    pub phase: Phase,
    pub query_timer: Option<u64>,
    pub total_timer: Option<u64>,
    pub one_timer: Option<u64>,
    pub started: Duration,
    pub executor: Option<String>,
    pub device: Option<String>,
    pub delay_applied: u64,
    pub reason: String,
    /// Finalized: the result went out, drop the operation.
    pub done: bool,
}

/// An executor's answer.
#[derive(Debug, Clone)]
pub(super) struct Reply {
    pub from: String,
    pub device: Option<String>,
    pub ok: bool,
    pub timed_out: bool,
    pub reason: String,
    pub delay: u64,
}

impl Fencer {
    pub(super) fn on_request(
        &mut self,
        now: Duration,
        req: FenceRequest,
        out: &mut Vec<FencerAction>,
    ) {
        if !self.cfg.concurrent_fencing && !self.ops.is_empty() {
            out.push(FencerAction::Report(FencerEvent::Queued {
                target: req.target.clone(),
            }));
            self.queue.push_back(req);
            return;
        }
        self.start_op(now, req, out);
    }

    /// `initiate_remote_stonith_op`.
    fn start_op(&mut self, now: Duration, req: FenceRequest, out: &mut Vec<FencerAction>) {
        let n = self.fresh_id();
        let id = format!("{}:{n}", self.me);
        let mut op = RemoteOp {
            id: id.clone(),
            target: req.target.clone(),
            action: req.action,
            client_call: req.client_call,
            base_timeout: self.cfg.stonith_timeout,
            delay: req.delay,
            state: OpState::Query,
            replies: 0,
            replies_expected: self.active_peers(),
            results: Vec::new(),
            topology: false,
            level: 0,
            devices: Vec::new(),
            level_devices: Vec::new(),
            phase: Phase::Requested,
            query_timer: None,
            total_timer: None,
            one_timer: None,
            started: now,
            executor: None,
            device: None,
            delay_applied: 0,
            reason: String::new(),
            done: false,
        };
        let has_levels = !self.cfg.levels_for(&req.target).is_empty();
        if has_levels {
            op.topology = true;
            self.advance_level(&mut op);
        }
        out.push(FencerAction::Report(FencerEvent::Requested {
            op: id.clone(),
            target: req.target.clone(),
            action: req.action,
            delay: req.delay,
        }));
        let query = FencerMsg::Query {
            op: id.clone(),
            origin: self.me.clone(),
            target: req.target,
            action: req.action,
            timeout: op.base_timeout,
        };
        self.mcast(&query, out);
        let at = now + Duration::from_secs(times_1_2(op.base_timeout));
        op.query_timer = Some(self.set_timer(at, TimerKind::Query(id.clone()), out));
        self.ops.insert(id, op);
    }

    /// `advance_topology_level`: move to the next configured level; false
    /// when none is left.
    pub(super) fn advance_level(&self, op: &mut RemoteOp) -> bool {
        let next = self
            .cfg
            .levels_for(&op.target)
            .iter()
            .find(|l| l.index > op.level);
        let Some(level) = next else { return false };
        op.level = level.index;
        op.devices = level.devices.clone();
        op.level_devices = level.devices.clone();
        op.phase = if op.devices.len() > 1 && op.action == FenceAction::Reboot {
            Phase::Off
        } else {
            Phase::Requested
        };
        if op.level > 1 && op.delay > 0 {
            op.delay = 0;
        }
        true
    }

    fn topology_devices(&self, target: &str) -> Vec<Vec<String>> {
        self.cfg
            .levels_for(target)
            .iter()
            .map(|l| l.devices.clone())
            .collect()
    }

    /// `process_remote_stonith_query`.
    pub(super) fn on_query_reply(
        &mut self,
        now: Duration,
        id: &str,
        from: String,
        devices: Vec<DeviceOffer>,
        out: &mut Vec<FencerAction>,
    ) {
        let active = self.active_peers();
        let Some(mut op) = self.ops.remove(id) else {
            return;
        };
        let expected = op.replies_expected.min(active);
        op.replies += 1;
        let have_all = op.replies >= expected && op.state == OpState::Query;
        let from_target = from.eq_ignore_ascii_case(&op.target);
        let mut peer_host = None;
        if !devices.is_empty() {
            peer_host = Some(from.clone());
            peers::insert_sorted(&mut op.results, PeerResult::new(from, devices));
        }
        let levels = self.topology_devices(&op.target);
        let peer_idx = peer_host.and_then(|h| op.results.iter().position(|p| p.host == h));
        if op.topology {
            if op.state == OpState::Query
                && peers::all_topology_devices_found(&op.results, &op.target, &levels)
            {
                self.request_peer_fencing(now, &mut op, peer_idx, out);
            } else if have_all {
                self.request_peer_fencing(now, &mut op, None, out);
            }
        } else if op.state == OpState::Query {
            let verified = peer_idx
                .map(|i| {
                    op.results[i]
                        .devices
                        .values()
                        .filter(|d| d.verified && !d.executed)
                        .count()
                })
                .unwrap_or(0);
            if peer_idx.is_some() && !from_target && verified > 0 {
                self.request_peer_fencing(now, &mut op, peer_idx, out);
            } else if have_all {
                self.request_peer_fencing(now, &mut op, None, out);
            }
        }
        self.put_back(op);
    }

    /// Keep an operation unless it was finalized meanwhile.
    fn put_back(&mut self, op: RemoteOp) {
        if !op.done {
            self.ops.insert(op.id.clone(), op);
        }
    }

    /// `stonith_choose_peer`.
    fn choose_peer(&self, op: &mut RemoteOp) -> Option<usize> {
        loop {
            let device = op.devices.first().cloned();
            let dev = device.as_deref();
            if let Some(i) = peers::find_best_peer(
                &mut op.results,
                &op.target,
                dev,
                op.topology,
                Pick::OtherVerified,
            ) {
                return Some(i);
            }
            if op.query_timer.is_some() && op.replies < op.replies_expected.min(self.active_peers())
            {
                return None;
            }
            if let Some(i) =
                peers::find_best_peer(&mut op.results, &op.target, dev, op.topology, Pick::Other)
            {
                return Some(i);
            }
            if let Some(i) = peers::find_best_peer(
                &mut op.results,
                &op.target,
                dev,
                op.topology,
                Pick::TargetOnly,
            ) {
                return Some(i);
            }
            if !(op.topology && self.advance_level(op)) {
                return None;
            }
        }
    }

    /// `request_peer_fencing`: ask the chosen (or best) peer, or give up.
    pub(super) fn request_peer_fencing(
        &mut self,
        now: Duration,
        op: &mut RemoteOp,
        mut peer: Option<usize>,
        out: &mut Vec<FencerAction>,
    ) {
        let mut timeout = op.base_timeout;
        if peer.is_none() && !op.topology {
            peer = self.choose_peer(op);
        }
        if op.total_timer.is_none() {
            let total = if op.topology {
                peers::topology_timeout(
                    op.base_timeout,
                    &op.results,
                    &self.topology_devices(&op.target),
                )
            } else if let Some(i) = peer {
                peers::peer_timeout(op.base_timeout, &op.results[i])
            } else {
                op.base_timeout
            };
            let at = now + Duration::from_secs(times_1_2(total));
            op.total_timer = Some(self.set_timer(at, TimerKind::Total(op.id.clone()), out));
        }
        let mut device = None;
        if op.topology && !op.devices.is_empty() {
            peer = self.choose_peer(op);
            device = op.devices.first().cloned();
            if let Some(d) = &device {
                timeout = peers::device_timeout(op.base_timeout, peer.map(|i| &op.results[i]), d);
            }
        }
        match peer {
            Some(i) => self.send_fence(now, op, i, device, timeout, out),
            None => self.no_peer(now, op, device, out),
        }
    }

    fn send_fence(
        &mut self,
        now: Duration,
        op: &mut RemoteOp,
        i: usize,
        device: Option<String>,
        timeout: u64,
        out: &mut Vec<FencerAction>,
    ) {
        let one = match &device {
            Some(d) => times_1_2(peers::device_timeout(
                op.base_timeout,
                Some(&op.results[i]),
                d,
            )),
            None => times_1_2(peers::peer_timeout(op.base_timeout, &op.results[i])),
        };
        let host = op.results[i].host.clone();
        op.results[i].tried = true;
        op.state = OpState::Exec;
        op.executor = Some(host.clone());
        op.device = device.clone();
        out.push(FencerAction::Report(FencerEvent::ExecutorChosen {
            op: op.id.clone(),
            executor: host.clone(),
            device: device.clone(),
            level: op.level,
        }));
        let msg = FencerMsg::Fence {
            op: op.id.clone(),
            origin: self.me.clone(),
            to: host,
            target: op.target.clone(),
            action: phase_action(op),
            device,
            timeout,
            delay: op.delay,
        };
        self.mcast(&msg, out);
        let old = op.one_timer.take();
        self.cancel_timer(old, out);
        op.one_timer = Some(self.set_timer(
            now + Duration::from_secs(one),
            TimerKind::One(op.id.clone()),
            out,
        ));
    }

    /// No capable peer now: fail, wait for watchdog self-fencing, or keep
    /// waiting for more query replies.
    fn no_peer(
        &mut self,
        now: Duration,
        op: &mut RemoteOp,
        device: Option<String>,
        out: &mut Vec<FencerAction>,
    ) {
        if op.phase == Phase::On && device.is_some() {
            // A remapped "on" nobody can run is skipped: the target is off.
            return self.device_done(now, op, out);
        }
        let all_replied = op.replies >= op.replies_expected || op.replies >= self.active_peers();
        if op.query_timer.is_none() {
            self.finalize(
                now,
                op,
                false,
                "All nodes failed, or are unable, to fence target",
                out,
            );
        } else if all_replied {
            if self.cfg.stonith_watchdog_timeout_ms > 0 && device.is_none() {
                self.watchdog_wait(now, op, out);
                return;
            }
            let reason = if op.state == OpState::Query {
                "No fence device"
            } else {
                "No peers are capable of fencing the target"
            };
            self.finalize(now, op, false, reason, out);
        }
    }

    /// `check_watchdog_fencing_and_wait`: assume the target reset itself
    /// once stonith-watchdog-timeout has passed.
    fn watchdog_wait(&mut self, now: Duration, op: &mut RemoteOp, out: &mut Vec<FencerAction>) {
        let wait = Duration::from_millis(self.cfg.stonith_watchdog_timeout_ms as u64);
        op.state = OpState::Exec;
        op.executor = Some(op.target.clone());
        op.device = Some("watchdog".into());
        out.push(FencerAction::Report(FencerEvent::WatchdogWait {
            op: op.id.clone(),
            target: op.target.clone(),
            wait_ms: ms(wait),
        }));
        let old = op.one_timer.take();
        self.cancel_timer(old, out);
        op.one_timer = Some(self.set_timer(now + wait, TimerKind::Watchdog(op.id.clone()), out));
    }

    pub(super) fn on_watchdog_done(
        &mut self,
        now: Duration,
        id: &str,
        out: &mut Vec<FencerAction>,
    ) {
        let Some(mut op) = self.ops.remove(id) else {
            return;
        };
        op.one_timer = None;
        self.finalize(now, &mut op, true, "Self-fencing assumed complete", out);
        self.put_back(op);
    }

    /// `fenced_process_fencing_reply` for operations we own.
    pub(super) fn on_fence_reply(
        &mut self,
        now: Duration,
        id: &str,
        reply: Reply,
        out: &mut Vec<FencerAction>,
    ) {
        let Some(mut op) = self.ops.remove(id) else {
            return;
        };
        if let (Some(current), Some(d)) = (op.devices.first(), reply.device.as_ref()) {
            if !current.eq_ignore_ascii_case(d) {
                self.put_back(op);
                return;
            }
        }
        op.executor = Some(reply.from.clone());
        op.device = reply.device.clone().or(op.device.take());
        op.delay_applied = reply.delay;
        op.reason = reply.reason.clone();
        let old = op.one_timer.take();
        self.cancel_timer(old, out);
        if op.topology {
            // An "on" failure after a successful "off" is ignored.
            if reply.ok || op.phase == Phase::On {
                self.device_done(now, &mut op, out);
            } else if self.advance_level(&mut op) {
                self.request_peer_fencing(now, &mut op, None, out);
            } else {
                let reason = reply.reason.clone();
                self.finalize(now, &mut op, false, &reason, out);
            }
        } else if reply.ok {
            self.finalize(now, &mut op, true, "", out);
        } else if reply.timed_out {
            self.finalize(now, &mut op, false, &reply.reason, out);
        } else {
            self.request_peer_fencing(now, &mut op, None, out);
        }
        self.put_back(op);
    }

    /// `advance_topology_device_in_level`: next device, next phase, or done.
    fn device_done(&mut self, now: Duration, op: &mut RemoteOp, out: &mut Vec<FencerAction>) {
        if !op.devices.is_empty() {
            op.devices.remove(0);
        }
        if op.delay > 0 {
            op.delay = 0;
        }
        if op.devices.is_empty() && op.phase == Phase::Off {
            op.phase = Phase::On;
            op.devices = op.level_devices.clone();
            for peer in &mut op.results {
                peer.devices.values_mut().for_each(|d| d.executed = false);
            }
        }
        if op.devices.is_empty() {
            self.finalize(now, op, true, "", out);
        } else {
            self.request_peer_fencing(now, op, None, out);
        }
    }

    pub(super) fn on_query_timeout(
        &mut self,
        now: Duration,
        id: &str,
        out: &mut Vec<FencerAction>,
    ) {
        let Some(mut op) = self.ops.remove(id) else {
            return;
        };
        op.query_timer = None;
        if op.state == OpState::Exec {
        } else if !op.results.is_empty() {
            self.request_peer_fencing(now, &mut op, None, out);
        } else {
            let old = op.total_timer.take();
            self.cancel_timer(old, out);
            self.finalize(
                now,
                &mut op,
                false,
                "No capable peers replied to device query within timeout",
                out,
            );
        }
        self.put_back(op);
    }

    pub(super) fn on_total_timeout(
        &mut self,
        now: Duration,
        id: &str,
        out: &mut Vec<FencerAction>,
    ) {
        let Some(mut op) = self.ops.remove(id) else {
            return;
        };
        op.total_timer = None;
        if op.phase == Phase::On {
            // finalize_timed_out_op: the "off" phase completed.
            self.finalize(now, &mut op, true, "", out);
            self.put_back(op);
            return;
        }
        self.finalize(now, &mut op, false, "Fencing did not complete within a total timeout based on the configured timeout and retries for any devices attempted", out);
        self.put_back(op);
    }

    /// `remote_op_timeout_one`: the executor did not answer; try another.
    pub(super) fn on_one_timeout(&mut self, now: Duration, id: &str, out: &mut Vec<FencerAction>) {
        let Some(mut op) = self.ops.remove(id) else {
            return;
        };
        op.one_timer = None;
        op.reason = "Peer did not return fence result within timeout".into();
        self.request_peer_fencing(now, &mut op, None, out);
        self.put_back(op);
    }

    /// `finalize_op`: broadcast the result, answer our controller, start
    /// the next queued request.
    fn finalize(
        &mut self,
        now: Duration,
        op: &mut RemoteOp,
        ok: bool,
        reason: &str,
        out: &mut Vec<FencerAction>,
    ) {
        for t in [
            op.query_timer.take(),
            op.total_timer.take(),
            op.one_timer.take(),
        ] {
            self.cancel_timer(t, out);
        }
        let record = FenceRecord {
            op: op.id.clone(),
            target: op.target.clone(),
            action: op.action,
            origin: self.me.clone(),
            executor: op.executor.clone(),
            device: op.device.clone(),
            level: op.level,
            delay: op.delay_applied,
            started_ms: ms(op.started),
            completed_ms: ms(now),
            ok,
            reason: reason.to_string(),
        };
        op.done = true;
        out.push(FencerAction::Report(FencerEvent::Finished(record.clone())));
        self.mcast(&FencerMsg::Result(record.clone()), out);
        out.push(FencerAction::ToController(ControllerNotice::Result {
            client_call: op.client_call,
            record,
        }));
        if let Some(next) = self.queue.pop_front() {
            self.ops.remove(&op.id);
            self.start_op(now, next, out);
        }
    }
}

/// The action sent to the executor in the current phase.
fn phase_action(op: &RemoteOp) -> FenceAction {
    match op.phase {
        Phase::Requested => op.action,
        Phase::Off => FenceAction::Off,
        Phase::On => FenceAction::On,
    }
}
