//! Galera (mysqld with wsrep) as a node daemon: clients reach the
//! `hasim-galera` node core over TCP with the `hasim-data` line protocol;
//! group traffic travels as datagrams on gcomm's port
//! ([`hasim_galera::wire::GCOMM_PORT`]).
//!
//! What the core says survives a crash is kept on the node's [`Disk`]
//! (see [`crate::galera_disk`]): `grastate.dat`, and the engine's data
//! and last committed seqno, written at each commit as InnoDB does with
//! `innodb_flush_log_at_trx_commit = 1`. A node that boots again recovers
//! its seqno from there (`--wsrep-recover`).
//!
//! Standalone (beside Keepalived), mysqld starts at boot: the node named
//! `bootstrap` forms a new primary component the first time it ever starts
//! (`galera_new_cluster`, run once when the cluster is set up: its disk has
//! no `grastate.dat` yet); every other start joins the component through
//! `wsrep_cluster_address`.
//!
//! Managed by Pacemaker ([`GaleraSetup::managed`]), mysqld does not start
//! at boot: the daemon waits on the node's local channel as
//! [`hasim_execd::MYSQLD`] for the galera agent's commands
//! ([`hasim_galera::control`]): recover the seqno from disk, report the
//! status, start mysqld (bootstrapping a new cluster or joining), stop it.
//! While mysqld is stopped a client connection is reset, as nothing
//! listens on the port.
//!
//! [`Disk`]: crate::host::Disk

use crate::driver::{self, Inputs, Io, Service};
use crate::galera_disk::EngineStore;
use crate::host::{Datagram, Host, NodeEvent, StreamEvent, StreamId};
use crate::local::{Endpoint, Envelope, LocalMessage};
use hasim_data::wire::{LineBuffer, Request};
/// The local endpoint a managed mysqld takes the agent's commands on.
pub use hasim_execd::MYSQLD;
use hasim_galera::control::{Answer, Command, Recovery};
use hasim_galera::node::{Action, GaleraConfig, GaleraNode, Input};
use hasim_galera::pc::EvsTimeouts;
use hasim_galera::wire::{decode, encode, GCOMM_PORT};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

/// One Galera node's configuration.
#[derive(Clone, Debug)]
pub struct GaleraSetup {
    /// This node (a name of `cluster`).
    pub name: String,
    /// The node's own address (gcomm source).
    pub address: Ipv4Addr,
    /// Client port, every address.
    pub port: u16,
    /// `wsrep_cluster_address`: every node's name and address, in order.
    pub cluster: Vec<(String, Ipv4Addr)>,
    /// gcomm failure detection.
    pub evs: EvsTimeouts,
    /// `evs.keepalive_period`.
    pub keepalive_period: Duration,
    /// Cluster state uuid.
    pub uuid: String,
    /// This node bootstraps the cluster on its very first start.
    pub bootstrap: bool,
    /// Pacemaker's galera agent starts and stops mysqld (it does not
    /// start at boot).
    pub managed: bool,
}

impl GaleraSetup {
    fn config(&self) -> GaleraConfig {
        GaleraConfig {
            name: self.name.clone(),
            cluster: self.cluster.iter().map(|(n, _)| n.clone()).collect(),
            evs: self.evs,
            keepalive_period: self.keepalive_period,
            uuid: self.uuid.clone(),
        }
    }
}

/// Run mysqld until the node goes away (`endpoint`: the node's local
/// channel, where a managed mysqld takes the agent's commands). A
/// `grastate.dat` that cannot be read stops it with the file's error, as
/// mysqld refuses to start.
pub async fn run(
    host: Arc<dyn Host>,
    setup: GaleraSetup,
    endpoint: Option<Endpoint>,
) -> std::io::Result<()> {
    let (store, disk, first_start) =
        EngineStore::open(host.as_ref()).map_err(std::io::Error::other)?;
    let last_prim = crate::galera_disk::view_state(host.as_ref());
    let datagrams = host.bind(GCOMM_PORT)?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, setup.port);
    host.listen(any, crate::kvdb_daemon::mysqld_client_sockets(), tx)?;
    let bootstrap = setup.bootstrap && first_start;
    let mut server = Server {
        node: GaleraNode::new(setup.config(), disk).with_view_state(last_prim),
        running: !setup.managed,
        wait_prim: None,
        setup,
        store,
        bootstrap,
        conns: BTreeMap::new(),
    };
    let inputs = Inputs {
        datagrams: Some(datagrams),
        local: endpoint.map(|e| (e.board, e.name, e.inbox)),
        streams: Some(rx),
        stop: None,
    };
    driver::run(&mut server, host, inputs).await;
    Ok(())
}

struct Server {
    node: GaleraNode,
    /// mysqld runs (always, unless managed by Pacemaker).
    running: bool,
    /// A managed joiner must reach a primary component by then
    /// (`pc.wait_prim_timeout`), or mysqld aborts.
    wait_prim: Option<Duration>,
    setup: GaleraSetup,
    store: EngineStore,
    bootstrap: bool,
    conns: BTreeMap<StreamId, LineBuffer>,
}

/// gcomm's `pc.wait_prim_timeout`.
const WAIT_PRIM_TIMEOUT: Duration = Duration::from_secs(30);

/// The core's own deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Wake;

impl Service for Server {
    type Timer = Wake;

    fn start(&mut self, io: &mut Io<'_, Wake>) {
        if self.running {
            self.start_mysqld(io);
        }
    }

    fn message(&mut self, io: &mut Io<'_, Wake>, envelope: Envelope) {
        let LocalMessage::Ipc(bytes) = envelope.message else {
            return;
        };
        let text = String::from_utf8_lossy(&bytes);
        let Some((call, line)) = text.split_once(' ') else {
            return;
        };
        let answer = match Command::parse(line) {
            Ok(command) => self.command(io, command),
            Err(e) => Answer::Error(e),
        };
        let reply = format!("{call} {}", answer.render());
        let _ = io.send_local(&envelope.from, LocalMessage::Ipc(reply.into_bytes()));
    }

    fn datagram(&mut self, io: &mut Io<'_, Wake>, d: Datagram) {
        let Some(from) = self.peer_named(*d.src.ip()) else {
            return;
        };
        match decode(&d.payload) {
            Ok(msg) => self.handle(io, Input::Peer { from, msg }),
            Err(e) => io.host.report(NodeEvent::Log {
                text: format!("galera: bad gcomm message from {from}: {e}"),
            }),
        }
    }

    fn stream(&mut self, io: &mut Io<'_, Wake>, event: StreamEvent) {
        match event {
            StreamEvent::Accepted { conn, .. } if !self.running => io.host.stream_abort(conn),
            StreamEvent::Accepted { conn, .. } => {
                self.conns.insert(conn, LineBuffer::default());
            }
            StreamEvent::Data(conn, bytes) => self.on_data(io, conn, &bytes),
            StreamEvent::PeerClosed(conn) => {
                self.conns.remove(&conn);
                io.host.stream_close(conn);
            }
            StreamEvent::Closed(conn, _) => {
                self.conns.remove(&conn);
            }
            StreamEvent::Connected(_) => {}
        }
    }

    fn timer(&mut self, io: &mut Io<'_, Wake>, _timer: Wake) {
        self.handle(io, Input::Timeout);
        self.check_wait_prim(io);
    }

    fn settle(&mut self, io: &mut Io<'_, Wake>) {
        io.follow(Wake, self.node.next_timeout());
    }
}

impl Server {
    fn start_mysqld(&mut self, io: &mut Io<'_, Wake>) {
        io.host.report(NodeEvent::Log {
            text: format!(
                "galera {}: mysqld starts at seqno {}{}",
                self.setup.name,
                self.node.seqno(),
                if self.bootstrap {
                    ", bootstrapping a new cluster"
                } else {
                    ""
                }
            ),
        });
        let bootstrap = self.bootstrap;
        self.handle(io, Input::Start { bootstrap });
    }

    /// A managed joiner that found no primary component within
    /// `pc.wait_prim_timeout` aborts ("failed to reach primary view"), as
    /// mysqld does: nothing is written (grastate keeps seqno -1), and the
    /// agent sees mysqld gone.
    fn check_wait_prim(&mut self, io: &mut Io<'_, Wake>) {
        let Some(deadline) = self.wait_prim else {
            return;
        };
        if self.node.is_primary() {
            self.wait_prim = None;
            return;
        }
        if io.now() < deadline {
            return;
        }
        self.wait_prim = None;
        let Ok(r) = crate::galera_disk::recover(io.host) else {
            return;
        };
        self.node = GaleraNode::new(self.setup.config(), r.disk);
        self.running = false;
        for conn in std::mem::take(&mut self.conns).into_keys() {
            io.host.stream_abort(conn);
        }
        io.host.report(NodeEvent::Log {
            text: format!(
                "galera {}: mysqld aborts: failed to reach primary view within pc.wait_prim_timeout",
                self.setup.name
            ),
        });
    }

    /// One command of the galera agent.
    fn command(&mut self, io: &mut Io<'_, Wake>, command: Command) -> Answer {
        match command {
            Command::Status if self.running => Answer::Running {
                primary: self.node.is_primary(),
                seqno: self.node.seqno(),
            },
            Command::Status => Answer::Stopped,
            Command::Recover if self.running => Answer::Error("mysqld is running".into()),
            Command::Recover => match crate::galera_disk::recover(io.host) {
                Ok(r) => Answer::Recovered(Recovery {
                    grastate_seqno: r.grastate.as_ref().map(|g| g.seqno),
                    last_commit: r.last_commit(),
                    safe_to_bootstrap: r
                        .grastate
                        .as_ref()
                        .and_then(|g| g.agent_safe_to_bootstrap()),
                }),
                Err(e) => Answer::Error(e),
            },
            Command::Start { .. } if self.running => {
                Answer::Error("mysqld is already running".into())
            }
            Command::Start { new_cluster } => match crate::galera_disk::recover(io.host) {
                Ok(r) => {
                    self.store.snapshot(io.host, &r.disk);
                    let last_prim = crate::galera_disk::view_state(io.host);
                    self.node =
                        GaleraNode::new(self.setup.config(), r.disk).with_view_state(last_prim);
                    self.running = true;
                    self.bootstrap = new_cluster;
                    self.wait_prim = (!new_cluster).then(|| io.now() + WAIT_PRIM_TIMEOUT);
                    self.start_mysqld(io);
                    Answer::Ok
                }
                Err(e) => Answer::Error(e),
            },
            Command::Stop => {
                self.wait_prim = None;
                if self.running {
                    self.handle(io, Input::Shutdown);
                    self.running = false;
                    for conn in std::mem::take(&mut self.conns).into_keys() {
                        io.host.stream_abort(conn);
                    }
                    io.host.report(NodeEvent::Log {
                        text: format!(
                            "galera {}: mysqld stopped at seqno {}",
                            self.setup.name,
                            self.node.seqno()
                        ),
                    });
                }
                Answer::Ok
            }
        }
    }
}

impl Server {
    fn peer_named(&self, ip: Ipv4Addr) -> Option<String> {
        self.setup
            .cluster
            .iter()
            .find(|(_, a)| *a == ip)
            .map(|(n, _)| n.clone())
    }

    /// Statements on one connection; a line that is not a request aborts
    /// the connection, as mysqld drops a client that breaks the protocol.
    fn on_data(&mut self, io: &mut Io<'_, Wake>, conn: StreamId, bytes: &[u8]) {
        let Some(buf) = self.conns.get_mut(&conn) else {
            return;
        };
        let requests: Result<Vec<Request>, String> = buf
            .push(bytes)
            .and_then(|ls| ls.iter().map(|l| Request::decode(l)).collect());
        match requests {
            Ok(reqs) => {
                for req in reqs {
                    self.handle(io, Input::Request(conn, req));
                }
            }
            Err(e) => {
                io.host.report(NodeEvent::Log {
                    text: format!("galera: aborting client connection: {e}"),
                });
                self.conns.remove(&conn);
                io.host.stream_abort(conn);
            }
        }
    }

    fn handle(&mut self, io: &mut Io<'_, Wake>, input: Input) {
        let was_primary = self.node.is_primary();
        let actions = self.node.handle(io.now(), input);
        self.apply(io, actions);
        let primary = self.node.is_primary();
        if primary != was_primary {
            io.host.report(NodeEvent::Log {
                text: format!(
                    "galera {}: {} at seqno {}",
                    self.setup.name,
                    if primary {
                        "primary component"
                    } else {
                        "non-primary"
                    },
                    self.node.seqno()
                ),
            });
        }
    }

    fn apply(&mut self, io: &mut Io<'_, Wake>, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Reply(conn, resp) => io.host.stream_send(conn, resp.encode()),
                Action::Send { to, msg } => {
                    let Some(dst) = self.address_of(&to) else {
                        continue;
                    };
                    io.host.send(
                        SocketAddrV4::new(self.setup.address, GCOMM_PORT),
                        SocketAddrV4::new(dst, GCOMM_PORT),
                        encode(&msg),
                    );
                }
                Action::WriteGrastate(g) => self.store.write_grastate(io.host, &g),
                Action::Committed { seqno, write } => {
                    self.store.commit(io.host, seqno, write.as_ref())
                }
                Action::StateReceived => self.store.snapshot(io.host, &self.node.disk()),
                Action::WriteViewState(view) => self.store.write_view_state(io.host, view.as_ref()),
            }
        }
    }

    fn address_of(&self, name: &str) -> Option<Ipv4Addr> {
        self.setup
            .cluster
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }
}
