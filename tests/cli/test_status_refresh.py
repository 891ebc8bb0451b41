"""`fog status` refreshes racy stat-index entries, so it stops re-hashing fresh files (issue 19)."""

from __future__ import annotations

import pytest
from fogcli import Share

from fog.repo.db import RepoDB
from fog.sync import content, push


def _racy(share: Share, path: str) -> bool:
    db = RepoDB(share.root / ".fog" / "db")
    try:
        entry = db.get_stat(path)
        assert entry is not None
        return entry.racy
    finally:
        db.close()


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths fog reads (hashes) from now on, in order."""
    reads: list[str] = []
    real = content.FileReader.read_consistent

    def counting(self, path, before, stats):  # type: ignore[no-untyped-def]
        reads.append(path)
        return real(self, path, before, stats)

    monkeypatch.setattr(content.FileReader, "read_consistent", counting)
    return reads


def test_status_refreshes_racy_entries(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write("fresh.txt", "written just before the push\n")
    share.write("dir/also.txt", "and this one\n")
    share.push()
    assert _racy(share, "fresh.txt")  # its mtime is too close to the push: the index cannot trust it yet

    reads = _count_reads(monkeypatch)
    monkeypatch.setattr(push, "RACY_NS", 0)  # as if the 2 s had passed since the files were written
    assert share.fog("status", "--json").json()["clean"]
    assert len(reads) == 2  # the racy entries were hashed once more...
    assert not _racy(share, "fresh.txt") and not _racy(share, "dir/also.txt")
    assert share.fog("status", "--json").json()["clean"]
    assert len(reads) == 2  # ...and never again


def test_a_file_dated_in_the_future_is_not_read_again_at_every_scan(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An mtime a year ahead (a pull keeps another device's, whose clock ran fast) made the entry racy
    until that date: every status and push read and hashed the whole file again (review 5, longrun 5)."""
    import os
    import time

    ahead = time.time_ns() + 365 * 24 * 3600 * 10**9
    share.write("from-the-future.bin", b"x" * 100_000)
    os.utime(share.root / "from-the-future.bin", ns=(ahead, ahead))
    share.push()
    assert not _racy(share, "from-the-future.bin")
    reads = _count_reads(monkeypatch)
    assert share.fog("status", "--json").json()["clean"]
    assert reads == []
    with open(share.root / "from-the-future.bin", "r+b") as f:  # an edit now: a new mtime, seen
        f.write(b"y")
    assert share.fog("status", "--json").json()["modified"] == ["from-the-future.bin"]
    assert len(reads) == 1, reads
