//! The result of a timeout-tuning sweep, laid out for people (a table and
//! advice lines), spreadsheets (CSV), programs (JSON) and eyes (an SVG plot
//! of detection time against false failovers with the Pareto front).

use serde::Serialize;
use std::fmt::Write as _;

/// Order statistics of a sample, seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub n: u64,
    pub min: Option<f64>,
    pub median: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl Stats {
    /// Nearest-rank statistics of `sample`.
    pub fn of(mut sample: Vec<f64>) -> Stats {
        sample.retain(|x| x.is_finite());
        sample.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let i = ((q * sample.len() as f64).ceil() as usize).clamp(1, sample.len()) - 1;
            sample[i]
        };
        if sample.is_empty() {
            return Stats::default();
        }
        Stats {
            n: sample.len() as u64,
            min: sample.first().copied(),
            median: Some(rank(0.5)),
            p99: Some(rank(0.99)),
            max: sample.last().copied(),
        }
    }
}

/// How one kind of disturbance fared at one grid point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DisturbanceRate {
    /// e.g. `pause 2s`.
    pub label: String,
    pub episodes: u64,
    /// Episodes after which the cluster failed over (a new membership, a
    /// VRRP takeover) although nothing had failed.
    pub failovers: u64,
    /// Episodes after which the ring re-formed (the token was lost) with
    /// every member still in it: visible in the logs, harmless.
    pub reformed: u64,
    /// How often the model says this disturbance happens.
    pub per_hour: f64,
}

impl DisturbanceRate {
    /// Expected false failovers per hour: P(failover | episode) × episodes/h.
    pub fn false_per_hour(&self) -> f64 {
        if self.episodes == 0 {
            0.0
        } else {
            self.failovers as f64 / self.episodes as f64 * self.per_hour
        }
    }
}

/// One grid point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// (axis, value) in grid order, e.g. ("token", "3000").
    pub values: Vec<(String, String)>,
    /// The effective timers, in corosync's arithmetic.
    pub timers: String,
    /// Detection predicted by corosync's formulas, and the window a measured
    /// detection must fall in: [token + consensus - hold, token + consensus]
    /// plus the join/commit exchange.
    pub formula: Option<(f64, f64, f64)>,
    /// Fault to the first new membership (or takeover), for real failures.
    pub detection: Stats,
    /// Real failures whose detection fell inside the formula's window.
    pub in_window: u64,
    /// Real failures never detected within the run.
    pub undetected: u64,
    pub disturbances: Vec<DisturbanceRate>,
    /// Heal (resume, power-on after boot, link restored) to the last
    /// membership change: the ring is stable again.
    pub stable_after_heal: Stats,
}

impl SweepPoint {
    pub fn false_per_hour(&self) -> f64 {
        self.disturbances
            .iter()
            .map(DisturbanceRate::false_per_hour)
            .sum()
    }

    pub fn label(&self) -> String {
        let v: Vec<String> = self
            .values
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        v.join(", ")
    }
}

/// A whole sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepResult {
    pub name: String,
    pub seeds: u64,
    /// The index of the point that equals the user's own file, if any.
    pub baseline: Option<usize>,
    pub points: Vec<SweepPoint>,
    /// Runs that could not be carried out.
    pub errors: Vec<String>,
    pub runs: u64,
    pub wall_seconds: f64,
    pub threads: usize,
}

/// Which points no other point beats on both detection median and false
/// failovers per hour (lower is better for both).
pub fn pareto(points: &[SweepPoint]) -> Vec<bool> {
    let key = |p: &SweepPoint| {
        (
            p.detection.median.unwrap_or(f64::INFINITY),
            p.false_per_hour(),
        )
    };
    points
        .iter()
        .map(|p| {
            let (d, f) = key(p);
            !points.iter().any(|q| {
                let (qd, qf) = key(q);
                qd <= d && qf <= f && (qd < d || qf < f)
            })
        })
        .collect()
}

fn secs(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.2}"))
}

/// The table, the advice and the timing line.
pub fn to_text(r: &SweepResult) -> String {
    let mut out = String::new();
    let front = pareto(&r.points);
    let _ = writeln!(
        out,
        "sweep {}: {} points x {} seeds",
        r.name,
        r.points.len(),
        r.seeds
    );
    let _ = writeln!(
        out,
        "{:<34} {:>8} {:>8} {:>9} {:>13} {:>10} {:>9}  pareto",
        "point", "det med", "det p99", "formula", "in window", "false/h", "stable"
    );
    for (p, on_front) in r.points.iter().zip(&front) {
        let formula = p.formula.map_or("-".into(), |(f, _, _)| format!("{f:.2}"));
        let _ = writeln!(
            out,
            "{:<34} {:>8} {:>8} {:>9} {:>13} {:>10.2} {:>9}  {}",
            p.label(),
            secs(p.detection.median),
            secs(p.detection.p99),
            formula,
            format!("{}/{}", p.in_window, p.detection.n + p.undetected),
            p.false_per_hour(),
            secs(p.stable_after_heal.median),
            if *on_front { "*" } else { "" }
        );
        let _ = writeln!(out, "    {}", p.timers);
        for d in &p.disturbances {
            let _ = writeln!(
                out,
                "    {}: {}/{} episodes failed over ({:.2}/h at {}/h); {}/{} re-formed the ring with every member",
                d.label,
                d.failovers,
                d.episodes,
                d.false_per_hour(),
                d.per_hour,
                d.reformed.saturating_sub(d.failovers),
                d.episodes
            );
        }
    }
    for line in advice(r) {
        let _ = writeln!(out, "advice: {line}");
    }
    if r.wall_seconds > 0.0 {
        let _ = writeln!(
            out,
            "{} runs in {:.1} s wall on {} threads",
            r.runs, r.wall_seconds, r.threads
        );
    }
    for e in &r.errors {
        let _ = writeln!(out, "error: {e}");
    }
    out
}

fn disturbance_names(p: &SweepPoint) -> String {
    let names: Vec<&str> = p.disturbances.iter().map(|d| d.label.as_str()).collect();
    names.join(" and ")
}

/// "token 3000 -> 5000: false failovers 4.1/h -> 0.0/h under pause 2s,
/// detection median 3.6 s -> 6.1 s", from the user's point (or the first)
/// to every other, then the recommendation.
pub fn advice(r: &SweepResult) -> Vec<String> {
    let Some(base) = r.points.get(r.baseline.unwrap_or(0)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in &r.points {
        if std::ptr::eq(p, base) {
            continue;
        }
        let changed: Vec<String> = base
            .values
            .iter()
            .zip(&p.values)
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, b)| format!("{} {} -> {}", a.0, a.1, b.1))
            .collect();
        out.push(format!(
            "{}: false failovers {:.1}/h -> {:.1}/h under {}, detection median {} s -> {} s",
            changed.join(", "),
            base.false_per_hour(),
            p.false_per_hour(),
            disturbance_names(p),
            secs(base.detection.median),
            secs(p.detection.median)
        ));
    }
    let best = r
        .points
        .iter()
        .filter(|p| p.false_per_hour() == 0.0 && p.detection.median.is_some())
        .min_by(|a, b| {
            a.detection
                .median
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.detection.median.unwrap_or(f64::INFINITY))
        });
    match best {
        Some(p) => out.push(format!(
            "fastest detection with no false failover under this model: {} (median {} s, p99 {} s)",
            p.label(),
            secs(p.detection.median),
            secs(p.detection.p99)
        )),
        None => out.push(
            "every point failed over under this model: raise the timers further or shorten the disturbances".into(),
        ),
    }
    out
}

/// One row per point.
pub fn to_csv(r: &SweepResult) -> String {
    let mut out = String::new();
    let axes: Vec<&str> = r
        .points
        .first()
        .map(|p| p.values.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{},detection_n,detection_median_s,detection_p99_s,formula_s,in_window,undetected,false_failovers_per_hour,stable_after_heal_median_s,pareto",
        axes.join(",")
    );
    let front = pareto(&r.points);
    for (p, f) in r.points.iter().zip(front) {
        let values: Vec<&str> = p.values.iter().map(|(_, v)| v.as_str()).collect();
        let opt = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.4}"));
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{:.4},{},{}",
            values.join(","),
            p.detection.n,
            opt(p.detection.median),
            opt(p.detection.p99),
            opt(p.formula.map(|f| f.0)),
            p.in_window,
            p.undetected,
            p.false_per_hour(),
            opt(p.stable_after_heal.median),
            f
        );
    }
    out
}

/// Detection median (x) against false failovers per hour (y); the Pareto
/// front joined by a line; each point labelled.
pub fn to_svg(r: &SweepResult) -> String {
    let (w, h, m) = (720.0, 420.0, 70.0);
    let front = pareto(&r.points);
    let xs: Vec<f64> = r.points.iter().filter_map(|p| p.detection.median).collect();
    let x_max = xs.iter().copied().fold(1.0_f64, f64::max) * 1.1;
    let y_max = r
        .points
        .iter()
        .map(SweepPoint::false_per_hour)
        .fold(1.0_f64, f64::max)
        * 1.1;
    let px = |x: f64| m + x / x_max * (w - 2.0 * m);
    let py = |y: f64| h - m - y / y_max * (h - 2.0 * m);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(out, "<title>{}</title>", crate::junit::escape(&r.name));
    let _ = writeln!(out, "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
    let _ = writeln!(
        out,
        "<text x=\"{m}\" y=\"30\" font-size=\"15\">{}: {} seeds per point; Pareto front in red</text>",
        crate::junit::escape(&r.name),
        r.seeds
    );
    let _ = writeln!(
        out,
        "<g id=\"axes\" stroke=\"black\"><line x1=\"{m}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\"/><line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{0}\"/></g>",
        h - m,
        w - m
    );
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">failure detection, median (s)</text>",
        w / 2.0,
        h - 25.0
    );
    let _ = writeln!(
        out,
        "<text x=\"20\" y=\"{}\" transform=\"rotate(-90 20 {})\" text-anchor=\"middle\">false failovers per hour</text>",
        h / 2.0,
        h / 2.0
    );
    for i in 0..=4 {
        let (xv, yv) = (x_max * f64::from(i) / 4.0, y_max * f64::from(i) / 4.0);
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{xv:.1}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{yv:.2}</text>",
            px(xv),
            h - m + 16.0,
            m - 6.0,
            py(yv) + 4.0
        );
    }
    let mut on_front: Vec<(f64, f64)> = r
        .points
        .iter()
        .zip(&front)
        .filter(|(_, f)| **f)
        .filter_map(|(p, _)| Some((p.detection.median?, p.false_per_hour())))
        .collect();
    on_front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let path: Vec<String> = on_front
        .iter()
        .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
        .collect();
    let _ = writeln!(
        out,
        "<polyline id=\"pareto-front\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"{}\"/>",
        path.join(" ")
    );
    for (p, f) in r.points.iter().zip(&front) {
        let Some(x) = p.detection.median else {
            continue;
        };
        let y = p.false_per_hour();
        let class = if *f { "point pareto" } else { "point" };
        let fill = if *f { "#d62728" } else { "#1f77b4" };
        let _ = writeln!(
            out,
            "<g class=\"{class}\"><title>{}: detection median {x:.2} s, p99 {} s, {y:.2} false failovers/h</title><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"{fill}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            crate::junit::escape(&p.label()),
            secs(p.detection.p99),
            px(x),
            py(y),
            px(x) + 8.0,
            py(y) - 8.0,
            crate::junit::escape(&p.label())
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(token: &str, det: f64, false_failovers: u64) -> SweepPoint {
        SweepPoint {
            values: vec![("token".into(), token.into())],
            timers: String::new(),
            formula: None,
            detection: Stats::of(vec![det, det + 0.1]),
            in_window: 2,
            undetected: 0,
            disturbances: vec![DisturbanceRate {
                label: "pause 2s".into(),
                episodes: 10,
                failovers: false_failovers,
                reformed: false_failovers,
                per_hour: 4.0,
            }],
            stable_after_heal: Stats::default(),
        }
    }

    fn result() -> SweepResult {
        SweepResult {
            name: "t".into(),
            seeds: 2,
            baseline: Some(1),
            points: vec![
                point("1000", 3.6, 10),
                point("3000", 8.0, 5),
                point("5000", 12.4, 0),
                point("10000", 23.4, 0),
                point("2000", 9.0, 6),
            ],
            errors: vec![],
            runs: 10,
            wall_seconds: 1.0,
            threads: 2,
        }
    }

    #[test]
    fn stats_nearest_rank() {
        let s = Stats::of((1..=100).map(f64::from).collect());
        assert_eq!((s.median, s.p99, s.n), (Some(50.0), Some(99.0), 100));
        assert_eq!(Stats::of(vec![]).median, None);
    }

    #[test]
    fn pareto_front_excludes_dominated_points() {
        assert_eq!(
            pareto(&result().points),
            vec![true, true, true, false, false]
        );
    }

    #[test]
    fn advice_compares_with_the_users_value() {
        let lines = advice(&result());
        assert!(lines.iter().any(|l| l
            == "token 3000 -> 5000: false failovers 2.0/h -> 0.0/h under pause 2s, detection median 8.00 s -> 12.40 s"), "{lines:#?}");
        assert!(lines.last().unwrap().contains("token 5000 (median 12.40 s"));
        let text = to_text(&result());
        assert!(
            text.contains("pause 2s: 10/10 episodes failed over (4.00/h at 4/h); 0/10 re-formed"),
            "{text}"
        );
    }

    #[test]
    fn svg_marks_the_front() {
        let svg = to_svg(&result());
        assert_eq!(svg.matches("class=\"point pareto\"").count(), 3);
        assert_eq!(svg.matches("class=\"point\"").count(), 2);
        assert!(svg.contains("id=\"pareto-front\""));
        let csv = to_csv(&result());
        assert_eq!(csv.lines().count(), 6);
    }
}
