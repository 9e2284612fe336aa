//! pacemaker_remoted: the executor core (`hasim-execd`) behind a TCP
//! listener on port 3121, on a machine that runs no Corosync and no other
//! Pacemaker daemon. A cluster node's controller connects (the start of
//! the node's connection resource), says hello, and from then on sends
//! operations and pokes; results go back on the connection the newest
//! hello came on. When that connection drops the resources keep running
//! and the executor keeps its state, as remoted does: the cluster decides
//! (fencing or reconnecting).

use crate::driver::{self, Inputs, Io, Service};
use crate::host::{Host, NodeEvent, StreamEvent, StreamId};
use crate::remote_wire::{encode, Frame, FrameBuffer};
use hasim_agents::{BehaviourRule, BehaviourTable};
use hasim_execd::Execd;
use hasim_pcmk_proto::{Action, HostAction, Input, LocalMsg, TimerId};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

/// pacemaker_remoted's port (`PCMK_remote_port`'s default).
pub const REMOTE_PORT: u16 = 3121;

/// One remote node's pacemaker_remoted for one boot.
#[derive(Debug, Clone)]
pub struct RemoteSetup {
    /// The node's name (its connection resource's id).
    pub node: String,
    /// Drawn from the run seed and the boot: operation durations.
    pub seed: u64,
    /// How agent operations behave on this node (from the scenario).
    pub behaviour: Vec<BehaviourRule>,
    /// Interface name to the node's address on it (IPaddr2's `nic`).
    pub interfaces: BTreeMap<String, Ipv4Addr>,
    /// Cluster time at which this boot's driver clock reads zero.
    pub boot_time: Duration,
}

/// Run pacemaker_remoted until the machine goes away.
pub async fn run(host: Arc<dyn Host>, setup: RemoteSetup) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, REMOTE_PORT);
    host.listen(any, hasim_tcp::SocketOptions::default(), tx)?;
    let mut remoted = Remoted::new(setup);
    let inputs = Inputs {
        datagrams: None,
        local: None,
        streams: Some(rx),
        stop: None,
    };
    driver::run(&mut remoted, host, inputs).await;
    Ok(())
}

/// The daemon: the executor, its client connections, its timers.
pub struct Remoted {
    setup: RemoteSetup,
    execd: Execd,
    conns: BTreeMap<StreamId, FrameBuffer>,
    /// The connection results go to (the newest handshake's).
    current: Option<StreamId>,
    timer_ids: BTreeMap<TimerId, u32>,
    timer_names: BTreeMap<u32, TimerId>,
    next_timer: u32,
}

impl Remoted {
    pub fn new(setup: RemoteSetup) -> Self {
        let table = BehaviourTable::new(setup.behaviour.clone());
        Remoted {
            execd: Execd::new(&setup.node, crate::pacemaker::mix(setup.seed), table),
            setup,
            conns: BTreeMap::new(),
            current: None,
            timer_ids: BTreeMap::new(),
            timer_names: BTreeMap::new(),
            next_timer: 0,
        }
    }

    fn now(&self, io: &Io<'_, u32>) -> Duration {
        self.setup.boot_time + io.now()
    }

    fn send(&self, io: &Io<'_, u32>, conn: StreamId, frame: &Frame) {
        io.host.stream_send(conn, encode(frame));
    }

    fn feed(&mut self, io: &mut Io<'_, u32>, input: Input) {
        let now = self.now(io);
        for action in self.execd.handle(now, input) {
            self.carry_out(io, action);
        }
    }

    fn carry_out(&mut self, io: &mut Io<'_, u32>, action: Action) {
        match action {
            Action::Send {
                msg: LocalMsg::ExecDone(result),
                ..
            } => {
                if let Some(conn) = self.current {
                    self.send(io, conn, &Frame::Done(result));
                }
            }
            Action::SetTimer { id, after } => {
                let key = self.intern(id);
                let at = io.now() + after;
                io.set_timer(key, at);
            }
            Action::CancelTimer(id) => {
                if let Some(key) = self.timer_ids.remove(&id) {
                    self.timer_names.remove(&key);
                    io.cancel_timer(key);
                }
            }
            Action::Report(report) => io.host.report(NodeEvent::Pacemaker { report }),
            Action::Host(h) => self.host_action(io, h),
            _ => {}
        }
    }

    fn intern(&mut self, id: TimerId) -> u32 {
        if let Some(k) = self.timer_ids.get(&id) {
            return *k;
        }
        self.next_timer = self.next_timer.wrapping_add(1);
        self.timer_ids.insert(id.clone(), self.next_timer);
        self.timer_names.insert(self.next_timer, id);
        self.next_timer
    }

    /// An agent's effect on the machine (VIPs, units), as on a cluster node.
    fn host_action(&self, io: &Io<'_, u32>, action: HostAction) {
        let nic_address = |nic: &str| {
            self.setup
                .interfaces
                .get(nic)
                .or_else(|| self.setup.interfaces.values().next())
                .copied()
        };
        match action {
            HostAction::AddAddress { ip, nic, .. } => {
                if let (Ok(vip), Some(on)) = (ip.parse(), nic_address(&nic)) {
                    io.host.add_vip(vip, on);
                }
            }
            HostAction::RemoveAddress { ip, .. } => {
                if let Ok(vip) = ip.parse() {
                    io.host.remove_vip(vip);
                }
            }
            HostAction::GratuitousArp { ip, nic } => {
                if let (Ok(vip), Some(on)) = (ip.parse(), nic_address(&nic)) {
                    io.host.gratuitous_arp(vip, on);
                }
            }
            HostAction::Service { unit, running } => {
                io.host.report(NodeEvent::Unit { unit, running })
            }
            // A remote node runs no local services an agent could ask
            // (mysqld for the galera agent): the question goes unanswered
            // and the operation ends at its timeout.
            HostAction::Ask { .. } => {}
        }
    }

    fn frame(&mut self, io: &mut Io<'_, u32>, conn: StreamId, frame: Frame) {
        match frame {
            Frame::Hello { .. } => {
                self.current = Some(conn);
                let node = self.setup.node.clone();
                self.send(io, conn, &Frame::Welcome { node });
            }
            Frame::Poke => self.send(io, conn, &Frame::Pong),
            Frame::Exec(req) => {
                let msg = LocalMsg::Exec(req);
                self.feed(io, local(msg));
            }
            Frame::Cancel {
                rsc,
                op,
                interval_ms,
            } => {
                let msg = LocalMsg::ExecCancel {
                    rsc,
                    op,
                    interval_ms,
                };
                self.feed(io, local(msg));
            }
            Frame::Welcome { .. } | Frame::Pong | Frame::Done(_) => {}
        }
    }
}

fn local(msg: LocalMsg) -> Input {
    Input::Local {
        from: hasim_pcmk_proto::Daemon::Controld,
        msg,
    }
}

impl Service for Remoted {
    type Timer = u32;

    fn start(&mut self, io: &mut Io<'_, u32>) {
        self.feed(io, Input::Start);
        io.host.report(NodeEvent::Log {
            text: format!("pacemaker_remoted listening on port {REMOTE_PORT}"),
        });
    }

    fn stream(&mut self, io: &mut Io<'_, u32>, event: StreamEvent) {
        match event {
            StreamEvent::Accepted { conn, .. } => {
                self.conns.insert(conn, FrameBuffer::default());
            }
            StreamEvent::Data(conn, bytes) => {
                let Some(buf) = self.conns.get_mut(&conn) else {
                    return;
                };
                match buf.push(&bytes) {
                    Ok(frames) => {
                        for f in frames {
                            self.frame(io, conn, f);
                        }
                    }
                    Err(e) => {
                        io.host.report(NodeEvent::Log {
                            text: format!("pacemaker_remoted: aborting a connection: {e}"),
                        });
                        self.conns.remove(&conn);
                        io.host.stream_abort(conn);
                    }
                }
            }
            StreamEvent::PeerClosed(conn) => {
                self.conns.remove(&conn);
                io.host.stream_close(conn);
                if self.current == Some(conn) {
                    self.current = None;
                }
            }
            StreamEvent::Closed(conn, _) => {
                self.conns.remove(&conn);
                if self.current == Some(conn) {
                    self.current = None;
                }
            }
            StreamEvent::Connected(_) => {}
        }
    }

    fn timer(&mut self, io: &mut Io<'_, u32>, timer: u32) {
        if let Some(id) = self.timer_names.remove(&timer) {
            self.timer_ids.remove(&id);
            self.feed(io, Input::Timer(id));
        }
    }
}
