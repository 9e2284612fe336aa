#!/usr/bin/env python3
"""Per side: acknowledged writes lost, and the longest outage each client saw, over seeds."""
import re, subprocess, sys, statistics
bin, scen, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pat = re.compile(r"data client (client-(\w)\d+): .* (\d+) lost, .*longest outage ([\d.]+) s")
side = {}
lost = {}
for seed in range(lo, hi + 1):
    out = subprocess.run([bin, "run", scen, "--seed", str(seed)], capture_output=True, text=True).stdout
    for m in pat.finditer(out):
        s = m.group(2)
        side.setdefault(s, []).append(float(m.group(4)))
        lost[s] = lost.get(s, 0) + int(m.group(3))
for s, v in sorted(side.items()):
    v.sort()
    print(f"side {s}: {len(v)} client-runs, lost {lost[s]}, outage min {v[0]:.1f} s, median {statistics.median(v):.1f} s, p95 {v[int(len(v)*0.95)-1]:.1f} s, max {v[-1]:.1f} s")
