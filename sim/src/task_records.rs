//! Keeping madsim's record of finished tasks from growing with simulated
//! time.
//!
//! Each datagram in flight is a task on the fabric's node (it sleeps until
//! its arrival time). madsim remembers every task spawned on a node, as a
//! weak reference that keeps the task's record allocated, until the node is
//! killed, so a long run held a record per datagram it ever carried
//! (gigabytes in a simulated day). madsim forgets finished tasks whenever
//! its task metrics are read; reading them every [`EVERY`] spawns keeps the
//! records to those in flight, at a cost per datagram that does not grow.

use madsim::runtime::Handle;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Spawns between two prunings.
const EVERY: u64 = 4096;

/// Shared counter of the run's fabric spawns (cheap to clone).
#[derive(Clone, Default)]
pub struct TaskRecords {
    spawned: Arc<AtomicU64>,
}

impl TaskRecords {
    /// A task was spawned; now and then, forget the finished ones.
    pub fn spawned(&self) {
        if self.spawned.fetch_add(1, Ordering::Relaxed) % EVERY == EVERY - 1 {
            // Counting live tasks drops madsim's records of finished ones.
            let _ = Handle::current().metrics().num_tasks();
        }
    }
}
