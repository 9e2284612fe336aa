//! The simulated world around the HA stack.
//!
//! A run is a pure function of (scenario, seed): [`world::run`] builds the
//! cluster on a madsim runtime seeded with the run seed, runs the real node
//! daemons (`hasim-node`) on the simulated [`fabric`], injects the
//! [`faults`] timeline, feeds every event to the [`checkers`] and the
//! [`trace`], and returns a report.
//!
//! Only the pieces that need madsim's runtime are limited to the simulator
//! build (`--cfg madsim`); scenario parsing, checkers and traces build in both.

pub mod analysis;
pub mod bus;
pub mod checkers;
pub mod ci;
pub mod data_spec;
pub mod fabric;
pub mod fault_file;
pub mod faults;
pub mod galera_spec;
pub mod guard;
pub mod input;
pub mod limits;
pub mod names;
pub mod output;
pub mod pcmk_report;
pub mod pcmk_scenario;
pub mod power_spec;
pub mod remote_spec;
pub mod requirements;
pub mod scenario;
pub mod scenario_write;
pub mod story;
pub mod summary;
pub mod sweep_spec;
pub mod timeline;
pub mod trace;
pub mod trace_line;
pub mod view;
pub mod vrrp_analysis;

#[cfg(madsim)]
pub mod campaign;
#[cfg(madsim)]
pub mod clients;
#[cfg(madsim)]
pub mod context;
#[cfg(madsim)]
pub mod data_clients;
#[cfg(madsim)]
pub mod half_open;
#[cfg(madsim)]
pub mod host;
#[cfg(madsim)]
pub mod machines;
#[cfg(madsim)]
pub mod pacemaker;
#[cfg(madsim)]
pub mod power;
#[cfg(madsim)]
pub mod shard;
#[cfg(madsim)]
pub mod shrink;
#[cfg(madsim)]
pub mod sweep;
#[cfg(madsim)]
pub mod task_records;
#[cfg(madsim)]
pub mod tcp;
#[cfg(madsim)]
pub mod world;

/// mimalloc returns pages to the OS 10 ms after they empty (its purge
/// delay). The scheduler builds and drops tens of megabytes of score maps
/// per run, so the kernel spent a tenth of a large cluster's scheduling
/// time zeroing the same pages again. Kept, freed pages cost nothing beyond
/// the peak the process already reached.
pub fn keep_freed_memory() {
    // mi_option_purge_delay: 15 in mimalloc 2 and 3 (libmimalloc-sys has
    // no constant for it); -1 never purges.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets one of mimalloc's global options, which it reads
    // atomically; any value is valid.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}
