//! Initial sequence numbers (RFC 6528, as Linux's `secure_tcp_seq`): a keyed
//! hash of the connection's addresses plus a clock ticking every 64 ns.
//! The key comes from the driver, so runs are reproducible from the seed.

use std::net::SocketAddrV4;
use std::time::Duration;

/// SplitMix64 finaliser over `key ^ value`: a cheap keyed mix, enough to
/// make sequence numbers unpredictable to the model and stable for a seed.
pub fn mix(key: u64, value: u64) -> u64 {
    let mut z = key ^ value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The ISN for a connection from `local` to `remote` at `now`.
pub fn initial_sequence(
    secret: u64,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    now: Duration,
) -> u32 {
    let a = u64::from(u32::from(*local.ip())) << 16 | u64::from(local.port());
    let b = u64::from(u32::from(*remote.ip())) << 16 | u64::from(remote.port());
    let h = mix(mix(secret, a), b);
    let ticks = (now.as_nanos() >> 6) as u64;
    (h as u32).wrapping_add(ticks as u32)
}
