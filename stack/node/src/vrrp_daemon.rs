//! Keepalived's part of a node: one task per node that runs every configured
//! VRRP instance's sans-IO core against real (or simulated) time and network.

use crate::host::{Datagram, Host, NodeEvent, VRRP_PORT};
use hasim_vrrp::{Action, Config, Destination, Vrrp};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

/// The VRRP multicast group (RFC 5798 §5.1.1.2).
pub const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// Run all VRRP instances of a node until the node goes away.
///
/// Packets arrive on one port for all instances; they are routed by VRID
/// (byte 1 of a VRRPv3 header), as the kernel's raw socket plus keepalived's
/// own lookup do.
pub async fn run(host: Arc<dyn Host>, configs: Vec<Config>) -> std::io::Result<()> {
    run_until(host, configs, std::future::pending()).await
}

/// [`run`] until `stop` completes (real mode: SIGTERM or Ctrl-C), then shut
/// every instance down as keepalived does on SIGTERM: a MASTER sends a
/// priority-0 advert, so its backup takes over after skew time (about
/// 1 s x (256 - priority) / 256) instead of the full master-down interval.
pub async fn run_until(
    host: Arc<dyn Host>,
    configs: Vec<Config>,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let mut inbox = host.bind(VRRP_PORT)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut routes: BTreeMap<u8, mpsc::UnboundedSender<Datagram>> = BTreeMap::new();
    let mut tasks = Vec::new();
    for cfg in configs {
        let (tx, rx) = mpsc::unbounded_channel();
        routes.insert(cfg.vrid, tx);
        let vrrp = Vrrp::new(cfg.clone())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let stopping = stop_rx.clone();
        tasks.push(tokio::spawn(run_instance(
            host.clone(),
            vrrp,
            cfg,
            rx,
            stopping,
        )));
    }
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            datagram = inbox.recv() => {
                let Some(datagram) = datagram else { break };
                let Some(&vrid) = datagram.payload.get(1) else {
                    continue;
                };
                if let Some(route) = routes.get(&vrid) {
                    let _ = route.send(datagram);
                }
            }
            () = &mut stop => {
                // Every instance sends its goodbye before the process ends.
                let _ = stop_tx.send(true);
                for task in tasks {
                    let _ = task.await;
                }
                return Ok(());
            }
        }
    }
    for task in tasks {
        task.abort();
    }
    Ok(())
}

async fn run_instance(
    host: Arc<dyn Host>,
    mut vrrp: Vrrp,
    cfg: Config,
    mut inbox: mpsc::UnboundedReceiver<Datagram>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let origin = Instant::now();
    let actions = vrrp.start(origin.elapsed());
    apply(&*host, &cfg, actions);
    loop {
        // A core with nothing scheduled still has to hear packets.
        let deadline = vrrp
            .next_timeout()
            .map(|t| origin + t)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        let actions = tokio::select! {
            biased;
            changed = stopping.changed() => {
                // An error means the daemon itself is gone: nothing to send.
                if changed.is_ok() {
                    apply(&*host, &cfg, vrrp.shutdown(origin.elapsed()));
                }
                return;
            }
            datagram = inbox.recv() => match datagram {
                Some(d) => {
                    let before = vrrp.stats().clone();
                    let actions = vrrp.handle_packet(origin.elapsed(), *d.src.ip(), &d.payload);
                    if vrrp.stats().dropped_total() > before.dropped_total() {
                        host.report(NodeEvent::VrrpDropped { vrid: cfg.vrid, from: *d.src.ip() });
                    }
                    actions
                }
                None => return,
            },
            _ = sleep_until(deadline) => {
                if vrrp.next_timeout().is_some_and(|t| origin + t <= Instant::now()) {
                    vrrp.handle_timeout(origin.elapsed())
                } else {
                    Vec::new()
                }
            }
        };
        apply(&*host, &cfg, actions);
    }
}

/// Carry out what the core asked for.
fn apply(host: &dyn Host, cfg: &Config, actions: Vec<Action>) {
    let interface = cfg.primary_ip;
    for action in actions {
        match action {
            Action::Send { dest, packet } => {
                let dst = match dest {
                    Destination::Multicast => VRRP_GROUP,
                    Destination::Unicast(ip) => ip,
                };
                host.send(
                    SocketAddrV4::new(interface, VRRP_PORT),
                    SocketAddrV4::new(dst, VRRP_PORT),
                    packet,
                );
            }
            Action::AddVips(vips) => vips.iter().for_each(|&vip| host.add_vip(vip, interface)),
            Action::RemoveVips(vips) => vips.iter().for_each(|&vip| host.remove_vip(vip)),
            Action::GratuitousArp(vips) => vips
                .iter()
                .for_each(|&vip| host.gratuitous_arp(vip, interface)),
            Action::StateChanged { from, to, reason } => host.report(NodeEvent::VrrpState {
                vrid: cfg.vrid,
                from,
                to,
                reason,
            }),
        }
    }
}
