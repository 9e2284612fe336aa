//! The `hasim` command line: exit codes and error messages.

use std::process::Command;

fn hasim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hasim"))
}

#[cfg_attr(not(madsim), allow(dead_code))]
fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hasim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bad_usage_exits_2() {
    let out = hasim().args(["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(madsim)]
mod sim {
    use super::*;

    fn scenario(name: &str) -> String {
        format!("{}/../scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn bad_scenario_names_file_and_line_and_exits_2() {
        let path = temp_file(
            "bad.toml",
            "name = \"x\"\nduration = \"1s\"\nsegmentz = 3\n",
        );
        let out = hasim().arg("run").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.toml:3:1"), "{err}");
        assert!(err.contains("segmentz"), "{err}");
    }

    /// Seed 003's story: both tellings' reports, then one table in which
    /// Keepalived breaks single-vip-owner and Pacemaker with fencing holds it.
    #[test]
    fn a_story_prints_both_tellings_side_by_side() {
        let story = scenario("keepalived-vs-pacemaker.toml");
        let out = hasim()
            .args(["run", &story, "--seed", "1"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("== keepalived (1 of 2)"), "{text}");
        assert!(text.contains("== pacemaker+stonith (2 of 2)"), "{text}");
        let table = text
            .split("story keepalived-vs-pacemaker, seed 1")
            .nth(1)
            .expect("comparison table");
        let row = |name: &str| {
            let line = table.lines().find(|l| l.trim_start().starts_with(name));
            line.unwrap_or_else(|| panic!("no {name} row:\n{table}"))
                .split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
        };
        assert_eq!(row("single-vip-owner"), ["BROKEN", "held"]);
        assert_eq!(row("fenced-before-recovery"), ["-", "held"]);
        assert_eq!(row("expectation"), ["met", "met"]);
        // Outputs of one scenario's run are refused, naming the tellings.
        let out = hasim()
            .args(["run", &story, "--trace", "/dev/null"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--trace applies to one scenario"), "{err}");
        assert!(
            err.contains("keepalived-vs-pacemaker-pacemaker.toml"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_story_names_file_and_line() {
        let path = temp_file(
            "story.toml",
            "[story]\nname = \"s\"\n[[story.telling]]\nlabel = \"a\"\nscenario = \"nowhere.toml\"\n",
        );
        let out = hasim().arg("run").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nowhere.toml"), "{err}");
        let path = temp_file("story2.toml", "[story]\nname = \"s\"\ntelling = 3\n");
        let out = hasim().arg("run").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("story2.toml:3:"), "{err}");
    }

    #[test]
    fn expected_split_brain_exits_0_and_prints_hash() {
        let out = hasim()
            .args([
                "run",
                &scenario("keepalived-split-brain.toml"),
                "--seed",
                "1",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("split brain on 192.168.122.100: lb1 and lb2"),
            "{text}"
        );
        let hash = text
            .lines()
            .find_map(|l| l.strip_prefix("trace hash: "))
            .unwrap();
        assert!(hash.len() >= 16 && hash.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn unexpected_outcome_exits_1_with_replay_line() {
        let text = std::fs::read_to_string(scenario("keepalived-split-brain.toml")).unwrap();
        let wrong = text.replace("broken = [\"single-vip-owner\"]", "");
        let path = temp_file("wrong.toml", &wrong);
        let out = hasim()
            .arg("run")
            .arg(&path)
            .args(["--seed", "4"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("UNEXPECTED"), "{stdout}");
        assert!(stdout.contains("hasim replay"), "{stdout}");
        assert!(stdout.contains("--seed 4"), "{stdout}");
    }

    #[test]
    fn replay_writes_the_same_trace_as_run() {
        let a = temp_file("a.jsonl", "");
        let b = temp_file("b.jsonl", "");
        let s = scenario("keepalived-split-brain.toml");
        let run = hasim()
            .args(["run", &s, "--seed", "9", "--trace"])
            .arg(&a)
            .output()
            .unwrap();
        let replay = hasim()
            .args(["replay", &s, "--seed", "9", "--trace"])
            .arg(&b)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0));
        assert_eq!(replay.status.code(), Some(0));
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let hash = |o: &std::process::Output| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with("trace hash: "))
                .map(String::from)
        };
        assert!(hash(&run).is_some());
        assert_eq!(hash(&run), hash(&replay));
    }

    #[test]
    fn campaign_summarises_and_exits_0() {
        let out = hasim()
            .args([
                "run",
                &scenario("keepalived-nemesis.toml"),
                "--seeds",
                "1..8",
                "--jobs",
                "2",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("8 runs, 8 met their expectation"), "{text}");
        assert!(text.contains("distinct fault timelines: 8"), "{text}");
    }
}
