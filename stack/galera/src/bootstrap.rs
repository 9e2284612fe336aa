//! Which node bootstraps Galera after a full stop, as the galera resource
//! agent decides (`detect_first_master` in resource-agents'
//! `heartbeat/galera.in`, read and restated here).
//!
//! Every node's agent records, in node attributes, its last committed seqno
//! (from `grastate.dat`, or from `mysqld --wsrep-recover` when the file says
//! −1), whether `grastate.dat` was missing (a "recovered" node), and its
//! `safe_to_bootstrap` flag. Then:
//!
//! 1. Nodes are visited in `wsrep_cluster_address` order, recovered nodes
//!    first, so that a node with an intact `grastate.dat` wins a tie.
//! 2. The first visited node with `safe_to_bootstrap` = 1 is chosen at once,
//!    even if other nodes have not reported yet. In a two-node cluster the
//!    local node also counts as safe when it is the last node of a quorate
//!    partition.
//! 3. Otherwise, if any node has not reported its seqno, nobody is chosen:
//!    the agent waits.
//! 4. Otherwise the node with the highest seqno is chosen (−1 counts as 0);
//!    on a tie the *later* visited node wins (the comparison is ≥).

use std::collections::BTreeMap;

/// What one node's agent has reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeReport {
    /// The `safe_to_bootstrap` attribute (`None` when cleared).
    pub safe_to_bootstrap: Option<bool>,
    /// Last committed seqno; `None` until the node reports; −1 means no
    /// commit yet.
    pub last_commit: Option<i64>,
    /// `grastate.dat` was missing and the seqno was recovered.
    pub no_grastate: bool,
}

/// The agent's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootstrapChoice {
    /// This node bootstraps (`gcomm://`); the others join it.
    Node(String),
    /// These nodes have not reported a seqno yet; nothing is promoted.
    Waiting {
        /// Nodes without a seqno, in visiting order.
        missing: Vec<String>,
    },
}

/// Node names from a `wsrep_cluster_address` such as
/// `gcomm://node1,node2,node3`, in order.
pub fn parse_cluster_address(address: &str) -> Result<Vec<String>, String> {
    let nodes: Vec<String> = address
        .replace("gcomm://", "")
        .split(',')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    if nodes.is_empty() {
        return Err(format!(
            "wsrep_cluster_address {address:?}: expected gcomm://node1,node2,... with at least one node"
        ));
    }
    Ok(nodes)
}

/// The agent's choice for the nodes of `cluster_address` (in its order)
/// given their `reports` (a node without a report has reported nothing).
/// `two_node_survivor` names the local node when two-node mode is active and
/// it is the last node of a quorate partition.
pub fn choose_bootstrap(
    cluster_address: &[String],
    reports: &BTreeMap<String, NodeReport>,
    two_node_survivor: Option<&str>,
) -> BootstrapChoice {
    let none = NodeReport::default();
    let report = |n: &String| reports.get(n).unwrap_or(&none);
    let recovered = cluster_address.iter().filter(|n| report(n).no_grastate);
    let intact = cluster_address.iter().filter(|n| !report(n).no_grastate);
    let visiting: Vec<&String> = recovered.chain(intact).collect();

    let mut best = cluster_address.last().cloned().unwrap_or_default();
    let mut best_commit = 0u64;
    let mut missing = Vec::new();
    for node in visiting {
        let r = report(node);
        let survivor = two_node_survivor == Some(node.as_str());
        if r.safe_to_bootstrap == Some(true) || survivor {
            return BootstrapChoice::Node(node.clone());
        }
        let Some(commit) = r.last_commit else {
            missing.push(node.clone());
            continue;
        };
        let commit = u64::try_from(commit).unwrap_or(0);
        if commit >= best_commit {
            best = node.clone();
            best_commit = commit;
        }
    }
    if missing.is_empty() {
        BootstrapChoice::Node(best)
    } else {
        BootstrapChoice::Waiting { missing }
    }
}

#[cfg(test)]
mod tests;
