//! Checkers: pure functions from a [`History`] to a [`Verdict`].

mod connections;
mod lost_writes;
mod single_writer;
mod stale_reads;

pub use connections::{connections_recover, recovery_bound, RecoveryBound};
pub use lost_writes::no_lost_acknowledged_writes;
pub use single_writer::single_writer;
pub use stale_reads::no_stale_reads;

#[cfg(doc)]
use crate::history::History;

/// One piece of evidence against an invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The client concerned, if one.
    pub client: Option<String>,
    /// What happened, for the report.
    pub detail: String,
}

/// A checker's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The invariant's name as scenarios spell it.
    pub name: &'static str,
    /// Evidence; empty when the invariant held.
    pub violations: Vec<Violation>,
    /// What was examined, for the report.
    pub examined: usize,
}

impl Verdict {
    /// Whether the invariant held.
    pub fn held(&self) -> bool {
        self.violations.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod fixtures;
