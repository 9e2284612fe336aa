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

/// The crm literal blocks of a reStructuredText document (such as the
/// seed documents): lines indented under a `::` paragraph whose first
/// line is a crm command (a corosync.conf block is not). Other lines are
/// blanked so line numbers stay the file's.
pub fn rst_crm_blocks(doc: &str) -> String {
    const CRM: [&str; 5] = ["primitive", "clone", "colocation", "order", "property"];
    let lines: Vec<&str> = doc.lines().collect();
    let mut keep = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_end().ends_with("::") || lines[i].starts_with(' ') {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && (lines[end].trim().is_empty() || lines[end].starts_with("  ")) {
            end += 1;
        }
        let first = lines[start..end].iter().find(|l| !l.trim().is_empty());
        let is_crm = first
            .and_then(|l| l.split_whitespace().next())
            .is_some_and(|w| CRM.contains(&w));
        for k in keep.iter_mut().take(end).skip(start) {
            *k = is_crm;
        }
        i = end;
    }
    let out: Vec<&str> = lines
        .iter()
        .zip(&keep)
        .map(|(l, k)| if *k { *l } else { "" })
        .collect();
    out.join("\n")
}

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
