//! Every reproduction from issue 13 ("hostile and careless input"): each
//! ends with exit status 0, 1 or 2, a clear message, in bounded time.
//! Scenarios run in the simulator build only; the real-mode reproductions
//! are in `real_corosync.rs` and `real_vrrp.rs`.
#![cfg(madsim)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn hasim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hasim"))
}

/// Held while a child is spawned: a fork in another test thread would copy
/// the closed-stdout test's pipe into a child and keep the pipe open.
static SPAWN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn spawn(cmd: &mut Command) -> std::process::Child {
    let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
    cmd.spawn().unwrap()
}

/// `output()`, spawned under [`SPAWN`].
trait LockedOutput {
    fn locked_output(&mut self) -> Output;
}

impl LockedOutput for Command {
    fn locked_output(&mut self) -> Output {
        spawn(self.stdout(Stdio::piped()).stderr(Stdio::piped()))
            .wait_with_output()
            .unwrap()
    }
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// A directory of its own per test, beside nothing else.
fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hasim-hostile-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Run `cmd` with a time bound; its output.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let started = Instant::now();
    let mut child = spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut o = Vec::new();
        let _ = out.read_to_end(&mut o);
        o
    });
    let err_reader = std::thread::spawn(move || {
        let mut e = Vec::new();
        let _ = err.read_to_end(&mut e);
        e
    });
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Output {
                status,
                stdout: reader.join().unwrap(),
                stderr: err_reader.join().unwrap(),
            };
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("hasim {:?} still running after {limit:?}", cmd.get_args());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Expect exit status `code` and a stderr containing every needle.
fn expect(out: &Output, code: i32, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn split_brain() -> String {
    std::fs::read_to_string(repo("scenarios/keepalived-split-brain.toml")).unwrap()
}

/// Run `hasim run` on `text` (written as `name` in its own directory).
fn run_text(tag: &str, text: &str, extra: &[&str]) -> Output {
    let d = dir(tag);
    let p = write(&d, "s.toml", text);
    let mut cmd = hasim();
    cmd.arg("run").arg(&p).args(extra);
    run_bounded(cmd, Duration::from_secs(60))
}

#[test]
fn short_long_and_overflowing_durations_are_refused_with_the_range() {
    for (i, bad) in ["0s", "1us", "18446744073709551615s", "1000000h"]
        .iter()
        .enumerate()
    {
        let text = split_brain().replace("duration = \"60s\"", &format!("duration = \"{bad}\""));
        let out = run_text(&format!("dur{i}"), &text, &[]);
        expect(
            &out,
            2,
            &["s.toml:8:12", "expected a duration from 1ms to 1year"],
        );
    }
}

#[test]
fn fault_at_near_the_end_of_time_plus_jitter_is_refused() {
    let text = split_brain().replace("at = \"20s\"", "at = \"18446744073709551615s\"");
    let out = run_text("faultat", &text, &[]);
    expect(&out, 2, &["expected a duration from 0s to 1year"]);
    let text = split_brain().replace(
        "at = \"20s\"\njitter = \"1s\"",
        "at = \"59s\"\njitter = \"2s\"",
    );
    let out = run_text("faultjit", &text, &[]);
    expect(&out, 2, &["is after the end of the run"]);
}

#[test]
fn closed_standard_output_ends_with_a_message() {
    use std::io::Write;
    // The CIB comes on stdin, so the output is written only after stdout has
    // been closed, however slowly this test thread is scheduled.
    let cib = "<cib><configuration><crm_config/><nodes><node id=\"1\" uname=\"n1\"/></nodes>\
               <resources/><constraints/></configuration><status/></cib>";
    let mut cmd = hasim();
    cmd.args(["schedule", "-p"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = {
        let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        let mut child = cmd.spawn().unwrap();
        drop(child.stdout.take());
        child
    };
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(cib.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    expect(&out, 2, &["broken pipe"]);
}

/// Run hasim with `args`, its standard output closed before it writes;
/// its output.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut cmd = hasim();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = {
        let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        let mut child = cmd.spawn().unwrap();
        drop(child.stdout.take());
        child
    };
    child.wait_with_output().unwrap()
}

#[test]
fn a_campaign_merge_and_sweep_with_a_closed_standard_output_end_with_a_message() {
    // Each writes only after its runs, long after the pipe was closed.
    let scenario = repo("scenarios/keepalived-split-brain.toml");
    let scenario = scenario.to_str().unwrap();
    let out = with_closed_stdout(&["run", scenario, "--seeds", "1..4", "--jobs", "1"]);
    expect(&out, 2, &["broken pipe"]);
    let d = dir("closedmerge");
    let part = d.join("part.json");
    let out = hasim()
        .args(["run", scenario, "--seeds", "1..2", "--json"])
        .arg(&part)
        .locked_output();
    expect(&out, 0, &[]);
    let out = with_closed_stdout(&["merge", part.to_str().unwrap()]);
    expect(&out, 2, &["broken pipe"]);
    let sweep = repo("scenarios/sweep/cloud-vm-pauses.toml");
    let out = with_closed_stdout(&["sweep", sweep.to_str().unwrap(), "--seeds", "1"]);
    expect(&out, 2, &["broken pipe"]);
}

#[test]
fn conformance_with_a_closed_or_full_standard_output_ends_with_a_message() {
    let corpus = repo("../shared/scheduler-corpus");
    let corpus = corpus.to_str().unwrap();
    let args = ["conformance", corpus, "--diff", "--case", "1360"];
    let out = with_closed_stdout(&args);
    expect(&out, 2, &["broken pipe"]);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = hasim();
    cmd.args(args).stdout(full).stderr(Stdio::piped());
    let out = spawn(&mut cmd).wait_with_output().unwrap();
    expect(&out, 2, &["cannot write to standard output"]);
}

#[test]
fn shrink_merge_and_sweep_refuse_outputs_naming_an_input_before_they_run() {
    let d = dir("tooloutputs");
    let p = write(&d, "s.toml", &split_brain());
    let out = hasim()
        .arg("shrink")
        .arg(&p)
        .args(["--seed", "1", "--out"])
        .arg(&p)
        .locked_output();
    expect(&out, 2, &["--out", "this is an input"]);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), split_brain());
    let part = d.join("part.json");
    let out = hasim()
        .arg("run")
        .arg(&p)
        .args(["--seeds", "1..2", "--json"])
        .arg(&part)
        .locked_output();
    expect(&out, 0, &[]);
    let before = std::fs::read_to_string(&part).unwrap();
    let out = hasim()
        .arg("merge")
        .arg(&part)
        .arg("--json")
        .arg(&part)
        .locked_output();
    expect(&out, 2, &["--json", "this is an input"]);
    assert_eq!(std::fs::read_to_string(&part).unwrap(), before);
    let sweep = repo("scenarios/sweep/cloud-vm-pauses.toml");
    let base = repo("scenarios/sweep/ring3-base.toml");
    for (flag, target) in [("--csv", &sweep), ("--svg", &base)] {
        let out = run_bounded(
            {
                let mut c = hasim();
                c.arg("sweep").arg(&sweep).arg(flag).arg(target);
                c
            },
            Duration::from_secs(30),
        );
        expect(&out, 2, &[flag, "this is an input"]);
        assert!(out.stdout.is_empty(), "the sweep ran first");
    }
    let out = hasim()
        .arg("sweep")
        .arg(&sweep)
        .args(["--json", "/nonexistent-dir/s.json"])
        .locked_output();
    expect(&out, 2, &["--json /nonexistent-dir/s.json: cannot write"]);
}

#[test]
fn sweep_seed_and_thread_counts_are_range_checked() {
    let sweep = repo("scenarios/sweep/cloud-vm-pauses.toml");
    // `--seeds 0` swept nothing and passed; u64::MAX panicked (capacity
    // overflow) drawing the plans; `--jobs 0` was taken as 1.
    for (flag, bad, needle) in [
        ("--seeds", "0", "from 1 to 100000, found 0"),
        ("--seeds", "18446744073709551615", "from 1 to 100000"),
        ("--seeds", "x", "expected a number of seeds"),
        ("--jobs", "0", "expected a number of threads from 1 to 1024"),
    ] {
        let mut cmd = hasim();
        cmd.arg("sweep").arg(&sweep).args([flag, bad]);
        let out = run_bounded(cmd, Duration::from_secs(30));
        expect(&out, 2, &[flag, needle]);
    }
    let text = std::fs::read_to_string(&sweep)
        .unwrap()
        .replace("seeds = 100", "seeds = 10000000");
    let d = repo("scenarios/sweep");
    let p = d.join(format!(".hostile-seeds-{}.toml", std::process::id()));
    std::fs::write(&p, text).unwrap();
    let mut cmd = hasim();
    cmd.arg("sweep").arg(&p);
    let out = run_bounded(cmd, Duration::from_secs(30));
    let _ = std::fs::remove_file(&p);
    expect(&out, 2, &[":7:", "from 1 to 100000"]);
}

#[test]
fn dev_zero_as_a_campaign_summary_or_sweep_file_is_refused() {
    for (args, needle) in [
        (
            ["merge", "/dev/zero"],
            "/dev/zero: campaign summary: larger than",
        ),
        (["sweep", "/dev/zero"], "/dev/zero: sweep file: larger than"),
    ] {
        let mut cmd = hasim();
        cmd.args(args);
        let out = run_bounded(cmd, Duration::from_secs(30));
        expect(&out, 2, &[needle]);
    }
}

#[test]
fn a_full_disk_ends_with_a_message() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = hasim();
    cmd.arg("run")
        .arg(repo("scenarios/keepalived-split-brain.toml"))
        .stdout(full)
        .stderr(Stdio::piped());
    let out = spawn(&mut cmd).wait_with_output().unwrap();
    expect(&out, 2, &["cannot write to standard output"]);
    let out = hasim()
        .arg("run")
        .arg(repo("scenarios/keepalived-split-brain.toml"))
        .args(["--json", "/dev/full"])
        .locked_output();
    expect(&out, 2, &["/dev/full: cannot write"]);
    let out = hasim()
        .arg("run")
        .arg(repo("scenarios/keepalived-split-brain.toml"))
        .args(["--trace", "/dev/full"])
        .locked_output();
    expect(
        &out,
        2,
        &["cannot write trace file: /dev/full: No space left"],
    );
}

#[test]
fn a_seed_range_at_the_top_of_u64_ends() {
    let mut cmd = hasim();
    cmd.arg("run")
        .arg(repo("scenarios/keepalived-split-brain.toml"))
        .args([
            "--seeds",
            "18446744073709551612..18446744073709551614",
            "--jobs",
            "2",
        ]);
    let out = run_bounded(cmd, Duration::from_secs(60));
    expect(&out, 0, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 runs, 3 met"), "{text}");
}

#[test]
fn seed_ranges_that_are_empty_or_too_large_are_usage_errors() {
    for bad in [
        "5..4",
        "0..18446744073709551615",
        "18446744073709551613..18446744073709551615",
        "1..x",
        "7",
    ] {
        let out = hasim()
            .args(["run", "x.toml", "--seeds", bad])
            .locked_output();
        expect(&out, 2, &["--seeds"]);
    }
}

#[test]
fn zero_and_tiny_load_intervals_are_refused() {
    let base = std::fs::read_to_string(repo("scenarios/corosync-3node-power-off.toml")).unwrap();
    let d = repo("scenarios");
    for (i, bad) in ["0s", "1ns", "99us"].iter().enumerate() {
        let text = base.replace(
            "load_interval = \"50ms\"",
            &format!("load_interval = \"{bad}\""),
        );
        // Beside the shipped scenarios, so the corosync.conf resolves.
        let p = d.join(format!(".hostile-load-{i}-{}.toml", std::process::id()));
        std::fs::write(&p, text).unwrap();
        let out = run_bounded(
            {
                let mut c = hasim();
                c.arg("run").arg(&p);
                c
            },
            Duration::from_secs(30),
        );
        let _ = std::fs::remove_file(&p);
        expect(&out, 2, &["expected a duration from 100us to 1h"]);
    }
}

#[test]
fn a_nemesis_that_would_never_end_is_refused_at_its_line() {
    let text = split_brain().replace(
        "[expect]",
        "[nemesis]\nstart = \"1s\"\nstop = \"50s\"\ngap = { min = \"0s\", max = \"0s\" }\nlength = { min = \"1ns\", max = \"1ns\" }\nkinds = [\"pause\"]\n\n[expect]",
    );
    let out = run_text("nemesis", &text, &[]);
    expect(&out, 2, &["s.toml:70:10", "nemesis `length.min`"]);
    let text = split_brain().replace(
        "[expect]",
        "[nemesis]\nstart = \"1s\"\nstop = \"50s\"\ngap = { min = \"0s\", max = \"0s\" }\nlength = { min = \"1ms\", max = \"1ms\" }\nkinds = [\"pause\"]\n\n[expect]",
    );
    let out = run_text("nemesis2", &text, &[]);
    expect(&out, 2, &["s.toml:69:", "would allow 49000 faults"]);
}

#[test]
fn the_wall_clock_guard_stops_a_long_run() {
    let text = split_brain().replace("duration = \"60s\"", "duration = \"365days\"");
    let out = run_text("wall", &text, &["--max-wall", "1s"]);
    expect(&out, 2, &["stopped after", "--max-wall 1s", "simulated t="]);
}

#[test]
fn dev_zero_is_refused_as_scenario_and_as_corosync_conf() {
    let out = run_bounded(
        {
            let mut c = hasim();
            c.args(["run", "/dev/zero"]);
            c
        },
        Duration::from_secs(20),
    );
    expect(
        &out,
        2,
        &["/dev/zero: scenario file: larger than the 1 MiB limit"],
    );
    let text = "name = \"z\"\nduration = \"10s\"\n[corosync]\nconf = \"/dev/zero\"\n[expect]\ncheck = []\n";
    let out = run_text("zero", text, &[]);
    expect(
        &out,
        2,
        &["s.toml:4:8", "/dev/zero: corosync.conf: larger than"],
    );
}

const CONF_HEAD: &str = "totem {\n version: 2\n cluster_name: t\n transport: udpu\n}\n";

fn corosync_scenario(tag: &str, conf: &str) -> Output {
    let d = dir(tag);
    write(&d, "c.conf", conf);
    let text = "name = \"c\"\nduration = \"10s\"\n[corosync]\nconf = \"c.conf\"\nload_interval = \"50ms\"\n[expect]\ncheck = [\"agreed-order\", \"liveness\"]\n";
    let p = write(&d, "s.toml", text);
    let mut cmd = hasim();
    cmd.arg("run").arg(&p);
    run_bounded(cmd, Duration::from_secs(60))
}

fn node(id: u32, last: u8) -> String {
    format!(" node {{\n  ring0_addr: 10.0.0.{last}\n  nodeid: {id}\n }}\n")
}

#[test]
fn duplicate_and_zero_nodeids_are_refused_as_corosync_refuses_them() {
    let dup = format!("{CONF_HEAD}nodelist {{\n{}{}}}\n", node(1, 1), node(1, 2));
    let out = corosync_scenario("dup", &dup);
    expect(
        &out,
        2,
        &["c.conf:11:1", "Nodeid 1 appears twice in corosync.conf"],
    );
    let zero = format!("{CONF_HEAD}nodelist {{\n{}{}}}\n", node(1, 1), node(0, 2));
    let out = corosync_scenario("zero", &zero);
    expect(&out, 2, &["c.conf:13:11", "expected a nodeid from 1"]);
}

#[test]
fn no_nodelist_empty_or_foreign_files_are_refused() {
    for (tag, conf) in [
        ("nonodes", CONF_HEAD.to_string()),
        ("empty", String::new()),
        ("passwd", "root:x:0:0:root:/root:/bin/bash\n".to_string()),
    ] {
        let out = corosync_scenario(tag, &conf);
        expect(&out, 2, &["expected a nodelist"]);
    }
}

#[test]
fn checkers_with_nothing_to_check_are_refused() {
    let text = split_brain().replace(
        "check = [\"single-vip-owner\", \"vip-available\"]",
        "check = [\"single-vip-owner\", \"vip-available\", \"agreed-order\"]",
    );
    let out = run_text("nothing", &text, &[]);
    expect(&out, 2, &["invariant `agreed-order` has nothing to check"]);
}

#[test]
fn invalid_vrrp_settings_are_refused_at_load() {
    let text = split_brain().replacen("vrid = 51", "vrid = 0", 1);
    let out = run_text("vrid", &text, &[]);
    expect(&out, 2, &["s.toml:41:8", "vrrp instance on `lb1`", "vrid"]);
    let text = split_brain().replacen("advert_int = \"1s\"", "advert_int = \"0s\"", 1);
    let out = run_text("advert", &text, &[]);
    expect(&out, 2, &["s.toml:45:14", "expected a duration from 1us"]);
    let text = split_brain().replacen("advert_int = \"1s\"", "advert_int = \"1ms\"", 1);
    let out = run_text("advert2", &text, &[]);
    expect(&out, 2, &["vrrp instance on `lb1`", "advert"]);
}

#[test]
fn unknown_keys_in_segments_and_heal_faults_are_refused_at_their_line() {
    let text = split_brain().replace("arp_ttl = \"30s\"", "arp_ttl = \"30s\"\nlatencyy = \"1ms\"");
    let out = run_text("segkey", &text, &[]);
    expect(&out, 2, &["s.toml:15:1", "latencyy"]);
    let text = split_brain().replace("action = \"heal\"", "action = \"heal\"\nnode = \"lb1\"");
    let out = run_text("healkey", &text, &[]);
    expect(
        &out,
        2,
        &["s.toml:65:1", "key `node` does not apply to action `heal`"],
    );
}

#[test]
fn outputs_naming_an_input_or_unwritable_are_refused_before_the_run() {
    let d = dir("outputs");
    let p = write(&d, "s.toml", &split_brain());
    for flag in ["--trace", "--json"] {
        let out = hasim().arg("run").arg(&p).arg(flag).arg(&p).locked_output();
        expect(&out, 2, &["this is an input"]);
        assert!(out.stdout.is_empty());
    }
    assert_eq!(std::fs::read_to_string(&p).unwrap(), split_brain());
    let out = hasim()
        .arg("run")
        .arg(&p)
        .args(["--seeds", "1..50", "--json", "/nonexistent-dir/r.json"])
        .locked_output();
    expect(&out, 2, &["--json /nonexistent-dir/r.json: cannot write"]);
    assert!(out.stdout.is_empty(), "the campaign ran first");
    // A campaign's failure-page directory too.
    let out = hasim()
        .arg("run")
        .arg(&p)
        .args(["--seeds", "1..50", "--html", "/dev/null/pages"])
        .locked_output();
    expect(&out, 2, &["--html /dev/null/pages: cannot create"]);
    assert!(out.stdout.is_empty(), "the campaign ran first");
}

#[test]
fn names_that_could_forge_lines_or_escape_the_terminal_are_refused() {
    for (i, bad) in ["x\\nexpectation: met", "\\u001b[2J", "a\\rb"]
        .iter()
        .enumerate()
    {
        let text = split_brain().replace(
            "name = \"keepalived-split-brain\"",
            &format!("name = \"{bad}\""),
        );
        let out = run_text(&format!("name{i}"), &text, &[]);
        expect(&out, 2, &["s.toml:6:8", "without control characters"]);
    }
    let text = split_brain().replace("name = \"lb1\"", "name = \"lb1 | lb2\"");
    let out = run_text("hostname", &text, &[]);
    expect(&out, 2, &["s.toml:17:8", "expected a name of 1 to 64"]);
}

#[test]
fn help_has_examples_and_exit_codes_and_replay_describes_its_arguments() {
    let out = hasim().arg("--help").locked_output();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Examples",
        "Exit status",
        "cargo install --path sim",
        "hasim replay",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let out = hasim().args(["replay", "--help"]).locked_output();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "The scenario file the seed was run with",
        "The seed to replay",
        "--trace",
        "Example",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let out = hasim().args(["run", "--help"]).locked_output();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("both included (1..500 is 500 runs)"),
        "{text}"
    );
    assert!(
        text.contains("--max-wall") && text.contains("--max-memory"),
        "{text}"
    );
}

#[test]
fn a_run_shorter_than_the_first_answer_ends_without_a_panic() {
    // Issue 13: "1us" panicked in vip-available; 1 ms is now the shortest
    // run, and it ends with a verdict (no answer yet: vip-available breaks).
    let text = split_brain()
        .replace("duration = \"60s\"", "duration = \"1ms\"")
        .replace("at = \"20s\"\njitter = \"1s\"", "at = \"0s\"")
        .replace("at = \"30s\"", "at = \"1ms\"");
    let out = run_text("short", &text, &[]);
    expect(&out, 1, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("vip-available"), "{stdout}");
}

#[test]
fn dev_zero_as_a_cib_is_refused() {
    let mut cmd = hasim();
    cmd.args(["schedule", "-x", "/dev/zero"]);
    let out = run_bounded(cmd, Duration::from_secs(30));
    expect(&out, 2, &["/dev/zero: CIB: larger than the 64 MiB limit"]);
}
