//! The fault timeline of a run: the scenario's scripted faults plus, if it has
//! a nemesis, faults drawn from the run seed.
//!
//! The timeline is a pure function of (scenario, seed): it is drawn before the
//! run starts with its own ChaCha stream, so it does not depend on how many
//! random numbers the simulation itself consumes, and it is printed in the
//! report so a reader sees exactly what was injected.

use crate::scenario::{DurationRange, FaultAction, NemesisKind, Scenario};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Where a fault came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Script,
    Nemesis,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Script => "script",
            Source::Nemesis => "nemesis",
        }
    }
}

/// One fault at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedFault {
    pub at: Duration,
    pub action: FaultAction,
    pub source: Source,
}

/// A stream tag so the nemesis draws are independent of other seeded streams.
const NEMESIS_STREAM: u64 = 0x6e65_6d65_7369_7321;
/// Stream tag for the jitter of scripted faults.
const JITTER_STREAM: u64 = 0x6a69_7474_6572_2121;

/// The full, time-ordered timeline. Faults at the same instant keep their
/// file order, scripted before drawn.
pub fn timeline(scenario: &Scenario, seed: u64) -> Vec<TimedFault> {
    let mut jitter_rng = ChaCha8Rng::seed_from_u64(seed ^ JITTER_STREAM);
    let mut faults: Vec<TimedFault> = scenario
        .faults
        .iter()
        .map(|f| {
            let f = f.get_ref();
            // Jitter is drawn in whole microseconds; one below 1 us moves nothing.
            let micros = f.jitter.map_or(0, micros);
            let extra = if micros == 0 {
                Duration::ZERO
            } else {
                Duration::from_micros(jitter_rng.gen_range(0..micros))
            };
            TimedFault {
                at: f.at + extra,
                action: f.action.clone(),
                source: Source::Script,
            }
        })
        .collect();
    if scenario.nemesis.is_some() {
        faults.extend(draw_nemesis(scenario, seed));
    }
    faults.sort_by_key(|f| f.at);
    faults
}

/// Whole microseconds of `d`. Scenario durations are at most
/// [`crate::limits::MAX_RUN`], far below `u64::MAX` microseconds.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn uniform(rng: &mut ChaCha8Rng, range: &DurationRange) -> Duration {
    let (lo, hi) = (micros(range.min), micros(range.max));
    Duration::from_micros(if hi > lo { rng.gen_range(lo..=hi) } else { lo })
}

/// Draw the nemesis faults: one fault at a time, each undone before the next
/// begins, all undone by `stop`.
fn draw_nemesis(scenario: &Scenario, seed: u64) -> Vec<TimedFault> {
    let Some(nemesis) = scenario.nemesis.as_ref().map(|n| n.get_ref()) else {
        return Vec::new();
    };
    let (gap, length, kinds) = (
        nemesis.gap.get_ref(),
        nemesis.length.get_ref(),
        nemesis.kinds.get_ref(),
    );
    let loss = nemesis.loss.get_ref();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ NEMESIS_STREAM);
    let nodes: Vec<String> = scenario
        .nodes
        .iter()
        .map(|n| n.name.get_ref().clone())
        .collect();
    let hosts: Vec<String> = scenario
        .host_names()
        .into_iter()
        .map(String::from)
        .collect();
    let mut out = Vec::new();
    let mut t = nemesis.start + uniform(&mut rng, gap);
    // Validation bounds the count (limits::MAX_NEMESIS_FAULTS); the second
    // condition keeps the loop finite even for an unvalidated scenario.
    let mut drawn = 0u64;
    while t < nemesis.stop && drawn < crate::limits::MAX_NEMESIS_FAULTS {
        drawn += 1;
        let end = (t + uniform(&mut rng, length).max(crate::limits::MIN_NEMESIS_LENGTH))
            .min(nemesis.stop);
        let kind = *kinds.choose(&mut rng).unwrap_or(&NemesisKind::Partition);
        let (begin, undo) = match kind {
            NemesisKind::Partition | NemesisKind::OneWayPartition if hosts.len() >= 2 => {
                let mut shuffled = hosts.clone();
                shuffled.shuffle(&mut rng);
                let cut = rng.gen_range(1..shuffled.len());
                let (a, b) = shuffled.split_at(cut);
                (
                    FaultAction::Partition {
                        groups: vec![a.to_vec(), b.to_vec()],
                        one_way: kind == NemesisKind::OneWayPartition,
                    },
                    FaultAction::Heal,
                )
            }
            NemesisKind::Loss if !scenario.segments.is_empty() => {
                let segment = &scenario.segments[rng.gen_range(0..scenario.segments.len())];
                let rate = rng.gen_range(loss[0]..=loss[1]);
                let link = |loss: f64| FaultAction::Link {
                    segment: Some(segment.name.get_ref().clone()),
                    from: None,
                    to: None,
                    loss: Some((loss * 1000.0).round() / 1000.0),
                    latency: None,
                    jitter: None,
                    duplicate: None,
                    reorder: None,
                };
                (link(rate), link(segment.link.loss))
            }
            NemesisKind::Pause if !nodes.is_empty() => {
                let node = nodes[rng.gen_range(0..nodes.len())].clone();
                (
                    FaultAction::Pause { node: node.clone() },
                    FaultAction::Resume { node },
                )
            }
            NemesisKind::Power if !nodes.is_empty() => {
                let node = nodes[rng.gen_range(0..nodes.len())].clone();
                (
                    FaultAction::PowerOff { node: node.clone() },
                    FaultAction::PowerOn { node },
                )
            }
            NemesisKind::Device if !scenario.power_devices.is_empty() => {
                draw_device_fault(scenario, &mut rng)
            }
            _ => {
                t = end + uniform(&mut rng, gap);
                continue;
            }
        };
        out.push(TimedFault {
            at: t,
            action: begin,
            source: Source::Nemesis,
        });
        out.push(TimedFault {
            at: end,
            action: undo,
            source: Source::Nemesis,
        });
        t = end + uniform(&mut rng, gap);
    }
    out
}

/// A power device fault and its undo: one device of the scenario,
/// unreachable, failing, or slow by 1 to 30 s (slower than many a fence
/// agent's patience), then healthy again.
fn draw_device_fault(scenario: &Scenario, rng: &mut ChaCha8Rng) -> (FaultAction, FaultAction) {
    use hasim_powerdev::DeviceFault as D;
    let devices = &scenario.power_devices;
    let device = devices[rng.gen_range(0..devices.len())]
        .name
        .get_ref()
        .clone();
    let fault = match rng.gen_range(0..3) {
        0 => D::Unreachable,
        1 => D::Failing,
        _ => D::Slow {
            extra: Duration::from_millis(rng.gen_range(1_000..=30_000)),
        },
    };
    (
        FaultAction::DeviceFault {
            device: device.clone(),
            fault,
        },
        FaultAction::DeviceFault {
            device,
            fault: D::Healthy,
        },
    )
}

/// A short human description of a fault, used in the trace and the report.
pub fn describe(action: &FaultAction) -> String {
    match action {
        FaultAction::Partition { groups, one_way } => {
            let parts: Vec<String> = groups.iter().map(|g| g.join(" ")).collect();
            let sep = if *one_way { " -/-> " } else { " | " };
            format!("partition {}", parts.join(sep))
        }
        FaultAction::Heal => "heal".to_string(),
        FaultAction::Link {
            segment,
            from,
            to,
            loss,
            latency,
            jitter,
            duplicate,
            reorder,
        } => {
            let mut s = String::from("link");
            if let Some(seg) = segment {
                s += &format!(" segment={seg}");
            }
            if let (Some(a), Some(b)) = (from, to) {
                s += &format!(" {a}->{b}");
            }
            if let Some(v) = loss {
                s += &format!(" loss={v}");
            }
            if let Some(v) = latency {
                s += &format!(" latency={v:?}");
            }
            if let Some(v) = jitter {
                s += &format!(" jitter={v:?}");
            }
            if let Some(v) = duplicate {
                s += &format!(" duplicate={v}");
            }
            if let Some(v) = reorder {
                s += &format!(" reorder={v}");
            }
            s
        }
        FaultAction::Pause { node } => format!("pause {node}"),
        FaultAction::Resume { node } => format!("resume {node}"),
        FaultAction::PowerOff { node } => format!("power-off {node}"),
        FaultAction::PowerOn { node } => format!("power-on {node}"),
        FaultAction::DeviceFault { device, fault } => {
            use hasim_powerdev::DeviceFault as D;
            match fault {
                D::Healthy => format!("device-fault {device} healthy"),
                D::Unreachable => format!("device-fault {device} unreachable"),
                D::Failing => format!("device-fault {device} failing"),
                D::Slow { extra } => format!("device-fault {device} slow +{extra:?}"),
            }
        }
    }
}

/// A digest of a timeline, to show that different seeds draw different ones.
pub fn digest(faults: &[TimedFault]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in faults {
        h.update(format!("{}:{}\n", f.at.as_micros(), describe(&f.action)).as_bytes());
    }
    h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEMESIS: &str = r#"
name = "n"
duration = "60s"
[[segment]]
name = "public"
[[node]]
name = "a"
addresses = { public = "10.0.0.1" }
[[node]]
name = "b"
addresses = { public = "10.0.0.2" }
[nemesis]
start = "5s"
stop = "50s"
gap = { min = "1s", max = "5s" }
length = { min = "1s", max = "5s" }
kinds = ["partition", "loss", "pause", "power"]
[expect]
check = ["single-vip-owner"]
may_break = ["single-vip-owner"]
[[vrrp]]
node = "a"
interface = "public"
vrid = 51
priority = 100
advert_int = "1s"
vips = ["10.0.0.100"]
"#;

    fn scenario() -> Scenario {
        Scenario::parse(NEMESIS, "n.toml").unwrap()
    }

    #[test]
    fn jitter_moves_scripted_faults_by_seed() {
        let text = NEMESIS.replace(
            "[nemesis]",
            "[[fault]]\nat = \"10s\"\njitter = \"1s\"\naction = \"heal\"\n\n[nemesis]",
        );
        let s = Scenario::parse(&text, "j.toml").unwrap();
        let at = |seed| {
            timeline(&s, seed)
                .into_iter()
                .find(|f| f.source == Source::Script)
                .unwrap()
                .at
        };
        let times: std::collections::BTreeSet<Duration> = (0..10).map(at).collect();
        assert!(times.len() >= 9);
        assert!(times
            .iter()
            .all(|t| *t >= Duration::from_secs(10) && *t < Duration::from_secs(11)));
        assert_eq!(at(3), at(3));
    }

    #[test]
    fn same_seed_same_timeline() {
        assert_eq!(timeline(&scenario(), 7), timeline(&scenario(), 7));
    }

    #[test]
    fn seeds_draw_different_timelines() {
        let s = scenario();
        let digests: std::collections::BTreeSet<String> =
            (0..20).map(|seed| digest(&timeline(&s, seed))).collect();
        assert!(
            digests.len() >= 19,
            "only {} distinct timelines",
            digests.len()
        );
    }

    #[test]
    fn nemesis_stays_in_its_window_and_undoes_everything() {
        let s = scenario();
        for seed in 0..50 {
            let t = timeline(&s, seed);
            assert!(!t.is_empty());
            assert!(t
                .iter()
                .all(|f| f.at >= Duration::from_secs(5) && f.at <= Duration::from_secs(50)));
            // Faults come in (begin, undo) pairs that do not overlap.
            for pair in t.chunks(2) {
                assert!(pair[0].at <= pair[1].at);
                assert!(matches!(
                    pair[1].action,
                    FaultAction::Heal
                        | FaultAction::Link { .. }
                        | FaultAction::Resume { .. }
                        | FaultAction::PowerOn { .. }
                ));
            }
        }
    }

    fn with_devices(extra: &str) -> Result<Scenario, String> {
        let text = NEMESIS.replace(
            "[nemesis]",
            &format!("[[power_device]]\nname = \"bmc-a\"\nkind = \"bmc\"\nhost = \"a\"\naddress = \"10.0.0.11\"\nsegment = \"public\"\n\n{extra}[nemesis]"),
        );
        Scenario::parse(&text, "d.toml").map_err(|e| e.to_string())
    }

    /// `device` draws a failure of a declared power device, undone by
    /// `healthy` on the same device; every failure mode comes up.
    #[test]
    fn the_device_nemesis_fails_declared_devices_and_heals_them() {
        use hasim_powerdev::DeviceFault as D;
        let text = with_devices("").unwrap();
        let mut s = text;
        if let Some(n) = s.nemesis.as_mut() {
            *n.get_mut().kinds.get_mut() = vec![NemesisKind::Device];
        }
        let mut modes = std::collections::BTreeSet::new();
        for seed in 0..30 {
            for pair in timeline(&s, seed).chunks(2) {
                let FaultAction::DeviceFault { device, fault } = &pair[0].action else {
                    panic!("{:?}", pair[0]);
                };
                assert_eq!(device, "bmc-a");
                assert_ne!(*fault, D::Healthy);
                modes.insert(
                    describe(&pair[0].action)
                        .split(' ')
                        .nth(2)
                        .unwrap()
                        .to_string(),
                );
                assert_eq!(
                    pair[1].action,
                    FaultAction::DeviceFault {
                        device: device.clone(),
                        fault: D::Healthy
                    }
                );
            }
        }
        assert_eq!(modes.len(), 3, "{modes:?}");
    }

    #[test]
    fn the_device_nemesis_needs_a_power_device() {
        let text = NEMESIS.replace("\"power\"]", "\"power\", \"device\"]");
        let err = Scenario::parse(&text, "n.toml").unwrap_err().to_string();
        assert!(
            err.contains("needs at least one `[[power_device]]`"),
            "{err}"
        );
        assert!(err.starts_with("n.toml:"), "{err}");
    }

    #[test]
    fn scripted_device_faults_are_checked() {
        let fault = |keys: &str| {
            with_devices(&format!(
                "[[fault]]\nat = \"10s\"\naction = \"device-fault\"\n{keys}\n"
            ))
        };
        let s = fault("device = \"bmc-a\"\nmode = \"slow\"\nlatency = \"5s\"").unwrap();
        assert_eq!(
            describe(&s.faults[0].get_ref().action),
            "device-fault bmc-a slow +5s"
        );
        let err = fault("device = \"bmc-z\"\nmode = \"failing\"").unwrap_err();
        assert!(err.contains("unknown power device `bmc-z`"), "{err}");
        let err = fault("device = \"bmc-a\"\nmode = \"slow\"").unwrap_err();
        assert!(err.contains("needs `latency`"), "{err}");
        let err = fault("device = \"bmc-a\"\nmode = \"melting\"").unwrap_err();
        assert!(err.contains("unknown mode `melting`"), "{err}");
        let err = fault("mode = \"failing\"").unwrap_err();
        assert!(err.contains("needs `device`"), "{err}");
    }
}
