//! Value conversions with corosync's exact acceptance rules.
//!
//! Corosync converts integers with `strtoll(.., 10)` and then checks the target type's
//! range, so `+5` and `007` are accepted, `0x10`, `5ms` and `5 # comment` are not.

use crate::error::ParseError;
use crate::tree::Entry;

/// Parse an integer the way `strtoll` base 10 does, requiring the whole string to be used.
pub(crate) fn strtoll_exact(s: &str) -> Option<i64> {
    // strtoll skips leading C whitespace (space, \t, \n, \v, \f, \r).
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for b in digits.bytes() {
        v = v.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

/// Parse an unsigned 64-bit value like `strtoull` (used for `config_version`).
pub(crate) fn strtoull_exact(s: &str) -> Option<u64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// Convert an entry to an integer in `[min, max]`, or the corosync-style range error.
pub(crate) fn int_in(
    file: &str,
    path: &str,
    e: &Entry,
    min: i64,
    max: i64,
) -> Result<i64, ParseError> {
    match strtoll_exact(&e.value) {
        Some(v) if v >= min && v <= max => Ok(v),
        _ => Err(ParseError::new(
            file,
            e.value_pos,
            format!(
                "expected an integer in range ({min}..{max}) for key \"{path}\", but \"{}\" was given",
                e.value
            ),
        )),
    }
}

pub(crate) fn u32_of(file: &str, path: &str, e: &Entry) -> Result<u32, ParseError> {
    int_in(file, path, e, 0, i64::from(u32::MAX)).map(|v| u32::try_from(v).unwrap_or(0))
}

pub(crate) fn u16_of(file: &str, path: &str, e: &Entry) -> Result<u16, ParseError> {
    int_in(file, path, e, 0, i64::from(u16::MAX)).map(|v| u16::try_from(v).unwrap_or(0))
}

pub(crate) fn u8_of(file: &str, path: &str, e: &Entry) -> Result<u8, ParseError> {
    int_in(file, path, e, 0, i64::from(u8::MAX)).map(|v| u8::try_from(v).unwrap_or(0))
}

pub(crate) fn i32_of(file: &str, path: &str, e: &Entry) -> Result<i32, ParseError> {
    int_in(file, path, e, i64::from(i32::MIN), i64::from(i32::MAX))
        .map(|v| i32::try_from(v).unwrap_or(0))
}

pub(crate) fn u64_of(file: &str, path: &str, e: &Entry) -> Result<u64, ParseError> {
    strtoull_exact(&e.value).ok_or_else(|| {
        ParseError::new(
            file,
            e.value_pos,
            format!(
                "expected an integer in range (0..{}) for key \"{path}\", but \"{}\" was given",
                u64::MAX,
                e.value
            ),
        )
    })
}

/// Accept one of a fixed set of words.
pub(crate) fn one_of<'a>(
    file: &str,
    path: &str,
    e: &Entry,
    allowed: &[&'a str],
) -> Result<&'a str, ParseError> {
    allowed
        .iter()
        .find(|a| **a == e.value)
        .copied()
        .ok_or_else(|| {
            ParseError::new(
                file,
                e.value_pos,
                format!(
                    "expected one of {} for key \"{path}\", but \"{}\" was given",
                    allowed.join(", "),
                    e.value
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoll_rules() {
        assert_eq!(strtoll_exact("3000"), Some(3000));
        assert_eq!(strtoll_exact("+5"), Some(5));
        assert_eq!(strtoll_exact("007"), Some(7));
        assert_eq!(strtoll_exact("-1"), Some(-1));
        assert_eq!(strtoll_exact("0x10"), None);
        assert_eq!(strtoll_exact("5ms"), None);
        assert_eq!(strtoll_exact("5 # c"), None);
        assert_eq!(strtoll_exact(""), None);
        assert_eq!(strtoll_exact("-"), None);
        assert_eq!(strtoll_exact("99999999999999999999"), None);
    }
}
