//! Shared helpers of the differential tests.
pub mod extras;
pub mod gen;
pub mod gen_full;
pub mod gen_remote;
pub mod oracle;
