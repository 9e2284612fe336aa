//! Write a scenario file that is an existing one with a new, scripted fault
//! list (what `hasim shrink` and `hasim sweep` produce). The original text is
//! the starting point, so everything else in it (nodes, clients, the
//! expectation) stays exactly as the user wrote it.

use crate::faults::TimedFault;
use std::path::{Component, Path, PathBuf};
use toml::{Table, Value};

/// The path of `target` relative to directory `from` (both absolute).
fn relative(target: &Path, from: &Path) -> PathBuf {
    let t: Vec<Component> = target.components().collect();
    let f: Vec<Component> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

/// One `[[fault]]` table.
fn fault_table(fault: &TimedFault) -> Result<Value, String> {
    let mut table = match Value::try_from(&fault.action) {
        Ok(Value::Table(t)) => t,
        Ok(other) => return Err(format!("fault serialised as {other}, expected a table")),
        Err(e) => return Err(format!("cannot write fault: {e}")),
    };
    let at = humantime::format_duration(fault.at).to_string();
    let mut out = Table::new();
    out.insert("at".into(), Value::String(at));
    out.extend(std::mem::take(&mut table));
    Ok(Value::Table(out))
}

/// The text of `original` (read from `original_path`) with its faults and
/// nemesis replaced by `faults`, a `description` saying where it came from,
/// and the corosync.conf path rewritten for a file written to `out_path`.
pub fn with_faults(
    original: &str,
    original_path: &Path,
    out_path: &Path,
    faults: &[TimedFault],
    description: &str,
) -> Result<String, String> {
    let file = original_path.display();
    let mut doc: Table = original
        .parse()
        .map_err(|e| format!("{file}: not TOML: {e}"))?;
    doc.remove("nemesis");
    doc.remove("fault");
    doc.insert("description".into(), Value::String(description.into()));
    if let Some(Value::Table(corosync)) = doc.get_mut("corosync") {
        if let Some(Value::String(conf)) = corosync.get("conf").cloned() {
            let base = original_path.parent().unwrap_or(Path::new("."));
            let conf_abs = absolute(&base.join(conf));
            let out_dir = absolute(out_path.parent().unwrap_or(Path::new(".")));
            let rel = relative(&conf_abs, &out_dir);
            corosync.insert("conf".into(), Value::String(rel.display().to_string()));
        }
    }
    let tables: Result<Vec<Value>, String> = faults.iter().map(fault_table).collect();
    doc.insert("fault".into(), Value::Array(tables?));
    // `[expect]` last reads best; toml writes tables after plain keys anyway.
    toml::to_string(&doc).map_err(|e| format!("cannot write scenario: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/a/b/c.conf"), Path::new("/a/d")),
            PathBuf::from("../b/c.conf")
        );
        assert_eq!(
            relative(Path::new("/a/b/c.conf"), Path::new("/a/b")),
            PathBuf::from("c.conf")
        );
    }
}
