//! How fast the Pacemaker cores run: the 3-node VIP + cloned HAProxy +
//! Dummy configuration, 60 s simulated (cold start, the VIP holder loses
//! power at 30 s), over seeds 1..=N (first argument, default 100).
//!
//!     cargo run -p hasim-pcmk-harness --example speed -- 100

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{cib, s};
use hasim_pcmk_harness::Cluster;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let xml = cib("stop");
    let start = Instant::now();
    let mut events = 0;
    for seed in 1..=n {
        let mut c = match Cluster::new(3, &xml, vec![], seed) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("bad CIB: {e}");
                std::process::exit(2);
            }
        };
        c.start_all();
        c.run_until(s(25));
        if let Some(holder) = c.active_on("vip").first().cloned() {
            c.power_off_at(s(30), &holder);
        }
        c.run_until(s(60));
        events += c.events.len();
    }
    let wall = start.elapsed();
    let simulated = 60.0 * n as f64;
    println!(
        "{n} runs x 60 s simulated in {:.3} s wall: {:.0}x real time per core, {:.2} ms per run, {events} events",
        wall.as_secs_f64(),
        simulated / wall.as_secs_f64(),
        wall.as_secs_f64() * 1000.0 / n as f64
    );
}
