//! JUnit XML, the format every CI system shows natively: one `<testsuite>`
//! per scenario, one `<testcase>` per scenario × seed, and a `<failure>` for a
//! run whose outcome was not the expected one, carrying the invariant, its
//! evidence and the replay command.
//!
//! The layout is what both published JUnit schemas accept, Apache Ant's as
//! written down by Windy Road (`JUnit.xsd`, the strict one) and Jenkins
//! xUnit's `junit-10.xsd` (the lenient one): a bare `<testsuites>`; on each
//! suite `name`, `id`, `package`, `hostname`, `tests`, `failures`,
//! `errors`, `skipped`, `time` and a zone-less `timestamp`, then
//! `<properties>`, the cases, `<system-out>` and `<system-err>` (Ant's
//! schema requires all four and allows no output inside a case, so each
//! case's output goes into the suite's, under the case's name); on a case
//! `name`, `classname` and `time`, and `failure`/`error` elements with
//! `message` and `type` attributes and the details as text.

use std::fmt::Write as _;

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseProblem {
    /// An invariant behaved other than the scenario expected.
    Failure {
        /// One line, e.g. `single-vip-owner BROKEN (expected to hold)`.
        message: String,
        /// The invariant that broke (or held unexpectedly).
        kind: String,
        /// Evidence lines and the replay command.
        details: String,
    },
    /// The run could not be carried out (bad input, a panic).
    Error { message: String, details: String },
}

/// One run: scenario × seed.
#[derive(Debug, Clone, PartialEq)]
pub struct JunitCase {
    pub name: String,
    pub classname: String,
    /// Wall seconds the run took (0 when unknown).
    pub time: f64,
    pub problem: Option<CaseProblem>,
    /// The run's outcome as text, shown in the suite's `<system-out>`.
    pub output: Option<String>,
}

/// All runs of one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct JunitSuite {
    pub name: String,
    /// When the suite started, `YYYY-MM-DDTHH:MM:SS` in UTC without a zone
    /// (the form Ant's schema requires).
    pub timestamp: String,
    /// (name, value) pairs shown as `<property>`: scenario file, seeds.
    pub properties: Vec<(String, String)>,
    pub cases: Vec<JunitCase>,
}

impl JunitSuite {
    fn count(&self, f: impl Fn(&CaseProblem) -> bool) -> usize {
        self.cases
            .iter()
            .filter(|c| c.problem.as_ref().is_some_and(&f))
            .count()
    }

    fn time(&self) -> f64 {
        self.cases.iter().map(|c| c.time).sum()
    }
}

/// Escape text for an XML attribute or element. Characters XML 1.0 cannot
/// carry at all (control characters other than tab, newline, return) are
/// replaced, so any evidence string yields a valid document.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn write_case(out: &mut String, case: &JunitCase) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
        escape(&case.name),
        escape(&case.classname),
        case.time.max(0.0)
    );
    let Some(problem) = &case.problem else {
        out.push_str("/>\n");
        return;
    };
    out.push_str(">\n");
    let (element, message, kind, details) = match problem {
        CaseProblem::Failure {
            message,
            kind,
            details,
        } => ("failure", message, kind.as_str(), details),
        CaseProblem::Error { message, details } => ("error", message, "run-error", details),
    };
    let _ = writeln!(
        out,
        "      <{element} message=\"{}\" type=\"{}\">{}</{element}>",
        escape(message),
        escape(kind),
        escape(details)
    );
    out.push_str("    </testcase>\n");
}

/// The suite's `<system-out>`: every case's output under its name.
fn suite_output(suite: &JunitSuite) -> String {
    suite
        .cases
        .iter()
        .filter_map(|c| {
            let text = c.output.as_deref()?;
            let sep = if text.contains('\n') { "\n" } else { " " };
            Some(format!("{}:{sep}{text}\n", c.name))
        })
        .collect()
}

fn write_suite(out: &mut String, id: usize, suite: &JunitSuite) {
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" id=\"{id}\" package=\"hasim\" hostname=\"hasim\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\" timestamp=\"{}\">",
        escape(&suite.name),
        suite.cases.len(),
        suite.count(|p| matches!(p, CaseProblem::Failure { .. })),
        suite.count(|p| matches!(p, CaseProblem::Error { .. })),
        suite.time(),
        escape(&suite.timestamp)
    );
    out.push_str("    <properties>\n");
    for (name, value) in &suite.properties {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            escape(name),
            escape(value)
        );
    }
    out.push_str("    </properties>\n");
    for case in &suite.cases {
        write_case(out, case);
    }
    let _ = writeln!(
        out,
        "    <system-out>{}</system-out>\n    <system-err></system-err>\n  </testsuite>",
        escape(&suite_output(suite))
    );
}

/// The whole document. `<testsuites>` carries no attributes: Ant's schema
/// allows none there, and the totals are on each suite.
pub fn render(suites: &[JunitSuite]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (id, suite) in suites.iter().enumerate() {
        write_suite(&mut out, id, suite);
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<JunitSuite> {
        vec![JunitSuite {
            name: "keepalived-nemesis".into(),
            timestamp: "2026-12-02T01:02:03".into(),
            properties: vec![("scenario".into(), "a<b>.toml".into())],
            cases: vec![
                JunitCase {
                    name: "seed 1".into(),
                    classname: "hasim.keepalived-nemesis".into(),
                    time: 0.02,
                    problem: None,
                    output: None,
                },
                JunitCase {
                    name: "seed 2".into(),
                    classname: "hasim.keepalived-nemesis".into(),
                    time: 0.03,
                    problem: Some(CaseProblem::Failure {
                        message: "single-vip-owner BROKEN, expected to hold".into(),
                        kind: "single-vip-owner".into(),
                        details: "192.168.122.100 held by lb1 and lb2 <at once> & more\n\
                                  hasim replay s.toml --seed 2"
                            .into(),
                    }),
                    output: Some("expectation: NOT met\u{1}".into()),
                },
                JunitCase {
                    name: "seed 3".into(),
                    classname: "hasim.keepalived-nemesis".into(),
                    time: 0.0,
                    problem: Some(CaseProblem::Error {
                        message: "the run panicked".into(),
                        details: "boom".into(),
                    }),
                    output: None,
                },
            ],
        }]
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape("x\u{1}y\tz"), "x\u{FFFD}y\tz");
    }

    #[test]
    fn counts_failures_and_errors() {
        let xml = render(&sample());
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("hasim replay s.toml --seed 2"));
        assert!(xml.contains("&lt;at once&gt; &amp; more"));
    }

    #[test]
    fn case_output_goes_to_the_suite_and_properties_come_first() {
        let xml = render(&sample());
        assert!(xml.contains("<testsuites>\n"), "{xml}");
        assert!(xml.contains("timestamp=\"2026-12-02T01:02:03\""));
        let props = xml.find("<property name=\"scenario\" value=\"a&lt;b&gt;.toml\"/>");
        let first_case = xml.find("<testcase ");
        assert!(props.is_some() && props < first_case, "{xml}");
        assert_eq!(xml.matches("<system-out>").count(), 1, "{xml}");
        assert!(xml.contains("<system-out>seed 2: expectation: NOT met\u{FFFD}\n</system-out>"));
        assert!(xml.contains("<system-err></system-err>"));
    }
}
