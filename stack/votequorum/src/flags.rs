//! Bit flags votequorum exchanges between nodes and reports to tools.

/// Per-node flags carried in every node-info message (votequorum's `NODE_FLAGS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct NodeFlags(pub u32);

impl NodeFlags {
    /// The sender believes the cluster is quorate.
    pub const QUORATE: u32 = 1;
    /// The sender is shutting down cleanly (only sent with allow_downscale).
    pub const LEAVING: u32 = 2;
    /// The sender is still waiting for all nodes (wait_for_all).
    pub const WFA_STATUS: u32 = 4;
    /// The sender has not yet been in a membership with other nodes.
    pub const FIRST: u32 = 8;
    /// Quorum-device bits: carried on the wire, not modelled.
    pub const QDEVICE_REGISTERED: u32 = 16;
    /// See [`NodeFlags::QDEVICE_REGISTERED`].
    pub const QDEVICE_ALIVE: u32 = 32;
    /// See [`NodeFlags::QDEVICE_REGISTERED`].
    pub const QDEVICE_CAST_VOTE: u32 = 64;
    /// See [`NodeFlags::QDEVICE_REGISTERED`].
    pub const QDEVICE_MASTER_WINS: u32 = 128;

    /// Whether `bit` is set.
    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    pub(crate) fn set(&mut self, bit: u32, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }
}

/// Cluster-wide feature/status flags as `votequorum_getinfo` reports them
/// (`VOTEQUORUM_INFO_*`), printed on corosync-quorumtool's `Flags:` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct InfoFlags(pub u32);

impl InfoFlags {
    /// two_node is active.
    pub const TWO_NODE: u32 = 1;
    /// The cluster is quorate.
    pub const QUORATE: u32 = 2;
    /// wait_for_all is configured (or implied by two_node).
    pub const WAIT_FOR_ALL: u32 = 4;
    /// last_man_standing is enabled.
    pub const LAST_MAN_STANDING: u32 = 8;
    /// auto_tie_breaker is enabled.
    pub const AUTO_TIE_BREAKER: u32 = 16;
    /// allow_downscale is enabled.
    pub const ALLOW_DOWNSCALE: u32 = 32;
    /// A quorum device is registered (never set: qdevice is not modelled).
    pub const QDEVICE_REGISTERED: u32 = 64;

    /// Whether `bit` is set.
    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    /// The words corosync-quorumtool prints for these flags, in its order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (Self::TWO_NODE, "2Node"),
            (Self::QUORATE, "Quorate"),
            (Self::WAIT_FOR_ALL, "WaitForAll"),
            (Self::LAST_MAN_STANDING, "LastManStanding"),
            (Self::AUTO_TIE_BREAKER, "AutoTieBreaker"),
            (Self::ALLOW_DOWNSCALE, "AllowDownscale"),
            (Self::QDEVICE_REGISTERED, "Qdevice"),
        ]
        .into_iter()
        .filter(|(b, _)| self.has(*b))
        .map(|(_, n)| n)
        .collect()
    }
}
