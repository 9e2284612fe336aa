//! Pacemaker on a node: the CIB manager, attribute manager, executor and
//! controller cores (`hasim-based`, `hasim-attrd`, `hasim-execd`,
//! `hasim-controld`) run on the driver as one service, the way pacemakerd
//! runs its children.
//!
//! Why one service and not one task per daemon: Pacemaker's daemons talk to
//! each other over local IPC, which hasim models as immediate and in order
//! (a request is handled before the next CPG message is). One work queue per
//! input gives exactly that order, in the simulator and in real mode. Each
//! daemon still joins its own CPG group (`cib`, `attrd`, `crmd`) through
//! corosync's cpg service, so what crosses the network is Pacemaker's.
//!
//! Time: the cores expect one cluster-wide clock (the CIB stores wall-clock
//! seconds that other nodes compare), so the service adds the node's boot
//! time ([`PacemakerSetup::boot_time`]) to the driver's clock, which
//! restarts at every boot.

use crate::driver::{self, Inputs, Io, Service};
use crate::fencing::{Fencing, FencingSetup, Step, AGENT_PORT};
use crate::host::{Host, NodeEvent};
use crate::local::{Endpoint, Envelope, LocalMessage, COROSYNC};
use crate::remote_link::RemoteLinks;
use hasim_agents::{BehaviourRule, BehaviourTable};
use hasim_attrd::Attrd;
use hasim_based::Based;
use hasim_controld::{Config, Controld};
use hasim_execd::Execd;
use hasim_pcmk_proto::{Action, CibOp, ConfChange, Daemon, HostAction, Input, LocalMsg, TimerId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

/// The endpoint name of the Pacemaker service on the in-node channel; an
/// operator's cibadmin request is sent here as [`LocalMessage::Ipc`] with a
/// JSON [`CibOp`] ([`operator_request`]).
pub const PACEMAKER: &str = "pacemaker";

/// The daemons that join a CPG group, in the order they start.
const GROUP_DAEMONS: [Daemon; 3] = [Daemon::Based, Daemon::Attrd, Daemon::Controld];

/// Everything one node's Pacemaker needs for one boot.
#[derive(Debug, Clone)]
pub struct PacemakerSetup {
    pub node: String,
    pub node_id: u32,
    /// Corosync's nodelist: node id to name.
    pub nodelist: BTreeMap<u32, String>,
    /// Drawn from the run seed (and the boot): election "uptime" jitter,
    /// the attribute writer's vote, operation durations.
    pub seed: u64,
    /// How agent operations behave on this node (from the scenario).
    pub behaviour: Vec<BehaviourRule>,
    /// Interface name to the node's address on it, for IPaddr2's `nic`.
    pub interfaces: BTreeMap<String, Ipv4Addr>,
    /// Cluster time at which this boot's driver clock reads zero.
    pub boot_time: Duration,
    /// The fencer, when the cluster fences (`None`: no fencer runs, and the
    /// controller's fence requests go unanswered, as with
    /// stonith-enabled=false no fencing is ever asked for).
    pub fencing: Option<FencingSetup>,
    /// Remote nodes' names to their addresses (what /etc/hosts would give
    /// a connection resource's `server`).
    pub hosts: BTreeMap<String, Ipv4Addr>,
}

impl PacemakerSetup {
    /// The address of interface `nic`; the first interface when the agent
    /// names none or one the node lacks (IPaddr2 finds the NIC by route).
    fn interface(&self, nic: &str) -> Option<Ipv4Addr> {
        self.interfaces
            .get(nic)
            .or_else(|| self.interfaces.values().next())
            .copied()
    }
}

/// A timer of one core: the daemon and an interned [`TimerId`].
pub type PcmkTimer = (Daemon, u32);

/// The four cores of one node and the interning of their timer names.
pub struct Pacemaker {
    setup: PacemakerSetup,
    based: Based,
    attrd: Attrd,
    execd: Execd,
    controld: Controld,
    fencing: Option<Fencing>,
    timer_ids: BTreeMap<(Daemon, TimerId), u32>,
    timer_names: BTreeMap<PcmkTimer, TimerId>,
    next_timer: u32,
    /// VIPs and systemd units this boot's agents brought up, so an exit
    /// (fence-reaction) can take them down.
    vips: BTreeSet<Ipv4Addr>,
    units: BTreeSet<String>,
    /// Pacemaker exited (fence-reaction): every input is ignored until the
    /// machine boots again.
    exited: bool,
    /// The controller's connections to remote nodes' executors.
    links: RemoteLinks,
}

/// splitmix64: one seed gives independent draws per use.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Pacemaker {
    pub fn new(setup: PacemakerSetup) -> Self {
        let name = setup.node.clone();
        let controld = Controld::new(Config {
            node: name.clone(),
            node_id: setup.node_id,
            nodelist: setup.nodelist.clone(),
            uptime_jitter_ms: mix(setup.seed) % 1000,
        });
        let table = BehaviourTable::new(setup.behaviour.clone());
        let local = setup.interfaces.values().next().copied();
        let links = RemoteLinks::new(&name, local, setup.hosts.clone(), None);
        Pacemaker {
            links,
            based: Based::new(&name),
            attrd: Attrd::new(&name, mix(setup.seed ^ 1) % 1000),
            execd: Execd::new(&name, mix(setup.seed ^ 2), table),
            controld,
            fencing: setup
                .fencing
                .as_ref()
                .map(|f| Fencing::new(&name, setup.nodelist.clone(), f)),
            setup,
            timer_ids: BTreeMap::new(),
            timer_names: BTreeMap::new(),
            next_timer: 0,
            vips: BTreeSet::new(),
            units: BTreeSet::new(),
            exited: false,
        }
    }

    /// Cluster time.
    fn now<T: Ord + Copy>(&self, io: &Io<'_, T>) -> Duration {
        self.setup.boot_time + io.now()
    }

    fn intern(&mut self, daemon: Daemon, id: TimerId) -> PcmkTimer {
        if let Some(n) = self.timer_ids.get(&(daemon, id.clone())) {
            return (daemon, *n);
        }
        self.next_timer = self.next_timer.wrapping_add(1);
        let key = (daemon, self.next_timer);
        self.timer_ids.insert((daemon, id.clone()), self.next_timer);
        self.timer_names.insert(key, id);
        key
    }

    /// Forget an interned timer name (it fired or was cancelled), so the
    /// table stays as small as the set of pending timers.
    fn forget(&mut self, key: PcmkTimer) -> Option<TimerId> {
        let id = self.timer_names.remove(&key)?;
        self.timer_ids.remove(&(key.0, id.clone()));
        Some(id)
    }

    fn core(&mut self, daemon: Daemon, now: Duration, input: Input) -> Vec<Action> {
        match daemon {
            Daemon::Based => self.based.handle(now, input),
            Daemon::Attrd => self.attrd.handle(now, input),
            Daemon::Execd => self.execd.handle(now, input),
            Daemon::Controld => self.controld.handle(now, input),
            // Fed by `fence` (its actions are not Pacemaker `Action`s).
            Daemon::Fenced => Vec::new(),
        }
    }

    /// Feed the fencer one input (a local message, its group's
    /// configuration change or message, a timer) and carry out its steps.
    fn fence(
        &mut self,
        io: &mut Io<'_, PcmkTimer>,
        input: Input,
        work: &mut VecDeque<(Daemon, Input)>,
    ) {
        let now = self.now(io);
        let Some(fencing) = self.fencing.as_mut() else {
            return;
        };
        let steps = match input {
            Input::Local { msg, .. } => fencing.local(now, &msg),
            Input::ConfChange(change) => fencing.membership(now, change.members),
            Input::Deliver { from, data } => fencing.deliver(now, from, data),
            Input::Timer(id) => fencing.timer(now, &id),
            _ => Vec::new(),
        };
        self.fence_steps(io, steps, work);
    }

    fn fence_steps(
        &mut self,
        io: &mut Io<'_, PcmkTimer>,
        steps: Vec<Step>,
        work: &mut VecDeque<(Daemon, Input)>,
    ) {
        for step in steps {
            match step {
                Step::Mcast(payload) => {
                    let group = Daemon::Fenced.cpg_group().to_string();
                    let _ = io.send_local(COROSYNC, LocalMessage::CpgMcast { group, payload });
                }
                Step::ToController(msg) => work.push_back((
                    Daemon::Controld,
                    Input::Local {
                        from: Daemon::Fenced,
                        msg,
                    },
                )),
                Step::SetTimer(id, at) => {
                    let key = self.intern(Daemon::Fenced, id);
                    io.set_timer(key, at.saturating_sub(self.setup.boot_time));
                }
                Step::CancelTimer(id) => {
                    if let Some(n) = self.timer_ids.get(&(Daemon::Fenced, id)).copied() {
                        io.cancel_timer((Daemon::Fenced, n));
                        self.forget((Daemon::Fenced, n));
                    }
                }
                Step::Send { src, dst, bytes } => io.host.send(src, dst, bytes),
                Step::Report(report) => io.host.report(NodeEvent::Fencing { report }),
                Step::Exit(reaction) => {
                    self.exit(io, reaction);
                    work.clear();
                    return;
                }
            }
        }
    }

    /// fence-reaction: this node was told it was fenced while it runs.
    /// `stop` (2.1.5's default): the controller exits fatally and pacemakerd
    /// stops the node's Pacemaker; hasim models it as every daemon stopping
    /// at once, the resources stopped abruptly (VIPs down, units stopped)
    /// and the CPG groups left, so the survivors see the node's Pacemaker
    /// gone. `panic` would reboot the host, but the node's `Host` has no
    /// power control, so it exits the same way (reported as panic).
    fn exit(&mut self, io: &mut Io<'_, PcmkTimer>, reaction: hasim_fenced::FenceReaction) {
        self.exited = true;
        self.links.close_all(io.host);
        let vips: Vec<Ipv4Addr> = std::mem::take(&mut self.vips).into_iter().collect();
        for vip in &vips {
            io.host.remove_vip(*vip);
        }
        for rsc in self.execd.active_resources() {
            io.host.report(NodeEvent::Pacemaker {
                report: hasim_pcmk_proto::Event::ResourceActive {
                    node: self.setup.node.clone(),
                    rsc,
                    active: false,
                },
            });
        }
        for unit in std::mem::take(&mut self.units) {
            io.host.report(NodeEvent::Unit {
                unit,
                running: false,
            });
        }
        for key in std::mem::take(&mut self.timer_names).into_keys() {
            io.cancel_timer(key);
        }
        self.timer_ids.clear();
        let mut groups: Vec<String> = GROUP_DAEMONS
            .iter()
            .map(|d| d.cpg_group().to_string())
            .collect();
        groups.push(Daemon::Fenced.cpg_group().to_string());
        for group in groups {
            let _ = io.send_local(COROSYNC, LocalMessage::CpgLeave { group });
        }
        io.host.report(NodeEvent::Fencing {
            report: crate::fencing::FencingReport::PacemakerExited {
                reaction: format!("{reaction:?}").to_ascii_lowercase(),
                vips_removed: vips.iter().map(|v| v.to_string()).collect(),
            },
        });
        // fence-reaction=panic: Pacemaker panics the host (pcmk__panic: a
        // sysrq reboot, or sbd's watchdog when sbd runs), a hard reset.
        if reaction == hasim_fenced::FenceReaction::Panic {
            io.host.hard_reset();
        }
    }

    /// Feed one input and everything it causes on this node (local
    /// messages, disk reads), in order, before returning.
    fn feed(&mut self, io: &mut Io<'_, PcmkTimer>, daemon: Daemon, input: Input) {
        self.feed_all(io, VecDeque::from([(daemon, input)]));
    }

    /// Feed `work` in order, with everything each input causes queued
    /// behind it.
    fn feed_all(&mut self, io: &mut Io<'_, PcmkTimer>, mut work: VecDeque<(Daemon, Input)>) {
        while let Some((daemon, input)) = work.pop_front() {
            if self.exited {
                return;
            }
            if daemon == Daemon::Fenced {
                self.fence(io, input, &mut work);
                continue;
            }
            let now = self.now(io);
            for action in self.core(daemon, now, input) {
                self.carry_out(io, daemon, action, &mut work);
            }
        }
    }

    fn carry_out(
        &mut self,
        io: &mut Io<'_, PcmkTimer>,
        daemon: Daemon,
        action: Action,
        work: &mut VecDeque<(Daemon, Input)>,
    ) {
        match action {
            Action::Multicast(payload) => {
                let group = daemon.cpg_group().to_string();
                let _ = io.send_local(COROSYNC, LocalMessage::CpgMcast { group, payload });
            }
            Action::Send {
                msg: LocalMsg::Remote(request),
                ..
            } => {
                for event in self.links.request(io.host, request) {
                    work.push_back(remote_event(event));
                }
            }
            Action::Send { to, msg } => {
                // The fencer reads the CIB and the executor's stonith
                // results as the controller gets them (fenced is a CIB
                // client and learns of device registrations).
                if self.fencing.is_some()
                    && to == Daemon::Controld
                    && matches!(msg, LocalMsg::CibUpdated { .. } | LocalMsg::ExecDone(_))
                {
                    let copy = msg.clone();
                    work.push_back((
                        Daemon::Fenced,
                        Input::Local {
                            from: daemon,
                            msg: copy,
                        },
                    ));
                }
                // The executor keeps the CIB for agents that read the
                // cluster's state (crm_mon).
                if to == Daemon::Controld && matches!(msg, LocalMsg::CibUpdated { .. }) {
                    let copy = msg.clone();
                    work.push_back((
                        Daemon::Execd,
                        Input::Local {
                            from: daemon,
                            msg: copy,
                        },
                    ));
                }
                work.push_back((to, Input::Local { from: daemon, msg }))
            }
            Action::SetTimer { id, after } => {
                let key = self.intern(daemon, id);
                let at = io.now() + after;
                io.set_timer(key, at);
            }
            Action::CancelTimer(id) => {
                if let Some(n) = self.timer_ids.get(&(daemon, id)).copied() {
                    io.cancel_timer((daemon, n));
                    self.forget((daemon, n));
                }
            }
            Action::Store { key, data } => io.host.store(&key, data),
            Action::Load { key } => {
                let data = io.host.load(&key);
                work.push_back((daemon, Input::Loaded { key, data }));
            }
            Action::Report(report) => io.host.report(NodeEvent::Pacemaker { report }),
            Action::Host(host) => self.host_action(io, host, work),
        }
    }

    /// A resource agent's effect on the machine.
    fn host_action(
        &mut self,
        io: &Io<'_, PcmkTimer>,
        action: HostAction,
        work: &mut VecDeque<(Daemon, Input)>,
    ) {
        match action {
            HostAction::Ask {
                service,
                call,
                request,
            } => {
                let line = format!("{call} {request}");
                if !io.send_local(&service, LocalMessage::Ipc(line.into_bytes())) {
                    let answer = format!("error {service} is not installed on this node");
                    let msg = LocalMsg::HostAnswer { call, answer };
                    let from = Daemon::Execd;
                    work.push_back((Daemon::Execd, Input::Local { from, msg }));
                }
            }
            HostAction::AddAddress { ip, nic, .. } => {
                if let (Ok(vip), Some(on)) = (ip.parse(), self.setup.interface(&nic)) {
                    self.vips.insert(vip);
                    io.host.add_vip(vip, on);
                }
            }
            HostAction::RemoveAddress { ip, .. } => {
                if let Ok(vip) = ip.parse() {
                    self.vips.remove(&vip);
                    io.host.remove_vip(vip);
                }
            }
            HostAction::GratuitousArp { ip, nic } => {
                if let (Ok(vip), Some(on)) = (ip.parse(), self.setup.interface(&nic)) {
                    io.host.gratuitous_arp(vip, on);
                }
            }
            HostAction::Service { unit, running } => {
                if running {
                    self.units.insert(unit.clone());
                } else {
                    self.units.remove(&unit);
                }
                io.host.report(NodeEvent::Unit { unit, running })
            }
        }
    }
}

/// A remote connection's event, as the controller's input.
fn remote_event(event: hasim_pcmk_proto::RemoteMsg) -> (Daemon, Input) {
    let input = Input::Local {
        from: Daemon::Execd,
        msg: LocalMsg::Remote(event),
    };
    (Daemon::Controld, input)
}

/// The daemon whose CPG group is `group`.
fn group_daemon(group: &str) -> Option<Daemon> {
    GROUP_DAEMONS
        .into_iter()
        .chain([Daemon::Fenced])
        .find(|d| d.cpg_group() == group)
}

/// A service's answer to [`HostAction::Ask`]: `CALL ANSWER`.
fn host_answer(bytes: &[u8]) -> Option<LocalMsg> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (call, answer) = text.split_once(' ')?;
    Some(LocalMsg::HostAnswer {
        call: call.parse().ok()?,
        answer: answer.to_string(),
    })
}

/// The message an operator's cibadmin sends to [`PACEMAKER`].
pub fn operator_request(op: &CibOp) -> LocalMessage {
    LocalMessage::Ipc(hasim_pcmk_proto::encode(op))
}

impl Service for Pacemaker {
    type Timer = PcmkTimer;

    fn start(&mut self, io: &mut Io<'_, PcmkTimer>) {
        // Every core starts before any handles another's message: the CIB
        // manager's first update (the CIB read from disk) must reach a
        // started controller, which reads its options (dc-deadtime, ...)
        // from it as Pacemaker's controller does when it connects to the
        // CIB. (A core's start resets it.)
        let starts = [
            Daemon::Based,
            Daemon::Attrd,
            Daemon::Execd,
            Daemon::Controld,
        ]
        .map(|daemon| (daemon, Input::Start));
        self.feed_all(io, VecDeque::from(starts));
        for daemon in GROUP_DAEMONS {
            let group = daemon.cpg_group().to_string();
            let _ = io.send_local(COROSYNC, LocalMessage::CpgJoin { group });
        }
        if self.fencing.is_some() {
            let group = Daemon::Fenced.cpg_group().to_string();
            let _ = io.send_local(COROSYNC, LocalMessage::CpgJoin { group });
        }
        let _ = io.send_local(COROSYNC, LocalMessage::QuorumTrack);
    }

    fn message(&mut self, io: &mut Io<'_, PcmkTimer>, envelope: Envelope) {
        if self.exited {
            return;
        }
        let (daemon, input) = match envelope.message {
            LocalMessage::CpgConfChg {
                group,
                members,
                left,
                joined,
            } => {
                let Some(daemon) = group_daemon(&group) else {
                    return;
                };
                let change = ConfChange {
                    members,
                    left,
                    joined,
                };
                (daemon, Input::ConfChange(change))
            }
            LocalMessage::CpgDeliver {
                group,
                from,
                payload,
            } => {
                let Some(daemon) = group_daemon(&group) else {
                    return;
                };
                let data = payload;
                (daemon, Input::Deliver { from, data })
            }
            LocalMessage::Quorum { quorate, members } => {
                (Daemon::Controld, Input::Quorum { quorate, members })
            }
            LocalMessage::Ipc(bytes) if envelope.from == hasim_execd::MYSQLD => {
                // mysqld answering an agent's command: `CALL ANSWER`.
                let Some(msg) = host_answer(&bytes) else {
                    return;
                };
                let from = Daemon::Execd;
                (Daemon::Execd, Input::Local { from, msg })
            }
            LocalMessage::Ipc(bytes) => {
                // cibadmin: a CIB operation; anything else is not ours.
                let Some(op) = hasim_pcmk_proto::decode::<CibOp>(&bytes) else {
                    return;
                };
                (Daemon::Based, Input::Client(op))
            }
            _ => return,
        };
        self.feed(io, daemon, input);
    }

    fn datagram(&mut self, io: &mut Io<'_, PcmkTimer>, datagram: crate::host::Datagram) {
        if self.exited {
            return;
        }
        let now = self.now(io);
        let Some(fencing) = self.fencing.as_mut() else {
            return;
        };
        let steps = fencing.datagram(now, datagram.src, datagram.payload);
        let mut work = VecDeque::new();
        self.fence_steps(io, steps, &mut work);
        while let Some((daemon, input)) = work.pop_front() {
            self.feed(io, daemon, input);
        }
    }

    fn stream(&mut self, io: &mut Io<'_, PcmkTimer>, event: crate::host::StreamEvent) {
        if self.exited {
            return;
        }
        let work = self.links.stream(io.host, event);
        self.feed_all(io, work.into_iter().map(remote_event).collect());
    }

    fn timer(&mut self, io: &mut Io<'_, PcmkTimer>, timer: PcmkTimer) {
        if self.exited {
            return;
        }
        if let Some(id) = self.forget(timer) {
            self.feed(io, timer.0, Input::Timer(id));
        }
    }
}

/// Handles the simulator and tests use to look inside a running node.
impl Pacemaker {
    /// The DC this node's controller follows.
    pub fn dc(&self) -> Option<&str> {
        self.controld.dc()
    }
}

/// Run Pacemaker behind `endpoint` until the node goes away.
pub async fn run(setup: PacemakerSetup, host: Arc<dyn Host>, endpoint: Endpoint) {
    // The fence agents' replies arrive on their port (only a fencing
    // node binds it).
    let datagrams = match &setup.fencing {
        Some(_) => match host.bind(AGENT_PORT) {
            Ok(inbox) => Some(inbox),
            Err(e) => {
                host.report(NodeEvent::DaemonFailed {
                    daemon: "pacemaker-fenced".into(),
                    error: format!("bind port {AGENT_PORT}: {e}"),
                });
                None
            }
        },
        None => None,
    };
    let mut service = Pacemaker::new(setup);
    // The controller's remote connections report here.
    let (tx, streams) = tokio::sync::mpsc::unbounded_channel();
    service.links.set_events(tx);
    let inputs = Inputs {
        streams: Some(streams),
        datagrams,
        local: Some((endpoint.board, endpoint.name, endpoint.inbox)),
        stop: None,
    };
    driver::run(&mut service, host, inputs).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_timers_are_forgotten_when_they_fire() {
        let setup = PacemakerSetup {
            node: "node1".into(),
            node_id: 1,
            nodelist: BTreeMap::from([(1, "node1".into())]),
            seed: 7,
            behaviour: Vec::new(),
            interfaces: BTreeMap::new(),
            boot_time: Duration::ZERO,
            fencing: None,
            hosts: BTreeMap::new(),
        };
        let mut p = Pacemaker::new(setup);
        let a = p.intern(Daemon::Based, TimerId::new("x"));
        assert_eq!(p.intern(Daemon::Based, TimerId::new("x")), a);
        let b = p.intern(Daemon::Attrd, TimerId::new("x"));
        assert_ne!(a, b);
        assert_eq!(p.forget(a), Some(TimerId::new("x")));
        assert_eq!(p.forget(a), None);
        assert_eq!(p.timer_ids.len(), 1);
    }

    #[test]
    fn groups_route_to_their_daemons() {
        assert_eq!(group_daemon("cib"), Some(Daemon::Based));
        assert_eq!(group_daemon("crmd"), Some(Daemon::Controld));
        assert_eq!(group_daemon("attrd"), Some(Daemon::Attrd));
        assert_eq!(group_daemon("hasim-load"), None);
    }
}
