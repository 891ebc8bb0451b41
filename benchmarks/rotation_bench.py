"""What a key rotation costs (issue 17): `fog device revoke` on the standard corpus, and after it.

Usage:
    python benchmarks/rotation_bench.py [--scale 1.0] [--devices 3]

Device A makes a share of the corpus (benchmarks/corpus.py) on a local-directory
remote and pushes it; B and C clone it. Then, each timed (bench.run: wall time,
CPU, peak RSS) and with the bytes the remote gained:

    revoke      A: fog device revoke C        (the rotation itself)
    follow      B: fog pull                   (follows the rotation: opens its stanza, reads the new place)
    push-same   A: fog push, nothing changed  (must upload nothing)
    push-edit   A: fog push after a 4 KiB edit of the largest file and one new small file
    follow-pull B: fog pull                   (gets the edit)
    told        C: fog pull                   (the revoked device is told, exit 6)

against the initial push (time and bytes). Object names do not change in a
rotation, so nothing already stored is uploaded again; the edit costs what it
costs without a rotation (one new block, sealed with the new epoch's key).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import corpus as corpus_mod  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--fog", default=None, help="the fog executable (default: next to this Python, else PATH)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--output", type=Path, default=None)
    args = ap.parse_args(argv)
    exe = bench.find_tools(["fog"], args.fog)["fog"]
    work = Path(tempfile.mkdtemp(prefix="fog-rotation-bench-", dir=args.workdir))
    try:
        c = corpus_mod.generate(work / "a", args.scale)
        print(f"corpus: {c.files} files, {c.bytes / 1e6:.1f} MB", flush=True)
        remote, key = work / "remote", work / "master.key"
        homes = {n: work / f"home-{n}" for n in "abc"}
        env = {n: {**bench.base_env(), "FOG_HOME": str(h)} for n, h in homes.items()}
        results: dict[str, dict] = {}

        def step(label: str, who: str, cmd: list[str]) -> None:
            before = bench.apparent_size(remote) if remote.exists() else 0
            t = bench.run([exe, *cmd], env[who])
            results[label] = {
                "seconds": round(t[0], 3),
                "cpu": round(t[1], 3),
                "rss_mb": round(t[2] / 1024, 1),
                "remote_bytes_added": bench.apparent_size(remote) - before,
            }
            print(label, json.dumps(results[label]), flush=True)

        step("init", "a", ["init", str(work / "a"), "--remote", str(remote), "--master-key-file", str(key)])
        step("push", "a", ["-C", str(work / "a"), "push", "-q"])
        for n in "bc":
            step(
                f"clone-{n}",
                n,
                ["clone", str(remote), str(work / n), "--master-key-file", str(key), "--device-name", n],
            )
        step(
            "revoke", "a", ["-C", str(work / "a"), "device", "revoke", "c", "--master-key-file", str(work / "new.key")]
        )
        step("follow", "b", ["-C", str(work / "b"), "pull", "-q"])
        step("push-same", "a", ["-C", str(work / "a"), "push", "-q"])
        biggest = max(
            (p for p in (work / "a").rglob("*") if p.is_file() and ".fog" not in p.parts), key=os.path.getsize
        )
        with open(biggest, "r+b") as f:
            f.seek(os.path.getsize(biggest) // 2)
            f.write(os.urandom(4096))
        (work / "a" / "after-rotation.txt").write_text("new after the rotation\n")
        step("push-edit", "a", ["-C", str(work / "a"), "push", "-q"])
        step("follow-pull", "b", ["-C", str(work / "b"), "pull", "-q"])
        told = subprocess.run([exe, "-C", str(work / "c"), "pull", "-q"], env=env["c"], capture_output=True, text=True)
        assert told.returncode == 6, told
        print("told", told.returncode, told.stderr.strip(), flush=True)
        assert (work / "b" / "after-rotation.txt").read_text() == "new after the rotation\n"
        assert not (work / "c" / "after-rotation.txt").exists()
        push = results["push"]
        print(
            f"rotation: {results['revoke']['seconds']:.2f} s, {results['revoke']['remote_bytes_added']} B written; "
            f"initial push {push['seconds']:.2f} s, {push['remote_bytes_added'] / 1e6:.1f} MB; "
            f"unchanged push after it: {results['push-same']['remote_bytes_added']} B; "
            f"a 4 KiB edit + 1 small file after it: {results['push-edit']['remote_bytes_added']} B",
            flush=True,
        )
        out = args.output or Path(f"rotation-{args.scale}.json")
        out.write_text(json.dumps({"scale": args.scale, "files": c.files, "bytes": c.bytes, "results": results}))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
