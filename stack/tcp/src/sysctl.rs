//! Host sysctls and per-socket options that decide TCP's timing.
//!
//! Defaults are Linux's (`Documentation/networking/ip-sysctl.rst`,
//! `include/net/tcp.h`): keepalive 7200 s idle, 75 s between probes, 9
//! probes; `tcp_retries2` 15; `tcp_syn_retries` 6; `tcp_synack_retries` 5;
//! RTO bounds 200 ms and 120 s with a 1 s initial RTO; `tcp_fin_timeout` 60 s;
//! `CONFIG_HZ` 250 (Debian's and Ubuntu's kernels; RHEL's use 1000).

use std::time::Duration;

/// The `net.ipv4.tcp_*` settings of one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSysctls {
    /// `tcp_keepalive_time`: idle time before the first keepalive probe.
    pub keepalive_time: Duration,
    /// `tcp_keepalive_intvl`: time between unanswered probes.
    pub keepalive_intvl: Duration,
    /// `tcp_keepalive_probes`: unanswered probes before the connection dies.
    pub keepalive_probes: u32,
    /// `tcp_retries2`: the boundary from which the retransmission timeout is
    /// computed (a time, not a count; see [`crate::timing::model_timeout`]).
    pub retries2: u32,
    /// `tcp_syn_retries`: SYN retransmissions before `connect` fails.
    pub syn_retries: u32,
    /// `tcp_synack_retries`: SYN-ACK retransmissions before a half-open
    /// request is forgotten.
    pub synack_retries: u32,
    /// `tcp_fin_timeout`: how long an orphaned FIN-WAIT-2 socket waits.
    pub fin_timeout: Duration,
    /// `TCP_RTO_MIN` (a compile-time constant in Linux, a route option).
    pub rto_min: Duration,
    /// `TCP_RTO_MAX`.
    pub rto_max: Duration,
    /// `TCP_TIMEOUT_INIT`: the RTO before any RTT sample.
    pub rto_init: Duration,
    /// The kernel's `CONFIG_HZ` (not a sysctl): TCP keeps its RTO in
    /// jiffies, rounded up, and kernel timers fire on the timer wheel's
    /// granularity. `None` computes with exact durations instead.
    pub kernel_hz: Option<u32>,
    /// Where the jiffies counter stood at time zero, modulo anything that
    /// matters; drawn by the driver per host from the run seed.
    pub jiffies_phase: Duration,
}

impl Default for TcpSysctls {
    fn default() -> Self {
        TcpSysctls {
            keepalive_time: Duration::from_secs(7200),
            keepalive_intvl: Duration::from_secs(75),
            keepalive_probes: 9,
            retries2: 15,
            syn_retries: 6,
            synack_retries: 5,
            fin_timeout: Duration::from_secs(60),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            rto_init: Duration::from_secs(1),
            kernel_hz: Some(250),
            jiffies_phase: Duration::ZERO,
        }
    }
}

impl TcpSysctls {
    /// Fuel's settings against hanging connections: keepalive 30 s / 3 s / 8
    /// and `tcp_retries2` 5.
    pub fn fuel() -> Self {
        TcpSysctls {
            keepalive_time: Duration::from_secs(30),
            keepalive_intvl: Duration::from_secs(3),
            keepalive_probes: 8,
            retries2: 5,
            ..TcpSysctls::default()
        }
    }
}

/// Per-socket options (`setsockopt`), which override the host's sysctls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// `SO_KEEPALIVE`: keepalive runs only when this is set.
    pub keepalive: bool,
    /// `TCP_KEEPIDLE`.
    pub keepidle: Option<Duration>,
    /// `TCP_KEEPINTVL`.
    pub keepintvl: Option<Duration>,
    /// `TCP_KEEPCNT`.
    pub keepcnt: Option<u32>,
    /// `TCP_USER_TIMEOUT`: when set, replaces `tcp_retries2` as the limit on
    /// unacknowledged data and changes when keepalive gives up.
    pub user_timeout: Option<Duration>,
}

/// The timing rules in force for one socket: sysctls with the socket's
/// overrides applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    /// The host's settings.
    pub sysctls: TcpSysctls,
    /// Whether keepalive probes run.
    pub keepalive: bool,
    /// Idle time before the first probe.
    pub keepidle: Duration,
    /// Time between probes.
    pub keepintvl: Duration,
    /// Unanswered probes that kill the connection.
    pub keepcnt: u32,
    /// `TCP_USER_TIMEOUT`, if set (zero means unset, as in Linux).
    pub user_timeout: Option<Duration>,
}

impl Effective {
    /// Applies `opts` over `sysctls`.
    pub fn new(sysctls: &TcpSysctls, opts: &SocketOptions) -> Self {
        Effective {
            sysctls: sysctls.clone(),
            keepalive: opts.keepalive,
            keepidle: opts.keepidle.unwrap_or(sysctls.keepalive_time),
            keepintvl: opts.keepintvl.unwrap_or(sysctls.keepalive_intvl),
            keepcnt: opts.keepcnt.unwrap_or(sysctls.keepalive_probes),
            user_timeout: opts.user_timeout.filter(|d| !d.is_zero()),
        }
    }
}
