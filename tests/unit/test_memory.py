"""fog.memory: glibc's mmap threshold pinned, and free pages inside the arenas handed back."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

SCRIPT = textwrap.dedent(
    """
    import os
    from fog import memory

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    if not memory.pin_mmap_threshold():
        print("SKIP")
        raise SystemExit
    blocks = [bytes(200 << 10) for _ in range(400)]  # 80 MB below the 1 MiB threshold: from the arenas
    del blocks[::2]  # holes between live blocks: free() cannot return them
    before = rss()
    memory.release_free_memory()
    print(before - rss())
    """
)


def test_release_free_memory_returns_the_holes_a_phase_left() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout.strip()
    if out == "SKIP":
        pytest.skip("not glibc")
    assert int(out) > 16_000_000  # ~40 MB of holes (27 MB came back here); without malloc_trim none


def _rss_file() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) << 10
    return 0


def test_shed_lets_go_of_the_database_pages_mapped_inside_a_transaction(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Reads at random places of data.mdb map the whole file (each page with its cached neighbours) and
    stayed in the RSS until the environment closed: a chunk's transaction of a clone put 4,096 versions at
    random places. `shed` drops them inside the transaction; what is read next is the same."""
    import hashlib

    from fog.repo.db import RepoDB

    db = RepoDB(tmp_path / "db")
    keys = [hashlib.sha256(b"%d" % i).digest() for i in range(60_000)]
    with db.write() as txn:
        txn.cursor(db.db["versions"]).putmulti((k, k * 8) for k in keys)
    db.remap()
    with db.read() as txn:
        before = _rss_file()
        assert all(txn.get(k, db=db.db["versions"]) == k * 8 for k in keys[::50])
        mapped = _rss_file() - before
        db.shed()
        shed = _rss_file() - before
        assert all(txn.get(k, db=db.db["versions"]) == k * 8 for k in keys[::50])
    db.close()
    assert mapped > 8 << 20 and shed < 2 << 20, (mapped, shed)
