//! Real crm_simulate 2.1.5 as an oracle for tests: where it is, and the
//! Transition Summary it prints for a CIB.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The installed crm_simulate (PATH, then /usr/sbin), if any.
pub fn crm_simulate() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push(PathBuf::from("/usr/sbin"));
    dirs.into_iter()
        .map(|d| d.join("crm_simulate"))
        .find(|p| p.is_file())
}

/// The Transition Summary lines (whitespace runs collapsed, in crm_simulate's
/// order) real crm_simulate prints for `xml`; `tag` keeps concurrent callers' scratch
/// directories apart.
pub fn transition_summary(bin: &Path, xml: &str, tag: &str) -> Result<Vec<String>, String> {
    let dir = std::env::temp_dir().join(format!("hasim-oracle-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("cib.xml");
    std::fs::write(&file, xml).map_err(|e| e.to_string())?;
    let out = Command::new(bin)
        .arg("-x")
        .arg(&file)
        .arg("-S")
        .env("LC_ALL", "C")
        .env("CIB_shadow_dir", &dir)
        .output()
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let out = out?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !text.contains("Transition Summary:") {
        return Err(format!("crm_simulate failed: {text}"));
    }
    Ok(crate::extract_summary(&text))
}
