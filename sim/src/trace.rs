//! The run's event log: one ordered list of everything that happened, from
//! datagram deliveries to checker verdicts.
//!
//! Every event is serialised as one JSON line; the SHA-256 of all lines is
//! the trace hash. Two runs with the same scenario and seed must produce the
//! same bytes, so nothing here may depend on wall-clock time, hash-map order
//! or thread timing.

use crate::scenario::FaultAction;
use hasim_node::NodeEvent;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

/// Why the fabric did not deliver a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// Drawn from the link's loss rate.
    Loss,
    /// A partition separates sender and receiver.
    Partition,
    /// The receiver is powered off (or rebooting).
    NodeDown,
    /// Nobody on the segment has the destination address.
    NoRoute,
    /// The sender's ARP cache names a host that does not hold the address.
    NotLocal,
    /// ARP resolution found no reachable holder of the address.
    ArpFailed,
    /// Nothing listens on the destination port.
    PortUnreachable,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::NodeDown => "node-down",
            DropReason::NoRoute => "no-route",
            DropReason::NotLocal => "not-local",
            DropReason::ArpFailed => "arp-failed",
            DropReason::PortUnreachable => "port-unreachable",
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    Deliver {
        from: Arc<str>,
        to: Arc<str>,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        len: usize,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
    },
    Drop {
        from: Arc<str>,
        to: Option<Arc<str>>,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        reason: DropReason,
    },
    /// A fault was injected. Traced as its one-line description.
    Fault {
        #[serde(rename = "what", serialize_with = "serialize_fault")]
        action: FaultAction,
        source: &'static str,
    },
    /// An operator's cibadmin request, sent on `node` (not `delivered`
    /// when the node was not running: cibadmin fails).
    Operator {
        node: String,
        request: String,
        delivered: bool,
    },
    PowerOff {
        node: String,
    },
    /// The machine's watchdog fired (its SBD stopped feeding it): the
    /// power-off and power-on of the reset follow at once.
    WatchdogReset {
        node: String,
    },
    PowerOn {
        node: String,
    },
    /// Daemons started after power-on and boot delay.
    Boot {
        node: String,
    },
    Pause {
        node: String,
    },
    Resume {
        node: String,
    },
    VipUp {
        node: String,
        vip: Ipv4Addr,
    },
    VipDown {
        node: String,
        vip: Ipv4Addr,
    },
    Garp {
        node: String,
        vip: Ipv4Addr,
    },
    ArpLearn {
        host: String,
        vip: Ipv4Addr,
        owner: String,
    },
    /// A protocol event reported by a node daemon.
    Node {
        node: Arc<str>,
        #[serde(flatten)]
        detail: NodeEvent,
        /// For a VRRP takeover: another reachable running node was MASTER.
        #[serde(skip_serializing_if = "Option::is_none")]
        spurious: Option<bool>,
        /// For a VRRP takeover: time since the node last received an advert.
        #[serde(skip_serializing_if = "Option::is_none")]
        since_last_advert_us: Option<u64>,
    },
    Request {
        client: String,
        id: u64,
    },
    Answer {
        client: String,
        id: u64,
        by: String,
        rtt_us: u64,
    },
    Timeout {
        client: String,
        id: u64,
    },
    /// A power device switches a machine; the power change, if the
    /// machine's state allows one, follows at once.
    DevicePower {
        device: String,
        machine: String,
        on: bool,
    },
    /// What a power device did (executed, dropped, died, ...).
    Device {
        device: String,
        detail: hasim_powerdev::DeviceEvent,
    },
    Verdict {
        checker: String,
        held: bool,
        summary: String,
    },
    /// Server-side connections whose client went away (power, restart or
    /// address moved), per machine, at `[data] final_read_at`
    /// (`crate::half_open`).
    HalfOpen {
        host: String,
        connections: usize,
        longest_hang_ms: u64,
        still_open: usize,
    },
    /// A data client's whole history, handed over when it finished (the
    /// trace keeps its per-client figures; the data checkers the history).
    DataHistory {
        client: String,
        operations: usize,
        acknowledged: usize,
        failed: usize,
        unknown: usize,
        lost: usize,
        stale: usize,
        hung: usize,
        longest_hang_ms: u64,
        final_read: bool,
        #[serde(skip)]
        history: std::sync::Arc<hasim_data::History>,
    },
}

fn serialize_fault<S: serde::Serializer>(action: &FaultAction, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::faults::describe(action))
}

/// Where the trace goes: always into the hash, optionally into a file.
pub struct TraceSink {
    hasher: Sha256,
    /// The line being written, reused for every event.
    line: Vec<u8>,
    events: u64,
    file: Option<Box<dyn Write + Send>>,
    file_error: Option<String>,
}

impl TraceSink {
    pub fn new(file: Option<Box<dyn Write + Send>>) -> Self {
        Self {
            hasher: Sha256::new(),
            line: Vec::with_capacity(256),
            events: 0,
            file,
            file_error: None,
        }
    }

    /// Append one event at simulated time `t`.
    pub fn record(&mut self, t: Duration, event: &Event) {
        crate::trace_line::write(&mut self.line, t.as_micros() as u64, event);
        self.hasher.update(&self.line);
        self.events += 1;
        if let Some(file) = &mut self.file {
            if let Err(e) = file.write_all(&self.line) {
                self.file_error.get_or_insert(e.to_string());
            }
        }
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// Flush the file and return the hash (first 16 bytes, hex) or the
    /// first write error.
    pub fn finish(mut self) -> Result<(String, u64), String> {
        if let Some(file) = &mut self.file {
            if let Err(e) = file.flush() {
                self.file_error.get_or_insert(e.to_string());
            }
        }
        if let Some(e) = self.file_error {
            return Err(format!("cannot write trace file: {e}"));
        }
        let digest = self.hasher.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Ok((hex, self.events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event::Fault {
            action: FaultAction::Heal,
            source: "script",
        }
    }

    #[test]
    fn same_events_same_hash() {
        let mut a = TraceSink::new(None);
        let mut b = TraceSink::new(None);
        a.record(Duration::from_millis(5), &sample());
        b.record(Duration::from_millis(5), &sample());
        assert_eq!(a.finish().unwrap(), b.finish().unwrap());
    }

    #[test]
    fn time_changes_hash() {
        let mut a = TraceSink::new(None);
        let mut b = TraceSink::new(None);
        a.record(Duration::from_millis(5), &sample());
        b.record(Duration::from_millis(6), &sample());
        assert_ne!(a.finish().unwrap().0, b.finish().unwrap().0);
    }

    #[test]
    fn lines_are_json_with_time() {
        let mut line = Vec::new();
        crate::trace_line::write(&mut line, 1500, &sample());
        assert_eq!(
            String::from_utf8_lossy(&line),
            "{\"t_us\":1500,\"event\":\"fault\",\"what\":\"heal\",\"source\":\"script\"}\n"
        );
    }
}
