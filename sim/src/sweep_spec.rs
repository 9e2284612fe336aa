//! Sweep files: a base scenario, a grid of timer values, and a disturbance
//! model (what happens to the cluster, how long, how often). Documented in
//! `scenarios/README.md` ("Sweeps").

use crate::scenario::{DurationRange, Scenario};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// A sweep as written in its file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The base scenario, relative to the sweep file: the cluster, its
    /// corosync.conf or VRRP instances. Its faults, nemesis and expectation
    /// are replaced by the disturbance model.
    pub scenario: Option<Spanned<String>>,
    /// Or the user's own corosync.conf, relative to the sweep file: its
    /// nodelist becomes the cluster (ring0 = segment `ring0`, ...).
    pub conf: Option<Spanned<String>>,
    #[serde(
        default = "default_seeds",
        deserialize_with = "crate::limits::sweep_seeds"
    )]
    pub seeds: u64,
    /// Quiet time before the first episode.
    #[serde(default = "default_warmup", with = "humantime_serde")]
    pub warmup: Duration,
    pub grid: Grid,
    #[serde(rename = "disturbance")]
    pub disturbances: Vec<Spanned<Disturbance>>,
}

fn default_seeds() -> u64 {
    100
}
fn default_warmup() -> Duration {
    Duration::from_secs(10)
}

/// The values to try; every combination is one grid point. Corosync values
/// are corosync.conf's (milliseconds, before `token_coefficient` scaling).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub token: Option<Spanned<Vec<u32>>>,
    pub consensus: Option<Spanned<Vec<u32>>>,
    pub token_retransmits_before_loss_const: Option<Spanned<Vec<u32>>>,
    pub join: Option<Spanned<Vec<u32>>>,
    /// knet ping timers are derived from the token in hasim's knet links
    /// (stack/totem/src/link.rs); as a sweep axis they are refused.
    pub knet_ping_interval: Option<Spanned<Vec<u32>>>,
    pub knet_ping_timeout: Option<Spanned<Vec<u32>>>,
    /// VRRP `advert_int` of every instance.
    #[serde(default)]
    pub advert_int: Option<Spanned<Vec<String>>>,
}

/// What the model inflicts.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DisturbanceKind {
    /// A VM freeze (steal, live migration): should not fail over.
    Pause,
    /// Every segment loses this fraction of datagrams for a while.
    LossBurst,
    /// Every segment's latency rises for a while.
    LatencySpike,
    /// A node loses power for `length`: a real failure, must be detected.
    PowerFailure,
}

impl DisturbanceKind {
    /// The name as written in sweep files.
    pub fn name(self) -> &'static str {
        match self {
            DisturbanceKind::Pause => "pause",
            DisturbanceKind::LossBurst => "loss-burst",
            DisturbanceKind::LatencySpike => "latency-spike",
            DisturbanceKind::PowerFailure => "power-failure",
        }
    }

    pub fn is_real_failure(self) -> bool {
        self == DisturbanceKind::PowerFailure
    }
}

/// One kind of episode in the model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disturbance {
    pub kind: DisturbanceKind,
    /// Episodes of this kind per run.
    #[serde(default = "one")]
    pub count: u32,
    /// How long each episode lasts, drawn uniformly.
    pub length: DurationRange,
    /// How often it happens in the user's environment (for false failovers
    /// per hour).
    #[serde(default = "one_f")]
    pub per_hour: f64,
    /// `loss-burst`: the loss rate.
    #[serde(default)]
    pub loss: Option<f64>,
    /// `latency-spike`: the one-way latency during the spike.
    #[serde(default, with = "humantime_serde")]
    pub latency: Option<Duration>,
}

fn one() -> u32 {
    1
}
fn one_f() -> f64 {
    1.0
}

/// A scenario for a bare corosync.conf: its nodelist is the cluster.
fn from_conf(conf: &str, name: &str, sweep_path: &Path) -> Result<Scenario, String> {
    let text = format!(
        "name = {name:?}\nduration = \"60s\"\n[corosync]\nconf = {conf:?}\n[expect]\ncheck = []\n"
    );
    // Parsed as if it sat beside the sweep file, so `conf` resolves from there.
    Scenario::parse(&text, &sweep_path.display().to_string()).map_err(|e| e.message)
}

/// A loaded sweep: the file and its base scenario.
pub struct SweepSpec {
    pub file: SweepFile,
    pub path: String,
    pub base: Scenario,
    pub base_path: std::path::PathBuf,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl SweepSpec {
    pub fn load(path: &Path) -> Result<SweepSpec, String> {
        let limit = crate::limits::MAX_SCENARIO_BYTES;
        let text = crate::input::read_text(path, limit, "sweep file")?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<SweepSpec, String> {
        let name = path.display().to_string();
        let at = |span: std::ops::Range<usize>, m: &str| {
            format!("{name}:{}: {m}", line_of(text, span.start))
        };
        let sweep: SweepFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            format!("{name}:{line}: {}", e.message().trim())
        })?;
        let knet = [
            &sweep.grid.knet_ping_interval,
            &sweep.grid.knet_ping_timeout,
        ];
        if let Some(axis) = knet.into_iter().flatten().next() {
            return Err(at(axis.span(), "knet ping timers are derived from the token in hasim's knet links; not a sweep axis yet (expected token, consensus, token_retransmits_before_loss_const, join or advert_int)"));
        }
        for d in &sweep.disturbances {
            let v = d.get_ref();
            if v.length.min > v.length.max || v.count == 0 || v.per_hour < 0.0 {
                return Err(at(
                    d.span(),
                    "expected length.min <= length.max, count >= 1 and per_hour >= 0",
                ));
            }
            if v.kind == DisturbanceKind::LossBurst
                && !v.loss.is_some_and(|l| (0.0..=1.0).contains(&l))
            {
                return Err(at(d.span(), "a loss-burst needs `loss` between 0 and 1"));
            }
            if v.kind == DisturbanceKind::LatencySpike && v.latency.is_none() {
                return Err(at(d.span(), "a latency-spike needs `latency`"));
            }
        }
        if sweep.disturbances.is_empty() {
            return Err(format!("{name}: expected at least one [[disturbance]]"));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let (base, base_path, span) = match (&sweep.scenario, &sweep.conf) {
            (Some(s), None) => {
                let base_path = dir.join(s.get_ref());
                let base = Scenario::load(&base_path)
                    .map_err(|e| format!("{} (scenario of {name}): {e}", base_path.display()))?;
                (base, base_path, s.span())
            }
            (None, Some(c)) => {
                let base = from_conf(c.get_ref(), &sweep.name, path)
                    .map_err(|e| format!("{name}:{}: conf: {e}", line_of(text, c.span().start)))?;
                (base, path.to_path_buf(), c.span())
            }
            _ => {
                return Err(format!(
                    "{name}: expected exactly one of `scenario = \"FILE\"` or `conf = \"corosync.conf\"`"
                ))
            }
        };
        if base.corosync_conf.is_none() && base.vrrp.is_empty() {
            return Err(at(
                span,
                "the base scenario runs neither corosync nor VRRP: nothing to tune",
            ));
        }
        Ok(SweepSpec {
            file: sweep,
            path: name,
            base,
            base_path,
        })
    }
}
