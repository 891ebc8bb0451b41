"""Time the share database's lookups on a share (issue 20, `.fog/` format 5's costs).

Usage:
    PYTHONPATH=. python benchmarks/db_lookups.py DIR/.fog/db

Prints, in process: the share's tree at this moment (`trees.tree_at`, which reads `history`) and at its
heads; `path_history` of every 100th path; `has_version` of their heads; `locations` of every 10th object
of the first three packs. Run it while no fog command holds the share.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fog.repo import trees
from fog.repo.db import RepoDB


def main() -> None:
    db = RepoDB(Path(sys.argv[1]))
    out: dict[str, float] = {}
    t = time.perf_counter()
    at = trees.tree_at(db, "", time.time_ns())
    out["tree_at(moment)"] = time.perf_counter() - t
    t = time.perf_counter()
    heads = trees.tree_at(db, "", None)
    out["tree_at(heads)"] = time.perf_counter() - t
    if len(at) != len(heads):
        raise SystemExit(f"the two trees differ: {len(at)} and {len(heads)} paths")
    names = sorted(heads)[::100]
    t = time.perf_counter()
    for p in names:
        db.path_history(p)
    out[f"path_history x{len(names)}"] = time.perf_counter() - t
    t = time.perf_counter()
    with db.read() as txn:
        known = sum(db.has_version(heads[p].id, txn) for p in names)
    out[f"has_version x{len(names)}"] = time.perf_counter() - t
    oids: list[bytes] = []
    for pack in sorted(db.known_packs())[:3]:
        index = db.pack_index(pack)
        oids += [oid for oid, _, _ in index or ()][::10]
    t = time.perf_counter()
    found = sum(bool(db.locations(oid)) for oid in oids)
    out[f"locations x{len(oids)}"] = time.perf_counter() - t
    db.close()
    if known != len(names) or found != len(oids):
        raise SystemExit("a lookup found nothing")
    print(" ".join(f"{k}={v * 1000:.1f}ms" for k, v in out.items()))


if __name__ == "__main__":
    main()
