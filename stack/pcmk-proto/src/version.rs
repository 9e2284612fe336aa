//! The CIB version triple.

use serde::{Deserialize, Serialize};

/// `(admin_epoch, epoch, num_updates)`, compared in that order: the copy
/// with the greater triple is the newer one (Pacemaker's
/// `cib_version_details` / `compare_cib_versions`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct CibVersion {
    pub admin_epoch: u64,
    pub epoch: u64,
    pub num_updates: u64,
}

impl CibVersion {
    /// Read the triple from the attributes of a `<cib>` element (missing
    /// or malformed values count as 0, as Pacemaker reads them).
    pub fn of(attrs: &[(String, String)]) -> CibVersion {
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        CibVersion {
            admin_epoch: get("admin_epoch"),
            epoch: get("epoch"),
            num_updates: get("num_updates"),
        }
    }
}

impl std::fmt::Display for CibVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.admin_epoch, self.epoch, self.num_updates
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_epoch_outranks_epoch_outranks_updates() {
        let v = |a, e, n| CibVersion {
            admin_epoch: a,
            epoch: e,
            num_updates: n,
        };
        assert!(v(1, 0, 0) > v(0, 99, 99));
        assert!(v(0, 2, 0) > v(0, 1, 50));
        assert!(v(0, 1, 3) > v(0, 1, 2));
        let attrs = vec![
            ("epoch".to_string(), "7".to_string()),
            ("num_updates".to_string(), "x".to_string()),
        ];
        assert_eq!(CibVersion::of(&attrs), v(0, 7, 0));
    }
}
