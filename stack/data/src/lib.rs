//! What clients did to the data behind a VIP, and whether it was kept.
//!
//! The workload is Jepsen's *set*: every write inserts a value, unique in
//! the whole run, under a key (one row per value in a table keyed by `key`);
//! a read returns the set of values under a key. Unique values make every
//! acknowledged write traceable to the read that must contain it.
//!
//! [`history`] records each operation's invocation and completion (ok,
//! failed for sure, or unknown: timed out or connection lost) and each
//! client connection's life. [`checkers`] are pure functions over a history:
//! `no-lost-acknowledged-writes`, `no-stale-reads`, `single-writer`,
//! `connections-recover`; [`summary`] gives the per-client figures of the
//! report.

pub mod checkers;
pub mod client;
pub mod history;
pub mod summary;
pub mod wire;

pub use checkers::{Verdict, Violation};
pub use history::{ConnLife, History, Op, OpKind, Outcome};
