//! The key-value wire protocol between data clients and database servers:
//! one line per message over a TCP stream.
//!
//! ```text
//! W <id> <key> <value>          write (insert value under key)
//! R <id> <key>                  read
//! P <id>                        ping (oslo.db's checkout ping, SELECT 1)
//! OK <id> <node>                write or ping acknowledged
//! OK <id> <node> v1,v2,...      read result (possibly empty after the node)
//! ERR <id> <node> <message>     refused, e.g. "1047 WSREP has not yet ..."
//! ```
//!
//! Streams arrive in arbitrary chunks; [`LineBuffer`] reassembles lines.

use std::collections::BTreeSet;

/// A client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Insert `value` under `key`.
    Write {
        /// Request id.
        id: u64,
        /// Key.
        key: String,
        /// Value.
        value: u64,
    },
    /// Read `key`.
    Read {
        /// Request id.
        id: u64,
        /// Key.
        key: String,
    },
    /// Liveness check.
    Ping {
        /// Request id.
        id: u64,
    },
}

/// A server response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request answered.
    pub id: u64,
    /// The node that answered.
    pub node: String,
    /// Values read (reads), nothing (writes, pings), or the error.
    pub result: Result<Option<BTreeSet<u64>>, String>,
}

impl Request {
    /// The request id.
    pub fn id(&self) -> u64 {
        match self {
            Request::Write { id, .. } | Request::Read { id, .. } | Request::Ping { id } => *id,
        }
    }

    /// The line, with its newline.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Write { id, key, value } => format!("W {id} {key} {value}\n"),
            Request::Read { id, key } => format!("R {id} {key}\n"),
            Request::Ping { id } => format!("P {id}\n"),
        }
        .into_bytes()
    }

    /// Parses one line (without newline).
    pub fn decode(line: &str) -> Result<Request, String> {
        let f: Vec<&str> = line.split_whitespace().collect();
        let id = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("request {line:?}: id must be an integer"))
        };
        match f.as_slice() {
            ["W", i, key, v] => Ok(Request::Write {
                id: id(i)?,
                key: key.to_string(),
                value: v
                    .parse()
                    .map_err(|_| format!("request {line:?}: value must be an integer"))?,
            }),
            ["R", i, key] => Ok(Request::Read {
                id: id(i)?,
                key: key.to_string(),
            }),
            ["P", i] => Ok(Request::Ping { id: id(i)? }),
            _ => Err(format!(
                "request {line:?}: expected `W id key value`, `R id key` or `P id`"
            )),
        }
    }
}

impl Response {
    /// The line, with its newline.
    pub fn encode(&self) -> Vec<u8> {
        let Response { id, node, result } = self;
        match result {
            Ok(None) => format!("OK {id} {node}\n"),
            Ok(Some(vals)) => {
                let list: Vec<String> = vals.iter().map(u64::to_string).collect();
                format!("OK {id} {node} ={}\n", list.join(","))
            }
            Err(msg) => format!("ERR {id} {node} {msg}\n"),
        }
        .into_bytes()
    }

    /// Parses one line (without newline).
    pub fn decode(line: &str) -> Result<Response, String> {
        let bad = || {
            format!("response {line:?}: expected `OK id node [=v,...]` or `ERR id node message`")
        };
        let mut parts = line.splitn(4, ' ');
        let (kind, id, node) = (parts.next(), parts.next(), parts.next());
        let rest = parts.next();
        let id = id.and_then(|i| i.parse().ok()).ok_or_else(bad)?;
        let node = node.filter(|n| !n.is_empty()).ok_or_else(bad)?.to_string();
        let result = match (kind, rest) {
            (Some("OK"), None) => Ok(None),
            (Some("OK"), Some(list)) => {
                let list = list.strip_prefix('=').ok_or_else(bad)?;
                let vals: Result<BTreeSet<u64>, _> = list
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::parse::<u64>)
                    .collect();
                Ok(Some(vals.map_err(|_| bad())?))
            }
            (Some("ERR"), Some(msg)) => Err(msg.to_string()),
            _ => return Err(bad()),
        };
        Ok(Response { id, node, result })
    }
}

/// Reassembles lines from stream chunks.
#[derive(Clone, Debug, Default)]
pub struct LineBuffer {
    partial: Vec<u8>,
}

/// Longest line accepted; a peer sending more without a newline is broken.
pub const MAX_LINE: usize = 1 << 20;

impl LineBuffer {
    /// Adds a chunk; returns the complete lines it finished, or an error
    /// for a line that is not UTF-8 or too long.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<String>, String> {
        self.partial.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            let text = String::from_utf8(line[..line.len() - 1].to_vec())
                .map_err(|_| "line is not UTF-8".to_string())?;
            lines.push(text);
        }
        if self.partial.len() > MAX_LINE {
            return Err(format!("line longer than {MAX_LINE} bytes"));
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_any_chunking() {
        let reqs = [
            Request::Write {
                id: 1,
                key: "k1".into(),
                value: 42,
            },
            Request::Read {
                id: 2,
                key: "k1".into(),
            },
            Request::Ping { id: 3 },
        ];
        let resps = [
            Response {
                id: 1,
                node: "db1".into(),
                result: Ok(None),
            },
            Response {
                id: 2,
                node: "db1".into(),
                result: Ok(Some([1, 42].into())),
            },
            Response {
                id: 4,
                node: "db2".into(),
                result: Ok(Some(BTreeSet::new())),
            },
            Response {
                id: 3,
                node: "db2".into(),
                result: Err("1047 WSREP has not yet prepared node for application use".into()),
            },
        ];
        let stream: Vec<u8> = reqs.iter().flat_map(Request::encode).collect();
        for chunk in [1, 3, 7, 100] {
            let mut lb = LineBuffer::default();
            let lines: Vec<String> = stream
                .chunks(chunk)
                .flat_map(|c| lb.push(c).unwrap())
                .collect();
            let got: Vec<Request> = lines.iter().map(|l| Request::decode(l).unwrap()).collect();
            assert_eq!(got, reqs);
        }
        for r in &resps {
            let line = String::from_utf8(r.encode()).unwrap();
            assert_eq!(
                Response::decode(line.trim_end_matches('\n')).as_ref(),
                Ok(r)
            );
        }
    }

    #[test]
    fn bad_lines_are_errors() {
        assert!(Request::decode("X 1").is_err());
        assert!(Request::decode("W x k 1").is_err());
        assert!(Response::decode("OK").is_err());
        assert!(Response::decode("OK 1 db1 =1,x").is_err());
        assert!(LineBuffer::default().push(&[0xff, b'\n']).is_err());
    }
}
