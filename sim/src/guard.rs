//! A wall-clock and memory guard for unattended runs, and progress for long
//! ones.
//!
//! Scenario limits (see [`crate::limits`]) keep every run finite, but a year
//! of simulated time on a large cluster is still hours of wall time. A
//! watchdog thread checks the elapsed time and the resident memory every
//! 100 ms; past a limit it prints what was reached and ends the process with
//! exit status 2, so a CI job gets a clear message instead of being killed
//! by its own timeout or the OOM killer. Every 10 s of wall time it prints
//! how far the simulation has got.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Simulated microseconds reached by the most recent event of the current
/// single run (progress only; campaigns show their own progress bar).
static SIMULATED_US: AtomicU64 = AtomicU64::new(0);

/// Note the simulated time; called by the world on every event.
pub fn note_simulated(t: Duration) {
    SIMULATED_US.store(
        u64::try_from(t.as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// The limits one invocation runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Stop after this much wall time (`None`: no limit).
    pub max_wall: Option<Duration>,
    /// Stop when the resident set exceeds this many bytes (`None`: no limit).
    pub max_memory: Option<u64>,
    /// For progress lines: the simulated length of one run, when this is a
    /// single run.
    pub run_length: Option<Duration>,
}

/// The exit status when a limit is reached.
pub const EXIT_LIMIT: u8 = 2;

/// Start the watchdog. It lives until the process ends.
pub fn start(limits: Limits) {
    let started = Instant::now();
    let spawned = std::thread::Builder::new()
        .name("hasim-guard".into())
        .spawn(move || watch(limits, started));
    if let Err(e) = spawned {
        eprintln!("warning: cannot start the wall-clock and memory guard: {e}");
    }
}

fn watch(limits: Limits, started: Instant) {
    let mut next_progress = Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let elapsed = started.elapsed();
        if let Some(message) = breach(&limits, elapsed, resident_bytes()) {
            eprintln!("error: {message}");
            std::process::exit(i32::from(EXIT_LIMIT));
        }
        if elapsed >= next_progress {
            next_progress += Duration::from_secs(10);
            if let Some(length) = limits.run_length {
                eprintln!("{}", progress_line(elapsed, length));
            }
        }
    }
}

/// The limit `elapsed` or `resident` exceeds, as a message.
fn breach(limits: &Limits, elapsed: Duration, resident: Option<u64>) -> Option<String> {
    if let Some(max) = limits.max_wall.filter(|max| elapsed > *max) {
        return Some(format!(
            "stopped after {} of wall time (--max-wall {}), at simulated t={:.3}s; raise the limit or pass --max-wall 0 for none",
            crate::limits::show(Duration::from_secs(elapsed.as_secs())),
            crate::limits::show(max),
            simulated_secs()
        ));
    }
    match (limits.max_memory, resident) {
        (Some(max), Some(rss)) if rss > max => Some(format!(
            "stopped at {} MiB resident memory (--max-memory {} MiB), at simulated t={:.3}s; raise the limit or pass --max-memory 0 for none",
            rss >> 20,
            max >> 20,
            simulated_secs()
        )),
        _ => None,
    }
}

fn simulated_secs() -> f64 {
    SIMULATED_US.load(Ordering::Relaxed) as f64 / 1e6
}

fn progress_line(elapsed: Duration, length: Duration) -> String {
    let done = simulated_secs();
    let total = length.as_secs_f64();
    format!(
        "progress: simulated {done:.1} s of {total:.1} s ({:.1}%) in {} s of wall time",
        100.0 * done / total.max(f64::MIN_POSITIVE),
        elapsed.as_secs()
    )
}

/// This process's resident set size, from `/proc/self/status` (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Parse a memory size: `4G`, `512M`, `1GiB`, `800000K`, `1048576` (bytes);
/// `0` means no limit.
pub fn parse_memory(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a size such as 4G, 512M or 0 for no limit"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("`{text}`: unknown unit; expected K, M, G or T")),
    };
    let bytes = n
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{text}`: too large"))?;
    Ok((bytes > 0).then_some(bytes))
}

/// Parse a wall-clock limit: `30m`, `2h`; `0` means no limit.
pub fn parse_wall(text: &str) -> Result<Option<Duration>, String> {
    if text.trim() == "0" {
        return Ok(None);
    }
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}`: {e}; expected a duration such as 30m or 2h, or 0"))?;
    Ok((!d.is_zero()).then_some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_memory("4G").unwrap(), Some(4 << 30));
        assert_eq!(parse_memory("512MiB").unwrap(), Some(512 << 20));
        assert_eq!(parse_memory("1024").unwrap(), Some(1024));
        assert_eq!(parse_memory("0").unwrap(), None);
        assert!(parse_memory("4X").is_err());
        assert!(parse_memory("99999999999T").is_err());
        assert!(parse_memory("").is_err());
    }

    #[test]
    fn walls_parse() {
        assert_eq!(parse_wall("0").unwrap(), None);
        assert_eq!(parse_wall("2h").unwrap(), Some(Duration::from_secs(7200)));
        assert!(parse_wall("soon").is_err());
    }

    #[test]
    fn a_breach_names_the_limit() {
        let limits = Limits {
            max_wall: Some(Duration::from_secs(60)),
            max_memory: Some(1 << 30),
            run_length: None,
        };
        assert_eq!(
            breach(&limits, Duration::from_secs(59), Some(1 << 29)),
            None
        );
        let wall = breach(&limits, Duration::from_secs(61), None).unwrap();
        assert!(wall.contains("--max-wall 1m"), "{wall}");
        let memory = breach(&limits, Duration::ZERO, Some(2 << 30)).unwrap();
        assert!(
            memory.contains("2048 MiB resident memory (--max-memory 1024 MiB)"),
            "{memory}"
        );
        let none = Limits {
            max_wall: None,
            max_memory: None,
            run_length: None,
        };
        assert_eq!(breach(&none, Duration::MAX, Some(u64::MAX)), None);
    }

    #[test]
    fn progress_says_how_far_the_run_got() {
        note_simulated(Duration::from_secs(30));
        let line = progress_line(Duration::from_secs(10), Duration::from_secs(120));
        assert_eq!(
            line,
            "progress: simulated 30.0 s of 120.0 s (25.0%) in 10 s of wall time"
        );
    }

    #[test]
    fn resident_memory_is_measured_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(resident_bytes().is_some_and(|b| b > 0));
        }
    }
}
