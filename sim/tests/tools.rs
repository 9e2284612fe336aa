//! The tools around runs: shrinking, sharded campaigns and their merge,
//! JUnit, the HTML timeline and timeout sweeps.
#![cfg(madsim)]

mod common;

use common::{load, scenario_path};
use hasim::scenario::Scenario;
use hasim_reports::{CampaignSummary, Shard};
use std::collections::BTreeMap;

/// keepalived-nemesis with the split brain no longer allowed: most seeds
/// now break `single-vip-owner` unexpectedly.
fn strict_nemesis() -> (Scenario, String) {
    let path = scenario_path("keepalived-nemesis.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "may_break = [\"single-vip-owner\", \"vip-available\"]",
        "may_break = [\"vip-available\"]",
    );
    assert!(text.contains("may_break = [\"vip-available\"]"));
    let scenario = Scenario::parse(&text, path.to_str().unwrap()).unwrap();
    (scenario, text)
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hasim-tools-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn shrink_reduces_a_nemesis_seed_to_at_most_three_faults_that_fail_the_same_way() {
    let (scenario, text) = strict_nemesis();
    let seed = 1;
    let before = hasim::faults::timeline(&scenario, seed).len();
    let mut lines = Vec::new();
    let shrunk =
        hasim::shrink::shrink(&scenario, seed, &mut |l| lines.push(l.to_string())).unwrap();
    let faults = shrunk.faults();
    assert!(before > 10, "the nemesis drew only {before} faults");
    assert!(
        faults.len() <= 3,
        "{} faults left: {faults:?}",
        faults.len()
    );
    assert_eq!(shrunk.mode.checker, "single-vip-owner");
    assert!(!shrunk.mode.held);
    assert!(lines.len() >= 2, "no progress shown: {lines:?}");
    // Deterministic: the same search gives the same faults.
    let again = hasim::shrink::shrink(&scenario, seed, &mut |_| {}).unwrap();
    assert_eq!(again.faults(), faults);
    // The written file loads and fails the same way.
    let out = temp_dir("shrink").join("shrunk.toml");
    let written = hasim::scenario_write::with_faults(
        &text,
        &scenario_path("keepalived-nemesis.toml"),
        &out,
        &faults,
        "shrunk",
    )
    .unwrap();
    std::fs::write(&out, written).unwrap();
    let reloaded = Scenario::load(&out).unwrap();
    assert!(reloaded.nemesis.is_none());
    assert_eq!(reloaded.faults.len(), faults.len());
    let mode = hasim::shrink::failure_mode(&reloaded, seed).unwrap();
    assert_eq!(mode, Some(shrunk.mode));
}

#[test]
fn shrinking_a_seed_that_met_its_expectation_is_refused() {
    let scenario = load("keepalived-split-brain.toml");
    let err = hasim::shrink::shrink(&scenario, 1, &mut |_| {})
        .err()
        .unwrap();
    assert!(err.contains("meets its expectation"), "{err}");
}

#[test]
fn shards_merge_into_the_unsharded_summary() {
    let (scenario, _) = strict_nemesis();
    let control = hasim::shard::Control::default();
    let seeds = 1..14;
    let whole = hasim::shard::run(&scenario, "s.toml", seeds.clone(), None, 2, false, &control);
    let parts: Vec<CampaignSummary> = (1..=3)
        .map(|k| {
            let shard = Some(Shard { index: k, count: 3 });
            hasim::shard::run(
                &scenario,
                "s.toml",
                seeds.clone(),
                shard,
                1,
                false,
                &control,
            )
            .summary
        })
        .collect();
    assert_eq!(parts.iter().map(|p| p.runs).sum::<u64>(), 13);
    // Through JSON, as `hasim merge` reads them.
    let parts: Vec<CampaignSummary> = parts
        .iter()
        .map(|p| serde_json::from_str(&serde_json::to_string(p).unwrap()).unwrap())
        .collect();
    let merged = CampaignSummary::merge(&parts).unwrap();
    assert_eq!(merged, whole.summary);
    assert!(whole.summary.failures.len() > 5);
}

#[test]
fn fail_fast_stops_after_the_first_unexpected_run() {
    let (scenario, _) = strict_nemesis();
    let control = hasim::shard::Control {
        fail_fast: true,
        ..Default::default()
    };
    let run = hasim::shard::run(&scenario, "s.toml", 1..200, None, 1, false, &control);
    assert_eq!(run.summary.runs, 1, "seed 1 breaks single-vip-owner");
    assert!(run.summary.interrupted);
    assert!(!run.summary.all_met());
    assert!(run.summary.to_text().contains("INTERRUPTED"));
}

#[test]
fn campaign_junit_validates_and_carries_invariant_evidence_and_replay() {
    let (scenario, _) = strict_nemesis();
    let control = hasim::shard::Control {
        keep_outcomes: true,
        ..Default::default()
    };
    let run = hasim::shard::run(&scenario, "kn.toml", 1..6, None, 2, false, &control);
    let cases = run
        .outcomes
        .iter()
        .map(|o| hasim::ci::case_from_outcome(&scenario.name, "kn.toml", o))
        .collect();
    let props = vec![("scenario".to_string(), "kn.toml".to_string())];
    let xml = hasim::ci::junit(&scenario.name, std::time::SystemTime::now(), props, cases);
    hasim_reports::junit_schema::validate(&xml).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 5);
    assert!(xml
        .contains("<failure message=\"unexpected: single-vip-owner\" type=\"single-vip-owner\">"));
    assert!(xml.contains("held by lb1 and lb"), "no evidence in {xml}");
    assert!(xml.contains("replay: hasim replay kn.toml --seed 1 --trace seed-1.trace.jsonl"));
    // The same check against the XSD with xmllint, where it is installed.
    let xsd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/junit.xsd");
    let file = temp_dir("junit").join("c.xml");
    std::fs::write(&file, &xml).unwrap();
    match std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("skipped the xmllint check of the JUnit XSD: xmllint: {e}"),
    }
}

/// (class, lane, start, end) of every span, and (kind, start, end) of every
/// fault band, read back from the SVG.
type Shapes = (
    Vec<(String, String, f64, f64)>,
    Vec<(String, f64, f64)>,
    Vec<f64>,
);

fn read_svg(svg: &str, end: f64) -> Shapes {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(svg);
    let (mut spans, mut bands, mut violations) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let attrs: BTreeMap<String, String> = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (a.key.0.to_string(), a.value.to_string())
                    })
                    .collect();
                let num = |k: &str| match attrs.get(k).map(String::as_str) {
                    Some("end") => end,
                    Some(v) => v.parse::<f64>().unwrap(),
                    None => f64::NAN,
                };
                let class = attrs.get("class").cloned().unwrap_or_default();
                if let Some(kind) = class.strip_prefix("fault-band ") {
                    bands.push((kind.to_string(), num("data-start"), num("data-end")));
                } else if let Some(c) = class.strip_prefix("span ") {
                    let lane = attrs["data-lane"].clone();
                    spans.push((c.to_string(), lane, num("data-start"), num("data-end")));
                } else if class.starts_with("violation") {
                    violations.push(num("data-at"));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (spans, bands, violations)
}

#[test]
fn split_brain_timeline_shows_both_masters_inside_the_partition_band() {
    let (page, out) = split_brain_page();
    assert!(!page.contains("<script") && !page.contains("src=\"http"));
    let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap() + 6];
    let (spans, bands, violations) = read_svg(svg, out.report.simulated_seconds);
    let masters = |lane: &str| -> Vec<(f64, f64)> {
        spans
            .iter()
            .filter(|(c, l, _, _)| c == "master" && l == lane)
            .map(|(_, _, s, e)| (*s, *e))
            .collect()
    };
    let (lb1, lb2) = (masters("lb1"), masters("lb2"));
    let overlap = lb1
        .iter()
        .flat_map(|a| lb2.iter().map(move |b| (a.0.max(b.0), a.1.min(b.1))))
        .find(|(s, e)| e > s)
        .expect("lb1 and lb2 are never MASTER at once");
    let partition = bands
        .iter()
        .find(|(k, _, _)| k == "partition")
        .expect("no partition band");
    // The second master appears inside the partition and lasts about as long.
    assert!(
        overlap.0 > partition.1 && overlap.0 < partition.2,
        "{overlap:?} {partition:?}"
    );
    assert!(overlap.1 - overlap.0 > 5.0, "{overlap:?}");
    // Both hold the VIP, and the violation is marked where the overlap starts.
    for lane in ["lb1", "lb2"] {
        assert!(spans.iter().any(|(c, l, s, e)| c == "vip"
            && l == lane
            && *s <= overlap.0 + 1e-3
            && *e >= overlap.1 - 1e-3));
    }
    assert!(
        violations.iter().any(|v| (v - overlap.0).abs() < 1e-3),
        "{violations:?} {overlap:?}"
    );
}

/// A headless Chromium: `HASIM_CHROMIUM`, else the first of the usual
/// names on PATH.
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("HASIM_CHROMIUM") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Measures the rendered page from inside the browser (boxes of both
/// masters, the partition band and the summary; which shape is on top at a
/// box's centre; page and window widths; resources fetched) and appends
/// them to the DOM as `PROBE{json}EBORP`, which `--dump-dom` prints.
const PROBE: &str = r#"<script>
window.addEventListener('load', function () {
  function box(sel) {
    var e = document.querySelector(sel);
    if (!e) return null;
    var r = e.getBoundingClientRect();
    var hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, on_top: hit === e};
  }
  var out = {
    window: window.innerWidth,
    page: document.documentElement.scrollWidth,
    lb1: box('rect.span.master[data-lane="lb1"][data-end="end"]'),
    lb2: box('rect.span.master[data-lane="lb2"]'),
    band: box('rect.fault-band.partition'),
    summary: box('pre'),
    fetched: performance.getEntriesByType('resource').length
  };
  var p = document.createElement('div');
  p.textContent = 'PROBE' + JSON.stringify(out) + 'EBORP';
  document.body.appendChild(p);
});
</script>"#;

/// Run Chromium headless on `page` at 1400 x 900 and return the probe's
/// measurements; fails after 120 s.
fn render_in_chromium(chromium: &std::path::Path, page: &str) -> serde_json::Value {
    let dir = temp_dir("chromium");
    let file = dir.join("page.html");
    std::fs::write(&file, page.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let out_path = dir.join("dom.html");
    let mut child = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,900",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("file://{}", file.display()))
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cannot start chromium");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let dom = std::fs::read_to_string(&out_path).unwrap();
    let json = dom
        .split("PROBE{")
        .nth(1)
        .and_then(|rest| rest.split("}EBORP").next())
        .unwrap_or_else(|| panic!("no probe output in the DOM chromium printed: {dom}"));
    serde_json::from_str(&format!("{{{json}}}")).unwrap()
}

/// The split-brain page as headless Chromium lays it out in a 1400 px
/// window: the timeline fits, both masters are painted (each on top at its
/// centre, so hovering reaches it) and overlap by the 7 s of split brain,
/// the second master starts inside the partition band, the summary shows,
/// and nothing was fetched. Skipped, with the reason printed, when no
/// Chromium is installed.
#[test]
fn split_brain_page_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no chromium on PATH (apt-get install chromium, or set HASIM_CHROMIUM)");
        return;
    };
    let (page, _) = split_brain_page();
    let m = render_in_chromium(&chromium, &page);
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    assert!(
        f(&m, "page") <= f(&m, "window"),
        "wider than the window: {m}"
    );
    assert_eq!(m["fetched"], 0, "{m}");
    let (lb1, lb2, band, summary) = (&m["lb1"], &m["lb2"], &m["band"], &m["summary"]);
    for shape in [lb1, lb2, summary] {
        assert_eq!(shape["on_top"], true, "hidden or missing: {m}");
    }
    // 7 s of a 60 s run across at least 1000 px.
    let overlap = f(lb1, "right").min(f(lb2, "right")) - f(lb1, "left").max(f(lb2, "left"));
    assert!(overlap > 100.0, "masters overlap by {overlap} px: {m}");
    assert!(
        f(band, "left") < f(lb2, "left") && f(lb2, "left") < f(band, "right"),
        "second master outside the partition band: {m}"
    );
    assert!(f(summary, "bottom") - f(summary, "top") > 100.0, "{m}");
}

#[test]
fn sweep_detection_agrees_with_corosyncs_formula_and_longer_tokens_ride_out_pauses() {
    let spec = hasim::sweep::SweepSpec::load(&scenario_path("sweep/cloud-vm-pauses.toml")).unwrap();
    let result = hasim::sweep::run(&spec, 4, 2, false).unwrap();
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert_eq!(result.points.len(), 4);
    for p in &result.points {
        let (formula, lo, hi) = p.formula.unwrap();
        assert_eq!(p.detection.n, 4, "{}", p.label());
        assert_eq!(
            p.in_window,
            4,
            "{}: {:?} outside [{lo}, {hi}]",
            p.label(),
            p.detection
        );
        assert!(p.detection.median.unwrap() <= formula + 0.2);
        assert!(p.timers.contains("consensus"));
    }
    // token 1000: 1650 + 1980 ms; pauses up to 12 s fail some over.
    assert_eq!(result.points[0].formula.unwrap().0, 3.63);
    assert!(result.points[0].false_per_hour() > 0.0);
    assert_eq!(result.points[2].false_per_hour(), 0.0);
    let text = hasim_reports::sweep::to_text(&result);
    assert!(
        text.contains("advice: token 1000 -> 5000: false failovers"),
        "{text}"
    );
    let svg = hasim_reports::sweep::to_svg(&result);
    assert!(svg.contains("class=\"point pareto\""));
}

#[test]
fn a_bad_sweep_file_names_its_line() {
    let dir = temp_dir("sweep");
    std::fs::copy(
        scenario_path("sweep/ring3-base.toml"),
        dir.join("base.toml"),
    )
    .unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "name = \"x\"\nscenario = \"base.toml\"\n[grid]\ntoken = [1000]\nknet_ping_interval = [100]\n[[disturbance]]\nkind = \"pause\"\nlength = { min = \"1s\", max = \"1s\" }\n",
    )
    .unwrap();
    let err = hasim::sweep::SweepSpec::load(&path).err().unwrap();
    assert!(err.contains("bad.toml:5:"), "{err}");
    std::fs::write(
        &path,
        "name = \"x\"\nscenario = \"base.toml\"\n[grid]\ntokn = [1]\n",
    )
    .unwrap();
    let err = hasim::sweep::SweepSpec::load(&path).err().unwrap();
    assert!(err.contains("bad.toml:4:") && err.contains("tokn"), "{err}");
}

#[test]
fn a_sweep_takes_a_bare_corosync_conf_and_keeps_its_explicit_consensus() {
    let spec = hasim::sweep::SweepSpec::load(&scenario_path("sweep/fuel-totem.toml")).unwrap();
    assert_eq!(spec.base.nodes.len(), 3);
    let points = hasim::sweep::points(&spec).unwrap();
    assert_eq!(points.len(), 4);
    // token 3000 on 3 nodes: 3650 ms; Fuel's consensus 3600 stays as set.
    let (formula, _, _) = hasim::sweep::detection_formula(&points[1].scenario).unwrap();
    assert_eq!(formula.as_millis(), 3650 + 3600);
    let timers = hasim::sweep::timers_text(&points[1].scenario);
    assert!(timers.contains("consensus 3600 ms (set)"), "{timers}");
    assert!(timers.contains("token / (10 + 0.2)"), "{timers}");
}

/// The HTML page of `keepalived-split-brain` seed 1, and the run it shows.
fn split_brain_page() -> (String, hasim::world::RunOutput) {
    use hasim::timeline::{TimelineObserver, TraceTap};
    use std::sync::{Arc, Mutex};
    let scenario = load("keepalived-split-brain.toml");
    let observer = Arc::new(Mutex::new(TimelineObserver::new()));
    let tap = TraceTap::new(observer.clone(), None);
    let out = hasim::world::run(&scenario, 1, Some(Box::new(tap))).unwrap();
    let observer = std::mem::take(&mut *observer.lock().unwrap());
    let page = hasim_reports::html::page(&observer.finish(&out.report));
    (page, out)
}
