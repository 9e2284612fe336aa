//! A deterministic in-memory cluster for the fencer: nodes with a fencer
//! and a minimal controller, an agreed-order CPG with partitions, power
//! devices on a management network with latency, fence agents, the
//! watchdog, and a power model. One seed, one run.
//!
//! The "controller" here is only what fencing needs from Pacemaker's: the
//! DC of each partition (lowest node name) fences every node that left its
//! membership when `rules::may_fence` allows it, with
//! `rules::priority_fencing_delay`, counts failures against
//! stonith-max-attempts, and recovers the lost node's resources on itself
//! once fencing succeeded.

#![allow(dead_code)]

mod world;

pub use world::*;
