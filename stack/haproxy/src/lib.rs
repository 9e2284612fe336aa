//! HAProxy in TCP mode, as a sans-IO core over the stream capability.
//!
//! What it models, after HAProxy's configuration manual:
//!
//! * **Frontends** bound to an address (usually a VIP): each accepted client
//!   connection becomes a session proxied to one backend server over a new
//!   connection; bytes are relayed both ways; a close or reset on one side
//!   closes the other.
//! * **Health checks** (`check inter <ms> rise <n> fall <n>`): one TCP
//!   connect check per server every `inter` (`option mysql-check` also just
//!   needs the server to accept); a server goes DOWN after `fall`
//!   consecutive failures and UP after `rise` consecutive successes; servers
//!   start UP. A check that neither connects nor fails within `inter`
//!   counts as failed (`timeout check` defaults to `inter`).
//! * **Backup servers** are used only when no active server is UP, and then
//!   only the first UP backup (no `option allbackups`).
//! * **balance source** hashes the client address over the usable servers;
//!   **roundrobin** takes them in turn.
//! * **Timeouts**: `timeout connect` for the server connection, then the
//!   session is closed after `timeout client` / `timeout server` without
//!   traffic (the smaller applies; in TCP mode both sides are idle together).
//!   `retries` reconnects to the same server on a failed connect.
//! * **option tcpka** asks for SO_KEEPALIVE on both sides; keepalive timing
//!   then comes from the host's sysctls.
//!
//! Connections are named by [`Conn`]: inbound ones by the driver's id,
//! outbound ones (server legs and checks) by ids this core allocates.

mod balance;
mod core;

pub use crate::core::{Action, Haproxy, Input};

use std::net::SocketAddrV4;
use std::time::Duration;

/// A connection handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Conn {
    /// Accepted on a frontend; the id is the driver's.
    In(u64),
    /// Opened by HAProxy; the id is HAProxy's.
    Out(u64),
}

/// Load-balancing algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balance {
    /// Hash of the client's address.
    Source,
    /// In turn.
    RoundRobin,
}

/// A backend server line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Name.
    pub name: String,
    /// Address.
    pub addr: SocketAddrV4,
    /// `backup`.
    pub backup: bool,
    /// `check` enabled.
    pub check: bool,
    /// `inter`.
    pub inter: Duration,
    /// `rise`.
    pub rise: u32,
    /// `fall`.
    pub fall: u32,
}

impl Server {
    /// A checked server with HAProxy's defaults (`inter 2s rise 2 fall 3`).
    pub fn new(name: &str, addr: SocketAddrV4) -> Self {
        Server {
            name: name.into(),
            addr,
            backup: false,
            check: true,
            inter: Duration::from_secs(2),
            rise: 2,
            fall: 3,
        }
    }
}

/// A `listen` section: one frontend and its backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// Name.
    pub name: String,
    /// `bind` address.
    pub bind: SocketAddrV4,
    /// `balance`.
    pub balance: Balance,
    /// Servers in configuration order.
    pub servers: Vec<Server>,
    /// `timeout connect`.
    pub timeout_connect: Duration,
    /// `timeout client`.
    pub timeout_client: Duration,
    /// `timeout server`.
    pub timeout_server: Duration,
    /// `retries`.
    pub retries: u32,
    /// `option tcpka`.
    pub tcpka: bool,
}

impl Listen {
    /// The OpenStack HA guide's Galera section: `balance source`, checks
    /// `inter 2000 rise 2 fall 5`, every server but the first a backup,
    /// 90-minute client and server timeouts.
    pub fn galera(bind: SocketAddrV4, servers: &[(&str, SocketAddrV4)]) -> Self {
        let servers = servers
            .iter()
            .enumerate()
            .map(|(i, (n, a))| Server {
                backup: i > 0,
                fall: 5,
                ..Server::new(n, *a)
            })
            .collect();
        Listen {
            name: "galera_cluster".into(),
            bind,
            balance: Balance::Source,
            servers,
            timeout_connect: Duration::from_secs(10),
            timeout_client: Duration::from_secs(90 * 60),
            timeout_server: Duration::from_secs(90 * 60),
            retries: 3,
            tcpka: false,
        }
    }
}
