"""The streaming scan: one pass comparing the tree with the stat index as bytes (fog.sync.scan)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fog.repo.db import RepoDB, StatEntry
from fog.sync.scan import Candidates, scan


def _index(db: RepoDB, root: Path, paths: list[str], *, racy: bool = False) -> None:
    with db.write() as txn:
        for p in paths:
            s = os.lstat(root / p)
            db.put_stat(txn, StatEntry(p, s.st_size, s.st_mtime_ns, s.st_ino, s.st_ctime_ns, s.st_mode, racy, b""))


def test_scan_finds_new_changed_gone_and_counts_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    long_dir = "d" * 200 + "/" + "e" * 200  # > 400 bytes with the file: keyed by hash
    for p in ["a.txt", "sub/b.txt", "sub/c.txt", f"{long_dir}/f.txt", "gone.txt"]:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_text(p)
    (root / "link").symlink_to("a.txt")
    db = RepoDB(tmp_path / "db")
    indexed = ["a.txt", "sub", "sub/b.txt", "sub/c.txt", "d" * 200, long_dir, f"{long_dir}/f.txt", "gone.txt", "link"]
    _index(db, root, indexed)
    with db.stat_view() as index:
        d = scan(root, index)
    assert (d.candidates, d.gone, d.unchanged) == ([], [], len(indexed))

    (root / "gone.txt").unlink()
    (root / "sub/b.txt").write_text("changed, longer")
    (root / "new.txt").write_text("new")
    with db.stat_view() as index:
        d = scan(root, index, lambda p: p.endswith(".txt"))
    assert [e.path for e in d.candidates] == ["new.txt", "sub/b.txt"]  # a directory compares by mode only
    assert d.gone == ["gone.txt"]
    assert "new.txt" in d.flagged and f"{long_dir}/f.txt" in d.flagged
    db.close()


def test_racy_entries_are_always_candidates(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "x").write_text("x")
    db = RepoDB(tmp_path / "db")
    _index(db, root, ["x"], racy=True)
    with db.stat_view() as index:
        d = scan(root, index)
    assert [e.path for e in d.candidates] == ["x"] and d.unchanged == 0 and d.gone == []
    db.close()


def _stat(size: int, mtime: int, ino: int, ctime: int, mode: int) -> os.stat_result:
    return os.stat_result((mode, ino, 0, 1, 0, 0, size, 0, 0, 0, 0, 0, 0, 0, mtime, ctime))  # (st_mtime_ns: 14)


def test_candidates_store_entries_by_column() -> None:
    c = Candidates()
    rows = [
        ("z/late.txt", "file", _stat(5, -1_000, 2**64 - 1, 7, 0o100644), None),  # negative mtime, largest inode
        ("a", "dir", _stat(0, 2**62, 3, 2**62 + 1, 0o40755), None),
        ("m/link", "link", _stat(6, 9, 4, 10, 0o120777), "../a"),
        ("b.bin", "file", _stat(2**40, 11, 5, 12, 0o100600), None),
    ]
    for path, kind, s, target in rows:
        c.add(path, kind, s, target)
    assert len(c) == 4 and c.file_bytes() == 5 + 2**40
    c.sort()
    got = list(c)
    assert [e.path for e in got] == ["a", "b.bin", "m/link", "z/late.txt"]
    for e in got:
        path, kind, s, target = next(r for r in rows if r[0] == e.path)
        assert (e.kind, e.target) == (kind, target)
        assert (e.st.st_size, e.st.st_mtime_ns, e.st.st_ino, e.st.st_ctime_ns, e.st.st_mode) == (
            s.st_size,
            s.st_mtime_ns,
            s.st_ino,
            s.st_ctime_ns,
            s.st_mode,
        )
    assert c[1:3] == got[1:3] and c[-1] == got[-1] and c[0] == got[0] and c == got and c[7:] == []
    assert c.file_bytes(0, 2) == 2**40 and c.file_bytes(2) == 5
    with pytest.raises(IndexError):
        c[4]
    assert Candidates() == [] and Candidates().file_bytes() == 0
    far = Candidates()  # times past what an int64 holds are kept at its limits (clamp_ns)
    far.add("f", "file", _stat(1, 2**70, 6, -(2**70), 0o100644))
    far.add("e", "file", _stat(2, 3, 7, 2**63, 0o100644))
    far.sort()
    assert [(e.path, e.st.st_mtime_ns, e.st.st_ctime_ns) for e in far] == [
        ("e", 3, 2**63 - 1),
        ("f", 2**63 - 1, -(2**63)),
    ]
