//! Power devices and fence-agent clients as sans-IO cores.
//!
//! A real cluster fences a node by asking a device on a management network
//! to cut its power: an IPMI baseboard management controller (BMC) inside
//! the node, or a networked power distribution unit (PDU) with one outlet
//! per power supply. hasim models both sides:
//!
//! * [`device::PowerDevice`]: the device. Requests arrive as datagrams in
//!   the [`wire`] format; the device answers after its latency and emits
//!   [`device::DeviceAction::Power`] for the world's machine lifecycle.
//!   Failure modes (unreachable, slow, failing) and the BMC that dies with
//!   its host are configurable.
//! * [`agent::FenceAgent`]: the fence agent (fence_ipmilan / fence_apc_snmp
//!   flow from fence-agents' `lib/fencing.py`): read status, set power, wait
//!   `power_wait`, poll status until the state changed or `power_timeout`
//!   polls passed; each exchange retransmitted like ipmitool does.
//!
//! Both follow the project's contract: `handle(now, input) -> Vec<action>`,
//! no clock, socket or randomness inside.

pub mod agent;
pub mod device;
pub mod wire;

pub use agent::{
    AgentAction, AgentCall, AgentFailure, AgentInput, AgentOutcome, AgentOutput, AgentProfile,
    FenceAgent,
};
pub use device::{
    DeviceAction, DeviceConfig, DeviceEvent, DeviceFault, DeviceInput, DeviceKind, PowerDevice,
};
pub use wire::{PowerState, Reply, Request, Verb, WireError};
