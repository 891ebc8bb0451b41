"""A pull's system calls per path (issue 20, clone time): each directory made once, and a new file
in a new directory stat'ed twice (before staging, once placed; a call relative to an open directory counts
as one on its full path): its missing parent says it is not here yet,
and the ignore rules take what is here from that, not from one more stat.

A clone of a deep tree used to try `mkdir` on every ancestor of every incoming
directory (EEXIST, then a `stat` to check it is one): 15,000 failed mkdirs and
as many stats for the 4,250 directories of the real tree at scale 0.25.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
from test_multidevice import World, make_pair


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _counting_mkdir(record: Path) -> str:
    return f"""
import json, os
_real = os.mkdir
def _mkdir(path, *a, **k):
    path = os.fspath(path)
    if k.get("dir_fd") is not None:  # (relative to an open directory: named in full)
        path = os.path.join(os.readlink(f"/proc/self/fd/{{k['dir_fd']}}"), path)
    with open({str(record)!r}, "a") as f:
        f.write(json.dumps(path) + "\\n")
    return _real(path if k.get("dir_fd") is None else os.path.basename(path), *a, **k)
os.mkdir = _mkdir
"""


def test_a_pull_makes_each_incoming_directory_once(world: World, tmp_path: Path) -> None:
    record = tmp_path / "mkdirs.jsonl"
    a, b = make_pair(world)
    dirs = ["deep", "deep/a", "deep/a/b", "deep/a/b/c", "deep/a/b/c/d", "deep/a/x", "deep/a/x/y"]
    for d in dirs:
        for i in range(3):
            a.write(f"{d}/f{i}.txt", f"{d} {i}\n")
    (a.root / "deep/a/b/c/d/empty").mkdir()
    a.push()
    b.fog("pull", patch=_counting_mkdir(record))
    made = [json.loads(line) for line in record.read_text().splitlines()]
    share = [str(Path(p).relative_to(b.root)) for p in made if Path(p).is_relative_to(b.root)]
    share = [p for p in share if not p.startswith(".fog")]
    assert sorted(share) == sorted([*dirs, "deep/a/b/c/d/empty"]), share
    for d in dirs:
        for i in range(3):
            assert (b.root / d / f"f{i}.txt").read_text() == f"{d} {i}\n"
    assert (b.root / "deep/a/b/c/d/empty").is_dir()


def _counting_stats(record: Path, top: Path) -> str:
    return f"""
import json, os
_top = {str(top) + "/"!r}
def _wrap(real):
    def stat(path, *a, **k):
        if isinstance(path, str) and k.get("dir_fd") is not None:  # (relative to an open directory)
            full = os.path.join(os.readlink(f"/proc/self/fd/{{k['dir_fd']}}"), path)
            if full.startswith(_top):
                with open({str(record)!r}, "a") as f:
                    f.write(json.dumps(full[len(_top):]) + "\\n")
        elif isinstance(path, str) and path.startswith(_top):
            with open({str(record)!r}, "a") as f:
                f.write(json.dumps(path[len(_top):]) + "\\n")
        return real(path, *a, **k)
    return stat
os.stat, os.lstat = _wrap(os.stat), _wrap(os.lstat)
"""


def test_a_pull_stats_a_new_file_twice(world: World, tmp_path: Path) -> None:
    record = tmp_path / "stats.json"
    a, b = make_pair(world)
    files = [f"new/d{i % 3}/f{i}.txt" for i in range(12)]
    for rel in files:
        a.write(rel, rel)
    a.push()
    b.fog("pull", patch=_counting_stats(record, b.root))
    counts = collections.Counter(json.loads(line) for line in record.read_text().splitlines())
    assert {rel: counts.get(rel, 0) for rel in files} == {rel: 2 for rel in files}, counts
    assert all((b.root / rel).read_text() == rel for rel in files)
