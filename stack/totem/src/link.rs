//! Redundant links, knet style (corosync 3's default transport).
//!
//! Choice: knet's *passive* link mode with priorities, not the old RRP. Each
//! peer is reached over the best link (lowest link number) that is currently
//! up *for that peer*; when it goes down traffic moves to the next link at
//! once, without Totem noticing anything but a short delay. RRP (corosync 2)
//! instead let Totem itself mark whole rings faulty; corosync 3 removed it.
//!
//! Health is judged by ping/pong per (peer, link) as knet does: pings every
//! `ping_interval`, a link is down once no pong has arrived for
//! `ping_timeout`, and up again after `pong_count` pongs. corosync derives the
//! defaults from the token: ping_timeout = token / pong_count and
//! ping_interval = token / (pong_count * 2) (totemconfig.c).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::wire::NodeId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTimers {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub pong_count: u32,
}

impl LinkTimers {
    /// knet defaults as corosync computes them from the effective token.
    pub fn from_token(token_ms: u32) -> LinkTimers {
        let pong_count = 2;
        LinkTimers {
            ping_interval: Duration::from_millis(u64::from(token_ms / (pong_count * 2))),
            ping_timeout: Duration::from_millis(u64::from(token_ms / pong_count)),
            pong_count,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct PeerLink {
    up: bool,
    last_pong: Option<Duration>,
    pongs_since_down: u32,
}

/// A link state change worth reporting (knet logs these as "link: host: N
/// link: L is down/up").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkChange {
    pub peer: NodeId,
    pub link: u8,
    pub up: bool,
}

#[derive(Debug, Clone)]
pub struct LinkMonitor {
    links: u8,
    timers: LinkTimers,
    peers: BTreeMap<(NodeId, u8), PeerLink>,
    next_ping: Option<Duration>,
}

impl LinkMonitor {
    /// `links` links to every peer in `peers`. With a single link no pings are
    /// sent: the link is assumed up, as there is nothing to fail over to.
    pub fn new(peers: &[NodeId], links: u8, timers: LinkTimers) -> LinkMonitor {
        let links = links.max(1);
        let mut map = BTreeMap::new();
        for p in peers {
            for l in 0..links {
                map.insert(
                    (*p, l),
                    PeerLink {
                        // Optimistic start, like knet before the first ping
                        // round: send on link 0 until proven down.
                        up: l == 0,
                        ..Default::default()
                    },
                );
            }
        }
        LinkMonitor {
            links,
            timers,
            peers: map,
            next_ping: None,
        }
    }

    pub fn link_count(&self) -> u8 {
        self.links
    }

    /// Best link for `peer`: the lowest-numbered one that is up, else link 0.
    pub fn best_link(&self, peer: NodeId) -> u8 {
        (0..self.links)
            .find(|l| self.peers.get(&(peer, *l)).is_some_and(|p| p.up))
            .unwrap_or(0)
    }

    pub fn is_up(&self, peer: NodeId, link: u8) -> bool {
        self.peers.get(&(peer, link)).is_some_and(|p| p.up)
    }

    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.links > 1 {
            self.next_ping
        } else {
            None
        }
    }

    /// Start pinging at `now`.
    pub fn start(&mut self, now: Duration) {
        if self.links > 1 {
            self.next_ping = Some(now);
            for p in self.peers.values_mut() {
                p.last_pong = Some(now);
            }
        }
    }

    /// Timer: returns (peer, link) pairs to ping now, and state changes.
    pub fn on_timeout(&mut self, now: Duration) -> (Vec<(NodeId, u8)>, Vec<LinkChange>) {
        let mut pings = Vec::new();
        let mut changes = Vec::new();
        let Some(at) = self.next_ping else {
            return (pings, changes);
        };
        if now < at {
            return (pings, changes);
        }
        for ((peer, link), st) in self.peers.iter_mut() {
            pings.push((*peer, *link));
            let silent = st
                .last_pong
                .is_none_or(|t| now.saturating_sub(t) > self.timers.ping_timeout);
            if st.up && silent {
                st.up = false;
                st.pongs_since_down = 0;
                changes.push(LinkChange {
                    peer: *peer,
                    link: *link,
                    up: false,
                });
            }
        }
        self.next_ping = Some(now + self.timers.ping_interval);
        (pings, changes)
    }

    /// A pong from `peer` arrived on `link`.
    pub fn on_pong(&mut self, now: Duration, peer: NodeId, link: u8) -> Option<LinkChange> {
        let need = self.timers.pong_count;
        let st = self.peers.get_mut(&(peer, link))?;
        st.last_pong = Some(now);
        if !st.up {
            st.pongs_since_down += 1;
            if st.pongs_since_down >= need {
                st.up = true;
                return Some(LinkChange {
                    peer,
                    link,
                    up: true,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn defaults_follow_token() {
        let t = LinkTimers::from_token(1000);
        assert_eq!(t.ping_timeout, ms(500));
        assert_eq!(t.ping_interval, ms(250));
    }

    #[test]
    fn fails_over_to_second_link_and_back() {
        let mut m = LinkMonitor::new(&[2], 2, LinkTimers::from_token(1000));
        m.start(ms(0));
        assert_eq!(m.best_link(2), 0);
        // link 1 comes up after pong_count pongs
        m.on_timeout(ms(0));
        m.on_pong(ms(10), 2, 1);
        assert_eq!(m.on_pong(ms(260), 2, 1).map(|c| c.up), Some(true));
        m.on_pong(ms(260), 2, 0);
        // link 0 goes silent
        let mut down = Vec::new();
        for t in [250u64, 500, 750, 1000] {
            m.on_pong(ms(t), 2, 1);
            let (_, ch) = m.on_timeout(ms(t));
            down.extend(ch);
        }
        assert!(down.contains(&LinkChange {
            peer: 2,
            link: 0,
            up: false
        }));
        assert_eq!(m.best_link(2), 1);
        m.on_pong(ms(1100), 2, 0);
        m.on_pong(ms(1200), 2, 0);
        assert_eq!(m.best_link(2), 0);
    }

    #[test]
    fn single_link_never_pings() {
        let mut m = LinkMonitor::new(&[2, 3], 1, LinkTimers::from_token(1000));
        m.start(ms(0));
        assert_eq!(m.poll_timeout(), None);
        assert_eq!(m.best_link(3), 0);
    }
}
