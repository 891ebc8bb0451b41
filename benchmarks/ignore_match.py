"""Time the ignore rules over every path of a share (what a scan pays per path): `PYTHONPATH=. python
benchmarks/ignore_match.py SHARE_ROOT` (best of 5 passes, microseconds a path, wall clock and this process's CPU
time: on a shared machine the CPU time is the steadier figure)."""

import os
import sys
import time

from fog.sync.ignore import Ignore

root = sys.argv[1]
paths = []
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if x != ".fog"]
    rel = os.path.relpath(d, root)
    rel = "" if rel == "." else rel
    for n in files + dirs:
        paths.append((rel, (rel + "/" if rel else "") + n, n in dirs))
ig = Ignore(root)
best = cpu = 1e9
hits = 0
for _ in range(5):
    t, c = time.perf_counter(), time.process_time()
    hits = 0
    for rel, p, isd in paths:
        hits += ig.matches(p, isd, ig.chain(rel))
    best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
us = 1e6 / len(paths)
print(f"{len(paths)} paths, {hits} ignored, {best * us:.2f} us/path ({cpu * us:.2f} us CPU)")
