//! Group messages between Galera nodes as one text datagram each.
//!
//! Real gcomm speaks a binary protocol over TCP port 4567; hasim carries
//! the node core's [`Msg`] values as space-separated words in a datagram,
//! which is all the simulated network needs (the fabric's loss, delay and
//! partitions act on whole datagrams). Names, keys and values never contain
//! a space, `,`, `:` or `=`: names come from the scenario and keys from the
//! hasim-data line protocol, whose words are single tokens.
//!
//! ```text
//! K -                      keepalive, not primary
//! K n1,n2,n3               keepalive with the sender's primary component
//! R origin conn id key value depends
//! O seqno origin conn id key value depends
//! A seqno
//! C upto
//! W n1,n2,n3 seqno          waiting, with the last primary component
//! S n1,n2 seqno d=key:v1,v2 ... c=key:seqno:origin ...
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::node::{Msg, WriteSet};

/// The port gcomm listens on.
pub const GCOMM_PORT: u16 = 4567;

/// `msg` as datagram bytes.
pub fn encode(msg: &Msg) -> Vec<u8> {
    let text = match msg {
        Msg::Keepalive { view: None } => "K -".to_string(),
        Msg::Keepalive { view: Some(v) } => format!("K {}", names(v)),
        Msg::Replicate(ws) => format!("R {}", write_set(ws)),
        Msg::Ordered { seqno, ws } => format!("O {seqno} {}", write_set(ws)),
        Msg::Ack { seqno } => format!("A {seqno}"),
        Msg::Commit { upto } => format!("C {upto}"),
        Msg::Waiting { last_prim, seqno } => format!("W {} {seqno}", names(last_prim)),
        Msg::State {
            view,
            seqno,
            data,
            cert,
        } => {
            let mut out = format!("S {} {seqno}", names(view));
            for (key, values) in data {
                let vs: Vec<String> = values.iter().map(u64::to_string).collect();
                out.push_str(&format!(" d={key}:{}", vs.join(",")));
            }
            for (key, (s, origin)) in cert {
                out.push_str(&format!(" c={key}:{s}:{origin}"));
            }
            out
        }
    };
    text.into_bytes()
}

fn names(v: &BTreeSet<String>) -> String {
    v.iter().cloned().collect::<Vec<_>>().join(",")
}

fn write_set(ws: &WriteSet) -> String {
    format!(
        "{} {} {} {} {} {}",
        ws.origin, ws.conn, ws.id, ws.key, ws.value, ws.depends
    )
}

fn num<T: std::str::FromStr>(word: Option<&str>, what: &str) -> Result<T, String> {
    let w = word.ok_or(format!("missing {what}"))?;
    w.parse()
        .map_err(|_| format!("{what} `{w}`: expected a number"))
}

fn word<'a>(words: &mut impl Iterator<Item = &'a str>, what: &str) -> Result<String, String> {
    words
        .next()
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .ok_or(format!("missing {what}"))
}

fn parse_write_set<'a>(words: &mut impl Iterator<Item = &'a str>) -> Result<WriteSet, String> {
    Ok(WriteSet {
        origin: word(words, "origin")?,
        conn: num(words.next(), "conn")?,
        id: num(words.next(), "id")?,
        key: word(words, "key")?,
        value: num(words.next(), "value")?,
        depends: num(words.next(), "depends")?,
    })
}

fn parse_names(w: &str) -> Result<BTreeSet<String>, String> {
    let set: BTreeSet<String> = w.split(',').map(str::to_string).collect();
    if set.iter().any(String::is_empty) {
        return Err(format!("view `{w}`: expected names separated by `,`"));
    }
    Ok(set)
}

/// The inverse of [`encode`]; an error says what was expected.
pub fn decode(bytes: &[u8]) -> Result<Msg, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let mut words = text.split(' ');
    let msg = match words.next() {
        Some("K") => match word(&mut words, "view")?.as_str() {
            "-" => Msg::Keepalive { view: None },
            v => Msg::Keepalive {
                view: Some(parse_names(v)?),
            },
        },
        Some("R") => Msg::Replicate(parse_write_set(&mut words)?),
        Some("O") => {
            let seqno = num(words.next(), "seqno")?;
            let ws = parse_write_set(&mut words)?;
            Msg::Ordered { seqno, ws }
        }
        Some("A") => Msg::Ack {
            seqno: num(words.next(), "seqno")?,
        },
        Some("C") => Msg::Commit {
            upto: num(words.next(), "upto")?,
        },
        Some("W") => Msg::Waiting {
            last_prim: parse_names(&word(&mut words, "last primary component")?)?,
            seqno: num(words.next(), "seqno")?,
        },
        Some("S") => return parse_state(&mut words),
        _ => return Err("expected K, R, O, A, C, W or S first".into()),
    };
    match words.next() {
        None => Ok(msg),
        Some(extra) => Err(format!("unexpected `{extra}` at the end")),
    }
}

fn parse_state<'a>(words: &mut impl Iterator<Item = &'a str>) -> Result<Msg, String> {
    let view = parse_names(&word(words, "view")?)?;
    let seqno = num(words.next(), "seqno")?;
    let mut data = BTreeMap::new();
    let mut cert = BTreeMap::new();
    for w in words {
        let bad = || format!("`{w}`: expected d=key:v1,v2 or c=key:seqno:origin");
        let (kind, rest) = w.split_once('=').ok_or_else(bad)?;
        let (key, value) = rest.split_once(':').ok_or_else(bad)?;
        match kind {
            "d" => {
                let values: Result<BTreeSet<u64>, _> = value
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(str::parse)
                    .collect();
                data.insert(key.to_string(), values.map_err(|_| bad())?);
            }
            "c" => {
                let (s, origin) = value.split_once(':').ok_or_else(bad)?;
                let s = s.parse().map_err(|_| bad())?;
                cert.insert(key.to_string(), (s, origin.to_string()));
            }
            _ => return Err(bad()),
        }
    }
    Ok(Msg::State {
        view,
        seqno,
        data,
        cert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> WriteSet {
        WriteSet {
            origin: "n2".into(),
            conn: 7,
            id: 42,
            key: "k3".into(),
            value: 1_000_003,
            depends: -1,
        }
    }

    #[test]
    fn every_message_round_trips() {
        let view: BTreeSet<String> = ["n1".to_string(), "n3".to_string()].into();
        let msgs = vec![
            Msg::Keepalive { view: None },
            Msg::Keepalive {
                view: Some(view.clone()),
            },
            Msg::Replicate(ws()),
            Msg::Ordered { seqno: 9, ws: ws() },
            Msg::Ack { seqno: 9 },
            Msg::Commit { upto: 12 },
            Msg::Waiting {
                last_prim: ["n1".to_string(), "n2".to_string()].into(),
                seqno: 40,
            },
            Msg::State {
                view,
                seqno: 12,
                data: [
                    ("k1".to_string(), [1, 5].into()),
                    ("k2".to_string(), BTreeSet::new()),
                ]
                .into(),
                cert: [("k1".to_string(), (11, "n3".to_string()))].into(),
            },
        ];
        for m in msgs {
            assert_eq!(decode(&encode(&m)), Ok(m));
        }
    }

    #[test]
    fn malformed_messages_are_refused_with_what_was_expected() {
        assert_eq!(
            decode(b"X 1"),
            Err("expected K, R, O, A, C, W or S first".into())
        );
        assert_eq!(decode(b"A x"), Err("seqno `x`: expected a number".into()));
        assert_eq!(decode(b"A 1 2"), Err("unexpected `2` at the end".into()));
        assert!(decode(b"O 3 n1 1 2 k").is_err());
        assert!(decode(b"K n1,,n2").is_err());
        assert!(decode(b"S n1 4 z=k:1").is_err());
        assert!(decode(b"S n1 4 d=k:1,x").is_err());
        assert!(decode(&[0xff]).is_err());
    }
}
