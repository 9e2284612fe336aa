//! Pacemaker's controller (pacemaker-controld) as a sans-IO core.
//!
//! * [`Controld`]: the per-node core (`handle(now, Input) -> Vec<Action>`):
//!   FSA states, DC election, join, the scheduler run on the live CIB,
//!   transition execution, result recording, failure handling.
//! * [`graph`]: executing a transition graph.
//! * [`lrm`]: the node's operation history as status-section XML.
//! * [`options`], [`resources`]: cluster options and primitive lookup.

pub mod core;
mod election;
mod exec;
pub mod graph;
mod join;
pub mod lrm;
pub mod options;
mod pe_invoke;
mod remote;
pub mod resources;
mod te;
mod wire;

pub use crate::core::{Config, Controld, State};
