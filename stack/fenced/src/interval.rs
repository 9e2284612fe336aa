//! Pacemaker's interval values (`crm_parse_interval_spec`, lib/common/iso8601.c
//! and utils.c): a bare number is seconds; suffixes ms, s, m/min, h; the
//! result is in milliseconds. ISO 8601 durations (`PT5S`) are accepted for
//! the common `PT<n>H<n>M<n>S` form.

/// Parse an interval into milliseconds; `None` when it is not one.
pub fn parse_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(iso) = t.strip_prefix("PT").or_else(|| t.strip_prefix("pt")) {
        return parse_iso_time(iso);
    }
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits_end == 0 {
        return None;
    }
    let n: u64 = t[..digits_end].parse().ok()?;
    let unit = t[digits_end..].trim();
    let factor = match unit {
        "" | "s" | "sec" => 1000,
        "ms" | "msec" => 1,
        "m" | "min" => 60_000,
        "h" | "hr" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn parse_iso_time(mut rest: &str) -> Option<u64> {
    let mut total = 0u64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let end = rest.find(|c: char| !c.is_ascii_digit())?;
        if end == 0 {
            return None;
        }
        let n: u64 = rest[..end].parse().ok()?;
        let factor = match rest[end..].chars().next()? {
            'H' | 'h' => 3_600_000,
            'M' | 'm' => 60_000,
            'S' | 's' => 1000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(factor)?)?;
        rest = &rest[end + 1..];
    }
    Some(total)
}

/// Whole seconds, as fenced uses them (`crm_parse_interval_spec(v) / 1000`).
pub fn parse_whole_seconds(text: &str) -> Option<u64> {
    parse_ms(text).map(|ms| ms / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_numbers() {
        assert_eq!(parse_ms("5"), Some(5000));
        assert_eq!(parse_ms("5s"), Some(5000));
        assert_eq!(parse_ms("1500ms"), Some(1500));
        assert_eq!(parse_ms("2min"), Some(120_000));
        assert_eq!(parse_ms("1h"), Some(3_600_000));
        assert_eq!(parse_ms("PT1M30S"), Some(90_000));
        assert_eq!(parse_ms("five"), None);
        assert_eq!(parse_ms("5 parsecs"), None);
        assert_eq!(
            parse_whole_seconds("1500ms"),
            Some(1),
            "fenced truncates to whole seconds"
        );
    }
}
