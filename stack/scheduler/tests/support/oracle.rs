//! Running the real crm_simulate on a CIB (the oracle of differential tests).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Path of crm_simulate if it is on PATH (or in /usr/sbin).
pub fn crm_simulate() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push(PathBuf::from("/usr/sbin"));
    dirs.into_iter()
        .map(|d| d.join("crm_simulate"))
        .find(|p| p.is_file())
}

/// The normalised Transition Summary real Pacemaker computes for `xml`.
pub fn real_summary(bin: &PathBuf, xml: &str, tag: &str) -> Result<Vec<String>, String> {
    let dir = std::env::temp_dir().join(format!("hasim-diff-{}-{tag}", std::process::id()));
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
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !text.contains("Transition Summary:") {
        return Err(format!("crm_simulate failed: {text}"));
    }
    Ok(hasim_conformance::extract_summary(&text))
}

/// Multiset equality of summary lines.
pub fn same_lines(a: &[String], b: &[String]) -> bool {
    let mut x = a.to_vec();
    let mut y = b.to_vec();
    x.sort();
    y.sort();
    x == y
}
