//! Rule evaluation (node attribute and date expressions), attribute-set
//! resolution and the time/interval syntaxes the CIB uses.

use std::collections::BTreeMap;

use hasim_cib::{AttrSet, Expression, Rule, Score};

/// Evaluation context of a rule.
pub struct RuleCtx<'a> {
    /// Node attributes (including `#uname`, `#id`, `#kind`, `#is_dc`), if the
    /// rule is evaluated for a node.
    pub node_attrs: Option<&'a BTreeMap<String, String>>,
    /// Current time (seconds since the epoch).
    pub now: i64,
    /// Resource agent (class, provider, type) for `rsc_expression`.
    pub rsc_agent: Option<(&'a str, Option<&'a str>, &'a str)>,
    /// Operation (name, interval ms) for `op_expression`.
    pub op: Option<(&'a str, u64)>,
}

/// Does the rule pass?
pub fn eval_rule(rule: &Rule, ctx: &RuleCtx<'_>) -> bool {
    let or = rule
        .boolean_op
        .as_deref()
        .is_some_and(|b| b.eq_ignore_ascii_case("or"));
    if rule.expressions.is_empty() {
        return true;
    }
    let mut any = false;
    for expr in &rule.expressions {
        let ok = eval_expr(expr, ctx);
        if or && ok {
            return true;
        }
        if !or && !ok {
            return false;
        }
        any |= ok;
    }
    if or {
        any
    } else {
        true
    }
}

fn eval_expr(expr: &Expression, ctx: &RuleCtx<'_>) -> bool {
    match expr {
        Expression::Attribute {
            attribute,
            operation,
            value,
            value_type,
            ..
        } => {
            let l = ctx
                .node_attrs
                .and_then(|a| a.get(attribute))
                .map(String::as_str);
            accept_attr(l, value.as_deref(), value_type.as_deref(), operation)
        }
        Expression::Date { attrs, spec, .. } => eval_date(attrs, spec.as_deref(), ctx.now),
        Expression::Resource { attrs } => {
            let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
            match ctx.rsc_agent {
                None => false,
                Some((class, provider, agent)) => {
                    get("class").is_none_or(|c| c == class)
                        && get("provider").is_none_or(|p| Some(p) == provider)
                        && get("type").is_none_or(|t| t == agent)
                }
            }
        }
        Expression::Operation { attrs } => {
            let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
            match ctx.op {
                None => false,
                Some((name, interval)) => {
                    get("name").is_none_or(|n| n == name)
                        && get("interval").is_none_or(|i| parse_interval_ms(i) == Some(interval))
                }
            }
        }
        Expression::Rule(r) => eval_rule(r, ctx),
    }
}

fn compare(l: &str, r: &str, value_type: Option<&str>, op: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ty = match value_type {
        Some(t) => t.to_ascii_lowercase(),
        None => {
            if matches!(op, "lt" | "lte" | "gt" | "gte") {
                if l.contains('.') || r.contains('.') {
                    "number".into()
                } else {
                    "integer".into()
                }
            } else {
                "string".into()
            }
        }
    };
    match ty.as_str() {
        "integer" => match (leading_int(l), leading_int(r)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => compare(l, r, Some("string"), op),
        },
        "number" => match (l.trim().parse::<f64>(), r.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => compare(l, r, Some("string"), op),
        },
        "version" => compare_version(l, r),
        _ => l.to_ascii_lowercase().cmp(&r.to_ascii_lowercase()),
    }
}

/// strtoll semantics: the leading integer of the text (trailing text ignored).
fn leading_int(text: &str) -> Option<i64> {
    let t = text.trim_start();
    let bytes = t.as_bytes();
    let mut end = 0;
    if end < bytes.len() && (bytes[end] == b'-' || bytes[end] == b'+') {
        end += 1;
    }
    let start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end == start {
        return None;
    }
    t[..end].parse().ok()
}

fn compare_version(a: &str, b: &str) -> std::cmp::Ordering {
    let pa: Vec<i64> = a.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    let pb: Vec<i64> = b.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).copied().unwrap_or(0);
        let y = pb.get(i).copied().unwrap_or(0);
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

fn accept_attr(l: Option<&str>, r: Option<&str>, ty: Option<&str>, op: &str) -> bool {
    use std::cmp::Ordering;
    let op = op.to_ascii_lowercase();
    match op.as_str() {
        "defined" => return l.is_some(),
        "not_defined" => return l.is_none(),
        _ => {}
    }
    let cmp = match (l, r) {
        (Some(a), Some(b)) => compare(a, b, ty, &op),
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
    };
    match op.as_str() {
        "eq" => cmp == Ordering::Equal,
        "ne" => cmp != Ordering::Equal,
        _ if l.is_none() || r.is_none() => false,
        "lt" => cmp == Ordering::Less,
        "lte" => cmp != Ordering::Greater,
        "gt" => cmp == Ordering::Greater,
        "gte" => cmp != Ordering::Less,
        _ => false,
    }
}

fn eval_date(attrs: &[(String, String)], spec: Option<&[(String, String)]>, now: i64) -> bool {
    let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let op = get("operation").unwrap_or("in_range");
    let start = get("start").and_then(parse_datetime);
    let end = get("end").and_then(parse_datetime);
    match op {
        "in_range" => start.is_none_or(|s| now >= s) && end.is_none_or(|e| now <= e),
        "gt" => start.is_some_and(|s| now > s),
        "lt" => end.is_some_and(|e| now < e),
        "date_spec" => spec.is_none_or(|s| eval_date_spec(s, now)),
        _ => false,
    }
}

fn in_ranges(value: i64, spec: &str) -> bool {
    spec.split(',').any(|part| {
        let part = part.trim();
        if let Some((a, b)) = part.split_once('-') {
            match (a.trim().parse::<i64>(), b.trim().parse::<i64>()) {
                (Ok(a), Ok(b)) => value >= a && value <= b,
                _ => false,
            }
        } else {
            part.parse::<i64>().is_ok_and(|v| v == value)
        }
    })
}

fn eval_date_spec(spec: &[(String, String)], now: i64) -> bool {
    let (y, mo, d, h, mi, s) = civil_from_epoch(now);
    let days = now.div_euclid(86_400);
    // 1970-01-01 was a Thursday; ISO weekday: Monday = 1.
    let weekday = (days + 3).rem_euclid(7) + 1;
    let yday = days - days_from_civil(y, 1, 1) + 1;
    spec.iter().all(|(k, v)| match k.as_str() {
        "id" => true,
        "years" => in_ranges(y, v),
        "months" => in_ranges(mo, v),
        "monthdays" => in_ranges(d, v),
        "hours" => in_ranges(h, v),
        "minutes" => in_ranges(mi, v),
        "seconds" => in_ranges(s, v),
        "weekdays" => in_ranges(weekday, v),
        "yeardays" => in_ranges(yday, v),
        _ => true,
    })
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_epoch(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 { y + 1 } else { y },
        m,
        d,
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60,
    )
}

/// Parse the ISO 8601 date-times the CIB uses (`2009-06-01 12:00:00`,
/// `2009-06-01T12:00:00Z`, `2009-06-01`), as seconds since the epoch (UTC).
pub fn parse_datetime(text: &str) -> Option<i64> {
    let t = text.trim();
    let (date, time) = match t.find(['T', ' ']) {
        Some(i) => (&t[..i], t[i + 1..].trim()),
        None => (t, ""),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let (y, m, d) = match parts.as_slice() {
        [y, m, d] => (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
        [y, doy] => {
            let y: i64 = y.parse().ok()?;
            let doy: i64 = doy.parse().ok()?;
            return Some((days_from_civil(y, 1, 1) + doy - 1) * 86_400 + parse_time(time)?);
        }
        _ => return None,
    };
    Some(days_from_civil(y, m, d) * 86_400 + parse_time(time)?)
}

fn parse_time(time: &str) -> Option<i64> {
    let mut t = time.trim_end_matches('Z');
    let mut offset = 0i64;
    if let Some(i) = t.rfind(['+', '-']) {
        if i > 0 {
            let (clock, off) = t.split_at(i);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let digits: String = off[1..].chars().filter(|c| c.is_ascii_digit()).collect();
            let hh: i64 = digits.get(0..2).and_then(|v| v.parse().ok()).unwrap_or(0);
            let mm: i64 = digits.get(2..4).and_then(|v| v.parse().ok()).unwrap_or(0);
            offset = sign * (hh * 3600 + mm * 60);
            t = clock;
        }
    }
    if t.is_empty() {
        return Some(-offset);
    }
    let f: Vec<i64> = t
        .split(':')
        .map(|x| x.split('.').next().unwrap_or("0").parse().unwrap_or(0))
        .collect();
    let h = f.first().copied().unwrap_or(0);
    let m = f.get(1).copied().unwrap_or(0);
    let s = f.get(2).copied().unwrap_or(0);
    Some(h * 3600 + m * 60 + s - offset)
}

/// Parse an interval specification into milliseconds: plain numbers are
/// seconds, with optional units (ms, s, m/min, h/hr) or ISO 8601 `PT...`.
pub fn parse_interval_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() {
        return Some(0);
    }
    if let Some(rest) = t.strip_prefix('P').or_else(|| t.strip_prefix('p')) {
        let mut total: f64 = 0.0;
        let mut num = String::new();
        let mut in_time = false;
        for c in rest.chars() {
            match c {
                'T' | 't' => in_time = true,
                '0'..='9' | '.' => num.push(c),
                _ => {
                    let v: f64 = num.parse().ok()?;
                    num.clear();
                    total += v * match (c.to_ascii_uppercase(), in_time) {
                        ('Y', false) => 365.0 * 86_400.0,
                        ('M', false) => 30.0 * 86_400.0,
                        ('W', false) => 7.0 * 86_400.0,
                        ('D', false) => 86_400.0,
                        ('H', _) => 3600.0,
                        ('M', true) => 60.0,
                        ('S', _) => 1.0,
                        _ => return None,
                    };
                }
            }
        }
        return Some((total * 1000.0) as u64);
    }
    let digits_end = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let value: f64 = t[..digits_end].parse().ok()?;
    let unit = t[digits_end..].trim().to_ascii_lowercase();
    let factor = match unit.as_str() {
        "" | "s" | "sec" | "secs" => 1000.0,
        "ms" | "msec" | "msecs" => 1.0,
        "us" | "usec" | "usecs" => 0.001,
        "m" | "min" | "mins" => 60_000.0,
        "h" | "hr" | "hrs" => 3_600_000.0,
        _ => return None,
    };
    Some((value * factor) as u64)
}

/// Resolve a list of attribute sets to name/value pairs: sets are
/// considered by descending score (ties keep document order), rule-gated
/// sets only when their rule passes, and the first set naming an attribute
/// wins.
pub fn resolve_sets(sets: &[&AttrSet], ctx: &RuleCtx<'_>, into: &mut BTreeMap<String, String>) {
    let mut ordered: Vec<(usize, &&AttrSet)> = sets.iter().enumerate().collect();
    ordered.sort_by(|(ia, a), (ib, b)| {
        let sa = a
            .score
            .as_deref()
            .map(Score::parse_or_zero)
            .unwrap_or(Score::ZERO);
        let sb = b
            .score
            .as_deref()
            .map(Score::parse_or_zero)
            .unwrap_or(Score::ZERO);
        sb.cmp(&sa).then(ia.cmp(ib))
    });
    for (_, set) in ordered {
        if let Some(rule) = &set.rule {
            if !eval_rule(rule, ctx) {
                continue;
            }
        }
        for nv in &set.nvpairs {
            if let Some(v) = &nv.value {
                into.entry(nv.name.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}

/// Pacemaker's boolean syntax.
pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "on" | "yes" | "y" | "1"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval_ms("10s"), Some(10_000));
        assert_eq!(parse_interval_ms("10"), Some(10_000));
        assert_eq!(parse_interval_ms("2min"), Some(120_000));
        assert_eq!(parse_interval_ms("500ms"), Some(500));
        assert_eq!(parse_interval_ms("PT1M30S"), Some(90_000));
        assert_eq!(parse_interval_ms("P30S"), Some(30_000));
        assert_eq!(parse_interval_ms("0"), Some(0));
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-02"), Some(86_400));
        assert_eq!(parse_datetime("1970-01-01 01:00:00"), Some(3600));
        assert_eq!(parse_datetime("1970-01-01T01:00:00Z"), Some(3600));
        assert_eq!(civil_from_epoch(86_400 * 365), (1971, 1, 1, 0, 0, 0));
    }

    #[test]
    fn attribute_comparisons() {
        assert!(accept_attr(Some("5"), Some("10"), None, "lt"));
        assert!(!accept_attr(Some("5"), Some("10"), Some("string"), "lt"));
        assert!(accept_attr(Some("abc"), Some("ABC"), None, "eq"));
        assert!(accept_attr(None, Some("x"), None, "ne"));
        assert!(!accept_attr(None, Some("x"), None, "gt"));
    }
}
