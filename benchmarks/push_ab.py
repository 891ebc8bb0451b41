"""A/B of an initial push and a no-change push between two fog source trees, alternating.

    python benchmarks/push_ab.py CORPUS PAIRS TREE_A TREE_B > rows.jsonl

Each TREE is a `git archive` of a commit unpacked in a directory (run with
PYTHONPATH pointing there). Each run: a fresh FOG_HOME and local-directory
remote, `fog init CORPUS`, then `fog push -q` twice (the initial push, then a
push with nothing to do), each measured: wall time, the fog process's own
CPU (getrusage RUSAGE_SELF) and that of the worker processes it reaped
(RUSAGE_CHILDREN), and the peak RSS of each. Pair i runs A then B when i is
even, B then A when odd. One JSON line per run on stdout.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

# Runs fog as `python -m fog` would, then writes its rusage and its reaped children's (atexit: after
# sys.exit, once the command has ended its workers).
RUNNER = """import atexit, resource, runpy, sys
out = sys.argv[1]
sys.argv = ["fog", *sys.argv[2:]]
def report():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        f.write(f"{s.ru_utime + s.ru_stime:.3f} {c.ru_utime + c.ru_stime:.3f} {s.ru_maxrss} {c.ru_maxrss}")
atexit.register(report)
runpy.run_module("fog", run_name="__main__", alter_sys=True)
"""


def run(tree: str, args: list[str], work: str, cwd: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOG_")}
    env.update(FOG_HOME=f"{work}/home", PYTHONPATH=tree, LC_ALL="C.UTF-8")
    os.sync()
    start = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", RUNNER, f"{work}/usage", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    if p.returncode:
        sys.exit(f"{tree}: fog {' '.join(args)} -> {p.returncode}\n{p.stderr[-2000:]}")
    with open(f"{work}/usage") as f:
        parent, children, rss, child_rss = f.read().split()
    return {
        "wall": round(wall, 2),
        "parent_cpu": float(parent),
        "children_cpu": float(children),
        "rss_mb": int(rss) // 1024,
        "child_rss_mb": int(child_rss) // 1024,
    }


def main() -> None:
    corpus, pairs, trees = sys.argv[1], int(sys.argv[2]), sys.argv[3:5]
    for tree in trees:  # as `pip install` would: no run pays for compiling fog's modules
        compileall.compile_dir(tree, quiet=1)
    for i in range(pairs):
        for tree in trees if i % 2 == 0 else trees[::-1]:
            work = tempfile.mkdtemp(prefix="push-ab-")
            shutil.rmtree(f"{corpus}/.fog", ignore_errors=True)
            try:
                run(tree, ["init", corpus, "--remote", f"{work}/repo", "--master-key-file", f"{work}/key"], work, work)
                first = run(tree, ["push", "-q"], work, corpus)
                again = run(tree, ["push", "-q"], work, corpus)
            finally:
                shutil.rmtree(work, ignore_errors=True)
                shutil.rmtree(f"{corpus}/.fog", ignore_errors=True)
            row = {"pair": i, "tree": tree, "load": round(os.getloadavg()[0], 2), "push": first, "nochange": again}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
