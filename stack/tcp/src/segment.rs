//! TCP segments and their byte encoding.
//!
//! The header is TCP's own fields in TCP's order (ports, sequence and
//! acknowledgement numbers, flags, window) without options or checksum:
//! the fabric below delivers datagrams intact or not at all.

use thiserror::Error;

/// Header length in bytes.
pub const HEADER_LEN: usize = 17;

/// TCP flag bits (the low six bits of TCP's flag byte).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Flags(u8);

impl Flags {
    /// No more data from sender.
    pub const FIN: Flags = Flags(0x01);
    /// Synchronise sequence numbers.
    pub const SYN: Flags = Flags(0x02);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// Push (carried, never interpreted).
    pub const PSH: Flags = Flags(0x08);
    /// The acknowledgement field is significant.
    pub const ACK: Flags = Flags(0x10);
    const ALL: u8 = 0x1f;

    /// No flags.
    pub const fn empty() -> Flags {
        Flags(0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// One TCP segment. Addresses travel in the datagram around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Sender's port.
    pub src_port: u16,
    /// Receiver's port.
    pub dst_port: u16,
    /// Sequence number of the first byte (or of the SYN/FIN).
    pub seq: u32,
    /// Next sequence number expected by the sender (with `ACK`).
    pub ack: u32,
    /// Flags.
    pub flags: Flags,
    /// Receive window the sender advertises, in bytes.
    pub window: u32,
    /// Data.
    pub payload: Vec<u8>,
}

/// Why bytes are not a segment.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SegmentError {
    /// Fewer bytes than a header.
    #[error("TCP segment of {0} bytes is shorter than the {HEADER_LEN}-byte header")]
    Short(usize),
    /// Flag bits this model does not know (URG, ECE, CWR, ...).
    #[error("TCP segment has unknown flag bits {0:#04x}; expected only FIN, SYN, RST, PSH, ACK")]
    UnknownFlags(u8),
    /// SYN and FIN or SYN and RST together.
    #[error("TCP segment combines flags {0:#04x} that no TCP sends together")]
    BadFlagCombination(u8),
}

impl Segment {
    /// Sequence space the segment occupies: its data plus one for SYN and
    /// one for FIN.
    pub fn seq_len(&self) -> u32 {
        let len = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        len + u32::from(self.flags.contains(Flags::SYN))
            + u32::from(self.flags.contains(Flags::FIN))
    }

    /// Encodes the segment: ports, seq, ack (big-endian), flags, window (u32).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ack.to_be_bytes());
        out.push(self.flags.bits());
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Decodes bytes made by [`Segment::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Segment, SegmentError> {
        let Some((head, payload)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(SegmentError::Short(bytes.len()));
        };
        let flags = head[12];
        if flags & !Flags::ALL != 0 {
            return Err(SegmentError::UnknownFlags(flags));
        }
        let f = Flags(flags);
        if f.contains(Flags::SYN) && (f.contains(Flags::FIN) || f.contains(Flags::RST)) {
            return Err(SegmentError::BadFlagCombination(flags));
        }
        Ok(Segment {
            src_port: u16::from_be_bytes([head[0], head[1]]),
            dst_port: u16::from_be_bytes([head[2], head[3]]),
            seq: u32::from_be_bytes([head[4], head[5], head[6], head[7]]),
            ack: u32::from_be_bytes([head[8], head[9], head[10], head[11]]),
            flags: f,
            window: u32::from_be_bytes([head[13], head[14], head[15], head[16]]),
            payload: payload.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn encode_decode_round_trip(
            src_port: u16, dst_port: u16, seq: u32, ack: u32,
            flags in prop::sample::select(vec![0u8, 0x02, 0x12, 0x10, 0x11, 0x04, 0x14, 0x18]),
            payload in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let s = Segment { src_port, dst_port, seq, ack, flags: Flags(flags), window: 65535, payload };
            prop_assert_eq!(Segment::decode(&s.encode()), Ok(s));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = Segment::decode(&bytes);
        }
    }

    #[test]
    fn short_and_bad_flags_are_errors() {
        assert_eq!(Segment::decode(&[0; 3]), Err(SegmentError::Short(3)));
        let mut b = vec![0u8; HEADER_LEN];
        b[12] = 0x20;
        assert_eq!(Segment::decode(&b), Err(SegmentError::UnknownFlags(0x20)));
        b[12] = 0x03;
        assert_eq!(
            Segment::decode(&b),
            Err(SegmentError::BadFlagCombination(0x03))
        );
    }
}
