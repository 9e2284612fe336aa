//! A structural check of a JUnit document against what both published JUnit
//! schemas accept (Apache Ant's as Windy Road wrote it down, and Jenkins
//! xUnit's `junit-10.xsd`; `reports/tests/junit.xsd` is the same rules as
//! XSD): which element may appear under which and in what order, the
//! required and the allowed attributes and their types, and that the counts
//! on a suite agree with its cases. Used by the tests of `--junit`, so CI
//! needs no XML schema tool.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::BTreeMap;

/// An element's rule: its children in the order they must come, each with
/// (min, max) occurrences (`u32::MAX`: unbounded), the attributes it must
/// have and the attributes it may have (`None`: any).
struct Rule {
    children: &'static [(&'static str, u32, u32)],
    required: &'static [&'static str],
    allowed: Option<&'static [&'static str]>,
}

const SUITE_ATTRS: &[&str] = &[
    "name",
    "tests",
    "failures",
    "errors",
    "skipped",
    "time",
    "timestamp",
    "hostname",
    "id",
    "package",
];

fn rule(element: &str) -> Option<Rule> {
    let r = |children, required, allowed| Rule {
        children,
        required,
        allowed,
    };
    Some(match element {
        // Ant's schema allows no attribute on <testsuites>.
        "testsuites" => r(&[("testsuite", 0, u32::MAX)], &[], Some(&[])),
        "testsuite" => r(
            &[
                ("properties", 1, 1),
                ("testcase", 0, u32::MAX),
                ("system-out", 1, 1),
                ("system-err", 1, 1),
            ],
            &[
                "name",
                "tests",
                "failures",
                "errors",
                "time",
                "timestamp",
                "hostname",
            ],
            Some(SUITE_ATTRS),
        ),
        "properties" => r(&[("property", 0, u32::MAX)], &[], Some(&[])),
        "property" => r(&[], &["name", "value"], Some(&["name", "value"])),
        // At most one of these; Ant's schema allows no output in a case.
        "testcase" => r(
            &[("skipped", 0, 1), ("error", 0, 1), ("failure", 0, 1)],
            &["name", "classname", "time"],
            Some(&["name", "classname", "time"]),
        ),
        "failure" | "error" => r(&[], &["type"], Some(&["type", "message"])),
        "skipped" => r(&[], &[], None),
        "system-out" | "system-err" => r(&[], &[], Some(&[])),
        _ => return None,
    })
}

/// A zone-less `YYYY-MM-DDTHH:MM:SS`, the only timestamp form Ant's schema takes.
fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// Check the children an element had against its rule's sequence.
fn check_children(name: &str, children: &[String], pos: u64) -> Result<(), String> {
    let Some(rule) = rule(name) else {
        return Ok(());
    };
    let mut i = 0;
    for (child, min, max) in rule.children {
        let n = children[i..].iter().take_while(|c| c == child).count() as u32;
        if n < *min || n > *max {
            return Err(format!(
                "byte {pos}: <{name}> has {n} <{child}>, expected {min} to {}",
                if *max == u32::MAX {
                    "any".to_string()
                } else {
                    max.to_string()
                }
            ));
        }
        i += n as usize;
        if name == "testcase" && n > 0 {
            break;
        }
    }
    match children.get(i) {
        Some(extra) => Err(format!("byte {pos}: <{extra}> out of place in <{name}>")),
        None => Ok(()),
    }
}

const COUNTS: &[&str] = &["tests", "failures", "errors", "skipped", "id"];

fn attributes(start: &BytesStart, pos: u64) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("byte {pos}: bad attribute: {e}"))?;
        let key = attr.key.0.to_string();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Explicit1_0)
            .map_err(|e| format!("byte {pos}: bad attribute value: {e}"))?
            .to_string();
        out.insert(key, value);
    }
    Ok(out)
}

fn check_attributes(
    name: &str,
    attrs: &BTreeMap<String, String>,
    in_testsuites: bool,
    pos: u64,
) -> Result<(), String> {
    let rule = rule(name).ok_or(format!("byte {pos}: unknown element <{name}>"))?;
    // Ant's schema: a suite inside <testsuites> also needs its id and package.
    let nested: &[&str] = if name == "testsuite" && in_testsuites {
        &["id", "package"]
    } else {
        &[]
    };
    for r in rule.required.iter().chain(nested) {
        if !attrs.contains_key(*r) {
            return Err(format!("byte {pos}: <{name}> lacks attribute `{r}`"));
        }
    }
    for (key, value) in attrs {
        if rule.allowed.is_some_and(|a| !a.contains(&key.as_str())) {
            return Err(format!(
                "byte {pos}: <{name}> may not have attribute `{key}`"
            ));
        }
        if key == "timestamp" && !is_timestamp(value) {
            return Err(format!(
                "byte {pos}: <{name} timestamp=\"{value}\">: expected YYYY-MM-DDTHH:MM:SS"
            ));
        }
        let ok = if COUNTS.contains(&key.as_str()) {
            value.parse::<u64>().is_ok()
        } else if key == "time" {
            value
                .parse::<f64>()
                .is_ok_and(|t| t >= 0.0 && t.is_finite())
        } else {
            true
        };
        if !ok {
            return Err(format!(
                "byte {pos}: <{name} {key}=\"{value}\">: expected a non-negative number"
            ));
        }
    }
    Ok(())
}

/// What a `<testsuite>` claims and what its cases show.
#[derive(Default)]
struct SuiteTally {
    claimed: BTreeMap<String, String>,
    tests: u64,
    failures: u64,
    errors: u64,
}

impl SuiteTally {
    fn check(&self, pos: u64) -> Result<(), String> {
        for (key, seen) in [
            ("tests", self.tests),
            ("failures", self.failures),
            ("errors", self.errors),
        ] {
            let claimed = self.claimed.get(key).and_then(|v| v.parse::<u64>().ok());
            if claimed != Some(seen) {
                return Err(format!(
                    "byte {pos}: <testsuite {key}=\"{}\"> but its cases show {seen}",
                    self.claimed.get(key).map_or("", String::as_str)
                ));
            }
        }
        Ok(())
    }
}

/// Open an element: check it may sit under its parent and its attributes.
/// An open element and the children seen in it so far.
type Frame = (String, Vec<String>);

fn open(
    stack: &mut [Frame],
    start: &BytesStart,
    pos: u64,
    tally: &mut SuiteTally,
) -> Result<String, String> {
    let name = start.name().0.to_string();
    match stack.last_mut() {
        None if name != "testsuites" && name != "testsuite" => {
            return Err(format!(
                "byte {pos}: root <{name}>, expected <testsuites> or <testsuite>"
            ))
        }
        Some((parent, seen)) => {
            let allowed = rule(parent).map_or(&[][..], |r| r.children);
            if !allowed.iter().any(|(c, _, _)| *c == name) {
                return Err(format!("byte {pos}: <{name}> may not appear in <{parent}>"));
            }
            seen.push(name.clone());
        }
        None => {}
    }
    let attrs = attributes(start, pos)?;
    let in_testsuites = stack.first().is_some_and(|(root, _)| root == "testsuites");
    check_attributes(&name, &attrs, in_testsuites, pos)?;
    match name.as_str() {
        "testsuite" => {
            *tally = SuiteTally {
                claimed: attrs,
                ..SuiteTally::default()
            }
        }
        "testcase" => tally.tests += 1,
        "failure" => tally.failures += 1,
        "error" => tally.errors += 1,
        _ => {}
    }
    Ok(name)
}

/// Close an element: its children's sequence, and a suite's counts.
fn close(name: &str, children: &[String], tally: &SuiteTally, pos: u64) -> Result<(), String> {
    check_children(name, children, pos)?;
    if name == "testsuite" {
        tally.check(pos)?;
    }
    Ok(())
}

/// Check `xml` against the JUnit schema; the error names the byte offset and
/// what was expected.
pub fn validate(xml: &str) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Frame> = Vec::new();
    let mut tally = SuiteTally::default();
    let mut roots = 0;
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("byte {pos}: not well-formed XML: {e}"))?;
        match event {
            Event::Start(start) => {
                roots += usize::from(stack.is_empty());
                let name = open(&mut stack, &start, pos, &mut tally)?;
                stack.push((name, Vec::new()));
            }
            Event::Empty(start) => {
                roots += usize::from(stack.is_empty());
                let name = open(&mut stack, &start, pos, &mut tally)?;
                close(&name, &[], &tally, pos)?;
            }
            Event::End(_) => {
                if let Some((name, children)) = stack.pop() {
                    close(&name, &children, &tally, pos)?;
                }
            }
            Event::Eof => {
                if let Some((open, _)) = stack.last() {
                    return Err(format!(
                        "byte {pos}: not well-formed XML: <{open}> is never closed"
                    ));
                }
                break;
            }
            _ => {}
        }
    }
    if roots != 1 {
        return Err(format!("expected one root element, found {roots}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="s" id="0" package="hasim" hostname="hasim" tests="2" failures="1" errors="0" skipped="0" time="0.050" timestamp="2026-12-02T01:02:03">
    <properties>
      <property name="scenario" value="s.toml"/>
    </properties>
    <testcase name="seed 1" classname="hasim.s" time="0.020"/>
    <testcase name="seed 2" classname="hasim.s" time="0.030">
      <failure message="liveness BROKEN" type="liveness">evidence</failure>
    </testcase>
    <system-out>x</system-out>
    <system-err></system-err>
  </testsuite>
</testsuites>
"#;

    #[test]
    fn a_valid_document_passes() {
        validate(GOOD).unwrap();
    }

    #[test]
    fn each_schema_rule_rejects_its_violation() {
        for (from, to, why) in [
            (
                r#" classname="hasim.s" time="0.020""#,
                r#" time="0.020""#,
                "lacks attribute `classname`",
            ),
            (
                r#"tests="2" failures="1" errors="0" skipped"#,
                r#"tests="3" failures="1" errors="0" skipped"#,
                "cases show 2",
            ),
            (r#"time="0.030">"#, r#"time="-1">"#, "non-negative number"),
            (
                "evidence</failure>",
                "evidence</failure><bogus/>",
                "<bogus> may not appear in <testcase>",
            ),
            (r#"type="liveness""#, "", "lacks attribute `type`"),
            ("</testsuites>", "", "not well-formed"),
            // What Ant's schema (Windy Road's JUnit.xsd) adds to Jenkins's.
            (
                "<testsuites>",
                r#"<testsuites tests="2">"#,
                "may not have attribute `tests`",
            ),
            (
                r#" timestamp="2026-12-02T01:02:03""#,
                "",
                "lacks attribute `timestamp`",
            ),
            (
                "2026-12-02T01:02:03",
                "2026-12-02T01:02:03Z",
                "expected YYYY-MM-DDTHH:MM:SS",
            ),
            (r#" id="0""#, "", "lacks attribute `id`"),
            (r#" hostname="hasim""#, "", "lacks attribute `hostname`"),
            (
                "evidence</failure>",
                "evidence</failure><system-out>y</system-out>",
                "<system-out> may not appear in <testcase>",
            ),
            (
                "evidence</failure>",
                r#"evidence</failure><error type="e"/>"#,
                "<error> out of place in <testcase>",
            ),
            (
                "    <system-err></system-err>\n",
                "",
                "has 0 <system-err>, expected 1 to 1",
            ),
            (
                "<properties>",
                "<system-out/><properties>",
                "has 0 <properties>",
            ),
        ] {
            let bad = GOOD.replacen(from, to, 1);
            let err = validate(&bad).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn rendered_output_validates() {
        use crate::junit::{render, CaseProblem, JunitCase, JunitSuite};
        let suite = JunitSuite {
            name: "s".into(),
            timestamp: "2026-12-02T01:02:03".into(),
            properties: vec![("scenario".into(), "s.toml".into())],
            cases: vec![JunitCase {
                name: "seed 1".into(),
                classname: "hasim.s".into(),
                time: 0.5,
                problem: Some(CaseProblem::Failure {
                    message: "a <b>".into(),
                    kind: "liveness".into(),
                    details: "x & y\u{7}".into(),
                }),
                output: Some("out".into()),
            }],
        };
        validate(&render(&[suite])).unwrap();
    }
}
