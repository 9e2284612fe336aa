//! VRRPv3 advertisements for IPv4 on the wire (RFC 5798 §5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! |                       IPv4 Address(es)                        |
//! ```
//!
//! The checksum covers an IPv4 pseudo-header (source, destination, zero,
//! protocol 112, VRRP length) followed by the VRRP message, as keepalived
//! computes it. [`Advert`] is the VRRP message alone (what hasim carries as a
//! datagram payload); [`Ipv4Datagram`] adds the IPv4 header keepalived builds
//! for its raw socket (TOS 0xc0, TTL 255, protocol 112), for callers that
//! move real IP packets.
//!
//! Decoding never panics: every malformed input is a [`DecodeError`].

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use thiserror::Error;

/// IANA protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The IPv4 VRRP multicast group (RFC 5798 §5.1.1.2).
pub const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// TTL every multicast advert must carry (RFC 5798 §5.1.1.3).
pub const VRRP_TTL: u8 = 255;
/// VRRP protocol version implemented here.
pub const VERSION_3: u8 = 3;
/// The only VRRP packet type.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Fixed VRRPv3 header length.
pub const HEADER_LEN: usize = 8;
/// Length of the authentication data a VRRPv2 packet carries after its
/// addresses (keepalived includes it in the expected length when the version
/// nibble says 2).
pub const V2_AUTH_LEN: usize = 8;
/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;

/// A decoded VRRP advertisement (any version/type nibble values are kept so
/// that the caller can reject them in keepalived's order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    /// High nibble of byte 0.
    pub version: u8,
    /// Low nibble of byte 0.
    pub kind: u8,
    /// Virtual router identifier.
    pub vrid: u8,
    /// Sender's priority; 0 means "I am stopping" (RFC 5798 §5.2.4).
    pub priority: u8,
    /// Max Adver Int in centiseconds (12 bits; reserved bits dropped).
    pub max_advert_int_cs: u16,
    /// The virtual addresses, in the sender's order.
    pub addresses: Vec<Ipv4Addr>,
}

/// Why bytes are not a well-formed VRRPv3 advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum DecodeError {
    /// Fewer bytes than the 8-byte fixed header.
    #[error("VRRP packet too short: {len} bytes, expected at least {HEADER_LEN}")]
    TooShort { len: usize },
    /// The length does not match the address count.
    #[error("VRRP packet length {len} but count {count} needs {expected}")]
    Length {
        len: usize,
        count: u8,
        expected: usize,
    },
    /// Version nibble is not 3.
    #[error("wrong VRRP version {0}, expected 3")]
    Version(u8),
    /// Type nibble is not 1 (advertisement).
    #[error("invalid VRRP packet type {0}, expected 1")]
    Type(u8),
    /// The checksum over pseudo-header and message is wrong.
    #[error("invalid VRRPv3 checksum")]
    Checksum,
    /// An IPv4 header that is not IPv4, too short, has a bad header checksum or
    /// does not carry VRRP (the kernel would not hand it to keepalived).
    #[error("bad IPv4 header: {0}")]
    IpHeader(&'static str),
    /// The IPv4 total length does not match the bytes received.
    #[error("IPv4 total length {tot_len} but {len} bytes received")]
    IpLength { tot_len: usize, len: usize },
}

/// The fields of the fixed header, read without judging them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader {
    pub version: u8,
    pub kind: u8,
    pub vrid: u8,
    pub priority: u8,
    pub count: u8,
    pub max_advert_int_cs: u16,
    pub checksum: u16,
}

impl RawHeader {
    /// Reads the 8-byte header, or `None` if there are fewer bytes.
    pub fn read(bytes: &[u8]) -> Option<Self> {
        let h = bytes.get(..HEADER_LEN)?;
        Some(Self {
            version: h[0] >> 4,
            kind: h[0] & 0x0f,
            vrid: h[1],
            priority: h[2],
            count: h[3],
            max_advert_int_cs: u16::from_be_bytes([h[4], h[5]]) & 0x0fff,
            checksum: u16::from_be_bytes([h[6], h[7]]),
        })
    }

    /// The length keepalived expects for this header (`expected_vrrp_pkt_len`):
    /// header, the v2 authentication block if the version nibble says 2, and
    /// `count` IPv4 addresses.
    pub fn expected_len(&self) -> usize {
        let auth = if self.version == 2 { V2_AUTH_LEN } else { 0 };
        HEADER_LEN + auth + 4 * usize::from(self.count)
    }
}

/// One's-complement sum of 16-bit big-endian words (odd byte padded).
fn sum_words(bytes: &[u8], mut acc: u32) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for w in &mut chunks {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The VRRPv3 checksum of `message` (checksum field included as it is) for
/// the given pseudo-header addresses. Over a message whose checksum field
/// is correct this returns 0.
pub fn vrrp_checksum(src: Ipv4Addr, dst: Ipv4Addr, message: &[u8]) -> u16 {
    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&src.octets());
    pseudo[4..8].copy_from_slice(&dst.octets());
    pseudo[9] = IPPROTO_VRRP;
    pseudo[10..12].copy_from_slice(&len.to_be_bytes());
    fold(sum_words(message, sum_words(&pseudo, 0)))
}

/// The IPv4 header checksum of `header` (checksum field included as it is).
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    fold(sum_words(header, 0))
}

impl Advert {
    /// A version-3 advertisement.
    pub fn new(vrid: u8, priority: u8, max_advert_int_cs: u16, addresses: Vec<Ipv4Addr>) -> Self {
        Self {
            version: VERSION_3,
            kind: TYPE_ADVERTISEMENT,
            vrid,
            priority,
            max_advert_int_cs: max_advert_int_cs & 0x0fff,
            addresses,
        }
    }

    /// Encodes the message with the checksum for `src` → `dst`. At most 255
    /// addresses are written (the count field is 8 bits wide).
    pub fn encode(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let addrs = &self.addresses[..self.addresses.len().min(255)];
        let mut out = Vec::with_capacity(HEADER_LEN + 4 * addrs.len());
        out.push((self.version << 4) | (self.kind & 0x0f));
        out.push(self.vrid);
        out.push(self.priority);
        out.push(addrs.len() as u8);
        out.extend_from_slice(&(self.max_advert_int_cs & 0x0fff).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        for a in addrs {
            out.extend_from_slice(&a.octets());
        }
        let sum = vrrp_checksum(src, dst, &out);
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        out
    }

    /// Decodes and fully validates a VRRPv3 message sent `src` → `dst`:
    /// length against the count, version 3, type 1, checksum.
    pub fn decode(bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<Self, DecodeError> {
        let h = RawHeader::read(bytes).ok_or(DecodeError::TooShort { len: bytes.len() })?;
        if bytes.len() != h.expected_len() {
            return Err(DecodeError::Length {
                len: bytes.len(),
                count: h.count,
                expected: h.expected_len(),
            });
        }
        if h.version != VERSION_3 {
            return Err(DecodeError::Version(h.version));
        }
        if h.kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::Type(h.kind));
        }
        if vrrp_checksum(src, dst, bytes) != 0 {
            return Err(DecodeError::Checksum);
        }
        Ok(Self::from_checked(&h, bytes))
    }

    /// Builds the advert from a header whose length has been checked.
    pub(crate) fn from_checked(h: &RawHeader, bytes: &[u8]) -> Self {
        let addresses = bytes
            .get(HEADER_LEN..)
            .unwrap_or_default()
            .chunks_exact(4)
            .take(usize::from(h.count))
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect();
        Self {
            version: h.version,
            kind: h.kind,
            vrid: h.vrid,
            priority: h.priority,
            max_advert_int_cs: h.max_advert_int_cs,
            addresses,
        }
    }
}

/// An IPv4 datagram carrying VRRP, as keepalived's raw socket sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Datagram<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    /// IPv4 total length field.
    pub tot_len: usize,
    /// Bytes after the IPv4 header (the VRRP message).
    pub payload: &'a [u8],
}

impl<'a> Ipv4Datagram<'a> {
    /// Wraps a VRRP message in the IPv4 header keepalived builds
    /// (`vrrp_build_ip4`): TOS 0xc0 (network control), no fragmentation,
    /// TTL 255, protocol 112, with the header checksum filled in (keepalived
    /// leaves that to the kernel).
    pub fn encode(src: Ipv4Addr, dst: Ipv4Addr, id: u16, message: &[u8]) -> Vec<u8> {
        let tot_len = u16::try_from(IPV4_HEADER_LEN + message.len()).unwrap_or(u16::MAX);
        let mut out = vec![0u8; IPV4_HEADER_LEN];
        out[0] = 0x45;
        out[1] = 0xc0;
        out[2..4].copy_from_slice(&tot_len.to_be_bytes());
        out[4..6].copy_from_slice(&id.to_be_bytes());
        out[8] = VRRP_TTL;
        out[9] = IPPROTO_VRRP;
        out[12..16].copy_from_slice(&src.octets());
        out[16..20].copy_from_slice(&dst.octets());
        let sum = ipv4_header_checksum(&out);
        out[10..12].copy_from_slice(&sum.to_be_bytes());
        out.extend_from_slice(message);
        out
    }

    /// Parses the IPv4 header the way the kernel would before delivering to
    /// a raw VRRP socket: version 4, a sane header length, a valid header
    /// checksum and protocol 112. The total-length check is left to the
    /// caller because keepalived makes it (in its own order).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if bytes.len() < IPV4_HEADER_LEN {
            return Err(DecodeError::TooShort { len: bytes.len() });
        }
        if bytes[0] >> 4 != 4 {
            return Err(DecodeError::IpHeader("not IPv4"));
        }
        let ihl = usize::from(bytes[0] & 0x0f) * 4;
        if ihl < IPV4_HEADER_LEN {
            return Err(DecodeError::IpHeader("header length below 20"));
        }
        let header = bytes
            .get(..ihl)
            .ok_or(DecodeError::TooShort { len: bytes.len() })?;
        if ipv4_header_checksum(header) != 0 {
            return Err(DecodeError::IpHeader("header checksum"));
        }
        if bytes[9] != IPPROTO_VRRP {
            return Err(DecodeError::IpHeader("protocol is not VRRP"));
        }
        Ok(Self {
            src: Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]),
            dst: Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]),
            ttl: bytes[8],
            tot_len: usize::from(u16::from_be_bytes([bytes[2], bytes[3]])),
            payload: &bytes[ihl..],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

    fn sample() -> Advert {
        Advert::new(51, 100, 100, vec![VIP, Ipv4Addr::new(10, 0, 0, 101)])
    }

    #[test]
    fn round_trip_multicast_and_unicast() {
        let a = sample();
        for dst in [VRRP_GROUP, Ipv4Addr::new(10, 0, 0, 2)] {
            let bytes = a.encode(SRC, dst);
            assert_eq!(bytes.len(), 8 + 8);
            assert_eq!(Advert::decode(&bytes, SRC, dst), Ok(a.clone()));
        }
    }

    #[test]
    fn header_layout_is_rfc5798() {
        let bytes = sample().encode(SRC, VRRP_GROUP);
        assert_eq!(bytes[0], 0x31);
        assert_eq!(bytes[1], 51);
        assert_eq!(bytes[2], 100);
        assert_eq!(bytes[3], 2);
        assert_eq!(u16::from_be_bytes([bytes[4], bytes[5]]), 100);
        assert_eq!(&bytes[8..12], &[10, 0, 0, 100]);
    }

    #[test]
    fn known_checksum_value() {
        // Worked by hand: pseudo-header 0a00 0001 e000 0012 0070 000c and
        // message 3133 6401 0064 0000 0a00 0064 sum to 0x1_8a8b, which folds
        // to 0x8a8c; its complement is 0x7573.
        let a = Advert::new(51, 100, 100, vec![VIP]);
        let bytes = a.encode(SRC, VRRP_GROUP);
        assert_eq!(u16::from_be_bytes([bytes[6], bytes[7]]), 0x7573);
    }

    #[test]
    fn checksum_depends_on_pseudo_header() {
        let bytes = sample().encode(SRC, VRRP_GROUP);
        assert_eq!(
            Advert::decode(&bytes, SRC, Ipv4Addr::new(10, 0, 0, 2)),
            Err(DecodeError::Checksum)
        );
        assert_eq!(
            Advert::decode(&bytes, Ipv4Addr::new(10, 0, 0, 9), VRRP_GROUP),
            Err(DecodeError::Checksum)
        );
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let bytes = sample().encode(SRC, VRRP_GROUP);
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            // A flip in the reserved high bits of Max Adver Int changes the
            // checksum but not the decoded value; still it must be refused.
            assert!(
                Advert::decode(&b, SRC, VRRP_GROUP).is_err(),
                "bit {i} flip accepted"
            );
        }
    }

    #[test]
    fn malformed_inputs_give_named_errors() {
        let good = sample().encode(SRC, VRRP_GROUP);
        assert_eq!(
            Advert::decode(&good[..5], SRC, VRRP_GROUP),
            Err(DecodeError::TooShort { len: 5 })
        );
        assert!(matches!(
            Advert::decode(&good[..12], SRC, VRRP_GROUP),
            Err(DecodeError::Length {
                len: 12,
                count: 2,
                expected: 16
            })
        ));
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            Advert::decode(&long, SRC, VRRP_GROUP),
            Err(DecodeError::Length { .. })
        ));
        let mut v = sample();
        v.version = 4;
        assert_eq!(
            Advert::decode(&v.encode(SRC, VRRP_GROUP), SRC, VRRP_GROUP),
            Err(DecodeError::Version(4))
        );
        let mut t = sample();
        t.kind = 2;
        assert_eq!(
            Advert::decode(&t.encode(SRC, VRRP_GROUP), SRC, VRRP_GROUP),
            Err(DecodeError::Type(2))
        );
        assert_eq!(
            Advert::decode(&[], SRC, VRRP_GROUP),
            Err(DecodeError::TooShort { len: 0 })
        );
    }

    #[test]
    fn version_2_length_includes_auth_block() {
        let mut v2 = sample();
        v2.version = 2;
        let mut bytes = v2.encode(SRC, VRRP_GROUP);
        // Without the 8 auth bytes keepalived calls it a length error...
        assert!(matches!(
            Advert::decode(&bytes, SRC, VRRP_GROUP),
            Err(DecodeError::Length { expected: 24, .. })
        ));
        // ...with them, a version error.
        bytes.extend_from_slice(&[0; 8]);
        assert_eq!(
            Advert::decode(&bytes, SRC, VRRP_GROUP),
            Err(DecodeError::Version(2))
        );
    }

    #[test]
    fn reserved_bits_of_interval_are_ignored_but_covered_by_checksum() {
        let a = Advert::new(1, 100, 0xffff, vec![VIP]);
        assert_eq!(a.max_advert_int_cs, 0x0fff);
        let bytes = a.encode(SRC, VRRP_GROUP);
        assert_eq!(bytes[4] & 0xf0, 0);
    }

    #[test]
    fn ipv4_wrapper_round_trip() {
        let msg = sample().encode(SRC, VRRP_GROUP);
        let dgram = Ipv4Datagram::encode(SRC, VRRP_GROUP, 7, &msg);
        assert_eq!(dgram[1], 0xc0);
        let parsed = Ipv4Datagram::parse(&dgram).expect("valid datagram");
        assert_eq!(parsed.src, SRC);
        assert_eq!(parsed.dst, VRRP_GROUP);
        assert_eq!(parsed.ttl, 255);
        assert_eq!(parsed.tot_len, dgram.len());
        assert_eq!(parsed.payload, &msg[..]);
        let mut bad = dgram.clone();
        bad[8] = 64; // TTL change without fixing the header checksum
        assert_eq!(
            Ipv4Datagram::parse(&bad),
            Err(DecodeError::IpHeader("header checksum"))
        );
        assert!(Ipv4Datagram::parse(&dgram[..10]).is_err());
    }
}
