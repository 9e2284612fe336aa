//! The observer behind the HTML report: it watches a run's events and keeps
//! only what the timeline lanes show (power, pauses, VRRP states, VIPs,
//! memberships, quorum, client outcomes, faults), with a bound on the marks
//! per lane, so it can sit on any event stream: [`TimelineObserver::observe`]
//! takes typed events, [`TraceTap`] feeds it from the JSON-lines trace of a
//! run as it is written, and [`TimelineObserver::observe_line`] from a saved
//! trace file.

use crate::trace::Event;
use hasim_reports::html::{Band, Lane, Mark, Span, Timeline, Violation};
use hasim_reports::RunReport;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Client marks kept per lane; the rest are counted, not drawn.
pub const MAX_MARKS_PER_LANE: usize = 4000;

/// Lanes under construction.
#[derive(Default)]
pub struct TimelineObserver {
    lanes: BTreeMap<String, Lane>,
    /// Lane order: first appearance.
    order: Vec<String>,
    /// (lane, class key) -> index of the open span.
    open: BTreeMap<(String, String), usize>,
    bands: Vec<Band>,
    dropped: u64,
    last: f64,
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The key that pairs a fault with the fault that ends it.
fn band_key(what: &str) -> Option<(String, &'static str)> {
    let mut words = what.split_whitespace();
    let verb = words.next()?;
    let rest: Vec<&str> = words.collect();
    Some(match verb {
        "partition" => ("partition".into(), "partition"),
        "pause" => (format!("pause {}", rest.join(" ")), "pause"),
        "power-off" => (format!("power {}", rest.join(" ")), "power"),
        "link" => {
            let target: Vec<&str> = rest
                .iter()
                .filter(|w| w.starts_with("segment=") || w.contains("->"))
                .copied()
                .collect();
            (format!("link {}", target.join(" ")), "link")
        }
        _ => return None,
    })
}

/// The key a fault closes, if it ends an earlier one.
fn closes(what: &str) -> Option<String> {
    let (verb, rest) = what.split_once(' ').unwrap_or((what, ""));
    match verb {
        "heal" => Some("partition".into()),
        "resume" => Some(format!("pause {rest}")),
        "power-on" => Some(format!("power {rest}")),
        _ => None,
    }
}

impl TimelineObserver {
    pub fn new() -> Self {
        Self::default()
    }

    fn lane(&mut self, name: &str) -> &mut Lane {
        if !self.lanes.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.lanes.entry(name.to_string()).or_insert_with(|| Lane {
            name: name.to_string(),
            ..Lane::default()
        })
    }

    /// Close the span open under `key` on `lane`, if any.
    fn close(&mut self, lane: &str, key: &str, at: f64) {
        if let Some(i) = self.open.remove(&(lane.to_string(), key.to_string())) {
            if let Some(s) = self.lane(lane).spans.get_mut(i) {
                s.end = Some(at);
            }
        }
    }

    /// Close what is open under `key` and open a new span there.
    fn open(&mut self, lane: &str, key: &str, at: f64, class: &str, label: String) {
        self.close(lane, key, at);
        let spans = &mut self.lane(lane).spans;
        spans.push(Span {
            start: at,
            end: None,
            class: class.to_string(),
            label,
        });
        let i = spans.len() - 1;
        self.open.insert((lane.to_string(), key.to_string()), i);
    }

    fn mark(&mut self, lane: &str, at: f64, class: &str, label: String, by: Option<String>) {
        let marks = &mut self.lane(lane).marks;
        if marks.len() >= MAX_MARKS_PER_LANE {
            self.dropped += 1;
        } else {
            marks.push(Mark {
                at,
                class: class.to_string(),
                label,
                by,
            });
        }
    }

    fn fault(&mut self, at: f64, what: &str) {
        if let Some(key) = closes(what) {
            for b in self.bands.iter_mut().rev() {
                if b.end.is_none() && band_key(&b.label).is_some_and(|(k, _)| k == key) {
                    b.end = Some(at);
                }
            }
            return;
        }
        let Some((key, kind)) = band_key(what) else {
            return;
        };
        // A link change to the same link ends the previous one.
        for b in self.bands.iter_mut().rev() {
            if b.end.is_none()
                && kind == "link"
                && band_key(&b.label).is_some_and(|(k, _)| k == key)
            {
                b.end = Some(at);
                return;
            }
        }
        self.bands.push(Band {
            start: at,
            end: None,
            kind: kind.into(),
            label: what.to_string(),
        });
    }

    /// One typed event.
    pub fn observe(&mut self, t: Duration, event: &Event) {
        if matches!(event, Event::Deliver { .. } | Event::Drop { .. }) {
            return;
        }
        if let Ok(v) = serde_json::to_value(event) {
            self.observe_value(t.as_secs_f64(), &v);
        }
    }

    /// One line of a JSON-lines trace (`{"t_us":..,"event":..}`).
    pub fn observe_line(&mut self, line: &str) {
        // Datagram traffic is most of a trace and draws nothing: skip it unparsed.
        if line.contains("\"event\":\"deliver\"") || line.contains("\"event\":\"drop\"") {
            return;
        }
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            let t = v.get("t_us").and_then(Value::as_u64).unwrap_or(0) as f64 / 1e6;
            self.observe_value(t, &v);
        }
    }

    fn observe_value(&mut self, t: f64, v: &Value) {
        self.last = self.last.max(t);
        let node = text(v, "node");
        match text(v, "event").as_str() {
            "fault" => self.fault(t, &text(v, "what")),
            "power-off" => {
                self.close(&node, "vrrp", t);
                self.close(&node, "ring", t);
                self.close(&node, "quorum", t);
                self.open(&node, "power", t, "off", "power off".into());
            }
            "power-on" => self.open(&node, "power", t, "booting", "booting".into()),
            "boot" => self.close(&node, "power", t),
            "pause" => self.open(&node, "pause", t, "paused", "paused".into()),
            "resume" => self.close(&node, "pause", t),
            "vip-up" => {
                let vip = text(v, "vip");
                self.open(
                    &node,
                    &format!("vip {vip}"),
                    t,
                    "vip",
                    format!("holds {vip}"),
                );
            }
            "vip-down" => self.close(&node, &format!("vip {}", text(v, "vip")), t),
            "node" => self.node_event(t, &node, v),
            "answer" => {
                let by = text(v, "by");
                let label = format!("request {} answered by {by}", text(v, "id"));
                self.mark(&text(v, "client"), t, "answer", label, Some(by));
            }
            "timeout" => {
                let label = format!("request {} timed out", text(v, "id"));
                self.mark(&text(v, "client"), t, "timeout", label, None);
            }
            _ => {}
        }
    }

    fn node_event(&mut self, t: f64, node: &str, v: &Value) {
        match text(v, "kind").as_str() {
            "vrrp-state" => {
                let to = text(v, "to").to_lowercase();
                let class = match to.as_str() {
                    "master" => "master",
                    "backup" => "backup",
                    _ => "fault-state",
                };
                let label = format!("VRRP {} ({})", to.to_uppercase(), text(v, "reason"));
                self.open(node, "vrrp", t, class, label);
            }
            "membership" if text(v, "configuration") == "regular" => {
                let label = format!("ring {} members {}", text(v, "ring"), text(v, "members"));
                self.open(node, "ring", t, "ring", label);
            }
            "quorum" => {
                let quorate = v.get("quorate").and_then(Value::as_bool).unwrap_or(false);
                let (class, label) = if quorate {
                    ("quorate", "quorate")
                } else {
                    ("inquorate", "NOT quorate")
                };
                let label = format!(
                    "{label}, votes {} of {}",
                    text(v, "total_votes"),
                    text(v, "expected_votes")
                );
                self.open(node, "quorum", t, class, label);
            }
            _ => {}
        }
    }

    /// The timeline, with the violations and the summary from the report.
    pub fn finish(mut self, report: &RunReport) -> Timeline {
        let mut lanes = Vec::new();
        for name in std::mem::take(&mut self.order) {
            if let Some(lane) = self.lanes.remove(&name) {
                lanes.push(lane);
            }
        }
        let violations = report
            .verdicts
            .iter()
            .filter(|v| !v.held)
            .filter_map(|v| {
                Some(Violation {
                    at: v.first_broken_at?,
                    checker: v.checker.clone(),
                    expected: v.as_expected(),
                    detail: std::iter::once(v.summary.clone())
                        .chain(v.evidence.iter().cloned())
                        .collect::<Vec<_>>()
                        .join("; "),
                })
            })
            .collect();
        Timeline {
            title: format!("{} seed {}", report.scenario, report.seed),
            end: report.simulated_seconds.max(self.last),
            lanes,
            bands: self.bands,
            violations,
            summary: report.to_text(),
            dropped_marks: self.dropped,
        }
    }
}

/// A trace writer that feeds every complete line to a [`TimelineObserver`]
/// and passes the bytes on to the trace file, if there is one.
pub struct TraceTap {
    observer: Arc<Mutex<TimelineObserver>>,
    pending: Vec<u8>,
    inner: Option<Box<dyn Write + Send>>,
}

impl TraceTap {
    pub fn new(
        observer: Arc<Mutex<TimelineObserver>>,
        inner: Option<Box<dyn Write + Send>>,
    ) -> Self {
        TraceTap {
            observer,
            pending: Vec::new(),
            inner,
        }
    }
}

impl Write for TraceTap {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(inner) = &mut self.inner {
            inner.write_all(buf)?;
        }
        self.pending.extend_from_slice(buf);
        while let Some(nl) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            let mut observer = self.observer.lock().unwrap_or_else(|e| e.into_inner());
            observer.observe_line(&String::from_utf8_lossy(&line));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.inner {
            Some(inner) => inner.flush(),
            None => Ok(()),
        }
    }
}
