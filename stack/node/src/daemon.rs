//! The contract between a local daemon's sans-IO core and the node: the
//! shape Pacemaker's daemons (CIB manager, controller, attribute manager,
//! executor, fencer) and test workloads take. A core is
//! `handle(now, input) -> actions`; [`Adapter`] runs any such core on the
//! generic driver, with CPG and quorum reached through corosync over the
//! in-node channel.

use crate::driver::{self, Inputs, Io, Service};
use crate::host::{Host, NodeEvent};
use crate::local::{Endpoint, Envelope, LocalMessage, COROSYNC};
use hasim_cpg::{Member, Reason};
use std::sync::Arc;
use std::time::Duration;

/// What a local daemon's core hears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonInput<T> {
    /// The daemon starts.
    Start,
    /// A membership change of a CPG group this daemon joined.
    CpgConfChg {
        group: String,
        members: Vec<Member>,
        left: Vec<(Member, Reason)>,
        joined: Vec<(Member, Reason)>,
    },
    /// A message to a CPG group this daemon joined, in agreed order.
    CpgDeliver {
        group: String,
        from: Member,
        payload: Vec<u8>,
    },
    /// The quorum view changed (after [`DaemonAction::TrackQuorum`]).
    Quorum { quorate: bool, members: Vec<u32> },
    /// Bytes from another daemon on this node.
    Local { from: String, payload: Vec<u8> },
    /// A timer the core set is due.
    Timer(T),
    /// What [`DaemonAction::Load`] found on the disk.
    Loaded { key: String, value: Option<Vec<u8>> },
}

/// What a local daemon's core asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum DaemonAction<T> {
    CpgJoin {
        group: String,
    },
    CpgLeave {
        group: String,
    },
    CpgMcast {
        group: String,
        payload: Vec<u8>,
    },
    /// Ask for quorum notifications.
    TrackQuorum,
    /// Bytes to another daemon on this node.
    Local {
        to: String,
        payload: Vec<u8>,
    },
    SetTimer(T, Duration),
    CancelTimer(T),
    Store {
        key: String,
        value: Vec<u8>,
    },
    /// Read `key`; the answer comes back as [`DaemonInput::Loaded`].
    Load {
        key: String,
    },
    Report(NodeEvent),
}

/// A local daemon's sans-IO core.
pub trait DaemonCore {
    type Timer: Ord + Copy + std::fmt::Debug;
    fn handle(
        &mut self,
        now: Duration,
        input: DaemonInput<Self::Timer>,
    ) -> Vec<DaemonAction<Self::Timer>>;
}

/// Runs a [`DaemonCore`] as a [`Service`] of the generic driver.
pub struct Adapter<C> {
    core: C,
}

impl<C: DaemonCore> Adapter<C> {
    fn feed(&mut self, io: &mut Io<'_, C::Timer>, input: DaemonInput<C::Timer>) {
        let mut pending = vec![input];
        while let Some(input) = pending.pop() {
            let actions = self.core.handle(io.now(), input);
            // Answers to loads go back in after the rest of this batch, in order.
            let mut answers = Vec::new();
            for action in actions {
                if let Some(answer) = carry_out(io, action) {
                    answers.push(answer);
                }
            }
            pending.extend(answers.into_iter().rev());
        }
    }
}

/// Do one action; a disk read returns the input that answers it.
fn carry_out<T: Ord + Copy>(io: &mut Io<'_, T>, action: DaemonAction<T>) -> Option<DaemonInput<T>> {
    let to_corosync = |io: &Io<'_, T>, message| {
        // Without corosync, libcpg calls fail; the core hears nothing back.
        let _ = io.send_local(COROSYNC, message);
    };
    match action {
        DaemonAction::CpgJoin { group } => to_corosync(io, LocalMessage::CpgJoin { group }),
        DaemonAction::CpgLeave { group } => to_corosync(io, LocalMessage::CpgLeave { group }),
        DaemonAction::CpgMcast { group, payload } => {
            to_corosync(io, LocalMessage::CpgMcast { group, payload })
        }
        DaemonAction::TrackQuorum => to_corosync(io, LocalMessage::QuorumTrack),
        DaemonAction::Local { to, payload } => {
            let _ = io.send_local(&to, LocalMessage::Ipc(payload));
        }
        DaemonAction::SetTimer(timer, at) => io.set_timer(timer, at),
        DaemonAction::CancelTimer(timer) => io.cancel_timer(timer),
        DaemonAction::Store { key, value } => io.host.store(&key, value),
        DaemonAction::Load { key } => {
            let value = io.host.load(&key);
            return Some(DaemonInput::Loaded { key, value });
        }
        DaemonAction::Report(event) => io.host.report(event),
    }
    None
}

/// The core's view of an in-node message; `None` for what a client never gets.
fn input_of<T>(envelope: Envelope) -> Option<DaemonInput<T>> {
    Some(match envelope.message {
        LocalMessage::CpgConfChg {
            group,
            members,
            left,
            joined,
        } => DaemonInput::CpgConfChg {
            group,
            members,
            left,
            joined,
        },
        LocalMessage::CpgDeliver {
            group,
            from,
            payload,
        } => DaemonInput::CpgDeliver {
            group,
            from,
            payload,
        },
        LocalMessage::Quorum { quorate, members } => DaemonInput::Quorum { quorate, members },
        LocalMessage::Ipc(payload) => DaemonInput::Local {
            from: envelope.from,
            payload,
        },
        _ => return None,
    })
}

impl<C: DaemonCore> Service for Adapter<C> {
    type Timer = C::Timer;

    fn start(&mut self, io: &mut Io<'_, C::Timer>) {
        self.feed(io, DaemonInput::Start);
    }

    fn message(&mut self, io: &mut Io<'_, C::Timer>, envelope: Envelope) {
        if let Some(input) = input_of(envelope) {
            self.feed(io, input);
        }
    }

    fn timer(&mut self, io: &mut Io<'_, C::Timer>, timer: C::Timer) {
        self.feed(io, DaemonInput::Timer(timer));
    }
}

/// Run `core` as the local daemon behind `endpoint` until the node goes away.
pub async fn run<C: DaemonCore>(core: C, host: Arc<dyn Host>, endpoint: Endpoint) {
    let mut adapter = Adapter { core };
    let inputs = Inputs {
        streams: None,
        datagrams: None,
        local: Some((endpoint.board, endpoint.name, endpoint.inbox)),
        stop: None,
    };
    driver::run(&mut adapter, host, inputs).await;
}
