#!/usr/bin/env python3
"""hasim's side of the fencing measurements of pacemaker-fencing.sh and pacemaker-fence-race.sh.

  timings SCENARIO N : seeds 1..N of a power-loss scenario (one `power-off` fault); per step
                       after the fault, median / min / max / n of: membership without the
                       node, Pacemaker peer lost, new DC (only runs where the DC was lost),
                       fence requested, fence agent started, fence confirmed, VIP started
                       elsewhere, first S_IDLE after the fence; and the steps between them.
                       Runs where the lost node was the DC and where it was not are shown
                       apart, as RESULTS.md's real table shows them.
  race SCENARIO N    : seeds 1..N of a two-node partition scenario; how many ended with both
                       machines powered off by fencing, or with one of them surviving, plus the
                       fence-request times of both sides, which controllers took the 1 s
                       re-ask pause, and (one-survivor runs) the winner's steps after the
                       partition: request, agent started, loser off, confirmed, VIP started.

The figures come from the --trace JSON lines of each run.
usage: python3 reports/real-measurements/hasim-fencing.py timings|race SCENARIO N [HASIM]
"""
import json, os, statistics, subprocess, sys, tempfile


def trace(hasim, scenario, seed):
    """Run one seed and return its trace events (a list of dicts)."""
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        run = subprocess.run([hasim, "run", scenario, "--seed", str(seed), "--trace", path],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        # exit 0 or 1 is a finished run (1: an expectation was not met); anything else is bad input
        if run.returncode not in (0, 1):
            sys.exit(f"{scenario} seed {seed}: {hasim} exited {run.returncode}: {run.stderr.strip()}")
        with open(path) as f:
            return [json.loads(line) for line in f]
    finally:
        os.unlink(path)


def secs(e):
    return e["t_us"] / 1e6


def pcmk(events, name, after):
    """Pacemaker report events of one kind at or after a time, as (t, report)."""
    return [(secs(e), e["report"]) for e in events
            if e.get("kind") == "pacemaker" and secs(e) >= after and e["report"].get("event") == name]


def fencer(events, name, after):
    """The fencer's `name` steps at or after a time, as (t, step)."""
    out = []
    for e in events:
        if e.get("kind") == "fencing" and secs(e) >= after:
            ev = e["report"].get("event")
            if isinstance(ev, dict) and name in ev:
                out.append((secs(e), ev[name]))
    return out


def first(xs):
    return xs[0][0] if xs else None


def dc_before(events, at):
    """Which node was DC just before the fault (the last dc_changed a node reported for itself)."""
    dc = None
    for t, r in pcmk(events, "dc_changed", 0.0):
        if t < at and r["dc"] == r["node"]:
            dc = r["dc"]
    return dc


def the_fault(events, prefix, scenario):
    """The run's first fault whose description starts with prefix; exits naming the scenario if none."""
    fault = next((e for e in events if e.get("event") == "fault" and e["what"].startswith(prefix)), None)
    if fault is None:
        sys.exit(f"{scenario}: expected a `{prefix.strip()}` fault in the run, found none")
    return fault


def steps(events, scenario):
    """Seconds from the power-off fault to each step, for one run."""
    fault = the_fault(events, "power-off ", scenario)
    at, victim = secs(fault), fault["what"].split()[1]
    vid = int(victim.lstrip("node")) if victim.startswith("node") else None
    memb = first([(secs(e), e) for e in events if e.get("kind") == "membership" and secs(e) >= at
                  and e["configuration"] == "regular" and vid not in e["members"]])
    lost = first([(t, r) for t, r in pcmk(events, "peers", at) if victim not in r["peers"]])
    dc = dc_before(events, at)
    new_dc = first([(t, r) for t, r in pcmk(events, "dc_changed", at) if r["dc"] == r["node"]])
    req = first(pcmk(events, "fence_requested", at))
    agent = first(fencer(events, "AgentStarted", at))
    done = first([(t, r) for t, r in pcmk(events, "fence_done", at) if r["ok"]])
    vip = first([(t, r) for t, r in pcmk(events, "resource_active", at)
                 if r["rsc"] == "vip" and r["active"]])
    idle = first([(t, r) for t, r in pcmk(events, "controller_state", done or at) if r["to"] == "S_IDLE"])
    rel = lambda t: None if t is None else t - at
    diff = lambda a, b: None if a is None or b is None else a - b
    return dc == victim, {
        "membership without the node": rel(memb),
        "Pacemaker peer lost": rel(lost),
        "new DC": rel(new_dc) if dc == victim else None,
        "fence requested": rel(req),
        "fence agent started": rel(agent),
        "fence confirmed": rel(done),
        "VIP started elsewhere": rel(vip),
        "first S_IDLE after the fence": rel(idle),
        "lost -> fence requested": diff(req, lost),
        "fence requested -> confirmed": diff(done, req),
        "fence confirmed -> VIP started": diff(vip, done),
    }


def show(rows, label):
    print(f"{label}:")
    print("| measure (s after the fault unless stated) | median | min / max | n |")
    print("| --- | --- | --- | --- |")
    for k, xs in rows.items():
        xs = [x for x in xs if x is not None]
        if xs:
            print(f"| {k} | {statistics.median(xs):.3f} | {min(xs):.3f} / {max(xs):.3f} | {len(xs)} |")
        else:
            print(f"| {k} | - | - | 0 |")


def timings(hasim, scenario, n):
    by_kind = {True: {}, False: {}}
    for seed in range(1, n + 1):
        was_dc, row = steps(trace(hasim, scenario, seed), scenario)
        for k, v in row.items():
            by_kind[was_dc].setdefault(k, []).append(v)
    print(f"{scenario}, seeds 1..{n}")
    for was_dc, label in [(True, "the lost node was the DC"), (False, "the lost node was not the DC")]:
        if by_kind[was_dc]:
            show(by_kind[was_dc], label)


def race_outcome(events, scenario):
    """(outcome, DC before the partition, fence-request time of each node after the fault)."""
    fault = the_fault(events, "partition", scenario)
    at = secs(fault)
    off = sorted({e["machine"] for e in events
                  if e.get("event") == "device-power" and not e["on"] and secs(e) >= at})
    nodes = sorted({e["node"] for e in events if e.get("kind") == "pacemaker"})
    if len(off) == 2:
        outcome = "both off"
    elif len(off) == 1:
        outcome = f"{[x for x in nodes if x not in off][0]} survives"
    else:
        outcome = "none off"
    asks = {r["dc"]: round(t - at, 3) for t, r in reversed(pcmk(events, "fence_requested", at))}
    return outcome, dc_before(events, at), asks


def race_steps(events, outcome, at):
    """Seconds from the partition to each step of the winner's fence (one-survivor runs only):
    its request, its agent's start, the loser powered off, the fence confirmed, the VIP started
    on the survivor; and the re-ask pauses either side took before its first request."""
    if not outcome.endswith("survives"):
        return None
    winner = outcome.split()[0]
    req = first([(t, r) for t, r in pcmk(events, "fence_requested", at) if r["dc"] == winner])
    agent = first([(secs(e), e) for e in events if e.get("kind") == "fencing" and secs(e) >= at
                   and e.get("node") == winner and isinstance(e["report"].get("event"), dict)
                   and "AgentStarted" in e["report"]["event"]])
    off = first([(secs(e), e) for e in events
                 if e.get("event") == "device-power" and not e["on"] and secs(e) >= at])
    done = first([(t, r) for t, r in pcmk(events, "fence_done", at) if r["dc"] == winner and r["ok"]])
    vip = first([(t, r) for t, r in pcmk(events, "resource_active", at)
                 if r["rsc"] == "vip" and r["active"] and r["node"] == winner])
    rel = lambda t: None if t is None else t - at
    return {
        "partition -> winner's fence requested": rel(req),
        "partition -> winner's fence agent started": rel(agent),
        "partition -> loser powered off": rel(off),
        "partition -> fence confirmed": rel(done),
        "partition -> VIP started on the survivor": rel(vip),
    }


def reasks(events, at, until):
    """Nodes whose controller took the 1 s re-ask pause between `at` and `until`."""
    return sorted({r["dc"] for t, r in pcmk(events, "cib_reask", at) if t <= until})


def race(hasim, scenario, n):
    counts, dc_wins, dc_known, rows, paused = {}, 0, 0, {}, {}
    for seed in range(1, n + 1):
        events = trace(hasim, scenario, seed)
        outcome, dc, asks = race_outcome(events, scenario)
        at = secs(the_fault(events, "partition", scenario))
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome.endswith("survives") and dc:
            dc_known += 1
            dc_wins += outcome == f"{dc} survives"
        for k, v in (race_steps(events, outcome, at) or {}).items():
            rows.setdefault(k, []).append(v)
        first_ask = min(asks.values()) if asks else 1e9
        if asks:
            rows.setdefault("partition -> first fence request (either side, all runs)", []).append(first_ask)
        off = first([(secs(e), e) for e in events
                     if e.get("event") == "device-power" and not e["on"] and secs(e) >= at])
        if off is not None:
            rows.setdefault("partition -> first machine powered off (all runs)", []).append(off - at)
        pausing = reasks(events, at, at + first_ask + 1.5)
        key = "+".join(pausing) if pausing else "none"
        paused[key] = paused.get(key, 0) + 1
        print(f"seed {seed}: {outcome}; DC before the partition {dc}; fence requested {asks}; "
              f"re-ask pause: {key}")
    print(f"{scenario}, seeds 1..{n}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"one survivor: the DC before the partition survived in {dc_wins} of {dc_known}")
    print("re-ask pause taken (by which controllers): " +
          ", ".join(f"{k} {v}" for k, v in sorted(paused.items())))
    if rows:
        show(rows, "seconds after the partition (one-survivor runs unless stated)")


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("timings", "race"):
        sys.exit(__doc__)
    hasim = sys.argv[4] if len(sys.argv) > 4 else "target/release/hasim"
    {"timings": timings, "race": race}[sys.argv[1]](hasim, sys.argv[2], int(sys.argv[3]))


if __name__ == "__main__":
    main()
