//! Every checker hasim knows, in one table: its name, what it checks, what a
//! scenario must have for it to have something to check, and how to build
//! it. Scenario validation, the runner and `scenarios/README.md` all read
//! this table.

use super::corosync;
use super::data::{DataCheck, DataInvariant};
use super::fencing::{FencingCheck, Invariant};
use super::pacemaker::{Audit, PacemakerAudit};
use super::{Checker, SingleVipOwner, VipAvailable};
use crate::requirements::Need;
use std::collections::BTreeMap;
use std::time::Duration;

/// What the checkers need to know about the run beyond its events.
pub struct CheckerSetup {
    pub min_answered: f64,
    pub max_outage: Duration,
    /// Liveness bound derived from the Totem timers.
    pub liveness_bound: Duration,
    /// Node name -> corosync nodeid.
    pub node_ids: BTreeMap<String, u32>,
    /// Resources that must never run twice at once (primitives outside
    /// clones, fencing devices left out).
    pub unique_resources: std::collections::BTreeSet<String>,
    /// `recovers`: how long a lost resource may stay down.
    pub recovery_bound: Duration,
    /// `no-active-without-quorum`: how long an inquorate node may take to
    /// stop what it runs.
    pub quorum_grace: Duration,
    /// `connections-recover`: detection and reconnection bound for the data
    /// clients' connections (`None`: no keepalive, never detected).
    pub connection_bound: Option<hasim_data::checkers::RecoveryBound>,
}

/// One named invariant.
pub struct CheckerSpec {
    pub name: &'static str,
    /// One line for `scenarios/README.md` and error messages.
    pub description: &'static str,
    /// What a scenario must contain for the checker to have anything to judge.
    pub needs: &'static [Need],
    build: fn(&CheckerSetup) -> Box<dyn Checker>,
}

impl CheckerSpec {
    pub fn build(&self, setup: &CheckerSetup) -> Box<dyn Checker> {
        (self.build)(setup)
    }
}

/// Every checker, in the order the documentation lists them.
pub const CHECKERS: &[CheckerSpec] = &[
    CheckerSpec {
        name: "single-vip-owner",
        description: "at any instant at most one powered, running node holds a given virtual IP",
        needs: &[Need::Vip],
        build: |_| Box::new(SingleVipOwner::default()),
    },
    CheckerSpec {
        name: "vip-available",
        description: "clients get answers: at least min_answered of requests, no outage longer than max_outage",
        needs: &[Need::Vip, Need::Clients],
        build: |s| Box::new(VipAvailable::new(s.min_answered, s.max_outage)),
    },
    CheckerSpec {
        name: "agreed-order",
        description: "any two nodes deliver the messages they both deliver in the same order, none twice",
        needs: &[Need::CorosyncTraffic],
        build: |_| Box::<corosync::AgreedOrder>::default(),
    },
    CheckerSpec {
        name: "virtual-synchrony",
        description: "a message is delivered in the configuration it was sent in, by every node that delivers it",
        needs: &[Need::CorosyncTraffic],
        build: |_| Box::<corosync::VirtualSynchrony>::default(),
    },
    CheckerSpec {
        name: "membership-agreement",
        description: "the same ring id always comes with the same member list, which includes the installing node",
        needs: &[Need::CorosyncNodes],
        build: |s| Box::new(corosync::MembershipAgreement::new(s.node_ids.clone())),
    },
    CheckerSpec {
        name: "no-loss-in-configuration",
        description: "nodes that move together from one configuration to the next delivered the same messages in it",
        needs: &[Need::CorosyncTraffic],
        build: |_| Box::<corosync::NoLossInConfiguration>::default(),
    },
    CheckerSpec {
        name: "single-quorate-partition",
        description: "no two running nodes are quorate at once with disjoint member lists",
        needs: &[Need::CorosyncNodes],
        build: |_| Box::<corosync::SingleQuoratePartition>::default(),
    },
    CheckerSpec {
        name: "liveness",
        description: "once the network is whole and quiet for a bound derived from the Totem timers, all running nodes share one ring",
        needs: &[Need::CorosyncNodes],
        build: |s| Box::new(corosync::Liveness::new(s.liveness_bound, s.node_ids.clone())),
    },
    CheckerSpec {
        name: "membership-stable",
        description: "once a ring of every node has formed, no node installs another configuration",
        needs: &[Need::CorosyncNodes],
        build: |s| Box::new(corosync::MembershipStable::new(s.node_ids.len())),
    },
    CheckerSpec {
        name: "quorate-at-end",
        description: "when the run ends, every running node is quorate",
        needs: &[Need::CorosyncNodes],
        build: |s| Box::new(corosync::QuorateAtEnd::new(s.node_ids.clone())),
    },
    CheckerSpec {
        name: "resource-single-active",
        description: "a unique resource is never active on two powered nodes at once",
        needs: &[Need::Pacemaker],
        build: |s| {
            let unique = s.unique_resources.clone();
            Box::new(PacemakerAudit::new(Audit::ResourceSingleActive { unique }))
        },
    },
    CheckerSpec {
        name: "no-active-without-quorum",
        description: "a node inquorate for longer than quorum_grace runs no resource",
        needs: &[Need::Pacemaker],
        build: |s| {
            let grace = s.quorum_grace;
            Box::new(PacemakerAudit::new(Audit::NoActiveWithoutQuorum { grace }))
        },
    },
    CheckerSpec {
        name: "single-dc",
        description: "two powered nodes that see each other are never both DC for longer than an election takes (60 s)",
        needs: &[Need::Pacemaker],
        build: |_| {
            let settle = Duration::from_secs(60);
            Box::new(PacemakerAudit::new(Audit::SingleDc { settle }))
        },
    },
    CheckerSpec {
        name: "cib-converges",
        description: "when the run ends, every powered node's CIB has the same version and digest",
        needs: &[Need::Pacemaker],
        build: |_| Box::new(PacemakerAudit::new(Audit::CibConverges)),
    },
    CheckerSpec {
        name: "recovers",
        description: "a unique resource that stops running everywhere runs again within recovery_bound",
        needs: &[Need::Pacemaker],
        build: |s| {
            let resources = s.unique_resources.clone();
            let bound = s.recovery_bound;
            Box::new(PacemakerAudit::new(Audit::Recovers { resources, bound }))
        },
    },
    CheckerSpec {
        name: "no-election-storm",
        description: "no node starts more than (nodes + 1)^2 DC elections within 2 s (Pacemaker's own election-storm warning)",
        needs: &[Need::Pacemaker],
        build: |s| {
            // lib/cluster/election.c: more than peers^2 wins within
            // STORM_INTERVAL (2 s), peers being 1 + the peer cache's size.
            let peers = s.node_ids.len() + 1;
            let window = Duration::from_secs(2);
            let max = peers * peers;
            Box::new(PacemakerAudit::new(Audit::NoElectionStorm { window, max }))
        },
    },
    CheckerSpec {
        name: "fenced-before-recovery",
        description: "a unique resource of a lost node starts elsewhere only after that node lost power (fenced, self-fenced or a power fault) or stopped it",
        needs: &[Need::Pacemaker],
        build: |s| {
            let unique = s.unique_resources.clone();
            Box::new(FencingCheck::new(Invariant::FencedBeforeRecovery, unique))
        },
    },
    CheckerSpec {
        name: super::remote::NAME,
        description: "a unique resource of a Pacemaker Remote node whose connection was lost starts elsewhere only after the DC saw that node fenced or its connection back",
        needs: &[Need::Pacemaker],
        build: |s| {
            let unique = s.unique_resources.clone();
            Box::new(super::remote::RemoteFenceCheck::new(unique))
        },
    },
    CheckerSpec {
        name: "no-fence-race",
        description: "two nodes are never both powered off by fencing each requested of the other (the two-node fence death match)",
        needs: &[Need::Pacemaker],
        build: |s| {
            let unique = s.unique_resources.clone();
            Box::new(FencingCheck::new(Invariant::NoFenceRace, unique))
        },
    },
    CheckerSpec {
        name: "no-fence-loop",
        description: "a node fenced and rejoined is not fenced again unless a new fault came after it rejoined",
        needs: &[Need::Pacemaker],
        build: |s| {
            let unique = s.unique_resources.clone();
            Box::new(FencingCheck::new(Invariant::NoFenceLoop, unique))
        },
    },
    CheckerSpec {
        name: "no-lost-acknowledged-writes",
        description: "every write a data client saw acknowledged is in the final read (after faults heal and the database settles)",
        needs: &[Need::DataClients],
        build: |_| Box::new(DataCheck::new("no-lost-acknowledged-writes", DataInvariant::NoLostAcknowledgedWrites)),
    },
    CheckerSpec {
        name: "no-stale-reads",
        description: "a data client's read contains every write acknowledged before the read began",
        needs: &[Need::DataClients],
        build: |_| Box::new(DataCheck::new("no-stale-reads", DataInvariant::NoStaleReads)),
    },
    CheckerSpec {
        name: "single-writer",
        description: "no two database nodes acknowledge writes to one key in overlapping tenures (acks at most 1 s apart)",
        needs: &[Need::DataClients],
        build: |_| {
            let tenure_gap = Duration::from_secs(1);
            Box::new(DataCheck::new("single-writer", DataInvariant::SingleWriter { tenure_gap }))
        },
    },
    CheckerSpec {
        name: "connections-recover",
        description: "a data client connection whose server went away is closed within max_hang (or the bound of the client host's TCP settings) and replaced in time",
        needs: &[Need::DataClients],
        build: |s| {
            let bound = s.connection_bound;
            Box::new(DataCheck::new("connections-recover", DataInvariant::ConnectionsRecover { bound }))
        },
    },
];

/// The checker called `name`.
pub fn find(name: &str) -> Option<&'static CheckerSpec> {
    CHECKERS.iter().find(|c| c.name == name)
}

/// Every checker name, for error messages.
pub fn names() -> Vec<&'static str> {
    CHECKERS.iter().map(|c| c.name).collect()
}

/// Build the checkers a scenario asks for (names were validated at load).
pub fn build(names: &[String], setup: &CheckerSetup) -> Vec<Box<dyn Checker>> {
    names
        .iter()
        .filter_map(|n| find(n))
        .map(|spec| spec.build(setup))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_match_the_checkers() {
        let setup = CheckerSetup {
            min_answered: 0.0,
            max_outage: Duration::MAX,
            liveness_bound: Duration::from_secs(1),
            node_ids: BTreeMap::new(),
            unique_resources: Default::default(),
            recovery_bound: Duration::from_secs(1),
            quorum_grace: Duration::from_secs(1),
            connection_bound: None,
        };
        let mut seen = std::collections::BTreeSet::new();
        for spec in CHECKERS {
            assert!(seen.insert(spec.name), "{} listed twice", spec.name);
            assert_eq!(spec.build(&setup).name(), spec.name);
        }
    }

    #[test]
    fn every_checker_is_documented_in_the_scenario_guide() {
        let guide = include_str!("../../../scenarios/README.md");
        for spec in CHECKERS {
            assert!(
                guide.contains(&format!("`{}`", spec.name)),
                "scenarios/README.md does not document `{}`",
                spec.name
            );
        }
    }
}
