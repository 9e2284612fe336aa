//! Where results go: checked before a run starts, written with every error
//! reported.
//!
//! A `--json` path that cannot be written would otherwise be found only
//! after a long campaign, and a `--trace` naming the scenario file would
//! silently overwrite it. Standard output closed early (`| head`) or a full
//! disk would make `print!` panic; [`emit`] turns those into an error
//! message instead.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An output file, opened (not yet truncated) before the run so that a bad
/// path is reported first.
pub struct OutputFile {
    pub path: PathBuf,
    file: File,
}

impl OutputFile {
    /// Replace the file's contents with `text`.
    pub fn write_all(mut self, text: &str) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("{}: cannot write: {e}", self.path.display());
        truncate(&self.file).map_err(fail)?;
        self.file.write_all(text.as_bytes()).map_err(fail)?;
        self.file.flush().map_err(fail)?;
        self.file
            .sync_data()
            .or_else(ignore_unsupported)
            .map_err(fail)
    }

    /// The open file, truncated, for streaming (the trace).
    pub fn into_file(self) -> Result<File, String> {
        truncate(&self.file).map_err(|e| format!("{}: cannot write: {e}", self.path.display()))?;
        Ok(self.file)
    }

    /// The open file, truncated, as a writer whose errors name the file, so
    /// a failure found mid-run (a full disk) says which output failed.
    pub fn into_writer(self) -> Result<Named<File>, String> {
        let path = self.path.clone();
        Ok(Named {
            path,
            inner: self.into_file()?,
        })
    }
}

/// A writer whose errors start with its path.
pub struct Named<W> {
    path: PathBuf,
    inner: W,
}

impl<W> Named<W> {
    fn name(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }
}

impl<W: Write> Write for Named<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.name(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| self.name(e))
    }
}

/// Empty a regular file; devices and pipes (`/dev/null`, `/dev/stdout`)
/// cannot be truncated and need not be.
fn truncate(file: &File) -> std::io::Result<()> {
    if file.metadata()?.is_file() {
        file.set_len(0)?;
    }
    Ok(())
}

/// `sync_data` on a pipe or a character device is not an error worth
/// reporting.
fn ignore_unsupported(e: std::io::Error) -> std::io::Result<()> {
    match e.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported => Ok(()),
        _ => Err(e),
    }
}

/// The file `path` names, as far as it can be resolved: the canonical path
/// if it exists, else its canonical parent joined with its name.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// Check every output path (`flag`, path) against the inputs and each
/// other, then open each for writing. Nothing is truncated yet.
pub fn prepare(inputs: &[&Path], outputs: &[(&str, &Path)]) -> Result<Vec<OutputFile>, String> {
    let input_files: Vec<PathBuf> = inputs.iter().map(|p| resolve(p)).collect();
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    for (flag, path) in outputs {
        let resolved = resolve(path);
        if let Some(i) = input_files.iter().position(|p| *p == resolved) {
            return Err(format!(
                "{flag} {}: this is an input ({}); refusing to overwrite it",
                path.display(),
                inputs[i].display()
            ));
        }
        if let Some((_, other)) = seen.iter().find(|(p, _)| *p == resolved) {
            return Err(format!(
                "{flag} {}: the same file as {other}; give each output its own file",
                path.display()
            ));
        }
        seen.push((resolved, flag));
    }
    outputs
        .iter()
        .map(|(flag, path)| {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map(|file| OutputFile {
                    path: path.to_path_buf(),
                    file,
                })
                .map_err(|e| format!("{flag} {}: cannot write: {e}", path.display()))
        })
        .collect()
}

/// Write `text` to standard output and flush it. A closed pipe or a full
/// disk is an error message, never a panic.
pub fn emit(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => {
                "standard output was closed before the output was complete (broken pipe)"
                    .to_string()
            }
            _ => format!("cannot write to standard output: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hasim-output-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_output_naming_an_input_is_refused() {
        let dir = temp_dir("input");
        let scenario = dir.join("s.toml");
        std::fs::write(&scenario, "name = 1").unwrap();
        let sneaky = dir.join(".").join("s.toml");
        let e = prepare(&[&scenario], &[("--trace", &sneaky)])
            .err()
            .unwrap();
        assert!(e.contains("this is an input"), "{e}");
        assert_eq!(std::fs::read_to_string(&scenario).unwrap(), "name = 1");
    }

    #[test]
    fn two_outputs_on_one_file_are_refused() {
        let dir = temp_dir("twice");
        let out = dir.join("o.json");
        let e = prepare(&[], &[("--trace", &out), ("--json", &out)])
            .err()
            .unwrap();
        assert!(e.contains("the same file as --trace"), "{e}");
    }

    #[test]
    fn an_unwritable_path_is_found_before_anything_runs() {
        let e = prepare(&[], &[("--json", Path::new("/nonexistent-dir/x.json"))])
            .err()
            .unwrap();
        assert!(
            e.starts_with("--json /nonexistent-dir/x.json: cannot write"),
            "{e}"
        );
    }

    #[test]
    fn a_full_disk_is_an_error() {
        let files = prepare(&[], &[("--json", Path::new("/dev/full"))]).unwrap();
        let e = files
            .into_iter()
            .next()
            .unwrap()
            .write_all("x")
            .unwrap_err();
        assert!(e.contains("/dev/full: cannot write"), "{e}");
    }

    #[test]
    fn a_streamed_output_names_its_file_when_the_disk_is_full() {
        let files = prepare(&[], &[("--trace", Path::new("/dev/full"))]).unwrap();
        let mut w = files.into_iter().next().unwrap().into_writer().unwrap();
        let e = w.write_all(b"x").and_then(|()| w.flush()).unwrap_err();
        assert!(e.to_string().starts_with("/dev/full: "), "{e}");
    }

    #[test]
    fn an_existing_file_is_replaced_not_appended() {
        let dir = temp_dir("replace");
        let out = dir.join("r.json");
        std::fs::write(&out, "old old old").unwrap();
        let files = prepare(&[], &[("--json", &out)]).unwrap();
        files.into_iter().next().unwrap().write_all("new").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
    }
}
