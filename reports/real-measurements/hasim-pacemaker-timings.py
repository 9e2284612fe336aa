#!/usr/bin/env python3
"""The same figures as pacemaker-timings.sh, from hasim's simulated runs.

Runs each Pacemaker scenario for seeds 1..N with --trace and prints medians
(min/max) of: cold start to DC and to every resource started; DC power loss
to the new DC and to the lost resources running elsewhere; non-DC power loss
to its resources running elsewhere; monitor failure to the restart.

usage: python3 reports/real-measurements/hasim-pacemaker-timings.py [N] [HASIM]
"""
import json, statistics, subprocess, sys, tempfile, os

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
HASIM = sys.argv[2] if len(sys.argv) > 2 else "target/release/hasim"


def trace(scenario, seed):
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        path = f.name
    subprocess.run([HASIM, "run", scenario, "--seed", str(seed), "--trace", path],
                   stdout=subprocess.DEVNULL, check=False)
    events = []
    with open(path) as f:
        for line in f:
            # A trace line may repeat keys; json keeps the last, which is fine here.
            events.append(json.loads(line))
    os.unlink(path)
    return events


def pcmk(events):
    for e in events:
        if e.get("kind") == "pacemaker":
            yield e["t_us"] / 1e6, e["report"]


def first(events, pred, after=0.0):
    return next((t for t, r in pcmk(events) if t >= after and pred(r)), None)


def fault_at(events, what):
    return next(e["t_us"] / 1e6 for e in events if e["event"] == "fault" and what in e["what"])


def cold(events):
    dc = first(events, lambda r: r["event"] == "dc_changed" and r["dc"] == r["node"])
    started = [t for t, r in pcmk(events) if r["event"] == "resource_active" and r["active"] and t < 59]
    return dc, max(started)


def loss(events, what):
    at = fault_at(events, what)
    dc = first(events, lambda r: r["event"] == "dc_changed" and r["dc"] == r["node"], at)
    up = first(events, lambda r: r["event"] == "resource_active" and r["active"] and r["rsc"] == "vip", at)
    return (dc - at if dc else None), (up - at if up else None)


def monitor(events):
    fail = first(events, lambda r: r["event"] == "resource_op" and r["op"] == "monitor" and r["rc"] == 7 and r["interval_ms"] > 0)
    up = first(events, lambda r: r["event"] == "resource_active" and r["active"], fail)
    return up - fail


def show(name, xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        print(f"| {name} | - |")
        return
    print(f"| {name} | {statistics.median(xs):.3f} | {min(xs):.3f} / {max(xs):.3f} | {len(xs)} |")


rows = {k: [] for k in ["cold DC", "cold all started", "DC loss new DC", "DC loss vip elsewhere",
                        "non-DC loss vip elsewhere", "monitor failure to restart"]}
for seed in range(1, N + 1):
    e = trace("scenarios/pacemaker-3node-vip-haproxy.toml", seed)
    dc, started = cold(e)
    rows["cold DC"].append(dc)
    rows["cold all started"].append(started)
    # In this scenario node1 holds the VIP and node3 or node2 is DC (seeded).
    rows["non-DC loss vip elsewhere"].append(loss(e, "power-off node1")[1])
    e = trace("scenarios/pacemaker-dc-loss.toml", seed)
    new_dc, vip = loss(e, "power-off node1")
    rows["DC loss new DC"].append(new_dc)
    rows["DC loss vip elsewhere"].append(vip)
    rows["monitor failure to restart"].append(monitor(trace("scenarios/pacemaker-monitor-failure.toml", seed)))
print(f"hasim, seeds 1..{N}: median | min / max | n")
print("| measure | median s | min / max | n |")
print("| --- | --- | --- | --- |")
for k, v in rows.items():
    show(k, v)
