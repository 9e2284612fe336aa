//! Galera for hasim, as pure logic.
//!
//! * [`grastate`]: the `grastate.dat` file (uuid, seqno, safe_to_bootstrap)
//!   read and written in Galera's format, with file:line errors.
//! * [`bootstrap`]: the galera resource agent's choice of the node that
//!   bootstraps a new primary component after every node has stopped.

pub mod bootstrap;
pub mod grastate;

pub use bootstrap::{choose_bootstrap, BootstrapChoice, NodeReport};
pub use grastate::{Grastate, GrastateError};
