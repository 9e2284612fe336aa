//! HAProxy (`hasim-haproxy`) as a node daemon: frontends listen on their
//! bind addresses (usually a VIP, which the node may or may not hold: like
//! HAProxy with `net.ipv4.ip_nonlocal_bind`, the listener waits for it), and
//! every connection the core asks for is opened from the node's own address.

use crate::driver::{self, Inputs, Io, Service};
use crate::host::{Host, NodeEvent, StreamEvent, StreamId, StreamSender};
use hasim_haproxy::{Action, Conn, Haproxy, Input, Listen};
use hasim_tcp::{CloseReason, SocketOptions};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Run HAProxy with `listens` until the node goes away; `address` is the
/// node's own address, the source of backend connections and checks.
pub async fn run(
    host: Arc<dyn Host>,
    address: Ipv4Addr,
    listens: Vec<Listen>,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for l in &listens {
        let opts = SocketOptions {
            keepalive: l.tcpka,
            ..SocketOptions::default()
        };
        host.listen(l.bind, opts, tx.clone())?;
    }
    let mut daemon = Daemon {
        core: Haproxy::new(listens),
        address,
        events: tx,
        out: BTreeMap::new(),
        back: BTreeMap::new(),
    };
    let inputs = Inputs {
        datagrams: None,
        local: None,
        streams: Some(rx),
        stop: None,
    };
    driver::run(&mut daemon, host, inputs).await;
    Ok(())
}

struct Daemon {
    core: Haproxy,
    address: Ipv4Addr,
    events: StreamSender,
    /// The core's outbound connections and their streams.
    out: BTreeMap<Conn, StreamId>,
    /// Every stream and the core's name for it.
    back: BTreeMap<StreamId, Conn>,
}

/// The core keeps its own deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Deadline;

impl Service for Daemon {
    type Timer = Deadline;

    fn start(&mut self, io: &mut Io<'_, Deadline>) {
        self.feed(io, Input::Start);
    }

    fn stream(&mut self, io: &mut Io<'_, Deadline>, event: StreamEvent) {
        let input = match event {
            StreamEvent::Accepted {
                conn,
                local,
                remote,
            } => {
                self.back.insert(conn, Conn::In(conn));
                Input::Accepted {
                    conn,
                    local,
                    client: remote,
                }
            }
            StreamEvent::Connected(s) => match self.back.get(&s) {
                Some(&c) => Input::Connected(c),
                None => return,
            },
            StreamEvent::Data(s, bytes) => match self.back.get(&s) {
                Some(&c) => Input::Data(c, bytes),
                None => return,
            },
            // HAProxy closes both sides when one side closes.
            StreamEvent::PeerClosed(s) => match self.forget(s) {
                Some(c) => {
                    io.host.stream_close(s);
                    Input::Closed(c, CloseReason::Normal)
                }
                None => return,
            },
            StreamEvent::Closed(s, why) => match self.forget(s) {
                Some(c) => Input::Closed(c, why),
                None => return,
            },
        };
        self.feed(io, input);
    }

    fn timer(&mut self, io: &mut Io<'_, Deadline>, _: Deadline) {
        self.feed(io, Input::Timeout);
    }

    fn settle(&mut self, io: &mut Io<'_, Deadline>) {
        io.follow(Deadline, self.core.next_timeout());
    }
}

impl Daemon {
    fn forget(&mut self, s: StreamId) -> Option<Conn> {
        let c = self.back.remove(&s)?;
        self.out.remove(&c);
        Some(c)
    }

    fn stream_of(&self, c: Conn) -> Option<StreamId> {
        match c {
            Conn::In(id) => self.back.contains_key(&id).then_some(id),
            Conn::Out(_) => self.out.get(&c).copied(),
        }
    }

    fn feed(&mut self, io: &mut Io<'_, Deadline>, input: Input) {
        let actions = self.core.handle(io.now(), input);
        for a in actions {
            self.act(io, a);
        }
    }

    fn act(&mut self, io: &mut Io<'_, Deadline>, a: Action) {
        match a {
            Action::Connect {
                conn,
                to,
                keepalive,
            } => {
                let opts = SocketOptions {
                    keepalive,
                    ..SocketOptions::default()
                };
                match io.host.connect(self.address, to, opts, self.events.clone()) {
                    Ok(s) => {
                        self.out.insert(conn, s);
                        self.back.insert(s, conn);
                    }
                    Err(e) => {
                        io.host.report(NodeEvent::Log {
                            text: format!("haproxy: connect to {to} failed: {e}"),
                        });
                        self.feed(io, Input::Closed(conn, CloseReason::Refused));
                    }
                }
            }
            // Accepted connections already have the listener's options.
            Action::KeepAlive(_) => {}
            Action::Send(c, bytes) => {
                if let Some(s) = self.stream_of(c) {
                    io.host.stream_send(s, bytes);
                }
            }
            Action::Close(c) => {
                if let Some(s) = self.stream_of(c) {
                    self.forget(s);
                    io.host.stream_close(s);
                }
            }
            Action::Abort(c) => {
                if let Some(s) = self.stream_of(c) {
                    self.forget(s);
                    io.host.stream_abort(s);
                }
            }
            Action::ServerState { listen, server, up } => io.host.report(NodeEvent::Log {
                text: format!(
                    "haproxy: {listen}/{server} is {}",
                    if up { "UP" } else { "DOWN" }
                ),
            }),
        }
    }
}
