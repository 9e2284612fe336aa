//! Sans-IO TCP for hasim: one [`Connection`] per socket and a [`TcpHost`]
//! that demultiplexes a host's segments, both driven as `(now, input) ->
//! actions` with their own timer table, and Linux's timing rules as pure
//! functions in [`timing`].
//!
//! Segments travel as bytes inside the simulator's datagrams; the driver
//! moves them, draws the host secret from the run seed, and calls
//! [`TcpHost::handle`] with [`HostInput::Timeout`] when
//! [`TcpHost::next_timeout`] is reached.

pub mod conn;
pub mod host;
pub mod isn;
pub mod loopback;
pub mod segment;
pub mod sysctl;
pub mod timing;

pub use conn::{Action, CloseReason, ConnConfig, Connection, Event, Input, State, Timeout};
pub use host::{ConnId, HostAction, HostConfig, HostError, HostInput, TcpHost};
pub use segment::{Flags, Segment, SegmentError};
pub use sysctl::{Effective, SocketOptions, TcpSysctls};
