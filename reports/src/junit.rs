//! JUnit XML, the format every CI system shows natively: one `<testsuite>`
//! per scenario, one `<testcase>` per scenario × seed, and a `<failure>` for a
//! run whose outcome was not the expected one, carrying the invariant, its
//! evidence and the replay command.
//!
//! The layout follows the common JUnit schema (the one Jenkins, GitLab and
//! GitHub reporters accept): `testsuites > testsuite > testcase`, with
//! `name`, `tests`, `failures`, `errors`, `skipped` and `time` on a suite,
//! `name`, `classname` and `time` on a case, and `failure`/`error` elements
//! with `message` and `type` attributes and the details as text.

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
    /// Shown as `<system-out>`: the run's one-line outcome.
    pub output: Option<String>,
}

/// All runs of one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct JunitSuite {
    pub name: String,
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
    if case.problem.is_none() && case.output.is_none() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    match &case.problem {
        Some(CaseProblem::Failure {
            message,
            kind,
            details,
        }) => {
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                escape(message),
                escape(kind),
                escape(details)
            );
        }
        Some(CaseProblem::Error { message, details }) => {
            let _ = writeln!(
                out,
                "      <error message=\"{}\" type=\"run-error\">{}</error>",
                escape(message),
                escape(details)
            );
        }
        None => {}
    }
    if let Some(text) = &case.output {
        let _ = writeln!(out, "      <system-out>{}</system-out>", escape(text));
    }
    out.push_str("    </testcase>\n");
}

/// The whole document.
pub fn render(suites: &[JunitSuite]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites
        .iter()
        .map(|s| s.count(|p| matches!(p, CaseProblem::Failure { .. })))
        .sum();
    let errors: usize = suites
        .iter()
        .map(|s| s.count(|p| matches!(p, CaseProblem::Error { .. })))
        .sum();
    let time: f64 = suites.iter().map(JunitSuite::time).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"hasim\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">"
    );
    for (id, suite) in suites.iter().enumerate() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" id=\"{id}\" package=\"hasim\" hostname=\"hasim\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\">",
            escape(&suite.name),
            suite.cases.len(),
            suite.count(|p| matches!(p, CaseProblem::Failure { .. })),
            suite.count(|p| matches!(p, CaseProblem::Error { .. })),
            suite.time()
        );
        for case in &suite.cases {
            write_case(&mut out, case);
        }
        out.push_str("  </testsuite>\n");
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
}
