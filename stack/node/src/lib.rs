//! The node daemon: the code that runs on every cluster node.
//!
//! Protocol logic lives in sans-IO cores (`hasim-vrrp`, later Totem, votequorum,
//! the Pacemaker daemons). This crate is the thin layer that feeds them time and
//! datagrams and carries out the actions they return. It talks to the machine
//! only through the [`Host`] trait, so the very same daemon runs inside the
//! simulator (where `sim/` implements `Host` on its network fabric) and for real
//! (where [`real`] implements it with UDP sockets). Time comes from
//! `tokio::time` (madsim-tokio): virtual in the simulator build, the OS clock in
//! the real build.

pub mod corosync_daemon;
pub mod daemon;
pub mod driver;
pub mod fencing;
pub mod galera_daemon;
pub mod galera_disk;
pub mod haproxy_daemon;
pub mod host;
pub mod init;
pub mod kvdb_daemon;
pub mod local;
pub mod pacemaker;
pub mod power_daemon;
pub mod remote_daemon;
pub mod remote_link;
pub mod remote_wire;
pub mod responder;
pub mod sbd;
pub mod vrrp_daemon;
pub mod workload;

#[cfg(not(madsim))]
pub mod real;
#[cfg(not(madsim))]
pub mod real_streams;
#[cfg(not(madsim))]
pub mod wallclock;

pub use host::{
    Addresses, Datagram, Datagrams, Disk, Events, Host, Inbox, Named, NodeEvent, StreamEvent,
    StreamId, StreamInbox, StreamSender, Streams, Watchdog,
};
