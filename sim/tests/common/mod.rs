//! Helpers shared by the simulator integration tests.
#![allow(dead_code)]

pub mod cpg;
pub mod pcmk_view;
pub mod process;

use hasim::scenario::Scenario;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

pub fn load(name: &str) -> Scenario {
    Scenario::load(&scenario_path(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// A trace destination the test can read back.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON-lines trace of one run of a shipped scenario.
#[cfg(madsim)]
pub fn json_trace(name: &str, seed: u64) -> Vec<serde_json::Value> {
    let buf = SharedBuf::default();
    hasim::world::run(&load(name), seed, Some(Box::new(buf.clone())))
        .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"));
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .expect("utf-8 trace")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON trace line"))
        .collect()
}
