//! The service behind a virtual IP: answers each request with the node's
//! name, so a client can tell which real machine it reached.
//!
//! In a real deployment this is HAProxy or the API service itself; what matters
//! to the checkers is only *which* node answered and *when*.

use crate::host::{Host, SERVICE_PORT};
use std::sync::Arc;

/// A request is an 8-byte big-endian request id; the reply is the same id
/// followed by the answering node's name.
pub fn encode_reply(request: &[u8], node: &str) -> Option<Vec<u8>> {
    let id: [u8; 8] = request.get(..8)?.try_into().ok()?;
    let mut reply = id.to_vec();
    reply.extend_from_slice(node.as_bytes());
    Some(reply)
}

/// Split a reply into (request id, answering node).
pub fn decode_reply(reply: &[u8]) -> Option<(u64, String)> {
    let id = u64::from_be_bytes(reply.get(..8)?.try_into().ok()?);
    let node = String::from_utf8(reply[8..].to_vec()).ok()?;
    Some((id, node))
}

/// Serve requests on [`SERVICE_PORT`] until the inbox closes (node powered off).
pub async fn serve(host: Arc<dyn Host>) -> std::io::Result<()> {
    let mut inbox = host.bind(SERVICE_PORT)?;
    while let Some(request) = inbox.recv().await {
        if let Some(reply) = encode_reply(&request.payload, host.name()) {
            // Answer from the address the client used (the VIP), as a real
            // service bound to 0.0.0.0 would.
            host.send(request.dst, request.src, reply);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_round_trips() {
        let reply = encode_reply(&42u64.to_be_bytes(), "lb1").unwrap();
        assert_eq!(decode_reply(&reply), Some((42, "lb1".to_string())));
    }

    #[test]
    fn short_requests_are_ignored() {
        assert_eq!(encode_reply(&[1, 2, 3], "lb1"), None);
        assert_eq!(decode_reply(&[1, 2]), None);
    }
}
