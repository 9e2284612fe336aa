//! Small history builders for the checkers' tests.

use std::time::Duration;

use crate::history::{History, Op, OpKind, Outcome};

pub fn t(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

pub fn write(client: &str, key: &str, value: u64, inv: f64, ack: Option<f64>, node: &str) -> Op {
    Op {
        client: client.into(),
        kind: OpKind::Write {
            key: key.into(),
            value,
        },
        invoked: t(inv),
        completed: ack.map(|a| (t(a), Outcome::Ok(None))),
        node: Some(node.into()),
    }
}

pub fn read(client: &str, key: &str, inv: f64, done: f64, seen: &[u64], node: &str) -> Op {
    Op {
        client: client.into(),
        kind: OpKind::Read { key: key.into() },
        invoked: t(inv),
        completed: Some((t(done), Outcome::Ok(Some(seen.iter().copied().collect())))),
        node: Some(node.into()),
    }
}

pub fn history(ops: Vec<Op>, finals: &[(&str, &[u64])]) -> History {
    History {
        ops,
        conns: Vec::new(),
        final_reads: finals
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().copied().collect()))
            .collect(),
        end: t(100.0),
    }
}
