//! `[[galera]]`: a Galera cluster on some nodes, and the setup of the
//! mysqld each of them runs.
//!
//! ```toml
//! [[galera]]
//! cluster_address = "gcomm://n1,n2,n3"   # wsrep_cluster_address, in order
//! bootstrap = "n1"                        # runs galera_new_cluster once
//! suspect_timeout = "5s"                  # evs.suspect_timeout
//! inactive_timeout = "15s"                # evs.inactive_timeout
//! keepalive_period = "1s"                 # evs.keepalive_period
//! pacemaker = true                        # managed by ocf:heartbeat:galera
//! ```
//!
//! With `pacemaker = true` mysqld does not start at boot: the CIB's
//! promotable clone of `ocf:heartbeat:galera` starts it (promote) and
//! chooses the bootstrap node, so `bootstrap` must not be given.
//!
//! Without `bootstrap` no node forms a primary component on its own: the
//! nodes wait for one, as a Galera cluster whose operator never ran
//! `galera_new_cluster` does.

use crate::limits;
use crate::scenario::Scenario;
use hasim_galera::bootstrap::parse_cluster_address;
use hasim_galera::pc::EvsTimeouts;
use hasim_node::galera_daemon::GaleraSetup;
use serde::Deserialize;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// The cluster state uuid every scenario cluster uses (any fixed uuid: a
/// run must not depend on the host).
pub const CLUSTER_UUID: &str = "6a3d9ef2-0c5b-11f1-9f7e-52540012ab01";

/// `[[galera]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaleraSpec {
    pub cluster_address: Spanned<String>,
    #[serde(default)]
    pub bootstrap: Option<Spanned<String>>,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_suspect", deserialize_with = "limits::period")]
    pub suspect_timeout: Duration,
    #[serde(default = "default_inactive", deserialize_with = "limits::period")]
    pub inactive_timeout: Duration,
    #[serde(default = "default_keepalive", deserialize_with = "limits::period")]
    pub keepalive_period: Duration,
    /// Pacemaker's galera agent manages mysqld.
    #[serde(default)]
    pub pacemaker: bool,
}

fn default_port() -> u16 {
    3306
}
fn default_suspect() -> Duration {
    EvsTimeouts::default().suspect
}
fn default_inactive() -> Duration {
    EvsTimeouts::default().inactive
}
fn default_keepalive() -> Duration {
    Duration::from_secs(1)
}

impl GaleraSpec {
    /// The nodes of `cluster_address`, in order (checked by [`check`]).
    ///
    /// [`check`]: GaleraSpec::check
    pub fn nodes(&self) -> Vec<String> {
        parse_cluster_address(self.cluster_address.get_ref()).unwrap_or_default()
    }

    /// The address names scenario nodes, each once; `bootstrap` is one of
    /// them; the timeouts are in the order gcomm requires.
    pub fn check(&self, nodes: &[&str]) -> Result<(), (Range<usize>, String)> {
        let at = self.cluster_address.span();
        let named =
            parse_cluster_address(self.cluster_address.get_ref()).map_err(|e| (at.clone(), e))?;
        for (i, n) in named.iter().enumerate() {
            if !nodes.contains(&n.as_str()) {
                let m = format!("[[galera]] cluster_address names unknown node `{n}`; expected one of {nodes:?}");
                return Err((at, m));
            }
            if named[..i].contains(n) {
                return Err((at, format!("[[galera]] cluster_address names `{n}` twice")));
            }
        }
        if let Some(b) = &self.bootstrap {
            if self.pacemaker {
                let m = "[[galera]] bootstrap cannot be given with pacemaker = true: the galera agent chooses the bootstrap node".to_string();
                return Err((b.span(), m));
            }
            if !named.contains(b.get_ref()) {
                let m = format!(
                    "[[galera]] bootstrap `{}` is not in cluster_address; expected one of {named:?}",
                    b.get_ref()
                );
                return Err((b.span(), m));
            }
        }
        if self.keepalive_period >= self.suspect_timeout
            || self.suspect_timeout > self.inactive_timeout
        {
            return Err((at, format!(
                "[[galera]] expected keepalive_period < suspect_timeout <= inactive_timeout, got {}, {} and {}",
                limits::show(self.keepalive_period),
                limits::show(self.suspect_timeout),
                limits::show(self.inactive_timeout)
            )));
        }
        Ok(())
    }
}

/// Every `[[galera]]` is valid and no node is in two clusters or also
/// runs a `[[kvdb]]` on the same port.
pub fn check_all(scenario: &Scenario, nodes: &[&str]) -> Result<(), (Range<usize>, String)> {
    let mut seen: Vec<String> = Vec::new();
    for g in &scenario.galera {
        g.check(nodes)?;
        for n in g.nodes() {
            if seen.contains(&n) {
                let m = format!("[[galera]] node `{n}` is already in another [[galera]] cluster");
                return Err((g.cluster_address.span(), m));
            }
            let kvdb = scenario
                .kvdb
                .iter()
                .any(|k| *k.node.get_ref() == n && k.port == g.port);
            if kvdb {
                let m = format!(
                    "[[galera]] node `{n}` also runs a [[kvdb]] on port {}",
                    g.port
                );
                return Err((g.cluster_address.span(), m));
            }
            seen.push(n);
        }
    }
    Ok(())
}

/// The mysqld `node` runs, if it is in a `[[galera]]` cluster.
pub fn setup(scenario: &Scenario, node: &str) -> Option<GaleraSetup> {
    let spec = scenario
        .galera
        .iter()
        .find(|g| g.nodes().iter().any(|n| n == node))?;
    let cluster = spec
        .nodes()
        .into_iter()
        .filter_map(|n| {
            let node = scenario.nodes.iter().find(|x| *x.name.get_ref() == n)?;
            let address = node.addresses.values().next().copied()?;
            Some((n, address))
        })
        .collect::<Vec<_>>();
    let address = cluster.iter().find(|(n, _)| n == node)?.1;
    Some(GaleraSetup {
        name: node.to_string(),
        address,
        port: spec.port,
        cluster,
        evs: EvsTimeouts {
            suspect: spec.suspect_timeout,
            inactive: spec.inactive_timeout,
            ..EvsTimeouts::default()
        },
        keepalive_period: spec.keepalive_period,
        uuid: CLUSTER_UUID.into(),
        bootstrap: spec.bootstrap.as_ref().is_some_and(|b| b.get_ref() == node),
        managed: spec.pacemaker,
    })
}
