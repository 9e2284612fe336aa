//! SBD in diskless mode (watchdog only) as a node daemon: the
//! `hasim_fenced::watchdog` core, fed votequorum's view through the in-node
//! channel, with the machine's [`Watchdog`](crate::host::Watchdog)
//! capability as its one effect.
//!
//! Why its own daemon and not part of the Pacemaker service: sbd is a
//! separate process that asks corosync for quorum itself (its cluster
//! servant), so it keeps judging, and the watchdog keeps counting, when
//! Pacemaker is stuck. What is modelled of sbd's Pacemaker servant is its
//! quorum rule (the core's doc comment says which); the servant's CIB
//! checks are not.

use crate::driver::{self, Inputs, Io, Service};
use crate::host::{Host, NodeEvent};
use crate::local::{Endpoint, Envelope, LocalMessage, COROSYNC};
use hasim_fenced::watchdog::{Watchdog, WatchdogAction, WatchdogConfig, WatchdogInput};
use std::sync::Arc;

/// The endpoint name of SBD on the in-node channel.
pub const SBD: &str = "sbd";

/// One boot's SBD.
pub struct Sbd {
    cfg: WatchdogConfig,
    core: Option<Watchdog>,
}

impl Sbd {
    pub fn new(cfg: WatchdogConfig) -> Sbd {
        Sbd { cfg, core: None }
    }

    fn carry_out(io: &mut Io<'_, u64>, actions: Vec<WatchdogAction>) {
        for action in actions {
            match action {
                WatchdogAction::SetTimer { id, at } => io.set_timer(id, at),
                WatchdogAction::Report(event) => io.host.report(NodeEvent::Sbd { event }),
                WatchdogAction::Reset => io.host.hard_reset(),
            }
        }
    }

    fn input(&mut self, io: &mut Io<'_, u64>, input: WatchdogInput) {
        let now = io.now();
        let Some(core) = self.core.as_mut() else {
            return;
        };
        let actions = core.handle(now, input);
        Self::carry_out(io, actions);
    }
}

impl Service for Sbd {
    type Timer = u64;

    /// Arm the watchdog (sbd opens it at start) and track quorum.
    fn start(&mut self, io: &mut Io<'_, u64>) {
        let (core, actions) = Watchdog::start(io.now(), self.cfg);
        self.core = Some(core);
        Self::carry_out(io, actions);
        let _ = io.send_local(COROSYNC, LocalMessage::QuorumTrack);
    }

    fn message(&mut self, io: &mut Io<'_, u64>, envelope: Envelope) {
        if let LocalMessage::Quorum { quorate, .. } = envelope.message {
            self.input(io, WatchdogInput::Quorum { quorate });
        }
    }

    fn timer(&mut self, io: &mut Io<'_, u64>, timer: u64) {
        self.input(io, WatchdogInput::Timer { id: timer });
    }
}

/// Run SBD behind `endpoint` until the node goes away.
pub async fn run(cfg: WatchdogConfig, host: Arc<dyn Host>, endpoint: Endpoint) {
    let mut service = Sbd::new(cfg);
    let inputs = Inputs {
        datagrams: None,
        local: Some((endpoint.board, endpoint.name, endpoint.inbox)),
        streams: None,
        stop: None,
    };
    driver::run(&mut service, host, inputs).await;
}
