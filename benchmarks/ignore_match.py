"""Time the ignore rules over every path of a share (what a scan pays per path): `PYTHONPATH=. python
benchmarks/ignore_match.py SHARE_ROOT` (best of 5 passes, microseconds a path)."""

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
best = 1e9
hits = 0
for _ in range(5):
    t = time.perf_counter()
    hits = 0
    for rel, p, isd in paths:
        hits += ig.matches(p, isd, ig.chain(rel))
    best = min(best, time.perf_counter() - t)
print(f"{len(paths)} paths, {hits} ignored, {best / len(paths) * 1e6:.2f} us/path")
