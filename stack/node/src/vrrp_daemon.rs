//! Keepalived's part of a node: one task per node that runs every configured
//! VRRP instance's sans-IO core against real (or simulated) time and network.

use crate::driver::{self, Inputs, Io, Service};
use crate::host::{Datagram, Host, NodeEvent, VRRP_PORT};
use hasim_vrrp::{Action, Config, Destination, Vrrp};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use tokio::sync::mpsc;

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
    vrrp: Vrrp,
    cfg: Config,
    inbox: mpsc::UnboundedReceiver<Datagram>,
    stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut instance = Instance { vrrp, cfg };
    let inputs = Inputs {
        streams: None,
        datagrams: Some(inbox),
        local: None,
        stop: Some(stopping),
    };
    driver::run(&mut instance, host, inputs).await;
}

/// One VRRP instance: the core and its configuration.
struct Instance {
    vrrp: Vrrp,
    cfg: Config,
}

/// The VRRP core keeps its own deadline; the driver's table mirrors it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Deadline;

impl Service for Instance {
    type Timer = Deadline;

    fn start(&mut self, io: &mut Io<'_, Deadline>) {
        let actions = self.vrrp.start(io.now());
        apply(io.host, &self.cfg, actions);
    }

    fn datagram(&mut self, io: &mut Io<'_, Deadline>, d: Datagram) {
        let before = self.vrrp.stats().dropped_total();
        let actions = self.vrrp.handle_packet(io.now(), *d.src.ip(), &d.payload);
        if self.vrrp.stats().dropped_total() > before {
            io.host.report(NodeEvent::VrrpDropped {
                vrid: self.cfg.vrid,
                from: *d.src.ip(),
            });
        }
        apply(io.host, &self.cfg, actions);
    }

    fn timer(&mut self, io: &mut Io<'_, Deadline>, _: Deadline) {
        let actions = self.vrrp.handle_timeout(io.now());
        apply(io.host, &self.cfg, actions);
    }

    /// keepalived on SIGTERM: a MASTER sends its priority-0 advert and
    /// releases its VIPs.
    fn stop(&mut self, io: &mut Io<'_, Deadline>) {
        let actions = self.vrrp.shutdown(io.now());
        apply(io.host, &self.cfg, actions);
    }

    fn settle(&mut self, io: &mut Io<'_, Deadline>) {
        io.follow(Deadline, self.vrrp.next_timeout());
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
