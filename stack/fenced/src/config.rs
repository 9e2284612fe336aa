//! The fencing configuration the fencer reads from the CIB.
//!
//! Cluster options (lib/common/options.c, Pacemaker 2.1.5 defaults),
//! stonith resources (class `stonith`) with their `pcmk_*` parameters
//! (daemons/fenced/fenced_commands.c), the `fencing-topology` levels, and
//! `-INFINITY` location constraints that keep a device off a node (fenced
//! registers a device only where the scheduler would allow it to run).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hasim_cib::{AttrSet, Cib, Constraint, Element, Resource, ResourceKind, SetKind};
use serde::{Deserialize, Serialize};

use crate::interval::{parse_ms, parse_whole_seconds};

/// A fencing action (stonith-action and the fence API's actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FenceAction {
    Off,
    On,
    Reboot,
}

impl FenceAction {
    pub fn name(self) -> &'static str {
        match self {
            FenceAction::Off => "off",
            FenceAction::On => "on",
            FenceAction::Reboot => "reboot",
        }
    }
}

/// What a node does when told it was fenced while it is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FenceReaction {
    /// The controller exits (`crm_exit(CRM_EX_FATAL)`); pacemakerd then stops the node.
    Stop,
    /// The host panics (reboots) at once.
    Panic,
}

/// `no-quorum-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NoQuorumPolicy {
    Stop,
    Freeze,
    Ignore,
    Demote,
    Fence,
}

/// How a device decides which targets it can fence (`pcmk_host_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HostCheck {
    StaticList,
    /// The agent's `list` output; hasim's devices list the hosts of their
    /// `pcmk_host_map`/`pcmk_host_list`.
    DynamicList,
    /// Ask the agent's `status` with the target as plug. A port-less agent
    /// such as fence_ipmilan answers for its one machine whatever the plug,
    /// so such a device claims every target (a classic misconfiguration).
    Status,
    None,
}

/// `pcmk_delay_base`: one value or a per-target map (`node1:1s;node2:5s`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DelayBase {
    pub all: u64,
    pub per_target: Vec<(String, u64)>,
    /// True when the value was a map: a target not in it gets 0.
    pub is_map: bool,
}

impl DelayBase {
    /// fenced_commands.c `get_action_delay_base`: a map entry whose name is
    /// a case-insensitive prefix match of the target (strncasecmp over the
    /// entry's length) wins; with a map and no match the base is 0.
    pub fn for_target(&self, target: &str) -> u64 {
        if !self.is_map {
            return self.all;
        }
        let t = target.to_ascii_lowercase();
        self.per_target
            .iter()
            .find(|(name, _)| t.starts_with(&name.to_ascii_lowercase()))
            .map(|(_, s)| *s)
            .unwrap_or(0)
    }
}

/// One stonith resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    /// Agent type (`fence_ipmilan`, `fence_apc_snmp`, ...).
    pub agent: String,
    /// Management address (`ip` or `ipaddr` instance attribute).
    pub address: String,
    pub host_check: HostCheck,
    pub host_list: Vec<String>,
    /// Target -> outlet (`pcmk_host_map` values are plugs).
    pub host_map: BTreeMap<String, u16>,
    /// The device's own `plug`/`port`, used when the map has no entry.
    pub plug: u16,
    pub delay_base: DelayBase,
    /// `pcmk_delay_max` in whole seconds.
    pub delay_max: u64,
    /// `pcmk_<action>_timeout` in whole seconds.
    pub action_timeouts: BTreeMap<FenceAction, u64>,
    /// `pcmk_<action>_retries` (agent executions per device, default 2).
    pub retries: BTreeMap<FenceAction, u32>,
    /// Nodes where a -INFINITY location keeps the device from running.
    pub banned_on: BTreeSet<String>,
}

/// lib/fencing/st_actions.c FAILURE_MAX_RETRIES.
pub const DEFAULT_RETRIES: u32 = 2;

impl Device {
    /// Whether the device, as registered on `local`, can fence `target`
    /// (fenced_commands.c `can_fence_host_with_device`; a device never
    /// fences the node it runs on, `localhost_is_eligible` without suicide).
    pub fn can_fence(&self, local: &str, target: &str) -> bool {
        if self.banned_on.contains(local) || local.eq_ignore_ascii_case(target) {
            return false;
        }
        let listed = || {
            self.host_list
                .iter()
                .any(|h| h.eq_ignore_ascii_case(target))
                || self.host_map.keys().any(|h| h.eq_ignore_ascii_case(target))
        };
        match self.host_check {
            HostCheck::None | HostCheck::Status => true,
            HostCheck::StaticList | HostCheck::DynamicList => listed(),
        }
    }

    pub fn plug_for(&self, target: &str) -> u16 {
        self.host_map
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(target))
            .map(|(_, p)| *p)
            .unwrap_or(self.plug)
    }

    pub fn retries_for(&self, action: FenceAction) -> u32 {
        self.retries
            .get(&action)
            .copied()
            .unwrap_or(DEFAULT_RETRIES)
    }
}

/// One `fencing-level`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub target: String,
    pub index: u32,
    pub devices: Vec<String>,
}

/// Everything the fencer and the fencing rules need from the CIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencingConfig {
    pub stonith_enabled: bool,
    pub stonith_action: FenceAction,
    /// stonith-timeout in whole seconds (fenced's base timeout).
    pub stonith_timeout: u64,
    pub stonith_max_attempts: u32,
    pub concurrent_fencing: bool,
    pub priority_fencing_delay: u64,
    pub fence_reaction: FenceReaction,
    pub no_quorum_policy: NoQuorumPolicy,
    /// stonith-watchdog-timeout; negative means 2 × the local SBD timeout.
    pub stonith_watchdog_timeout_ms: i64,
    pub devices: Vec<Device>,
    /// Levels per target, sorted by index.
    pub topology: BTreeMap<String, Vec<Level>>,
}

/// A CIB that does not describe a usable fencing configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}{}: {message}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
pub struct ConfigError {
    pub what: String,
    pub line: Option<usize>,
    pub message: String,
}

fn err(what: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        what: what.into(),
        line,
        message: message.into(),
    }
}

impl Default for FencingConfig {
    fn default() -> Self {
        FencingConfig {
            stonith_enabled: true,
            stonith_action: FenceAction::Reboot,
            stonith_timeout: 60,
            stonith_max_attempts: 10,
            concurrent_fencing: false,
            priority_fencing_delay: 0,
            fence_reaction: FenceReaction::Stop,
            no_quorum_policy: NoQuorumPolicy::Stop,
            stonith_watchdog_timeout_ms: 0,
            devices: Vec::new(),
            topology: BTreeMap::new(),
        }
    }
}

impl FencingConfig {
    pub fn from_cib(cib: &Cib) -> Result<FencingConfig, ConfigError> {
        let mut cfg = FencingConfig::default();
        let options = nvpairs(&cib.crm_config, SetKind::ClusterProperty);
        for (name, value) in &options {
            cfg.apply_option(name, value)?;
        }
        for rsc in cib.primitives() {
            if let Some(dev) = device(rsc, &cib.constraints)? {
                cfg.devices.push(dev);
            }
        }
        for section in &cib.other_config {
            if section.name == "fencing-topology" {
                cfg.topology = topology(section, &cfg.devices)?;
            }
        }
        Ok(cfg)
    }

    fn apply_option(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |expected: &str| {
            err(
                format!("cluster option {name}"),
                None,
                format!("expected {expected}, found {value:?}"),
            )
        };
        match name {
            "stonith-enabled" => {
                self.stonith_enabled = boolean(value).ok_or_else(|| bad("a boolean"))?
            }
            "concurrent-fencing" => {
                self.concurrent_fencing = boolean(value).ok_or_else(|| bad("a boolean"))?
            }
            "stonith-action" => {
                self.stonith_action = match value {
                    "reboot" => FenceAction::Reboot,
                    "off" | "poweroff" => FenceAction::Off,
                    _ => return Err(bad("reboot or off")),
                }
            }
            "stonith-timeout" => {
                self.stonith_timeout =
                    parse_whole_seconds(value).ok_or_else(|| bad("an interval"))?
            }
            "stonith-max-attempts" => {
                let n: i64 = value.parse().map_err(|_| bad("an integer"))?;
                // controld_fencing.c: values below 1 fall back to 10.
                self.stonith_max_attempts = if n < 1 {
                    10
                } else {
                    n.min(u32::MAX as i64) as u32
                };
            }
            "priority-fencing-delay" => {
                self.priority_fencing_delay =
                    parse_whole_seconds(value).ok_or_else(|| bad("an interval"))?
            }
            "fence-reaction" => {
                self.fence_reaction = if value == "panic" {
                    FenceReaction::Panic
                } else {
                    FenceReaction::Stop
                }
            }
            "no-quorum-policy" => {
                self.no_quorum_policy =
                    no_quorum_policy(value).ok_or_else(|| bad("stop|freeze|ignore|demote|fence"))?
            }
            "stonith-watchdog-timeout" => {
                self.stonith_watchdog_timeout_ms =
                    watchdog_ms(value).ok_or_else(|| bad("an interval or a negative number"))?
            }
            _ => {}
        }
        Ok(())
    }

    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }

    /// Levels for a target, or empty when no topology names it.
    pub fn levels_for(&self, target: &str) -> &[Level] {
        self.topology
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(target))
            .map(|(_, l)| l.as_slice())
            .unwrap_or(&[])
    }

    pub fn stonith_timeout_duration(&self) -> Duration {
        Duration::from_secs(self.stonith_timeout)
    }
}

fn boolean(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "1" => Some(true),
        "false" | "no" | "off" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn no_quorum_policy(v: &str) -> Option<NoQuorumPolicy> {
    Some(match v {
        "stop" => NoQuorumPolicy::Stop,
        "freeze" => NoQuorumPolicy::Freeze,
        "ignore" => NoQuorumPolicy::Ignore,
        "demote" => NoQuorumPolicy::Demote,
        "fence" | "suicide" => NoQuorumPolicy::Fence,
        _ => return None,
    })
}

fn watchdog_ms(v: &str) -> Option<i64> {
    if let Some(neg) = v.trim().strip_prefix('-') {
        return neg.parse::<i64>().ok().map(|_| -1);
    }
    parse_ms(v).map(|ms| ms as i64)
}

/// Name/value pairs of the sets of `kind`, first occurrence wins (rules and
/// set scores are not evaluated: fencing options are plain values).
fn nvpairs(sets: &[AttrSet], kind: SetKind) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for set in sets.iter().filter(|s| s.kind == kind) {
        for nv in &set.nvpairs {
            if let Some(v) = &nv.value {
                out.entry(nv.name.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    out
}

fn device(rsc: &Resource, constraints: &[Constraint]) -> Result<Option<Device>, ConfigError> {
    let ResourceKind::Primitive {
        class: Some(class),
        agent,
        ..
    } = &rsc.kind
    else {
        return Ok(None);
    };
    if class != "stonith" {
        return Ok(None);
    }
    let what = format!("stonith resource '{}'", rsc.id);
    let p = nvpairs(&rsc.sets, SetKind::Instance);
    let seconds = |key: &str| -> Result<Option<u64>, ConfigError> {
        p.get(key)
            .map(|v| {
                parse_whole_seconds(v).ok_or_else(|| {
                    err(
                        &what,
                        None,
                        format!("{key}: expected an interval, found {v:?}"),
                    )
                })
            })
            .transpose()
    };
    let mut dev = Device {
        id: rsc.id.clone(),
        agent: agent.clone().unwrap_or_default(),
        address: p.get("ip").or(p.get("ipaddr")).cloned().unwrap_or_default(),
        host_check: HostCheck::Status,
        host_list: p
            .get("pcmk_host_list")
            .map(|v| split_list(v))
            .unwrap_or_default(),
        host_map: p
            .get("pcmk_host_map")
            .map(|v| host_map(&what, v))
            .transpose()?
            .unwrap_or_default(),
        plug: p
            .get("plug")
            .or(p.get("port"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        delay_base: p
            .get("pcmk_delay_base")
            .map(|v| delay_base(&what, v))
            .transpose()?
            .unwrap_or_default(),
        delay_max: seconds("pcmk_delay_max")?.unwrap_or(0),
        action_timeouts: BTreeMap::new(),
        retries: BTreeMap::new(),
        banned_on: banned_nodes(&rsc.id, constraints),
    };
    for action in [FenceAction::Off, FenceAction::On, FenceAction::Reboot] {
        if let Some(t) = seconds(&format!("pcmk_{}_timeout", action.name()))? {
            dev.action_timeouts.insert(action, t);
        }
        let key = format!("pcmk_{}_retries", action.name());
        if let Some(v) = p.get(&key) {
            let n = v
                .parse()
                .map_err(|_| err(&what, None, format!("{key}: expected a count, found {v:?}")))?;
            dev.retries.insert(action, n);
        }
    }
    dev.host_check = host_check(&what, p.get("pcmk_host_check"), &dev)?;
    Ok(Some(dev))
}

/// fenced_commands.c `target_list_type`: explicit value, else static-list
/// when a list or map is given, else what the agent supports.
fn host_check(what: &str, value: Option<&String>, dev: &Device) -> Result<HostCheck, ConfigError> {
    Ok(match value.map(String::as_str) {
        Some("static-list") => HostCheck::StaticList,
        Some("dynamic-list") => HostCheck::DynamicList,
        Some("status") => HostCheck::Status,
        Some("none") => HostCheck::None,
        Some(other) => {
            return Err(err(
                what,
                None,
                format!(
                "pcmk_host_check: expected static-list|dynamic-list|status|none, found {other:?}"
            ),
            ))
        }
        None if !dev.host_list.is_empty() || !dev.host_map.is_empty() => HostCheck::StaticList,
        None => HostCheck::Status,
    })
}

fn split_list(v: &str) -> Vec<String> {
    v.split([' ', ',', ';', '\t'])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `pcmk_host_map`: `node:plug` or `node=plug` entries separated by `;`, space or tab.
fn host_map(what: &str, v: &str) -> Result<BTreeMap<String, u16>, ConfigError> {
    let mut out = BTreeMap::new();
    for entry in v.split([';', ' ', '\t']).filter(|s| !s.is_empty()) {
        let (node, plug) = entry.split_once([':', '=']).ok_or_else(|| {
            err(
                what,
                None,
                format!("pcmk_host_map entry {entry:?}: expected node:plug"),
            )
        })?;
        let plug = plug.parse().map_err(|_| {
            err(
                what,
                None,
                format!("pcmk_host_map entry {entry:?}: plug must be an outlet number"),
            )
        })?;
        out.insert(node.to_string(), plug);
    }
    Ok(out)
}

fn delay_base(what: &str, v: &str) -> Result<DelayBase, ConfigError> {
    if !v.contains(':') {
        let all = parse_whole_seconds(v).ok_or_else(|| {
            err(
                what,
                None,
                format!("pcmk_delay_base: expected an interval, found {v:?}"),
            )
        })?;
        return Ok(DelayBase {
            all,
            per_target: Vec::new(),
            is_map: false,
        });
    }
    let mut per_target = Vec::new();
    for entry in v.split([';', ' ', '\t']).filter(|s| !s.is_empty()) {
        let (node, value) = entry.split_once(':').ok_or_else(|| {
            err(
                what,
                None,
                format!("pcmk_delay_base entry {entry:?}: expected node:interval"),
            )
        })?;
        let secs = parse_whole_seconds(value).ok_or_else(|| {
            err(
                what,
                None,
                format!("pcmk_delay_base entry {entry:?}: expected an interval"),
            )
        })?;
        per_target.push((node.to_string(), secs));
    }
    Ok(DelayBase {
        all: 0,
        per_target,
        is_map: true,
    })
}

fn banned_nodes(rsc: &str, constraints: &[Constraint]) -> BTreeSet<String> {
    constraints
        .iter()
        .filter(|c| matches!(c, Constraint::Location { .. }))
        .filter(|c| c.attr("rsc") == Some(rsc))
        .filter(|c| matches!(c.attr("score"), Some("-INFINITY") | Some("-inf")))
        .filter_map(|c| c.attr("node").map(str::to_string))
        .collect()
}

fn topology(
    section: &Element,
    devices: &[Device],
) -> Result<BTreeMap<String, Vec<Level>>, ConfigError> {
    let mut out: BTreeMap<String, Vec<Level>> = BTreeMap::new();
    for el in section
        .children
        .iter()
        .filter(|c| c.name == "fencing-level")
    {
        let line = Some(el.line);
        let what = format!("fencing-level '{}'", el.attr("id").unwrap_or("?"));
        let target = el
            .attr("target")
            .ok_or_else(|| err(&what, line, "hasim supports levels with target=; target-pattern and target-attribute are not modelled"))?;
        let index: u32 = el
            .attr("index")
            .and_then(|i| i.parse().ok())
            .filter(|i| (1..=9).contains(i))
            .ok_or_else(|| err(&what, line, "index: expected 1..9"))?;
        let list = el
            .attr("devices")
            .ok_or_else(|| err(&what, line, "devices: expected a comma-separated list"))?;
        let devs: Vec<String> = list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(unknown) = devs.iter().find(|d| !devices.iter().any(|x| &x.id == *d)) {
            return Err(err(
                &what,
                line,
                format!("device {unknown:?} is not a stonith resource"),
            ));
        }
        out.entry(target.to_string()).or_default().push(Level {
            target: target.to_string(),
            index,
            devices: devs,
        });
    }
    for levels in out.values_mut() {
        levels.sort_by_key(|l| l.index);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests;
