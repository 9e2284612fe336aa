//! Counters, after keepalived's `vrrp_stats`, plus one counter per reason a
//! received packet was dropped so that every packet is accounted for.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Why a received packet was not used as an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Shorter than an IPv4 header or the VRRP header ("packet too short").
    TooShort,
    /// IPv4 header the kernel would have refused (only for IPv4 datagrams).
    IpHeader,
    /// VRID of no instance here ("Unknown VRID").
    UnknownVrid,
    /// Instance in INIT or STOP: keepalived ignores packets then.
    NotRunning,
    /// Length does not match the address count, or the IPv4 total length
    /// (keepalived's `packet_len_err`).
    Length,
    /// Multicast advert whose TTL is not 255 (`ip_ttl_err`).
    Ttl,
    /// Version is not 3 (`vers_err`).
    Version,
    /// Type is not advertisement (`invalid_type_rcvd`).
    Type,
    /// Address count differs from ours (`addr_list_err`).
    AddressCount,
    /// Bad VRRPv3 checksum (`chk_err`).
    Checksum,
    /// Multicast received by a unicast instance or the reverse
    /// (`addr_list_err`).
    DestinationKind,
    /// One of our VIPs missing from the advert (`addr_list_err`).
    AddressList,
    /// Unicast advert from an address that is not a peer (with
    /// `check_unicast_src`).
    UnicastSource,
}

impl DropReason {
    /// Every reason, in declaration order.
    pub const ALL: [DropReason; 13] = [
        DropReason::TooShort,
        DropReason::IpHeader,
        DropReason::UnknownVrid,
        DropReason::NotRunning,
        DropReason::Length,
        DropReason::Ttl,
        DropReason::Version,
        DropReason::Type,
        DropReason::AddressCount,
        DropReason::Checksum,
        DropReason::DestinationKind,
        DropReason::AddressList,
        DropReason::UnicastSource,
    ];
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::TooShort => "too short",
            DropReason::IpHeader => "bad ip header",
            DropReason::UnknownVrid => "unknown vrid",
            DropReason::NotRunning => "not running",
            DropReason::Length => "length",
            DropReason::Ttl => "ttl",
            DropReason::Version => "version",
            DropReason::Type => "type",
            DropReason::AddressCount => "address count",
            DropReason::Checksum => "checksum",
            DropReason::DestinationKind => "multicast/unicast mismatch",
            DropReason::AddressList => "address list",
            DropReason::UnicastSource => "unicast source",
        })
    }
}

/// Per-instance statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every call of `handle_packet`/`handle_ipv4_datagram`.
    pub packets_received: u64,
    /// Keepalived's `advert_rcvd`: packets that passed the header, length,
    /// checksum and destination checks (counted before the VIP list check,
    /// as keepalived does).
    pub adverts_received: u64,
    /// Packets that passed every check and went to the state machine.
    pub adverts_accepted: u64,
    /// Keepalived's `advert_sent`: advert rounds (one per round even when
    /// sent to several unicast peers).
    pub adverts_sent: u64,
    /// Keepalived's `pri_zero_rcvd`.
    pub priority_zero_received: u64,
    /// Keepalived's `pri_zero_sent`.
    pub priority_zero_sent: u64,
    /// Keepalived's `become_master`.
    pub become_master: u64,
    /// Keepalived's `release_master`.
    pub release_master: u64,
    /// Every `StateChanged` emitted.
    pub transitions: u64,
    /// Dropped packets by reason (only reasons seen are present).
    dropped: BTreeMap<DropReason, u64>,
}

impl Stats {
    /// Packets dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(&reason).copied().unwrap_or(0)
    }

    /// All dropped packets.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Non-zero drop counters, in declaration order.
    pub fn dropped_by_reason(&self) -> Vec<(DropReason, u64)> {
        self.dropped.iter().map(|(&r, &n)| (r, n)).collect()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        *self.dropped.entry(reason).or_insert(0) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        let mut sorted = DropReason::ALL;
        sorted.sort();
        assert_eq!(sorted, DropReason::ALL);
    }

    #[test]
    fn serialises_drops_by_name() {
        let mut s = Stats::default();
        s.count_drop(DropReason::UnknownVrid);
        let json = serde_json::to_value(&s).expect("serialises");
        assert_eq!(json["dropped"]["unknown_vrid"], 1);
    }

    #[test]
    fn drop_counting() {
        let mut s = Stats::default();
        s.count_drop(DropReason::Checksum);
        s.count_drop(DropReason::Checksum);
        s.count_drop(DropReason::Ttl);
        assert_eq!(s.dropped(DropReason::Checksum), 2);
        assert_eq!(s.dropped_total(), 3);
        assert_eq!(
            s.dropped_by_reason(),
            vec![(DropReason::Ttl, 1), (DropReason::Checksum, 2)]
        );
    }
}
