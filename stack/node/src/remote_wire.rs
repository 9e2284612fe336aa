//! What crosses a Pacemaker Remote connection (cluster node's controller
//! ↔ pacemaker_remoted, TCP port 3121): length-prefixed frames, each a
//! JSON [`Frame`]. Pacemaker speaks its executor protocol over TLS there;
//! hasim keeps the shape (a handshake, pokes, operations and their
//! results, both ways on one connection) and not the encryption.

use hasim_pcmk_proto::{ExecRequest, ExecResult};
use serde::{Deserialize, Serialize};

/// The largest frame a peer accepts; anything larger is a broken peer.
pub const MAX_FRAME: usize = 1 << 20;

/// One message on a remote connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// Client → remoted: the handshake, naming the cluster node.
    Hello { cluster_node: String },
    /// remoted → client: the handshake's answer, naming the remote node.
    Welcome { node: String },
    /// Client → remoted: are you there?
    Poke,
    /// remoted → client: the poke's answer.
    Pong,
    /// Client → remoted: run an operation.
    Exec(ExecRequest),
    /// Client → remoted: cancel a recurring operation.
    Cancel {
        rsc: String,
        op: String,
        interval_ms: u64,
    },
    /// remoted → client: an operation's result.
    Done(ExecResult),
}

/// A frame as bytes: 4-byte big-endian length, then the JSON.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let body = serde_json::to_vec(frame).unwrap_or_default();
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend(body);
    bytes
}

/// Bytes of one connection, cut into frames as they complete.
#[derive(Debug, Default)]
pub struct FrameBuffer {
    pending: Vec<u8>,
}

impl FrameBuffer {
    /// Add bytes; return the frames they complete, or what is wrong (the
    /// connection is then useless: the caller aborts it).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, String> {
        self.pending.extend_from_slice(bytes);
        let mut frames = Vec::new();
        loop {
            let Some(head) = self.pending.get(..4) else {
                return Ok(frames);
            };
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            if len > MAX_FRAME {
                return Err(format!(
                    "frame of {len} bytes, expected at most {MAX_FRAME}"
                ));
            }
            if self.pending.len() < 4 + len {
                return Ok(frames);
            }
            let body: Vec<u8> = self.pending.drain(..4 + len).skip(4).collect();
            let frame =
                serde_json::from_slice(&body).map_err(|e| format!("undecodable frame ({e})"))?;
            frames.push(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split_and_bad_bytes_are_named() {
        let frames = [
            Frame::Hello {
                cluster_node: "node1".into(),
            },
            Frame::Poke,
            Frame::Welcome {
                node: "compute1".into(),
            },
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(encode).collect();
        for cut in 0..bytes.len() {
            let mut buf = FrameBuffer::default();
            let mut got = buf.push(&bytes[..cut]).unwrap();
            got.extend(buf.push(&bytes[cut..]).unwrap());
            assert_eq!(got, frames, "cut at {cut}");
        }
        let mut buf = FrameBuffer::default();
        let e = buf.push(&[0, 0, 0, 2, b'{', b'x']).unwrap_err();
        assert!(e.contains("undecodable"), "{e}");
        let e = FrameBuffer::default().push(&[0xff, 0, 0, 0]).unwrap_err();
        assert!(e.contains("at most"), "{e}");
    }
}
