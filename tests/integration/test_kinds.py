"""A path that changes kind (file, directory, symlink), long conflict names, paths that cannot be applied.

Issue 15, items 1-5: every kind change converges, on both sides, concurrent
or not; local unsynced changes are never lost; one path that cannot be
applied does not stop the others (nor later pulls).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, Device, World, make_pair, versions

from fog.sync.merge import CONFLICT_MARK


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _converged(a: Device, b: Device) -> None:
    assert a.tree() == b.tree()
    assert a.fog("status", "--json").json()["clean"] is True
    assert b.fog("status", "--json").json()["clean"] is True


# -- item 1: a directory replaced by a file -------------------------------------------------


def test_directory_replaced_by_file(world: World) -> None:
    a, b = make_pair(world)
    a.write("folder/child.txt", "c\n")
    a.push()
    b.pull()
    shutil.rmtree(a.root / "folder")
    a.write("folder", "A's file\n")
    a.push()
    b.pull()
    assert b.read("folder") == "A's file\n"
    _converged(a, b)
    c = world.clone("phone")
    assert c.tree() == a.tree()


def test_directory_replaced_by_file_keeps_unsynced_children(world: World) -> None:
    a, b = make_pair(world)
    a.write("folder/child.txt", "c\n")
    a.push()
    b.pull()
    shutil.rmtree(a.root / "folder")
    a.write("folder", "A's file\n")
    a.push()
    b.write("folder/new.txt", "B's unsynced file\n")
    r = b.pull(expect=3)
    assert b.read("folder/new.txt") == "B's unsynced file\n"
    copies = sorted(p.name for p in b.root.iterdir() if CONFLICT_MARK in p.name)
    assert len(copies) == 1 and copies[0].startswith("folder.fog-conflict-"), r
    assert b.read(copies[0]) == "A's file\n"
    b.push()
    a.pull(expect=3)  # (its version is in a conflict copy now: said, exit 3)
    b.pull()
    assert a.read("folder/new.txt") == "B's unsynced file\n"
    _converged(a, b)
    world.clone("phone")


# -- item 2: a file or symlink replaced by a directory ----------------------------------------


def test_file_replaced_by_directory(world: World) -> None:
    a, b = make_pair(world)
    a.write("thing", "f\n")
    a.push()
    b.pull()
    (a.root / "thing").unlink()
    a.write("thing/inside.txt", "in\n")
    a.push()
    b.pull()
    assert b.read("thing/inside.txt") == "in\n"
    _converged(a, b)


def test_symlink_replaced_by_directory(world: World) -> None:
    a, b = make_pair(world)
    (a.root / "link").symlink_to("doc.txt")
    a.push()
    b.pull()
    assert (b.root / "link").is_symlink()
    (a.root / "link").unlink()
    a.write("link/inside.txt", "in\n")
    a.push()
    b.pull()
    assert not (b.root / "link").is_symlink()
    assert b.read("link/inside.txt") == "in\n"
    assert b.read("doc.txt") == "base version\n"
    _converged(a, b)


def test_file_replaced_by_directory_while_edited_here(world: World) -> None:
    a, b = make_pair(world)
    a.write("thing", "f\n")
    a.push()
    b.pull()
    (a.root / "thing").unlink()
    a.write("thing/inside.txt", "in\n")
    a.push()
    b.write("thing", "B's edit\n")
    b.pull(expect=3)
    assert b.read("thing/inside.txt") == "in\n"
    copies = [p for p in b.root.iterdir() if p.name.startswith("thing.fog-conflict-")]
    assert [p.read_text() for p in copies] == ["B's edit\n"]
    b.push()
    a.pull()
    _converged(a, b)


def test_concurrent_file_and_directory_of_one_name(world: World) -> None:
    for first in ("a", "b"):
        a, b = make_pair(world) if first == "a" else make_pair(_fresh(world))
        a.write("notes", "a file\n")
        b.write("notes/todo.txt", "a file in a directory\n")
        (a if first == "a" else b).push()
        other = b if first == "a" else a
        other.fog("sync", expect=3)
        (a if first == "a" else b).pull(expect=3 if first == "a" else 0)  # (a file, moved aside: exit 3)
        other.pull()
        assert a.read("notes/todo.txt") == "a file in a directory\n"
        copies = [p for p in a.root.iterdir() if p.name.startswith("notes.fog-conflict-")]
        assert [p.read_text() for p in copies] == ["a file\n"], first
        _converged(a, b)


def _fresh(world: World) -> World:
    tmp = world.tmp / "second"
    tmp.mkdir()
    return World(tmp, tmp / "remote", tmp / "master.key")


def test_directory_replaced_by_symlink_and_back(world: World) -> None:
    a, b = make_pair(world)
    shutil.rmtree(a.root / "sub")
    (a.root / "sub").symlink_to("empty")
    a.push()
    b.pull()
    assert os.readlink(b.root / "sub") == "empty"
    _converged(a, b)
    (b.root / "sub").unlink()
    b.write("sub/back.txt", "back\n")
    b.push()
    a.pull()
    assert a.read("sub/back.txt") == "back\n"
    _converged(a, b)


# -- item 3: a conflict on a long file name ---------------------------------------------------


def test_conflict_copy_of_a_long_name_fits_name_max(world: World) -> None:
    a, b = make_pair(world)
    long_name = "é" * 110 + "x" * 10 + ".txt"  # 234 bytes
    assert len(long_name.encode()) > 220
    a.write(long_name, "base\n", mtime_ns=OLD_MTIME_NS)
    a.write("other.txt", "other\n")
    a.push()
    b.pull()
    a.write(long_name, "A's edit\n")
    a.write("other.txt", "A's other\n")
    a.push()
    b.write(long_name, "B's edit\n")
    b.pull(expect=3)
    assert b.read("other.txt") == "A's other\n"
    copies = [p for p in b.root.iterdir() if CONFLICT_MARK in p.name]
    assert len(copies) == 1
    name = copies[0].name
    assert len(os.fsencode(name)) <= 255 and name.endswith(".txt")
    assert copies[0].read_text() == "A's edit\n"
    b.push()
    a.pull(expect=3)  # (its version is in a conflict copy now: said, exit 3)
    _converged(a, b)
    assert versions(a, name)


# -- item 4: one bad path does not hold the others hostage ----------------------------------------


def test_one_corrupt_object_does_not_stop_the_others(world: World) -> None:
    a, b = make_pair(world)
    packs = set(world.remote.glob("shares/*/packs/*/*"))
    a.write("bad.bin", os.urandom(300_000))
    a.push()
    (pack,) = set(world.remote.glob("shares/*/packs/*/*")) - packs
    a.write("good.txt", "good\n")
    a.write("doc.txt", "edited\n")
    a.push()
    data = bytearray(pack.read_bytes())
    data[len(data) // 3] ^= 1
    pack.write_bytes(bytes(data))
    r = b.pull(expect=4)
    assert "bad.bin" in r.err
    assert b.read("good.txt") == "good\n" and b.read("doc.txt") == "edited\n"
    assert not (b.root / "bad.bin").exists()
    assert b.fog("status", "--json").json()["clean"] is True
    doc = b.fog("pull", "--json", expect=4).json()  # still reported, still not written
    assert [p for p in doc["problems"] if p.startswith("bad.bin: ")] and doc["failed"] == []
    data[len(data) // 3] ^= 1
    pack.write_bytes(bytes(data))
    b.pull()
    _converged(a, b)


# -- item 5: user files named like fog's temp files ----------------------------------------------


def test_fog_tmp_prefix_is_synced_unless_it_is_fogs_own(world: World) -> None:
    a, b = make_pair(world)
    a.write(".fog-tmp-notes.txt", "mine\n")
    a.write("sub/.fog-tmp-123-0badf00d-00000001", "looks like fog's\n")
    r = a.fog("push", "--json")
    doc = r.json()
    assert ".fog-tmp-notes.txt" in doc["added"]
    assert [s for s in doc["skipped"] if s.startswith("sub/.fog-tmp-123")], doc
    b.pull()
    assert b.read(".fog-tmp-notes.txt") == "mine\n"
    assert not (b.root / "sub/.fog-tmp-123-0badf00d-00000001").exists()
    st = a.fog("status", "--json").json()
    assert [s for s in st["skipped"] if "fog-tmp-123" in s]


def test_incoming_file_under_a_directory_this_device_replaced_by_a_file(world: World) -> None:
    """Found by test_convergence_property: d1 made `a` a file (not pushed) while d0 edited `a/x`.
    The pull failed on `a/x` ("File exists", exit 5) at every sync. The unsynced file gives way as
    a conflict copy, as it does for an incoming directory, and the devices converge."""
    d0 = world.init("d0")
    d0.write("a/x", "one\n")
    d0.fog("push")
    d1 = world.clone("d1")
    d0.write("a/x", "two\n")
    d0.fog("push")
    shutil.rmtree(d1.root / "a")
    d1.write("a", "a file now\n")
    d1.fog("sync", expect=3)
    assert d1.read("a/x") == "two\n"
    (aside,) = [p for p in d1.root.iterdir() if p.name.startswith("a" + CONFLICT_MARK)]
    assert aside.read_text() == "a file now\n"
    for _ in range(2):
        d0.fog("sync", expect=(0, 3))
        d1.fog("sync", expect=(0, 3))
    assert d0.tree() == d1.tree()


def test_a_file_and_a_live_child_of_it_arrive_in_one_pull(world: World) -> None:
    """Found by test_convergence_property: d1 made `a` a file and pushed (deleting `a/x`) while d0
    edited `a/x` and pushed (the edit wins over the deletion). A third device got a file `a` and a
    file `a/x` in one pull, and failed on `a/x` ("Not a directory", exit 5). The child wins the
    name, as on the two devices: `a` is a directory there and its file goes aside as a conflict
    copy, under the same name on every device."""
    d0 = world.init("d0")
    d0.write("a/x", "one\n")
    d0.fog("push")
    d1 = world.clone("d1")
    shutil.rmtree(d1.root / "a")
    d1.write("a", "a file now\n")
    d1.fog("push")
    d0.write("a/x", "two\n")
    d0.fog("push")
    d2 = world.clone("d2", expect=(0, 3))
    assert d2.read("a/x") == "two\n"
    (aside,) = [p for p in d2.root.iterdir() if p.name.startswith("a" + CONFLICT_MARK)]
    assert aside.read_text() == "a file now\n"
    for _ in range(3):
        for d in (d0, d1, d2):
            d.fog("sync", expect=(0, 3))
    assert d0.tree() == d1.tree() == d2.tree()
    assert [p.name for p in d0.root.iterdir() if p.name.startswith("a" + CONFLICT_MARK)] == [aside.name]
    assert d0.read("a/x") == "two\n"
    for d in (d0, d1, d2):
        assert d.fog("status", "--json").json()["clean"] is True


@pytest.mark.parametrize("link_first", [True, False])
def test_a_directory_and_a_symlink_made_of_one_name_at_once(world: World, link_first: bool) -> None:
    """Review 2: one device makes `lnk` a directory, another a symlink. A third device that never
    touched it failed its first sync ("lnk: Is a directory", exit 5). Every sync now ends in 0 or 3,
    and every device ends with the same tree and one conflict copy."""
    a = world.init("a")
    a.write("doc.txt", "x\n")
    a.fog("push")
    b, c = world.clone("b"), world.clone("c")
    steps = [lambda: (b.root / "lnk").symlink_to("doc.txt"), lambda: a.write("lnk/inside.txt", "in\n")]
    for step, d in zip(steps if link_first else steps[::-1], (b, a) if link_first else (a, b), strict=True):
        step()
        d.fog("push")
    for _ in range(3):
        for d in (c, a, b):
            d.fog("sync", expect=(0, 3))
    assert a.tree() == b.tree() == c.tree()
    assert a.read("lnk/inside.txt") == "in\n"
    assert len([p for p in a.root.iterdir() if CONFLICT_MARK in p.name]) == 1


def test_a_directory_deleted_elsewhere_but_kept_here_is_pushed_again(world: World) -> None:
    """New-user review: d2 kept `dir` (it holds an unpushed file) when d1's deletion arrived, then pushed
    only the file: `dir` and `dir/sub` stayed deleted in the history, d2's status said clean, and d1
    re-added them itself with its own default mode."""
    d1 = world.init("d1")
    d1.write("dir/a", "a\n")
    d1.write("dir/sub/b", "b\n")
    os.chmod(d1.root / "dir", 0o750)
    d1.fog("push")
    d2 = world.clone("d2")
    shutil.rmtree(d1.root / "dir")
    d1.fog("push")
    d2.write("dir/sub/new.txt", "precious\n")
    d2.fog("sync", expect=(0, 3))
    assert d2.fog("status", "--json").json()["clean"] is True
    for path in ("dir", "dir/sub"):
        own = [v for v in versions(d2, path) if v["path"] == path]
        assert max(own, key=lambda v: v["time_ns"])["kind"] == "dir", (path, own)
    d1.fog("pull")
    assert d1.read("dir/sub/new.txt") == "precious\n"
    assert (d1.root / "dir").stat().st_mode & 0o777 == 0o750
    assert d1.fog("status", "--json").json()["clean"] is True
    _converged(d1, d2)


def test_a_kept_file_this_device_never_pushed_then_deleted_here_is_published_deleted(world: World) -> None:
    """Found by test_convergence_property (session 14 CI): d1 wrote `a/x` (never pushed) while d0 pushed
    its own `a/x`; d1's pull kept its file (a conflict), then d1 replaced the directory `a` by a file.
    d1 had no stat entry for `a/x`, so its push published no deletion: d1 believed `a/x` live without
    having it, d0 kept it, and the two trees never converged."""
    d0 = world.init("d0")
    d0.fog("push", expect=(0,))
    d1 = world.clone("d1")
    d0.write("a/x", "d0's\n")
    d0.fog("push")
    d1.write("a/x", "d1's, never pushed\n")
    d1.fog("pull", expect=3)
    shutil.rmtree(d1.root / "a")
    d1.write("a", "a file now\n")
    for _ in range(3):
        for d in (d0, d1):
            d.fog("sync", expect=(0, 3))
    assert d0.tree() == d1.tree(), (sorted(d0.tree()), sorted(d1.tree()))
    for d in (d0, d1):
        assert d.fog("status", "--json").json()["clean"] is True
