//! Fencing decisions Pacemaker makes outside the fencer's message flow:
//! the device start delay, priority-fencing-delay, whether a partition may
//! fence, stonith-max-attempts, fence-reaction and the
//! stonith-watchdog-timeout check. Pure functions, one per rule, each with
//! the source it follows; the controller (and hasim's test controller) call
//! them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{FenceReaction, FencingConfig, NoQuorumPolicy};

/// Inputs of the device start delay (fenced_commands.c
/// `schedule_stonith_command`, Pacemaker 2.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DelayPlan {
    /// Delay requested by the controller (priority-fencing-delay), seconds;
    /// negative disables every static and random delay.
    pub requested: i64,
    pub base: u64,
    pub max: u64,
}

impl DelayPlan {
    /// The effective (base, max) after 2.1.5's adjustments: max 0 means max =
    /// base; a max below the base lowers the base to it.
    pub fn bounds(&self) -> (u64, u64) {
        let mut base = self.base;
        let mut max = self.max;
        if max == 0 {
            max = base;
        }
        if max < base {
            base = max;
        }
        (base, max)
    }

    /// Whether a random draw is needed (`max != base` and not disabled).
    pub fn needs_draw(&self) -> bool {
        let (base, max) = self.bounds();
        self.requested >= 0 && max > 0 && max != base
    }

    /// Total start delay in whole seconds. `draw` is the raw value of C's
    /// `rand()` taken from the run's seed: delay = requested + base +
    /// draw % (max − base), so [base, max − 1] (the off-by-one 3.0.2 fixed).
    pub fn delay(&self, draw: u32) -> u64 {
        if self.requested < 0 {
            return 0;
        }
        let (base, max) = self.bounds();
        let random = if max > 0 && max != base {
            u64::from(draw) % (max - base)
        } else {
            0
        };
        let device = if max > 0 { random + base } else { 0 };
        self.requested as u64 + device
    }
}

/// What the reply to a fencing query says about a device's maximum delay.
///
/// Pacemaker 2.1.5 (fenced_commands.c `add_action_specific_attributes`)
/// divides the already-in-seconds `pcmk_delay_max` by 1000 again, so the
/// requester's timeouts practically never include the delay; 2.1.6 fixed
/// it (reports seconds). hasim follows 2.1.5, the version it is measured
/// against.
pub fn reported_delay(seconds: u64) -> u64 {
    seconds / 1000
}

/// One node as the scheduler sees it for priority-fencing-delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    /// In our partition (online).
    pub online: bool,
    /// Sum of the `priority` meta of its resources (+1 for a promoted instance).
    pub priority: i64,
}

/// A resource instance active on a node, as priority counting sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveInstance {
    /// The resource's `priority` meta attribute.
    pub priority: i64,
    pub promoted: bool,
    pub failed: bool,
}

/// lib/pengine/native.c `native_priority_to_node` (2.1.5): a node's
/// priority is the sum over its active, non-failed instances with a
/// non-zero priority; a promoted instance counts its priority + 1.
pub fn node_priority(instances: &[ActiveInstance]) -> i64 {
    instances
        .iter()
        .filter(|i| i.priority != 0 && !i.failed)
        .map(|i| {
            if i.promoted {
                i.priority + 1
            } else {
                i.priority
            }
        })
        .sum()
}

/// lib/pengine/pe_actions.c `node_priority_fencing_delay` (2.1.5): the
/// delay for fencing `target`, given all cluster (member) nodes.
pub fn priority_fencing_delay(configured: u64, target: &str, nodes: &[NodeView]) -> u64 {
    if configured == 0 {
        return 0;
    }
    let Some(t) = nodes.iter().find(|n| n.name == target) else {
        return 0;
    };
    if t.online {
        return 0;
    }
    let members = nodes.len();
    let online = nodes.iter().filter(|n| n.online).count();
    // "No need to delay if we have more than half of the cluster members."
    if online > members / 2 {
        return 0;
    }
    let top = nodes.iter().map(|n| n.priority).max().unwrap_or(0);
    let lowest = nodes.iter().map(|n| n.priority).min().unwrap_or(0);
    if top == lowest || t.priority < top {
        return 0;
    }
    configured
}

/// lib/pengine/utils.c `pe_can_fence`: may this partition fence `target`?
pub fn may_fence(cfg: &FencingConfig, quorate: bool, target_online: bool) -> bool {
    if !cfg.stonith_enabled || cfg.devices.is_empty() && cfg.stonith_watchdog_timeout_ms == 0 {
        return false;
    }
    quorate || cfg.no_quorum_policy == NoQuorumPolicy::Ignore || target_online
}

/// The controller's per-target fencing failure counts
/// (controld_fencing.c `st_fail_count_*`, `too_many_st_failures`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailCounts {
    counts: BTreeMap<String, u32>,
}

impl FailCounts {
    /// A result for `target`: success resets, failure increments.
    pub fn record(&mut self, target: &str, ok: bool) {
        if ok {
            self.counts.remove(target);
        } else {
            *self.counts.entry(target.to_string()).or_insert(0) += 1;
        }
    }

    pub fn count(&self, target: &str) -> u32 {
        self.counts.get(target).copied().unwrap_or(0)
    }

    /// False once `stonith-max-attempts` failures piled up: the transition
    /// is aborted with "wait" instead of "restart", so fencing that target
    /// is not retried until something else triggers a new transition.
    pub fn may_retry(&self, target: &str, max_attempts: u32) -> bool {
        self.count(target) < max_attempts
    }
}

/// What a node's controller does on a fencing notification
/// (controld_fencing.c `tengine_stonith_notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NotifyReaction {
    None,
    /// "We were allegedly just fenced": exit (stop) or panic.
    FencedWhileAlive(FenceReaction),
}

pub fn on_fence_notification(
    me: &str,
    target: &str,
    succeeded: bool,
    reaction: FenceReaction,
) -> NotifyReaction {
    if succeeded && me.eq_ignore_ascii_case(target) {
        NotifyReaction::FencedWhileAlive(reaction)
    } else {
        NotifyReaction::None
    }
}

/// lib/common/watchdog.c `pcmk__valid_sbd_timeout` (2.1.5): the effective
/// stonith-watchdog-timeout (ms) on a node running SBD with
/// `sbd_timeout_ms`, or why Pacemaker shuts down. Negative means
/// 2 × SBD_WATCHDOG_TIMEOUT; shorter than the SBD timeout is refused.
/// Note the check runs only where SBD runs with that node's own timeout:
/// nodes with different SBD_WATCHDOG_TIMEOUT values pass it separately,
/// which is how a cluster ends up trusting a too-short value.
pub fn effective_watchdog_timeout(configured_ms: i64, sbd_timeout_ms: u64) -> Result<u64, String> {
    let st = if configured_ms < 0 {
        2 * sbd_timeout_ms
    } else {
        configured_ms as u64
    };
    if st > 0 && st < sbd_timeout_ms {
        return Err(format!(
            "stonith-watchdog-timeout ({st}ms) too short (must be >{sbd_timeout_ms}ms)"
        ));
    }
    Ok(st)
}

#[cfg(test)]
mod tests;
