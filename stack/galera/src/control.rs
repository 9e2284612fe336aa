//! What the galera resource agent asks of mysqld on its node, and the
//! answers, as one text line each: the commands the agent runs
//! (`mysqld_safe --wsrep-recover`, `mysql -e "SHOW STATUS LIKE
//! 'wsrep_%'"`, starting mysqld with or without `--wsrep-new-cluster`,
//! killing it). The node daemon answers them; the agent model reads the
//! answers. One module so both sides agree on the format.

/// A command of the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `mysqld_safe --wsrep-recover`, with `grastate.dat` read first
    /// (`detect_safe_to_bootstrap`, `detect_last_commit`). Only when
    /// mysqld is not running.
    Recover,
    /// `wsrep_cluster_status` and whether mysqld runs.
    Status,
    /// Start mysqld: `--wsrep-cluster-address=gcomm://` (a new cluster)
    /// or the configured address (join).
    Start { new_cluster: bool },
    /// Stop mysqld (a clean shutdown writes `grastate.dat`'s seqno).
    Stop,
}

impl Command {
    pub fn render(self) -> String {
        match self {
            Command::Recover => "recover".into(),
            Command::Status => "status".into(),
            Command::Start { new_cluster: true } => "start new-cluster".into(),
            Command::Start { new_cluster: false } => "start join".into(),
            Command::Stop => "stop".into(),
        }
    }

    pub fn parse(line: &str) -> Result<Command, String> {
        match line.trim() {
            "recover" => Ok(Command::Recover),
            "status" => Ok(Command::Status),
            "start new-cluster" => Ok(Command::Start { new_cluster: true }),
            "start join" => Ok(Command::Start { new_cluster: false }),
            "stop" => Ok(Command::Stop),
            other => Err(format!(
                "galera control: expected recover, status, start new-cluster, start join or stop, found {other:?}"
            )),
        }
    }
}

/// What `Recover` finds on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// `grastate.dat`'s seqno (`None`: no file).
    pub grastate_seqno: Option<i64>,
    /// The last committed seqno: grastate's, or `--wsrep-recover`'s when
    /// the file says −1 or is missing.
    pub last_commit: i64,
    /// The agent's reading of `safe_to_bootstrap` (`None`: cleared).
    pub safe_to_bootstrap: Option<bool>,
}

/// An answer of the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Recovered(Recovery),
    /// mysqld is not running.
    Stopped,
    /// mysqld runs; `primary`: `wsrep_cluster_status` is Primary (and the
    /// node synced: this model has no separate donor/joiner states).
    Running {
        primary: bool,
        seqno: i64,
    },
    Ok,
    Error(String),
}

fn flag(f: Option<bool>) -> &'static str {
    match f {
        Some(true) => "1",
        Some(false) => "0",
        None => "-",
    }
}

impl Answer {
    pub fn render(&self) -> String {
        match self {
            Answer::Recovered(r) => format!(
                "recovered grastate={} commit={} safe={}",
                r.grastate_seqno
                    .map_or("none".to_string(), |s| s.to_string()),
                r.last_commit,
                flag(r.safe_to_bootstrap)
            ),
            Answer::Stopped => "stopped".into(),
            Answer::Running { primary, seqno } => format!(
                "running {} seqno={seqno}",
                if *primary { "primary" } else { "non-primary" }
            ),
            Answer::Ok => "ok".into(),
            Answer::Error(e) => format!("error {e}"),
        }
    }

    pub fn parse(line: &str) -> Result<Answer, String> {
        let bad = || format!("galera control: unreadable answer {line:?}");
        let mut words = line.split_whitespace();
        let answer = match words.next() {
            Some("recovered") => {
                let mut field = |key: &str| {
                    words
                        .next()
                        .and_then(|w| w.strip_prefix(key))
                        .map(str::to_string)
                        .ok_or_else(bad)
                };
                let grastate = field("grastate=")?;
                let commit = field("commit=")?;
                let safe = field("safe=")?;
                Answer::Recovered(Recovery {
                    grastate_seqno: match grastate.as_str() {
                        "none" => None,
                        s => Some(s.parse().map_err(|_| bad())?),
                    },
                    last_commit: commit.parse().map_err(|_| bad())?,
                    safe_to_bootstrap: match safe.as_str() {
                        "1" => Some(true),
                        "0" => Some(false),
                        "-" => None,
                        _ => return Err(bad()),
                    },
                })
            }
            Some("stopped") => Answer::Stopped,
            Some("running") => {
                let primary = match words.next() {
                    Some("primary") => true,
                    Some("non-primary") => false,
                    _ => return Err(bad()),
                };
                let seqno = words
                    .next()
                    .and_then(|w| w.strip_prefix("seqno="))
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(bad)?;
                Answer::Running { primary, seqno }
            }
            Some("ok") => Answer::Ok,
            Some("error") => Answer::Error(line["error".len()..].trim().to_string()),
            _ => return Err(bad()),
        };
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_answers_round_trip() {
        for c in [
            Command::Recover,
            Command::Status,
            Command::Start { new_cluster: true },
            Command::Start { new_cluster: false },
            Command::Stop,
        ] {
            assert_eq!(Command::parse(&c.render()), Ok(c));
        }
        let answers = [
            Answer::Recovered(Recovery {
                grastate_seqno: None,
                last_commit: 41,
                safe_to_bootstrap: None,
            }),
            Answer::Recovered(Recovery {
                grastate_seqno: Some(-1),
                last_commit: 7,
                safe_to_bootstrap: Some(false),
            }),
            Answer::Stopped,
            Answer::Running {
                primary: false,
                seqno: 3,
            },
            Answer::Ok,
            Answer::Error("grastate.dat:2: expected uuid".into()),
        ];
        for a in answers {
            assert_eq!(Answer::parse(&a.render()), Ok(a));
        }
    }

    #[test]
    fn unreadable_lines_are_errors_naming_what_was_expected() {
        assert!(Command::parse("reboot")
            .unwrap_err()
            .contains("expected recover"));
        assert!(Answer::parse("recovered commit=1").is_err());
        assert!(Answer::parse("running maybe seqno=1").is_err());
        assert!(Answer::parse("").is_err());
    }
}
