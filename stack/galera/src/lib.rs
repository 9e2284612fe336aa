//! Galera for hasim, as pure logic.
//!
//! * [`grastate`]: the `grastate.dat` file (uuid, seqno, safe_to_bootstrap)
//!   read and written in Galera's format, with file:line errors.
//! * [`bootstrap`]: the galera resource agent's choice of the node that
//!   bootstraps a new primary component after every node has stopped.
//! * [`pc`]: gcomm's quorum rule for primary components and its failure
//!   detection timing (`evs.suspect_timeout`, `evs.inactive_timeout`).
//! * [`control`]: the galera agent's commands to mysqld and the answers.
//! * [`wire`]: group messages as text datagrams on the gcomm port.
//! * [`node`]: a running node as a sans-IO core: write-sets in one global
//!   seqno order, certification, primary component, 1047 when not primary,
//!   state transfer to joiners, grastate on disk and crash recovery.

pub mod bootstrap;
pub mod control;
pub mod grastate;
pub mod node;
pub mod pc;
pub mod wire;

pub use bootstrap::{choose_bootstrap, BootstrapChoice, NodeReport};
pub use grastate::{Grastate, GrastateError};
