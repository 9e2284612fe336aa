//! Agreement with real Pacemaker 2.1.5 on its scheduler regression corpus.
//!
//! For every case, the Transition Summary hasim computes is compared with
//! what `crm_simulate -S` printed (lines with whitespace runs collapsed).
//! The primary figure ignores line order (multiset comparison); the
//! secondary figure also requires the same order.

pub mod oracle;

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Options of a conformance run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print a diff for every failing case.
    pub show_diffs: bool,
    /// Restrict the run to these case names (empty = all cases).
    pub filter: Vec<String>,
}

/// Outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub tier: u8,
    /// Same multiset of summary lines.
    pub unordered: bool,
    /// Same lines in the same order.
    pub ordered: bool,
    pub error: Option<String>,
    pub expected: Vec<String>,
    pub actual: Vec<String>,
}

/// Results of a conformance run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub cases: Vec<CaseResult>,
    pub show_diffs: bool,
}

impl Report {
    /// Names of passing cases (order-insensitive), sorted.
    pub fn passing(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .cases
            .iter()
            .filter(|c| c.unordered)
            .map(|c| c.name.clone())
            .collect();
        v.sort();
        v
    }

    fn figures(&self, tier: Option<u8>) -> (usize, usize, usize) {
        let cases: Vec<&CaseResult> = self
            .cases
            .iter()
            .filter(|c| tier.is_none_or(|t| c.tier == t))
            .collect();
        (
            cases.len(),
            cases.iter().filter(|c| c.unordered).count(),
            cases.iter().filter(|c| c.ordered).count(),
        )
    }
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.show_diffs {
            for c in &self.cases {
                if c.unordered && c.ordered {
                    continue;
                }
                writeln!(
                    f,
                    "=== {} (tier {}){}",
                    c.name,
                    c.tier,
                    if c.unordered { " [order only]" } else { "" }
                )?;
                if let Some(e) = &c.error {
                    writeln!(f, "error: {e}")?;
                }
                for l in &c.expected {
                    if !c.actual.contains(l) {
                        writeln!(f, "- {l}")?;
                    }
                }
                for l in &c.actual {
                    if !c.expected.contains(l) {
                        writeln!(f, "+ {l}")?;
                    }
                }
                if c.unordered {
                    writeln!(f, "expected order:")?;
                    for l in &c.expected {
                        writeln!(f, "  {l}")?;
                    }
                    writeln!(f, "actual order:")?;
                    for l in &c.actual {
                        writeln!(f, "  {l}")?;
                    }
                }
            }
        }
        let mut tiers: Vec<u8> = self.cases.iter().map(|c| c.tier).collect();
        tiers.sort();
        tiers.dedup();
        for t in tiers {
            let (n, u, o) = self.figures(Some(t));
            writeln!(
                f,
                "tier {t}: {u}/{n} ({:.1}%)  order-sensitive: {o}/{n} ({:.1}%)",
                pct(u, n),
                pct(o, n)
            )?;
        }
        let (n, u, o) = self.figures(None);
        writeln!(
            f,
            "overall: {u}/{n} ({:.1}%)  order-sensitive: {o}/{n} ({:.1}%)",
            pct(u, n),
            pct(o, n)
        )
    }
}

/// Collapse runs of whitespace to one space and trim.
pub fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The Transition Summary lines of a crm_simulate output, normalised.
pub fn extract_summary(output: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for l in output.lines() {
        if l.starts_with("Transition Summary:") {
            inside = true;
            continue;
        }
        if inside {
            if l.trim().is_empty() || l.starts_with("Executing Cluster Transition:") {
                break;
            }
            lines.push(normalize(l.trim_start().trim_start_matches('*')));
        }
    }
    lines
}

/// hasim's Transition Summary for a CIB, normalised.
pub fn hasim_summary(xml: &str) -> Result<Vec<String>, String> {
    let cib = hasim_scheduler::hasim_cib::Cib::from_xml(xml).map_err(|e| e.to_string())?;
    let graph = hasim_scheduler::schedule(&cib);
    Ok(graph.summary.iter().map(|l| normalize(l)).collect())
}

fn multiset(v: &[String]) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for l in v {
        *m.entry(l.as_str()).or_insert(0) += 1;
    }
    m
}

/// Compare one case.
pub fn run_case(name: &str, tier: u8, xml: &str, expected_output: &str) -> CaseResult {
    let expected = extract_summary(expected_output);
    let result = catch_unwind(AssertUnwindSafe(|| hasim_summary(xml)));
    let (actual, error) = match result {
        Ok(Ok(a)) => (a, None),
        Ok(Err(e)) => (Vec::new(), Some(e)),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            (Vec::new(), Some(format!("panic: {msg}")))
        }
    };
    let unordered = error.is_none() && multiset(&expected) == multiset(&actual);
    let ordered = unordered && expected == actual;
    CaseResult {
        name: name.to_string(),
        tier,
        unordered,
        ordered,
        error,
        expected,
        actual,
    }
}

/// Case names of the corpus by tier (from `tiers/tierN.txt`).
pub fn tiers(corpus_dir: &Path) -> Vec<(String, u8)> {
    let mut out = Vec::new();
    for t in 1..=4u8 {
        let path = corpus_dir.join("tiers").join(format!("tier{t}.txt"));
        if let Ok(text) = std::fs::read_to_string(&path) {
            for l in text.lines() {
                let l = l.trim();
                if !l.is_empty() {
                    out.push((l.to_string(), t));
                }
            }
        }
    }
    out
}

/// Run the corpus (or the filtered part of it).
pub fn run(corpus_dir: &Path, opts: &Options) -> Report {
    let mut report = Report {
        cases: Vec::new(),
        show_diffs: opts.show_diffs,
    };
    for (name, tier) in tiers(corpus_dir) {
        if !opts.filter.is_empty() && !opts.filter.iter().any(|f| f == &name) {
            continue;
        }
        let xml = std::fs::read_to_string(corpus_dir.join("xml").join(format!("{name}.xml")));
        let expected =
            std::fs::read_to_string(corpus_dir.join("expected").join(format!("{name}.summary")));
        let result = match (xml, expected) {
            (Ok(x), Ok(e)) => run_case(&name, tier, &x, &e),
            (Err(e), _) | (_, Err(e)) => CaseResult {
                name: name.clone(),
                tier,
                unordered: false,
                ordered: false,
                error: Some(format!("cannot read case: {e}")),
                expected: Vec::new(),
                actual: Vec::new(),
            },
        };
        report.cases.push(result);
    }
    report
}

/// Lines of one section (`Current cluster status:` or `Revised Cluster
/// Status:`) of a crm_simulate output, up to the next blank-line-separated
/// section header.
pub fn extract_section(output: &str, header: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for l in output.lines() {
        if l.starts_with(header) {
            inside = true;
            continue;
        }
        if inside {
            if !l.starts_with(' ') && !l.is_empty() {
                break;
            }
            lines.push(l.to_string());
        }
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// How many cases' rendered status sections match crm_simulate exactly:
/// (cases, current status matches, revised status matches).
pub fn status_agreement(corpus_dir: &Path, filter: &[String]) -> (usize, usize, usize) {
    let mut n = 0;
    let mut cur = 0;
    let mut rev = 0;
    for (name, _) in tiers(corpus_dir) {
        if !filter.is_empty() && !filter.iter().any(|f| f == &name) {
            continue;
        }
        let (Ok(xml), Ok(expected)) = (
            std::fs::read_to_string(corpus_dir.join("xml").join(format!("{name}.xml"))),
            std::fs::read_to_string(corpus_dir.join("expected").join(format!("{name}.summary"))),
        ) else {
            continue;
        };
        n += 1;
        let Ok(Ok(out)) =
            catch_unwind(AssertUnwindSafe(|| hasim_scheduler::simulate::render(&xml)))
        else {
            continue;
        };
        if extract_section(&out, "Current cluster status:")
            == extract_section(&expected, "Current cluster status:")
        {
            cur += 1;
        }
        if extract_section(&out, "Revised Cluster Status:")
            == extract_section(&expected, "Revised Cluster Status:")
        {
            rev += 1;
        }
    }
    (n, cur, rev)
}
