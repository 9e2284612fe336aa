//! What real-mode Pacemaker nodes (and power devices) print, as one view:
//! the DC each node follows, where resources are active (with the line's
//! own wall-clock time), fence results and power-offs.

use super::process::Daemon;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the processes printed so far, with each line's own wall-clock time
/// (RFC 3339, UTC, fixed width: comparable as text).
#[derive(Default)]
pub struct View {
    pub dc: BTreeMap<String, Option<String>>,
    /// Resource to (node, time it became active there).
    pub active: BTreeMap<String, Vec<(String, String)>>,
    /// Fence results: (target, ok, time).
    pub fenced: Vec<(String, bool, String)>,
    /// The PDU's power-off lines: (machine, time).
    pub powered_off: Vec<(String, String)>,
    /// Lines read.
    pub lines: usize,
}

impl View {
    pub fn absorb(&mut self, line: &str) {
        self.lines += 1;
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return;
        };
        let time = v["time"].as_str().unwrap_or_default().to_string();
        let detail = &v["detail"];
        if let Some(text) = detail["text"].as_str() {
            if let Some(rest) = text.split_once(": power off ").map(|(_, r)| r) {
                if let Some((machine, "machine is off")) = rest.split_once(": ") {
                    self.powered_off.push((machine.to_string(), time));
                }
            }
            return;
        }
        let finished = &detail["report"]["event"]["Finished"];
        if finished.is_object() && detail["kind"] == "fencing" {
            let target = finished["target"].as_str().unwrap_or_default().to_string();
            self.fenced.push((target, finished["ok"] == true, time));
            return;
        }
        let report = &detail["report"];
        let text = |key: &str| report[key].as_str().map(str::to_string);
        match report["event"].as_str() {
            Some("dc_changed") => {
                if let Some(node) = text("node") {
                    self.dc.insert(node, text("dc"));
                }
            }
            Some("resource_active") => {
                let (Some(node), Some(rsc)) = (text("node"), text("rsc")) else {
                    return;
                };
                let on = self.active.entry(rsc).or_default();
                on.retain(|(n, _)| *n != node);
                if report["active"].as_bool() == Some(true) {
                    on.push((node, time));
                }
            }
            _ => {}
        }
    }

    pub fn agreed_dc(&self, nodes: &[&str]) -> Option<String> {
        let first = self.dc.get(nodes[0])?.clone()?;
        let agree = nodes
            .iter()
            .all(|n| self.dc.get(*n).and_then(|d| d.as_deref()) == Some(first.as_str()));
        (agree && nodes.contains(&first.as_str())).then_some(first)
    }

    /// Where `rsc` runs, when it runs on exactly one node.
    pub fn holder(&self, rsc: &str) -> Option<&str> {
        match self.active.get(rsc).map(Vec::as_slice) {
            Some([(one, _)]) => Some(one),
            _ => None,
        }
    }

    /// The nodes among `nodes` where `rsc` is active.
    pub fn on(&self, rsc: &str, nodes: &[&str]) -> Vec<(String, String)> {
        let on = self.active.get(rsc).cloned().unwrap_or_default();
        on.into_iter()
            .filter(|(n, _)| nodes.contains(&n.as_str()))
            .collect()
    }
}

/// Read every daemon's output into `view` until `done` holds or `limit`
/// passes; whether `done` held.
pub fn watch(
    daemons: &[&Daemon],
    view: &mut View,
    limit: Duration,
    done: impl Fn(&View) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        for daemon in daemons {
            while let Some(line) = daemon.next_line(Duration::from_millis(5)) {
                view.absorb(&line);
            }
        }
        if done(view) {
            return true;
        }
    }
    false
}
