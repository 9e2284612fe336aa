//! Applying faults and the cores' actions to the world.

use super::*;

fn agent_action(a: FenceAction) -> AgentAction {
    match a {
        FenceAction::Off => AgentAction::Off,
        FenceAction::On => AgentAction::On,
        FenceAction::Reboot => AgentAction::Reboot,
    }
}

/// The harness only configures agents hasim models; anything else is a test bug.
fn profile(agent: &str) -> AgentProfile {
    AgentProfile::for_agent(agent).unwrap_or_else(|| panic!("no agent profile for {agent}"))
}

impl World {
    pub(super) fn apply_fault(&mut self, f: Fault) {
        let at_ms = self.now.as_millis() as u64;
        self.observations.push(Observation::Fault {
            at_ms,
            what: format!("{f:?}"),
        });
        self.log.push(format!("{:?} fault {f:?}", self.now));
        match f {
            Fault::PowerLoss(n) => {
                self.supply_dead.insert(n.clone());
                self.power_off(&n, PowerCause::Fault, true)
            }
            Fault::Partition(groups) => {
                self.components = groups
                    .into_iter()
                    .map(|g| g.into_iter().collect())
                    .collect();
                self.announce_all();
            }
            Fault::MgmtCut(nodes) => self.mgmt_cut.extend(nodes),
            Fault::Device(dev, fault) => {
                let addr = self
                    .setup
                    .devices
                    .iter()
                    .find(|d| d.name == dev)
                    .map(|d| d.address.clone());
                if let Some(a) = addr {
                    self.device(&a, DeviceInput::SetFault(fault));
                }
            }
        }
    }

    /// After `detect`, every live node learns its component's membership.
    pub(super) fn announce_all(&mut self) {
        let at = self.now + self.setup.detect;
        for name in self.setup.nodes.clone() {
            if self.nodes.get(&name).is_some_and(|n| n.on) {
                let view: Vec<String> = self.component_of(&name).into_iter().collect();
                let epoch = self.epoch(&name);
                self.push(at, epoch, Ev::Membership(name, view));
            }
        }
    }

    pub(super) fn on_membership(&mut self, n: &str, view: Vec<String>) {
        let view: BTreeSet<String> = view
            .into_iter()
            .filter(|x| self.nodes.get(x).is_some_and(|y| y.on))
            .collect();
        let members = self.members(&view);
        let quorate = self.quorate_for(n, &view);
        let all = view.len() == self.setup.nodes.len();
        let Some(node) = self.nodes.get_mut(n) else {
            return;
        };
        node.seen_all |= all;
        let lost: Vec<String> = node.view.difference(&view).cloned().collect();
        node.lost.extend(lost);
        node.lost.retain(|x| !view.contains(x));
        node.view = view.clone();
        let wd = node
            .watchdog
            .as_mut()
            .map(|w| w.handle(self.now, WatchdogInput::Quorum { quorate }));
        self.fencer(n, FencerInput::Membership { members });
        if let Some(acts) = wd {
            self.apply_watchdog(n, acts);
        }
        self.fence_lost(n);
    }

    fn is_dc(&self, n: &str) -> bool {
        self.nodes
            .get(n)
            .and_then(|x| x.view.iter().next())
            .is_some_and(|dc| dc == n)
    }

    /// The DC fences every lost node that is not being fenced yet.
    fn fence_lost(&mut self, n: &str) {
        if !self.is_dc(n) || self.nodes.get(n).is_some_and(|x| x.stopped) {
            return;
        }
        let Some(node) = self.nodes.get(n) else {
            return;
        };
        let todo: Vec<String> = node.lost.difference(&node.fencing).cloned().collect();
        for target in todo {
            self.maybe_fence(n, &target);
        }
    }

    pub(super) fn request_fence(&mut self, n: &str, target: &str) {
        self.maybe_fence(n, target);
    }

    fn maybe_fence(&mut self, n: &str, target: &str) {
        let cfg = self.setup.cfg.clone();
        let Some(node) = self.nodes.get(n) else {
            return;
        };
        let quorate = self.quorate_for(n, &node.view);
        if !rules::may_fence(&cfg, quorate, node.view.contains(target)) {
            self.log.push(format!(
                "{:?} {n} may not fence {target} (quorate={quorate})",
                self.now
            ));
            return;
        }
        if !node.fails.may_retry(target, cfg.stonith_max_attempts) {
            self.gave_up.push((self.now, target.to_string()));
            return;
        }
        let views: Vec<NodeView> = self
            .setup
            .nodes
            .iter()
            .map(|x| NodeView {
                name: x.clone(),
                online: node.view.contains(x),
                priority: self.priority(x),
            })
            .collect();
        let delay =
            rules::priority_fencing_delay(cfg.priority_fencing_delay, target, &views) as i64;
        let req = FenceRequest {
            client_call: self.seq,
            target: target.to_string(),
            action: cfg.stonith_action,
            delay,
        };
        if let Some(node) = self.nodes.get_mut(n) {
            node.fencing.insert(target.to_string());
        }
        self.requested_at
            .insert((n.to_string(), target.to_string()), self.now);
        self.fencer(n, FencerInput::Request(req));
    }

    fn priority(&self, node: &str) -> i64 {
        let active: Vec<rules::ActiveInstance> = self
            .placement
            .iter()
            .filter(|(_, on)| *on == node)
            .map(|(r, _)| rules::ActiveInstance {
                priority: self.setup.resources.get(r).map(|x| x.1).unwrap_or(0),
                promoted: false,
                failed: false,
            })
            .collect();
        rules::node_priority(&active)
    }

    pub(super) fn fencer(&mut self, n: &str, input: FencerInput) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(n) else {
            return;
        };
        let actions = node.fencer.handle(now, input);
        for a in actions {
            self.fencer_action(n, a);
        }
    }

    fn fencer_action(&mut self, n: &str, a: FencerAction) {
        let epoch = self.epoch(n);
        match a {
            FencerAction::Mcast(payload) => {
                let at = self.now + self.setup.cpg_latency;
                for to in self.component_of(n) {
                    let e = self.epoch(&to);
                    self.push(
                        at,
                        e,
                        Ev::Deliver {
                            to,
                            from: n.to_string(),
                            payload: payload.clone(),
                        },
                    );
                }
            }
            FencerAction::ToController(notice) => self.controller(n, notice),
            FencerAction::RunAgent(run) => self.start_agent(n, run),
            FencerAction::KillAgent { call } => {
                self.agents.remove(&(n.to_string(), call));
            }
            FencerAction::SetTimer { id, at } => {
                self.push(at, epoch, Ev::FencerTimer(n.to_string(), id))
            }
            FencerAction::CancelTimer { .. } => {}
            FencerAction::DrawRandom { request } => {
                let value = self.rng.next_u32();
                self.fencer(n, FencerInput::Random { request, value });
            }
            FencerAction::Report(ev) => self.events.push((self.now, n.to_string(), ev)),
        }
    }

    fn controller(&mut self, n: &str, notice: ControllerNotice) {
        match notice {
            ControllerNotice::Result { record, .. } => {
                self.results.push((n.to_string(), record.clone()));
                let target = record.target.clone();
                if let Some(node) = self.nodes.get_mut(n) {
                    node.fencing.remove(&target);
                    node.fails.record(&target, record.ok);
                    if record.ok {
                        node.lost.remove(&target);
                    }
                }
                if record.ok {
                    self.recover(n, &target);
                } else if self.nodes.get(n).is_some_and(|x| x.lost.contains(&target))
                    && self.is_dc(n)
                {
                    self.maybe_fence(n, &target);
                }
            }
            ControllerNotice::Notify(record) => {
                let reaction = rules::on_fence_notification(
                    n,
                    &record.target,
                    record.ok,
                    self.setup.cfg.fence_reaction,
                );
                if reaction != rules::NotifyReaction::None {
                    self.log.push(format!(
                        "{:?} {n} was told it was fenced: {reaction:?}",
                        self.now
                    ));
                    self.stop_node_resources(n);
                }
            }
        }
    }

    fn stop_node_resources(&mut self, n: &str) {
        if let Some(node) = self.nodes.get_mut(n) {
            node.stopped = true;
        }
        let at_ms = self.now.as_millis() as u64;
        for rsc in self.running_rsc.remove(n).unwrap_or_default() {
            self.observations.push(Observation::ResourceStopped {
                resource: rsc,
                node: n.to_string(),
                at_ms,
            });
        }
    }

    /// Start the lost node's resources on the DC.
    fn recover(&mut self, dc: &str, target: &str) {
        let at_ms = self.now.as_millis() as u64;
        for (rsc, on) in self.placement.clone() {
            if on == target {
                self.placement.insert(rsc.clone(), dc.to_string());
                self.running_rsc
                    .entry(dc.to_string())
                    .or_default()
                    .insert(rsc.clone());
                self.observations.push(Observation::ResourceStarted {
                    resource: rsc,
                    node: dc.to_string(),
                    at_ms,
                });
            }
        }
    }

    fn start_agent(&mut self, n: &str, run: hasim_fenced::AgentRun) {
        let call = AgentCall {
            device_address: run.address.clone(),
            plug: run.plug,
            action: agent_action(run.action),
        };
        let (agent, outs) = FenceAgent::start(self.now, profile(&run.agent), call);
        self.agents.insert((n.to_string(), run.call), agent);
        self.agent_outputs(n, run.call, outs);
    }

    pub(super) fn agent(&mut self, n: &str, call: u64, input: AgentInput) {
        let now = self.now;
        let Some(agent) = self.agents.get_mut(&(n.to_string(), call)) else {
            return;
        };
        let outs = agent.handle(now, input);
        self.agent_outputs(n, call, outs);
    }

    fn mgmt_delay(&mut self) -> Duration {
        let jitter = self.setup.mgmt_jitter.as_micros() as u64;
        let extra = if jitter > 0 {
            self.rng.gen_range(0..jitter)
        } else {
            0
        };
        self.setup.mgmt_latency + Duration::from_micros(extra)
    }

    fn agent_outputs(&mut self, n: &str, call: u64, outs: Vec<AgentOutput>) {
        let epoch = self.epoch(n);
        for o in outs {
            match o {
                AgentOutput::Send { to, bytes } if !self.mgmt_cut.contains(n) => {
                    let at = self.now + self.mgmt_delay();
                    self.push(
                        at,
                        epoch,
                        Ev::ToDevice {
                            device: to,
                            from: format!("{n}#{call}"),
                            bytes,
                        },
                    );
                }
                AgentOutput::Send { .. } => {}
                AgentOutput::SetTimer { id, at } => {
                    self.push(at, epoch, Ev::AgentTimer(n.to_string(), call, id))
                }
                AgentOutput::Done(outcome) => {
                    self.agents.remove(&(n.to_string(), call));
                    let result = match outcome {
                        AgentOutcome::Success | AgentOutcome::Status(_) => AgentResult::Ok,
                        AgentOutcome::Failed(f) => AgentResult::Failed(format!("{f:?}")),
                    };
                    self.fencer(n, FencerInput::AgentDone { call, result });
                }
            }
        }
    }

    pub(super) fn device(&mut self, addr: &str, input: DeviceInput) {
        let now = self.now;
        let attribution = match &input {
            DeviceInput::Datagram { from, .. } => Some(from.clone()),
            _ => None,
        };
        let Some(dev) = self.devices.get_mut(addr) else {
            return;
        };
        let outs = dev.handle(now, input);
        if let Some(from) = attribution {
            self.last_sender.insert(addr.to_string(), from);
        }
        for o in outs {
            match o {
                DeviceAction::Send { to, bytes } => {
                    let Some((node, call)) = to.split_once('#') else {
                        continue;
                    };
                    let call: u64 = call.parse().unwrap_or(0);
                    if !self.mgmt_cut.contains(node) {
                        let at = self.now + self.mgmt_delay();
                        let epoch = self.epoch(node);
                        self.push(
                            at,
                            epoch,
                            Ev::ToAgent {
                                node: node.to_string(),
                                call,
                                bytes,
                            },
                        );
                    }
                }
                DeviceAction::SetTimer { id, at } => {
                    self.push(at, 0, Ev::DeviceTimer(addr.to_string(), id))
                }
                DeviceAction::Power { machine, on } => self.device_power(addr, &machine, on),
                DeviceAction::Event(_) => {}
            }
        }
    }

    /// A device switched a machine: attribute it to the fencing requester.
    fn device_power(&mut self, addr: &str, machine: &str, on: bool) {
        if on {
            self.power_on(machine);
            return;
        }
        let executor = self
            .last_sender
            .get(addr)
            .and_then(|s| s.split_once('#'))
            .map(|(n, _)| n.to_string());
        let requester = self
            .events
            .iter()
            .rev()
            .find_map(|(_, node, ev)| match ev {
                FencerEvent::AgentStarted { op, .. } if Some(node) == executor.as_ref() => {
                    op.split_once(':').map(|(r, _)| r.to_string())
                }
                _ => None,
            })
            .unwrap_or_default();
        let requested = self
            .requested_at
            .get(&(requester.clone(), machine.to_string()))
            .copied()
            .unwrap_or_default();
        let cause = PowerCause::Fenced {
            requester,
            requested_ms: requested.as_millis() as u64,
        };
        let is_pdu =
            self.setup.devices.iter().any(|d| {
                d.address == addr && matches!(d.kind, hasim_powerdev::DeviceKind::Pdu { .. })
            });
        self.power_off(machine, cause, is_pdu);
    }

    pub(super) fn power_off(&mut self, n: &str, cause: PowerCause, supply_lost: bool) {
        let Some(node) = self.nodes.get_mut(n) else {
            return;
        };
        if !node.on {
            return;
        }
        node.on = false;
        self.running_rsc.remove(n);
        let at_ms = self.now.as_millis() as u64;
        self.observations.push(Observation::PowerOff {
            node: n.to_string(),
            at_ms,
            cause,
        });
        self.agents.retain(|(owner, _), _| owner != n);
        for addr in self.devices.keys().cloned().collect::<Vec<_>>() {
            self.device(
                &addr,
                DeviceInput::MachinePower {
                    machine: n.to_string(),
                    on: false,
                    supply_lost,
                },
            );
        }
        self.announce_all();
    }

    pub(super) fn power_on(&mut self, n: &str) {
        if self.supply_dead.contains(n) || self.nodes.get(n).is_some_and(|x| x.on) {
            return;
        }
        let at_ms = self.now.as_millis() as u64;
        self.observations.push(Observation::PowerOn {
            node: n.to_string(),
            at_ms,
        });
        for addr in self.devices.keys().cloned().collect::<Vec<_>>() {
            self.device(
                &addr,
                DeviceInput::MachinePower {
                    machine: n.to_string(),
                    on: true,
                    supply_lost: false,
                },
            );
        }
        let at = self.now + self.setup.boot_delay;
        self.push(at, u32::MAX, Ev::Boot(n.to_string()));
    }

    pub(super) fn boot(&mut self, n: &str) {
        if self.nodes.get(n).is_some_and(|x| x.on) {
            return;
        }
        let names: BTreeMap<u32, String> = self
            .setup
            .nodes
            .iter()
            .enumerate()
            .map(|(i, x)| (i as u32 + 1, x.clone()))
            .collect();
        self.boot_node(n, names);
        // startup-fencing: nodes this node has never seen are unclean.
        let unseen: Vec<String> = self
            .setup
            .nodes
            .iter()
            .filter(|x| !self.component_of(n).contains(*x))
            .cloned()
            .collect();
        if let Some(node) = self.nodes.get_mut(n) {
            node.lost.extend(unseen);
        }
        let at_ms = (self.now + self.setup.detect).as_millis() as u64;
        self.observations.push(Observation::NodeJoined {
            node: n.to_string(),
            at_ms,
        });
        self.announce_all();
    }

    pub(super) fn apply_watchdog(&mut self, n: &str, acts: Vec<WatchdogAction>) {
        let epoch = self.epoch(n);
        for a in acts {
            match a {
                WatchdogAction::SetTimer { id, at } => {
                    self.push(at, epoch, Ev::WatchdogTimer(n.to_string(), id))
                }
                WatchdogAction::Reset => {
                    self.power_off(n, PowerCause::SelfFenced, false);
                    self.power_on(n);
                }
                WatchdogAction::Report(ev) => {
                    self.log.push(format!("{:?} {n} watchdog {ev:?}", self.now))
                }
            }
        }
    }
}
