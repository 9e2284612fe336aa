//! Diskless SBD: watchdog self-fencing when quorum is lost.
//!
//! From github:ClusterLabs/sbd (src/sbd-inquisitor.c, sbd-pacemaker.c,
//! sbd-common.c): the Pacemaker servant reports liveness to the inquisitor
//! every `timeout_loop` (1 s) while the node is online and quorate (or has
//! never had quorum yet). After quorum was lost the servant's health is
//! "transient" or "unclean" for every no-quorum-policy, and it stops
//! reporting. The inquisitor, also every loop, tickles the watchdog while
//! the servant's last report is younger than `timeout_io + timeout_loop`
//! (3 + 1 s); once it stops tickling, the watchdog (SBD_WATCHDOG_TIMEOUT,
//! default 5 s) resets the machine. So a node resets about
//! `timeout_io + timeout_loop + watchdog` after its last quorate loop,
//! which is why stonith-watchdog-timeout should be about twice the
//! watchdog timeout, and why a value equal to it (accepted by Pacemaker
//! 2.1.5's check) lets survivors recover resources while the lost node is
//! still running.
//!
//! Contract: [`Watchdog::start`] then `handle(now, input) -> actions`;
//! inputs are quorum changes and timer expiries; the one effect is
//! [`WatchdogAction::Reset`], which the world applies as a hard reset of
//! the machine.

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchdogConfig {
    /// SBD_WATCHDOG_TIMEOUT.
    pub watchdog_timeout: Duration,
    /// sbd `timeout_loop`.
    pub loop_interval: Duration,
    /// sbd `timeout_io` (servant age allowance).
    pub io_timeout: Duration,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        WatchdogConfig {
            watchdog_timeout: Duration::from_secs(5),
            loop_interval: Duration::from_secs(1),
            io_timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogInput {
    Quorum { quorate: bool },
    Timer { id: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchdogAction {
    SetTimer {
        id: u64,
        at: Duration,
    },
    /// The watchdog fired: hard-reset this machine now.
    Reset,
    Report(WatchdogEvent),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WatchdogEvent {
    /// The servant stopped reporting liveness (quorum lost after having it).
    Unhealthy {
        at_ms: u64,
    },
    Healthy {
        at_ms: u64,
    },
    Reset {
        at_ms: u64,
        last_tickle_ms: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Watchdog {
    cfg: WatchdogConfig,
    quorate: bool,
    ever_quorate: bool,
    last_liveness: Duration,
    last_tickle: Duration,
    loop_timer: u64,
    /// The deadline passed without a tickle; the next timer is the reset.
    resetting: bool,
    fired: bool,
}

impl Watchdog {
    /// Arm the watchdog at `now`; returns the first loop timer.
    pub fn start(now: Duration, cfg: WatchdogConfig) -> (Watchdog, Vec<WatchdogAction>) {
        let w = Watchdog {
            cfg,
            quorate: false,
            ever_quorate: false,
            last_liveness: now,
            last_tickle: now,
            loop_timer: 0,
            resetting: false,
            fired: false,
        };
        let at = now + cfg.loop_interval;
        (w, vec![WatchdogAction::SetTimer { id: 0, at }])
    }

    pub fn handle(&mut self, now: Duration, input: WatchdogInput) -> Vec<WatchdogAction> {
        if self.fired {
            return Vec::new();
        }
        match input {
            WatchdogInput::Quorum { quorate } => self.on_quorum(now, quorate),
            WatchdogInput::Timer { id } if id == self.loop_timer && self.resetting => {
                self.fire(now)
            }
            WatchdogInput::Timer { id } if id == self.loop_timer => self.on_loop(now),
            WatchdogInput::Timer { .. } => Vec::new(),
        }
    }

    fn fire(&mut self, now: Duration) -> Vec<WatchdogAction> {
        self.fired = true;
        let event = WatchdogEvent::Reset {
            at_ms: now.as_millis() as u64,
            last_tickle_ms: self.last_tickle.as_millis() as u64,
        };
        vec![WatchdogAction::Report(event), WatchdogAction::Reset]
    }

    fn healthy(&self) -> bool {
        self.quorate || !self.ever_quorate
    }

    fn on_quorum(&mut self, now: Duration, quorate: bool) -> Vec<WatchdogAction> {
        let was = self.healthy();
        self.quorate = quorate;
        self.ever_quorate |= quorate;
        let at_ms = now.as_millis() as u64;
        match (was, self.healthy()) {
            (true, false) => vec![WatchdogAction::Report(WatchdogEvent::Unhealthy { at_ms })],
            (false, true) => vec![WatchdogAction::Report(WatchdogEvent::Healthy { at_ms })],
            _ => Vec::new(),
        }
    }

    /// One inquisitor loop: servant liveness, tickle, reset check.
    fn on_loop(&mut self, now: Duration) -> Vec<WatchdogAction> {
        if self.healthy() {
            self.last_liveness = now;
        }
        if now - self.last_liveness < self.cfg.io_timeout + self.cfg.loop_interval {
            self.last_tickle = now;
        }
        let deadline = self.last_tickle + self.cfg.watchdog_timeout;
        let next = now + self.cfg.loop_interval;
        self.loop_timer += 1;
        if next >= deadline {
            // No loop can tickle before the hardware deadline: it will fire.
            self.resetting = true;
            return vec![WatchdogAction::SetTimer {
                id: self.loop_timer,
                at: deadline,
            }];
        }
        vec![WatchdogAction::SetTimer {
            id: self.loop_timer,
            at: next,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Runs the loop until `until`; returns the reset time if any.
    fn run(quorum: &[(Duration, bool)], until: Duration) -> Option<Duration> {
        let (mut w, mut acts) = Watchdog::start(Duration::ZERO, WatchdogConfig::default());
        let mut q = quorum.iter().peekable();
        let mut last = Duration::ZERO;
        loop {
            if acts.contains(&WatchdogAction::Reset) {
                return Some(last);
            }
            let Some(WatchdogAction::SetTimer { id, at }) = acts.first().cloned() else {
                return None;
            };
            last = at;
            while let Some((t, quorate)) = q.peek().copied() {
                if *t > at {
                    break;
                }
                w.handle(*t, WatchdogInput::Quorum { quorate: *quorate });
                q.next();
            }
            if at > until {
                return None;
            }
            acts = w.handle(at, WatchdogInput::Timer { id });
        }
    }

    #[test]
    fn quorate_node_is_never_reset() {
        assert_eq!(run(&[(s(0), true)], s(120)), None);
    }

    #[test]
    fn node_that_never_had_quorum_is_not_reset() {
        assert_eq!(run(&[], s(120)), None);
    }

    #[test]
    fn quorum_loss_resets_after_io_loop_and_watchdog() {
        // Quorum lost at 10.5 s: last liveness at the 10 s loop; tickles
        // while age < 4 s (up to 13 s); reset at 13 + 5 = 18 s.
        let reset = run(
            &[(s(0), true), (Duration::from_millis(10_500), false)],
            s(120),
        );
        assert_eq!(reset, Some(s(18)));
    }

    #[test]
    fn quorum_regained_in_time_prevents_the_reset() {
        let reset = run(&[(s(0), true), (s(10), false), (s(12), true)], s(120));
        assert_eq!(reset, None);
    }
}
