//! `hasim run --seeds` with `--shard`, `hasim merge`, Ctrl-C, `shrink` and
//! `sweep` from the command line.
#![cfg(madsim)]

use std::process::{Command, Stdio};

fn hasim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hasim"))
}

fn scenario(name: &str) -> String {
    format!("{}/../scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hasim-cli-tools-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn merged_shard_summaries_equal_the_unsharded_one() {
    let path = scenario("keepalived-nemesis.toml");
    let whole = temp("whole.json");
    let run = |extra: &[&str], json: &std::path::Path| {
        let out = hasim()
            .args(["run", &path, "--seeds", "1..10", "--jobs", "2", "--json"])
            .arg(json)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[], &whole);
    let shards: Vec<_> = (1..=3).map(|k| temp(&format!("shard{k}.json"))).collect();
    for (k, file) in shards.iter().enumerate() {
        run(&["--shard", &format!("{}/3", k + 1)], file);
    }
    let merged = temp("merged.json");
    let out = hasim()
        .arg("merge")
        .args(&shards)
        .arg("--json")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("10 runs, 10 met their expectation"));
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    assert_eq!(read(&merged), read(&whole));
    // A missing shard is bad input.
    let out = hasim().arg("merge").args(&shards[..2]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing shards: 3/3"));
}

#[test]
fn merge_names_the_file_that_is_not_a_summary() {
    let bad = temp("bad.json");
    std::fs::write(&bad, "{\n  \"scenario\": 3\n}\n").unwrap();
    let out = hasim().arg("merge").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json:2:"), "{err}");
}

#[test]
fn ctrl_c_prints_the_partial_summary_and_exits_130() {
    let child = hasim()
        .args([
            "run",
            &scenario("keepalived-nemesis.toml"),
            "--seeds",
            "1..1000000",
            "--jobs",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("campaign keepalived-nemesis:"), "{text}");
    assert!(text.contains("INTERRUPTED: partial summary"), "{text}");
}

#[test]
fn shrink_writes_a_scenario_and_a_replay_line() {
    let text = std::fs::read_to_string(scenario("keepalived-nemesis.toml"))
        .unwrap()
        .replace(
            "may_break = [\"single-vip-owner\", \"vip-available\"]",
            "may_break = [\"vip-available\"]",
        );
    let strict = temp("strict.toml");
    std::fs::write(&strict, text).unwrap();
    let shrunk = temp("shrunk.toml");
    let out = hasim()
        .args(["shrink"])
        .arg(&strict)
        .args(["--seed", "2", "--out"])
        .arg(&shrunk)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("replay: hasim run {} --seed 2", shrunk.display())));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shrink: run"));
    let run = hasim()
        .arg("run")
        .arg(&shrunk)
        .args(["--seed", "2"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stdout).contains("single-vip-owner   BROKEN  UNEXPECTED"));
}
