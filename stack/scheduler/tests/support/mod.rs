//! Shared helpers of the differential tests.
pub mod gen;
pub mod oracle;
