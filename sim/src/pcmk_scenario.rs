//! The `[pacemaker]` section of a scenario: the CIB the cluster starts
//! with (Pacemaker XML or crm shell syntax), how resource agents behave,
//! and what an operator does with cibadmin while the run goes on.

use crate::limits;
use hasim_agents::{BehaviourRule, Outcome};
use hasim_pcmk_proto::{cibops, CibOp};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// `[pacemaker]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacemakerSection {
    /// Path of the CIB, relative to the scenario file: `cibadmin -Q` XML
    /// (starts with `<`) or `crm configure` lines.
    pub cib: Spanned<String>,
    /// crm shell lines appended to a crm-syntax CIB (node names, properties
    /// a document leaves out).
    #[serde(default)]
    pub crm_extra: String,
    /// How agent operations behave; the first matching rule wins.
    #[serde(default)]
    pub behaviour: Vec<Spanned<Behaviour>>,
    /// cibadmin requests at given times.
    #[serde(default)]
    pub operator: Vec<Spanned<Operator>>,
    /// `[pacemaker.sbd]`: every cluster node runs diskless SBD (watchdog
    /// self-fencing when quorum is lost).
    pub sbd: Option<Spanned<SbdSection>>,
    /// `[[pacemaker.remote]]`: groups of Pacemaker Remote nodes.
    #[serde(default)]
    pub remote: Vec<Spanned<crate::remote_spec::RemoteGroup>>,
}

/// `[pacemaker.sbd]`: sbd's /etc/sysconfig/sbd, diskless (no SBD_DEVICE).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SbdSection {
    /// SBD_WATCHDOG_TIMEOUT (sbd's default 5 s).
    #[serde(default = "default_sbd_watchdog", with = "humantime_serde")]
    pub watchdog_timeout: Duration,
}

fn default_sbd_watchdog() -> Duration {
    Duration::from_secs(5)
}

impl SbdSection {
    /// The watchdog core's configuration (sbd's loop and io timeouts are
    /// its defaults, 1 s and 3 s).
    pub fn config(&self) -> hasim_fenced::watchdog::WatchdogConfig {
        hasim_fenced::watchdog::WatchdogConfig {
            watchdog_timeout: self.watchdog_timeout,
            ..Default::default()
        }
    }

    /// What Pacemaker 2.1.5 checks at start (`pcmk__valid_sbd_timeout`):
    /// a zero watchdog timeout is no watchdog; a stonith-watchdog-timeout
    /// shorter than it makes Pacemaker refuse to start.
    pub fn check(&self, cib: &hasim_cib::Cib) -> Result<(), String> {
        if self.watchdog_timeout.is_zero() {
            return Err("expected a non-zero `watchdog_timeout` (SBD_WATCHDOG_TIMEOUT)".into());
        }
        let fencing = hasim_fenced::FencingConfig::from_cib(cib).map_err(|e| e.to_string())?;
        let sbd_ms = self.watchdog_timeout.as_millis() as u64;
        hasim_fenced::rules::effective_watchdog_timeout(fencing.stonith_watchdog_timeout_ms, sbd_ms)
            .map(|_| ())
            .map_err(|e| format!("{e}: Pacemaker 2.1.5 refuses to start with this"))
    }
}

/// `[[pacemaker.behaviour]]`: e.g. "monitor of p_haproxy on node2 fails at
/// 45 s" or "start of p_mysql takes 300 s".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// The resource id as the executor knows it (a clone's primitive id).
    pub rsc: String,
    /// Only on this node (default: every node).
    pub node: Option<String>,
    /// Only this operation: start, stop, monitor, promote, demote.
    pub op: Option<String>,
    /// Only operations that start at or after this time.
    #[serde(default, deserialize_with = "limits::instant")]
    pub from: Duration,
    /// Only this many operations (default: all from `from` on).
    pub times: Option<u32>,
    /// How long the operation takes (default 50 ms).
    #[serde(default, with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// With `duration`, a range: the executor draws from [duration, duration_max].
    #[serde(default, with = "humantime_serde")]
    pub duration_max: Option<Duration>,
    /// The OCF return code (default: what the agent would find).
    pub rc: Option<i32>,
    /// The operation never returns; the executor kills it at its timeout.
    #[serde(default)]
    pub hang: bool,
}

/// `[[pacemaker.operator]]`: one cibadmin request, run on `node`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    #[serde(deserialize_with = "limits::instant")]
    pub at: Duration,
    /// Where cibadmin runs (default: the first node).
    pub node: Option<String>,
    /// `standby` (target, value on/off), `maintenance-mode` (value),
    /// `property` (name, value), `target-role` (rsc, value), `meta` (rsc,
    /// name, value), `query` (cibadmin -Q: the CIB goes into the trace).
    pub request: String,
    pub target: Option<String>,
    pub rsc: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub value: String,
}

/// The CIB read from its file.
#[derive(Debug, Clone)]
pub struct LoadedCib {
    pub path: String,
    /// Pacemaker XML, whichever syntax the file used.
    pub xml: String,
    pub cib: hasim_cib::Cib,
}

impl LoadedCib {
    /// The addresses IPaddr2 resources bring up (the VIPs clients target).
    pub fn vips(&self) -> Vec<std::net::Ipv4Addr> {
        let mut out = Vec::new();
        collect_vips(&self.cib.resources, &mut out);
        out
    }
}

fn collect_vips(resources: &[hasim_cib::Resource], out: &mut Vec<std::net::Ipv4Addr>) {
    use hasim_cib::ResourceKind as K;
    for r in resources {
        match &r.kind {
            K::Primitive { agent, .. } if agent.as_deref() == Some("IPaddr2") => {
                let ip: Option<std::net::Ipv4Addr> = r
                    .sets
                    .iter()
                    .filter(|s| s.kind == hasim_cib::SetKind::Instance)
                    .flat_map(|s| &s.nvpairs)
                    .find(|nv| nv.name == "ip")
                    .and_then(|nv| nv.value.as_deref()?.parse().ok());
                out.extend(ip);
            }
            K::Group { children } => collect_vips(children, out),
            K::Clone { child, .. } => collect_vips(std::slice::from_ref(child), out),
            _ => {}
        }
    }
}

/// Read the CIB file: XML, crm syntax, or the crm blocks of a text
/// document (`.txt`, `.rst`: the seed documents' `crm configure` listings,
/// kept at their line numbers), with `extra` crm lines appended. Errors
/// name the file and line.
pub fn load_cib(path: &Path, extra: &str) -> Result<LoadedCib, String> {
    let shown = path.display().to_string();
    let text = crate::input::read_text(path, limits::MAX_SCENARIO_BYTES, "CIB file")?;
    let document = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("txt" | "rst")
    );
    let xml = if text.trim_start().starts_with('<') && !document {
        text
    } else {
        let mut crm = if document {
            hasim_crmsh::rst_crm_blocks(&text)
        } else {
            text
        };
        crm.push('\n');
        crm.push_str(extra);
        hasim_crmsh::to_cib_xml(&crm).map_err(|e| format!("{shown}:{}: {}", e.line, e.message))?
    };
    let cib = hasim_cib::Cib::from_xml(&xml).map_err(|e| format!("{shown}: {e}"))?;
    hasim_based::disk_image(&xml).map_err(|e| format!("{shown}: {e}"))?;
    Ok(LoadedCib {
        path: shown,
        xml,
        cib,
    })
}

impl Behaviour {
    pub fn rule(&self) -> BehaviourRule {
        let lo = self.duration.unwrap_or(Duration::from_millis(50));
        let hi = self.duration_max.unwrap_or(lo).max(lo);
        let outcome = match (self.hang, self.rc) {
            (true, _) => Outcome::Hang,
            (false, Some(rc)) => Outcome::Rc(rc),
            (false, None) => Outcome::Natural,
        };
        BehaviourRule {
            rsc: self.rsc.clone(),
            node: self.node.clone(),
            op: self.op.clone(),
            from: self.from,
            times: self.times,
            duration: (lo, hi),
            outcome,
        }
    }
}

impl Operator {
    /// The cibadmin operation; `node_ids` maps node names to their CIB ids.
    pub fn op(
        &self,
        node_ids: &BTreeMap<String, u32>,
        cib: &hasim_cib::Cib,
    ) -> Result<CibOp, String> {
        let tag = |rsc: &str| {
            resource_tag(&cib.resources, rsc)
                .ok_or_else(|| format!("unknown resource `{rsc}` for `rsc`"))
        };
        let need = |field: &Option<String>, what: &str| {
            field
                .clone()
                .ok_or_else(|| format!("request `{}` needs `{what}`", self.request))
        };
        Ok(match self.request.as_str() {
            "standby" => {
                let target = need(&self.target, "target")?;
                let id = node_ids
                    .get(&target)
                    .ok_or_else(|| format!("unknown node `{target}` for `target`"))?;
                cibops::set_node_attr(&id.to_string(), "standby", &self.value)
            }
            "query" => CibOp::Query,
            "maintenance-mode" => cibops::set_property("maintenance-mode", &self.value),
            "property" => cibops::set_property(&need(&self.name, "name")?, &self.value),
            "target-role" => {
                let rsc = need(&self.rsc, "rsc")?;
                cibops::set_resource_meta(tag(&rsc)?, &rsc, "target-role", &self.value)
            }
            "meta" => {
                let rsc = need(&self.rsc, "rsc")?;
                let name = need(&self.name, "name")?;
                cibops::set_resource_meta(tag(&rsc)?, &rsc, &name, &self.value)
            }
            other => {
                return Err(format!(
                    "unknown request `{other}`; expected one of standby, maintenance-mode, property, target-role, meta, query"
                ))
            }
        })
    }
}

/// The XML tag of resource `id` (primitive, group, clone, master, bundle).
fn resource_tag(resources: &[hasim_cib::Resource], id: &str) -> Option<&'static str> {
    use hasim_cib::ResourceKind as K;
    for r in resources {
        let tag = match &r.kind {
            K::Primitive { .. } => "primitive",
            K::Group { .. } => "group",
            K::Clone {
                legacy_master: true,
                ..
            } => "master",
            K::Clone { .. } => "clone",
            K::Bundle { .. } => "bundle",
        };
        if r.id == id {
            return Some(tag);
        }
        let inner = match &r.kind {
            K::Group { children } => resource_tag(children, id),
            K::Clone { child, .. } => resource_tag(std::slice::from_ref(child), id),
            K::Bundle { child: Some(c), .. } => resource_tag(std::slice::from_ref(c), id),
            _ => None,
        };
        if inner.is_some() {
            return inner;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_crm_line_is_named_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("hasim-crm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.crm");
        std::fs::write(&path, "property stonith-enabled=false\nprimitive\n").unwrap();
        let err = load_cib(&path, "").unwrap_err();
        assert!(err.contains("bad.crm:2:"), "{err}");
        let xml = dir.join("bad.xml");
        std::fs::write(&xml, "<cib><configuration>").unwrap();
        let err = load_cib(&xml, "").unwrap_err();
        assert!(err.contains("bad.xml"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn operator_requests_name_what_they_lack() {
        let cib = hasim_cib::Cib::from_xml(
            "<cib><configuration><crm_config/><nodes/><resources><primitive id=\"d\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/></resources><constraints/></configuration><status/></cib>",
        )
        .unwrap();
        let ids = BTreeMap::from([("node1".to_string(), 1)]);
        let op = |request: &str, rsc: Option<&str>| Operator {
            at: Duration::ZERO,
            node: None,
            request: request.into(),
            target: None,
            rsc: rsc.map(str::to_string),
            name: None,
            value: "Stopped".into(),
        };
        assert!(op("target-role", Some("d")).op(&ids, &cib).is_ok());
        let e = op("target-role", Some("nope")).op(&ids, &cib).unwrap_err();
        assert!(e.contains("unknown resource `nope`"), "{e}");
        let e = op("standby", None).op(&ids, &cib).unwrap_err();
        assert!(e.contains("needs `target`"), "{e}");
        assert!(op("reboot", None).op(&ids, &cib).is_err());
    }
}
