//! corosync's cpg service: the sans-IO `hasim-cpg` core, with the local
//! processes that use it reached over the in-node channel.

use super::services::{Effect, TotemService, SERVICE_CPG};
use crate::local::{Envelope, LocalMessage};
use hasim_cpg::{Cpg, CpgInput, CpgOutput, Member};
use hasim_totem::{ConfChg, Delivery};
use std::collections::BTreeMap;
use std::time::Duration;

/// The cpg service of one node.
pub struct CpgService {
    me: u32,
    core: Cpg,
    /// Which local endpoint has which process id.
    clients: BTreeMap<u32, String>,
}

impl CpgService {
    pub fn new(me: u32) -> Self {
        CpgService {
            me,
            core: Cpg::new(me),
            clients: BTreeMap::new(),
        }
    }

    /// Local members of `group` and local processes that just left it.
    fn local_recipients(&self, members: &[Member], left: &[Member]) -> Vec<String> {
        let mut names: Vec<String> = members
            .iter()
            .chain(left)
            .filter(|m| m.node == self.me)
            .filter_map(|m| self.clients.get(&m.pid).cloned())
            .collect();
        names.dedup();
        names
    }

    fn effects(&self, outputs: Vec<CpgOutput>) -> Vec<Effect> {
        let mut out = Vec::new();
        for output in outputs {
            match output {
                CpgOutput::TotemMcast(bytes) if is_empty_joinlist(&bytes) => {}
                CpgOutput::TotemMcast(bytes) => out.push(Effect::Mcast(bytes)),
                CpgOutput::ConfChg {
                    group,
                    members,
                    left,
                    joined,
                } => {
                    let gone: Vec<Member> = left.iter().map(|(m, _)| *m).collect();
                    for to in self.local_recipients(&members, &gone) {
                        let message = LocalMessage::CpgConfChg {
                            group: group.clone(),
                            members: members.clone(),
                            left: left.clone(),
                            joined: joined.clone(),
                        };
                        out.push(Effect::ToClient(to, message));
                    }
                }
                CpgOutput::Deliver {
                    group,
                    from,
                    payload,
                } => {
                    let members = self.core.group_members(&group);
                    for to in self.local_recipients(&members, &[]) {
                        let message = LocalMessage::CpgDeliver {
                            group: group.clone(),
                            from,
                            payload: payload.clone(),
                        };
                        out.push(Effect::ToClient(to, message));
                    }
                }
                // The ring as cpg reports it; no local daemon asks for it yet.
                CpgOutput::TotemConfChg { .. } => {}
            }
        }
        out
    }
}

/// cpg multicasts its node's members (a joinlist) after every ring change,
/// even when the node has none. An empty joinlist adds nobody anywhere, so
/// hasim leaves it out: a node without CPG clients puts exactly the traffic
/// on the ring it did before cpg was wired in. Layout (hasim-cpg's wire
/// format): kind 3, ring seq (8 bytes), entry count (4 bytes), entries.
fn is_empty_joinlist(bytes: &[u8]) -> bool {
    bytes.len() == 13 && bytes[0] == 3 && bytes[9..13] == [0, 0, 0, 0]
}

impl TotemService for CpgService {
    fn tag(&self) -> u8 {
        SERVICE_CPG
    }

    fn confchg(&mut self, _now: Duration, change: &ConfChg) -> Vec<Effect> {
        let outputs = self.core.handle(CpgInput::TotemConfChg(change.clone()));
        self.effects(outputs)
    }

    fn deliver(&mut self, _now: Duration, delivery: &Delivery, body: &[u8]) -> Vec<Effect> {
        let mut inner = delivery.clone();
        inner.payload = body.to_vec();
        let outputs = self.core.handle(CpgInput::TotemDeliver(inner));
        self.effects(outputs)
    }

    fn request(&mut self, _now: Duration, envelope: &Envelope) -> Option<Vec<Effect>> {
        let pid = envelope.pid;
        let input = match &envelope.message {
            LocalMessage::CpgJoin { group } => CpgInput::Join {
                group: group.clone(),
                pid,
            },
            LocalMessage::CpgLeave { group } => CpgInput::Leave {
                group: group.clone(),
                pid,
            },
            LocalMessage::CpgMcast { group, payload } => CpgInput::Mcast {
                group: group.clone(),
                pid,
                payload: payload.clone(),
            },
            _ => return None,
        };
        self.clients.insert(pid, envelope.from.clone());
        let outputs = self.core.handle(input);
        Some(self.effects(outputs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_empty_joinlist_is_left_out() {
        let mut empty = vec![3];
        empty.extend_from_slice(&7u64.to_be_bytes());
        empty.extend_from_slice(&0u32.to_be_bytes());
        assert!(is_empty_joinlist(&empty));
        let mut one = empty.clone();
        one[12] = 1;
        assert!(!is_empty_joinlist(&one));
        let mut join = empty.clone();
        join[0] = 0;
        assert!(!is_empty_joinlist(&join));
    }
}
