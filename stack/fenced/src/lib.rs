//! Pacemaker fencing as sans-IO cores: the fencer (`pacemaker-fenced`) on
//! CPG, the fencing rules the controller and scheduler apply, SBD-style
//! watchdog self-fencing, and the fencing checkers.
//!
//! * [`fencer::Fencer`]: `handle(now, FencerInput) -> Vec<FencerAction>`.
//! * [`config::FencingConfig::from_cib`]: options, stonith devices and
//!   topology from a CIB, with errors that say what and where.
//! * [`rules`]: device start delay, priority-fencing-delay, may this
//!   partition fence, stonith-max-attempts, fence-reaction,
//!   stonith-watchdog-timeout validity.
//! * [`watchdog::Watchdog`]: diskless SBD: reset after losing quorum for
//!   longer than the watchdog timeout.
//! * [`report`]: text lines per fencing operation and power timelines.
//! * [`checkers`]: `fenced-before-recovery`, `no-fence-race`,
//!   `no-fence-loop` over a list of observed events.

pub mod checkers;
pub mod config;
pub mod fencer;
pub mod interval;
pub mod report;
pub mod rules;
pub mod watchdog;
pub mod wire;

pub use config::{
    Device, FenceAction, FenceReaction, FencingConfig, HostCheck, Level, NoQuorumPolicy,
};
pub use fencer::{
    AgentResult, AgentRun, ControllerNotice, FenceRequest, Fencer, FencerAction, FencerEvent,
    FencerInput,
};
pub use wire::{FenceRecord, FencerMsg};
