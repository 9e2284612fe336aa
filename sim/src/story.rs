//! A story: one situation told by several scenarios, run with the same
//! seeds and compared side by side.
//!
//! Seed 003's point is a comparison: the same two load balancers, network,
//! partition and clients, first under Keepalived (both sides keep the VIP),
//! then under Pacemaker with quorum and fencing (one side is fenced, one VIP
//! owner). Each telling is an ordinary scenario file, so it can be run,
//! replayed, traced and shrunk on its own; the story file only names them:
//!
//! ```toml
//! [story]
//! name = "keepalived-vs-pacemaker"
//! description = "seed 003: a partition between two load balancers"
//!
//! [[story.telling]]
//! label = "keepalived"
//! scenario = "keepalived-vs-pacemaker-keepalived.toml"
//! ```
//!
//! Scenario paths are relative to the story file.

use crate::input::read_text;
use crate::limits::MAX_SCENARIO_BYTES;
use hasim_reports::{CampaignSummary, RunReport};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// A loaded story file.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    pub name: String,
    pub description: Option<String>,
    pub tellings: Vec<Telling>,
}

/// One telling: a label for the comparison's column and its scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Telling {
    pub label: String,
    pub scenario: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoryFile {
    story: StorySection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StorySection {
    name: String,
    description: Option<String>,
    telling: Vec<TellingSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TellingSpec {
    label: toml::Spanned<String>,
    scenario: toml::Spanned<String>,
}

/// The most tellings a story may have: a comparison wider than this does
/// not fit a terminal.
pub const MAX_TELLINGS: usize = 6;

/// `Ok(None)` if `path` is not a story file (no top-level `[story]`), so the
/// caller reads it as a scenario; an error names the file and line.
pub fn load(path: &Path) -> Result<Option<Story>, String> {
    let text = read_text(path, MAX_SCENARIO_BYTES, "scenario file")?;
    parse(&text, path)
}

/// Parse story text; `path` locates the tellings and names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Option<Story>, String> {
    let is_story = matches!(text.parse::<toml::Table>(), Ok(t) if t.contains_key("story"));
    if !is_story {
        return Ok(None);
    }
    let shown = path.display();
    let at = |offset: usize, message: &str| {
        let line = text[..offset.min(text.len())].matches('\n').count() + 1;
        format!("{shown}:{line}: {message}")
    };
    let file: StoryFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        at(offset, e.message().trim())
    })?;
    let section = file.story;
    if section.telling.is_empty() || section.telling.len() > MAX_TELLINGS {
        return Err(format!(
            "{shown}: a story needs 1 to {MAX_TELLINGS} [[story.telling]] entries, found {}",
            section.telling.len()
        ));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut labels = BTreeSet::new();
    let mut tellings = Vec::new();
    for spec in section.telling {
        let label = spec.label.get_ref().trim().to_string();
        if label.is_empty() || label.len() > 24 {
            return Err(at(
                spec.label.span().start,
                "expected a label of 1 to 24 characters",
            ));
        }
        if !labels.insert(label.clone()) {
            let message = format!("label `{label}` is used twice; each telling needs its own");
            return Err(at(spec.label.span().start, &message));
        }
        let scenario = base.join(spec.scenario.get_ref());
        if scenario == path {
            return Err(at(
                spec.scenario.span().start,
                "a story cannot tell itself; expected a scenario file",
            ));
        }
        tellings.push(Telling { label, scenario });
    }
    Ok(Some(Story {
        name: section.name,
        description: section.description,
        tellings,
    }))
}

/// One row of a comparison: a label and one cell per telling.
type Row = (String, Vec<String>);

/// The side-by-side comparison of one seed's runs, in telling order.
pub fn compare_runs(story: &Story, seed: u64, reports: &[RunReport]) -> String {
    let mut rows: Vec<Row> = vec![(
        "expectation".into(),
        reports.iter().map(|r| met(r.expectation_met())).collect(),
    )];
    for checker in checker_names(reports.iter().flat_map(|r| &r.verdicts)) {
        let cells = reports
            .iter()
            .map(|r| match r.verdicts.iter().find(|v| v.checker == checker) {
                Some(v) if v.held => "held".to_string(),
                Some(_) => "BROKEN".to_string(),
                None => "-".to_string(),
            })
            .collect();
        rows.push((checker, cells));
    }
    rows.push((
        "two VIP owners".into(),
        reports.iter().map(split_brain_cell).collect(),
    ));
    let clients: BTreeSet<&str> = reports
        .iter()
        .flat_map(|r| r.clients.iter().map(|c| c.client.as_str()))
        .collect();
    for client in clients {
        let cells = reports
            .iter()
            .map(|r| match r.clients.iter().find(|c| c.client == client) {
                Some(c) => format!(
                    "{}/{} answered, outage {:.3} s",
                    c.answered, c.sent, c.longest_outage
                ),
                None => "-".to_string(),
            })
            .collect();
        rows.push((client.to_string(), cells));
    }
    let title = format!("story {}, seed {seed}", story.name);
    table(&title, story, &rows)
}

/// The side-by-side comparison of campaigns over the same seeds.
pub fn compare_campaigns(story: &Story, campaigns: &[CampaignSummary]) -> String {
    let mut rows: Vec<Row> = vec![(
        "expectation met".into(),
        campaigns
            .iter()
            .map(|c| format!("{}/{} runs", c.met, c.runs))
            .collect(),
    )];
    let broken: BTreeSet<&str> = campaigns
        .iter()
        .flat_map(|c| c.broken.keys().map(String::as_str))
        .collect();
    for checker in broken {
        let cells = campaigns
            .iter()
            .map(|c| {
                let n = c.broken.get(checker).copied().unwrap_or(0);
                format!("broken in {n}/{}", c.runs)
            })
            .collect();
        rows.push((checker.to_string(), cells));
    }
    let seeds = campaigns
        .first()
        .map(|c| format!("seeds {}..{}", c.seeds.start, c.seeds.end.saturating_sub(1)))
        .unwrap_or_default();
    table(&format!("story {}, {seeds}", story.name), story, &rows)
}

fn met(ok: bool) -> String {
    if ok { "met" } else { "NOT met" }.to_string()
}

fn split_brain_cell(report: &RunReport) -> String {
    if report.split_brains.is_empty() {
        return "never".to_string();
    }
    let total: f64 = report.split_brains.iter().map(|s| s.duration).sum();
    format!("{total:.3} s in {} overlap(s)", report.split_brains.len())
}

/// Checker names in first-seen order.
fn checker_names<'a>(verdicts: impl Iterator<Item = &'a hasim_reports::Verdict>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for v in verdicts {
        if !names.contains(&v.checker) {
            names.push(v.checker.clone());
        }
    }
    names
}

/// Columns padded to their widest cell.
fn table(title: &str, story: &Story, rows: &[Row]) -> String {
    let mut out = title.to_string();
    if let Some(d) = &story.description {
        let _ = write!(out, ": {d}");
    }
    out.push('\n');
    let first = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..story.tellings.len())
        .map(|i| {
            let cells = rows.iter().map(|r| r.1.get(i).map_or(0, String::len));
            cells
                .chain([story.tellings[i].label.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut line = |label: &str, cells: &mut dyn Iterator<Item = &str>| {
        let mut text = format!("  {label:first$}");
        for (cell, w) in cells.zip(&widths) {
            let _ = write!(text, "  {cell:w$}");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line("", &mut story.tellings.iter().map(|t| t.label.as_str()));
    for (label, cells) in rows {
        line(label, &mut cells.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn story(text: &str) -> Result<Option<Story>, String> {
        parse(text, Path::new("dir/story.toml"))
    }

    const GOOD: &str = "[story]\nname = \"s\"\n\n[[story.telling]]\nlabel = \"a\"\nscenario = \"a.toml\"\n\n[[story.telling]]\nlabel = \"b\"\nscenario = \"b.toml\"\n";

    #[test]
    fn a_scenario_is_not_a_story() {
        assert_eq!(story("name = \"x\"\n[[node]]\nname = \"n\"\n"), Ok(None));
        assert_eq!(story("not toml ["), Ok(None));
    }

    #[test]
    fn tellings_are_found_next_to_the_story() {
        let s = story(GOOD).unwrap().unwrap();
        assert_eq!(s.tellings.len(), 2);
        assert_eq!(s.tellings[1].scenario, PathBuf::from("dir/b.toml"));
        assert_eq!(s.tellings[0].label, "a");
    }

    #[test]
    fn bad_stories_name_the_line() {
        let twice = GOOD.replace("label = \"b\"", "label = \"a\"");
        let e = story(&twice).unwrap_err();
        assert!(
            e.starts_with("dir/story.toml:9: label `a` is used twice"),
            "{e}"
        );
        let unknown = GOOD.replace("label = \"b\"", "label = \"b\"\ncolour = 1");
        let e = story(&unknown).unwrap_err();
        assert!(
            e.starts_with("dir/story.toml:10: unknown field `colour`"),
            "{e}"
        );
        let e = story("[story]\nname = \"s\"\ntelling = []\n").unwrap_err();
        assert!(e.contains("1 to 6 [[story.telling]]"), "{e}");
        let own = GOOD.replace("b.toml", "story.toml");
        assert!(story(&own).unwrap_err().contains("cannot tell itself"));
    }

    #[test]
    fn the_table_lines_up_and_marks_missing_checkers() {
        let s = story(GOOD).unwrap().unwrap();
        let rows = vec![
            (
                "expectation".to_string(),
                vec!["met".into(), "NOT met".into()],
            ),
            ("x".to_string(), vec!["held".into(), "-".into()]),
        ];
        let text = table("t", &s, &rows);
        assert_eq!(
            text,
            "t\n               a     b\n  expectation  met   NOT met\n  x            held  -\n"
        );
    }
}
