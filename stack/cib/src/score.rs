//! Pacemaker scores: integers clamped to +/-INFINITY (1000000).
//!
//! Addition saturates at the bounds, and -INFINITY dominates +INFINITY
//! (a ban always beats a preference), mirroring how Pacemaker combines
//! location, stickiness and colocation contributions.

use std::fmt;
use std::ops::{Add, AddAssign, Neg};

/// The value Pacemaker treats as infinite.
pub const INFINITY: i32 = 1_000_000;

/// A node preference score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Score(i32);

impl Score {
    pub const ZERO: Score = Score(0);
    pub const INFINITY: Score = Score(INFINITY);
    pub const NEG_INFINITY: Score = Score(-INFINITY);

    /// A score from an integer, clamped to the infinite bounds.
    pub fn new(v: i64) -> Score {
        Score(v.clamp(-(INFINITY as i64), INFINITY as i64) as i32)
    }

    pub fn value(self) -> i32 {
        self.0
    }

    pub fn is_pos_infinity(self) -> bool {
        self.0 >= INFINITY
    }

    pub fn is_neg_infinity(self) -> bool {
        self.0 <= -INFINITY
    }

    /// Parse the score syntax Pacemaker accepts: an integer, or
    /// `INFINITY`/`+INFINITY`/`-INFINITY` (case-insensitive), plus the
    /// `red`/`yellow`/`green` health aliases resolved by the caller.
    /// Non-numeric garbage yields `None`.
    pub fn parse(text: &str) -> Option<Score> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("infinity") || t.eq_ignore_ascii_case("+infinity") {
            return Some(Score::INFINITY);
        }
        if t.eq_ignore_ascii_case("-infinity") {
            return Some(Score::NEG_INFINITY);
        }
        // Pacemaker parses a leading integer and ignores trailing text.
        let bytes = t.as_bytes();
        let mut end = 0;
        if end < bytes.len() && (bytes[end] == b'-' || bytes[end] == b'+') {
            end += 1;
        }
        let digits_start = end;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        if end == digits_start {
            return None;
        }
        let v: i64 = t[..end].parse().unwrap_or(if t.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        });
        Some(Score::new(v))
    }

    /// Like [`Score::parse`] but with Pacemaker's fallback of 0 for garbage.
    pub fn parse_or_zero(text: &str) -> Score {
        Score::parse(text).unwrap_or(Score::ZERO)
    }
}

impl Add for Score {
    type Output = Score;

    fn add(self, rhs: Score) -> Score {
        if self.is_neg_infinity() || rhs.is_neg_infinity() {
            Score::NEG_INFINITY
        } else if self.is_pos_infinity() || rhs.is_pos_infinity() {
            Score::INFINITY
        } else {
            Score::new(self.0 as i64 + rhs.0 as i64)
        }
    }
}

impl AddAssign for Score {
    fn add_assign(&mut self, rhs: Score) {
        *self = *self + rhs;
    }
}

impl Neg for Score {
    type Output = Score;

    fn neg(self) -> Score {
        Score(-self.0)
    }
}

impl From<i32> for Score {
    fn from(v: i32) -> Score {
        Score::new(v as i64)
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_pos_infinity() {
            write!(f, "INFINITY")
        } else if self.is_neg_infinity() {
            write!(f, "-INFINITY")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_infinity_forms() {
        assert_eq!(Score::parse("INFINITY"), Some(Score::INFINITY));
        assert_eq!(Score::parse("+infinity"), Some(Score::INFINITY));
        assert_eq!(Score::parse("-INFINITY"), Some(Score::NEG_INFINITY));
        assert_eq!(Score::parse("42"), Some(Score::from(42)));
        assert_eq!(Score::parse("-7"), Some(Score::from(-7)));
        assert_eq!(Score::parse("99999999"), Some(Score::INFINITY));
        assert_eq!(Score::parse("abc"), None);
    }

    #[test]
    fn addition_saturates_and_bans_win() {
        assert_eq!(Score::INFINITY + Score::from(5), Score::INFINITY);
        assert_eq!(Score::from(999_999) + Score::from(5), Score::INFINITY);
        assert_eq!(Score::NEG_INFINITY + Score::INFINITY, Score::NEG_INFINITY);
        assert_eq!(Score::INFINITY + Score::NEG_INFINITY, Score::NEG_INFINITY);
        assert_eq!(Score::from(-999_999) + Score::from(-5), Score::NEG_INFINITY);
        assert_eq!(Score::from(3) + Score::from(-5), Score::from(-2));
    }

    #[test]
    fn displays_like_pacemaker() {
        assert_eq!(Score::INFINITY.to_string(), "INFINITY");
        assert_eq!(Score::NEG_INFINITY.to_string(), "-INFINITY");
        assert_eq!(Score::from(10).to_string(), "10");
    }
}
