//! The madsim nodes datagrams in flight live on.
//!
//! Each datagram in flight is a task (it sleeps until its arrival time).
//! madsim remembers every task ever spawned on a node until the node is
//! killed, so one long-lived node would hold a small record per datagram
//! for the whole run: memory growing with simulated time (gigabytes in a
//! simulated day). Datagrams therefore go to a generation of nodes: a node
//! takes [`GENERATION`] datagrams, then a fresh one takes over, and a
//! retired node is killed (forgetting its records) once its last datagram
//! has arrived. A node never loses power, so nothing else changes: which
//! node a task runs on does not affect madsim's scheduling.

use madsim::runtime::Handle;
use madsim::task::NodeId;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Datagrams per node.
const GENERATION: u64 = 4096;

/// One node and how many of its datagrams are still in flight.
struct Node {
    id: NodeId,
    in_flight: Arc<AtomicU64>,
}

#[derive(Default)]
struct Generations {
    current: Option<Node>,
    spawned: u64,
    retired: Vec<Node>,
}

/// Shared handle (cheap to clone) to the delivery nodes of one run.
#[derive(Clone, Default)]
pub struct DeliveryNodes {
    inner: Arc<Mutex<Generations>>,
}

impl DeliveryNodes {
    /// Run `task` (one datagram in flight) on the current delivery node.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let handle = Handle::current();
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.current.is_none() || g.spawned.is_multiple_of(GENERATION) {
            let fresh = Node {
                id: handle.create_node().name("fabric-delivery").build().id(),
                in_flight: Arc::new(AtomicU64::new(0)),
            };
            if let Some(old) = g.current.replace(fresh) {
                g.retired.push(old);
            }
            g.retired.retain(|node| {
                let done = node.in_flight.load(Ordering::Relaxed) == 0;
                if done {
                    handle.kill(node.id);
                }
                !done
            });
        }
        g.spawned += 1;
        let Some(node) = g.current.as_ref() else {
            return;
        };
        let in_flight = node.in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
        if let Some(spawner) = handle.get_node(node.id) {
            spawner.spawn(async move {
                task.await;
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }

    /// Every delivery node still alive (for the end of the run).
    pub fn ids(&self) -> Vec<NodeId> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.current.iter().chain(&g.retired).map(|n| n.id).collect()
    }
}
