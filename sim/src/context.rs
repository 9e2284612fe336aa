//! What every task of a simulated run shares: the world, the fabric's own
//! madsim node (which owns datagrams in flight and the world's timers, so
//! they survive any machine), and the instant the run started.
//!
//! Tasks hold the fabric node by id, not by handle: a handle inside a task
//! would keep madsim's executor (and with it every task) alive after the
//! run, a reference cycle that leaked each finished run of a campaign.

use crate::fabric::{Delivery, World};
use crate::task_records::TaskRecords;
use madsim::runtime::Handle;
use madsim::task::NodeId;
use std::future::Future;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

#[derive(Clone)]
pub struct Shared {
    pub world: World,
    pub fabric: NodeId,
    /// Keeps madsim's records of finished tasks bounded (see `task_records`).
    pub records: TaskRecords,
    pub start: Instant,
}

impl Shared {
    /// Simulated time since the start of the run.
    pub fn now(&self) -> Duration {
        let t = Instant::now() - self.start;
        crate::guard::note_simulated(t);
        t
    }

    /// Run `task` on the fabric's node, which never loses power.
    pub fn spawn_on_fabric(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(node) = Handle::current().get_node(self.fabric) {
            node.spawn(task);
        }
    }

    /// Deliver each datagram at its time, from the fabric's node.
    pub fn schedule(&self, deliveries: Vec<Delivery>) {
        for d in deliveries {
            let shared = self.clone();
            self.records.spawned();
            self.spawn_on_fabric(async move {
                sleep_until(shared.start + d.at).await;
                shared.world.at(shared.now()).deliver(d);
            });
        }
    }
}
