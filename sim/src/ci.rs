//! What CI systems read: one JUnit test case per scenario × seed, whose
//! failure names the invariant that did not behave as expected, its evidence
//! and the command that replays it.

use hasim_reports::junit::{CaseProblem, JunitCase, JunitSuite};
use hasim_reports::summary::replay_line;
use hasim_reports::{RunOutcome, RunReport};

fn classname(scenario: &str) -> String {
    format!("hasim.{scenario}")
}

/// The case of one campaign run.
pub fn case_from_outcome(scenario: &str, scenario_path: &str, run: &RunOutcome) -> JunitCase {
    let replay = replay_line(scenario_path, run.seed);
    let problem = match (&run.error, run.expectation_met) {
        (Some(e), _) => Some(CaseProblem::Error {
            message: e.clone(),
            details: replay,
        }),
        (None, true) => None,
        (None, false) => Some(CaseProblem::Failure {
            message: format!("unexpected: {}", run.surprises.join(", ")),
            kind: run.surprises.join(","),
            details: format!("{}\nreplay: {replay}", run.evidence.join("\n")),
        }),
    };
    JunitCase {
        name: format!("{scenario} seed {}", run.seed),
        classname: classname(scenario),
        time: run.wall_seconds,
        problem,
        output: Some(format!(
            "trace hash {}; broken: {}",
            run.trace_hash,
            if run.broken.is_empty() {
                "none".to_string()
            } else {
                run.broken.join(", ")
            }
        )),
    }
}

/// The case of a single run, from its full report.
pub fn case_from_report(scenario_path: &str, report: &RunReport) -> JunitCase {
    let surprises = report.surprises();
    let mut evidence = Vec::new();
    for v in &surprises {
        let state = if v.held { "held" } else { "BROKEN" };
        evidence.push(format!("{} {state}: {}", v.checker, v.summary));
        if let Some(t) = v.first_broken_at {
            evidence.push(format!("  first broken at t={t:.3}s"));
        }
        evidence.extend(v.evidence.iter().map(|e| format!("  {e}")));
    }
    let names: Vec<&str> = surprises.iter().map(|v| v.checker.as_str()).collect();
    let problem = (!surprises.is_empty()).then(|| CaseProblem::Failure {
        message: format!("unexpected: {}", names.join(", ")),
        kind: names.join(","),
        details: format!(
            "{}\nreplay: {}",
            evidence.join("\n"),
            replay_line(scenario_path, report.seed)
        ),
    });
    JunitCase {
        name: format!("{} seed {}", report.scenario, report.seed),
        classname: classname(&report.scenario),
        time: report.wall_seconds,
        problem,
        output: Some(report.to_text()),
    }
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC without a zone: the only timestamp form
/// Ant's JUnit schema takes.
pub fn timestamp(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .trim_end_matches('Z')
        .to_string()
}

/// The JUnit document of one scenario's cases, started at `started`, with
/// `properties` (scenario file, seeds, shard) shown as `<property>`.
pub fn junit(
    scenario: &str,
    started: std::time::SystemTime,
    properties: Vec<(String, String)>,
    cases: Vec<JunitCase>,
) -> String {
    let mut properties = properties;
    properties.push(("hasim".into(), env!("CARGO_PKG_VERSION").into()));
    hasim_reports::junit::render(&[JunitSuite {
        name: scenario.to_string(),
        timestamp: timestamp(started),
        properties,
        cases,
    }])
}
