//! Pacemaker's CIB manager (based) as a sans-IO core.
//!
//! * [`Based`]: the per-node core (`handle(now, Input) -> Vec<Action>`).
//! * [`patchset`]: v2 XML patchsets (diff, apply, XML form).
//! * [`ops`]: cibadmin operations and the version rules.
//! * [`tree`]: element-tree helpers and the CIB digest.
//! * [`shared`]: the CIB shared with the other daemons without a copy per update.
//! * [`track`]: what an update changed, for patchsets at the cost of the change.

pub mod core;
pub mod ops;
pub mod patchset;
pub mod shared;
pub mod track;
pub mod tree;

pub use crate::core::{disk_image, Based, DISK_CIB, DISK_SIG};
