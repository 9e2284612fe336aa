//! A `[[fault]]` table as written, and its check into a [`Fault`].
//!
//! The table is read into one flat struct that knows every key any action
//! takes (so a misspelt key is an error with its position), then each action
//! accepts exactly its own keys: a `heal` with a `node`, or a `pause` with
//! `groups`, is refused instead of silently ignored.

use crate::limits;
use crate::scenario::{Fault, FaultAction};
use serde::Deserialize;
use std::time::Duration;

/// Which action a fault takes, as spelt in the file.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ActionName {
    Partition,
    Heal,
    Link,
    Pause,
    Resume,
    PowerOff,
    PowerOn,
    DeviceFault,
}

impl ActionName {
    fn as_str(self) -> &'static str {
        match self {
            ActionName::Partition => "partition",
            ActionName::Heal => "heal",
            ActionName::Link => "link",
            ActionName::Pause => "pause",
            ActionName::Resume => "resume",
            ActionName::PowerOff => "power-off",
            ActionName::PowerOn => "power-on",
            ActionName::DeviceFault => "device-fault",
        }
    }

    /// The keys this action takes besides `at`, `jitter` and `action`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            ActionName::Partition => &["groups", "one_way"],
            ActionName::Heal => &[],
            ActionName::Link => &[
                "segment",
                "from",
                "to",
                "loss",
                "latency",
                "link_jitter",
                "duplicate",
                "reorder",
            ],
            ActionName::Pause | ActionName::Resume | ActionName::PowerOff | ActionName::PowerOn => {
                &["node"]
            }
            ActionName::DeviceFault => &["device", "mode", "latency"],
        }
    }
}

/// Every key a `[[fault]]` table may hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    #[serde(deserialize_with = "limits::instant")]
    at: Duration,
    #[serde(default, deserialize_with = "limits::opt_instant")]
    jitter: Option<Duration>,
    action: ActionName,
    groups: Option<Vec<Vec<String>>>,
    one_way: Option<bool>,
    segment: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(default, deserialize_with = "limits::opt_probability")]
    loss: Option<f64>,
    #[serde(default, deserialize_with = "limits::opt_delay")]
    latency: Option<Duration>,
    /// The link's delay jitter (`jitter` itself moves the fault in time).
    #[serde(default, deserialize_with = "limits::opt_delay")]
    link_jitter: Option<Duration>,
    #[serde(default, deserialize_with = "limits::opt_probability")]
    duplicate: Option<f64>,
    #[serde(default, deserialize_with = "limits::opt_probability")]
    reorder: Option<f64>,
    node: Option<String>,
    /// A power device's name (`device-fault`).
    device: Option<String>,
    /// `device-fault`'s mode: unreachable, failing, slow (by `latency`), healthy.
    mode: Option<String>,
}

impl FaultFile {
    /// The optional keys that are present, by name.
    fn present(&self) -> Vec<&'static str> {
        let flags = [
            ("groups", self.groups.is_some()),
            ("one_way", self.one_way.is_some()),
            ("segment", self.segment.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("loss", self.loss.is_some()),
            ("latency", self.latency.is_some()),
            ("link_jitter", self.link_jitter.is_some()),
            ("duplicate", self.duplicate.is_some()),
            ("reorder", self.reorder.is_some()),
            ("node", self.node.is_some()),
            ("device", self.device.is_some()),
            ("mode", self.mode.is_some()),
        ];
        flags.iter().filter(|(_, p)| *p).map(|(k, _)| *k).collect()
    }
}

impl FaultFile {
    /// The first key present that the table's action does not take.
    pub fn misplaced_key(&self) -> Option<&'static str> {
        self.present()
            .into_iter()
            .find(|k| !self.action.keys().contains(k))
    }
}

/// Byte offset in `text` of the line `key = ...` of the table whose header
/// starts at `table_start`, so an error about the key points at its line
/// rather than at the `[[fault]]` header. `None` if it is not found before
/// the next table.
pub fn key_offset(text: &str, table_start: usize, key: &str) -> Option<usize> {
    let rest = text.get(table_start..)?;
    let mut offset = table_start;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if i > 0 && trimmed.starts_with('[') {
            return None;
        }
        let after = trimmed.strip_prefix(key).map(str::trim_start);
        if i > 0 && after.is_some_and(|a| a.starts_with('=')) {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    None
}

impl TryFrom<FaultFile> for Fault {
    type Error = String;

    fn try_from(file: FaultFile) -> Result<Fault, String> {
        let name = file.action;
        if let Some(key) = file.misplaced_key() {
            return Err(format!(
                "key `{key}` does not apply to action `{}`; it takes {}",
                name.as_str(),
                describe_keys(name.keys())
            ));
        }
        let need_node = |node: Option<String>| {
            node.ok_or_else(|| format!("action `{}` needs `node`", name.as_str()))
        };
        let action = match name {
            ActionName::Partition => FaultAction::Partition {
                groups: file
                    .groups
                    .ok_or("action `partition` needs `groups = [[\"a\"], [\"b\"]]`")?,
                one_way: file.one_way.unwrap_or(false),
            },
            ActionName::Heal => FaultAction::Heal,
            ActionName::Link => FaultAction::Link {
                segment: file.segment,
                from: file.from,
                to: file.to,
                loss: file.loss,
                latency: file.latency,
                jitter: file.link_jitter,
                duplicate: file.duplicate,
                reorder: file.reorder,
            },
            ActionName::Pause => FaultAction::Pause {
                node: need_node(file.node)?,
            },
            ActionName::Resume => FaultAction::Resume {
                node: need_node(file.node)?,
            },
            ActionName::PowerOff => FaultAction::PowerOff {
                node: need_node(file.node)?,
            },
            ActionName::PowerOn => FaultAction::PowerOn {
                node: need_node(file.node)?,
            },
            ActionName::DeviceFault => device_fault(file.device, file.mode, file.latency)?,
        };
        Ok(Fault {
            at: file.at,
            jitter: file.jitter,
            action,
        })
    }
}

/// `action = "device-fault"`: which device, which failure mode.
fn device_fault(
    device: Option<String>,
    mode: Option<String>,
    latency: Option<Duration>,
) -> Result<FaultAction, String> {
    use hasim_powerdev::DeviceFault as D;
    let device = device.ok_or("action `device-fault` needs `device`, a power device's name")?;
    let mode = mode
        .ok_or("action `device-fault` needs `mode`: one of unreachable, failing, slow, healthy")?;
    let fault = match (mode.as_str(), latency) {
        ("slow", Some(extra)) => D::Slow { extra },
        ("slow", None) => return Err("mode `slow` needs `latency`, the extra delay".into()),
        (_, Some(_)) => return Err("`latency` applies to mode `slow` only".into()),
        ("unreachable", None) => D::Unreachable,
        ("failing", None) => D::Failing,
        ("healthy", None) => D::Healthy,
        (other, None) => {
            return Err(format!(
                "unknown mode `{other}`; expected one of unreachable, failing, slow, healthy"
            ))
        }
    };
    Ok(FaultAction::DeviceFault { device, fault })
}

fn describe_keys(keys: &[&str]) -> String {
    if keys.is_empty() {
        "none besides `at` and `jitter`".to_string()
    } else {
        let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        quoted.join(", ")
    }
}
