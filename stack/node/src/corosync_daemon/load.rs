//! The agreed-order test load: every node multicasts a numbered message at a
//! fixed interval, and every delivery is reported, so the agreed-order and
//! virtual-synchrony checkers have traffic to judge.
//!
//! It still rides Totem directly with its own tag (0x70) rather than CPG:
//! its wire bytes and timing are part of every shipped scenario's trace.

use super::services::{Effect, TotemService};
use crate::host::NodeEvent;
use hasim_totem::{ConfChg, Delivery};
use std::time::Duration;

/// The test load's tag at the start of its Totem payloads.
pub const SERVICE_LOAD: u8 = 0x70;

/// Encode a load message (tag included): who sent it, in which boot, and its counter.
pub fn encode_load(node: u32, boot: u64, counter: u64) -> Vec<u8> {
    let mut p = vec![SERVICE_LOAD];
    p.extend_from_slice(&node.to_be_bytes());
    p.extend_from_slice(&boot.to_be_bytes());
    p.extend_from_slice(&counter.to_be_bytes());
    p
}

/// Decode a load message body (after the tag).
fn decode_body(body: &[u8]) -> Option<(u32, u64, u64)> {
    if body.len() != 20 {
        return None;
    }
    let node = u32::from_be_bytes(body[0..4].try_into().ok()?);
    let boot = u64::from_be_bytes(body[4..12].try_into().ok()?);
    let counter = u64::from_be_bytes(body[12..20].try_into().ok()?);
    Some((node, boot, counter))
}

/// The sending half of one node's load; it runs on the daemon's own load
/// timer, which fires after the multicast retry when both are due.
pub struct TestLoad {
    node_id: u32,
    boot_epoch: u64,
    interval: Duration,
    counter: u64,
    next: Duration,
}

impl TestLoad {
    /// A load that sends its first message `interval` after `now`.
    pub fn new(node_id: u32, boot_epoch: u64, interval: Duration, now: Duration) -> Self {
        TestLoad {
            node_id,
            boot_epoch,
            interval,
            counter: 0,
            next: now + interval,
        }
    }

    /// When the next message is due.
    pub fn next(&self) -> Duration {
        self.next
    }

    /// Send every message that is due (timers wake late under load); each
    /// is reported as sent, then multicast.
    pub fn tick(&mut self, now: Duration) -> Vec<Effect> {
        let mut out = Vec::new();
        while self.next <= now {
            self.counter += 1;
            out.push(Effect::Report(NodeEvent::TotemSent {
                counter: self.counter,
            }));
            let payload = encode_load(self.node_id, self.boot_epoch, self.counter);
            out.push(Effect::Mcast(payload[1..].to_vec()));
            self.next += self.interval;
        }
        out
    }
}

/// The receiving half: every node reports every load delivery, whether or
/// not it sends load itself.
pub struct LoadDeliveries;

impl TotemService for LoadDeliveries {
    fn tag(&self) -> u8 {
        SERVICE_LOAD
    }

    fn confchg(&mut self, _now: Duration, _change: &ConfChg) -> Vec<Effect> {
        Vec::new()
    }

    fn deliver(&mut self, _now: Duration, d: &Delivery, body: &[u8]) -> Vec<Effect> {
        let Some((sender, boot, counter)) = decode_body(body) else {
            return Vec::new();
        };
        vec![Effect::Report(NodeEvent::TotemDeliver {
            sender,
            boot,
            counter,
            ring: format!("{}", d.ring_id),
            seq: d.seq,
        })]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_wake_sends_every_due_message() {
        let mut load = TestLoad::new(2, 1, Duration::from_millis(100), Duration::ZERO);
        assert!(load.tick(Duration::from_millis(99)).is_empty());
        let effects = load.tick(Duration::from_millis(250));
        assert_eq!(effects.len(), 4, "two messages, each reported then sent");
        assert_eq!(load.next(), Duration::from_millis(300));
        let Effect::Mcast(body) = &effects[3] else {
            panic!("{effects:?}");
        };
        assert_eq!(decode_body(body), Some((2, 1, 2)));
    }
}
