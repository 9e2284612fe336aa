//! Resource agents as models: what each action does to the resource's
//! state on the node, what the host must do, and the timeouts the agent's
//! metadata advertises. How long an action takes and whether it fails come
//! from the scenario's [`BehaviourTable`]. `ocf:heartbeat:galera` is a
//! script of asynchronous steps instead ([`galera`]): the executor answers
//! its questions to mysqld, the attribute manager and the CIB.

pub mod behaviour;
pub mod crm_mon;
pub mod galera;
pub mod meta;
pub mod model;

pub use behaviour::{BehaviourRule, BehaviourTable, Outcome};
pub use meta::{metadata, AgentMeta};
pub use model::{perform, AgentState, Effect};

/// OCF return codes.
pub mod rc {
    pub const OK: i32 = 0;
    pub const ERR_GENERIC: i32 = 1;
    pub const ERR_ARGS: i32 = 2;
    pub const UNIMPLEMENTED: i32 = 3;
    pub const ERR_CONFIGURED: i32 = 6;
    pub const NOT_RUNNING: i32 = 7;
    pub const RUNNING_PROMOTED: i32 = 8;
    pub const FAILED_PROMOTED: i32 = 9;
}
