//! A cluster node's connections to remote nodes' executors (Pacemaker's
//! executor client over the network, lib/lrmd/lrmd_client.c): the
//! controller core asks with [`RemoteMsg`] requests (connect, poke, run,
//! cancel, disconnect); this layer does the TCP work through the host's
//! `Streams` and answers with [`RemoteMsg`] events. The same code runs in
//! the simulator (the TCP model) and for real (the OS's TCP).

use crate::host::{Host, StreamEvent, StreamId, StreamSender};
use crate::remote_wire::{encode, Frame, FrameBuffer};
use hasim_pcmk_proto::RemoteMsg;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

/// One connection, by remote node.
struct Conn {
    stream: StreamId,
    /// The handshake completed.
    up: bool,
    buf: FrameBuffer,
}

/// Every remote connection of one node.
pub struct RemoteLinks {
    me: String,
    /// The local address connections leave from.
    local: Option<Ipv4Addr>,
    /// Names a connection's `server` may use, to addresses (/etc/hosts).
    hosts: BTreeMap<String, Ipv4Addr>,
    events: Option<StreamSender>,
    conns: BTreeMap<String, Conn>,
    by_stream: BTreeMap<StreamId, String>,
}

impl RemoteLinks {
    pub fn new(
        me: &str,
        local: Option<Ipv4Addr>,
        hosts: BTreeMap<String, Ipv4Addr>,
        events: Option<StreamSender>,
    ) -> Self {
        RemoteLinks {
            me: me.to_string(),
            local,
            hosts,
            events,
            conns: BTreeMap::new(),
            by_stream: BTreeMap::new(),
        }
    }

    /// Where the connections' events go (the daemon's stream inbox).
    pub fn set_events(&mut self, events: StreamSender) {
        self.events = Some(events);
    }

    fn drop_conn(&mut self, node: &str) -> Option<Conn> {
        let c = self.conns.remove(node)?;
        self.by_stream.remove(&c.stream);
        Some(c)
    }

    fn send(&self, host: &dyn Host, node: &str, frame: &Frame) -> bool {
        match self.conns.get(node) {
            Some(c) if c.up => {
                host.stream_send(c.stream, encode(frame));
                true
            }
            _ => false,
        }
    }

    /// Carry out one request of the controller; the events it causes at
    /// once (a connection that cannot even be attempted).
    pub fn request(&mut self, host: &dyn Host, msg: RemoteMsg) -> Vec<RemoteMsg> {
        match msg {
            RemoteMsg::Connect { node, server, port } => self.connect(host, node, &server, port),
            RemoteMsg::Disconnect { node } => {
                if let Some(c) = self.drop_conn(&node) {
                    host.stream_close(c.stream);
                }
                Vec::new()
            }
            RemoteMsg::Poke { node } => {
                self.send(host, &node, &Frame::Poke);
                Vec::new()
            }
            RemoteMsg::Exec { node, req } => {
                // Not connected: the result never comes and the connection's
                // monitor (or the DC's action timer) notices.
                self.send(host, &node, &Frame::Exec(req));
                Vec::new()
            }
            RemoteMsg::Cancel {
                node,
                rsc,
                op,
                interval_ms,
            } => {
                let frame = Frame::Cancel {
                    rsc,
                    op,
                    interval_ms,
                };
                self.send(host, &node, &frame);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn connect(
        &mut self,
        host: &dyn Host,
        node: String,
        server: &str,
        port: u16,
    ) -> Vec<RemoteMsg> {
        if let Some(old) = self.drop_conn(&node) {
            host.stream_abort(old.stream);
        }
        let address = server
            .parse::<Ipv4Addr>()
            .ok()
            .or_else(|| self.hosts.get(server).copied());
        let failed = |why: String| {
            vec![RemoteMsg::ConnectFailed {
                node: node.clone(),
                why,
            }]
        };
        let Some(address) = address else {
            return failed(format!("cannot resolve server `{server}`"));
        };
        let (Some(local), Some(events)) = (self.local, self.events.clone()) else {
            return failed("this node has no address to connect from".into());
        };
        let remote = SocketAddrV4::new(address, port);
        match host.connect(local, remote, hasim_tcp::SocketOptions::default(), events) {
            Ok(stream) => {
                self.by_stream.insert(stream, node.clone());
                let buf = FrameBuffer::default();
                let conn = Conn {
                    stream,
                    up: false,
                    buf,
                };
                self.conns.insert(node, conn);
                Vec::new()
            }
            Err(e) => failed(format!("connect to {remote}: {e}")),
        }
    }

    /// Something happened on a connection; the events for the controller.
    pub fn stream(&mut self, host: &dyn Host, event: StreamEvent) -> Vec<RemoteMsg> {
        let stream = match &event {
            StreamEvent::Accepted { conn, .. } => *conn,
            StreamEvent::Connected(c)
            | StreamEvent::Data(c, _)
            | StreamEvent::PeerClosed(c)
            | StreamEvent::Closed(c, _) => *c,
        };
        let Some(node) = self.by_stream.get(&stream).cloned() else {
            return Vec::new();
        };
        match event {
            StreamEvent::Connected(_) => {
                let hello = Frame::Hello {
                    cluster_node: self.me.clone(),
                };
                host.stream_send(stream, encode(&hello));
                Vec::new()
            }
            StreamEvent::Data(_, bytes) => self.data(host, &node, &bytes),
            StreamEvent::PeerClosed(_) => {
                host.stream_close(stream);
                self.gone(&node, "the remote executor closed the connection".into())
            }
            StreamEvent::Closed(_, reason) => self.gone(&node, format!("{reason:?}")),
            StreamEvent::Accepted { .. } => Vec::new(),
        }
    }

    /// The connection ended: lost if it was up, a failed connect if not.
    fn gone(&mut self, node: &str, why: String) -> Vec<RemoteMsg> {
        let Some(c) = self.drop_conn(node) else {
            return Vec::new();
        };
        let node = node.to_string();
        if c.up {
            vec![RemoteMsg::Lost { node, why }]
        } else {
            vec![RemoteMsg::ConnectFailed { node, why }]
        }
    }

    fn data(&mut self, host: &dyn Host, node: &str, bytes: &[u8]) -> Vec<RemoteMsg> {
        let Some(c) = self.conns.get_mut(node) else {
            return Vec::new();
        };
        let frames = match c.buf.push(bytes) {
            Ok(f) => f,
            Err(e) => {
                host.stream_abort(c.stream);
                return self.gone(node, format!("bad frame from the remote executor: {e}"));
            }
        };
        let mut events = Vec::new();
        let node = node.to_string();
        for frame in frames {
            match frame {
                Frame::Welcome { .. } => {
                    if let Some(c) = self.conns.get_mut(&node) {
                        c.up = true;
                    }
                    events.push(RemoteMsg::Connected { node: node.clone() });
                }
                Frame::Pong => events.push(RemoteMsg::Poked { node: node.clone() }),
                Frame::Done(result) => events.push(RemoteMsg::ExecDone {
                    node: node.clone(),
                    result,
                }),
                Frame::Hello { .. } | Frame::Poke | Frame::Exec(_) | Frame::Cancel { .. } => {}
            }
        }
        events
    }

    /// Close every connection (Pacemaker exits).
    pub fn close_all(&mut self, host: &dyn Host) {
        for (_, c) in std::mem::take(&mut self.conns) {
            host.stream_abort(c.stream);
        }
        self.by_stream.clear();
    }
}
