//! The messages votequorum multicasts through Totem (agreed order), and their bytes.
//!
//! Layout follows corosync's `req_exec_quorum_*` structs on a little-endian host: an
//! 8-byte header (`id` = service 5 << 16 | message number, `size` = whole message length,
//! both i32), then the packed body. All integers little-endian.

/// Corosync's service number for votequorum.
pub const VOTEQUORUM_SERVICE: u32 = 5;
const MSG_NODEINFO: u32 = 0;
const MSG_RECONFIGURE: u32 = 1;
const HEADER_LEN: usize = 8;
/// Encoded length of a [`Message::NodeInfo`].
pub const NODEINFO_LEN: usize = HEADER_LEN + 16;
/// Encoded length of a [`Message::Reconfigure`].
pub const RECONFIGURE_LEN: usize = HEADER_LEN + 12;

/// What a reconfigure message changes (`VOTEQUORUM_RECONFIG_PARAM_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReconfigParam {
    /// Set expected votes on every node (corosync-quorumtool -e).
    ExpectedVotes,
    /// Set one node's votes (corosync-quorumtool -v).
    NodeVotes,
    /// Stop waiting for all nodes (corosync-cmapctl / quorumtool cancel).
    CancelWaitForAll,
}

impl ReconfigParam {
    fn code(self) -> u8 {
        match self {
            ReconfigParam::ExpectedVotes => 1,
            ReconfigParam::NodeVotes => 2,
            ReconfigParam::CancelWaitForAll => 3,
        }
    }
}

/// A votequorum message between nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message {
    /// A node's view of itself: sent by every node at each membership change.
    NodeInfo {
        /// Node the info is about (the sender, or 0 for a quorum device).
        nodeid: u32,
        /// Its votes.
        votes: u32,
        /// Its expected votes.
        expected_votes: u32,
        /// Its [`crate::NodeFlags`] bits.
        flags: u32,
    },
    /// An administrative change applied by every node in agreed order.
    Reconfigure {
        /// Node the change is about.
        nodeid: u32,
        /// New value.
        value: u32,
        /// What to change.
        param: ReconfigParam,
    },
}

/// Why bytes are not a votequorum message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the header or body needs.
    #[error("expected at least {expected} bytes, got {got}")]
    Short {
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// The header's service is not votequorum.
    #[error("expected service {VOTEQUORUM_SERVICE} in header id, got {0}")]
    WrongService(u32),
    /// Message number not understood (quorum-device messages are not modelled).
    #[error("expected message 0 (nodeinfo) or 1 (reconfigure), got {0}")]
    UnknownMessage(u32),
    /// Header size disagrees with the buffer.
    #[error("expected header size {expected}, got {got}")]
    BadSize {
        /// Size this message type has.
        expected: usize,
        /// Size in the header.
        got: i64,
    },
    /// Reconfigure parameter not 1..=3.
    #[error("expected reconfigure param 1, 2 or 3, got {0}")]
    BadParam(u8),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    u32::from_le_bytes(w)
}

impl Message {
    /// Encode to corosync's byte layout.
    pub fn encode(&self) -> Vec<u8> {
        let (msg, len) = match self {
            Message::NodeInfo { .. } => (MSG_NODEINFO, NODEINFO_LEN),
            Message::Reconfigure { .. } => (MSG_RECONFIGURE, RECONFIGURE_LEN),
        };
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&((VOTEQUORUM_SERVICE << 16) | msg).to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        match *self {
            Message::NodeInfo {
                nodeid,
                votes,
                expected_votes,
                flags,
            } => {
                for v in [nodeid, votes, expected_votes, flags] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            Message::Reconfigure {
                nodeid,
                value,
                param,
            } => {
                out.extend_from_slice(&nodeid.to_le_bytes());
                out.extend_from_slice(&value.to_le_bytes());
                out.extend_from_slice(&[param.code(), 0, 0, 0]);
            }
        }
        out
    }

    /// Decode bytes produced by [`Message::encode`] (or by corosync on little-endian).
    pub fn decode(b: &[u8]) -> Result<Message, DecodeError> {
        if b.len() < HEADER_LEN {
            return Err(DecodeError::Short {
                expected: HEADER_LEN,
                got: b.len(),
            });
        }
        let id = u32_at(b, 0);
        let size = i64::from(u32_at(b, 4) as i32);
        if id >> 16 != VOTEQUORUM_SERVICE {
            return Err(DecodeError::WrongService(id >> 16));
        }
        let len = match id & 0xffff {
            MSG_NODEINFO => NODEINFO_LEN,
            MSG_RECONFIGURE => RECONFIGURE_LEN,
            other => return Err(DecodeError::UnknownMessage(other)),
        };
        if b.len() < len {
            return Err(DecodeError::Short {
                expected: len,
                got: b.len(),
            });
        }
        if size != len as i64 {
            return Err(DecodeError::BadSize {
                expected: len,
                got: size,
            });
        }
        if len == NODEINFO_LEN {
            Ok(Message::NodeInfo {
                nodeid: u32_at(b, 8),
                votes: u32_at(b, 12),
                expected_votes: u32_at(b, 16),
                flags: u32_at(b, 20),
            })
        } else {
            let param = match b[16] {
                1 => ReconfigParam::ExpectedVotes,
                2 => ReconfigParam::NodeVotes,
                3 => ReconfigParam::CancelWaitForAll,
                p => return Err(DecodeError::BadParam(p)),
            };
            Ok(Message::Reconfigure {
                nodeid: u32_at(b, 8),
                value: u32_at(b, 12),
                param,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodeinfo_bytes() {
        let m = Message::NodeInfo {
            nodeid: 3,
            votes: 1,
            expected_votes: 5,
            flags: 9,
        };
        let b = m.encode();
        assert_eq!(
            b,
            vec![0, 0, 5, 0, 24, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0]
        );
        assert_eq!(Message::decode(&b), Ok(m));
    }

    #[test]
    fn reconfigure_roundtrip_and_errors() {
        let m = Message::Reconfigure {
            nodeid: 1,
            value: 2,
            param: ReconfigParam::CancelWaitForAll,
        };
        let b = m.encode();
        assert_eq!(b.len(), RECONFIGURE_LEN);
        assert_eq!(Message::decode(&b), Ok(m));
        assert!(matches!(
            Message::decode(&b[..10]),
            Err(DecodeError::Short { .. })
        ));
        let mut bad = b.clone();
        bad[16] = 9;
        assert_eq!(Message::decode(&bad), Err(DecodeError::BadParam(9)));
        let mut other = b;
        other[2] = 6;
        assert_eq!(Message::decode(&other), Err(DecodeError::WrongService(6)));
    }
}
