//! Names that end up in reports, traces and replay lines.
//!
//! A report is read by people and parsed by CI scripts, so a name must not be
//! able to forge a line (a newline), move the cursor or recolour a terminal
//! (escape sequences), or reverse the text around it (bidirectional
//! overrides). Host and segment names are also joined with spaces and `|` in
//! fault descriptions, so they are identifiers. Both are checked while the
//! scenario is parsed, so the error carries the value's position.

use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// The longest scenario name.
pub const MAX_SCENARIO_NAME: usize = 128;
/// The longest host or segment name.
pub const MAX_HOST_NAME: usize = 64;

/// Whether `c` could change how a terminal shows the text around it.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// A scenario name: 1 to 128 characters, none of them control characters
/// or bidirectional overrides.
pub fn check_scenario_name(name: &str) -> Result<(), String> {
    let count = name.chars().count();
    if count == 0 || count > MAX_SCENARIO_NAME {
        return Err(format!(
            "expected a name of 1 to {MAX_SCENARIO_NAME} characters, found {count}"
        ));
    }
    if let Some(c) = name.chars().find(|c| is_unsafe_char(*c)) {
        return Err(format!(
            "expected a name without control characters, found {:?}",
            c
        ));
    }
    Ok(())
}

/// A host or segment name: a letter or digit, then letters, digits, `.`,
/// `_` or `-`; at most 64 characters.
pub fn check_host_name(name: &str) -> Result<(), String> {
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok_first && ok_rest && name.len() <= MAX_HOST_NAME {
        Ok(())
    } else {
        Err(format!(
            "expected a name of 1 to {MAX_HOST_NAME} letters, digits, `.`, `_` or `-`, starting with a letter or digit; found {name:?}"
        ))
    }
}

/// Deserialize a scenario name, refusing unsafe ones.
pub fn scenario_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    check_scenario_name(&name).map_err(serde::de::Error::custom)?;
    Ok(name)
}

/// Deserialize a host or segment name, keeping its position.
pub fn host_name<'de, D: Deserializer<'de>>(d: D) -> Result<Spanned<String>, D::Error> {
    let name = Spanned::<String>::deserialize(d)?;
    check_host_name(name.get_ref()).map_err(serde::de::Error::custom)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        assert!(check_scenario_name("keepalived split brain (2 nodes) — ü").is_ok());
        assert!(check_host_name("client-a").is_ok());
        assert!(check_host_name("node1.example_x").is_ok());
    }

    #[test]
    fn forged_lines_and_escapes_are_refused() {
        for bad in [
            "x\nexpectation: met",
            "\u{1b}[2J",
            "a\rb",
            "\u{202e}gnp.exe",
            "",
        ] {
            assert!(check_scenario_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_scenario_name(&"a".repeat(129)).is_err());
        for bad in ["a b", "a|b", "-x", "", "lb1\n", &"a".repeat(65)] {
            assert!(check_host_name(bad).is_err(), "{bad:?}");
        }
    }
}
