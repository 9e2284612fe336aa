//! The votequorum state machine (sans-IO).
//!
//! Mirrors corosync 3.1.7's exec/votequorum.c: every node keeps a table of the nodes it
//! has heard of (votes, expected votes, flags, member/dead/leaving). At each Totem
//! membership change every node multicasts its own node-info; once the node-info of every
//! member has been delivered (corosync's sync barrier) the quorum is recalculated and
//! reported. Quorum = max(⌊(highest_expected+2)/2⌋, ⌊(total_votes+2)/2⌋) and never
//! decreases except on the paths votequorum allows (a quorate node's info when we are not
//! quorate, a leaving node, last_man_standing, administrative changes).

use crate::config::Config;
use crate::flags::{InfoFlags, NodeFlags};
use crate::wire::{Message, ReconfigParam};
use hasim_corosync_conf::TieBreaker;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Totem ring identifier: representative node and ring sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RingId {
    /// Node id of the ring's representative.
    pub rep: u32,
    /// Ring sequence number.
    pub seq: u64,
}

/// Timers votequorum asks its host to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// last_man_standing_window: recalculate expected votes once membership was stable.
    LastManStanding,
}

/// Inputs to [`Votequorum::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start with this configuration (votequorum's init). Later ones are ignored.
    Configure(Config),
    /// Totem delivered a new membership (member node ids in Totem's order).
    Membership {
        /// Members of the new ring, including this node.
        members: Vec<u32>,
        /// The new ring's id.
        ring_id: RingId,
    },
    /// A votequorum message delivered by Totem in agreed order (own ones included).
    Message {
        /// Sending node.
        from: u32,
        /// The message.
        msg: Message,
    },
    /// A timer set earlier with [`Action::SetTimer`] expired.
    TimerExpired(Timer),
    /// Administrator: set expected votes cluster-wide (corosync-quorumtool -e).
    SetExpectedVotes(u32),
    /// Administrator: set a node's votes (corosync-quorumtool -v/-n).
    SetVotes {
        /// Target node.
        nodeid: u32,
        /// New votes.
        votes: u32,
    },
    /// Administrator: stop waiting for all nodes.
    CancelWaitForAll,
    /// Clean local shutdown: with allow_downscale, tell the others we are leaving.
    Shutdown,
}

/// What votequorum reports when quorum is (re)computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumReport {
    /// Whether this partition may run services.
    pub quorate: bool,
    /// Votes of the current members.
    pub total_votes: u32,
    /// This node's expected votes.
    pub expected_votes: u32,
    /// Votes needed for quorum.
    pub quorum: u32,
    /// Current members (Totem order).
    pub members: Vec<u32>,
    /// Ring of this view.
    pub ring_id: RingId,
    /// Feature and status flags.
    pub flags: InfoFlags,
}

/// Outputs of [`Votequorum::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Multicast to the current ring in agreed order (deliver to self too).
    Broadcast(Message),
    /// Arm (or re-arm) a timer to fire at `at`.
    SetTimer {
        /// Which timer.
        timer: Timer,
        /// Absolute expiry (same clock as `now`).
        at: Duration,
    },
    /// Disarm a timer.
    CancelTimer(Timer),
    /// The quorum callback: after every membership sync, and when quorum flips.
    QuorumChanged(QuorumReport),
    /// Store the expected-votes tracking barrier on disk (survives restarts).
    PersistEvTrackingBarrier(u32),
    /// An administrative input was refused (corosync returns CS_ERR_INVALID_PARAM).
    Rejected(String),
    /// A notice votequorum would log.
    Log(String),
}

/// A node's state in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeState {
    /// In the current membership (or heard from since).
    Member,
    /// Left the membership.
    Dead,
    /// Announced a clean shutdown.
    Leaving,
}

/// What votequorum knows about one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node id.
    pub nodeid: u32,
    /// State.
    pub state: NodeState,
    /// Votes.
    pub votes: u32,
    /// Expected votes as known for that node.
    pub expected_votes: u32,
    /// Last flags received.
    pub flags: NodeFlags,
}

/// One node's votequorum.
#[derive(Debug, Clone)]
pub struct Votequorum {
    us: u32,
    configured: bool,
    nodes: BTreeMap<u32, NodeInfo>,
    quorum: u32,
    quorate: bool,
    two_node: bool,
    wait_for_all: bool,
    wfa_status: bool,
    last_man_standing: bool,
    lms_window: Duration,
    lms_timer_set: bool,
    atb: Option<TieBreaker>,
    allow_downscale: bool,
    ev_tracking: bool,
    ev_barrier: u32,
    ev_tracking_barrier: u32,
    lowest_node_id: Option<u32>,
    highest_node_id: Option<u32>,
    members: Vec<u32>,
    previous_members: Vec<u32>,
    ring_id: RingId,
    /// Members whose node-info is still awaited in the current sync, if syncing.
    sync_pending: Option<BTreeSet<u32>>,
}

fn sat(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Votequorum {
    /// A votequorum for node `node_id`, idle until [`Input::Configure`].
    pub fn new(node_id: u32) -> Votequorum {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            node_id,
            NodeInfo {
                nodeid: node_id,
                state: NodeState::Member,
                votes: 1,
                expected_votes: 0,
                flags: NodeFlags(NodeFlags::FIRST),
            },
        );
        Votequorum {
            us: node_id,
            configured: false,
            nodes,
            quorum: 0,
            quorate: false,
            two_node: false,
            wait_for_all: false,
            wfa_status: false,
            last_man_standing: false,
            lms_window: crate::config::DEFAULT_LMS_WINDOW,
            lms_timer_set: false,
            atb: None,
            allow_downscale: false,
            ev_tracking: false,
            ev_barrier: 0,
            ev_tracking_barrier: 0,
            lowest_node_id: None,
            highest_node_id: None,
            members: Vec::new(),
            previous_members: Vec::new(),
            ring_id: RingId::default(),
            sync_pending: None,
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> u32 {
        self.us
    }

    /// Whether this node currently considers its partition quorate.
    pub fn is_quorate(&self) -> bool {
        self.quorate
    }

    /// Current quorum (votes needed).
    pub fn quorum(&self) -> u32 {
        self.quorum
    }

    /// The node table, by node id.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values()
    }

    /// Current members, in Totem order.
    pub fn members(&self) -> &[u32] {
        &self.members
    }

    /// Current ring id.
    pub fn ring_id(&self) -> RingId {
        self.ring_id
    }

    /// Whether wait_for_all is still holding quorum back.
    pub fn waiting_for_all(&self) -> bool {
        self.wait_for_all && self.wfa_status
    }

    fn me(&self) -> NodeInfo {
        self.nodes.get(&self.us).copied().unwrap_or(NodeInfo {
            nodeid: self.us,
            state: NodeState::Member,
            votes: 0,
            expected_votes: 0,
            flags: NodeFlags::default(),
        })
    }

    fn me_mut(&mut self) -> &mut NodeInfo {
        let us = self.us;
        self.nodes.entry(us).or_insert(NodeInfo {
            nodeid: us,
            state: NodeState::Member,
            votes: 0,
            expected_votes: 0,
            flags: NodeFlags::default(),
        })
    }

    /// Flags as reported by `votequorum_getinfo` for this node.
    pub fn info_flags(&self) -> InfoFlags {
        let mut f = 0;
        if self.two_node {
            f |= InfoFlags::TWO_NODE;
        }
        if self.quorate {
            f |= InfoFlags::QUORATE;
        }
        if self.wait_for_all {
            f |= InfoFlags::WAIT_FOR_ALL;
        }
        if self.last_man_standing {
            f |= InfoFlags::LAST_MAN_STANDING;
        }
        if self.atb.is_some() {
            f |= InfoFlags::AUTO_TIE_BREAKER;
        }
        if self.allow_downscale {
            f |= InfoFlags::ALLOW_DOWNSCALE;
        }
        InfoFlags(f)
    }

    /// Sum of votes and count of nodes in state Member.
    fn member_totals(&self) -> (u64, u32) {
        self.nodes
            .values()
            .filter(|n| n.state == NodeState::Member)
            .fold((0u64, 0u32), |(v, c), n| {
                (v + u64::from(n.votes), c.saturating_add(1))
            })
    }

    /// Highest expected votes among members.
    pub fn highest_expected(&self) -> u32 {
        self.nodes
            .values()
            .filter(|n| n.state == NodeState::Member)
            .map(|n| n.expected_votes)
            .max()
            .unwrap_or(0)
    }

    /// Total votes of the members.
    pub fn total_votes(&self) -> u32 {
        sat(self.member_totals().0)
    }

    /// This node's expected votes.
    pub fn expected_votes(&self) -> u32 {
        self.me().expected_votes
    }

    fn report(&self) -> QuorumReport {
        QuorumReport {
            quorate: self.quorate,
            total_votes: self.total_votes(),
            expected_votes: self.expected_votes(),
            quorum: self.quorum,
            members: self.members.clone(),
            ring_id: self.ring_id,
            flags: self.info_flags(),
        }
    }

    fn own_nodeinfo(&self) -> Message {
        let me = self.me();
        Message::NodeInfo {
            nodeid: self.us,
            votes: me.votes,
            expected_votes: me.expected_votes,
            flags: me.flags.0,
        }
    }

    /// Feed one input; returns the actions to perform, in order.
    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Configure(cfg) => self.configure(cfg, &mut out),
            _ if !self.configured => {}
            Input::Membership { members, ring_id } => {
                self.sync_init(now, members, ring_id, &mut out);
                // sync_process: announce ourselves to the new ring.
                out.push(Action::Broadcast(self.own_nodeinfo()));
            }
            Input::Message { from, msg } => match msg {
                Message::NodeInfo {
                    nodeid,
                    votes,
                    expected_votes,
                    flags,
                } => {
                    self.on_nodeinfo(nodeid, votes, expected_votes, NodeFlags(flags), &mut out);
                    self.sync_progress(from, nodeid, &mut out);
                }
                Message::Reconfigure {
                    nodeid,
                    value,
                    param,
                } => self.on_reconfigure(nodeid, value, param, &mut out),
            },
            Input::TimerExpired(Timer::LastManStanding) => {
                if self.lms_timer_set {
                    self.lms_timer_set = false;
                    if self.quorate {
                        self.recalculate(true, true, &mut out);
                    }
                }
            }
            Input::SetExpectedVotes(v) => self.set_expected(v, &mut out),
            Input::SetVotes { nodeid, votes } => self.set_votes(nodeid, votes, &mut out),
            Input::CancelWaitForAll => out.push(Action::Broadcast(Message::Reconfigure {
                nodeid: self.us,
                value: 0,
                param: ReconfigParam::CancelWaitForAll,
            })),
            Input::Shutdown => {
                if self.allow_downscale {
                    self.me_mut().flags.set(NodeFlags::LEAVING, true);
                    out.push(Action::Broadcast(self.own_nodeinfo()));
                }
            }
        }
        out
    }

    fn configure(&mut self, cfg: Config, out: &mut Vec<Action>) {
        if self.configured || cfg.node_id != self.us {
            out.push(Action::Log(
                "ignoring configuration: already configured or for another node".into(),
            ));
            return;
        }
        self.configured = true;
        self.two_node = cfg.two_node;
        self.wait_for_all = cfg.wait_for_all;
        self.last_man_standing = cfg.last_man_standing;
        self.lms_window = cfg.last_man_standing_window;
        self.atb = cfg.auto_tie_breaker;
        self.allow_downscale = cfg.allow_downscale;
        self.ev_tracking = cfg.ev_tracking;
        self.ev_tracking_barrier = cfg.ev_tracking_barrier;
        let me = self.me_mut();
        me.votes = cfg.votes;
        me.expected_votes = cfg.expected_votes;
        self.ev_barrier = cfg.expected_votes;
        if self.wait_for_all {
            self.set_wfa_status(true);
        }
        self.recalculate(false, false, out);
        out.push(Action::Broadcast(self.own_nodeinfo()));
    }

    fn set_wfa_status(&mut self, on: bool) {
        self.wfa_status = on;
        self.me_mut().flags.set(NodeFlags::WFA_STATUS, on);
    }

    fn sync_init(
        &mut self,
        now: Duration,
        members: Vec<u32>,
        ring_id: RingId,
        out: &mut Vec<Action>,
    ) {
        if members.len() > 1 {
            self.me_mut().flags.set(NodeFlags::FIRST, false);
        }
        let mut left = false;
        for id in &self.members {
            if !members.contains(id) {
                left = true;
                if let Some(n) = self.nodes.get_mut(id) {
                    n.state = NodeState::Dead;
                }
            }
        }
        if self.last_man_standing {
            let n = members.len() as u64;
            let q = u64::from(self.quorum);
            if (n >= q && left) || (n <= q && self.atb.is_some() && self.low_node_id_present()) {
                if self.lms_timer_set {
                    out.push(Action::CancelTimer(Timer::LastManStanding));
                }
                out.push(Action::SetTimer {
                    timer: Timer::LastManStanding,
                    at: now.saturating_add(self.lms_window),
                });
                self.lms_timer_set = true;
            }
        }
        self.previous_members = std::mem::replace(&mut self.members, members);
        self.ring_id = ring_id;
        self.sync_pending = Some(self.members.iter().copied().collect());
    }

    /// Corosync activates the new quorum view once every member passed the sync barrier,
    /// which comes after each member's node-info in agreed order.
    fn sync_progress(&mut self, from: u32, nodeid: u32, out: &mut Vec<Action>) {
        let Some(pending) = self.sync_pending.as_mut() else {
            return;
        };
        if from == nodeid {
            pending.remove(&from);
        }
        if pending.is_empty() {
            self.sync_pending = None;
            self.recalculate(false, false, out);
            out.push(Action::QuorumChanged(self.report()));
        }
    }

    fn on_nodeinfo(
        &mut self,
        nodeid: u32,
        votes: u32,
        expected: u32,
        flags: NodeFlags,
        out: &mut Vec<Action>,
    ) {
        if nodeid == 0 {
            return; // quorum device: not modelled
        }
        let (new_node, old) = match self.nodes.get(&nodeid) {
            Some(n) => (false, *n),
            None => (
                true,
                NodeInfo {
                    nodeid,
                    state: NodeState::Dead,
                    votes: 0,
                    expected_votes: 0,
                    flags: NodeFlags::default(),
                },
            ),
        };
        let mut node = old;
        node.flags = flags;
        node.votes = votes;
        node.state = NodeState::Member;
        let mut allow_downgrade = false;
        let mut by_node = false;
        if flags.has(NodeFlags::LEAVING) {
            node.state = NodeState::Leaving;
            allow_downgrade = true;
            by_node = true;
        }
        if !self.quorate && flags.has(NodeFlags::QUORATE) {
            allow_downgrade = true;
            self.me_mut().expected_votes = expected;
            if nodeid == self.us {
                node.expected_votes = expected;
            }
        }
        node.expected_votes = if flags.has(NodeFlags::QUORATE) || self.ev_tracking {
            expected
        } else {
            self.me().expected_votes
        };
        self.nodes.insert(nodeid, node);
        if self.last_man_standing && node.votes > 1 {
            out.push(Action::Log("Last Man Standing feature is supported only when all cluster nodes votes are set to 1. Disabling LMS.".into()));
            self.last_man_standing = false;
            if self.lms_timer_set {
                self.lms_timer_set = false;
                out.push(Action::CancelTimer(Timer::LastManStanding));
            }
        }
        if new_node
            || nodeid == self.us
            || flags.has(NodeFlags::FIRST)
            || old.votes != node.votes
            || old.expected_votes != node.expected_votes
            || old.flags != node.flags
            || old.state != node.state
        {
            self.recalculate(allow_downgrade, by_node, out);
        }
        if self.wait_for_all && !flags.has(NodeFlags::WFA_STATUS) && flags.has(NodeFlags::QUORATE) {
            self.set_wfa_status(false);
        }
    }

    fn on_reconfigure(
        &mut self,
        nodeid: u32,
        value: u32,
        param: ReconfigParam,
        out: &mut Vec<Action>,
    ) {
        match param {
            ReconfigParam::ExpectedVotes => {
                self.update_node_expected_votes(value);
                self.ev_barrier = value;
                if self.ev_tracking {
                    let barrier = self.ev_tracking_barrier;
                    let me = self.me_mut();
                    me.expected_votes = me.expected_votes.max(barrier);
                }
                self.recalculate(true, false, out);
            }
            ReconfigParam::NodeVotes => {
                let Some(n) = self.nodes.get_mut(&nodeid) else {
                    return;
                };
                n.votes = value;
                self.recalculate(true, false, out);
            }
            ReconfigParam::CancelWaitForAll => {
                self.set_wfa_status(false);
                out.push(Action::Log(format!(
                    "wait_for_all_status reset by user on node {nodeid}."
                )));
                self.recalculate(false, false, out);
            }
        }
    }

    fn set_expected(&mut self, value: u32, out: &mut Vec<Action>) {
        // Validated without allow_downscale, as votequorum does.
        let (newquorum, total) = self.calculate_quorum(true, value, false);
        if value < total || (self.quorate && newquorum > total) {
            out.push(Action::Rejected(format!(
                "expected votes {value} is below the total votes {total} or would make the cluster inquorate"
            )));
            return;
        }
        self.update_node_expected_votes(value);
        out.push(Action::Broadcast(Message::Reconfigure {
            nodeid: self.us,
            value,
            param: ReconfigParam::ExpectedVotes,
        }));
    }

    fn set_votes(&mut self, nodeid: u32, votes: u32, out: &mut Vec<Action>) {
        let Some(saved) = self.nodes.get(&nodeid).map(|n| n.votes) else {
            out.push(Action::Rejected(format!("node {nodeid} not found")));
            return;
        };
        if let Some(n) = self.nodes.get_mut(&nodeid) {
            n.votes = votes;
        }
        let (newquorum, total) = self.calculate_quorum(true, 0, self.allow_downscale);
        if let Some(n) = self.nodes.get_mut(&nodeid) {
            n.votes = saved;
        }
        if newquorum < total / 2 || newquorum > total {
            out.push(Action::Rejected(format!(
                "votes {votes} for node {nodeid} would give quorum {newquorum} for {total} total votes"
            )));
            return;
        }
        out.push(Action::Broadcast(Message::Reconfigure {
            nodeid,
            value: votes,
            param: ReconfigParam::NodeVotes,
        }));
    }

    fn update_node_expected_votes(&mut self, value: u32) {
        if value == 0 {
            return;
        }
        for n in self.nodes.values_mut() {
            if n.state == NodeState::Member {
                n.expected_votes = value;
            }
        }
    }

    /// Votequorum's quorum formula. Returns (new quorum, total member votes).
    fn calculate_quorum(
        &self,
        allow_decrease: bool,
        max_expected: u32,
        downscale: bool,
    ) -> (u32, u32) {
        let mut max_expected = max_expected;
        if downscale && allow_decrease && max_expected > 0 {
            max_expected = max_expected.max(self.ev_barrier);
        }
        let (total_votes, total_nodes) = self.member_totals();
        let mut highest = u64::from(self.highest_expected());
        if max_expected > 0 {
            highest = u64::from(max_expected);
        }
        let q1 = (highest + 2) / 2;
        let q2 = (total_votes + 2) / 2;
        let mut newquorum = sat(q1.max(q2));
        if !allow_decrease {
            newquorum = newquorum.max(self.quorum);
        }
        if self.two_node && total_nodes <= 2 {
            newquorum = 1;
        }
        (newquorum, sat(total_votes))
    }

    fn recalculate(&mut self, allow_decrease: bool, by_current_nodes: bool, out: &mut Vec<Action>) {
        let (total, count) = self.member_totals();
        let cluster_members = if by_current_nodes { count } else { 0 };
        let total = sat(total);
        if total > self.me().expected_votes {
            self.me_mut().expected_votes = total;
        }
        let my_expected = self.me().expected_votes;
        if self.ev_tracking && my_expected > self.ev_tracking_barrier {
            self.ev_tracking_barrier = my_expected;
            out.push(Action::PersistEvTrackingBarrier(my_expected));
        }
        let (q, total_votes) =
            self.calculate_quorum(allow_decrease, cluster_members, self.allow_downscale);
        self.quorum = q;
        self.update_node_expected_votes(cluster_members);
        self.are_we_quorate(total_votes, out);
    }

    fn low_node_id_present(&self) -> bool {
        self.lowest_node_id.is_some_and(|id| {
            self.nodes
                .get(&id)
                .is_some_and(|n| n.state == NodeState::Member)
        })
    }

    fn high_node_id_present(&self) -> bool {
        self.highest_node_id.is_some_and(|id| {
            self.nodes
                .get(&id)
                .is_some_and(|n| n.state == NodeState::Member)
        })
    }

    fn check_auto_tie_breaker(&self) -> bool {
        match &self.atb {
            None => false,
            Some(TieBreaker::Lowest) => self.low_node_id_present(),
            Some(TieBreaker::Highest) => self.high_node_id_present(),
            Some(TieBreaker::List(list)) => {
                for (i, id) in list.iter().enumerate() {
                    if self.members.contains(id) {
                        // An earlier tie-breaker seen in the previous partition may be on
                        // the other side now: we cannot claim the tie.
                        return !list[..i]
                            .iter()
                            .any(|earlier| self.previous_members.contains(earlier));
                    }
                }
                false
            }
        }
    }

    fn are_we_quorate(&mut self, total_votes: u32, out: &mut Vec<Action>) {
        if self.wait_for_all && self.wfa_status {
            let expected = self.me().expected_votes;
            if total_votes != expected {
                out.push(Action::Log(format!(
                    "Waiting for all cluster members. Current votes: {total_votes} expected_votes: {expected}"
                )));
                return;
            }
            self.set_wfa_status(false);
        }
        let mut quorate = self.quorum <= total_votes;
        if quorate {
            let ids = self
                .nodes
                .values()
                .filter(|n| n.state == NodeState::Member)
                .map(|n| n.nodeid)
                .chain(std::iter::once(self.us));
            self.lowest_node_id = ids.clone().min();
            self.highest_node_id = ids.max();
        }
        let expected = self.me().expected_votes;
        let lost = self.previous_members.len() as i64 - self.members.len() as i64;
        if self.atb.is_some()
            && total_votes == expected / 2
            && lost < i64::from(self.quorum)
            && self.check_auto_tie_breaker()
        {
            quorate = true;
        }
        let changed = quorate != self.quorate;
        self.quorate = quorate;
        self.me_mut().flags.set(NodeFlags::QUORATE, quorate);
        if self.wait_for_all {
            self.set_wfa_status(!quorate);
        }
        if changed && self.sync_pending.is_none() {
            out.push(Action::QuorumChanged(self.report()));
        }
    }
}
