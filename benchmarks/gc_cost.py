"""What Python's cycle collector costs fog's push and clone, with fog's thresholds and with Python's defaults.

    python benchmarks/gc_cost.py CORPUS [--rounds N]

Each round, for each setting: a fresh FOG_HOME and local-directory remote,
`fog init` of a copy of CORPUS, `fog push -q`, a push with nothing to do, then
`fog clone` into a new directory. A `sitecustomize` put first on the
command's path counts the collections (`gc.callbacks`) and the CPU time spent
in them, and the process's whole CPU time; for the "python" setting it makes
`gc.set_threshold` a no-op, so fog keeps Python's default (700, 10, 10).
Collections are counted in the fog process only (not its forked workers).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

SITE = """import atexit, gc, os, sys, time
_spent = [0.0, 0, 0.0]
def _cb(phase, info):
    if phase == "start":
        _spent[2] = time.process_time()
    else:
        _spent[0] += time.process_time() - _spent[2]
        _spent[1] += 1
gc.callbacks.append(_cb)
if os.environ.get("GC_COST_DEFAULT"):
    gc.set_threshold = lambda *a: None
_pid = os.getpid()
def _report():
    if os.getpid() == _pid:
        with open(os.environ["GC_COST_OUT"], "a") as f:
            f.write(f"{_spent[1]} {_spent[0]:.3f} {time.process_time():.3f}\\n")
atexit.register(_report)
"""


def fog(site: str, home: str, out: str, default: bool, *args: str) -> tuple[int, float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOG_")}
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env.update(FOG_HOME=home, GC_COST_OUT=out, PYTHONPATH=f"{site}{os.pathsep}{here}")
    if default:
        env["GC_COST_DEFAULT"] = "1"
    if os.path.exists(out):
        os.unlink(out)
    subprocess.run([sys.executable, "-P", "-m", "fog", *args], env=env, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        n, spent, total = f.read().split()
    return int(n), float(spent), float(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fog-gc-") as work:
        site = os.path.join(work, "site")
        os.mkdir(site)
        with open(os.path.join(site, "sitecustomize.py"), "w") as f:
            f.write(SITE)
        print("setting  command   collections  gc CPU-s  process CPU-s")
        for _ in range(args.rounds):
            for name, default in (("python", True), ("fog", False)):
                run = os.path.join(work, "run")
                shutil.rmtree(run, ignore_errors=True)
                os.mkdir(run)
                src = os.path.join(run, "src")
                shutil.copytree(args.corpus, src, symlinks=True, ignore=shutil.ignore_patterns(".fog"))
                home, out, key = os.path.join(run, "home"), os.path.join(run, "out"), os.path.join(run, "key")
                remote = os.path.join(run, "remote")
                fog(site, home, out, default, "init", src, "--remote", remote, "--master-key-file", key)
                for label, cmd in (
                    ("push", ["-C", src, "push", "-q"]),
                    ("nochange", ["-C", src, "push", "-q"]),
                    ("clone", ["clone", remote, os.path.join(run, "clone"), "--master-key-file", key, "--no-progress"]),
                ):
                    h = os.path.join(run, "home2") if label == "clone" else home
                    n, spent, total = fog(site, h, out, default, *cmd)
                    print(f"{name:8} {label:9} {n:12d} {spent:9.3f} {total:14.3f}", flush=True)


if __name__ == "__main__":
    main()
