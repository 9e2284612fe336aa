//! What the core reports to its driver: states, reasons, destinations and
//! actions.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;

/// Instance state, named as keepalived logs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not started yet (keepalived's INIT).
    Init,
    /// Listening for a master.
    Backup,
    /// Holding the virtual addresses and advertising.
    Master,
    /// Shut down (keepalived's internal STOP state, used for its "STOP"
    /// notifications).
    Stop,
}

/// Why a transition happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// `start`: keepalived enters BACKUP at init unless it is the owner.
    Startup,
    /// The address owner (priority 255, state MASTER) goes MASTER right
    /// after start (keepalived: after a 1 µs master-down timer).
    AddressOwner,
    /// No advert from a master within Master_Down_Interval.
    MasterDownTimerExpired,
    /// The down timer ran out after this backup discarded adverts from a
    /// lower-priority master (preemption).
    PreemptedLowerPriorityMaster,
    /// The master said priority 0 and this backup took over after its skew.
    PriorityZeroAdvert,
    /// A master heard an advert with a higher priority.
    HigherPriorityAdvert,
    /// A master heard an advert with its own priority from a higher address.
    EqualPriorityHigherAddress,
    /// `shutdown`.
    Shutdown,
}

/// Where an advert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// The VRRP group 224.0.0.18.
    Multicast,
    /// A configured `unicast_peer`.
    Unicast(Ipv4Addr),
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send a VRRPv3 message (no IP header; its checksum is computed for
    /// source `primary_ip` and this destination's address).
    Send { dest: Destination, packet: Vec<u8> },
    /// Configure the virtual addresses on the interface.
    AddVips(Vec<Ipv4Addr>),
    /// Remove the virtual addresses.
    RemoveVips(Vec<Ipv4Addr>),
    /// Send one gratuitous ARP for each address (one action per repeat).
    GratuitousArp(Vec<Ipv4Addr>),
    /// The state changed (placed where keepalived logs "Entering ... STATE").
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Stop => "STOP",
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Startup => "startup",
            Reason::AddressOwner => "address owner",
            Reason::MasterDownTimerExpired => "master down timer expired",
            Reason::PreemptedLowerPriorityMaster => "preempted lower priority master",
            Reason::PriorityZeroAdvert => "priority 0 advert",
            Reason::HigherPriorityAdvert => "higher priority advert",
            Reason::EqualPriorityHigherAddress => "equal priority, higher address",
            Reason::Shutdown => "shutdown",
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Multicast => f.write_str("multicast 224.0.0.18"),
            Destination::Unicast(ip) => write!(f, "unicast {ip}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_serde_names() {
        assert_eq!(State::Master.to_string(), "MASTER");
        assert_eq!(State::Backup.to_string(), "BACKUP");
        assert_eq!(Reason::PriorityZeroAdvert.to_string(), "priority 0 advert");
        assert_eq!(
            serde_json::to_string(&State::Backup).expect("serialises"),
            "\"BACKUP\""
        );
        let a = Action::StateChanged {
            from: State::Backup,
            to: State::Master,
            reason: Reason::MasterDownTimerExpired,
        };
        let json = serde_json::to_string(&a).expect("serialises");
        assert_eq!(
            json,
            r#"{"state_changed":{"from":"BACKUP","to":"MASTER","reason":"master_down_timer_expired"}}"#
        );
        let back: Action = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, a);
        assert_eq!(
            serde_json::to_string(&Destination::Unicast(Ipv4Addr::new(10, 0, 0, 2)))
                .expect("serialises"),
            r#"{"unicast":"10.0.0.2"}"#
        );
    }
}
