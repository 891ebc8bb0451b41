"""`fog log FILE` on a share whose history holds a million versions (issue 5).

Usage:
    python benchmarks/log_history.py [--files 100000] [--versions 10] [--runs 7]

Makes a real share with `fog init` (local directory remote), then writes
files x versions version records straight into its LMDB database through
fog.repo.db.RepoDB.add_version, the call a pull makes for every version it
receives (going through push would take hours and measure push, not log).
Then times, as medians of --runs:

- `fog log FILE --json` as a child process (what a user waits for), next to
  `fog --version` in the same loop (the interpreter and CLI start-up alone);
- `fog.api.log` in this process (the history lookup itself), for one file and
  with `-n 1`.

The share's files never exist on disk: log reads only the history.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fog import api  # noqa: E402
from fog.format.version import Version  # noqa: E402
from fog.repo.identity import Identity  # noqa: E402
from fog.repo.share import Share  # noqa: E402


def fog_exe() -> list[str]:
    exe = Path(sys.executable).parent / "fog"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "fog"]


def build(root: Path, home: Path, files: int, versions: int) -> str:
    """Fill the share's database; return a path with `versions` versions."""
    ident = Identity.load(home)
    device = ident.device_id
    t0 = time.monotonic()
    with Share(root) as share:
        db = share.db
        base = 1_700_000_000_000_000_000
        for start in range(0, files, 5000):
            with db.write() as txn:
                for f in range(start, min(files, start + 5000)):
                    path = f"dir{f // 100:04d}/file{f:06d}.txt"
                    parent = None
                    for n in range(versions):
                        t = base + (n * files + f) * 1000
                        v = Version(path, "file", 100 + n, 0o644, t, t, device, parent=parent, content=os.urandom(32))
                        v = v.with_id(os.urandom(32))
                        db.add_version(txn, v)
                        parent = v.id
    print(f"  wrote {files * versions:,} versions in {time.monotonic() - t0:.0f} s", flush=True)
    return f"dir{(files // 2) // 100:04d}/file{files // 2:06d}.txt"


def median_seconds(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fog-log-bench-") as tmp:
        work = Path(tmp)
        home, root = work / "home", work / "share"
        env = {**os.environ, "FOG_HOME": str(home)}
        os.environ["FOG_HOME"] = str(home)
        subprocess.run(
            [*fog_exe(), "init", root, "--remote", work / "remote", "--master-key-file", work / "key"],
            env=env,
            check=True,
            capture_output=True,
        )
        print(f"building {args.files:,} files x {args.versions} versions ...", flush=True)
        path = build(root, home, args.files, args.versions)

        def cli(*argv: str) -> None:
            subprocess.run([*fog_exe(), *argv], env=env, cwd=root, check=True, capture_output=True)

        rows = [
            ("`fog --version` (start-up only)", median_seconds(lambda: cli("--version"), args.runs)),
            (
                f"`fog log FILE --json` ({args.versions} versions)",
                median_seconds(lambda: cli("log", path, "--json"), args.runs),
            ),
            ("`fog log FILE -n 1`", median_seconds(lambda: cli("log", path, "-n", "1"), args.runs)),
            ("fog.api.log(FILE), in process", median_seconds(lambda: api.log(home, root, path), args.runs)),
            (
                "fog.api.log(FILE, limit=1), in process",
                median_seconds(lambda: api.log(home, root, path, limit=1), args.runs),
            ),
        ]
        got = api.log(home, root, path)
        assert len(got) == args.versions, len(got)
        total = args.files * args.versions
        print(f"\nshare of {args.files:,} files, {total:,} versions in history; medians of {args.runs} runs")
        print("| what | seconds |\n|---|---|")
        for label, seconds in rows:
            print(f"| {label} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
