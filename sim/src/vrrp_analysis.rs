//! What the simulator knows about VRRP that the network must not: whether a
//! takeover was spurious, and how long the new master had gone without an
//! advert.
//!
//! The bus annotates each VRRP state change before it is traced, from facts
//! it has seen go by: adverts delivered to the VRRP port, the states nodes
//! reported, and the cluster view's running machines and partitions.

use crate::trace::Event;
use crate::view::ClusterView;
use hasim_node::host::VRRP_PORT;
use hasim_node::NodeEvent;
use hasim_vrrp::State;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Default)]
pub struct VrrpAnalysis {
    /// (node, vrid) -> the state it last reported.
    states: BTreeMap<(String, u8), State>,
    /// node -> when it last received a VRRP packet.
    last_rx: BTreeMap<String, Duration>,
}

impl VrrpAnalysis {
    /// Annotate `event` (if it is a VRRP takeover) and learn from it. Must see
    /// every event, before the view applies it.
    pub fn observe(&mut self, t: Duration, event: &mut Event, view: &ClusterView) {
        match event {
            Event::Deliver { to, dst, .. } if dst.port() == VRRP_PORT => {
                self.last_rx.insert(to.to_string(), t);
            }
            Event::PowerOff { node } => {
                self.last_rx.remove(node);
                self.states.retain(|(n, _), _| n != node);
            }
            Event::Node {
                node,
                detail: NodeEvent::VrrpState { vrid, to, .. },
                spurious,
                since_last_advert_us,
            } => {
                if *to == State::Master {
                    *spurious = Some(self.other_master(node, *vrid, view));
                    *since_last_advert_us = self
                        .last_rx
                        .get(&**node)
                        .map(|rx| t.saturating_sub(*rx).as_micros() as u64);
                }
                self.states.insert((node.to_string(), *vrid), *to);
            }
            _ => {}
        }
    }

    /// Another running node that `node` can reach both ways is MASTER of `vrid`.
    fn other_master(&self, node: &str, vrid: u8, view: &ClusterView) -> bool {
        self.states.iter().any(|((other, v), state)| {
            other != node
                && *v == vrid
                && *state == State::Master
                && view.running(other)
                && view.reachable(other, node)
                && view.reachable(node, other)
        })
    }
}
