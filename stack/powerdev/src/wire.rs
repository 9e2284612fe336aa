//! The management-network datagram format between fence agents and devices.
//!
//! Why text: one line per datagram keeps traces readable and lets a real
//! mode test drive a device with `nc -u`. Grammar (fields separated by one
//! space, no trailing newline required):
//!
//! ```text
//! request: PWR1 REQ <seq:u32> <login|status|off|on|cycle> <outlet:u16>
//! reply:   PWR1 OK <seq:u32> <on|off>
//!          PWR1 ERR <seq:u32> <reason, rest of line>
//! ```
//!
//! A BMC has one outlet, number 0 (the chassis); a PDU numbers its outlets
//! from 1 like APC's.

use serde::Serialize;

/// Magic word and version of the format.
const MAGIC: &str = "PWR1";

/// What a request asks the device to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Verb {
    /// One round trip of session set-up (IPMI lanplus: open session, RAKP);
    /// answered with the outlet's state, changes nothing.
    Login,
    Status,
    Off,
    On,
    /// Power off then on again (IPMI "chassis power cycle", APC "reboot").
    Cycle,
}

impl Verb {
    fn word(self) -> &'static str {
        match self {
            Verb::Login => "login",
            Verb::Status => "status",
            Verb::Off => "off",
            Verb::On => "on",
            Verb::Cycle => "cycle",
        }
    }

    fn parse(word: &str) -> Option<Verb> {
        Some(match word {
            "login" => Verb::Login,
            "status" => Verb::Status,
            "off" => Verb::Off,
            "on" => Verb::On,
            "cycle" => Verb::Cycle,
            _ => return None,
        })
    }
}

/// Power state of an outlet or chassis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum PowerState {
    On,
    Off,
}

impl PowerState {
    fn word(self) -> &'static str {
        match self {
            PowerState::On => "on",
            PowerState::Off => "off",
        }
    }
}

/// A request from an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub seq: u32,
    pub verb: Verb,
    pub outlet: u16,
}

/// A device's answer to the request with the same `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok { seq: u32, state: PowerState },
    Err { seq: u32, reason: String },
}

impl Reply {
    pub fn seq(&self) -> u32 {
        match self {
            Reply::Ok { seq, .. } | Reply::Err { seq, .. } => *seq,
        }
    }
}

/// A datagram that is not in the format; says which field and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("power datagram field {field}: expected {expected}, found {found:?}")]
pub struct WireError {
    pub field: usize,
    pub expected: &'static str,
    pub found: String,
}

fn field<'a>(
    words: &[&'a str],
    index: usize,
    expected: &'static str,
) -> Result<&'a str, WireError> {
    words.get(index).copied().ok_or(WireError {
        field: index + 1,
        expected,
        found: String::new(),
    })
}

fn number<T: std::str::FromStr>(
    words: &[&str],
    index: usize,
    expected: &'static str,
) -> Result<T, WireError> {
    let word = field(words, index, expected)?;
    word.parse().map_err(|_| WireError {
        field: index + 1,
        expected,
        found: word.to_string(),
    })
}

fn header<'a>(bytes: &'a [u8], kinds: &'static str) -> Result<Vec<&'a str>, WireError> {
    let text = std::str::from_utf8(bytes).map_err(|_| WireError {
        field: 1,
        expected: "UTF-8 text",
        found: format!("{} bytes", bytes.len()),
    })?;
    let words: Vec<&str> = text.trim_end().split(' ').collect();
    let magic = field(&words, 0, MAGIC)?;
    if magic != MAGIC {
        return Err(WireError {
            field: 1,
            expected: MAGIC,
            found: magic.to_string(),
        });
    }
    let kind = field(&words, 1, kinds)?;
    if !kinds.split('|').any(|k| k == kind) {
        return Err(WireError {
            field: 2,
            expected: kinds,
            found: kind.to_string(),
        });
    }
    Ok(words)
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "{MAGIC} REQ {} {} {}",
            self.seq,
            self.verb.word(),
            self.outlet
        )
        .into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, WireError> {
        let words = header(bytes, "REQ")?;
        let seq = number(&words, 2, "a sequence number (u32)")?;
        let verb_word = field(&words, 3, "login|status|off|on|cycle")?;
        let verb = Verb::parse(verb_word).ok_or(WireError {
            field: 4,
            expected: "login|status|off|on|cycle",
            found: verb_word.to_string(),
        })?;
        let outlet = number(&words, 4, "an outlet number (u16)")?;
        if words.len() > 5 {
            return Err(WireError {
                field: 6,
                expected: "end of datagram",
                found: words[5..].join(" "),
            });
        }
        Ok(Request { seq, verb, outlet })
    }
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Ok { seq, state } => format!("{MAGIC} OK {seq} {}", state.word()),
            Reply::Err { seq, reason } => format!("{MAGIC} ERR {seq} {reason}"),
        }
        .into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Reply, WireError> {
        let words = header(bytes, "OK|ERR")?;
        let seq = number(&words, 2, "a sequence number (u32)")?;
        if words[1] == "ERR" {
            let reason = words.get(3..).map(|r| r.join(" ")).unwrap_or_default();
            return Ok(Reply::Err { seq, reason });
        }
        let state = match field(&words, 3, "on|off")? {
            "on" => PowerState::On,
            "off" => PowerState::Off,
            other => {
                return Err(WireError {
                    field: 4,
                    expected: "on|off",
                    found: other.to_string(),
                })
            }
        };
        Ok(Reply::Ok { seq, state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        for verb in [Verb::Login, Verb::Status, Verb::Off, Verb::On, Verb::Cycle] {
            let r = Request {
                seq: 7,
                verb,
                outlet: 3,
            };
            assert_eq!(Request::decode(&r.encode()), Ok(r));
        }
        let ok = Reply::Ok {
            seq: 1,
            state: PowerState::Off,
        };
        assert_eq!(Reply::decode(&ok.encode()), Ok(ok));
        let err = Reply::Err {
            seq: 2,
            reason: "outlet 9 unknown".into(),
        };
        assert_eq!(Reply::decode(&err.encode()), Ok(err));
    }

    #[test]
    fn bad_datagrams_name_the_field_and_expectation() {
        let e = Request::decode(b"PWR1 REQ 1 explode 0").unwrap_err();
        assert_eq!((e.field, e.expected), (4, "login|status|off|on|cycle"));
        let e = Request::decode(b"PWR2 REQ 1 off 0").unwrap_err();
        assert_eq!(e.field, 1);
        let e = Request::decode(b"PWR1 REQ x off 0").unwrap_err();
        assert_eq!(e.field, 3);
        let e = Request::decode(b"PWR1 REQ 1 off").unwrap_err();
        assert_eq!(e.field, 5);
        let e = Request::decode(b"PWR1 REQ 1 off 0 extra").unwrap_err();
        assert_eq!(e.field, 6);
        assert!(Reply::decode(&[0xff, 0xfe]).is_err());
        assert!(Reply::decode(b"PWR1 OK 1 maybe").is_err());
        assert!(Request::decode(b"").is_err());
    }

    /// Random bytes and mutated valid datagrams never panic the decoders.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seed = Request {
            seq: 3,
            verb: Verb::Off,
            outlet: 2,
        }
        .encode();
        for _ in 0..20_000 {
            let mut bytes = if next() % 2 == 0 {
                seed.clone()
            } else {
                Vec::new()
            };
            for _ in 0..next() % 8 {
                let b = (next() % 256) as u8;
                match next() % 3 {
                    0 if !bytes.is_empty() => {
                        let i = (next() as usize) % bytes.len();
                        bytes[i] = b;
                    }
                    _ => bytes.push(b),
                }
            }
            let _ = Request::decode(&bytes);
            let _ = Reply::decode(&bytes);
        }
    }
}
