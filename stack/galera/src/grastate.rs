//! `grastate.dat`: what a Galera node leaves on disk about its position.
//!
//! Galera writes it as `key: value` lines under a comment header:
//!
//! ```text
//! # GALERA saved state
//! version: 2.1
//! uuid:    5ee99582-bb8d-11e2-b8e3-23de375c1d30
//! seqno:   -1
//! safe_to_bootstrap: 0
//! ```
//!
//! `seqno: -1` while the node runs (the position is only known after a clean
//! shutdown or `--wsrep-recover`); on clean shutdown the last node to leave
//! the primary component sets `safe_to_bootstrap: 1`.

use thiserror::Error;

/// The all-zero cluster uuid of a node that never joined a cluster.
pub const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// Parsed `grastate.dat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grastate {
    /// Format version (`2.1`).
    pub version: String,
    /// Cluster state uuid.
    pub uuid: String,
    /// Last committed seqno, or −1 when unknown (node running or crashed).
    pub seqno: i64,
    /// Whether this node may bootstrap a new cluster.
    pub safe_to_bootstrap: bool,
}

/// A `grastate.dat` that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum GrastateError {
    /// A line that is not `key: value`.
    #[error("{file}:{line}: expected `key: value`, found {text:?}")]
    Syntax {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// The line.
        text: String,
    },
    /// A value of the wrong form.
    #[error("{file}:{line}: {key} must be {expected}, found {value:?}")]
    Value {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// Key.
        key: String,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        value: String,
    },
    /// A required key is absent.
    #[error("{file}: missing `{key}:` line")]
    Missing {
        /// File name.
        file: String,
        /// Key.
        key: &'static str,
    },
}

impl Grastate {
    /// The state of a node running in a primary component: position unknown
    /// on disk, not safe to bootstrap.
    pub fn running(uuid: &str) -> Self {
        Grastate {
            version: "2.1".into(),
            uuid: uuid.into(),
            seqno: -1,
            safe_to_bootstrap: false,
        }
    }

    /// What a clean shutdown leaves: the last committed seqno, and
    /// `safe_to_bootstrap: 1` on the last node to leave the primary
    /// component.
    pub fn clean_shutdown(uuid: &str, seqno: i64, last_in_primary: bool) -> Self {
        Grastate {
            version: "2.1".into(),
            uuid: uuid.into(),
            seqno,
            safe_to_bootstrap: last_in_primary,
        }
    }

    /// The position a restarted node finds: the file's seqno after a clean
    /// shutdown; after a crash the file still says −1 (written at start) and
    /// `--wsrep-recover` reads the last committed seqno from the storage
    /// engine, `committed`.
    pub fn recovered_seqno(&self, committed: i64) -> i64 {
        if self.seqno == -1 {
            committed
        } else {
            self.seqno
        }
    }

    /// Writes the file as Galera does.
    pub fn render(&self) -> String {
        format!(
            "# GALERA saved state\nversion: {}\nuuid:    {}\nseqno:   {}\nsafe_to_bootstrap: {}\n",
            self.version,
            self.uuid,
            self.seqno,
            u8::from(self.safe_to_bootstrap)
        )
    }

    /// Reads `text` (named `file` in errors). Unknown keys are ignored, as
    /// Galera ignores them; `safe_to_bootstrap` may be absent (older
    /// versions) and then reads as 0.
    pub fn parse(file: &str, text: &str) -> Result<Grastate, GrastateError> {
        let mut version = None;
        let mut uuid = None;
        let mut seqno = None;
        let mut safe = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let Some((key, value)) = t.split_once(':') else {
                return Err(GrastateError::Syntax {
                    file: file.into(),
                    line,
                    text: raw.into(),
                });
            };
            let (key, value) = (key.trim(), value.trim());
            let bad = |expected| GrastateError::Value {
                file: file.into(),
                line,
                key: key.into(),
                expected,
                value: value.into(),
            };
            match key {
                "version" => version = Some(value.to_string()),
                "uuid" if is_uuid(value) => uuid = Some(value.to_string()),
                "uuid" => return Err(bad("a uuid (8-4-4-4-12 hex digits)")),
                "seqno" => {
                    seqno = Some(
                        value
                            .parse::<i64>()
                            .ok()
                            .filter(|&s| s >= -1)
                            .ok_or_else(|| bad("an integer ≥ -1"))?,
                    )
                }
                "safe_to_bootstrap" => {
                    safe = match value {
                        "0" => false,
                        "1" => true,
                        _ => return Err(bad("0 or 1")),
                    }
                }
                _ => {}
            }
        }
        let missing = |key| GrastateError::Missing {
            file: file.into(),
            key,
        };
        Ok(Grastate {
            version: version.ok_or_else(|| missing("version"))?,
            uuid: uuid.ok_or_else(|| missing("uuid"))?,
            seqno: seqno.ok_or_else(|| missing("seqno"))?,
            safe_to_bootstrap: safe,
        })
    }

    /// The agent's reading of the flag (`detect_safe_to_bootstrap`): only a
    /// real cluster uuid counts, and a node claiming to be safe without a
    /// known seqno is not.
    pub fn agent_safe_to_bootstrap(&self) -> Option<bool> {
        if self.uuid == NIL_UUID {
            return None;
        }
        if self.safe_to_bootstrap && self.seqno == -1 {
            return None;
        }
        Some(self.safe_to_bootstrap)
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "5ee99582-bb8d-11e2-b8e3-23de375c1d30";

    #[test]
    fn round_trip() {
        let g = Grastate {
            version: "2.1".into(),
            uuid: U.into(),
            seqno: 1234,
            safe_to_bootstrap: true,
        };
        assert_eq!(Grastate::parse("grastate.dat", &g.render()), Ok(g));
        let r = Grastate::running(U);
        assert_eq!(Grastate::parse("grastate.dat", &r.render()), Ok(r));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = Grastate::parse("g.dat", "version: 2.1\nuuid: nope\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "g.dat:2: uuid must be a uuid (8-4-4-4-12 hex digits), found \"nope\""
        );
        let e =
            Grastate::parse("g.dat", &format!("version: 2.1\nuuid: {U}\nseqno: x\n")).unwrap_err();
        assert!(e.to_string().starts_with("g.dat:3: seqno must be"), "{e}");
        let e = Grastate::parse("g.dat", "garbage\n").unwrap_err();
        assert!(
            e.to_string().starts_with("g.dat:1: expected `key: value`"),
            "{e}"
        );
        let e = Grastate::parse("g.dat", &format!("version: 2.1\nuuid: {U}\n")).unwrap_err();
        assert_eq!(e.to_string(), "g.dat: missing `seqno:` line");
        let e = Grastate::parse(
            "g.dat",
            &format!("version: 2.1\nuuid: {U}\nseqno: 1\nsafe_to_bootstrap: 2\n"),
        );
        assert!(e.is_err());
    }

    #[test]
    fn crash_recovery_reads_the_engine_when_the_file_says_minus_one() {
        let crashed = Grastate::running(U);
        assert_eq!(crashed.recovered_seqno(42), 42);
        let clean = Grastate::clean_shutdown(U, 40, true);
        assert_eq!(clean.recovered_seqno(42), 40);
        assert!(clean.safe_to_bootstrap && !crashed.safe_to_bootstrap);
    }

    #[test]
    fn agent_reading_of_the_flag() {
        let mut g = Grastate {
            version: "2.1".into(),
            uuid: U.into(),
            seqno: 5,
            safe_to_bootstrap: true,
        };
        assert_eq!(g.agent_safe_to_bootstrap(), Some(true));
        g.seqno = -1;
        assert_eq!(g.agent_safe_to_bootstrap(), None);
        g.safe_to_bootstrap = false;
        assert_eq!(g.agent_safe_to_bootstrap(), Some(false));
        g.uuid = NIL_UUID.into();
        assert_eq!(g.agent_safe_to_bootstrap(), None);
    }
}
