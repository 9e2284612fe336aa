//! Parser for the real corosync.conf format into typed configuration.
//!
//! Two layers, so tools can both show the file as written and act on it:
//! - [`parse_tree`]: the ordered section/key tree with line:column positions, using
//!   corosync 3.1.7's line rules (see [`tree`]).
//! - [`parse`]: the tree plus a typed [`CorosyncConf`] and the warnings corosync would
//!   log. Bad syntax or values give a [`ParseError`] (`file:line:col: expected ...`).
//!
//! Totem timings stay raw (`Option<u32>`): deriving effective timeouts is the totem
//! crate's job; [`defaults`] lists corosync's constants for reference.

pub mod config;
pub mod defaults;
pub mod error;
pub mod tree;
mod value;

pub use config::{
    from_tree, CorosyncConf, CryptoCipher, CryptoHash, Debug, Interface, IpVersion, LogOptions,
    LoggerSubsys, Logging, Node, Quorum, TieBreaker, Timestamp, Totem, Transport,
};
pub use error::{ParseError, Pos, Warning};
pub use tree::{parse_tree, Document, Entry, Item, Section};

/// The result of a successful [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The file as written, in order, with positions.
    pub tree: Document,
    /// Typed settings.
    pub config: CorosyncConf,
    /// Ignored, unknown or deprecated settings, as `file:line: message`.
    pub warnings: Vec<Warning>,
}

/// Parse corosync.conf text. `file` labels errors and warnings.
pub fn parse(file: &str, text: &str) -> Result<Parsed, ParseError> {
    let tree = parse_tree(file, text)?;
    let (config, warnings) = from_tree(&tree)?;
    Ok(Parsed {
        tree,
        config,
        warnings,
    })
}

/// Parse raw bytes: corosync reads bytes, so invalid UTF-8 is an error at its position.
pub fn parse_bytes(file: &str, bytes: &[u8]) -> Result<Parsed, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(file, text),
        Err(e) => {
            let before = &bytes[..e.valid_up_to()];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            let col = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            Err(ParseError {
                file: file.to_string(),
                pos: Pos::new(
                    u32::try_from(line).unwrap_or(u32::MAX),
                    u32::try_from(col).unwrap_or(u32::MAX),
                ),
                expected: "expected UTF-8 text".to_string(),
            })
        }
    }
}
