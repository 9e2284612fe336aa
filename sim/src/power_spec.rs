//! `[[power_device]]`: a BMC or PDU on the management network (see
//! `power`, which runs them).

use hasim_powerdev::{DeviceConfig, DeviceKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;
use toml::Spanned;

fn default_device_latency() -> Duration {
    Duration::from_millis(100)
}

fn default_segment() -> String {
    "ring0".into()
}

/// `[[power_device]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerDeviceSpec {
    #[serde(deserialize_with = "crate::names::host_name")]
    pub name: Spanned<String>,
    /// `bmc` (one machine, outlet 0) or `pdu` (outlets).
    pub kind: Spanned<String>,
    /// The device's address on `segment` (a stonith primitive's `ipaddr`).
    pub address: Ipv4Addr,
    #[serde(default = "default_segment")]
    pub segment: String,
    /// A BMC's machine.
    pub host: Option<String>,
    /// A BMC that draws standby power from its host's supply dies with it.
    #[serde(default)]
    pub dies_with_host: bool,
    /// A PDU's outlets: outlet number (as a string key) -> machine.
    #[serde(default)]
    pub outlets: BTreeMap<String, String>,
    /// Time from a request's arrival to the reply (and the power change).
    #[serde(default = "default_device_latency", with = "humantime_serde")]
    pub latency: Duration,
}

impl PowerDeviceSpec {
    /// The device core's configuration, or what is wrong with the table.
    pub fn config(&self, nodes: &[&str]) -> Result<DeviceConfig, String> {
        let known = |m: &str| {
            if nodes.contains(&m) {
                Ok(())
            } else {
                Err(format!("unknown node `{m}`; expected one of {nodes:?}"))
            }
        };
        let kind = match self.kind.get_ref().as_str() {
            "bmc" => {
                let host = self
                    .host
                    .clone()
                    .ok_or("a BMC needs `host`, the machine it is in")?;
                known(&host)?;
                if !self.outlets.is_empty() {
                    return Err("a BMC has no `outlets` (its chassis is outlet 0)".into());
                }
                DeviceKind::Bmc {
                    host,
                    dies_with_host: self.dies_with_host,
                }
            }
            "pdu" => {
                if self.host.is_some() || self.dies_with_host {
                    return Err("a PDU has `outlets`, not `host` or `dies_with_host`".into());
                }
                if self.outlets.is_empty() {
                    return Err("a PDU needs `outlets = { \"1\" = \"node1\", ... }`".into());
                }
                let mut outlets = BTreeMap::new();
                for (k, m) in &self.outlets {
                    let n: u16 = k
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("outlet `{k}`: expected a number from 1"))?;
                    known(m)?;
                    outlets.insert(n, m.clone());
                }
                DeviceKind::Pdu { outlets }
            }
            other => {
                return Err(format!(
                    "unknown device kind `{other}`; expected bmc or pdu"
                ))
            }
        };
        Ok(DeviceConfig {
            name: self.name.get_ref().clone(),
            address: self.address.to_string(),
            kind,
            latency: self.latency,
        })
    }
}
