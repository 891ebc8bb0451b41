"""The cost of checking the pages a lookup steps to (fog.repo.dbpages.Snapshot) in `fog log FILE`.

Usage:
    python benchmarks/log_page_checks.py DIR [--files 100000] [--versions 10]

Builds, once, in DIR (kept for the next run) the share of benchmarks/log_history.py, then times per call,
as medians of 5 passes over 101 paths: fog.repo.history.quick_log (what `fog log FILE` runs) and fog.api.log
(what `fog log FILE` falls back to). Run it with PYTHONPATH at two checkouts, alternating, for an A/B.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

from fog import api
from fog.repo.history import quick_log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--versions", type=int, default=10)
    args = ap.parse_args()
    from log_history import build, fog_exe  # (after fog: it puts this checkout first on sys.path)

    home, root = args.dir / "home", args.dir / "share"
    os.environ["FOG_HOME"] = str(home)
    if not root.exists():
        args.dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*fog_exe(), "init", root, "--remote", args.dir / "remote", "--master-key-file", args.dir / "key"],
            check=True,
            capture_output=True,
        )
        build(root, home, args.files, args.versions)
    paths = [f"dir{f // 100:04d}/file{f:06d}.txt" for f in range(0, args.files, max(1, args.files // 100))]

    def per_call(fn) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(5):
            t = time.perf_counter()
            for p in paths:
                fn(p)
            times.append((time.perf_counter() - t) / len(paths))
        return statistics.median(times) * 1000

    fast = per_call(lambda p: quick_log(str(home), str(root), p, None))
    full = per_call(lambda p: api.log(home, root, p))
    print(f"quick_log {fast:.2f} ms, api.log {full:.2f} ms per call (fog from {Path(api.__file__).parent.parent})")


if __name__ == "__main__":
    main()
