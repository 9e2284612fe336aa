//! Real mode's TCP: the OS's own connections behind the `Streams`
//! capability, so a daemon written against the simulator's TCP model
//! (HAProxy, the databases, data clients) runs unchanged on real sockets.
//!
//! Each connection is one task that owns the socket: it forwards what it
//! reads as [`StreamEvent`]s and carries out the daemon's writes, closes
//! (FIN) and aborts (RST, by a zero linger) from a command channel, so the
//! capability's methods stay synchronous like the simulator's. Socket
//! options are the kernel's own (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT,
//! TCP_USER_TIMEOUT), set through socket2; the kernel's sysctls apply
//! where the daemon sets nothing, which is what the simulator's per-host
//! `[[tcp]]` tables model.
//!
//! Ports are shifted by the host's port offset like its UDP ports: a
//! listener on logical port 3306 binds 3306 + offset, and a connection to
//! logical port 3306 goes to 3306 + offset.

use crate::host::{StreamEvent, StreamId, StreamSender};
use hasim_tcp::{CloseReason, SocketOptions, Timeout};
use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// What the daemon asks of one connection.
enum Command {
    Send(Vec<u8>),
    Close,
    Abort,
}

/// The OS's TCP for one real host.
#[derive(Clone)]
pub struct OsStreams {
    offset: u16,
    next: Arc<AtomicU64>,
    conns: Arc<Mutex<BTreeMap<StreamId, mpsc::UnboundedSender<Command>>>>,
}

impl OsStreams {
    pub fn new(offset: u16) -> Self {
        OsStreams {
            offset,
            next: Arc::new(AtomicU64::new(1)),
            conns: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    fn shifted(&self, addr: SocketAddrV4) -> SocketAddrV4 {
        SocketAddrV4::new(*addr.ip(), addr.port().wrapping_add(self.offset))
    }

    /// Register a connection: its id and the receiving end of its commands.
    fn register(&self) -> (StreamId, mpsc::UnboundedReceiver<Command>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, tx);
        }
        (id, rx)
    }

    fn command(&self, id: StreamId, command: Command) {
        if let Ok(conns) = self.conns.lock() {
            if let Some(tx) = conns.get(&id) {
                let _ = tx.send(command);
            }
        }
    }

    pub fn listen(
        &self,
        addr: SocketAddrV4,
        opts: SocketOptions,
        events: StreamSender,
    ) -> io::Result<()> {
        let at = self.shifted(addr);
        let listener = std::net::TcpListener::bind(at)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on TCP {at}: {e}")))?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, remote)) = listener.accept().await {
                if apply(&stream, &opts).is_err() {
                    continue;
                }
                let (id, commands) = me.register();
                let local = match stream.local_addr() {
                    Ok(SocketAddr::V4(l)) => {
                        SocketAddrV4::new(*l.ip(), l.port().wrapping_sub(me.offset))
                    }
                    _ => addr,
                };
                let SocketAddr::V4(remote) = remote else {
                    continue;
                };
                if events
                    .send(StreamEvent::Accepted {
                        conn: id,
                        local,
                        remote,
                    })
                    .is_err()
                {
                    return;
                }
                tokio::spawn(
                    me.clone()
                        .serve(id, stream, commands, events.clone(), opts.clone()),
                );
            }
        });
        Ok(())
    }

    pub fn connect(
        &self,
        local: Ipv4Addr,
        remote: SocketAddrV4,
        opts: SocketOptions,
        events: StreamSender,
    ) -> io::Result<StreamId> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::V4(SocketAddrV4::new(local, 0)))?;
        apply(&socket, &opts)?;
        let (id, commands) = self.register();
        let to = self.shifted(remote);
        let me = self.clone();
        tokio::spawn(async move {
            match socket.connect(SocketAddr::V4(to)).await {
                Ok(stream) => {
                    if events.send(StreamEvent::Connected(id)).is_ok() {
                        me.serve(id, stream, commands, events, opts).await;
                    }
                }
                Err(e) => {
                    me.forget(id);
                    let _ = events.send(StreamEvent::Closed(id, reason(&e, true, &opts)));
                }
            }
        });
        Ok(id)
    }

    pub fn send(&self, id: StreamId, bytes: Vec<u8>) {
        self.command(id, Command::Send(bytes));
    }

    pub fn close(&self, id: StreamId) {
        self.command(id, Command::Close);
    }

    pub fn abort(&self, id: StreamId) {
        self.command(id, Command::Abort);
    }

    fn forget(&self, id: StreamId) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.remove(&id);
        }
    }

    /// Own one established connection until it is gone: reads become
    /// events, commands become writes, FIN or RST.
    async fn serve(
        self,
        id: StreamId,
        mut stream: TcpStream,
        mut commands: mpsc::UnboundedReceiver<Command>,
        events: StreamSender,
        opts: SocketOptions,
    ) {
        let mut buf = vec![0u8; 16 * 1024];
        let mut reading = true;
        let end = loop {
            tokio::select! {
                read = stream.read(&mut buf), if reading => match read {
                    Ok(0) => {
                        reading = false;
                        let _ = events.send(StreamEvent::PeerClosed(id));
                    }
                    Ok(n) => { let _ = events.send(StreamEvent::Data(id, buf[..n].to_vec())); }
                    Err(e) => break Some(reason(&e, false, &opts)),
                },
                command = commands.recv() => match command {
                    Some(Command::Send(bytes)) => {
                        if let Err(e) = stream.write_all(&bytes).await {
                            break Some(reason(&e, false, &opts));
                        }
                    }
                    Some(Command::Close) => {
                        let _ = stream.shutdown().await;
                        // Our own close: no event; drain until the peer's
                        // FIN, for at most tcp_fin_timeout's default 60 s.
                        let _ = tokio::time::timeout(FIN_TIMEOUT, drain(&mut stream)).await;
                        break None;
                    }
                    Some(Command::Abort) | None => {
                        // A zero linger does not block: close sends RST at once.
                        let _ = socket2::SockRef::from(&stream)
                            .set_linger(Some(std::time::Duration::ZERO));
                        break None;
                    }
                },
            }
        };
        self.forget(id);
        if let Some(reason) = end {
            let _ = events.send(StreamEvent::Closed(id, reason));
        }
    }
}

/// How long a closed connection waits for the peer's FIN (Linux's
/// `tcp_fin_timeout` default).
const FIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Read and drop until the peer closes or fails (after our FIN).
async fn drain(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    while stream.read(&mut buf).await? > 0 {}
    Ok(())
}

/// Why the OS ended a connection, in the model's terms. The kernel says
/// ETIMEDOUT for every timer; which one gave up follows from the socket's
/// state: the SYN while connecting, TCP_USER_TIMEOUT when set, keepalive
/// when only keepalive runs, else retransmission.
fn reason(e: &io::Error, connecting: bool, opts: &SocketOptions) -> CloseReason {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => CloseReason::Refused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => CloseReason::Reset,
        io::ErrorKind::TimedOut if connecting => CloseReason::TimedOut(Timeout::Syn),
        io::ErrorKind::TimedOut if opts.user_timeout.is_some() => {
            CloseReason::TimedOut(Timeout::UserTimeout)
        }
        io::ErrorKind::TimedOut if opts.keepalive => CloseReason::TimedOut(Timeout::Keepalive),
        io::ErrorKind::TimedOut => CloseReason::TimedOut(Timeout::Retransmission),
        _ => CloseReason::Reset,
    }
}

/// The socket options the kernel should apply (unset ones keep its sysctls).
fn apply<S: std::os::fd::AsFd>(socket: &S, opts: &SocketOptions) -> io::Result<()> {
    let sock = socket2::SockRef::from(socket);
    sock.set_keepalive(opts.keepalive)?;
    if opts.keepalive {
        let mut ka = socket2::TcpKeepalive::new();
        if let Some(idle) = opts.keepidle {
            ka = ka.with_time(idle);
        }
        if let Some(intvl) = opts.keepintvl {
            ka = ka.with_interval(intvl);
        }
        if let Some(cnt) = opts.keepcnt {
            ka = ka.with_retries(cnt);
        }
        sock.set_tcp_keepalive(&ka)?;
    }
    if let Some(timeout) = opts.user_timeout {
        sock.set_tcp_user_timeout(Some(timeout))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn next(rx: &mut mpsc::UnboundedReceiver<StreamEvent>) -> StreamEvent {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event within 5 s")
            .expect("the channel is open")
    }

    /// Accept, connect, bytes both ways, FIN seen as PeerClosed, and a
    /// refused connection reported as such, on loopback with an offset.
    #[test]
    fn os_connections_behave_like_the_model_says() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let offset = 30000 + (std::process::id() % 20000) as u16;
            let host = Ipv4Addr::new(127, 0, 0, 1);
            let (server, client) = (OsStreams::new(offset), OsStreams::new(offset));
            let (stx, mut srx) = mpsc::unbounded_channel();
            let at = SocketAddrV4::new(host, 3306);
            let opts = SocketOptions {
                keepalive: true,
                keepidle: Some(Duration::from_secs(30)),
                keepintvl: Some(Duration::from_secs(3)),
                keepcnt: Some(8),
                user_timeout: None,
            };
            server.listen(at, opts.clone(), stx).unwrap();
            let (ctx, mut crx) = mpsc::unbounded_channel();
            let conn = client.connect(host, at, opts, ctx.clone()).unwrap();
            assert_eq!(next(&mut crx).await, StreamEvent::Connected(conn));
            let StreamEvent::Accepted {
                conn: accepted,
                local,
                ..
            } = next(&mut srx).await
            else {
                panic!("expected an accept");
            };
            assert_eq!(local, at, "the listener's port is reported unshifted");
            client.send(conn, b"GET k1\n".to_vec());
            assert_eq!(
                next(&mut srx).await,
                StreamEvent::Data(accepted, b"GET k1\n".to_vec())
            );
            server.send(accepted, b"OK v1\n".to_vec());
            assert_eq!(
                next(&mut crx).await,
                StreamEvent::Data(conn, b"OK v1\n".to_vec())
            );
            server.close(accepted);
            assert_eq!(next(&mut crx).await, StreamEvent::PeerClosed(conn));
            client.close(conn);
            // Nothing listens on 3307: refused.
            let refused = client
                .connect(
                    host,
                    SocketAddrV4::new(host, 3307),
                    SocketOptions::default(),
                    ctx,
                )
                .unwrap();
            assert_eq!(
                next(&mut crx).await,
                StreamEvent::Closed(refused, CloseReason::Refused)
            );
            // An abort reaches the peer as a reset.
            let (ctx, mut crx) = mpsc::unbounded_channel();
            let conn = client
                .connect(host, at, SocketOptions::default(), ctx)
                .unwrap();
            assert_eq!(next(&mut crx).await, StreamEvent::Connected(conn));
            let StreamEvent::Accepted { conn: accepted, .. } = next(&mut srx).await else {
                panic!("expected an accept");
            };
            server.abort(accepted);
            assert_eq!(
                next(&mut crx).await,
                StreamEvent::Closed(conn, CloseReason::Reset)
            );
        });
    }

    /// The simulator's database daemon unchanged on real sockets: a
    /// primary and a replica (`kvdb_daemon`) on loopback, a client speaking
    /// the line protocol over a std TcpStream; the write is acknowledged by
    /// the primary and read back from the replica once replicated.
    #[test]
    fn the_kvdb_daemon_serves_real_clients_and_replicates() {
        use crate::kvdb_daemon::{run, KvdbSetup};
        use std::io::{BufRead, BufReader, Write};
        let offset = 31000 + (std::process::id() % 20000) as u16;
        let (a, b) = (Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2));
        let peers = BTreeMap::from([("db1".to_string(), a), ("db2".to_string(), b)]);
        let setup = |name: &str, address, port, role| KvdbSetup {
            name: name.into(),
            address,
            port,
            role,
            lag: Duration::from_millis(50),
            peers: peers.clone(),
            follow_vip: None,
        };
        let primary = setup("db1", a, 3306, hasim_kvdb::Role::Primary);
        let replica = setup(
            "db2",
            b,
            3316,
            hasim_kvdb::Role::Replica {
                primary: "db1".into(),
            },
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let h1 = crate::real::UdpHost::new("db1", a, offset);
                let h2 = crate::real::UdpHost::new("db2", b, offset);
                tokio::spawn(run(h2, replica));
                let _ = run(h1, primary).await;
            });
        });
        let ask = |port: u16, line: &str| -> String {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let to = SocketAddrV4::new(if port == 3306 { a } else { b }, port + offset);
                match std::net::TcpStream::connect(to) {
                    Ok(mut s) => {
                        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        s.write_all(line.as_bytes()).unwrap();
                        let mut reply = String::new();
                        BufReader::new(s).read_line(&mut reply).unwrap();
                        return reply;
                    }
                    Err(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    Err(e) => panic!("connect {to}: {e}"),
                }
            }
        };
        assert_eq!(ask(3306, "W 1 k1 7\n"), "OK 1 db1\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let reply = ask(3316, "R 2 k1\n");
            if reply == "OK 2 db2 =7\n" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not replicated: {reply:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
