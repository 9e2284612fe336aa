//! crm shell `configure` syntax into the hasim-cib model.
//!
//! [`parse`] reads lines like those of `crm configure show` (backslash
//! continuations, `#` comments, quoted values) and builds the CIB XML
//! crmsh would create, with crmsh's generated ids, then reads it with
//! `hasim_cib::Cib::from_xml`. Errors name the line and what was expected.

mod lex;
mod xml;

use hasim_cib::Cib;

pub use lex::Statement;

/// A syntax error: 1-based line (of the statement's first line) and what
/// was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for CrmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for CrmError {}

/// The CIB XML (`cibadmin -Q` form, empty status) for a configuration.
pub fn to_cib_xml(text: &str) -> Result<String, CrmError> {
    let statements = lex::statements(text)?;
    xml::build(&statements)
}

/// Parse a configuration into the typed CIB.
pub fn parse(text: &str) -> Result<Cib, CrmError> {
    let xml = to_cib_xml(text)?;
    Cib::from_xml(&xml).map_err(|e| CrmError {
        line: 0,
        message: format!("generated CIB is invalid: {e}"),
    })
}
