//! Errors and warnings produced while reading a corosync.conf.
//!
//! Corosync reports syntax problems as `parser error: FILE:LINE: reason`; we add the
//! column so a user can jump straight to the offending character.

use std::fmt;

/// A 1-based line/column position inside the parsed text.
///
/// Columns count characters (not bytes), starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line number.
    pub line: u32,
    /// 1-based character column.
    pub column: u32,
}

impl Pos {
    /// Build a position from a line and a column.
    pub fn new(line: u32, column: u32) -> Self {
        Pos { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A fatal problem: corosync would refuse to start with this file.
///
/// `Display` renders `file:line:col: expected ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{}:{}: {expected}", pos.line, pos.column)]
pub struct ParseError {
    /// Name of the file as given by the caller.
    pub file: String,
    /// Where the problem is.
    pub pos: Pos,
    /// What the parser expected to find there (and what it found instead).
    pub expected: String,
}

impl ParseError {
    pub(crate) fn new(file: &str, pos: Pos, expected: impl Into<String>) -> Self {
        ParseError {
            file: file.to_string(),
            pos,
            expected: expected.into(),
        }
    }
}

/// A non-fatal remark: corosync starts, but the setting is ignored or deprecated.
///
/// `Display` renders `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Name of the file as given by the caller.
    pub file: String,
    /// 1-based line of the key or section the warning is about.
    pub line: u32,
    /// Human-readable explanation.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}
