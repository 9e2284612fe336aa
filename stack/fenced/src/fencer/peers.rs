//! Query results and the choice of executor (fenced_remote.c
//! `add_result`, `find_best_peer`, `stonith_choose_peer` and the timeout
//! helpers), kept apart from the message flow.

use std::collections::BTreeMap;

use crate::wire::DeviceOffer;

/// One device as a peer offered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Offer {
    pub verified: bool,
    pub action_timeout: Option<u64>,
    pub delay_max: u64,
    /// Already used by this operation (`props->executed`).
    pub executed: bool,
}

/// One peer's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PeerResult {
    pub host: String,
    pub devices: BTreeMap<String, Offer>,
    /// Asked to fence already (simple, non-topology fencing).
    pub tried: bool,
}

impl PeerResult {
    pub fn new(host: String, offers: Vec<DeviceOffer>) -> PeerResult {
        let devices = offers
            .into_iter()
            .map(|o| {
                let offer = Offer {
                    verified: o.verified,
                    action_timeout: o.action_timeout,
                    delay_max: o.delay_max,
                    executed: false,
                };
                (o.device, offer)
            })
            .collect();
        PeerResult {
            host,
            devices,
            tried: false,
        }
    }

    fn usable(&self, verified_only: bool) -> usize {
        self.devices
            .values()
            .filter(|d| !d.executed && (d.verified || !verified_only))
            .count()
    }
}

/// `add_result`: insert sorted by device count, descending. glib's
/// `g_list_insert_sorted` places the newcomer before the first entry that
/// does not have more devices, so among equals the latest reply comes first.
pub(super) fn insert_sorted(results: &mut Vec<PeerResult>, peer: PeerResult) {
    let n = peer.devices.len();
    let at = results
        .iter()
        .position(|p| p.devices.len() <= n)
        .unwrap_or(results.len());
    results.insert(at, peer);
}

/// `find_best_peer` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    /// Another node, with the device verified (running) there.
    OtherVerified,
    /// Another node, verified or not.
    Other,
    /// The target itself (never in hasim: a device does not fence its own host).
    TargetOnly,
}

/// `find_best_peer`: index of the peer to ask, marking the device used
/// (topology) or nothing (simple fencing marks `tried` when it asks).
pub(super) fn find_best_peer(
    results: &mut [PeerResult],
    target: &str,
    device: Option<&str>,
    topology: bool,
    pick: Pick,
) -> Option<usize> {
    if device.is_none() && topology {
        return None;
    }
    let verified_only = pick == Pick::OtherVerified;
    for (i, peer) in results.iter_mut().enumerate() {
        let is_target = peer.host.eq_ignore_ascii_case(target);
        if (pick == Pick::TargetOnly) != is_target {
            continue;
        }
        if let Some(dev) = device.filter(|_| topology) {
            if let Some(offer) = peer.devices.get_mut(dev) {
                if !offer.executed && (offer.verified || !verified_only) {
                    offer.executed = true;
                    return Some(i);
                }
            }
        } else if !peer.tried && peer.usable(verified_only) > 0 {
            return Some(i);
        }
    }
    None
}

/// `get_device_timeout`: the device's action timeout (or the base) plus its
/// reported maximum delay.
pub(super) fn device_timeout(base: u64, peer: Option<&PeerResult>, device: &str) -> u64 {
    match peer.and_then(|p| p.devices.get(device)) {
        Some(o) => o.action_timeout.unwrap_or(base) + o.delay_max,
        None => base,
    }
}

/// `get_peer_timeout`: sum over the peer's unused devices, or the base.
pub(super) fn peer_timeout(base: u64, peer: &PeerResult) -> u64 {
    let total: u64 = peer
        .devices
        .iter()
        .filter(|(_, o)| !o.executed)
        .map(|(id, _)| device_timeout(base, Some(peer), id))
        .sum();
    if total == 0 {
        base
    } else {
        total
    }
}

/// `get_op_total_timeout` with topology: every level's devices, each timed
/// by the first peer that offered it.
pub(super) fn topology_timeout(base: u64, results: &[PeerResult], levels: &[Vec<String>]) -> u64 {
    let mut total = 0;
    for device in levels.iter().flatten() {
        if let Some(peer) = results.iter().find(|p| p.devices.contains_key(device)) {
            total += device_timeout(base, Some(peer), device);
        }
    }
    if total == 0 {
        base
    } else {
        total
    }
}

/// `all_topology_devices_found`: every device of every level was offered
/// by some peer other than the target.
pub(super) fn all_topology_devices_found(
    results: &[PeerResult],
    target: &str,
    levels: &[Vec<String>],
) -> bool {
    !levels.is_empty()
        && levels.iter().flatten().all(|d| {
            results
                .iter()
                .any(|p| !p.host.eq_ignore_ascii_case(target) && p.devices.contains_key(d))
        })
}
