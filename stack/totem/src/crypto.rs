//! secauth: every packet authenticated and encrypted with a key shared by the
//! cluster (corosync's authkey), replayed packets refused.
//!
//! Cipher: XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`), key derived from
//! the authkey with HKDF-SHA256 so that an authkey of any length yields a
//! uniform 256-bit key.
//!
//! Nonces without an RNG: the 24-byte nonce is (sender node id, boot epoch,
//! per-boot packet counter). The caller passes a boot epoch that grows with
//! every start of the node (e.g. a persisted boot counter), so a restarted node
//! never reuses a nonce even though its counter starts again from zero.
//!
//! Replay protection: the receiver remembers, per sender, the newest epoch and
//! a 64-packet sliding window of counters. Older epochs, counters below the
//! window and counters already seen are refused.

use std::collections::BTreeMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::wire::NodeId;

const MAGIC: [u8; 2] = *b"HS";
const VERSION: u8 = 1;
/// magic(2) + version(1) + sender(4) + epoch(8) + counter(8)
pub const HEADER_LEN: usize = 23;
pub const TAG_LEN: usize = 16;
const WINDOW: u64 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("secauth packet shorter than header and tag")]
    Truncated,
    #[error("not a secauth packet (bad magic or version)")]
    BadHeader,
    #[error("authentication failed (forged or corrupted)")]
    BadTag,
    #[error("replayed or stale packet")]
    Replay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("packet counter exhausted for this boot epoch; restart with a new epoch")]
    CounterExhausted,
}

#[derive(Debug, Clone, Copy, Default)]
struct ReplayWindow {
    epoch: u64,
    /// Highest counter accepted + 1 (0 = nothing yet).
    top: u64,
    /// Bit i set = counter `top - 1 - i` seen.
    seen: u64,
}

impl ReplayWindow {
    fn check(&self, epoch: u64, ctr: u64) -> bool {
        if epoch != self.epoch {
            return epoch > self.epoch;
        }
        if ctr >= self.top {
            return true;
        }
        let back = self.top - 1 - ctr;
        back < WINDOW && self.seen & (1 << back) == 0
    }

    fn accept(&mut self, epoch: u64, ctr: u64) {
        if epoch > self.epoch {
            *self = ReplayWindow {
                epoch,
                top: 0,
                seen: 0,
            };
        }
        if ctr >= self.top {
            let shift = ctr + 1 - self.top;
            self.seen = if shift >= WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.top = ctr + 1;
        } else {
            let back = self.top - 1 - ctr;
            self.seen |= 1 << back;
        }
    }
}

/// One node's secauth state.
#[derive(Clone)]
pub struct SecAuth {
    me: NodeId,
    epoch: u64,
    counter: u64,
    cipher: XChaCha20Poly1305,
    windows: BTreeMap<NodeId, ReplayWindow>,
}

impl std::fmt::Debug for SecAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecAuth")
            .field("me", &self.me)
            .field("epoch", &self.epoch)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl SecAuth {
    pub fn new(me: NodeId, authkey: &[u8], boot_epoch: u64) -> SecAuth {
        let hk = Hkdf::<Sha256>::new(Some(b"hasim-totem"), authkey);
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF's 255*32 limit: expand cannot fail.
        if hk.expand(b"secauth v1", &mut key).is_err() {
            key = [0u8; 32];
        }
        SecAuth {
            me,
            epoch: boot_epoch,
            counter: 0,
            cipher: XChaCha20Poly1305::new(&key.into()),
            windows: BTreeMap::new(),
        }
    }

    fn nonce(sender: NodeId, epoch: u64, ctr: u64) -> XNonce {
        let mut n = [0u8; 24];
        n[..4].copy_from_slice(&sender.to_be_bytes());
        n[4..12].copy_from_slice(&epoch.to_be_bytes());
        n[12..20].copy_from_slice(&ctr.to_be_bytes());
        n.into()
    }

    pub fn seal(&mut self, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        if self.counter == u64::MAX {
            return Err(SealError::CounterExhausted);
        }
        let ctr = self.counter;
        self.counter += 1;
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.me.to_be_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&ctr.to_be_bytes());
        let nonce = Self::nonce(self.me, self.epoch, ctr);
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &out[..HEADER_LEN],
                },
            )
            .map_err(|_| SealError::CounterExhausted)?;
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Verify, decrypt and record a packet. Returns the sender and plaintext.
    pub fn open(&mut self, bytes: &[u8]) -> Result<(NodeId, Vec<u8>), OpenError> {
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(OpenError::Truncated);
        }
        if bytes[..2] != MAGIC || bytes[2] != VERSION {
            return Err(OpenError::BadHeader);
        }
        let mut b4 = [0u8; 4];
        b4.copy_from_slice(&bytes[3..7]);
        let sender = NodeId::from_be_bytes(b4);
        let mut b8 = [0u8; 8];
        b8.copy_from_slice(&bytes[7..15]);
        let epoch = u64::from_be_bytes(b8);
        b8.copy_from_slice(&bytes[15..23]);
        let ctr = u64::from_be_bytes(b8);
        let window = self.windows.get(&sender).copied().unwrap_or_default();
        if !window.check(epoch, ctr) {
            return Err(OpenError::Replay);
        }
        let plain = self
            .cipher
            .decrypt(
                &Self::nonce(sender, epoch, ctr),
                Payload {
                    msg: &bytes[HEADER_LEN..],
                    aad: &bytes[..HEADER_LEN],
                },
            )
            .map_err(|_| OpenError::BadTag)?;
        // Only authenticated packets move the window.
        self.windows.entry(sender).or_default().accept(epoch, ctr);
        Ok((sender, plain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_replay_refused() {
        let mut a = SecAuth::new(1, b"secret key", 3);
        let mut b = SecAuth::new(2, b"secret key", 1);
        let p = a.seal(b"hello").unwrap();
        assert_eq!(b.open(&p), Ok((1, b"hello".to_vec())));
        assert_eq!(b.open(&p), Err(OpenError::Replay));
    }

    #[test]
    fn out_of_order_within_window_accepted_once() {
        let mut a = SecAuth::new(1, b"k", 0);
        let mut b = SecAuth::new(2, b"k", 0);
        let p: Vec<_> = (0..5).map(|i| a.seal(&[i]).unwrap()).collect();
        assert!(b.open(&p[4]).is_ok());
        assert!(b.open(&p[1]).is_ok());
        assert_eq!(b.open(&p[1]), Err(OpenError::Replay));
        assert!(b.open(&p[0]).is_ok());
    }

    #[test]
    fn old_epoch_refused_new_epoch_accepted() {
        let mut old = SecAuth::new(1, b"k", 1);
        let stale = old.seal(b"x").unwrap();
        let mut new = SecAuth::new(1, b"k", 2);
        let mut b = SecAuth::new(2, b"k", 0);
        assert!(b.open(&new.seal(b"y").unwrap()).is_ok());
        assert_eq!(b.open(&stale), Err(OpenError::Replay));
    }

    #[test]
    fn forged_corrupted_truncated_refused() {
        let mut a = SecAuth::new(1, b"right", 0);
        let mut wrong = SecAuth::new(1, b"wrong", 0);
        let mut b = SecAuth::new(2, b"right", 0);
        assert_eq!(b.open(&wrong.seal(b"x").unwrap()), Err(OpenError::BadTag));
        let p = a.seal(b"payload").unwrap();
        for i in 0..p.len() {
            let mut c = p.clone();
            c[i] ^= 0x40;
            assert!(b.open(&c).is_err(), "flip at {i} accepted");
        }
        for cut in 0..p.len() {
            assert!(b.open(&p[..cut]).is_err());
        }
        // Failed attempts did not poison the window: the genuine one passes.
        assert!(b.open(&p).is_ok());
    }

    #[test]
    fn nonces_differ_across_nodes_epochs_and_packets() {
        let n1 = SecAuth::nonce(1, 0, 0);
        assert_ne!(n1, SecAuth::nonce(2, 0, 0));
        assert_ne!(n1, SecAuth::nonce(1, 1, 0));
        assert_ne!(n1, SecAuth::nonce(1, 0, 1));
    }
}
