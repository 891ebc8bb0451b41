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


def test_status_refreshes_racy_entries(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write("fresh.txt", "written just before the push\n")
    share.write("dir/also.txt", "and this one\n")
    share.push()
    assert _racy(share, "fresh.txt")  # its mtime is too close to the push: the index cannot trust it yet

    reads: list[str] = []
    real = content.FileReader.read_consistent

    def counting(self, path, before, stats):  # type: ignore[no-untyped-def]
        reads.append(path)
        return real(self, path, before, stats)

    monkeypatch.setattr(content.FileReader, "read_consistent", counting)
    monkeypatch.setattr(push, "RACY_NS", 0)  # as if the 2 s had passed since the files were written
    assert share.fog("status", "--json").json()["clean"]
    assert len(reads) == 2  # the racy entries were hashed once more...
    assert not _racy(share, "fresh.txt") and not _racy(share, "dir/also.txt")
    assert share.fog("status", "--json").json()["clean"]
    assert len(reads) == 2  # ...and never again
