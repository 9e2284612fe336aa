//! The local votequorum configuration, derived from corosync.conf the way votequorum
//! reads it at startup (implications and incompatibilities included).

use hasim_corosync_conf::{CorosyncConf, TieBreaker};
use std::time::Duration;

/// Votequorum's default last_man_standing_window (10 s).
pub const DEFAULT_LMS_WINDOW: Duration = Duration::from_millis(10_000);

/// Effective configuration of one node's votequorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// This node's id.
    pub node_id: u32,
    /// This node's votes (`quorum_votes` of its nodelist entry, or `quorum.votes`, or 1).
    pub votes: u32,
    /// Initial expected votes: `quorum.expected_votes` if set, else the nodelist total.
    pub expected_votes: u32,
    /// Sum of nodelist votes (0 without a nodelist); used for the ATB odd-size rule.
    pub nodelist_votes: u32,
    /// two_node after the ATB incompatibility rule.
    pub two_node: bool,
    /// wait_for_all (explicit, or implied by two_node when not set).
    pub wait_for_all: bool,
    /// last_man_standing.
    pub last_man_standing: bool,
    /// last_man_standing_window.
    pub last_man_standing_window: Duration,
    /// auto_tie_breaker mode, `None` when disabled.
    pub auto_tie_breaker: Option<TieBreaker>,
    /// allow_downscale (implies expected-votes tracking).
    pub allow_downscale: bool,
    /// expected_votes_tracking (or implied by allow_downscale).
    pub ev_tracking: bool,
    /// Highest expected votes ever seen, as persisted on disk by a previous run
    /// (0 on a fresh node). Only used with expected-votes tracking.
    pub ev_tracking_barrier: u32,
}

impl Config {
    /// A plain configuration: `votes` votes, `expected_votes` expected, no special feature.
    pub fn simple(node_id: u32, votes: u32, expected_votes: u32) -> Config {
        Config {
            node_id,
            votes,
            expected_votes,
            nodelist_votes: 0,
            two_node: false,
            wait_for_all: false,
            last_man_standing: false,
            last_man_standing_window: DEFAULT_LMS_WINDOW,
            auto_tie_breaker: None,
            allow_downscale: false,
            ev_tracking: false,
            ev_tracking_barrier: 0,
        }
    }
}

/// Why votequorum would refuse to start with this configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Neither a nodelist containing this node nor `quorum.expected_votes`.
    #[error("configuration error: nodelist or quorum.expected_votes must be configured!")]
    NoExpectedVotes,
    /// ATB on an odd-sized cluster together with LMS and without wait_for_all.
    #[error("configuration error: auto_tie_breaker & last_man_standing not available in odd sized cluster")]
    AtbLmsOddCluster,
    /// `quorum.provider` is missing or not votequorum.
    #[error("expected quorum.provider: corosync_votequorum")]
    NotVotequorum,
}

/// The result of reading votequorum settings: the config plus what votequorum would log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedConfig {
    /// Effective configuration.
    pub config: Config,
    /// Notices votequorum logs at startup (features disabled, ignored keys).
    pub notices: Vec<String>,
}

/// Derive the votequorum configuration of node `node_id` from a parsed corosync.conf,
/// following votequorum's startup reading. The local node is found in the nodelist by
/// `nodeid`; when it is absent, the nodelist is ignored as in corosync.
/// `ev_tracking_barrier` is the value persisted by a previous run (0 if none).
pub fn from_corosync(
    conf: &CorosyncConf,
    node_id: u32,
    ev_tracking_barrier: u32,
) -> Result<LoadedConfig, ConfigError> {
    let q = &conf.quorum;
    if q.provider.as_deref() != Some("corosync_votequorum") {
        return Err(ConfigError::NotVotequorum);
    }
    let mut notices = Vec::new();
    let mut expected = q.expected_votes.unwrap_or(0);
    let local = conf.node_by_id(node_id);
    let nodelist_votes: u32 = if local.is_some() {
        conf.nodelist
            .iter()
            .map(|n| n.quorum_votes.unwrap_or(1))
            .fold(0u32, u32::wrapping_add)
    } else {
        0
    };
    if local.is_none() && expected == 0 {
        return Err(ConfigError::NoExpectedVotes);
    }
    if q.device_model.as_deref().is_some_and(|m| !m.is_empty()) {
        notices.push("quorum device configured: not modelled by hasim, ignored".into());
    }
    let mut two_node = q.two_node.unwrap_or(false);
    let allow_downscale = q.allow_downscale.unwrap_or(false);
    // wait_for_all follows two_node unless it is set explicitly.
    let wait_for_all = q.wait_for_all.unwrap_or(two_node);
    let last_man_standing = q.last_man_standing.unwrap_or(false);
    let lms_window = q.last_man_standing_window.map_or(DEFAULT_LMS_WINDOW, |ms| {
        Duration::from_millis(u64::from(ms))
    });
    let atb_on = q.auto_tie_breaker.unwrap_or(false);
    let mut atb = if atb_on {
        match q.auto_tie_breaker_node.as_deref() {
            None => Some(TieBreaker::Lowest),
            Some(s) => {
                let t = TieBreaker::parse(s);
                if t.is_none() {
                    notices.push("auto_tie_breaker_node is not valid. It must be 'lowest', 'highest' or a space-separated list of node IDs. auto_tie_breaker is disabled".into());
                }
                t
            }
        }
    } else {
        if q.auto_tie_breaker_node.is_some() {
            notices.push(
                "auto_tie_breaker_node: is meaningless if auto_tie_breaker is set to 0".into(),
            );
        }
        None
    };
    let ev_tracking = allow_downscale || q.expected_votes_tracking.unwrap_or(false);
    if two_node && atb.is_some() {
        notices.push("two_node and auto_tie_breaker are both specified but are not compatible; two_node has been disabled".into());
        two_node = false;
    }
    if atb.is_some() && nodelist_votes % 2 == 1 && !wait_for_all {
        if last_man_standing {
            return Err(ConfigError::AtbLmsOddCluster);
        }
        notices.push("auto_tie_breaker is set and the cluster has an odd number of nodes; wait_for_all needs to be set, auto_tie_breaker has been disabled".into());
        atb = None;
    }
    if ev_tracking {
        expected = ev_tracking_barrier;
    }
    let (votes, mut expected_votes) = match local {
        Some(n) => (n.quorum_votes.unwrap_or(1), nodelist_votes),
        None => (q.votes.unwrap_or(1), 0),
    };
    if expected != 0 {
        expected_votes = expected;
    }
    Ok(LoadedConfig {
        config: Config {
            node_id,
            votes,
            expected_votes,
            nodelist_votes,
            two_node,
            wait_for_all,
            last_man_standing,
            last_man_standing_window: lms_window,
            auto_tie_breaker: atb,
            allow_downscale,
            ev_tracking,
            ev_tracking_barrier,
        },
        notices,
    })
}
