"""Whole trees through time (issue 19): `fog restore .@WHEN` after a ransomware-style mass
modification against `restic restore` of the matching snapshot, and `fog ls -R .@WHEN`
against `restic ls`, in the same run.

Usage:
    python benchmarks/trees_bench.py [--scale 1.0] [--rounds 3]

The standard corpus (benchmarks/corpus.py) is pushed by fog (a local-directory
remote) and backed up by restic (snapshot 1); then every file is overwritten with
random bytes of its size (what ransomware leaves) and both run again (snapshot 2).
Timed, per round (bench.run: wall, CPU, peak RSS):

    fog restore .@T           in place, T = a moment between the two pushes
    fog restore .@T -o NEW    into an empty directory (what restic does)
    restic restore SNAP1 --target NEW
    fog ls -R .@T             (output to /dev/null)
    restic ls SNAP1

Each restore is checked byte for byte against the corpus.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import corpus as corpus_mod  # noqa: E402


def ransom(root: Path) -> int:
    """Overwrite every regular file under `root` (not .fog) with random bytes of its size."""
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".fog"]
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                continue
            size = p.stat().st_size
            with open(p, "r+b") as f:
                left = size
                while left:
                    chunk = os.urandom(min(left, 1 << 20))
                    f.write(chunk)
                    left -= len(chunk)
            n += 1
    return n


def digests(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".fog"]
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                out[str(p.relative_to(root))] = bench.sha256(p)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fog", default=None)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--output", type=Path, default=None)
    args = ap.parse_args(argv)
    tools = bench.find_tools(["fog", "restic"], args.fog)
    work = Path(tempfile.mkdtemp(prefix="fog-trees-bench-", dir=args.workdir))
    results: dict[str, list[dict]] = {}

    def timed(label: str, cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        wall, cpu, rss, out = bench.run(cmd, env, cwd)
        results.setdefault(label, []).append({"seconds": round(wall, 3), "cpu": round(cpu, 3), "rss_mb": rss // 1024})
        print(label, json.dumps(results[label][-1]), flush=True)

    try:
        c = corpus_mod.generate(work / "share", args.scale)
        share = c.root
        print(f"corpus: {c.files} files, {c.bytes / 1e6:.1f} MB", flush=True)
        expect = digests(share)
        fenv = {**bench.base_env(), "FOG_HOME": str(work / "home")}
        renv = {
            **bench.base_env(),
            "RESTIC_PASSWORD": "bench",
            "RESTIC_REPOSITORY": str(work / "restic"),
            "RESTIC_CACHE_DIR": str(work / "restic-cache"),
        }
        fog, restic = tools["fog"], tools["restic"]
        subprocess.run(
            [fog, "init", str(share), "--remote", str(work / "remote"), "--master-key-file", str(work / "mk")],
            env=fenv,
            check=True,
            capture_output=True,
        )
        subprocess.run([fog, "-C", str(share), "push", "-q"], env=fenv, check=True)
        subprocess.run([restic, "init", "-q"], env=renv, check=True)
        subprocess.run([restic, "backup", "-q", "--exclude", str(share / ".fog"), str(share)], env=renv, check=True)
        snap1 = json.loads(subprocess.run([restic, "snapshots", "--json"], env=renv, capture_output=True).stdout)[0]
        time.sleep(1.1)
        moment = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        time.sleep(1.1)
        print(f"overwrote {ransom(share)} files", flush=True)
        subprocess.run([fog, "-C", str(share), "push", "-q"], env=fenv, check=True)
        subprocess.run([restic, "backup", "-q", "--exclude", str(share / ".fog"), str(share)], env=renv, check=True)
        for rnd in range(args.rounds):
            if rnd:  # the attack again (pushed), so that the in-place restore has the same work each round
                ransom(share)
                subprocess.run([fog, "-C", str(share), "push", "-q"], env=fenv, check=True)
            timed("fog restore .@T (in place)", [fog, "-C", str(share), "restore", f".@{moment}"], fenv)
            assert digests(share) == expect, "the in-place restore differs from the corpus"
            out = work / f"fog-out-{rnd}"
            timed("fog restore .@T -o NEW", [fog, "-C", str(share), "restore", f".@{moment}", "-o", str(out)], fenv)
            assert digests(out) == expect, "fog restore -o differs from the corpus"
            shutil.rmtree(out)
            target = work / f"restic-out-{rnd}"
            timed("restic restore SNAP1", [restic, "restore", snap1["id"], "--target", str(target)], renv)
            assert digests(target / share.relative_to("/")) == expect, "restic's restore differs"
            shutil.rmtree(target)
            timed("fog ls -R .@T", [fog, "-C", str(share), "ls", "-R", f".@{moment}"], fenv)
            timed("restic ls SNAP1", [restic, "ls", snap1["id"]], renv)
        print("\nmedians:")
        med = {k: sorted(x["seconds"] for x in v)[len(v) // 2] for k, v in results.items()}
        for k, v in med.items():
            print(f"  {k:<30} {v:8.2f} s")
        print(
            f"  fog restore -o / restic restore: {med['fog restore .@T -o NEW'] / med['restic restore SNAP1']:.2f}; "
            f"in place / restic restore: {med['fog restore .@T (in place)'] / med['restic restore SNAP1']:.2f}; "
            f"fog ls -R / restic ls: {med['fog ls -R .@T'] / med['restic ls SNAP1']:.2f}"
        )
        out_json = args.output or Path(f"trees-bench-{args.scale}.json")
        out_json.write_text(json.dumps({"scale": args.scale, "files": c.files, "bytes": c.bytes, "results": results}))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
