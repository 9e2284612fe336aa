//! The HTML report of one run: a self-contained file (inline CSS and SVG, no
//! script, no network fetch) with a timeline, one lane per node and client,
//! the faults as bands across the lanes, invariant violations marked where
//! they happened, and the text summary beside it. Hovering any shape shows
//! its event (SVG `<title>`).
//!
//! Every shape carries `data-*` attributes (lane, start, end) so tests and
//! tools can read the picture back without guessing from pixels.

use crate::junit::escape;
use std::fmt::Write as _;

/// A state that lasted: power off, paused, MASTER, holding a VIP, a ring,
/// quorate.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub start: f64,
    /// `None`: until the end of the run.
    pub end: Option<f64>,
    /// CSS class, also the row: see [`ROWS`].
    pub class: String,
    pub label: String,
}

/// Something that happened at an instant: a client answer or timeout, a
/// membership change.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub at: f64,
    pub class: String,
    pub label: String,
    /// For an answer: the node that answered, so a split brain shows in the
    /// client lanes as a second colour.
    pub by: Option<String>,
}

/// One node or client.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lane {
    pub name: String,
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
}

/// A fault, drawn across every lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub start: f64,
    pub end: Option<f64>,
    /// `partition`, `pause`, `power`, `link`, ...
    pub kind: String,
    pub label: String,
}

/// An invariant that broke, where it first broke.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub at: f64,
    pub checker: String,
    pub expected: bool,
    pub detail: String,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    pub title: String,
    pub end: f64,
    pub lanes: Vec<Lane>,
    pub bands: Vec<Band>,
    pub violations: Vec<Violation>,
    /// The text report, shown beside the picture.
    pub summary: String,
    /// Marks not drawn because a lane reached its bound.
    pub dropped_marks: u64,
}

/// Span classes in row order: which row of a lane each is drawn on.
pub const ROWS: &[&[&str]] = &[
    &["off", "booting", "paused"],
    &["master", "backup", "fault-state"],
    &["vip"],
    &["ring"],
    &["quorate", "inquorate"],
    &["answer", "timeout", "request"],
];

fn row_of(class: &str) -> usize {
    ROWS.iter()
        .position(|r| r.contains(&class))
        .unwrap_or(ROWS.len() - 1)
}

const WIDTH: f64 = 1500.0;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const ROW_H: f64 = 13.0;

/// Rows in use anywhere, so lanes stay compact and aligned.
fn used_rows(t: &Timeline) -> Vec<usize> {
    let mut rows: Vec<usize> = t
        .lanes
        .iter()
        .flat_map(|l| {
            l.spans
                .iter()
                .map(|s| row_of(&s.class))
                .chain(l.marks.iter().map(|m| row_of(&m.class)))
        })
        .collect();
    rows.sort();
    rows.dedup();
    rows
}

struct Geometry {
    end: f64,
    rows: Vec<usize>,
}

impl Geometry {
    fn x(&self, t: f64) -> f64 {
        LEFT + t.clamp(0.0, self.end) / self.end.max(1e-9) * (WIDTH - LEFT - RIGHT)
    }
    fn lane_h(&self) -> f64 {
        ROW_H * self.rows.len().max(1) as f64 + 10.0
    }
    fn lane_y(&self, lane: usize) -> f64 {
        TOP + lane as f64 * self.lane_h()
    }
    fn row_y(&self, lane: usize, class: &str) -> f64 {
        let r = self
            .rows
            .iter()
            .position(|r| *r == row_of(class))
            .unwrap_or(0);
        self.lane_y(lane) + 5.0 + r as f64 * ROW_H
    }
}

fn fmt_end(end: Option<f64>) -> String {
    end.map_or("end".into(), |e| format!("{e:.3}"))
}

fn axis(out: &mut String, g: &Geometry, height: f64) {
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0]
        .into_iter()
        .find(|s| g.end / s <= 20.0)
        .unwrap_or(1200.0);
    let mut t = 0.0;
    while t <= g.end + 1e-9 {
        let _ = writeln!(
            out,
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{height:.1}\"/><text class=\"tick\" x=\"{x:.1}\" y=\"{}\">{t}s</text>",
            TOP - 14.0,
            TOP - 18.0,
            x = g.x(t)
        );
        t += step;
    }
}

fn bands(out: &mut String, t: &Timeline, g: &Geometry, height: f64) {
    for b in &t.bands {
        let (x0, x1) = (g.x(b.start), g.x(b.end.unwrap_or(t.end)));
        let _ = writeln!(
            out,
            "<rect class=\"fault-band {kind}\" data-kind=\"{kind}\" data-start=\"{:.3}\" data-end=\"{}\" x=\"{x0:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{:.1}\"><title>{} from t={:.3}s to {}</title></rect>",
            b.start,
            fmt_end(b.end),
            TOP - 10.0,
            (x1 - x0).max(1.5),
            height - TOP + 10.0,
            escape(&b.label),
            b.start,
            fmt_end(b.end),
            kind = escape(&b.kind),
        );
    }
}

/// Colours of the nodes that answered clients, in lane order.
const ANSWER_COLOURS: &[&str] = &[
    "#2ca02c", "#9467bd", "#8c564b", "#1f77b4", "#17becf", "#bcbd22",
];

/// The nodes that answered some client, nodes with a lane first in lane
/// order, then the others by name; each gets the colour at its index.
fn answerers(t: &Timeline) -> Vec<String> {
    let mut by: Vec<&String> = t
        .lanes
        .iter()
        .flat_map(|l| l.marks.iter().filter_map(|m| m.by.as_ref()))
        .collect();
    let lane_of = |n: &String| t.lanes.iter().position(|l| &l.name == n);
    by.sort_by_key(|n| (lane_of(n).unwrap_or(usize::MAX), n.to_string()));
    by.dedup();
    by.into_iter().cloned().collect()
}

fn answer_colour(answerers: &[String], by: &str) -> &'static str {
    let i = answerers.iter().position(|a| a == by).unwrap_or(0);
    ANSWER_COLOURS[i % ANSWER_COLOURS.len()]
}

fn lane(out: &mut String, t: &Timeline, g: &Geometry, i: usize, l: &Lane) {
    let y = g.lane_y(i);
    let name = escape(&l.name);
    let _ = writeln!(
        out,
        "<g class=\"lane\" data-lane=\"{name}\"><line class=\"lane-sep\" x1=\"0\" y1=\"{y:.1}\" x2=\"{WIDTH}\" y2=\"{y:.1}\"/><text class=\"lane-name\" x=\"8\" y=\"{:.1}\">{name}</text>",
        y + g.lane_h() / 2.0 + 4.0
    );
    for s in &l.spans {
        let (x0, x1) = (g.x(s.start), g.x(s.end.unwrap_or(t.end)));
        let class = escape(&s.class);
        let _ = writeln!(
            out,
            "<rect class=\"span {class}\" data-lane=\"{name}\" data-start=\"{:.3}\" data-end=\"{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\"><title>{name}: {} from t={:.3}s to {}</title></rect>",
            s.start,
            fmt_end(s.end),
            g.row_y(i, &s.class),
            (x1 - x0).max(1.0),
            ROW_H - 2.0,
            escape(&s.label),
            s.start,
            fmt_end(s.end)
        );
    }
    let answerers = answerers(t);
    for m in &l.marks {
        let x = g.x(m.at);
        let y0 = g.row_y(i, &m.class);
        let by = m.by.as_deref().map_or(String::new(), |b| {
            format!(
                " data-by=\"{}\" style=\"stroke:{}\"",
                escape(b),
                answer_colour(&answerers, b)
            )
        });
        let _ = writeln!(
            out,
            "<line class=\"mark {}\" data-lane=\"{name}\" data-at=\"{:.3}\"{by} x1=\"{x:.1}\" y1=\"{y0:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"><title>{name}: {} at t={:.3}s</title></line>",
            escape(&m.class),
            m.at,
            y0 + ROW_H - 2.0,
            escape(&m.label),
            m.at
        );
    }
    out.push_str("</g>\n");
}

fn violations(out: &mut String, t: &Timeline, g: &Geometry, height: f64) {
    for v in &t.violations {
        let x = g.x(v.at);
        let class = if v.expected { "expected" } else { "unexpected" };
        let _ = writeln!(
            out,
            "<g class=\"violation {class}\" data-checker=\"{}\" data-at=\"{:.3}\"><line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{height:.1}\"/><path d=\"M{:.1},{} l6,-10 h-12 z\"/><title>{} broken at t={:.3}s ({}): {}</title></g>",
            escape(&v.checker),
            v.at,
            TOP - 10.0,
            x,
            TOP - 10.0,
            escape(&v.checker),
            v.at,
            if v.expected { "as expected" } else { "UNEXPECTED" },
            escape(&v.detail)
        );
    }
}

/// The SVG timeline alone.
pub fn svg(t: &Timeline) -> String {
    let g = Geometry {
        end: t.end.max(1e-3),
        rows: used_rows(t),
    };
    let height = g.lane_y(t.lanes.len()) + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" data-end=\"{:.3}\">",
        t.end
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&t.title));
    axis(&mut out, &g, height);
    bands(&mut out, t, &g, height);
    for (i, l) in t.lanes.iter().enumerate() {
        lane(&mut out, t, &g, i, l);
    }
    violations(&mut out, t, &g, height);
    out.push_str("</svg>\n");
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:12px;color:#222}
.wrap{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.pic{overflow-x:auto;flex:1 1 100%;min-width:0}
.pic svg{width:100%;height:auto;min-width:900px}
pre{font-size:12px;background:#f6f6f6;padding:8px;max-width:100%;overflow-x:auto}
.legend span{display:inline-block;padding:1px 6px;margin-right:6px;font-size:12px}
svg text{font-size:11px}
.tick{stroke:#ddd}
text.tick{stroke:none;fill:#777;text-anchor:middle}
.lane-sep{stroke:#ccc}
.lane-name{font-weight:bold}
.fault-band{fill:#ff9900;fill-opacity:.18;stroke:#ff9900;stroke-opacity:.5}
.fault-band.partition{fill:#e377c2}
.fault-band.power{fill:#444}
.fault-band.pause{fill:#17becf}
.span:hover,.mark:hover{stroke:#000;stroke-width:1.5}
.off{fill:#333}.booting{fill:#999}.paused{fill:#17becf}
.master{fill:#2ca02c}.backup{fill:#c7e9c0}.fault-state{fill:#d62728}
.vip{fill:#1f77b4}
.ring{fill:#9467bd;fill-opacity:.5;stroke:#fff}
.quorate{fill:#bcbd22}.inquorate{fill:#d62728;fill-opacity:.6}
.mark{stroke-width:1}
.answer{stroke:#2ca02c}.timeout{stroke:#d62728;stroke-width:2}
.violation line{stroke:#d62728;stroke-width:2;stroke-dasharray:4 3}
.violation path{fill:#d62728}
.violation.expected line{stroke:#ff7f0e}.violation.expected path{fill:#ff7f0e}
";

/// The colour key: lane states, faults, who answered clients, violations.
fn legend(t: &Timeline) -> String {
    let mut out = String::from("<p class=\"legend\"><span style=\"background:#2ca02c;color:#fff\">MASTER</span><span style=\"background:#c7e9c0\">BACKUP</span><span style=\"background:#1f77b4;color:#fff\">holds VIP</span><span style=\"background:#17becf\">paused</span><span style=\"background:#333;color:#fff\">power off</span><span style=\"background:#9467bd;color:#fff\">ring</span><span style=\"background:#bcbd22\">quorate</span><span style=\"background:#fbe3f2\">fault band</span>");
    let answerers = answerers(t);
    for a in &answerers {
        let _ = write!(
            out,
            "<span style=\"color:{}\">| answered by {}</span>",
            answer_colour(&answerers, a),
            escape(a)
        );
    }
    out.push_str("<span style=\"color:#d62728\">| timeout</span><span style=\"color:#d62728\">&#9660; invariant broken unexpectedly</span><span style=\"color:#ff7f0e\">&#9660; broken as expected</span> hover a shape for its event</p>\n");
    out
}

/// The whole page.
pub fn page(t: &Timeline) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(&t.title)
    );
    let _ = writeln!(out, "<h2>{}</h2>", escape(&t.title));
    out.push_str(&legend(t));
    out.push_str("<div class=\"wrap\"><div class=\"pic\">\n");
    out.push_str(&svg(t));
    if t.dropped_marks > 0 {
        let _ = writeln!(
            out,
            "<p>{} client marks not drawn (lane bound reached).</p>",
            t.dropped_marks
        );
    }
    let _ = writeln!(
        out,
        "</div><pre>{}</pre></div></body></html>",
        escape(&t.summary)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Timeline {
        Timeline {
            title: "t <1>".into(),
            end: 60.0,
            lanes: vec![Lane {
                name: "lb1".into(),
                spans: vec![Span {
                    start: 3.0,
                    end: None,
                    class: "master".into(),
                    label: "MASTER".into(),
                }],
                marks: vec![
                    Mark {
                        at: 5.0,
                        class: "timeout".into(),
                        label: "request 3 timed out".into(),
                        by: None,
                    },
                    Mark {
                        at: 6.0,
                        class: "answer".into(),
                        label: "request 4 answered by lb2".into(),
                        by: Some("lb2".into()),
                    },
                    Mark {
                        at: 7.0,
                        class: "answer".into(),
                        label: "request 5 answered by lb1".into(),
                        by: Some("lb1".into()),
                    },
                ],
            }],
            bands: vec![Band {
                start: 20.0,
                end: Some(30.0),
                kind: "partition".into(),
                label: "partition a | b".into(),
            }],
            violations: vec![Violation {
                at: 23.0,
                checker: "single-vip-owner".into(),
                expected: true,
                detail: "x".into(),
            }],
            summary: "a < b".into(),
            dropped_marks: 0,
        }
    }

    #[test]
    fn page_is_self_contained_and_escaped() {
        let page = page(&sample());
        assert!(!page.contains("http://") || page.matches("http://").count() == 1);
        assert!(!page.contains("<script"));
        assert!(page.contains("t &lt;1&gt;"));
        assert!(page.contains("<pre>a &lt; b</pre>"));
    }

    #[test]
    fn shapes_sit_where_their_times_say() {
        let svg = svg(&sample());
        // 20 s of 60 s across 1370 px from x=110: 566.7
        assert!(
            svg.contains("data-start=\"20.000\" data-end=\"30.000\" x=\"566.7\""),
            "{svg}"
        );
        assert!(svg.contains("data-end=\"end\""));
        assert!(svg.contains("class=\"violation expected\" data-checker=\"single-vip-owner\""));
    }

    #[test]
    fn answers_are_coloured_by_who_answered() {
        let t = sample();
        // lb1 has a lane, so it comes first although lb2 answered earlier.
        assert_eq!(answerers(&t), ["lb1", "lb2"]);
        let svg = svg(&t);
        assert!(
            svg.contains("data-by=\"lb1\" style=\"stroke:#2ca02c\""),
            "{svg}"
        );
        assert!(
            svg.contains("data-by=\"lb2\" style=\"stroke:#9467bd\""),
            "{svg}"
        );
        let page = page(&t);
        assert!(page.contains("<span style=\"color:#9467bd\">| answered by lb2</span>"));
    }
}
