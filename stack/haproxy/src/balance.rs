//! Server choice.

use std::net::Ipv4Addr;

use crate::{Balance, Server};

/// Index of the server for a client at `client`, among `servers` with
/// their UP flags: active servers if any is UP, else the first UP backup.
pub fn choose(
    servers: &[Server],
    up: &[bool],
    balance: Balance,
    client: Ipv4Addr,
    rr: &mut u64,
) -> Option<usize> {
    let active: Vec<usize> = (0..servers.len())
        .filter(|&i| up[i] && !servers[i].backup)
        .collect();
    let pool = if active.is_empty() {
        (0..servers.len())
            .find(|&i| up[i] && servers[i].backup)
            .into_iter()
            .collect()
    } else {
        active
    };
    if pool.is_empty() {
        return None;
    }
    let k = match balance {
        Balance::Source => source_hash(client) % pool.len() as u64,
        Balance::RoundRobin => {
            *rr = rr.wrapping_add(1);
            (*rr - 1) % pool.len() as u64
        }
    };
    Some(pool[k as usize])
}

/// HAProxy hashes the source address with its full-avalanche integer hash
/// (Bob Jenkins' 32-bit mix), then maps it over the server weights.
fn source_hash(ip: Ipv4Addr) -> u64 {
    let mut a = u32::from(ip);
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    u64::from(a)
}
