"""`fog clone URL DIR --into-existing`: rebuild a lost or damaged `.fog/` around the files (issue 15, item 14)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_multidevice import INITIAL, Device, World, make_pair, run_fog


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def recover(dev: Device, *, expect: int = 0) -> None:
    run_fog(
        ["clone", dev.world.remote, dev.root, "--master-key-file", dev.world.key, "--into-existing"],
        home=dev.home,
        cwd=dev.world.tmp,
        expect=expect,
    )


def _status(dev: Device) -> dict[str, list[str]]:
    doc = dev.fog("status", "--json").json()
    return {k: sorted(doc[k]) for k in ("added", "modified", "deleted")}


def test_recover_in_place_keeps_every_local_edit(world: World) -> None:
    a, b = make_pair(world)
    b.write("doc.txt", "B's edit\n")
    b.write("new-on-b.txt", "added on B\n")
    before = b.tree()
    shutil.rmtree(b.root / ".fog")
    recover(b)
    assert b.tree() == before  # nothing rewritten, nothing lost
    assert _status(b) == {"added": ["new-on-b.txt"], "modified": ["doc.txt"], "deleted": []}
    b.push()
    a.pull()
    assert a.read("doc.txt") == "B's edit\n" and a.read("new-on-b.txt") == "added on B\n"
    assert a.tree() == b.tree()
    assert not a.conflicts() and not b.conflicts()
    assert _status(b) == {"added": [], "modified": [], "deleted": []}


def test_recover_in_place_when_the_remote_moved_on(world: World) -> None:
    a, b = make_pair(world)
    b.write("doc.txt", "B's edit\n")
    a.write("doc.txt", "A's edit\n")
    a.write("notes.txt", "A's notes\n")  # B never touched it: B takes A's version
    a.push()
    shutil.rmtree(b.root / ".fog")
    recover(b, expect=3)  # a conflict copy was written
    assert b.read("doc.txt") == "B's edit\n"  # kept as B's change
    (copy,) = b.conflicts()
    assert copy.read_text() == "A's edit\n"  # the incoming version beside it
    assert b.read("notes.txt") == "A's notes\n"  # a stale copy of an older version is updated
    assert _status(b)["modified"] == ["doc.txt"]
    b.push()
    a.pull(expect=3)  # (A's edit is in the copy now: said)
    assert a.read("doc.txt") == "B's edit\n"
    assert [p.read_text() for p in a.conflicts()] == ["A's edit\n"]
    assert a.tree() == b.tree()


def test_recover_in_place_after_this_device_had_pushed(world: World) -> None:
    a, b = make_pair(world)
    b.write("from-b.txt", "pushed by B\n")
    b.push()
    b.write("from-b.txt", "edited on B, not pushed\n")
    shutil.rmtree(b.root / ".fog")
    recover(b)
    assert b.read("from-b.txt") == "edited on B, not pushed\n"
    assert _status(b) == {"added": [], "modified": ["from-b.txt"], "deleted": []}
    b.push()
    a.pull()
    assert a.read("from-b.txt") == "edited on B, not pushed\n"
    assert a.tree() == b.tree()


def test_recover_in_place_refuses_an_existing_fog_dir(world: World) -> None:
    _, b = make_pair(world)
    r = run_fog(
        ["clone", world.remote, b.root, "--master-key-file", world.key, "--into-existing"],
        home=b.home,
        cwd=world.tmp,
        expect=1,
    )
    assert ".fog" in r.error_line()
    assert b.tree()["doc.txt"][2] == INITIAL["doc.txt"].encode()


def test_damaged_database_then_recover_in_place(world: World) -> None:
    a, b = make_pair(world)
    for i in range(200):
        b.write(f"many/f{i:03d}.txt", f"{i}\n" * 30)
    b.push()
    b.write("doc.txt", "B's edit\n")
    before = b.tree()
    data = b.root / ".fog" / "db" / "data.mdb"
    os.truncate(data, data.stat().st_size // 2)
    line = b.fog("status", expect=1).error_line()
    assert "damaged" in line and "--into-existing" in line, line
    aside = world.tmp / "b-fog-damaged"
    os.rename(b.root / ".fog", aside)
    recover(b)
    assert b.tree() == before
    assert _status(b) == {"added": [], "modified": ["doc.txt"], "deleted": []}
    b.push()
    a.pull()
    assert a.tree() == b.tree()


def test_into_existing_on_an_empty_directory_is_a_clone(world: World) -> None:
    a, _ = make_pair(world)
    c = world.device("phone")
    c.root.mkdir()
    recover(c)
    assert c.tree() == a.tree()


def test_recover_in_place_on_a_joined_device_needs_no_key_source(tmp_path: Path) -> None:
    """The device already holds the master key in FOG_HOME: no --master-key-file needed."""
    import shutil

    from test_multidevice import World, run_fog

    world = World(tmp_path, tmp_path / "remote", tmp_path / "master.key")
    a = world.init("laptop")
    a.write("x.txt", "x\n")
    a.fog("push")
    shutil.rmtree(a.root / ".fog")
    run_fog(["clone", world.remote, a.root, "--into-existing"], home=a.home, cwd=world.tmp)
    assert a.fog("status", "--json").json()["clean"] is True
