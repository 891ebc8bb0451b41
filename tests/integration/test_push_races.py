"""What changes in the tree while a push reads it is never read from outside the share (review 6, crash C3).

The race is made deterministic by a patch that acts inside the pushing
process right before the push reads the first file below `docs/`: the
directory is swapped for a symlink to a directory outside the share holding
a file of the same name. O_NOFOLLOW guarded only the last name of the path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, World, make_pair

SWAP_BEFORE_READ = """
import os
import fog.sync.content as _C
_real = _C.FileReader.read
_done = []
def _read(self, path, *a, **k):
    path = str(path)
    if "/docs/" in path and not _done:
        _done.append(1)
        top = path.rsplit("/docs/", 1)[0]
        os.rename(top + "/docs", top + "/docs.old")
        os.symlink(OUTSIDE, top + "/docs")
    return _real(self, path, *a, **k)
_C.FileReader.read = _read
"""


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


@pytest.mark.parametrize("size", [100, 300_000], ids=["small", "large"])
def test_a_directory_swapped_for_a_symlink_while_push_reads_is_not_followed(world: World, size: int) -> None:
    a, b = make_pair(world)
    outside = world.tmp / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_bytes(b"SECRET FROM OUTSIDE THE SHARE\n" + bytes(size))
    a.write("docs/notes.txt", b"ordinary notes\n" + bytes(size), mtime_ns=OLD_MTIME_NS)
    r = a.fog("push", "--json", expect=(0, 5), patch=f"OUTSIDE = {str(outside)!r}\n" + SWAP_BEFORE_READ)
    assert "docs/notes.txt" not in r.json()["added"], r.json()
    b.pull()
    assert not (b.root / "docs" / "notes.txt").exists() or b"SECRET" not in (b.root / "docs/notes.txt").read_bytes()
    for rev in ("docs/notes.txt",):
        got = a.fog("cat", rev, expect=None)
        assert "SECRET" not in got.out, got.out
    os.unlink(a.root / "docs")
    os.rename(a.root / "docs.old", a.root / "docs")
    a.push()  # the next push takes the file that was there
    b.pull()
    assert (b.root / "docs" / "notes.txt").read_bytes().startswith(b"ordinary notes\n")
