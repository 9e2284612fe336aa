//! Sans-IO votequorum: votes, expected votes and the quorum rules of Corosync 3.1.7.
//!
//! Drive a [`Votequorum`] with [`Votequorum::handle`]`(now, `[`Input`]`)`: first
//! [`Input::Configure`] (from [`from_corosync`] or [`Config::simple`]), then the
//! memberships Totem delivers and the [`Message`]s it delivers in agreed order (every
//! [`Action::Broadcast`] must be delivered to all members of the ring, the sender
//! included), and expired timers. [`Action::QuorumChanged`] is the quorum callback.
//! [`render_status`] prints [`Votequorum::status`] as `corosync-quorumtool -s` does.
//!
//! Not modelled: quorum devices (qdevice), runtime config reload, the wire byte-order
//! swap for big-endian peers.

pub mod config;
pub mod engine;
pub mod flags;
pub mod status;
pub mod wire;

pub use config::{from_corosync, Config, ConfigError, LoadedConfig, DEFAULT_LMS_WINDOW};
pub use engine::{Action, Input, NodeInfo, NodeState, QuorumReport, RingId, Timer, Votequorum};
pub use flags::{InfoFlags, NodeFlags};
pub use hasim_corosync_conf::TieBreaker;
pub use status::{names_from_conf, render_status, MemberStatus, RenderOptions, Status};
pub use wire::{DecodeError, Message, ReconfigParam};
