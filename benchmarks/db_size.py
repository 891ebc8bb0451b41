"""What a share's `.fog/db` costs, per sub-database and per path (issue 20).

Usage:
    PYTHONPATH=. python benchmarks/db_size.py DIR/.fog/db [PATHS]

For each sub-database: entries, branch, leaf and overflow pages, the bytes of
those pages per path, the bytes of its keys and values per path, and how full
its pages are (keys and values over page bytes; LMDB adds 8 bytes of node
header and a 2-byte pointer per entry). PATHS defaults to the entries of
`heads`. Then the pages in use, `data.mdb`'s apparent size, and the size of a
compacted copy (`mdb_copy -c`: free pages left out, pages copied as they are).
Opens the database read-only; run it while no fog command holds the share.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

import lmdb

from fog.repo.history import DB_NAMES, DUPSORT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db")
    ap.add_argument("paths", nargs="?", type=int)
    args = ap.parse_args()
    env = lmdb.open(args.db, readonly=True, lock=False, max_dbs=len(DB_NAMES), subdir=True)
    psize = env.stat()["psize"]
    rows = []
    with env.begin() as txn:
        dbs = {}
        for name in DB_NAMES:  # a database an older fog wrote lacks the newer sub-databases
            try:
                dbs[name] = env.open_db(name, txn=txn, create=False, dupsort=name in DUPSORT)
            except lmdb.NotFoundError:
                pass
        paths = args.paths or txn.stat(dbs[b"heads"])["entries"] or 1
        for name, db in dbs.items():
            s = txn.stat(db)
            kv = sum(len(k) + len(v) for k, v in txn.cursor(db))
            pages = (s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"]) * psize
            counts = (s["entries"], s["branch_pages"], s["leaf_pages"], s["overflow_pages"])
            rows.append((name.decode(), *counts, pages, kv))
    size = os.path.getsize(os.path.join(args.db, "data.mdb"))
    tmp = tempfile.mkdtemp(prefix="db-size-")
    try:
        env.copy(tmp, compact=True)
        compacted = os.path.getsize(os.path.join(tmp, "data.mdb"))
    finally:
        shutil.rmtree(tmp)
        env.close()
    head = (("entries", 8), ("branch", 6), ("leaf", 6), ("ovfl", 6))
    head += (("MB", 7), ("B/path", 7), ("kv/path", 7), ("fill%", 5))
    print(f"{'db':10} " + " ".join(f"{t:>{w}}" for t, w in head))
    for name, n, branch, leaf, ovfl, pages, kv in rows:
        if n or pages:
            fill = 100 * kv / pages if pages else 0
            print(
                f"{name:10} {n:8} {branch:6} {leaf:6} {ovfl:6} {pages / 1e6:7.2f} {pages / paths:7.1f} "
                f"{kv / paths:7.1f} {fill:5.0f}"
            )
    used = sum(r[5] for r in rows)
    print(f"paths {paths}, page size {psize}: pages in use {used / 1e6:.2f} MB ({used / paths:.0f} B/path)")
    print(
        f"data.mdb {size / 1e6:.2f} MB ({size / paths:.0f} B/path), "
        f"compacted copy {compacted / 1e6:.2f} MB ({compacted / paths:.0f} B/path)"
    )


if __name__ == "__main__":
    main()
