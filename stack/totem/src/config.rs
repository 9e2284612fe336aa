//! Totem timing and flow-control configuration, derived the way corosync 3.1.7
//! derives it in `totemconfig.c` (`totem_volatile_config_read`).
//!
//! Why a separate raw/effective split: corosync.conf holds what the operator wrote
//! (`token: 1000`), but the protocol runs on values scaled by the nodelist size
//! (`token_coefficient`) and on defaults computed from the *scaled* token. Keeping
//! both lets reports show what was asked for and what the cluster actually uses.

use std::time::Duration;

/// Defaults as `#define`d at the top of corosync 3.1.7 `exec/totemconfig.c`.
pub mod defaults {
    pub const TOKEN_MS: u32 = 3000;
    pub const TOKEN_RETRANSMITS_BEFORE_LOSS_CONST: u32 = 4;
    pub const TOKEN_WARNING_PERCENT: u32 = 75;
    pub const TOKEN_COEFFICIENT_MS: u32 = 650;
    pub const JOIN_MS: u32 = 50;
    pub const MERGE_MS: u32 = 200;
    pub const DOWNCHECK_MS: u32 = 1000;
    pub const FAIL_RECV_CONST: u32 = 2500;
    pub const SEQNO_UNCHANGED_CONST: u32 = 30;
    pub const MAX_NETWORK_DELAY_MS: u32 = 50;
    pub const WINDOW_SIZE: u32 = 50;
    pub const MAX_MESSAGES: u32 = 17;
    pub const MISS_COUNT_CONST: u32 = 5;
    /// `UDP_NETMTU`, the MTU corosync assumes for udp/udpu when none is configured.
    pub const UDP_NET_MTU: u32 = 1500;
    /// Linux userspace `HZ` (from `<sys/param.h>`), which totemconfig.c uses as
    /// `1000/HZ` = 10 ms in the hold and minimum-timeout formulas.
    pub const HZ: u32 = 100;
    /// `MINIMUM_TIMEOUT` = (1000/HZ)*3.
    pub const MINIMUM_TIMEOUT_MS: u32 = (1000 / HZ) * 3;
    /// `MINIMUM_TIMEOUT_HOLD` = (int)(MINIMUM_TIMEOUT * 0.8 - 1000/HZ).
    pub const MINIMUM_TIMEOUT_HOLD_MS: u32 = 14;
}

/// The configurable totem values, as written in corosync.conf. `None` means
/// "not set": the default (possibly derived from other values) applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TotemConfig {
    pub token: Option<u32>,
    pub token_coefficient: Option<u32>,
    pub token_retransmits_before_loss_const: Option<u32>,
    pub token_retransmit: Option<u32>,
    pub token_warning: Option<u32>,
    pub hold: Option<u32>,
    pub join: Option<u32>,
    pub send_join: Option<u32>,
    pub consensus: Option<u32>,
    pub merge: Option<u32>,
    pub downcheck: Option<u32>,
    pub fail_recv_const: Option<u32>,
    pub seqno_unchanged_const: Option<u32>,
    pub max_network_delay: Option<u32>,
    pub window_size: Option<u32>,
    pub max_messages: Option<u32>,
    pub miss_count_const: Option<u32>,
    pub heartbeat_failures_allowed: Option<u32>,
    pub netmtu: Option<u32>,
}

/// The values the protocol runs with, all in milliseconds or counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveTimers {
    /// Token timeout after `token_coefficient` scaling ("runtime.config.totem.token").
    pub token_ms: u32,
    pub token_retransmit_ms: u32,
    pub token_retransmits_before_loss_const: u32,
    pub token_warning_percent: u32,
    pub hold_ms: u32,
    pub join_ms: u32,
    pub send_join_ms: u32,
    pub consensus_ms: u32,
    pub merge_ms: u32,
    pub downcheck_ms: u32,
    pub fail_recv_const: u32,
    pub seqno_unchanged_const: u32,
    pub max_network_delay_ms: u32,
    pub window_size: u32,
    pub max_messages: u32,
    pub miss_count_const: u32,
    pub heartbeat_failures_allowed: u32,
    pub net_mtu: u32,
}

/// A value that corosync's `totem_volatile_config_validate` would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("The {name} parameter ({value} ms) may not be less than ({min} ms).")]
    BelowMinimum {
        name: &'static str,
        value: u32,
        min: u32,
    },
    #[error("The token warning parameter ({0}%) must be between 0 (disabled) and 100.")]
    TokenWarning(u32),
    #[error("The consensus timeout parameter ({consensus} ms) may not be less than join timeout ({join} ms).")]
    ConsensusBelowJoin { consensus: u32, join: u32 },
    #[error("Not appropriate token or token_retransmits_before_loss_const value set")]
    DerivedRetransmitTooSmall,
    #[error(
        "window_size ({window}) must be at least max_messages ({max}) and max_messages at least 1"
    )]
    FlowControl { window: u32, max: u32 },
}

impl TotemConfig {
    /// Derive the effective values for a nodelist of `node_count` nodes.
    ///
    /// Order matters and follows corosync: the token is scaled first, then the
    /// retransmit timeout is derived from the scaled token, hold from the
    /// retransmit timeout, and consensus from the scaled token. The C code
    /// truncates the floating-point results to `int`.
    pub fn effective(&self, node_count: usize) -> EffectiveTimers {
        use defaults as d;
        let retrans_const = self
            .token_retransmits_before_loss_const
            .unwrap_or(d::TOKEN_RETRANSMITS_BEFORE_LOSS_CONST);
        let mut token = self.token.unwrap_or(d::TOKEN_MS);
        if node_count > 2 {
            let coeff = self.token_coefficient.unwrap_or(d::TOKEN_COEFFICIENT_MS);
            let extra = (node_count as u64 - 2) * u64::from(coeff);
            token = (u64::from(token) + extra).min(u64::from(u32::MAX)) as u32;
        }
        let token_retransmit = self
            .token_retransmit
            .unwrap_or_else(|| (f64::from(token) / (f64::from(retrans_const) + 0.2)) as i64 as u32);
        let hold = self.hold.unwrap_or_else(|| {
            let v = (f64::from(token_retransmit) * 0.8 - f64::from(1000 / d::HZ)) as i64;
            v.max(0) as u32
        });
        // corosync computes `(int)(float)(1.2 * token)`: the double is narrowed to
        // float before truncation, which matters for large tokens.
        let consensus = self
            .consensus
            .unwrap_or_else(|| ((1.2 * f64::from(token)) as f32) as i64 as u32);
        EffectiveTimers {
            token_ms: token,
            token_retransmit_ms: token_retransmit,
            token_retransmits_before_loss_const: retrans_const,
            token_warning_percent: self.token_warning.unwrap_or(d::TOKEN_WARNING_PERCENT),
            hold_ms: hold,
            join_ms: self.join.unwrap_or(d::JOIN_MS),
            send_join_ms: self.send_join.unwrap_or(0),
            consensus_ms: consensus,
            merge_ms: self.merge.unwrap_or(d::MERGE_MS),
            downcheck_ms: self.downcheck.unwrap_or(d::DOWNCHECK_MS),
            fail_recv_const: self.fail_recv_const.unwrap_or(d::FAIL_RECV_CONST),
            seqno_unchanged_const: self
                .seqno_unchanged_const
                .unwrap_or(d::SEQNO_UNCHANGED_CONST),
            max_network_delay_ms: self.max_network_delay.unwrap_or(d::MAX_NETWORK_DELAY_MS),
            window_size: self.window_size.unwrap_or(d::WINDOW_SIZE),
            max_messages: self.max_messages.unwrap_or(d::MAX_MESSAGES),
            miss_count_const: self.miss_count_const.unwrap_or(d::MISS_COUNT_CONST),
            heartbeat_failures_allowed: self.heartbeat_failures_allowed.unwrap_or(0),
            net_mtu: self.netmtu.unwrap_or(d::UDP_NET_MTU),
        }
    }
}

impl EffectiveTimers {
    /// The checks of `totem_volatile_config_validate`, in its order, plus a
    /// flow-control sanity check this implementation needs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use defaults::{MINIMUM_TIMEOUT_HOLD_MS as MIN_HOLD, MINIMUM_TIMEOUT_MS as MIN};
        let below = |name, value, min| ConfigError::BelowMinimum { name, value, min };
        if self.max_network_delay_ms < MIN {
            return Err(below("max_network_delay", self.max_network_delay_ms, MIN));
        }
        if self.token_ms < MIN {
            return Err(below("token timeout", self.token_ms, MIN));
        }
        if self.token_warning_percent > 100 {
            return Err(ConfigError::TokenWarning(self.token_warning_percent));
        }
        if self.token_retransmit_ms < MIN {
            return Err(below(
                "token retransmit timeout",
                self.token_retransmit_ms,
                MIN,
            ));
        }
        if self.hold_ms < MIN_HOLD {
            return Err(below("token hold timeout", self.hold_ms, MIN_HOLD));
        }
        if self.join_ms < MIN {
            return Err(below("join timeout", self.join_ms, MIN));
        }
        if self.consensus_ms < MIN {
            return Err(below("consensus timeout", self.consensus_ms, MIN));
        }
        if self.consensus_ms < self.join_ms {
            return Err(ConfigError::ConsensusBelowJoin {
                consensus: self.consensus_ms,
                join: self.join_ms,
            });
        }
        if self.merge_ms < MIN {
            return Err(below("merge timeout", self.merge_ms, MIN));
        }
        if self.downcheck_ms < MIN {
            return Err(below("downcheck timeout", self.downcheck_ms, MIN));
        }
        if self.max_messages == 0 || self.window_size < self.max_messages {
            return Err(ConfigError::FlowControl {
                window: self.window_size,
                max: self.max_messages,
            });
        }
        Ok(())
    }

    pub fn token(&self) -> Duration {
        ms(self.token_ms)
    }
    pub fn token_retransmit(&self) -> Duration {
        ms(self.token_retransmit_ms)
    }
    pub fn hold(&self) -> Duration {
        ms(self.hold_ms)
    }
    pub fn join(&self) -> Duration {
        ms(self.join_ms)
    }
    pub fn consensus(&self) -> Duration {
        ms(self.consensus_ms)
    }
    pub fn merge(&self) -> Duration {
        ms(self.merge_ms)
    }
    pub fn downcheck(&self) -> Duration {
        ms(self.downcheck_ms)
    }
    /// `token_warning * token / 100`, integer arithmetic as in totemsrp.c.
    pub fn token_warning(&self) -> Option<Duration> {
        (self.token_warning_percent > 0)
            .then(|| ms(self.token_warning_percent * self.token_ms / 100))
    }

    /// Upper bound on "last token seen → new regular membership delivered" after
    /// a single node stops on a healthy ring: token loss, then the consensus
    /// timeout that fails the silent node, then a bounded number of join rounds
    /// and two commit-token rotations plus recovery rotations.
    pub fn failure_detection_bound(&self) -> Duration {
        self.token() + self.consensus() + self.join() * 4 + self.token_retransmit() * 2
    }

    /// The lines totemsrp.c logs at DEBUG level when it initialises
    /// (`totemsrp_initialize`), with the same wording and numbers.
    pub fn startup_log_lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "Token Timeout ({} ms) retransmit timeout ({} ms)",
            self.token_ms, self.token_retransmit_ms
        )];
        if self.token_warning_percent > 0 {
            let warn = self.token_warning_percent * self.token_ms / 100;
            out.push(format!(
                "Token warning every {} ms ({}% of Token Timeout)",
                warn, self.token_warning_percent
            ));
            if warn < self.token_retransmit_ms {
                out.push(format!(
                    "The token warning interval ({} ms) is less than the token retransmit timeout ({} ms) which can lead to spurious token warnings. Consider increasing the token_warning parameter.",
                    warn, self.token_retransmit_ms
                ));
            }
        } else {
            out.push("Token warnings disabled".to_string());
        }
        out.push(format!(
            "token hold ({} ms) retransmits before loss ({} retrans)",
            self.hold_ms, self.token_retransmits_before_loss_const
        ));
        out.push(format!(
            "join ({} ms) send_join ({} ms) consensus ({} ms) merge ({} ms)",
            self.join_ms, self.send_join_ms, self.consensus_ms, self.merge_ms
        ));
        out.push(format!(
            "downcheck ({} ms) fail to recv const ({} msgs)",
            self.downcheck_ms, self.fail_recv_const
        ));
        out.push(format!(
            "seqno unchanged const ({} rotations) Maximum network MTU {}",
            self.seqno_unchanged_const, self.net_mtu
        ));
        out.push(format!(
            "window size per rotation ({} messages) maximum messages per rotation ({} messages)",
            self.window_size, self.max_messages
        ));
        out.push(format!(
            "missed count const ({} messages)",
            self.miss_count_const
        ));
        out.push("send threads (0 threads)".to_string());
        out.push(format!(
            "heartbeat_failures_allowed ({})",
            self.heartbeat_failures_allowed
        ));
        out.push(format!(
            "max_network_delay ({} ms)",
            self.max_network_delay_ms
        ));
        out
    }
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_two_nodes_match_corosync() {
        let e = TotemConfig::default().effective(2);
        assert_eq!(e.token_ms, 3000);
        // 3000 / 4.2 = 714.28 -> 714
        assert_eq!(e.token_retransmit_ms, 714);
        // 714 * 0.8 - 10 = 561.2 -> 561
        assert_eq!(e.hold_ms, 561);
        assert_eq!(e.consensus_ms, 3600);
        assert_eq!(e.join_ms, 50);
        assert_eq!(e.merge_ms, 200);
        assert_eq!(e.downcheck_ms, 1000);
        assert_eq!(e.fail_recv_const, 2500);
        assert_eq!(e.seqno_unchanged_const, 30);
        assert_eq!(e.window_size, 50);
        assert_eq!(e.max_messages, 17);
        assert_eq!(e.miss_count_const, 5);
        assert_eq!(e.max_network_delay_ms, 50);
        assert!(e.validate().is_ok());
    }

    #[test]
    fn token_coefficient_scales_for_more_than_two_nodes() {
        let cfg = TotemConfig {
            token: Some(1000),
            ..Default::default()
        };
        assert_eq!(cfg.effective(1).token_ms, 1000);
        assert_eq!(cfg.effective(2).token_ms, 1000);
        let e3 = cfg.effective(3);
        assert_eq!(e3.token_ms, 1650);
        assert_eq!(e3.token_retransmit_ms, 392); // 1650/4.2 = 392.857
        assert_eq!(e3.hold_ms, 303); // 392*0.8-10 = 303.6
        assert_eq!(e3.consensus_ms, 1980);
        let e5 = cfg.effective(5);
        assert_eq!(e5.token_ms, 1000 + 3 * 650);
        let zero = TotemConfig {
            token: Some(1000),
            token_coefficient: Some(0),
            ..Default::default()
        };
        assert_eq!(zero.effective(16).token_ms, 1000);
    }

    #[test]
    fn explicit_values_override_derivations() {
        let cfg = TotemConfig {
            token: Some(5000),
            consensus: Some(7000),
            token_retransmit: Some(1000),
            ..Default::default()
        };
        let e = cfg.effective(2);
        assert_eq!(e.consensus_ms, 7000);
        assert_eq!(e.token_retransmit_ms, 1000);
        assert_eq!(e.hold_ms, 790);
    }

    #[test]
    fn validation_rejects_what_corosync_rejects() {
        let cfg = TotemConfig {
            token: Some(20),
            ..Default::default()
        };
        assert!(matches!(
            cfg.effective(2).validate(),
            Err(ConfigError::BelowMinimum { .. })
        ));
        let cfg = TotemConfig {
            join: Some(500),
            consensus: Some(400),
            ..Default::default()
        };
        assert_eq!(
            cfg.effective(2).validate(),
            Err(ConfigError::ConsensusBelowJoin {
                consensus: 400,
                join: 500
            })
        );
        let cfg = TotemConfig {
            token_warning: Some(101),
            ..Default::default()
        };
        assert_eq!(
            cfg.effective(2).validate(),
            Err(ConfigError::TokenWarning(101))
        );
    }

    #[test]
    fn startup_log_matches_totemsrp_wording() {
        let lines = TotemConfig::default().effective(2).startup_log_lines();
        assert_eq!(
            lines[0],
            "Token Timeout (3000 ms) retransmit timeout (714 ms)"
        );
        assert_eq!(
            lines[1],
            "Token warning every 2250 ms (75% of Token Timeout)"
        );
        assert_eq!(
            lines[2],
            "token hold (561 ms) retransmits before loss (4 retrans)"
        );
        assert_eq!(
            lines[3],
            "join (50 ms) send_join (0 ms) consensus (3600 ms) merge (200 ms)"
        );
        assert!(lines.contains(&"missed count const (5 messages)".to_string()));
    }
}
