//! The README's commands, as written.
//!
//! Every command line in a ```sh block of README.md is classified and
//! checked, so a README edit that adds a command this test does not know
//! fails here until it is covered:
//! - `hasim ...` (or `cargo run --release -p hasim -- ...`): single runs,
//!   replays, `schedule` and one-case `conformance` run as written from the
//!   repository root (outputs such as `--trace run.jsonl` go to a temporary
//!   directory instead) and must exit 0. Campaigns run their first two seeds
//!   only (`--seeds 1..500` becomes `1..2`) to keep the suite fast; the full
//!   corpus `conformance` runs one case. `node ...` commands need the
//!   real-mode build: in this build they must parse and say so.
//! - `cargo install`, `cargo bench`, `cargo real ...`, `bash .ci/test`:
//!   what they name (the package, bench, alias, script) must exist.
//!
//! The report and the story table printed under "Two commands" must match
//! the real run: same verdict lines, table rows and trace hash.
#![cfg(madsim)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// Command lines of the ```sh blocks, continuations joined, comments dropped.
fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = line.split(" #").next().unwrap_or("").trim();
        if code.starts_with('#') || code.is_empty() {
            continue;
        }
        if let Some(head) = code.strip_suffix('\\') {
            pending += head;
            pending.push(' ');
            continue;
        }
        out.push(format!("{pending}{code}"));
        pending.clear();
    }
    out
}

/// The arguments after `hasim` in a command, if it runs hasim.
fn hasim_args(command: &str) -> Option<(bool, Vec<String>)> {
    let words: Vec<String> = command.split_whitespace().map(String::from).collect();
    let real = words
        .first()
        .is_some_and(|w| w == "target/real/debug/hasim");
    let skip = if words
        .starts_with(&["cargo", "run", "--release", "-p", "hasim", "--"].map(String::from))
    {
        6
    } else if words.first().is_some_and(|w| w == "hasim") || real {
        1
    } else {
        return None;
    };
    Some((real, words[skip..].to_vec()))
}

fn hasim(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// The command as this test runs it: outputs redirected, campaigns cut to
/// two seeds, the full conformance corpus cut to one case.
fn adapt(args: &[String], scratch: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        out.push(a.clone());
        match a.as_str() {
            // `merge` reads what earlier commands wrote to the scratch folder.
            name if args.first().is_some_and(|c| c == "merge") && name.ends_with(".json") => {
                out.pop();
                out.push(scratch.join(name).display().to_string());
            }
            "--trace" | "--json" | "--junit" | "--html" | "--svg" | "--csv" | "--out" => {
                let name = it.next().cloned().unwrap_or_default();
                out.push(scratch.join(name).display().to_string());
            }
            "--seeds" => {
                let range = it.next().cloned().unwrap_or_default();
                let first = range.split("..").next().unwrap_or("1").to_string();
                let second = first.parse::<u64>().unwrap_or(1) + 1;
                out.push(format!("{first}..{second}"));
            }
            _ => {}
        }
    }
    if out == ["conformance"] {
        out.extend(["--case".to_string(), "1360".to_string()]);
    }
    out
}

fn check_hasim(real: bool, args: &[String], scratch: &Path) {
    if real || args.first().is_some_and(|a| a == "node") {
        let out = hasim(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("this is the simulator build"),
            "{args:?} did not parse: {err}"
        );
        // This build cannot run them, but the files they read must ship.
        for pair in args.windows(2) {
            if pair[0] == "--conf" || pair[0] == "--cib" {
                assert!(root().join(&pair[1]).is_file(), "{args:?}: no {}", pair[1]);
            }
        }
        return;
    }
    let adapted = adapt(args, scratch);
    let out = hasim(&adapted);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{adapted:?}: {err}");
    for a in adapted
        .iter()
        .filter(|a| a.starts_with(&scratch.display().to_string()))
    {
        assert!(Path::new(a).exists(), "{adapted:?} wrote no {a}");
    }
}

fn check_cargo(command: &str) {
    let words: Vec<&str> = command.split_whitespace().collect();
    let file = |p: &str| std::fs::read_to_string(root().join(p)).unwrap_or_default();
    match words.as_slice() {
        ["cargo", "install", "--path", path] => {
            assert!(file(&format!("{path}/Cargo.toml")).contains("name = \"hasim\""));
        }
        ["cargo", "bench", "-p", package, "--bench", name] => {
            // The package's manifest (benches/ or a stack/ crate) declares the bench.
            let manifests = std::iter::once(root().join("benches"))
                .chain(
                    std::fs::read_dir(root().join("stack"))
                        .unwrap()
                        .flatten()
                        .map(|e| e.path()),
                )
                .map(|dir| std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default());
            let declared = manifests
                .filter(|m| m.contains(&format!("name = \"{package}\"")))
                .any(|m| m.contains(&format!("name = \"{name}\"")));
            assert!(declared, "{package} has no bench {name}");
        }
        ["cargo", alias, ..] if *alias == "real" || *alias == "real-test" => {
            assert!(
                file(".cargo/config.toml").contains(&format!("{alias} = ")),
                "{alias}"
            );
        }
        ["bash", script] => assert!(root().join(script).is_file(), "{script}"),
        _ => panic!("README command not covered by this test: {command}"),
    }
}

#[test]
fn every_readme_command_runs_or_names_what_exists() {
    let scratch = std::env::temp_dir().join(format!("hasim-readme-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let all = commands(&readme());
    assert!(all.len() >= 15, "{all:?}");
    for command in &all {
        assert!(
            !command.contains('[') && !command.contains('<'),
            "placeholder in {command}"
        );
        match hasim_args(command) {
            Some((real, args)) => check_hasim(real, &args, &scratch),
            None => check_cargo(command),
        }
    }
}

/// The README's printed sample that starts with the line `first`, up to
/// the end of its block, and what `hasim run SCENARIO --seed 1` prints.
fn sample_and_run(first: &str, scenario: &str) -> (Vec<String>, String) {
    let sample: Vec<String> = readme()
        .lines()
        .skip_while(|l| !l.starts_with(first))
        .take_while(|l| !l.starts_with("```"))
        .map(String::from)
        .collect();
    let args: Vec<String> = ["run", scenario, "--seed", "1"].map(String::from).to_vec();
    let out = hasim(&args);
    (sample, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first command's comparison table, as printed under "Two commands".
#[test]
fn the_story_table_is_what_seed_1_prints() {
    let first = "story keepalived-vs-pacemaker, seed 1";
    let (sample, printed) = sample_and_run(first, "scenarios/keepalived-vs-pacemaker.toml");
    assert!(sample.len() > 5, "no story table in the README");
    let table = printed
        .split_once(first)
        .map(|(_, t)| t)
        .unwrap_or_default();
    for line in &sample[1..] {
        assert!(
            table.lines().any(|l| l == line),
            "README line not in the table: {line}\n{table}"
        );
    }
}

#[test]
fn the_sample_report_is_what_seed_1_prints() {
    let (sample, report) = sample_and_run(
        "scenario keepalived-split-brain  seed 1",
        "scenarios/keepalived-split-brain.toml",
    );
    assert!(sample.len() > 10, "no sample report in the README");
    for line in sample
        .iter()
        .filter(|l| !l.contains("...") && !l.starts_with("scenario "))
    {
        assert!(
            report.contains(line.trim_end()),
            "README line not in the report: {line}\n{report}"
        );
    }
}

#[test]
fn every_help_example_runs() {
    let scratch = std::env::temp_dir().join(format!("hasim-help-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut examples = Vec::new();
    for command in [&["--help"][..], &["run", "--help"], &["replay", "--help"]] {
        let args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        let help = String::from_utf8_lossy(&hasim(&args).stdout).to_string();
        examples.extend(
            help.lines()
                .filter_map(|l| l.trim().strip_prefix("hasim "))
                .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>()),
        );
    }
    assert!(examples.len() >= 9, "{examples:?}");
    for args in &examples {
        check_hasim(false, args, &scratch);
    }
}

/// The text of the YAML line or folded block (`run: >`, `- >`) in TOOLS.md
/// whose first line starts with `start`, its lines joined by spaces.
fn yaml_command(text: &str, start: &str) -> String {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(start));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no `{start}` in TOOLS.md"));
    let indent = first.len() - first.trim_start().len();
    let mut out = first.trim().to_string();
    for l in lines.take_while(|l| l.len() - l.trim_start().len() == indent && !l.trim().is_empty())
    {
        out.push(' ');
        out += l.trim();
    }
    out
}

/// A YAML command as this test runs it: `${{ matrix.shard }}` set to `shard`,
/// hasim from this build's path left to `hasim_args`.
fn matrix_command(command: &str, shard: &str) -> Vec<String> {
    let command = command
        .replace("${{ matrix.shard }}", shard)
        .replace("target/release/hasim", "hasim");
    hasim_args(&command).unwrap().1
}

/// scenarios/TOOLS.md's commands: its ```sh blocks run as the README's do
/// (but the Kubernetes merge over the cluster's volume, which the matrix's
/// merge stands for); the CI matrix's campaign runs for every shard of its
/// matrix (seeds cut as above, so most shards are empty) and its merge
/// gives byte for byte the summary of the same campaign unsharded; the
/// Kubernetes Job's command runs in `sh` with `JOB_COMPLETION_INDEX=0`.
#[test]
fn every_tools_md_command_runs() {
    let text = std::fs::read_to_string(root().join("scenarios/TOOLS.md")).unwrap();
    let scratch = std::env::temp_dir().join(format!("hasim-tools-md-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let sh = commands(&text);
    assert!(sh.len() >= 3, "{sh:?}");
    for command in sh.iter().filter(|c| !c.contains("/results/")) {
        let (real, args) = hasim_args(command).unwrap_or_else(|| panic!("not hasim: {command}"));
        check_hasim(real, &args, &scratch);
    }
    let matrix = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("shard: ["))
        .expect("no matrix in TOOLS.md");
    let shards: Vec<&str> = matrix.trim_end_matches(']').split(", ").collect();
    let campaign = yaml_command(&text, "target/release/hasim run");
    for k in &shards {
        check_hasim(false, &matrix_command(&campaign, k), &scratch);
    }
    let merge = yaml_command(&text, "- run: target/release/hasim merge");
    let (head, tail) = merge
        .split_once(" shard-*.json")
        .unwrap_or_else(|| panic!("merge of the matrix's shards: {merge}"));
    assert_eq!(head, "- run: target/release/hasim merge");
    let mut args = vec!["merge".to_string()];
    args.extend(shards.iter().map(|k| format!("shard-{k}.json")));
    args.extend(tail.split_whitespace().map(String::from));
    check_hasim(false, &args, &scratch);
    let whole = campaign
        .replace(" --shard ${{ matrix.shard }}/8", "")
        .replace("${{ matrix.shard }}", "whole");
    check_hasim(false, &matrix_command(&whole, ""), &scratch);
    let read = |name: &str| std::fs::read(scratch.join(name)).unwrap();
    assert!(read("campaign.json") == read("shard-whole.json"));
    // The Kubernetes Indexed Job's command, in a shell as the pod runs it.
    let job: Vec<String> = yaml_command(&text, "hasim run /hasim/scenarios/")
        .replacen("hasim ", "\"$HASIM\" ", 1)
        .replace("/hasim/scenarios/", "scenarios/")
        .replace("/results/", &format!("{}/k8s-", scratch.display()))
        .split(' ')
        .map(String::from)
        .collect();
    let job: Vec<String> = job
        .iter()
        .enumerate()
        .map(|(i, w)| match i.checked_sub(1).map(|p| job[p].as_str()) {
            Some("--seeds") => "1..2".to_string(),
            _ => w.clone(),
        })
        .collect();
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(job.join(" "))
        .env("HASIM", env!("CARGO_BIN_EXE_hasim"))
        .env("JOB_COMPLETION_INDEX", "0")
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{job:?}");
    assert!(scratch.join("k8s-shard-1.json").is_file(), "{job:?}");
    assert!(scratch.join("k8s-junit-1.xml").is_file(), "{job:?}");
}
