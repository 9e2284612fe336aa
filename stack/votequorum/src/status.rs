//! `corosync-quorumtool -s`: the status a node shows, and its text layout.

use crate::engine::{RingId, Votequorum};
use crate::flags::InfoFlags;
use hasim_corosync_conf::CorosyncConf;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One row of the membership table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// Node id.
    pub nodeid: u32,
    /// Its votes as this node knows them.
    pub votes: u32,
}

/// What `corosync-quorumtool -s` shows on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Local node id.
    pub node_id: u32,
    /// Current ring.
    pub ring_id: RingId,
    /// Quorate as the quorum service reports it.
    pub quorate: bool,
    /// This node's expected votes.
    pub expected_votes: u32,
    /// Highest expected votes among members.
    pub highest_expected: u32,
    /// Total votes of the members.
    pub total_votes: u32,
    /// Votes needed.
    pub quorum: u32,
    /// Feature/status flags.
    pub flags: InfoFlags,
    /// Members in Totem order.
    pub members: Vec<MemberStatus>,
}

impl Votequorum {
    /// The status `corosync-quorumtool -s` would show on this node.
    pub fn status(&self) -> Status {
        let votes: BTreeMap<u32, u32> = self.nodes().map(|n| (n.nodeid, n.votes)).collect();
        Status {
            node_id: self.node_id(),
            ring_id: self.ring_id(),
            quorate: self.is_quorate(),
            expected_votes: self.expected_votes(),
            highest_expected: self.highest_expected(),
            total_votes: self.total_votes(),
            quorum: self.quorum(),
            flags: self.info_flags(),
            members: self
                .members()
                .iter()
                .map(|id| MemberStatus {
                    nodeid: *id,
                    votes: votes.get(id).copied().unwrap_or(0),
                })
                .collect(),
        }
    }
}

/// Inputs the tool takes from outside votequorum.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenderOptions {
    /// The `Date:` text, as `ctime` prints it (e.g. `Sun Nov 22 15:57:35 2026`); hasim
    /// has no wall clock inside the core, so the caller supplies it.
    pub date: String,
    /// Node names for the `Name` column (see [`names_from_conf`]).
    pub names: BTreeMap<u32, String>,
}

/// Names as corosync-quorumtool resolves them: the nodelist `name`, else `ring0_addr`.
pub fn names_from_conf(conf: &CorosyncConf) -> BTreeMap<u32, String> {
    conf.nodelist
        .iter()
        .filter_map(|n| {
            let id = n.nodeid?;
            let name = n
                .name
                .clone()
                .or_else(|| n.ring_addr(0).map(str::to_string))?;
            Some((id, name))
        })
        .collect()
}

/// quorumtool right-aligns numbers and headings in 10 columns, then a space.
fn padded(out: &mut String, s: &str) {
    let _ = write!(out, "{s:>10} ");
}

/// Render `status` in corosync-quorumtool's `-s` layout (Quorum information,
/// Votequorum information, Membership information), byte for byte.
pub fn render_status(status: &Status, opts: &RenderOptions) -> String {
    let mut o = String::new();
    o.push_str("Quorum information\n------------------\n");
    let _ = writeln!(o, "Date:             {}", opts.date);
    o.push_str("Quorum provider:  corosync_votequorum\n");
    let _ = writeln!(o, "Nodes:            {}", status.members.len());
    let _ = writeln!(o, "Node ID:          {}", status.node_id);
    let _ = writeln!(
        o,
        "Ring ID:          {:x}.{:x}",
        status.ring_id.rep, status.ring_id.seq
    );
    let _ = writeln!(
        o,
        "Quorate:          {}",
        if status.quorate { "Yes" } else { "No" }
    );
    o.push_str("\nVotequorum information\n----------------------\n");
    let _ = writeln!(o, "Expected votes:   {}", status.expected_votes);
    let _ = writeln!(o, "Highest expected: {}", status.highest_expected);
    let _ = writeln!(o, "Total votes:      {}", status.total_votes);
    let _ = writeln!(
        o,
        "Quorum:           {} {}",
        status.quorum,
        if status.flags.has(InfoFlags::QUORATE) {
            " "
        } else {
            "Activity blocked"
        }
    );
    o.push_str("Flags:            ");
    for name in status.flags.names() {
        o.push_str(name);
        o.push(' ');
    }
    o.push('\n');
    o.push_str("\nMembership information\n----------------------\n");
    padded(&mut o, "Nodeid");
    padded(&mut o, "Votes");
    o.push_str("Name\n");
    for m in &status.members {
        padded(&mut o, &m.nodeid.to_string());
        padded(&mut o, &m.votes.to_string());
        o.push_str(opts.names.get(&m.nodeid).map_or("", String::as_str));
        if m.nodeid == status.node_id {
            o.push_str(" (local)");
        }
        o.push('\n');
    }
    o
}
