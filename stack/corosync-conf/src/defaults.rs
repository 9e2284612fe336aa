//! Corosync 3.1.7's built-in values for settings left out of corosync.conf.
//!
//! These are the constants from totemconfig and votequorum. Values that corosync
//! derives from others (token_retransmit, hold, consensus, the token_coefficient
//! adjustment) are not here: the totem crate owns that derivation.

/// `totem.token` (ms).
pub const TOKEN: u32 = 3000;
/// `totem.token_coefficient` (ms added per node beyond two, nodelist clusters only).
pub const TOKEN_COEFFICIENT: u32 = 650;
/// `totem.token_retransmits_before_loss_const`.
pub const TOKEN_RETRANSMITS_BEFORE_LOSS_CONST: u32 = 4;
/// `totem.token_warning` (percent of token).
pub const TOKEN_WARNING: u32 = 75;
/// `totem.join` (ms).
pub const JOIN: u32 = 50;
/// `totem.send_join` (ms).
pub const SEND_JOIN: u32 = 0;
/// `totem.merge` (ms).
pub const MERGE: u32 = 200;
/// `totem.downcheck` (ms).
pub const DOWNCHECK: u32 = 1000;
/// `totem.fail_recv_const`.
pub const FAIL_RECV_CONST: u32 = 2500;
/// `totem.seqno_unchanged_const`.
pub const SEQNO_UNCHANGED_CONST: u32 = 30;
/// `totem.max_network_delay` (ms).
pub const MAX_NETWORK_DELAY: u32 = 50;
/// `totem.window_size`.
pub const WINDOW_SIZE: u32 = 50;
/// `totem.max_messages`.
pub const MAX_MESSAGES: u32 = 17;
/// `totem.miss_count_const`.
pub const MISS_COUNT_CONST: u32 = 5;
/// `totem.netmtu` for udp/udpu.
pub const UDP_NETMTU: u32 = 1500;
/// `totem.interface.mcastport`.
pub const MCASTPORT: u16 = 5405;
/// `quorum.last_man_standing_window` (ms).
pub const LAST_MAN_STANDING_WINDOW: u32 = 10_000;
