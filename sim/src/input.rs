//! Reading input files with a size limit.
//!
//! `std::fs::read_to_string` on `/dev/zero`, a FIFO that never closes or a
//! mistyped multi-gigabyte path reads until memory runs out. Every file hasim
//! reads goes through [`read_text`], which stops one byte past the limit and
//! says how large the file may be.

use std::io::Read;
use std::path::Path;

/// Read `path` as UTF-8 text of at most `limit` bytes. `what` names the file
/// kind in the error ("scenario file", "corosync.conf").
pub fn read_text(path: &Path, limit: u64, what: &str) -> Result<String, String> {
    let shown = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| format!("{shown}: cannot read {what}: {e}"))?;
    read_limited(file, limit, &format!("{shown}: {what}"))
}

/// Read all of `reader` as UTF-8 text of at most `limit` bytes; `label`
/// starts every error message.
pub fn read_limited(reader: impl Read, limit: u64, label: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{label}: cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{label}: larger than the {} limit; is this the right file?",
            show_bytes(limit)
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..at];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        format!("{label}: line {line}: expected UTF-8 text, found a byte that is not")
    })
}

/// `1 MiB`, `64 MiB`, `512 bytes`.
pub fn show_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.trailing_zeros() >= 20 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.trailing_zeros() >= 10 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_text_is_read() {
        assert_eq!(read_limited(&b"abc"[..], 3, "x").unwrap(), "abc");
    }

    #[test]
    fn an_endless_stream_stops_at_the_limit() {
        let e = read_limited(std::io::repeat(0), 1 << 20, "/dev/zero: scenario file").unwrap_err();
        assert!(e.contains("larger than the 1 MiB limit"), "{e}");
    }

    #[test]
    fn dev_zero_is_refused_quickly() {
        let e = read_text(Path::new("/dev/zero"), 1 << 20, "scenario file").unwrap_err();
        assert!(
            e.starts_with("/dev/zero: scenario file: larger than"),
            "{e}"
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let e = read_limited(&b"a\nb\n\xff"[..], 100, "f").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
    }
}
