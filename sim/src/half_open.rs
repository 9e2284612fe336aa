//! Server-side connections whose client went away: the other half of the
//! data clients' "hung connections". When a client's machine loses power,
//! or the address it connected from moves, the server's socket stays
//! ESTABLISHED: nothing tells it, until its keepalive (if the server set
//! SO_KEEPALIVE) or a write's retransmissions give up. Every [`WATCH`] the
//! watcher looks at every connection a listener accepted, notes when its
//! peer's machine (the one that held the peer's address when the watcher
//! first saw the connection) lost power, restarted or lost that address,
//! and how long the connection stayed in the server's table after that.
//! At `[data] final_read_at` it records, per machine, one `HalfOpen` event.

use crate::context::Shared;
use crate::tcp::ServerConn;
use crate::trace::Event;
use hasim_tcp::ConnId;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::time::sleep_until;

/// How often the watcher looks.
const WATCH: Duration = Duration::from_millis(100);

/// A server connection being watched.
struct Watched {
    /// The machine (and incarnation) holding the peer's address when first
    /// seen; `None` when nothing held it (never counted as lost).
    peer: Option<(usize, u64)>,
    lost_at: Option<Duration>,
}

/// Per server machine: hangs that ended (their lengths) and, at the end,
/// those still open.
#[derive(Default)]
struct Hangs {
    ended: Vec<Duration>,
    open: Vec<Duration>,
}

/// Watch from now until `until` (simulated time since the start), on the
/// fabric's node, which never loses power.
pub fn spawn(shared: &Shared, until: Duration) {
    let me = shared.clone();
    shared.spawn_on_fabric(async move { watch(me, until).await });
}

async fn watch(shared: Shared, until: Duration) {
    let mut watched: BTreeMap<(usize, u64, ConnId), Watched> = BTreeMap::new();
    let mut hangs: BTreeMap<usize, Hangs> = BTreeMap::new();
    loop {
        let now = shared.now();
        let conns = shared.tcp.server_connections();
        look(&shared, now, &conns, &mut watched, &mut hangs);
        if now >= until {
            break;
        }
        sleep_until(shared.start + (now + WATCH).min(until)).await;
    }
    let now = shared.now();
    for ((server, _, _), w) in watched {
        if let Some(at) = w.lost_at {
            hangs.entry(server).or_default().open.push(now - at);
        }
    }
    record(&shared, now, hangs);
}

/// One look: new connections get their peer, peers that went away are
/// noted, connections that left their table end their hang.
fn look(
    shared: &Shared,
    now: Duration,
    conns: &[ServerConn],
    watched: &mut BTreeMap<(usize, u64, ConnId), Watched>,
    hangs: &mut BTreeMap<usize, Hangs>,
) {
    let world = shared.world.at(now);
    let holder = |ip: Ipv4Addr| {
        (0..world.hosts.len())
            .find(|&h| {
                world.holds_vip(h, ip) || world.hosts[h].interfaces.iter().any(|(_, a)| *a == ip)
            })
            .map(|h| (h, world.hosts[h].incarnation))
    };
    let mut present = std::collections::BTreeSet::new();
    for &(server, incarnation, id, _local, remote) in conns {
        let key = (server, incarnation, id);
        present.insert(key);
        let w = watched.entry(key).or_insert_with(|| Watched {
            peer: holder(*remote.ip()),
            lost_at: None,
        });
        let Some((peer, peer_incarnation)) = w.peer else {
            continue;
        };
        let host = &world.hosts[peer];
        let gone = !host.powered
            || host.incarnation != peer_incarnation
            || holder(*remote.ip()).map(|(h, _)| h) != Some(peer);
        if gone && w.lost_at.is_none() {
            w.lost_at = Some(now);
        }
    }
    watched.retain(|key, w| {
        if present.contains(key) {
            return true;
        }
        if let Some(at) = w.lost_at {
            hangs.entry(key.0).or_default().ended.push(now - at);
        }
        false
    });
}

fn record(shared: &Shared, now: Duration, hangs: BTreeMap<usize, Hangs>) {
    let mut world = shared.world.at(now);
    let mut events: Vec<Event> = hangs
        .into_iter()
        .filter(|(_, h)| !h.ended.is_empty() || !h.open.is_empty())
        .map(|(server, h)| {
            let longest = h.ended.iter().chain(&h.open).max().copied();
            Event::HalfOpen {
                host: world.hosts[server].name.clone(),
                connections: h.ended.len() + h.open.len(),
                longest_hang_ms: longest.unwrap_or_default().as_millis() as u64,
                still_open: h.open.len(),
            }
        })
        .collect();
    events.sort_by(|a, b| host_of(a).cmp(host_of(b)));
    for e in events {
        world.record(e);
    }
}

fn host_of(e: &Event) -> &str {
    match e {
        Event::HalfOpen { host, .. } => host,
        _ => "",
    }
}
