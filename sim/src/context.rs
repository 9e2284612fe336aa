//! What every task of a simulated run shares: the world, the fabric's own
//! madsim node (which owns datagrams in flight and the world's timers, so
//! they survive any machine), and the instant the run started.

use crate::fabric::{Delivery, World};
use madsim::runtime::NodeHandle;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

#[derive(Clone)]
pub struct Shared {
    pub world: World,
    pub fabric: Arc<NodeHandle>,
    pub start: Instant,
}

impl Shared {
    /// Simulated time since the start of the run.
    pub fn now(&self) -> Duration {
        let t = Instant::now() - self.start;
        crate::guard::note_simulated(t);
        t
    }

    /// Deliver each datagram at its time, from the fabric's node.
    pub fn schedule(&self, deliveries: Vec<Delivery>) {
        for d in deliveries {
            let shared = self.clone();
            self.fabric.spawn(async move {
                sleep_until(shared.start + d.at).await;
                shared.world.at(shared.now()).deliver(d);
            });
        }
    }
}
