//! Closed process groups (corosync `exec/cpg.c`) on top of Totem, sans-IO.
//!
//! Why it is consistent: every join, leave and group message travels as a
//! Totem message and is applied when Totem delivers it, in agreed order, so
//! all nodes of a configuration apply the same changes in the same order and
//! see the same group memberships (virtual synchrony). Configuration changes
//! from Totem remove the processes of nodes that left (reason NODEDOWN).
//! When nodes join a ring, every node multicasts the list of its local
//! members (cpg's joinlist during sync) so newcomers learn existing members
//! and existing members learn the newcomers' (reason NODEUP).
//!
//! Input: [`CpgInput`] (API calls from local daemons, Totem events). Output:
//! [`CpgOutput`] (payloads to hand to Totem's multicast, callbacks for local
//! daemons).

use std::collections::{BTreeMap, BTreeSet};

use hasim_totem::srp::{ConfChg, ConfKind, Delivery};
use hasim_totem::{NodeId, RingId};

/// Process id of a local daemon.
pub type Pid = u32;

/// A group member: a process on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    pub node: NodeId,
    pub pid: Pid,
}

/// Why a member appears in a joined/left list (`cpg_reason_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Join = 1,
    Leave = 2,
    NodeDown = 3,
    NodeUp = 4,
    ProcDown = 5,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpgInput {
    Join {
        group: String,
        pid: Pid,
    },
    Leave {
        group: String,
        pid: Pid,
    },
    /// A local process died without leaving (reason PROCDOWN for others).
    ProcDown {
        pid: Pid,
    },
    Mcast {
        group: String,
        pid: Pid,
        payload: Vec<u8>,
    },
    TotemConfChg(ConfChg),
    TotemDeliver(Delivery),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpgOutput {
    /// Multicast these bytes through Totem (agreed order).
    TotemMcast(Vec<u8>),
    /// Group membership change, for the local members of `group`.
    ConfChg {
        group: String,
        members: Vec<Member>,
        left: Vec<(Member, Reason)>,
        joined: Vec<(Member, Reason)>,
    },
    /// A group message, for the local members of `group`.
    Deliver {
        group: String,
        from: Member,
        payload: Vec<u8>,
    },
    /// Totem ring change as cpg reports it (`cpg_totem_confchg_fn`).
    TotemConfChg {
        ring_id: RingId,
        members: Vec<NodeId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("cpg message truncated")]
    Truncated,
    #[error("unknown cpg message kind {0}")]
    UnknownKind(u8),
    #[error("group name is not UTF-8")]
    BadName,
    #[error("trailing bytes in cpg message")]
    Trailing,
}

/// Messages cpg exchanges over Totem.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wire {
    ProcJoin {
        group: String,
        pid: Pid,
    },
    ProcLeave {
        group: String,
        pid: Pid,
        reason: Reason,
    },
    Mcast {
        group: String,
        pid: Pid,
        payload: Vec<u8>,
    },
    JoinList {
        ring_seq: u64,
        entries: Vec<(String, Pid)>,
    },
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Wire {
    fn encode(&self) -> Vec<u8> {
        let mut o = Vec::new();
        match self {
            Wire::ProcJoin { group, pid } => {
                o.push(0);
                put_str(&mut o, group);
                o.extend_from_slice(&pid.to_be_bytes());
            }
            Wire::ProcLeave { group, pid, reason } => {
                o.push(1);
                put_str(&mut o, group);
                o.extend_from_slice(&pid.to_be_bytes());
                o.push(*reason as u8);
            }
            Wire::Mcast {
                group,
                pid,
                payload,
            } => {
                o.push(2);
                put_str(&mut o, group);
                o.extend_from_slice(&pid.to_be_bytes());
                o.extend_from_slice(&(payload.len() as u32).to_be_bytes());
                o.extend_from_slice(payload);
            }
            Wire::JoinList { ring_seq, entries } => {
                o.push(3);
                o.extend_from_slice(&ring_seq.to_be_bytes());
                o.extend_from_slice(&(entries.len() as u32).to_be_bytes());
                for (g, p) in entries {
                    put_str(&mut o, g);
                    o.extend_from_slice(&p.to_be_bytes());
                }
            }
        }
        o
    }

    fn decode(b: &[u8]) -> Result<Wire, WireError> {
        let mut r = Rd { b, pos: 0 };
        let w = match r.u8()? {
            0 => Wire::ProcJoin {
                group: r.string()?,
                pid: r.u32()?,
            },
            1 => Wire::ProcLeave {
                group: r.string()?,
                pid: r.u32()?,
                reason: match r.u8()? {
                    2 => Reason::Leave,
                    5 => Reason::ProcDown,
                    k => return Err(WireError::UnknownKind(k)),
                },
            },
            2 => {
                let group = r.string()?;
                let pid = r.u32()?;
                let n = r.u32()? as usize;
                Wire::Mcast {
                    group,
                    pid,
                    payload: r.take(n)?.to_vec(),
                }
            }
            3 => {
                let ring_seq = r.u64()?;
                let n = r.u32()? as usize;
                let mut entries = Vec::new();
                for _ in 0..n {
                    entries.push((r.string()?, r.u32()?));
                }
                Wire::JoinList { ring_seq, entries }
            }
            k => return Err(WireError::UnknownKind(k)),
        };
        if r.pos != b.len() {
            return Err(WireError::Trailing);
        }
        Ok(w)
    }
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.b.len() - self.pos < n {
            return Err(WireError::Truncated);
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_be_bytes(a))
    }
    fn string(&mut self) -> Result<String, WireError> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| WireError::BadName)
    }
}

/// The cpg service of one node.
#[derive(Debug, Clone)]
pub struct Cpg {
    me: NodeId,
    /// Local processes per group (what this node contributes).
    local: BTreeMap<String, BTreeSet<Pid>>,
    /// Cluster-wide view per group.
    groups: BTreeMap<String, BTreeSet<Member>>,
    ring_id: Option<RingId>,
    members: Vec<NodeId>,
    /// Messages that failed to decode (counted, dropped).
    pub decode_errors: u64,
}

impl Cpg {
    pub fn new(me: NodeId) -> Cpg {
        Cpg {
            me,
            local: BTreeMap::new(),
            groups: BTreeMap::new(),
            ring_id: None,
            members: Vec::new(),
            decode_errors: 0,
        }
    }

    /// Current cluster-wide members of `group` as this node sees them.
    pub fn group_members(&self, group: &str) -> Vec<Member> {
        self.groups
            .get(group)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn handle(&mut self, input: CpgInput) -> Vec<CpgOutput> {
        let mut out = Vec::new();
        match input {
            CpgInput::Join { group, pid } => {
                let w = Wire::ProcJoin { group, pid };
                out.push(CpgOutput::TotemMcast(w.encode()));
            }
            CpgInput::Leave { group, pid } => {
                let w = Wire::ProcLeave {
                    group,
                    pid,
                    reason: Reason::Leave,
                };
                out.push(CpgOutput::TotemMcast(w.encode()));
            }
            CpgInput::ProcDown { pid } => {
                let groups: Vec<String> = self
                    .local
                    .iter()
                    .filter(|(_, p)| p.contains(&pid))
                    .map(|(g, _)| g.clone())
                    .collect();
                for group in groups {
                    let w = Wire::ProcLeave {
                        group,
                        pid,
                        reason: Reason::ProcDown,
                    };
                    out.push(CpgOutput::TotemMcast(w.encode()));
                }
            }
            CpgInput::Mcast {
                group,
                pid,
                payload,
            } => {
                let w = Wire::Mcast {
                    group,
                    pid,
                    payload,
                };
                out.push(CpgOutput::TotemMcast(w.encode()));
            }
            CpgInput::TotemConfChg(c) => self.confchg(c, &mut out),
            CpgInput::TotemDeliver(d) => self.deliver(d, &mut out),
        }
        out
    }

    fn has_local(&self, group: &str) -> bool {
        self.local.get(group).is_some_and(|s| !s.is_empty())
    }

    fn emit_confchg(
        &self,
        group: &str,
        left: Vec<(Member, Reason)>,
        joined: Vec<(Member, Reason)>,
        out: &mut Vec<CpgOutput>,
    ) {
        // Only local members get callbacks; a process that just left still
        // gets the change that reports its own departure.
        let local_left = left.iter().any(|(m, _)| m.node == self.me);
        if self.has_local(group) || local_left {
            out.push(CpgOutput::ConfChg {
                group: group.to_string(),
                members: self.group_members(group),
                left,
                joined,
            });
        }
    }

    fn confchg(&mut self, c: ConfChg, out: &mut Vec<CpgOutput>) {
        match c.kind {
            ConfKind::Transitional => {
                // Processes on nodes outside the transitional configuration
                // are gone: NODEDOWN, applied by everyone at the same point.
                let keep: BTreeSet<NodeId> = c.members.iter().copied().collect();
                let names: Vec<String> = self.groups.keys().cloned().collect();
                for g in names {
                    let gone: Vec<Member> = self.groups[&g]
                        .iter()
                        .filter(|m| !keep.contains(&m.node))
                        .copied()
                        .collect();
                    if gone.is_empty() {
                        continue;
                    }
                    if let Some(set) = self.groups.get_mut(&g) {
                        for m in &gone {
                            set.remove(m);
                        }
                    }
                    let left = gone.into_iter().map(|m| (m, Reason::NodeDown)).collect();
                    self.emit_confchg(&g, left, Vec::new(), out);
                }
            }
            ConfKind::Regular => {
                self.ring_id = Some(c.ring_id);
                self.members = c.members.clone();
                out.push(CpgOutput::TotemConfChg {
                    ring_id: c.ring_id,
                    members: c.members.clone(),
                });
                if !c.joined.is_empty() {
                    let entries = self
                        .local
                        .iter()
                        .flat_map(|(g, pids)| pids.iter().map(move |p| (g.clone(), *p)))
                        .collect();
                    let w = Wire::JoinList {
                        ring_seq: c.ring_id.seq,
                        entries,
                    };
                    out.push(CpgOutput::TotemMcast(w.encode()));
                }
            }
        }
    }

    fn deliver(&mut self, d: Delivery, out: &mut Vec<CpgOutput>) {
        let w = match Wire::decode(&d.payload) {
            Ok(w) => w,
            Err(_) => {
                self.decode_errors += 1;
                return;
            }
        };
        match w {
            Wire::ProcJoin { group, pid } => {
                let m = Member {
                    node: d.sender,
                    pid,
                };
                if d.sender == self.me {
                    self.local.entry(group.clone()).or_default().insert(pid);
                }
                if self.groups.entry(group.clone()).or_default().insert(m) {
                    self.emit_confchg(&group, Vec::new(), vec![(m, Reason::Join)], out);
                }
            }
            Wire::ProcLeave { group, pid, reason } => {
                let m = Member {
                    node: d.sender,
                    pid,
                };
                let removed = self.groups.get_mut(&group).is_some_and(|s| s.remove(&m));
                if removed {
                    self.emit_confchg(&group, vec![(m, reason)], Vec::new(), out);
                }
                if d.sender == self.me {
                    if let Some(s) = self.local.get_mut(&group) {
                        s.remove(&pid);
                    }
                }
            }
            Wire::Mcast {
                group,
                pid,
                payload,
            } => {
                if self.has_local(&group) {
                    out.push(CpgOutput::Deliver {
                        group,
                        from: Member {
                            node: d.sender,
                            pid,
                        },
                        payload,
                    });
                }
            }
            Wire::JoinList { ring_seq, entries } => {
                // Only the joinlists of the current ring count.
                if self.ring_id.map(|r| r.seq) != Some(ring_seq) {
                    return;
                }
                let mut added: BTreeMap<String, Vec<(Member, Reason)>> = BTreeMap::new();
                for (g, pid) in entries {
                    let m = Member {
                        node: d.sender,
                        pid,
                    };
                    if self.groups.entry(g.clone()).or_default().insert(m) {
                        added.entry(g).or_default().push((m, Reason::NodeUp));
                    }
                }
                for (g, joined) in added {
                    self.emit_confchg(&g, Vec::new(), joined, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasim_totem::Guarantee;

    fn ring(seq: u64) -> RingId {
        RingId { rep: 1, seq }
    }

    /// Minimal ordered bus: every Totem mcast is delivered to every node in
    /// one global order, as Totem guarantees within a configuration.
    struct Bus {
        nodes: BTreeMap<NodeId, Cpg>,
        outs: BTreeMap<NodeId, Vec<CpgOutput>>,
        seq: u32,
        ring: RingId,
    }

    impl Bus {
        fn new(ids: &[NodeId]) -> Bus {
            let mut b = Bus {
                nodes: ids.iter().map(|i| (*i, Cpg::new(*i))).collect(),
                outs: BTreeMap::new(),
                seq: 0,
                ring: ring(4),
            };
            b.confchg(ids, &[], ids);
            b
        }
        fn confchg(&mut self, members: &[NodeId], left: &[NodeId], joined: &[NodeId]) {
            self.ring.seq += 4;
            let trans: Vec<NodeId> = members
                .iter()
                .filter(|m| !joined.contains(m))
                .copied()
                .collect();
            let ids: Vec<NodeId> = members.to_vec();
            for id in &ids {
                for c in [
                    ConfChg {
                        kind: ConfKind::Transitional,
                        ring_id: self.ring,
                        members: trans.clone(),
                        left: left.to_vec(),
                        joined: vec![],
                    },
                    ConfChg {
                        kind: ConfKind::Regular,
                        ring_id: self.ring,
                        members: ids.clone(),
                        left: vec![],
                        joined: joined.to_vec(),
                    },
                ] {
                    self.call(*id, CpgInput::TotemConfChg(c));
                }
            }
            self.flush();
        }
        fn call(&mut self, id: NodeId, input: CpgInput) {
            let o = self.nodes.get_mut(&id).unwrap().handle(input);
            self.outs.entry(id).or_default().extend(o);
        }
        /// Deliver pending mcasts in node-id order (a valid total order).
        fn flush(&mut self) {
            loop {
                let mut pending = Vec::new();
                for (id, outs) in self.outs.iter_mut() {
                    let mut keep = Vec::new();
                    for o in outs.drain(..) {
                        match o {
                            CpgOutput::TotemMcast(b) => pending.push((*id, b)),
                            other => keep.push(other),
                        }
                    }
                    *outs = keep;
                }
                if pending.is_empty() {
                    break;
                }
                let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
                for (from, bytes) in pending {
                    self.seq += 1;
                    for id in &ids {
                        let d = Delivery {
                            sender: from,
                            ring_id: self.ring,
                            seq: self.seq,
                            guarantee: Guarantee::Agreed,
                            payload: bytes.clone(),
                        };
                        self.call(*id, CpgInput::TotemDeliver(d));
                    }
                }
            }
        }
    }

    #[test]
    fn join_is_seen_by_all_in_same_order() {
        let mut b = Bus::new(&[1, 2, 3]);
        b.call(
            1,
            CpgInput::Join {
                group: "crmd".into(),
                pid: 100,
            },
        );
        b.call(
            2,
            CpgInput::Join {
                group: "crmd".into(),
                pid: 200,
            },
        );
        b.flush();
        let expect = vec![Member { node: 1, pid: 100 }, Member { node: 2, pid: 200 }];
        for n in b.nodes.values() {
            assert_eq!(n.group_members("crmd"), expect);
        }
        // node 1 saw its own join and node 2's, with reason JOIN
        let joins: Vec<_> = b.outs[&1]
            .iter()
            .filter_map(|o| match o {
                CpgOutput::ConfChg { joined, .. } => joined.first().copied(),
                _ => None,
            })
            .collect();
        assert_eq!(
            joins,
            vec![
                (Member { node: 1, pid: 100 }, Reason::Join),
                (Member { node: 2, pid: 200 }, Reason::Join)
            ]
        );
        // node 3 has no local member: no callbacks
        assert!(!b.outs[&3]
            .iter()
            .any(|o| matches!(o, CpgOutput::ConfChg { .. })));
    }

    #[test]
    fn messages_reach_local_members_only() {
        let mut b = Bus::new(&[1, 2]);
        b.call(
            1,
            CpgInput::Join {
                group: "g".into(),
                pid: 1,
            },
        );
        b.flush();
        b.call(
            2,
            CpgInput::Mcast {
                group: "g".into(),
                pid: 9,
                payload: b"hi".to_vec(),
            },
        );
        b.flush();
        let got = |id| {
            b.outs[&id]
                .iter()
                .filter(|o| matches!(o, CpgOutput::Deliver { .. }))
                .count()
        };
        assert_eq!(got(1), 1);
        assert_eq!(got(2), 0);
    }

    #[test]
    fn node_down_and_node_up_reasons() {
        let mut b = Bus::new(&[1, 2, 3]);
        for id in [1, 2, 3] {
            b.call(
                id,
                CpgInput::Join {
                    group: "attrd".into(),
                    pid: id * 10,
                },
            );
        }
        b.flush();
        // node 3 drops out
        b.nodes.remove(&3);
        b.outs.clear();
        b.confchg(&[1, 2], &[3], &[]);
        let left: Vec<_> = b.outs[&1]
            .iter()
            .filter_map(|o| match o {
                CpgOutput::ConfChg { left, .. } if !left.is_empty() => Some(left.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            left,
            vec![vec![(Member { node: 3, pid: 30 }, Reason::NodeDown)]]
        );
        // node 3 comes back with its process: NODEUP both ways
        let mut n3 = Cpg::new(3);
        n3.local.insert("attrd".into(), [30].into_iter().collect());
        n3.groups.insert(
            "attrd".into(),
            [Member { node: 3, pid: 30 }].into_iter().collect(),
        );
        b.nodes.insert(3, n3);
        b.outs.clear();
        b.confchg(&[1, 2, 3], &[], &[3]);
        for n in b.nodes.values() {
            assert_eq!(n.group_members("attrd").len(), 3, "node {}", n.me);
        }
        assert!(b.outs[&1].iter().any(|o| matches!(o,
            CpgOutput::ConfChg { joined, .. } if joined == &vec![(Member { node: 3, pid: 30 }, Reason::NodeUp)])));
    }

    #[test]
    fn leave_and_procdown() {
        let mut b = Bus::new(&[1, 2]);
        b.call(
            1,
            CpgInput::Join {
                group: "g".into(),
                pid: 5,
            },
        );
        b.call(
            2,
            CpgInput::Join {
                group: "g".into(),
                pid: 6,
            },
        );
        b.flush();
        b.call(1, CpgInput::ProcDown { pid: 5 });
        b.flush();
        assert!(b.outs[&2].iter().any(|o| matches!(o,
            CpgOutput::ConfChg { left, .. } if left == &vec![(Member { node: 1, pid: 5 }, Reason::ProcDown)])));
        b.call(
            2,
            CpgInput::Leave {
                group: "g".into(),
                pid: 6,
            },
        );
        b.flush();
        for n in b.nodes.values() {
            assert!(n.group_members("g").is_empty());
        }
    }

    #[test]
    fn garbage_payload_is_counted() {
        let mut c = Cpg::new(1);
        for junk in [vec![], vec![0], vec![2, 0, 0, 0, 9], vec![77]] {
            let out = c.handle(CpgInput::TotemDeliver(Delivery {
                sender: 2,
                ring_id: ring(4),
                seq: 1,
                guarantee: Guarantee::Agreed,
                payload: junk,
            }));
            assert!(out.is_empty());
        }
        assert_eq!(c.decode_errors, 4);
    }

    #[test]
    fn wire_round_trips() {
        for w in [
            Wire::ProcJoin {
                group: "a".into(),
                pid: 1,
            },
            Wire::ProcLeave {
                group: "b".into(),
                pid: 2,
                reason: Reason::Leave,
            },
            Wire::Mcast {
                group: "c".into(),
                pid: 3,
                payload: vec![1, 2],
            },
            Wire::JoinList {
                ring_seq: 8,
                entries: vec![("x".into(), 4)],
            },
        ] {
            let b = w.encode();
            assert_eq!(Wire::decode(&b), Ok(w));
            for cut in 0..b.len() {
                assert!(Wire::decode(&b[..cut]).is_err());
            }
        }
    }
}
