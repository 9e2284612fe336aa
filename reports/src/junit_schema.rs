//! A structural check of a JUnit document against the common JUnit schema
//! (`reports/tests/junit.xsd` is the same schema as XSD): which element may
//! appear under which, the required attributes and their types, and that the
//! counts on a suite agree with its cases. Used by the tests of `--junit`, so
//! CI needs no XML schema tool.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::BTreeMap;

/// Children each element may have, and its required attributes.
fn rules(element: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match element {
        "testsuites" => (&["testsuite"], &[]),
        "testsuite" => (
            &["properties", "testcase", "system-out", "system-err"],
            &["name", "tests", "failures", "errors", "time"],
        ),
        "properties" => (&["property"], &[]),
        "property" => (&[], &["name", "value"]),
        "testcase" => (
            &["skipped", "error", "failure", "system-out", "system-err"],
            &["name", "classname", "time"],
        ),
        "failure" | "error" => (&[], &["type"]),
        "skipped" | "system-out" | "system-err" => (&[], &[]),
        _ => return None,
    })
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

fn check_attributes(name: &str, attrs: &BTreeMap<String, String>, pos: u64) -> Result<(), String> {
    let (_, required) = rules(name).ok_or(format!("byte {pos}: unknown element <{name}>"))?;
    for r in required {
        if !attrs.contains_key(*r) {
            return Err(format!("byte {pos}: <{name}> lacks attribute `{r}`"));
        }
    }
    for (key, value) in attrs {
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
fn open(
    stack: &[String],
    start: &BytesStart,
    pos: u64,
    tally: &mut SuiteTally,
) -> Result<String, String> {
    let name = start.name().0.to_string();
    match stack.last() {
        None if name != "testsuites" && name != "testsuite" => {
            return Err(format!(
                "byte {pos}: root <{name}>, expected <testsuites> or <testsuite>"
            ))
        }
        Some(parent) => {
            let (children, _) = rules(parent).unwrap_or((&[], &[]));
            if !children.contains(&name.as_str()) {
                return Err(format!("byte {pos}: <{name}> may not appear in <{parent}>"));
            }
        }
        None => {}
    }
    let attrs = attributes(start, pos)?;
    check_attributes(&name, &attrs, pos)?;
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

/// Check `xml` against the JUnit schema; the error names the byte offset and
/// what was expected.
pub fn validate(xml: &str) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
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
                let name = open(&stack, &start, pos, &mut tally)?;
                stack.push(name);
            }
            Event::Empty(start) => {
                roots += usize::from(stack.is_empty());
                if open(&stack, &start, pos, &mut tally)? == "testsuite" {
                    tally.check(pos)?;
                }
            }
            Event::End(_) => {
                let closed = stack.pop();
                if closed.as_deref() == Some("testsuite") {
                    tally.check(pos)?;
                }
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
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
<testsuites name="hasim" tests="2" failures="1" errors="0" time="0.050">
  <testsuite name="s" tests="2" failures="1" errors="0" skipped="0" time="0.050">
    <testcase name="seed 1" classname="hasim.s" time="0.020"/>
    <testcase name="seed 2" classname="hasim.s" time="0.030">
      <failure message="liveness BROKEN" type="liveness">evidence</failure>
      <system-out>x</system-out>
    </testcase>
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
                "<system-out>x</system-out>",
                "<bogus/>",
                "<bogus> may not appear in <testcase>",
            ),
            (r#"type="liveness""#, "", "lacks attribute `type`"),
            ("</testsuites>", "", "not well-formed"),
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
