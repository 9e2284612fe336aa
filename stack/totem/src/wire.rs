//! Wire encoding of Totem messages.
//!
//! Every packet starts with a fixed header (magic, format version, message
//! kind, sender node id) so that a receiver can reject foreign or future
//! packets before looking further. Integers are big-endian. Decoding never
//! panics: any short, oversized or inconsistent packet is a [`DecodeError`],
//! which the node counts and drops, as corosync does with its sanity checks.

use std::fmt;

/// Corosync node id (`nodeid` in the nodelist).
pub type NodeId = u32;

/// Identity of a ring (configuration): its representative and a sequence that
/// grows by 4 for each new ring, as in totemsrp.c (`token_ring_id_seq + 4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RingId {
    pub rep: NodeId,
    pub seq: u64,
}

impl fmt::Display for RingId {
    /// Corosync prints ring ids as `CS_PRI_RING_ID`: `%x.%llx`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}.{:x}", self.rep, self.seq)
    }
}

pub const MAGIC: u16 = 0x4854;
pub const VERSION: u8 = 1;
/// corosync's `RETRANSMIT_ENTRIES_MAX`.
pub const RETRANSMIT_ENTRIES_MAX: usize = 30;
/// Header node id of a leave message (corosync's `LEAVE_DUMMY_NODEID`).
pub const LEAVE_DUMMY_NODEID: NodeId = 0;
/// Upper bound on list lengths accepted from the wire (corosync's PROCESSOR_COUNT_MAX).
pub const PROCESSOR_COUNT_MAX: usize = 384;
/// Largest application payload accepted from the wire (1 MiB, MESSAGE_SIZE_MAX).
pub const PAYLOAD_MAX: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtrItem {
    pub ring_id: RingId,
    pub seq: u32,
}

/// The ordering, reliability and flow-control token (`struct orf_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrfToken {
    pub ring_id: RingId,
    pub token_seq: u32,
    pub seq: u32,
    pub aru: u32,
    pub aru_addr: NodeId,
    pub retrans_flg: bool,
    pub fcc: u32,
    pub backlog: u32,
    pub rtr: Vec<RtrItem>,
}

/// Delivery guarantee asked for by the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Guarantee {
    Agreed,
    Safe,
}

/// A regular message multicast on the ring (`struct mcast`). In recovery an
/// old-ring message travels encapsulated inside a new-ring mcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mcast {
    pub ring_id: RingId,
    pub seq: u32,
    pub system_from: NodeId,
    pub guarantee: Guarantee,
    pub body: McastBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McastBody {
    Payload(Vec<u8>),
    Encapsulated(Box<Mcast>),
}

/// Join message of the gather phase (`struct memb_join`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub system_from: NodeId,
    pub ring_seq: u64,
    pub proc_list: Vec<NodeId>,
    pub failed_list: Vec<NodeId>,
}

/// Per-member old-ring state carried by the commit token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MembEntry {
    pub ring_id: RingId,
    pub aru: u32,
    pub high_delivered: u32,
    pub received_flg: bool,
}

/// The commit token that assigns a new ring (`struct memb_commit_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitToken {
    pub ring_id: RingId,
    pub token_seq: u32,
    pub memb_index: u32,
    pub addrs: Vec<NodeId>,
    pub entries: Vec<MembEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeDetect {
    pub system_from: NodeId,
    pub ring_id: RingId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    OrfToken(OrfToken),
    Mcast(Mcast),
    Join(Join),
    CommitToken(CommitToken),
    MergeDetect(MergeDetect),
    TokenHoldCancel { ring_id: RingId },
}

/// A decoded packet: who sent it (header node id) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub sender: NodeId,
    pub msg: Message,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("packet truncated: needed {needed} more bytes at offset {at}")]
    Truncated { at: usize, needed: usize },
    #[error("bad magic {0:#06x}, expected {MAGIC:#06x}")]
    BadMagic(u16),
    #[error("unsupported wire version {0}, expected {VERSION}")]
    BadVersion(u8),
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("invalid value {value} for {field}")]
    InvalidField { field: &'static str, value: u64 },
    #[error("{0} trailing bytes after message")]
    Trailing(usize),
}

mod kind {
    pub const ORF_TOKEN: u8 = 0;
    pub const MCAST: u8 = 1;
    pub const MERGE_DETECT: u8 = 2;
    pub const JOIN: u8 = 3;
    pub const COMMIT_TOKEN: u8 = 4;
    pub const TOKEN_HOLD_CANCEL: u8 = 5;
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn ring(&mut self, r: RingId) {
        self.u32(r.rep);
        self.u64(r.seq);
    }
    fn len(&mut self, n: usize) {
        self.u32(n as u32);
    }
    fn nodes(&mut self, list: &[NodeId]) {
        self.len(list.len());
        for n in list {
            self.u32(*n);
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = self.buf.len() - self.pos;
        if rest < n {
            return Err(DecodeError::Truncated {
                at: self.pos,
                needed: n - rest,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::InvalidField {
                field,
                value: u64::from(v),
            }),
        }
    }
    fn ring(&mut self) -> Result<RingId, DecodeError> {
        Ok(RingId {
            rep: self.u32()?,
            seq: self.u64()?,
        })
    }
    fn len(&mut self, field: &'static str, max: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(DecodeError::InvalidField {
                field,
                value: n as u64,
            });
        }
        Ok(n)
    }
    fn nodes(&mut self, field: &'static str) -> Result<Vec<NodeId>, DecodeError> {
        let n = self.len(field, PROCESSOR_COUNT_MAX)?;
        (0..n).map(|_| self.u32()).collect()
    }
}

impl Packet {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(64));
        w.u16(MAGIC);
        w.u8(VERSION);
        let k = match &self.msg {
            Message::OrfToken(_) => kind::ORF_TOKEN,
            Message::Mcast(_) => kind::MCAST,
            Message::MergeDetect(_) => kind::MERGE_DETECT,
            Message::Join(_) => kind::JOIN,
            Message::CommitToken(_) => kind::COMMIT_TOKEN,
            Message::TokenHoldCancel { .. } => kind::TOKEN_HOLD_CANCEL,
        };
        w.u8(k);
        w.u32(self.sender);
        match &self.msg {
            Message::OrfToken(t) => {
                w.ring(t.ring_id);
                w.u32(t.token_seq);
                w.u32(t.seq);
                w.u32(t.aru);
                w.u32(t.aru_addr);
                w.u8(u8::from(t.retrans_flg));
                w.u32(t.fcc);
                w.u32(t.backlog);
                w.len(t.rtr.len());
                for r in &t.rtr {
                    w.ring(r.ring_id);
                    w.u32(r.seq);
                }
            }
            Message::Mcast(m) => encode_mcast(&mut w, m),
            Message::MergeDetect(m) => {
                w.u32(m.system_from);
                w.ring(m.ring_id);
            }
            Message::Join(j) => {
                w.u32(j.system_from);
                w.u64(j.ring_seq);
                w.nodes(&j.proc_list);
                w.nodes(&j.failed_list);
            }
            Message::CommitToken(c) => {
                w.ring(c.ring_id);
                w.u32(c.token_seq);
                w.u32(c.memb_index);
                w.nodes(&c.addrs);
                w.len(c.entries.len());
                for e in &c.entries {
                    w.ring(e.ring_id);
                    w.u32(e.aru);
                    w.u32(e.high_delivered);
                    w.u8(u8::from(e.received_flg));
                }
            }
            Message::TokenHoldCancel { ring_id } => w.ring(*ring_id),
        }
        w.0
    }

    pub fn decode(buf: &[u8]) -> Result<Packet, DecodeError> {
        let mut r = Reader { buf, pos: 0 };
        let magic = r.u16()?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        let k = r.u8()?;
        let sender = r.u32()?;
        // Node id 0 is corosync's LEAVE_DUMMY_NODEID: only a join (the leave
        // message) may carry it.
        if sender == 0 && k != kind::JOIN {
            return Err(DecodeError::InvalidField {
                field: "sender",
                value: 0,
            });
        }
        let msg = match k {
            kind::ORF_TOKEN => {
                let ring_id = r.ring()?;
                let token_seq = r.u32()?;
                let seq = r.u32()?;
                let aru = r.u32()?;
                let aru_addr = r.u32()?;
                let retrans_flg = r.bool("retrans_flg")?;
                let fcc = r.u32()?;
                let backlog = r.u32()?;
                let n = r.len("rtr_list_entries", RETRANSMIT_ENTRIES_MAX)?;
                let mut rtr = Vec::with_capacity(n);
                for _ in 0..n {
                    rtr.push(RtrItem {
                        ring_id: r.ring()?,
                        seq: r.u32()?,
                    });
                }
                Message::OrfToken(OrfToken {
                    ring_id,
                    token_seq,
                    seq,
                    aru,
                    aru_addr,
                    retrans_flg,
                    fcc,
                    backlog,
                    rtr,
                })
            }
            kind::MCAST => Message::Mcast(decode_mcast(&mut r, true)?),
            kind::MERGE_DETECT => Message::MergeDetect(MergeDetect {
                system_from: r.u32()?,
                ring_id: r.ring()?,
            }),
            kind::JOIN => Message::Join(Join {
                system_from: r.u32()?,
                ring_seq: r.u64()?,
                proc_list: r.nodes("proc_list_entries")?,
                failed_list: r.nodes("failed_list_entries")?,
            }),
            kind::COMMIT_TOKEN => {
                let ring_id = r.ring()?;
                let token_seq = r.u32()?;
                let memb_index = r.u32()?;
                let addrs = r.nodes("addr_entries")?;
                let n = r.len("memb_entries", PROCESSOR_COUNT_MAX)?;
                if n != addrs.len() || memb_index as usize > n {
                    return Err(DecodeError::InvalidField {
                        field: "memb_entries",
                        value: n as u64,
                    });
                }
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    entries.push(MembEntry {
                        ring_id: r.ring()?,
                        aru: r.u32()?,
                        high_delivered: r.u32()?,
                        received_flg: r.bool("received_flg")?,
                    });
                }
                Message::CommitToken(CommitToken {
                    ring_id,
                    token_seq,
                    memb_index,
                    addrs,
                    entries,
                })
            }
            kind::TOKEN_HOLD_CANCEL => Message::TokenHoldCancel { ring_id: r.ring()? },
            other => return Err(DecodeError::UnknownKind(other)),
        };
        let rest = buf.len() - r.pos;
        if rest != 0 {
            return Err(DecodeError::Trailing(rest));
        }
        Ok(Packet { sender, msg })
    }
}

fn encode_mcast(w: &mut Writer, m: &Mcast) {
    w.ring(m.ring_id);
    w.u32(m.seq);
    w.u32(m.system_from);
    w.u8(match m.guarantee {
        Guarantee::Agreed => 0,
        Guarantee::Safe => 1,
    });
    match &m.body {
        McastBody::Payload(p) => {
            w.u8(0);
            w.len(p.len());
            w.0.extend_from_slice(p);
        }
        McastBody::Encapsulated(inner) => {
            w.u8(1);
            encode_mcast(w, inner);
        }
    }
}

fn decode_mcast(r: &mut Reader<'_>, outer: bool) -> Result<Mcast, DecodeError> {
    let ring_id = r.ring()?;
    let seq = r.u32()?;
    let system_from = r.u32()?;
    let guarantee = match r.u8()? {
        0 => Guarantee::Agreed,
        1 => Guarantee::Safe,
        v => {
            return Err(DecodeError::InvalidField {
                field: "guarantee",
                value: u64::from(v),
            })
        }
    };
    let body = match r.u8()? {
        0 => {
            let n = r.len("payload length", PAYLOAD_MAX)?;
            McastBody::Payload(r.take(n)?.to_vec())
        }
        // Only one level of encapsulation exists in Totem.
        1 if outer => McastBody::Encapsulated(Box::new(decode_mcast(r, false)?)),
        v => {
            return Err(DecodeError::InvalidField {
                field: "encapsulated",
                value: u64::from(v),
            })
        }
    };
    Ok(Mcast {
        ring_id,
        seq,
        system_from,
        guarantee,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(rep: u32, seq: u64) -> RingId {
        RingId { rep, seq }
    }

    fn samples() -> Vec<Packet> {
        let inner = Mcast {
            ring_id: ring(1, 4),
            seq: 9,
            system_from: 2,
            guarantee: Guarantee::Safe,
            body: McastBody::Payload(b"old".to_vec()),
        };
        vec![
            Packet {
                sender: 1,
                msg: Message::OrfToken(OrfToken {
                    ring_id: ring(1, 8),
                    token_seq: 7,
                    seq: 100,
                    aru: 98,
                    aru_addr: 3,
                    retrans_flg: true,
                    fcc: 4,
                    backlog: 2,
                    rtr: vec![RtrItem {
                        ring_id: ring(1, 8),
                        seq: 99,
                    }],
                }),
            },
            Packet {
                sender: 2,
                msg: Message::Mcast(Mcast {
                    ring_id: ring(1, 8),
                    seq: 3,
                    system_from: 2,
                    guarantee: Guarantee::Agreed,
                    body: McastBody::Encapsulated(Box::new(inner)),
                }),
            },
            Packet {
                sender: 3,
                msg: Message::Join(Join {
                    system_from: 3,
                    ring_seq: 8,
                    proc_list: vec![1, 2, 3],
                    failed_list: vec![2],
                }),
            },
            Packet {
                sender: 1,
                msg: Message::CommitToken(CommitToken {
                    ring_id: ring(1, 12),
                    token_seq: 1,
                    memb_index: 1,
                    addrs: vec![1, 3],
                    entries: vec![
                        MembEntry {
                            ring_id: ring(1, 8),
                            aru: 5,
                            high_delivered: 5,
                            received_flg: true,
                        },
                        MembEntry::default(),
                    ],
                }),
            },
            Packet {
                sender: 4,
                msg: Message::MergeDetect(MergeDetect {
                    system_from: 4,
                    ring_id: ring(4, 16),
                }),
            },
            Packet {
                sender: 4,
                msg: Message::TokenHoldCancel {
                    ring_id: ring(4, 16),
                },
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for p in samples() {
            let bytes = p.encode();
            assert_eq!(Packet::decode(&bytes).as_ref(), Ok(&p));
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        for p in samples() {
            let bytes = p.encode();
            for cut in 0..bytes.len() {
                assert!(Packet::decode(&bytes[..cut]).is_err(), "cut {cut} of {p:?}");
            }
        }
    }

    #[test]
    fn header_is_checked() {
        let mut bytes = samples()[0].encode();
        bytes[2] = 9;
        assert_eq!(Packet::decode(&bytes), Err(DecodeError::BadVersion(9)));
        bytes[0] = 0;
        assert!(matches!(
            Packet::decode(&bytes),
            Err(DecodeError::BadMagic(_))
        ));
        let mut bytes = samples()[0].encode();
        bytes[3] = 77;
        assert_eq!(Packet::decode(&bytes), Err(DecodeError::UnknownKind(77)));
        let mut bytes = samples()[0].encode();
        bytes.push(0);
        assert_eq!(Packet::decode(&bytes), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn hostile_lengths_are_rejected_without_allocation() {
        let mut bytes = samples()[2].encode();
        // proc_list length field sits after header(8) + system_from(4) + ring_seq(8).
        bytes[20..24].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Packet::decode(&bytes),
            Err(DecodeError::InvalidField { .. })
        ));
    }
}
