"""Time the ignore rules over every path of a share (what a scan pays per path): `PYTHONPATH=. python
benchmarks/ignore_match.py SHARE_ROOT` (best of 5 passes, microseconds a path, wall clock and this process's CPU
time: on a shared machine the CPU time is the steadier figure). `--make DIR` first makes the tree of
benchmarks/README.md ("Ignore rules decided as git decides") in DIR, a directory not there yet."""

import os
import sys
import time

from fog.sync.ignore import Ignore

RULES = "*.log\n!keep.log\nbuild/\n/top-only.txt\n**/cache/\na/**/b\ndoc/*.md\n"

if sys.argv[1] == "--make":
    root = sys.argv[2]
    for d in range(200):  # 200 directories x 5 x 20 files (one .log in 20), a build/ in each
        for s in range(5):
            os.makedirs(f"{root}/d{d:03d}/s{s}")
            for f in range(20):
                with open(f"{root}/d{d:03d}/s{s}/f{f:02d}{'.log' if f == 0 else '.txt'}", "w") as out:
                    out.write("x")
        os.makedirs(f"{root}/d{d:03d}/build")
        with open(f"{root}/d{d:03d}/build/out.o", "w") as out:
            out.write("x")
    with open(f"{root}/.fogignore", "w") as out:
        out.write(RULES)
else:
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
