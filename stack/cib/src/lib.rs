//! The Pacemaker CIB as a typed model, read from and written to Pacemaker's XML.
//!
//! [`Cib::from_xml`] parses a whole CIB (configuration and status);
//! [`Cib::to_xml`] writes it back. [`Score`] implements Pacemaker's
//! saturating INFINITY arithmetic. Interpreting the status section (which
//! role each resource instance has where) is the scheduler's unpacking step,
//! built on the raw history types here.

pub mod model;
pub mod score;
pub mod validate;
pub mod xml;

pub use model::{
    AttrSet, Cib, Constraint, Expression, LrmOp, LrmResource, NodeConfig, NodeState, NvPair, OpDef,
    Resource, ResourceKind, ResourceSet, Rule, SetKind,
};
pub use score::{Score, INFINITY};
pub use xml::{read_limited, Element, XmlError, MAX_DEPTH, MAX_INPUT_BYTES};
