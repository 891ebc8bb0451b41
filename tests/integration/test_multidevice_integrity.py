"""A remote that lies: rolled-back, replayed, altered or invented batches; and pulls that die.

Each refusal must exit 4 with one line naming the problem and apply nothing
from the suspect device. A pull killed part-way must, when run again, end in
exactly the state an uninterrupted pull reaches.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_multidevice import INITIAL, Device, World, make_pair, tree


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Device, Device]:
    return make_pair(World(tmp_path, tmp_path / "remote", tmp_path / "master.key"))


def two_batches(b: Device) -> tuple[Path, Path]:
    """B publishes batch 1 (doc.txt) and batch 2 (notes.txt); returns their files."""
    b.write("doc.txt", "desktop batch 1\n")
    first = b.push()
    b.write("notes.txt", "desktop batch 2\n")
    second = b.push()
    assert first is not None and second is not None
    assert first.parent == second.parent and (first.name, second.name) == ("0000000001", "0000000002")
    return first, second


def refused(a: Device, *words: str) -> str:
    """A's pull exits 4 with one line on stderr containing every word; A's tree is untouched."""
    before = a.tree()
    r = a.pull(expect=4)
    line = r.error_line()
    for w in words:
        assert w in line, line
    assert a.tree() == before
    return line


def test_deleted_newest_batch_is_a_rollback(pair: tuple[Device, Device]) -> None:
    a, b = pair
    _, second = two_batches(b)
    a.pull()
    second.unlink()
    refused(a, "desktop", "rolled back")


def test_whole_remote_rolled_back(pair: tuple[Device, Device], tmp_path: Path) -> None:
    a, b = pair
    remote = a.world.remote
    shutil.copytree(remote, tmp_path / "snapshot")
    two_batches(b)
    a.pull()
    shutil.rmtree(remote)
    shutil.copytree(tmp_path / "snapshot", remote)
    refused(a, "rolled back")


def test_replayed_batch_is_refused(pair: tuple[Device, Device]) -> None:
    a, b = pair
    first, second = two_batches(b)
    second.write_bytes(first.read_bytes())
    line = refused(a, "desktop", "batch 2")
    assert a.read("doc.txt") == INITIAL["doc.txt"]  # not even the genuine batch 1 is applied
    assert "desktop batch" not in line


def test_altered_batch_is_refused(pair: tuple[Device, Device]) -> None:
    a, b = pair
    first, _ = two_batches(b)
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0x01
    first.write_bytes(bytes(data))
    refused(a, "desktop", "batch 1")
    assert a.read("doc.txt") == INITIAL["doc.txt"]
    assert a.read("notes.txt") == INITIAL["notes.txt"]


def test_log_of_unknown_device_is_set_aside(pair: tuple[Device, Device]) -> None:
    """Nothing from it is applied, and it is reported (once: see test_foreign_log.py) without failing the pull."""
    a, b = pair
    b.write("doc.txt", "desktop edit\n")
    batch = b.push()
    assert batch is not None
    a.pull()
    fake = batch.parent.parent / os.urandom(16).hex()
    fake.mkdir()
    shutil.copy(batch, fake / batch.name)
    b.write("notes.txt", "a genuine later edit\n")
    b.push()
    r = a.pull()
    assert "no device" in r.error_line() and "set aside" in r.error_line()
    assert fake.name[:12] in r.err
    # only the impostor is refused: B's genuine batch still arrives
    assert a.read("notes.txt") == "a genuine later edit\n"


def test_own_batches_rolled_back_stops_push(pair: tuple[Device, Device]) -> None:
    a, _ = pair
    a.write("doc.txt", "laptop batch 2\n")
    second = a.push()
    assert second is not None and second.name == "0000000002"
    second.unlink()
    a.write("doc.txt", "laptop batch 3\n")
    files = a.world.log_files()
    r = a.fog("push", expect=4)
    assert "rolled back" in r.error_line()
    assert a.world.log_files() == files  # nothing published over the gap


# -- a pull that dies part-way ---------------------------------------------------------------------

# Pull stages incoming files with stage_version (then one sync, then renames) and
# writes conflict copies with write_version: a "write" is a call of either.
COUNT_WRITES = """
import fog.sync.content as _c, fog.sync.apply as _p
def _wrap(real):
    def _counting(*args, **kwargs):
        with open({log!r}, "a") as f:
            f.write("x\\n")
        return real(*args, **kwargs)
    return _counting
_p.stage_version = _wrap(_c.stage_version)
_p.write_version = _wrap(_c.write_version)
"""

EXIT_AFTER_WRITE = """
import fog.sync.content as _c, fog.sync.apply as _p, threading
_calls, _lock = [0], threading.Lock()
def _wrap(real):
    def _dying(*args, **kwargs):
        out = real(*args, **kwargs)
        with _lock:
            _calls[0] += 1
            if _calls[0] == {k}:
                raise SystemExit(99)
        return out
    return _dying
_p.stage_version = _wrap(_c.stage_version)
_p.write_version = _wrap(_c.write_version)
"""

KILL_DURING_WRITE = """
import os, fog.sync.content as _c, fog.sync.apply as _p
_real_replace, _calls = os.replace, [0]
def _dying_replace(*args, **kwargs):
    _calls[0] += 1
    if _calls[0] == {k}:
        os._exit(98)  # SIGKILL-like: temp files written and synced, some renamed, the rest not
    return _real_replace(*args, **kwargs)
os.replace = _dying_replace
"""


def copy_device(d: Device, name: str) -> Device:
    """A byte copy of a device (home and share) at another place, same remote.

    The copy stands for the machine itself, so its FOG_HOME does not remember the
    original's checkout (checkouts.json): it would refuse the copy as a second checkout."""
    c = Device(name, d.world.tmp / f"home-{name}", d.world.tmp / name, d.world)
    shutil.copytree(d.home, c.home, symlinks=True, ignore=shutil.ignore_patterns("checkouts.json"))
    shutil.copytree(d.root, c.root, symlinks=True)
    return c


def test_killed_pull_resumes_to_the_same_state(pair: tuple[Device, Device]) -> None:
    a, b = pair
    a.write("doc.txt", "laptop edit\n")
    a.push()
    b.write("doc.txt", "desktop edit\n")
    b.write("notes.txt", "desktop notes\n")
    b.write("sub/readme.md", "desktop readme\n")
    b.write("new/dir/x.txt", "brand new\n")
    (b.root / "sub/deep/data.bin").unlink()
    b.push()
    reference = a.world.clone("phone", expect=(0, 3)).tree()  # a clean third device
    assert reference["new/dir/x.txt"][2] == b"brand new\n"
    assert "sub/deep/data.bin" not in reference

    counter = a.world.tmp / "writes.log"
    whole = copy_device(a, "laptop-whole")
    whole.fog("pull", patch=COUNT_WRITES.format(log=str(counter)), expect=3)
    assert whole.tree() == reference
    writes = len(counter.read_text().splitlines())
    expected_status = whole.fog("status", "--json").json()
    assert not (expected_status["added"] or expected_status["modified"] or expected_status["deleted"])
    # the copy is recorded by the pull (and queued for the next push), listed as unresolved
    assert expected_status["conflicts"] == [p.name for p in whole.conflicts()] != []
    assert writes >= 5  # 4 files and at least one conflict copy

    cases = [(EXIT_AFTER_WRITE, k, 99) for k in range(1, writes + 1)] + [(KILL_DURING_WRITE, 2, 98)]
    for patch, k, code in cases:
        d = copy_device(a, f"laptop-{code}-{k}")
        d.fog("pull", patch=patch.format(k=k), expect=code)
        d.fog("pull", expect=3)
        assert d.tree() == reference, (code, k)
        assert len(d.conflicts()) == 1
        assert not [p for p in d.root.rglob("*") if ".fog-tmp" in p.name], (code, k)
        assert d.fog("pull", "--json").json()["versions"] == 0
        status = d.fog("status", "--json").json()
        assert {**status, "root": None} == {**expected_status, "root": None}, (code, k)
    assert tree(a.root) != reference  # the copies were pulled, not A itself
