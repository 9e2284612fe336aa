//! `ocf:heartbeat:galera` (resource-agents `heartbeat/galera.in`), as a
//! script the executor runs step by step.
//!
//! Unlike the other models, galera's actions talk to the world: they run
//! commands against mysqld on the node ([`Ask::Mysqld`]), read every
//! node's transient attributes ([`Ask::Attrs`], `crm_attribute -l reboot
//! --query`), ask whether a promoted instance runs anywhere ([`Ask::Promoted`],
//! `crm_mon`'s view) and sleep ([`Ask::Sleep`], `wait_for_sync`). Each of
//! those is asynchronous, so an action is a pure function of the answers
//! it got so far ([`step`]): it runs from the top, replaying the recorded
//! answers, until it needs one it does not have, and returns that
//! question. The executor asks it, records the answer and calls again.
//! Attribute writes (`crm_attribute -v/-D`, `crm_master`) are effects the
//! executor sends to the attribute manager as they appear.
//!
//! Roles: unpromoted = mysqld stopped with the `-last-committed` attribute
//! set; promoted = mysqld running in the primary component. The bootstrap
//! choice is [`hasim_galera::choose_bootstrap`].

use std::collections::BTreeMap;
use std::time::Duration;

use hasim_galera::bootstrap::{parse_cluster_address, BootstrapChoice, NodeReport};
use hasim_galera::control::{Answer as Mysqld, Command};

use crate::model::{AgentState, Effect};
use crate::rc;

/// A question the action needs answered before it can go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// A command to mysqld on this node.
    Mysqld(Command),
    /// Every node's value of these transient attributes.
    Attrs(Vec<String>),
    /// Whether a promoted, active, not failed instance of the resource
    /// runs on some node (`master_exists`: `crm_mon`'s view of the CIB).
    Promoted,
    /// Come back after this long.
    Sleep(Duration),
}

/// The answer to an [`Ask`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Mysqld(Mysqld),
    /// Attribute name → node → value.
    Attrs(BTreeMap<String, BTreeMap<String, String>>),
    Promoted(bool),
    Woke,
}

/// Where an action is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// It needs this answered.
    Ask(Ask),
    /// It finished with this rc, leaving the resource in this state.
    Done(i32, AgentState),
}

/// One action of the agent.
#[derive(Clone, Debug)]
pub struct Action<'a> {
    /// The resource id (`INSTANCE_ATTR_NAME`).
    pub rsc: &'a str,
    /// The node it runs on (`NODENAME`).
    pub node: &'a str,
    /// start, stop, monitor, promote, demote.
    pub op: &'a str,
    /// Probe: a monitor with interval 0.
    pub probe: bool,
    pub params: &'a BTreeMap<String, String>,
}

/// What the action did so far: every effect and log line from its start
/// (the executor carries out the ones it has not carried out yet).
#[derive(Debug, Default)]
pub struct Run {
    pub effects: Vec<Effect>,
    pub log: Vec<String>,
}

/// Run `action` with the `answers` it got so far.
pub fn step(action: &Action<'_>, answers: &[Answer]) -> (Progress, Run) {
    let mut s = Script {
        a: action,
        answers,
        used: 0,
        run: Run::default(),
    };
    let progress = match s.op() {
        Ok((code, state)) => Progress::Done(code, state),
        Err(Pending(ask)) => Progress::Ask(ask),
    };
    (progress, s.run)
}

/// An unanswered question (the `Err` of every script step).
struct Pending(Ask);
type Step<T> = Result<T, Pending>;

struct Script<'a, 'b> {
    a: &'b Action<'a>,
    answers: &'b [Answer],
    used: usize,
    run: Run,
}

/// `OCF_SUCCESS` etc. with the role the resource is left in.
type Outcome = (i32, AgentState);

impl Script<'_, '_> {
    fn ask(&mut self, q: Ask) -> Step<Answer> {
        let Some(a) = self.answers.get(self.used) else {
            return Err(Pending(q));
        };
        self.used += 1;
        Ok(a.clone())
    }

    fn mysqld(&mut self, c: Command) -> Step<Mysqld> {
        match self.ask(Ask::Mysqld(c))? {
            Answer::Mysqld(m) => Ok(m),
            other => Ok(Mysqld::Error(format!("unexpected answer {other:?}"))),
        }
    }

    fn log(&mut self, text: String) {
        self.run.log.push(text);
    }

    fn attr_name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.a.rsc)
    }

    fn master_name(&self) -> String {
        format!("master-{}", self.a.rsc)
    }

    fn set(&mut self, target: &str, name: String, value: Option<String>) {
        self.run.effects.push(Effect::Attr {
            target: target.to_string(),
            name,
            value,
        });
    }

    fn set_local(&mut self, suffix: &str, value: Option<String>) {
        let (node, name) = (self.a.node.to_string(), self.attr_name(suffix));
        self.set(&node, name, value);
    }

    fn set_master_score(&mut self, target: &str) {
        let name = self.master_name();
        self.set(target, name, Some("100".into()));
    }

    fn clear_master_score(&mut self) {
        let (node, name) = (self.a.node.to_string(), self.master_name());
        self.set(&node, name, None);
    }

    fn cluster(&self) -> Vec<String> {
        self.a
            .params
            .get("wsrep_cluster_address")
            .and_then(|a| parse_cluster_address(a).ok())
            .unwrap_or_default()
    }

    /// Every node's values of the agent's attributes.
    fn attrs(&mut self) -> Step<BTreeMap<String, BTreeMap<String, String>>> {
        let names = [
            "last-committed",
            "safe-to-bootstrap",
            "no-grastate",
            "bootstrap",
        ]
        .iter()
        .map(|s| self.attr_name(s))
        .collect();
        match self.ask(Ask::Attrs(names))? {
            Answer::Attrs(v) => Ok(v),
            _ => Ok(BTreeMap::new()),
        }
    }

    fn attr(
        &self,
        all: &BTreeMap<String, BTreeMap<String, String>>,
        node: &str,
        suffix: &str,
    ) -> Option<String> {
        all.get(&self.attr_name(suffix))?.get(node).cloned()
    }

    fn master_exists(&mut self) -> Step<bool> {
        if self.a.op == "demote" {
            return Ok(false);
        }
        Ok(matches!(self.ask(Ask::Promoted)?, Answer::Promoted(true)))
    }

    fn op(&mut self) -> Step<Outcome> {
        if self.cluster().is_empty() {
            self.log("galera must be configured with a wsrep_cluster_address value".into());
            return Ok(match self.a.op {
                "stop" => (rc::OK, AgentState::Stopped),
                "monitor" => (rc::NOT_RUNNING, AgentState::Stopped),
                _ => (rc::ERR_CONFIGURED, AgentState::Stopped),
            });
        }
        match self.a.op {
            "start" => self.start(),
            "stop" => self.stop(),
            "monitor" => self.monitor().map(|c| (c, state_of(c))),
            "promote" => self.promote(),
            "demote" => self.demote(),
            _ => Ok((rc::UNIMPLEMENTED, AgentState::Stopped)),
        }
    }

    fn start(&mut self) -> Step<Outcome> {
        let node = self.a.node.to_string();
        if !self.cluster().contains(&node) {
            self.log(format!(
                "local node <{node}> must be a member of the wsrep_cluster_address to start this galera instance"
            ));
            return Ok((rc::ERR_CONFIGURED, AgentState::Stopped));
        }
        if self.monitor()? == rc::RUNNING_PROMOTED {
            self.log("master galera instance started outside of the cluster's control".into());
            return Ok((rc::ERR_GENERIC, AgentState::Failed));
        }
        let code = self.detect_last_commit()?;
        if code != rc::OK {
            return Ok((code, AgentState::Stopped));
        }
        if self.master_exists()? {
            self.log("Master instances are already up, setting master score so this instance will join galera cluster.".into());
            self.set_master_score(&node);
        } else {
            self.clear_master_score();
            self.detect_first_master()?;
        }
        Ok((rc::OK, AgentState::Started))
    }

    fn stop(&mut self) -> Step<Outcome> {
        let stopped = self.mysqld(Command::Stop)?;
        for suffix in ["safe-to-bootstrap", "last-committed"] {
            self.set_local(suffix, None);
        }
        self.clear_master_score();
        for suffix in ["bootstrap", "no-grastate"] {
            self.set_local(suffix, None);
        }
        Ok(match stopped {
            Mysqld::Error(e) => {
                self.log(format!("could not stop mysqld: {e}"));
                (rc::ERR_GENERIC, AgentState::Failed)
            }
            _ => (rc::OK, AgentState::Stopped),
        })
    }

    /// `galera_monitor`: its rc.
    fn monitor(&mut self) -> Step<i32> {
        match self.mysqld(Command::Status)? {
            Mysqld::Stopped => {
                let node = self.a.node.to_string();
                let all = self.attrs()?;
                if self.attr(&all, &node, "last-committed").is_none() {
                    return Ok(rc::NOT_RUNNING);
                }
                if self.master_exists()? {
                    self.set_master_score(&node);
                } else {
                    self.detect_first_master()?;
                }
                Ok(rc::OK)
            }
            Mysqld::Running { primary: true, .. } => {
                if self.a.probe {
                    let node = self.a.node.to_string();
                    self.set_master_score(&node);
                }
                Ok(rc::RUNNING_PROMOTED)
            }
            Mysqld::Running { primary: false, .. } => {
                let joining = self.a.op == "promote" && !self.is_bootstrap()?;
                if joining {
                    self.log(format!(
                        "local node <{}> is receiving a State Transfer.",
                        self.a.node
                    ));
                    return Ok(rc::OK);
                }
                self.log(format!(
                    "local node <{}> is started, but not in primary mode. Unknown state.",
                    self.a.node
                ));
                Ok(rc::ERR_GENERIC)
            }
            other => {
                self.log(format!("mysqld status: {}", other.render()));
                Ok(rc::ERR_GENERIC)
            }
        }
    }

    fn is_bootstrap(&mut self) -> Step<bool> {
        let node = self.a.node.to_string();
        let all = self.attrs()?;
        Ok(self.attr(&all, &node, "bootstrap").as_deref() == Some("true"))
    }

    /// `detect_safe_to_bootstrap` + `detect_last_commit`.
    fn detect_last_commit(&mut self) -> Step<i32> {
        let rec = match self.mysqld(Command::Recover)? {
            Mysqld::Recovered(r) => r,
            other => {
                self.log(format!(
                    "Unable to detect last known write sequence number: {}",
                    other.render()
                ));
                self.set_local("last-committed", None);
                return Ok(rc::ERR_GENERIC);
            }
        };
        let safe = rec
            .safe_to_bootstrap
            .map(|s| if s { "1" } else { "0" }.to_string());
        self.set_local("safe-to-bootstrap", safe);
        if rec.grastate_seqno.is_none() {
            self.set_local("no-grastate", Some("true".into()));
        }
        self.log(format!("Last commit version found:  {}", rec.last_commit));
        self.set_local("last-committed", Some(rec.last_commit.to_string()));
        Ok(rc::OK)
    }

    /// `detect_first_master`, the rule being [`hasim_galera::choose_bootstrap`].
    fn detect_first_master(&mut self) -> Step<()> {
        let cluster = self.cluster();
        let all = self.attrs()?;
        let reports: BTreeMap<String, NodeReport> = cluster
            .iter()
            .map(|n| {
                let report = NodeReport {
                    safe_to_bootstrap: self.attr(&all, n, "safe-to-bootstrap").map(|v| v == "1"),
                    last_commit: self
                        .attr(&all, n, "last-committed")
                        .and_then(|v| v.parse().ok()),
                    no_grastate: self.attr(&all, n, "no-grastate").as_deref() == Some("true"),
                };
                (n.clone(), report)
            })
            .collect();
        let seen: Vec<String> = cluster
            .iter()
            .map(|n| match reports[n].last_commit {
                Some(c) => format!("{n}={c}"),
                None => format!("{n}=?"),
            })
            .collect();
        match hasim_galera::choose_bootstrap(&cluster, &reports, None) {
            BootstrapChoice::Waiting { missing } => {
                self.log(format!(
                    "Waiting on node <{}> to report database status before Master instances can start (last-committed {})",
                    missing.join(">, <"),
                    seen.join(" ")
                ));
            }
            BootstrapChoice::Node(best) => {
                self.log(format!(
                    "Promoting {best} to be our bootstrap node (last-committed {})",
                    seen.join(" ")
                ));
                let name = self.attr_name("bootstrap");
                self.set(&best, name, Some("true".into()));
                self.set_master_score(&best);
            }
        }
        Ok(())
    }

    fn promote_everyone(&mut self) {
        for n in self.cluster() {
            self.set_master_score(&n);
        }
    }

    fn promote(&mut self) -> Step<Outcome> {
        let (bootstrap, joining) = if self.master_exists()? {
            (false, true)
        } else if self.is_bootstrap()? {
            self.log(format!(
                "Node <{}> is bootstrapping the cluster",
                self.a.node
            ));
            (true, false)
        } else {
            self.log("There is no running cluster to join, demoting ourself".into());
            self.clear_master_score();
            return Ok((rc::OK, AgentState::Started));
        };
        if self.monitor()? == rc::RUNNING_PROMOTED {
            if bootstrap {
                self.promote_everyone();
                self.set_local("bootstrap", None);
            }
            self.set_local("safe-to-bootstrap", None);
            self.set_local("last-committed", None);
            return Ok((rc::OK, AgentState::Promoted));
        }
        self.set_local("last-committed", None);
        self.set_local("safe-to-bootstrap", None);
        let started = self.mysqld(Command::Start {
            new_cluster: bootstrap && !joining,
        })?;
        if let Mysqld::Error(e) = started {
            self.log(format!("mysqld did not start: {e}"));
            return Ok((rc::ERR_GENERIC, AgentState::Failed));
        }
        let code = self.monitor()?;
        if code != rc::OK && code != rc::RUNNING_PROMOTED {
            self.log("Failed initial monitor action".into());
            return Ok((code, AgentState::Failed));
        }
        if bootstrap {
            self.promote_everyone();
            self.set_local("bootstrap", None);
            self.set_local("no-grastate", None);
            self.log("Bootstrap complete, promoting the rest of the galera instances.".into());
        } else {
            if self.wait_for_sync()? != rc::OK {
                return Ok((rc::ERR_GENERIC, AgentState::Failed));
            }
            self.set_local("no-grastate", None);
        }
        Ok((rc::OK, AgentState::Promoted))
    }

    /// Poll `wsrep_local_state` every second until synced (the executor's
    /// timeout ends a wait that never succeeds; a joiner's mysqld that
    /// reaches no primary component aborts after `pc.wait_prim_timeout`).
    /// mysqld gone meanwhile is `mysql_common_start`'s "MySQL server failed
    /// to start": a generic error.
    fn wait_for_sync(&mut self) -> Step<i32> {
        loop {
            match self.mysqld(Command::Status)? {
                Mysqld::Running { primary: true, .. } => return Ok(rc::OK),
                Mysqld::Running { .. } => {}
                other => {
                    self.log(format!("MySQL server failed to start: {}", other.render()));
                    return Ok(rc::ERR_GENERIC);
                }
            }
            self.ask(Ask::Sleep(Duration::from_secs(1)))?;
        }
    }

    fn demote(&mut self) -> Step<Outcome> {
        if let Mysqld::Error(e) = self.mysqld(Command::Stop)? {
            self.log(format!(
                "Failed to stop Master galera instance during demotion: {e}"
            ));
            return Ok((rc::ERR_GENERIC, AgentState::Failed));
        }
        for suffix in [
            "bootstrap",
            "last-committed",
            "no-grastate",
            "safe-to-bootstrap",
        ] {
            self.set_local(suffix, None);
        }
        self.clear_master_score();
        let code = self.detect_last_commit()?;
        Ok((code, AgentState::Started))
    }
}

/// The state a monitor's rc reports.
fn state_of(code: i32) -> AgentState {
    match code {
        rc::NOT_RUNNING => AgentState::Stopped,
        rc::OK => AgentState::Started,
        rc::RUNNING_PROMOTED => AgentState::Promoted,
        _ => AgentState::Failed,
    }
}

#[cfg(test)]
mod tests;
