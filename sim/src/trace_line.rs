//! One trace line as bytes: `{"t_us":N,` followed by the event's own JSON
//! fields, exactly as serde_json writes them.
//!
//! Datagram deliveries and drops, and the test load's sends and deliveries,
//! are most of a run's events, so they are written by hand (integers and addresses without `fmt`, into a reused
//! buffer); every other event goes through serde_json. The unit tests hold
//! the two paths to the same bytes, and the golden trace hashes hold them to
//! what earlier versions wrote.

use crate::trace::Event;
use hasim_node::NodeEvent;
use std::net::SocketAddrV4;

/// Write `event` at `t_us` as one JSON line (with its newline) into `out`,
/// which is cleared first.
pub fn write(out: &mut Vec<u8>, t_us: u64, event: &Event) {
    out.clear();
    if write_datagram(out, t_us, event) {
        return;
    }
    out.clear();
    out.extend_from_slice(b"{\"t_us\":");
    push_u64(out, t_us);
    out.push(b',');
    let open = out.len();
    match serde_json::to_writer(&mut *out, event) {
        // The event's own `{` gives way to the line's.
        Ok(()) if out.get(open) == Some(&b'{') => {
            out.remove(open);
        }
        result => {
            out.truncate(open);
            let why = result
                .err()
                .map_or("not an object".to_string(), |e| e.to_string());
            let why = why.replace(['"', '\\'], "'");
            out.extend_from_slice(b"\"event\":\"unserialisable\",\"error\":\"");
            out.extend_from_slice(why.as_bytes());
            out.extend_from_slice(b"\"}");
        }
    }
    out.push(b'\n');
}

/// The hand-written path for deliveries and drops; false (and `out` left in
/// any state) for every other event, or a name that would need escaping.
fn write_datagram(out: &mut Vec<u8>, t_us: u64, event: &Event) -> bool {
    match event {
        Event::Deliver {
            from,
            to,
            src,
            dst,
            len,
            duplicate,
        } if plain(from) && plain(to) => {
            head(out, t_us, "deliver", from);
            out.extend_from_slice(b",\"to\":\"");
            out.extend_from_slice(to.as_bytes());
            out.push(b'"');
            addresses(out, src, dst);
            out.extend_from_slice(b",\"len\":");
            push_u64(out, *len as u64);
            if *duplicate {
                out.extend_from_slice(b",\"duplicate\":true");
            }
        }
        Event::Drop {
            from,
            to,
            src,
            dst,
            reason,
        } if plain(from) && to.as_deref().is_none_or(plain) => {
            head(out, t_us, "drop", from);
            match to {
                Some(to) => {
                    out.extend_from_slice(b",\"to\":\"");
                    out.extend_from_slice(to.as_bytes());
                    out.push(b'"');
                }
                None => out.extend_from_slice(b",\"to\":null"),
            }
            addresses(out, src, dst);
            out.extend_from_slice(b",\"reason\":\"");
            out.extend_from_slice(reason.as_str().as_bytes());
            out.push(b'"');
        }
        Event::Node {
            node,
            detail,
            spurious: None,
            since_last_advert_us: None,
        } if plain(node) => return write_load(out, t_us, node, detail),
        _ => return false,
    }
    out.extend_from_slice(b"}\n");
    true
}

/// The test load's sends and deliveries, the most frequent node events.
fn write_load(out: &mut Vec<u8>, t_us: u64, node: &str, detail: &NodeEvent) -> bool {
    let start = |out: &mut Vec<u8>, kind: &str| {
        out.extend_from_slice(b"{\"t_us\":");
        push_u64(out, t_us);
        out.extend_from_slice(b",\"event\":\"node\",\"node\":\"");
        out.extend_from_slice(node.as_bytes());
        out.extend_from_slice(b"\",\"kind\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.push(b'"');
    };
    match detail {
        NodeEvent::TotemSent { counter } => {
            start(out, "totem-sent");
            field(out, "counter", *counter);
        }
        NodeEvent::TotemDeliver {
            sender,
            boot,
            counter,
            ring,
            seq,
        } if plain(ring) => {
            start(out, "totem-deliver");
            field(out, "sender", u64::from(*sender));
            field(out, "boot", *boot);
            field(out, "counter", *counter);
            out.extend_from_slice(b",\"ring\":\"");
            out.extend_from_slice(ring.as_bytes());
            out.push(b'"');
            field(out, "seq", u64::from(*seq));
        }
        _ => return false,
    }
    out.extend_from_slice(b"}\n");
    true
}

fn field(out: &mut Vec<u8>, name: &str, value: u64) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    push_u64(out, value);
}

/// A string serde_json writes as it is (no escapes).
fn plain(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x80).contains(&b) && b != b'"' && b != b'\\')
}

fn head(out: &mut Vec<u8>, t_us: u64, kind: &str, from: &str) {
    out.extend_from_slice(b"{\"t_us\":");
    push_u64(out, t_us);
    out.extend_from_slice(b",\"event\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"from\":\"");
    out.extend_from_slice(from.as_bytes());
    out.push(b'"');
}

fn addresses(out: &mut Vec<u8>, src: &SocketAddrV4, dst: &SocketAddrV4) {
    out.extend_from_slice(b",\"src\":\"");
    push_addr(out, src);
    out.extend_from_slice(b"\",\"dst\":\"");
    push_addr(out, dst);
    out.push(b'"');
}

fn push_addr(out: &mut Vec<u8>, addr: &SocketAddrV4) {
    for (i, octet) in addr.ip().octets().iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(*octet));
    }
    out.push(b':');
    push_u64(out, u64::from(addr.port()));
}

fn push_u64(out: &mut Vec<u8>, v: u64) {
    // itoa writes two digits per step from a table: the digit-at-a-time
    // loop this replaced was a few percent of a run, once per number of
    // every trace line.
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        for v in [
            0,
            7,
            9,
            10,
            99,
            100,
            1_000_007,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(out, v.to_string().into_bytes());
        }
    }
    use crate::trace::DropReason;
    use serde::Serialize;

    /// The line as serde_json writes it, the way traces were first written.
    fn by_serde(t_us: u64, event: &Event) -> Vec<u8> {
        #[derive(Serialize)]
        struct Line<'a> {
            t_us: u64,
            #[serde(flatten)]
            event: &'a Event,
        }
        let mut v = serde_json::to_vec(&Line { t_us, event }).unwrap();
        v.push(b'\n');
        v
    }

    fn addr(text: &str) -> SocketAddrV4 {
        text.parse().unwrap()
    }

    #[test]
    fn hand_written_lines_equal_serde_json() {
        let events = [
            Event::Deliver {
                from: "node1".into(),
                to: "node-2.x_y".into(),
                src: addr("10.0.0.1:5405"),
                dst: addr("239.192.0.1:65535"),
                len: 0,
                duplicate: false,
            },
            Event::Deliver {
                from: "a".into(),
                to: "b".into(),
                src: addr("0.0.0.0:0"),
                dst: addr("255.255.255.255:1"),
                len: usize::MAX,
                duplicate: true,
            },
            Event::Drop {
                from: "lb1".into(),
                to: None,
                src: addr("192.168.122.11:112"),
                dst: addr("224.0.0.18:112"),
                reason: DropReason::ArpFailed,
            },
            Event::Drop {
                from: "we\"ird".into(),
                to: Some("b".into()),
                src: addr("1.2.3.4:5"),
                dst: addr("6.7.8.9:10"),
                reason: DropReason::PortUnreachable,
            },
            Event::PowerOff {
                node: "node3".into(),
            },
            Event::Node {
                node: "node1".into(),
                detail: NodeEvent::TotemSent { counter: 42 },
                spurious: None,
                since_last_advert_us: None,
            },
            Event::Node {
                node: "node2".into(),
                detail: NodeEvent::TotemDeliver {
                    sender: u32::MAX,
                    boot: 3,
                    counter: 0,
                    ring: "1.2c".into(),
                    seq: 17,
                },
                spurious: None,
                since_last_advert_us: None,
            },
            Event::Node {
                node: "lb1".into(),
                detail: NodeEvent::Log { text: "x".into() },
                spurious: Some(true),
                since_last_advert_us: Some(5),
            },
        ];
        let mut out = Vec::new();
        for (i, e) in events.iter().enumerate() {
            for t in [0, 7, 1_234_567_890_123, u64::MAX] {
                write(&mut out, t, e);
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&by_serde(t, e)),
                    "event {i} at {t}"
                );
            }
        }
    }
}
