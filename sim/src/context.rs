//! What every task of a simulated run shares: the world, the fabric's own
//! madsim node (which owns datagrams in flight and the world's timers, so
//! they survive any machine), and the instant the run started.
//!
//! Tasks hold the fabric node by id, not by handle: a handle inside a task
//! would keep madsim's executor (and with it every task) alive after the
//! run, a reference cycle that leaked each finished run of a campaign.

use crate::fabric::{Delivery, World};
use crate::task_records::TaskRecords;
use madsim::runtime::{Handle, NodeHandle};
use madsim::task::NodeId;
use madsim::time::TimeHandle;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One handle to the run's shared parts: cloned for every datagram in
/// flight, so it is a single reference count.
#[derive(Clone)]
pub struct Shared(Arc<Parts>);

pub struct Parts {
    pub world: World,
    pub fabric: NodeId,
    /// Keeps madsim's records of finished tasks bounded (see `task_records`).
    pub records: TaskRecords,
    pub start: Instant,
    /// Every machine's TCP, for the half-open watcher.
    pub tcp: crate::tcp::TcpStacks,
    /// madsim's clock, held directly: `Instant::now()` reaches the same
    /// clock through an intercepted `clock_gettime`, a thread-local lookup
    /// and two reference counts on every call.
    clock: TimeHandle,
}

impl Deref for Shared {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl Shared {
    /// The shared parts of a run starting now, inside madsim's runtime.
    pub fn new(world: World, fabric: NodeId) -> Self {
        let clock = TimeHandle::current();
        Self(Arc::new(Parts {
            world,
            fabric,
            records: TaskRecords::default(),
            start: clock.now_instant(),
            tcp: Default::default(),
            clock,
        }))
    }

    /// Simulated time since the start of the run.
    pub fn now(&self) -> Duration {
        let t = self.clock.now_instant() - self.start;
        crate::guard::note_simulated(t);
        t
    }

    /// The fabric's node, which never loses power. Looking it up clones
    /// madsim's whole handle, so callers with many tasks look it up once.
    fn fabric_node(&self) -> Option<NodeHandle> {
        Handle::current().get_node(self.fabric)
    }

    /// Run `task` on the fabric's node.
    pub fn spawn_on_fabric(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(node) = self.fabric_node() {
            node.spawn(task);
        }
    }

    /// Deliver each datagram at its time, from the fabric's node.
    pub fn schedule(&self, deliveries: Vec<Delivery>) {
        if deliveries.is_empty() {
            return;
        }
        let Some(node) = self.fabric_node() else {
            return;
        };
        for d in deliveries {
            let shared = self.clone();
            self.records.spawned();
            node.spawn(async move {
                shared.clock.sleep_until(shared.start + d.at).await;
                shared.world.at(shared.now()).deliver(d);
            });
        }
    }
}
