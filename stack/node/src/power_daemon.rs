//! A power device (BMC or PDU) as a daemon of its own, for real mode.
//!
//! In the simulator the world drives every `hasim_powerdev::PowerDevice`
//! and applies its power changes to the machine lifecycle (`sim/src/power.rs`).
//! Real mode has no world: the same core runs on the generic driver behind
//! a UDP port ([`POWER_PORT`], shifted by the host's port offset), and a
//! [`PowerSwitch`] carries out its power changes on whatever stands for
//! the machines there (a process to kill, a command to run).
//!
//! Why the switch reports back: a BMC's chassis state is the machine's real
//! power, not what it was asked. A switch that could not cut the power
//! leaves the state `on`, so the fence agent's status poll sees it and the
//! fence fails, as it would against a real BMC that cannot power off.

use crate::driver::{Io, Service};
use crate::fencing::POWER_PORT;
use crate::host::{Datagram, NodeEvent};
use hasim_powerdev::{DeviceAction, DeviceConfig, DeviceInput, PowerDevice};
use std::net::SocketAddrV4;

/// Carries out a device's power change on a machine.
pub trait PowerSwitch: Send {
    /// Switch `machine` on or off. `Ok(on)` is the machine's power after
    /// the attempt; `Err` says why it could not be switched (its power is
    /// then unknown and left as it was).
    fn switch(&mut self, machine: &str, on: bool) -> Result<bool, String>;
}

/// The device core, its address and the switch its power changes go to.
pub struct PowerDaemon {
    core: PowerDevice,
    address: std::net::Ipv4Addr,
    switch: Box<dyn PowerSwitch>,
}

impl PowerDaemon {
    /// `config.address` must be an IPv4 literal (the daemon binds it).
    pub fn new(config: DeviceConfig, switch: Box<dyn PowerSwitch>) -> Result<Self, String> {
        let address = config.address.parse().map_err(|_| {
            format!(
                "device address {:?}: expected an IPv4 address",
                config.address
            )
        })?;
        Ok(PowerDaemon {
            core: PowerDevice::new(config),
            address,
            switch,
        })
    }

    fn name(&self) -> String {
        self.core.config().name.clone()
    }

    /// Feed the core one input and carry out what it asks, including the
    /// machine power reports a switch feeds back.
    fn input(&mut self, io: &mut Io<'_, u64>, input: DeviceInput) {
        let mut pending = std::collections::VecDeque::from([input]);
        while let Some(input) = pending.pop_front() {
            for action in self.core.handle(io.now(), input) {
                match action {
                    DeviceAction::Send { to, bytes } => {
                        if let Ok(to) = to.parse::<SocketAddrV4>() {
                            let src = SocketAddrV4::new(self.address, POWER_PORT);
                            io.host.send(src, to, bytes);
                        }
                    }
                    DeviceAction::SetTimer { id, at } => io.set_timer(id, at),
                    DeviceAction::Power { machine, on } => {
                        if let Some(report) = self.switch_power(io, &machine, on) {
                            pending.push_back(report);
                        }
                    }
                    DeviceAction::Event(detail) => io.host.report(NodeEvent::Log {
                        text: format!("{}: {detail:?}", self.name()),
                    }),
                }
            }
        }
    }

    fn switch_power(
        &mut self,
        io: &mut Io<'_, u64>,
        machine: &str,
        on: bool,
    ) -> Option<DeviceInput> {
        let verb = if on { "on" } else { "off" };
        match self.switch.switch(machine, on) {
            Ok(now_on) => {
                let state = if now_on { "on" } else { "off" };
                io.host.report(NodeEvent::Log {
                    text: format!(
                        "{}: power {verb} {machine}: machine is {state}",
                        self.name()
                    ),
                });
                Some(DeviceInput::MachinePower {
                    machine: machine.to_string(),
                    on: now_on,
                    supply_lost: false,
                })
            }
            Err(why) => {
                io.host.report(NodeEvent::Log {
                    text: format!("{}: power {verb} {machine} failed: {why}", self.name()),
                });
                None
            }
        }
    }
}

impl Service for PowerDaemon {
    type Timer = u64;

    fn start(&mut self, io: &mut Io<'_, u64>) {
        io.host.report(NodeEvent::Log {
            text: format!(
                "{}: power device listening on {}",
                self.name(),
                self.address
            ),
        });
    }

    fn datagram(&mut self, io: &mut Io<'_, u64>, datagram: Datagram) {
        let input = DeviceInput::Datagram {
            from: datagram.src.to_string(),
            bytes: datagram.payload,
        };
        self.input(io, input);
    }

    fn timer(&mut self, io: &mut Io<'_, u64>, timer: u64) {
        self.input(io, DeviceInput::Timer { id: timer });
    }
}

/// Serve one device on `host` until `stop` completes (real mode:
/// SIGTERM or Ctrl-C).
pub async fn run_until(
    host: std::sync::Arc<dyn crate::Host>,
    mut daemon: PowerDaemon,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let datagrams = host.bind(POWER_PORT)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let inputs = crate::driver::Inputs {
        datagrams: Some(datagrams),
        local: None,
        streams: None,
        stop: Some(stop_rx),
    };
    crate::driver::run(&mut daemon, host, inputs).await;
    Ok(())
}

/// Real mode's switch: each machine is a process (its pid in a file; off
/// is SIGKILL, as pulling the plug leaves the process no time for anything)
/// or a pair of commands (run with `sh -c`, like a fence agent's backend:
/// exit status 0 means the power changed).
#[cfg(not(madsim))]
pub mod real {
    use super::PowerSwitch;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::process::Command;

    /// How one machine's power is switched.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Machine {
        /// The process whose pid is in this file. Off kills it; on cannot
        /// start it again (nothing here knows how), so on is refused.
        Pidfile(PathBuf),
        /// `sh -c` this command with `HASIM_ACTION` (`on`/`off`) and
        /// `HASIM_MACHINE` in its environment.
        Command(String),
    }

    impl Machine {
        /// `pidfile:PATH` or `command:CMD`.
        pub fn parse(text: &str) -> Result<Machine, String> {
            match text.split_once(':') {
                Some(("pidfile", path)) if !path.is_empty() => {
                    Ok(Machine::Pidfile(PathBuf::from(path)))
                }
                Some(("command", cmd)) if !cmd.trim().is_empty() => {
                    Ok(Machine::Command(cmd.to_string()))
                }
                _ => Err(format!(
                    "`{text}`: expected pidfile:PATH or command:SHELL-COMMAND"
                )),
            }
        }
    }

    /// Machines by name.
    pub struct ProcessSwitch {
        pub machines: BTreeMap<String, Machine>,
    }

    impl PowerSwitch for ProcessSwitch {
        fn switch(&mut self, machine: &str, on: bool) -> Result<bool, String> {
            match self.machines.get(machine) {
                None => Err(format!("no switch configured for machine {machine}")),
                Some(Machine::Pidfile(path)) if on => Err(format!(
                    "cannot power on {machine}: its process ({}) is not restartable from here",
                    path.display()
                )),
                Some(Machine::Pidfile(path)) => kill(path).map(|()| false),
                Some(Machine::Command(cmd)) => run(cmd, machine, on).map(|()| on),
            }
        }
    }

    /// SIGKILL the process in `pidfile`. A process that is already gone
    /// is off: success.
    fn kill(pidfile: &std::path::Path) -> Result<(), String> {
        let text =
            std::fs::read_to_string(pidfile).map_err(|e| format!("{}: {e}", pidfile.display()))?;
        let pid: u32 = text.trim().parse().map_err(|_| {
            format!(
                "{}: expected a process id, found {text:?}",
                pidfile.display()
            )
        })?;
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        if status.success() || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            Ok(())
        } else {
            Err(format!("kill -KILL {pid} failed ({status})"))
        }
    }

    fn run(cmd: &str, machine: &str, on: bool) -> Result<(), String> {
        let status = Command::new("sh")
            .args(["-c", cmd])
            .env("HASIM_ACTION", if on { "on" } else { "off" })
            .env("HASIM_MACHINE", machine)
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("sh -c {cmd:?}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{cmd}` exited with {status}"))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn machine_specs_parse_or_say_what_was_expected() {
            assert_eq!(
                Machine::parse("pidfile:/run/n1.pid"),
                Ok(Machine::Pidfile("/run/n1.pid".into()))
            );
            assert_eq!(
                Machine::parse("command:virsh destroy n1"),
                Ok(Machine::Command("virsh destroy n1".into()))
            );
            for bad in ["", "pidfile:", "command: ", "n1.pid", "file:/x"] {
                let e = Machine::parse(bad).unwrap_err();
                assert!(e.contains("expected pidfile:PATH"), "{bad}: {e}");
            }
        }

        /// Off kills the process; a process already gone is off too; a
        /// pidfile machine cannot be powered on; a failing command leaves
        /// the power unknown (error).
        #[test]
        fn the_switch_kills_processes_and_runs_commands() {
            let dir = std::env::temp_dir().join(format!("hasim-power-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut child = Command::new("sleep").arg("30").spawn().unwrap();
            let pidfile = dir.join("n1.pid");
            std::fs::write(&pidfile, format!("{}\n", child.id())).unwrap();
            let marker = dir.join("n2.off");
            let mut switch = ProcessSwitch {
                machines: BTreeMap::from([
                    ("n1".to_string(), Machine::Pidfile(pidfile.clone())),
                    (
                        "n2".to_string(),
                        Machine::Command(format!(
                            "echo $HASIM_ACTION $HASIM_MACHINE > {}",
                            marker.display()
                        )),
                    ),
                    ("n3".to_string(), Machine::Command("exit 3".into())),
                ]),
            };
            assert_eq!(switch.switch("n1", false), Ok(false));
            let status = child.wait().unwrap();
            assert!(!status.success(), "killed: {status}");
            assert_eq!(switch.switch("n1", false), Ok(false), "already gone");
            assert!(switch.switch("n1", true).is_err());
            assert_eq!(switch.switch("n2", false), Ok(false));
            assert_eq!(std::fs::read_to_string(&marker).unwrap(), "off n2\n");
            assert!(switch.switch("n3", false).unwrap_err().contains("exited"));
            assert!(switch.switch("n4", false).is_err());
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
