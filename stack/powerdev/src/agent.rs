//! The fence agent: a client core that drives one power device.
//!
//! Flow from fence-agents' `lib/fencing.py` (`fence_action`,
//! `async_set_multi_power_fn`): read the power status (fail if it cannot
//! be read); if it already is the requested state, succeed; otherwise set
//! the power, wait `power_wait`, then poll the status every
//! `stonith_status_sleep` until it shows the requested state, giving up
//! after `power_timeout` polls. `on` is tried `1 + retry_on` times;
//! `reboot` (method onoff, the default) is off then on, and succeeds once
//! off succeeded even if on fails. Every device command is preceded by the
//! profile's session set-up round trips and followed by the session close
//! (ipmitool opens and closes an IPMI session on every run), and each
//! request is retransmitted like ipmitool does (`-N` seconds apart, a fixed
//! number of transmissions).
//!
//! Contract: [`FenceAgent::handle`]`(now, input) -> Vec<AgentOutput>`; one
//! agent per call; [`AgentOutput::Done`] is emitted exactly once unless the
//! caller kills the agent first (the fencer's timeout).

use std::time::Duration;

use serde::Serialize;

use crate::wire::{PowerState, Reply, Request, Verb};

/// Timing and retry parameters of one agent type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentProfile {
    pub name: &'static str,
    /// fencing.py `--power-wait` (fence_ipmilan sets 2 s; the library default is 0).
    pub power_wait: Duration,
    /// fencing.py `--power-timeout`: status polls before giving up (20).
    pub power_timeout: u32,
    /// fencing.py `--stonith-status-sleep` (1 s).
    pub status_sleep: Duration,
    /// fencing.py `--retry-on` (1).
    pub retry_on: u32,
    /// Time between retransmissions of one request (ipmitool `-N`, which
    /// fence_ipmilan passes as `--ipmitool-timeout`, default 2 s).
    pub request_timeout: Duration,
    /// Transmissions of one request before the command fails.
    pub transmissions: u32,
    /// Session set-up round trips before each command.
    pub login_round_trips: u32,
    /// One more round trip after each command to close the session.
    pub close_session: bool,
}

impl AgentProfile {
    /// fence_ipmilan (ipmitool `-I lan`, the agent's default): power_wait
    /// 2 s, ipmitool `-N 2`. ipmitool's lan plugin (src/plugins/lan/lan.c)
    /// opens a session per run with four exchanges (channel authentication
    /// capabilities, session challenge, activate session, set privilege
    /// level), tries each request `IPMI_LAN_RETRY` = 4 times, and closes
    /// the session before exiting.
    pub fn ipmilan() -> AgentProfile {
        AgentProfile {
            name: "fence_ipmilan",
            power_wait: Duration::from_secs(2),
            power_timeout: 20,
            status_sleep: Duration::from_secs(1),
            retry_on: 1,
            request_timeout: Duration::from_secs(2),
            transmissions: 4,
            login_round_trips: 4,
            close_session: true,
        }
    }

    /// fence_ipmilanplus / fence_ilo4 / fence_ilo5 (`-I lanplus`): five
    /// session exchanges (authentication capabilities, open session,
    /// RAKP 1, RAKP 3, set privilege level; src/plugins/lanplus/lanplus.c).
    pub fn ipmilanplus() -> AgentProfile {
        AgentProfile {
            name: "fence_ipmilanplus",
            login_round_trips: 5,
            ..AgentProfile::ipmilan()
        }
    }

    /// The profile of a fence agent type named in a stonith resource
    /// (`type="fence_ipmilan"`), or `None` for an agent hasim does not model.
    pub fn for_agent(agent: &str) -> Option<AgentProfile> {
        match agent {
            "fence_ipmilan" | "fence_idrac" | "fence_imm" => Some(AgentProfile::ipmilan()),
            "fence_ipmilanplus" | "fence_ilo4" | "fence_ilo5" => Some(AgentProfile::ipmilanplus()),
            // fence_ipmilan.py: fence_ilo3 waits 4 s after a power change.
            "fence_ilo3" => Some(AgentProfile {
                name: "fence_ilo3",
                power_wait: Duration::from_secs(4),
                ..AgentProfile::ipmilanplus()
            }),
            "fence_apc_snmp" => Some(AgentProfile::apc_snmp()),
            _ => None,
        }
    }

    /// fence_apc_snmp: fencing.py defaults (power_wait 0), one SNMP
    /// request per command, no session; net-snmp's default is a 1 s
    /// timeout with 5 retries (6 transmissions).
    pub fn apc_snmp() -> AgentProfile {
        AgentProfile {
            name: "fence_apc_snmp",
            power_wait: Duration::ZERO,
            power_timeout: 20,
            status_sleep: Duration::from_secs(1),
            retry_on: 1,
            request_timeout: Duration::from_secs(1),
            transmissions: 6,
            login_round_trips: 0,
            close_session: false,
        }
    }
}

/// The action the fencer asks for (fence agent API actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum AgentAction {
    Off,
    On,
    Reboot,
    Status,
}

/// One invocation: which device, which outlet (`plug`), what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCall {
    pub device_address: String,
    pub plug: u16,
    pub action: AgentAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentInput {
    Datagram(Vec<u8>),
    Timer { id: u64 },
}

/// Why an agent failed (fencing.py's exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AgentFailure {
    /// EC_STATUS: the power status could not be read.
    Status,
    /// EC_WAITING_OFF: the device never showed off.
    WaitingOff,
    /// EC_WAITING_ON: the device never showed on.
    WaitingOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AgentOutcome {
    Success,
    /// Result of a `status` call (fence agents exit 0 for on, 2 for off).
    Status(PowerState),
    Failed(AgentFailure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentOutput {
    Send { to: String, bytes: Vec<u8> },
    SetTimer { id: u64, at: Duration },
    Done(AgentOutcome),
}

/// Where the script is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reading the initial status.
    Initial,
    /// A set-power command is in flight; `attempts_left` after this one.
    Set {
        goal: PowerState,
        attempts_left: u32,
    },
    /// Waiting `power_wait` or `status_sleep` before the next poll.
    Sleep {
        goal: PowerState,
        attempts_left: u32,
        polls: u32,
    },
    /// A status poll is in flight (`polls` done before it).
    Poll {
        goal: PowerState,
        attempts_left: u32,
        polls: u32,
    },
    Finished,
}

/// One device command in flight: login round trips first, then the verb.
#[derive(Debug, Clone, Copy)]
struct Exchange {
    verb: Verb,
    logins_left: u32,
    /// Set while closing the session after the command: its result.
    closing: Option<Option<PowerState>>,
    transmissions_left: u32,
    seq: u32,
    timer: u64,
}

#[derive(Debug, Clone)]
pub struct FenceAgent {
    profile: AgentProfile,
    call: AgentCall,
    stage: Stage,
    exchange: Option<Exchange>,
    /// Timer armed for a sleep stage.
    sleep_timer: Option<u64>,
    next_seq: u32,
    next_timer: u64,
}

impl FenceAgent {
    /// Create the agent and its first actions (the initial status read).
    pub fn start(
        now: Duration,
        profile: AgentProfile,
        call: AgentCall,
    ) -> (FenceAgent, Vec<AgentOutput>) {
        let mut agent = FenceAgent {
            profile,
            call,
            stage: Stage::Initial,
            exchange: None,
            sleep_timer: None,
            next_seq: 1,
            next_timer: 0,
        };
        let out = agent.command(now, Verb::Status);
        (agent, out)
    }

    pub fn is_finished(&self) -> bool {
        self.stage == Stage::Finished
    }

    pub fn handle(&mut self, now: Duration, input: AgentInput) -> Vec<AgentOutput> {
        if self.is_finished() {
            return Vec::new();
        }
        match input {
            AgentInput::Datagram(bytes) => match Reply::decode(&bytes) {
                Ok(reply) => self.on_reply(now, reply),
                Err(_) => Vec::new(),
            },
            AgentInput::Timer { id } => self.on_timer(now, id),
        }
    }

    fn timer(&mut self, at: Duration) -> (u64, AgentOutput) {
        let id = self.next_timer;
        self.next_timer += 1;
        (id, AgentOutput::SetTimer { id, at })
    }

    /// Start a device command (login round trips, then `verb`).
    fn command(&mut self, now: Duration, verb: Verb) -> Vec<AgentOutput> {
        let (timer, set) = self.timer(now + self.profile.request_timeout);
        let exchange = Exchange {
            verb,
            logins_left: self.profile.login_round_trips,
            closing: None,
            transmissions_left: self.profile.transmissions.saturating_sub(1),
            seq: self.next_seq,
            timer,
        };
        self.next_seq += 1;
        self.exchange = Some(exchange);
        vec![self.transmit(&exchange), set]
    }

    fn transmit(&self, ex: &Exchange) -> AgentOutput {
        let verb = if ex.logins_left > 0 || ex.closing.is_some() {
            Verb::Login
        } else {
            ex.verb
        };
        let bytes = Request {
            seq: ex.seq,
            verb,
            outlet: self.call.plug,
        }
        .encode();
        AgentOutput::Send {
            to: self.call.device_address.clone(),
            bytes,
        }
    }

    fn on_reply(&mut self, now: Duration, reply: Reply) -> Vec<AgentOutput> {
        let Some(ex) = self.exchange else {
            return Vec::new();
        };
        if reply.seq() != ex.seq {
            return Vec::new();
        }
        if let Some(saved) = ex.closing {
            self.exchange = None;
            return self.command_done(now, saved);
        }
        if ex.logins_left > 0 && matches!(reply, Reply::Ok { .. }) {
            let (timer, set) = self.timer(now + self.profile.request_timeout);
            let next = Exchange {
                logins_left: ex.logins_left - 1,
                transmissions_left: self.profile.transmissions.saturating_sub(1),
                seq: self.next_seq,
                timer,
                ..ex
            };
            self.next_seq += 1;
            self.exchange = Some(next);
            return vec![self.transmit(&next), set];
        }
        self.exchange = None;
        let result = match reply {
            Reply::Ok { state, .. } => Some(state),
            Reply::Err { .. } => None,
        };
        if self.profile.close_session {
            return self.close_session(now, ex, result);
        }
        self.command_done(now, result)
    }

    /// ipmitool closes the session it opened (one more round trip, its
    /// result ignored) before the process exits.
    fn close_session(
        &mut self,
        now: Duration,
        ex: Exchange,
        result: Option<PowerState>,
    ) -> Vec<AgentOutput> {
        let (timer, set) = self.timer(now + self.profile.request_timeout);
        let next = Exchange {
            closing: Some(result),
            transmissions_left: self.profile.transmissions.saturating_sub(1),
            seq: self.next_seq,
            timer,
            ..ex
        };
        self.next_seq += 1;
        self.exchange = Some(next);
        vec![self.transmit(&next), set]
    }

    fn on_timer(&mut self, now: Duration, id: u64) -> Vec<AgentOutput> {
        if self.sleep_timer == Some(id) {
            self.sleep_timer = None;
            return self.after_sleep(now);
        }
        let Some(ex) = self.exchange else {
            return Vec::new();
        };
        if ex.timer != id {
            return Vec::new();
        }
        if ex.transmissions_left == 0 {
            self.exchange = None;
            return self.command_done(now, ex.closing.flatten());
        }
        let (timer, set) = self.timer(now + self.profile.request_timeout);
        let next = Exchange {
            transmissions_left: ex.transmissions_left - 1,
            timer,
            ..ex
        };
        self.exchange = Some(next);
        vec![self.transmit(&next), set]
    }

    /// A command finished: `state` is the reported power state, `None`
    /// when the device answered an error or never answered.
    fn command_done(&mut self, now: Duration, state: Option<PowerState>) -> Vec<AgentOutput> {
        match self.stage {
            Stage::Initial => self.after_initial_status(now, state),
            Stage::Set {
                goal,
                attempts_left,
            } => self.sleep(now, goal, attempts_left, 0, self.profile.power_wait),
            Stage::Poll {
                goal,
                attempts_left,
                polls,
            } => self.after_poll(now, state, goal, attempts_left, polls + 1),
            Stage::Sleep { .. } | Stage::Finished => Vec::new(),
        }
    }

    fn after_initial_status(
        &mut self,
        now: Duration,
        state: Option<PowerState>,
    ) -> Vec<AgentOutput> {
        let Some(state) = state else {
            return self.finish(AgentOutcome::Failed(AgentFailure::Status));
        };
        match self.call.action {
            AgentAction::Status => self.finish(AgentOutcome::Status(state)),
            AgentAction::Off | AgentAction::Reboot if state != PowerState::Off => {
                self.set(now, PowerState::Off, 0)
            }
            AgentAction::Off => self.finish(AgentOutcome::Success),
            AgentAction::Reboot => self.begin_on_after_off(now),
            AgentAction::On if state == PowerState::On => self.finish(AgentOutcome::Success),
            AgentAction::On => self.set(now, PowerState::On, self.profile.retry_on),
        }
    }

    /// Reboot's second half: `retry_on` attempts (not 1 + retry_on).
    fn begin_on_after_off(&mut self, now: Duration) -> Vec<AgentOutput> {
        match self.profile.retry_on {
            0 => self.finish(AgentOutcome::Success),
            n => self.set(now, PowerState::On, n - 1),
        }
    }

    fn set(&mut self, now: Duration, goal: PowerState, attempts_left: u32) -> Vec<AgentOutput> {
        self.stage = Stage::Set {
            goal,
            attempts_left,
        };
        let verb = if goal == PowerState::Off {
            Verb::Off
        } else {
            Verb::On
        };
        self.command(now, verb)
    }

    fn sleep(
        &mut self,
        now: Duration,
        goal: PowerState,
        attempts_left: u32,
        polls: u32,
        wait: Duration,
    ) -> Vec<AgentOutput> {
        self.stage = Stage::Sleep {
            goal,
            attempts_left,
            polls,
        };
        let (id, set) = self.timer(now + wait);
        self.sleep_timer = Some(id);
        vec![set]
    }

    fn after_sleep(&mut self, now: Duration) -> Vec<AgentOutput> {
        let Stage::Sleep {
            goal,
            attempts_left,
            polls,
        } = self.stage
        else {
            return Vec::new();
        };
        self.stage = Stage::Poll {
            goal,
            attempts_left,
            polls,
        };
        self.command(now, Verb::Status)
    }

    fn after_poll(
        &mut self,
        now: Duration,
        state: Option<PowerState>,
        goal: PowerState,
        attempts_left: u32,
        polls: u32,
    ) -> Vec<AgentOutput> {
        if state == Some(goal) {
            return self.phase_done(now, goal, true);
        }
        if polls >= self.profile.power_timeout {
            if attempts_left > 0 {
                return self.set(now, goal, attempts_left - 1);
            }
            return self.phase_done(now, goal, false);
        }
        self.sleep(now, goal, attempts_left, polls, self.profile.status_sleep)
    }

    fn phase_done(&mut self, now: Duration, goal: PowerState, ok: bool) -> Vec<AgentOutput> {
        match (self.call.action, goal, ok) {
            (AgentAction::Reboot, PowerState::Off, true) => self.begin_on_after_off(now),
            // fencing.py: a reboot whose "on" fails still succeeded.
            (AgentAction::Reboot, PowerState::On, _) => self.finish(AgentOutcome::Success),
            (_, _, true) => self.finish(AgentOutcome::Success),
            (_, PowerState::Off, false) => {
                self.finish(AgentOutcome::Failed(AgentFailure::WaitingOff))
            }
            (_, PowerState::On, false) => {
                self.finish(AgentOutcome::Failed(AgentFailure::WaitingOn))
            }
        }
    }

    fn finish(&mut self, outcome: AgentOutcome) -> Vec<AgentOutput> {
        self.stage = Stage::Finished;
        self.exchange = None;
        self.sleep_timer = None;
        vec![AgentOutput::Done(outcome)]
    }
}

#[cfg(test)]
mod tests;
