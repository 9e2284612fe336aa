//! corosync's Totem services: each owns a tag (the first byte of its Totem
//! payloads, as corosync's service id is), hears every configuration
//! change and the deliveries that carry its tag, may answer in-node client
//! requests, and asks the daemon for effects in order.

use crate::host::NodeEvent;
use crate::local::{Envelope, LocalMessage};
use hasim_totem::{ConfChg, ConfKind, Delivery};
use hasim_votequorum as vq;
use std::collections::BTreeSet;
use std::time::Duration;

/// votequorum's service id in corosync.
pub const SERVICE_VOTEQUORUM: u8 = 5;
/// cpg's service id in corosync.
pub const SERVICE_CPG: u8 = 8;

/// What a service asks of the daemon. The daemon carries effects out in
/// order, each completely (a multicast goes through Totem at once), before
/// it looks at the next.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Multicast this payload (without the tag) in agreed order.
    Mcast(Vec<u8>),
    Report(NodeEvent),
    Store(&'static str, Vec<u8>),
    /// Set the service's timer `id` to fire at `at`.
    SetTimer(u8, Duration),
    CancelTimer(u8),
    /// Send to a daemon on this node.
    ToClient(String, LocalMessage),
}

/// One Totem service of the corosync daemon.
pub trait TotemService: Send {
    /// The first byte of every payload this service multicasts.
    fn tag(&self) -> u8;
    /// The daemon starts (before Totem does).
    fn start(&mut self, _now: Duration) -> Vec<Effect> {
        Vec::new()
    }
    /// Totem delivered a configuration change.
    fn confchg(&mut self, now: Duration, change: &ConfChg) -> Vec<Effect>;
    /// Totem delivered a message carrying this service's tag; `body` is the
    /// payload after the tag.
    fn deliver(&mut self, now: Duration, delivery: &Delivery, body: &[u8]) -> Vec<Effect>;
    /// The service's timer `id` is due.
    fn timer(&mut self, _now: Duration, _id: u8) -> Vec<Effect> {
        Vec::new()
    }
    /// A local daemon's request; `None` when it is not this service's.
    fn request(&mut self, _now: Duration, _envelope: &Envelope) -> Option<Vec<Effect>> {
        None
    }
}

/// votequorum, with libquorum's notifications for local trackers.
pub struct Votequorum {
    node_id: u32,
    core: vq::Votequorum,
    config: vq::Config,
    /// Local daemons that asked for quorum notifications.
    trackers: BTreeSet<String>,
    last: Option<(bool, Vec<u32>)>,
}

impl Votequorum {
    pub fn new(node_id: u32, config: vq::Config) -> Self {
        Votequorum {
            node_id,
            core: vq::Votequorum::new(node_id),
            config,
            trackers: BTreeSet::new(),
            last: None,
        }
    }

    fn input(&mut self, now: Duration, input: vq::Input) -> Vec<Effect> {
        let mut out = Vec::new();
        for action in self.core.handle(now, input) {
            match action {
                vq::Action::Broadcast(msg) => out.push(Effect::Mcast(msg.encode())),
                vq::Action::SetTimer { timer, at } => {
                    out.push(Effect::SetTimer(timer_id(timer), at))
                }
                vq::Action::CancelTimer(timer) => out.push(Effect::CancelTimer(timer_id(timer))),
                vq::Action::QuorumChanged(r) => {
                    self.last = Some((r.quorate, r.members.clone()));
                    out.extend(self.notify_all());
                    out.push(Effect::Report(NodeEvent::Quorum {
                        quorate: r.quorate,
                        total_votes: r.total_votes,
                        expected_votes: r.expected_votes,
                        quorum: r.quorum,
                        members: r.members,
                    }));
                }
                vq::Action::PersistEvTrackingBarrier(v) => {
                    out.push(Effect::Store("ev_tracking", v.to_be_bytes().to_vec()))
                }
                vq::Action::Rejected(text) | vq::Action::Log(text) => {
                    tracing::debug!(node = self.node_id, "votequorum: {text}");
                }
            }
        }
        out
    }

    fn notify(&self, to: &str) -> Option<Effect> {
        let (quorate, members) = self.last.clone()?;
        Some(Effect::ToClient(
            to.to_string(),
            LocalMessage::Quorum { quorate, members },
        ))
    }

    fn notify_all(&self) -> Vec<Effect> {
        self.trackers
            .iter()
            .filter_map(|t| self.notify(t))
            .collect()
    }
}

/// votequorum has one timer; its id in the daemon's table.
fn timer_id(timer: vq::Timer) -> u8 {
    match timer {
        vq::Timer::LastManStanding => 0,
    }
}

impl TotemService for Votequorum {
    fn tag(&self) -> u8 {
        SERVICE_VOTEQUORUM
    }

    fn start(&mut self, now: Duration) -> Vec<Effect> {
        self.input(now, vq::Input::Configure(self.config.clone()))
    }

    fn confchg(&mut self, now: Duration, c: &ConfChg) -> Vec<Effect> {
        if c.kind != ConfKind::Regular {
            return Vec::new();
        }
        let ring_id = vq::RingId {
            rep: c.ring_id.rep,
            seq: c.ring_id.seq,
        };
        self.input(
            now,
            vq::Input::Membership {
                members: c.members.clone(),
                ring_id,
            },
        )
    }

    fn deliver(&mut self, now: Duration, d: &Delivery, body: &[u8]) -> Vec<Effect> {
        match vq::Message::decode(body) {
            Ok(msg) => self.input(
                now,
                vq::Input::Message {
                    from: d.sender,
                    msg,
                },
            ),
            Err(_) => Vec::new(),
        }
    }

    fn timer(&mut self, now: Duration, id: u8) -> Vec<Effect> {
        match id {
            0 => self.input(now, vq::Input::TimerExpired(vq::Timer::LastManStanding)),
            _ => Vec::new(),
        }
    }

    fn request(&mut self, _now: Duration, envelope: &Envelope) -> Option<Vec<Effect>> {
        if envelope.message != LocalMessage::QuorumTrack {
            return None;
        }
        self.trackers.insert(envelope.from.clone());
        Some(self.notify(&envelope.from).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasim_totem::RingId;

    fn envelope(message: LocalMessage) -> Envelope {
        Envelope {
            from: "pacemakerd".into(),
            pid: 1001,
            message,
        }
    }

    fn regular(members: Vec<u32>) -> ConfChg {
        ConfChg {
            kind: ConfKind::Regular,
            ring_id: RingId { rep: 1, seq: 4 },
            members,
            left: Vec::new(),
            joined: vec![1],
        }
    }

    #[test]
    fn a_quorum_tracker_hears_the_current_view_and_every_change() {
        let mut vq = Votequorum::new(1, vq::Config::simple(1, 1, 1));
        let _ = vq.start(Duration::ZERO);
        // Tracking starts with the view votequorum holds (from its configuration).
        let track = envelope(LocalMessage::QuorumTrack);
        let first = vq.request(Duration::ZERO, &track).unwrap_or_default();
        assert!(
            matches!(&first[..], [Effect::ToClient(to, LocalMessage::Quorum { .. })] if to == "pacemakerd")
        );
        // The new ring's votes arrive as this node's own message.
        let effects = vq.confchg(Duration::from_millis(1), &regular(vec![1]));
        let Some(Effect::Mcast(body)) = effects.first().cloned() else {
            panic!("{effects:?}");
        };
        let delivery = Delivery {
            sender: 1,
            ring_id: RingId { rep: 1, seq: 4 },
            seq: 1,
            guarantee: hasim_totem::Guarantee::Agreed,
            payload: Vec::new(),
        };
        let effects = vq.deliver(Duration::from_millis(1), &delivery, &body);
        let quorum = LocalMessage::Quorum {
            quorate: true,
            members: vec![1],
        };
        let told = Effect::ToClient("pacemakerd".into(), quorum.clone());
        assert!(effects.contains(&told), "{effects:?}");
        // A late tracker gets the current view at once.
        let late = Envelope {
            from: "attrd".into(),
            ..track
        };
        let now = vq.request(Duration::from_millis(2), &late);
        assert_eq!(now, Some(vec![Effect::ToClient("attrd".into(), quorum)]));
        // A CPG request is not votequorum's.
        let join = envelope(LocalMessage::CpgJoin { group: "g".into() });
        assert_eq!(vq.request(Duration::ZERO, &join), None);
    }
}
