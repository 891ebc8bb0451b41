"""fog.sync.incoming: a pull's staged versions come back whole, in path order, one chunk at a time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fog.format.version import Version
from fog.sync import incoming
from fog.sync.incoming import DELETED, FILE, NEW, Staged


def _v(path: str, n: int, kind: str = "file") -> Version:
    return Version(path, kind, n, 0o644, n, 1000 + n, "dev", content=bytes(32) if kind == "file" else None).with_id(
        n.to_bytes(32, "big")
    )


LONG = "x" * 398 + "/"  # a directory whose children's paths pass the 400 bytes a key holds


@pytest.fixture
def staged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Staged:
    monkeypatch.setattr(incoming, "RUN", 4)  # several runs to merge
    s = Staged(tmp_path)
    yield s
    s.close()


def test_chunks_come_back_in_path_order_whole(staged: Staged) -> None:
    paths = ["b", "a/c", "a", "a/b", LONG + "zz", LONG + "b", LONG + "za", LONG[:-1], "\udcff", "é", "a0", "a.b", "c"]
    versions = [_v(p, i) for i, p in enumerate(paths)]
    versions.append(_v("a/b", 99, "deleted"))  # a second version of a path, staged later
    for v in versions:
        staged.add(v, 1)
    staged.add(_v("a", 50), 2, new=False)  # retried
    staged.flush()
    assert staged.runs == 4  # (RUN 4: 15 versions)
    got: list[tuple[str, list[Version], list[int]]] = []
    start: bytes | None = b""
    while start is not None:
        chunk, start = staged.chunk(start, 3)
        got += [(p, [e.version() for e in entries], [e.flags for e in entries]) for p, entries in chunk]
    order = sorted(set(paths), key=lambda p: p.encode("utf-8", "surrogateescape"))
    assert [p for p, _, _ in got] == order
    by_path = {p: vs for p, vs, _ in got}
    assert [v.id for v in by_path["a/b"]] == [versions[3].id, versions[-1].id]  # in the order staged
    assert by_path[LONG + "b"] == [versions[5]]
    flags = {p: f for p, _, f in got}
    assert flags["a/b"] == [NEW | FILE, NEW | DELETED] and flags["a"] == [NEW | FILE, FILE]
    assert staged.new == len(versions)


def test_subtree_after_and_membership(staged: Staged) -> None:
    for i, p in enumerate(["a", "a/b", "a/c", "b", LONG[:-1], LONG + "q", "c/d"]):
        staged.add(_v(p, i), 1)
    staged.flush()
    first, start = staged.chunk(b"", 2)  # a, a/b
    assert [p for p, _ in first] == ["a", "a/b"]
    assert staged.subtree_after("a", start)  # a/c comes later
    _, start = staged.chunk(start, 1)  # a/c
    assert not staged.subtree_after("a", start)
    assert staged.subtree_after(LONG[:-1], start) and not staged.subtree_after("b", start)
    assert not staged.subtree_after("a", None)
    assert "a/c" in staged and LONG + "q" in staged and "c/d" in staged
    assert "a/d" not in staged and LONG + "r" not in staged and "c" not in staged


def test_a_log_dropped_part_way_leaves_nothing_of_it(staged: Staged) -> None:
    for i in range(6):
        staged.add(_v(f"p{i}", i), 1 if i % 2 else 2)
    staged.drop_log(2)  # some in runs already, some still gathered
    staged.flush()
    chunk, start = staged.chunk(b"", 100)
    assert [p for p, _ in chunk] == ["p1", "p3", "p5"] and start is None
    assert staged.new == 3


def test_a_killed_pulls_scratch_is_swept(tmp_path: Path) -> None:
    left = tmp_path / (incoming.SCRATCH_PREFIX + "dead")
    left.mkdir()
    (left / "data.mdb").write_bytes(b"x")
    s = Staged(tmp_path)
    assert not left.exists() and os.path.isdir(s.dir)
    s.close()
    assert not os.listdir(tmp_path)
