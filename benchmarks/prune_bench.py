"""Trimming history: fog forget + prune against restic forget --prune, on the same data (issue 16).

Usage:
    python benchmarks/prune_bench.py [--scale 0.1] [--versions 30] [--keep 3] [--tools fog,restic]
    python benchmarks/prune_bench.py --files100k [--versions 4] [--keep 1]

The corpus comes from benchmarks/corpus.py. Every file gets `--versions`
versions: after the first push / backup, each round edits every file (a
small file: a line appended, so all of it is a new block; a larger one: 4 KiB
overwritten at a random place and a line appended) and pushes / backs up
again. With --files100k a tenth of the files is edited per round instead
(each round a different tenth), which is what a 100,000-file share sees.
Then, for each tool, timed with wall time, CPU and peak RSS (bench.run):

    forget      fog forget --keep-last K   |  (part of restic's one command)
    prune       fog prune --grace 0        |  restic forget --keep-last K --prune

and the repository's apparent size before and after. For fog also: the
size of a fresh push of the same current tree to a new remote (the goal: the
pruned remote within 10 % of it), and a check that a clone of the pruned
remote equals the tree. `--grace 0`: nothing else pushes (the two-phase
protocol's waiting is not what is timed; its extra cost is one more run's
listing of the remote).

The figures are for one run on this machine; both tools run in the same
script on the same data, so their ratio is what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import corpus as corpus_mod  # noqa: E402


def edit(root: Path, rnd: int, fraction: float) -> int:
    """Edit the files of this round (all, or `fraction` of them by position); returns how many."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and ".fog" not in p.parts)
    step = max(1, round(1 / fraction)) if fraction < 1 else 1
    rng = random.Random(rnd)
    edited = 0
    for i, p in enumerate(files):
        if step > 1 and i % step != rnd % step:
            continue
        size = p.stat().st_size
        with open(p, "r+b") as f:
            if size > 64 << 10:
                f.seek(rng.randrange(0, size - 4096))
                f.write(rng.randbytes(4096))
            f.seek(0, os.SEEK_END)
            f.write(f"\nversion {rnd} of this file\n".encode())
        edited += 1
    corpus_mod.set_tree_mtime(root, corpus_mod.FIXED_MTIME + rnd * 3600)
    return edited


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--files100k", action="store_true")
    ap.add_argument("--versions", type=int, default=None, help="versions per file (default 30; 4 with --files100k)")
    ap.add_argument("--keep", type=int, default=None, help="keep-last (default 3; 1 with --files100k)")
    ap.add_argument("--tools", default="fog,restic")
    ap.add_argument("--fog", default=None, help="the fog executable (default: next to this Python, else PATH)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--output", type=Path, default=None)
    args = ap.parse_args(argv)
    versions = args.versions or (4 if args.files100k else 30)
    keep = args.keep or (1 if args.files100k else 3)
    fraction = 0.1 if args.files100k else 1.0
    tools = bench.find_tools(args.tools.split(","), args.fog)
    work = Path(tempfile.mkdtemp(prefix="fog-prune-bench-", dir=args.workdir))
    results: dict[str, dict] = {}
    try:
        src = work / "corpus"
        c = corpus_mod.generate(src, args.scale, files100k=args.files100k)
        print(f"corpus: {c.files} files, {c.bytes / 1e6:.1f} MB; {versions} versions, keep-last {keep}", flush=True)
        for name, exe in tools.items():
            tree = work / f"tree-{name}"
            shutil.copytree(src, tree, symlinks=True)
            tool = bench.make_tool(name, exe, tree, work / name)
            tool.init()
            for rnd in range(versions):
                if rnd:
                    edit(tree, rnd, fraction)
                tool.backup(f"v{rnd}")
            before = bench.apparent_size(tool.repo)
            r: dict = {"size_before": before}
            if name == "fog":
                t = bench.run([exe, "-C", str(tree), "forget", "--keep-last", str(keep)], tool.env)
                r["forget"] = {"seconds": t[0], "cpu": t[1], "rss_kb": t[2]}
                t = bench.run([exe, "-C", str(tree), "prune", "--grace", "0", "--json"], tool.env)
                r["prune"] = {"seconds": t[0], "cpu": t[1], "rss_kb": t[2], "report": bench.fog_json(t[3])}
                stats = bench.fog_json(bench.run([exe, "-C", str(tree), "stats", "--json"], tool.env)[3])
                r["stats"] = {
                    k: stats["remotes"][0][k]
                    for k in ("stored_bytes", "current_bytes", "old_bytes", "unreferenced_bytes")
                }
                fresh = bench.make_tool(name, exe, work / "fresh-tree", work / "fresh")
                shutil.copytree(tree, work / "fresh-tree", symlinks=True, ignore=shutil.ignore_patterns(".fog"))
                fresh.init()
                fresh.backup("fresh")
                r["fresh_size"] = bench.apparent_size(fresh.repo)
                (clone_t, target) = tool.restore(work / "clone-fog")
                problems = [
                    str(p.relative_to(tree))
                    for p in tree.rglob("*")
                    if p.is_file()
                    and ".fog" not in p.parts
                    and p.read_bytes() != (target / p.relative_to(tree)).read_bytes()
                ]
                r["clone_matches"] = not problems
            else:
                cmd = [exe, "forget", "--keep-last", str(keep), "--prune"]
                t = bench.run(cmd, tool.env)
                r["prune"] = {"seconds": t[0], "cpu": t[1], "rss_kb": t[2]}
            r["size_after"] = bench.apparent_size(tool.repo)
            results[name] = r
            print(name, json.dumps({k: v for k, v in r.items() if k != "prune"}), flush=True)
            print(f"  prune: {r['prune']['seconds']:.2f} s, {r['prune']['rss_kb'] / 1024:.0f} MB peak", flush=True)
        _report(results)
        out = args.output or Path(f"prune-{'files100k' if args.files100k else 'standard'}-{args.scale}.json")
        out.write_text(json.dumps({"versions": versions, "keep": keep, "scale": args.scale, "results": results}))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _report(results: dict[str, dict]) -> None:
    f, r = results.get("fog"), results.get("restic")
    if f:
        total = f["prune"]["seconds"] + f["forget"]["seconds"]
        peak = max(f["forget"]["rss_kb"], f["prune"]["rss_kb"]) / 1024
        print(
            f"fog: {f['size_before'] / 1e6:.1f} MB -> {f['size_after'] / 1e6:.1f} MB "
            f"(fresh push of the same tree: {f['fresh_size'] / 1e6:.1f} MB, "
            f"{f['size_after'] / f['fresh_size']:.3f}x); forget {f['forget']['seconds']:.2f} s + prune "
            f"{f['prune']['seconds']:.2f} s = {total:.2f} s, peak RSS {peak:.0f} MB; "
            f"clone matches: {f['clone_matches']}"
        )
        st = f["stats"]
        print(
            f"fog after: current versions {st['current_bytes'] / 1e6:.1f} MB, old versions kept "
            f"{st['old_bytes'] / 1e6:.1f} MB, unreferenced {st['unreferenced_bytes'] / 1e6:.1f} MB "
            f"({st['unreferenced_bytes'] / max(1, st['stored_bytes']):.1%})"
        )
    if r:
        print(
            f"restic: {r['size_before'] / 1e6:.1f} MB -> {r['size_after'] / 1e6:.1f} MB; forget --prune "
            f"{r['prune']['seconds']:.2f} s, peak RSS {r['prune']['rss_kb'] / 1024:.0f} MB"
        )
    if f and r:
        ft = f["prune"]["seconds"] + f["forget"]["seconds"]
        frss = max(f["forget"]["rss_kb"], f["prune"]["rss_kb"])
        print(f"fog/restic: time {ft / r['prune']['seconds']:.2f}, peak RSS {frss / r['prune']['rss_kb']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
