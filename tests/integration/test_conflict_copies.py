"""Conflict copies across devices: recorded once, deleted once, never resurrected (issue 14, item 7).

Every device that writes the same conflict copy records it as the same
version (docs/FORMAT.md section 8), so the history holds it once and a
deletion made anywhere descends from it and fast-forwards everyone else.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from test_multidevice import Device, World, make_pair

from fog.sync.merge import CONFLICT_MARK


@pytest.fixture
def world(tmp_path) -> World:  # type: ignore[no-untyped-def]
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def log(dev: Device, path: str) -> list[dict[str, Any]]:
    return dev.fog("log", path, "--json").json()


def both_conflict(world: World) -> tuple[Device, Device, str]:
    """A and B publish concurrent edits of doc.txt; each pulls and writes the same conflict copy."""
    a, b = make_pair(world)
    a.write("doc.txt", "laptop edit\n")
    a.push()
    b.write("doc.txt", "desktop edit\n")
    b.push()
    a.pull(expect=3)
    b.pull(expect=3)
    (ca,), (cb,) = a.conflicts(), b.conflicts()
    assert ca.name == cb.name and ca.read_bytes() == cb.read_bytes()
    return a, b, ca.name


def test_deleted_conflict_copy_stays_deleted(world: World) -> None:
    a, b, copy = both_conflict(world)
    (b.root / copy).unlink()
    b.fog("sync")
    a.fog("sync")  # used to publish A's copy as "added"
    b.fog("sync")  # ... which came back here
    a.fog("sync")
    assert not (a.root / copy).exists() and not (b.root / copy).exists()
    assert a.tree() == b.tree()
    for dev in (a, b):
        history = log(dev, copy)
        assert [v["deleted"] for v in history] == [True, False], history  # one copy, then one deletion
        assert history[0]["parent"] == history[1]["version"]
        assert history[0]["current"] and history[0]["device"] == "desktop"
        assert history[1]["conflict"]


def test_deleted_before_the_other_device_pushes(world: World) -> None:
    """The order of the report: B deletes and syncs before A ever pushed its copy."""
    a, b, copy = both_conflict(world)
    (b.root / copy).unlink()
    b.fog("sync")
    a.fog("sync")
    assert not (a.root / copy).exists()
    assert a.fog("push", "--json").json()["batch"] is None  # nothing of the copy left to publish
    b.fog("sync")
    assert not (b.root / copy).exists()
    assert [v["deleted"] for v in log(b, copy)] == [True, False]


def test_conflict_copy_written_twice_is_published_once(world: World) -> None:
    a, b, copy = both_conflict(world)
    a.fog("sync")
    b.fog("sync")
    a.fog("sync")
    assert a.tree() == b.tree()
    for dev in (a, b):
        (only,) = log(dev, copy)  # the same version on both devices, recorded once
        assert only["conflict"] and not only["deleted"] and only["parent"] is None
        # it carries the losing version's author and time, not the device that wrote the copy
        loser = next(v for v in log(dev, "doc.txt") if v["version"] != log(dev, "doc.txt")[0]["version"])
        assert (only["device"], only["time_ns"]) == (loser["device"], loser["time_ns"])
    assert log(a, copy) == log(b, copy)
    # the copy is known as synced on both: nothing to push, nothing to pull
    for dev in (a, b):
        assert dev.fog("status", "--json").json()["clean"] is True
        assert dev.fog("push", "--json").json()["batch"] is None


def test_edited_conflict_copy_is_pushed(world: World) -> None:
    a, b, copy = both_conflict(world)
    a.fog("sync")
    b.fog("sync")
    (b.root / copy).write_text("merged by hand\n")
    assert b.fog("status", "--json").json()["modified"] == [copy]
    b.fog("sync")
    a.fog("sync")
    assert (a.root / copy).read_text() == "merged by hand\n"
    history = log(a, copy)
    assert len(history) == 2 and history[0]["parent"] == history[1]["version"]


def test_third_device_receives_the_copy_once(world: World) -> None:
    a, b, copy = both_conflict(world)
    a.fog("sync")
    b.fog("sync")
    c = world.clone("phone", expect=(0, 3))
    assert [p.name for p in c.conflicts()] == [copy]
    assert c.tree() == a.tree()
    assert len(log(c, copy)) == 1
    assert c.fog("push", "--json").json()["batch"] is None
    # a device that joins after the copy was deleted does not bring it back
    (a.root / copy).unlink()
    a.fog("sync")
    d = world.clone("tablet", expect=(0, 3))
    assert d.conflicts() == []
    assert [v["deleted"] for v in log(d, copy)] == [True, False]
    for dev in (b, c):
        dev.fog("sync")
        assert dev.conflicts() == []


def test_third_device_pulling_both_edits_at_once(world: World) -> None:
    """C had doc.txt from before; it pulls both concurrent edits, the copy and its deletion together."""
    a, b = make_pair(world)
    c = world.clone("phone")
    a.write("doc.txt", "laptop edit\n")
    a.push()
    b.write("doc.txt", "desktop edit\n")
    b.push()
    a.pull(expect=3)
    (copy,) = [p.name for p in a.conflicts()]
    a.fog("sync")
    (a.root / copy).unlink()
    a.fog("sync")
    c.fog("sync", expect=(0, 3))
    assert c.conflicts() == []
    assert [v["deleted"] for v in log(c, copy)] == [True, False]
    b.fog("sync", expect=(0, 3))
    assert b.conflicts() == []
    assert a.tree() == b.tree() == c.tree()


def test_conflict_copy_published_by_both_is_recorded_once(world: World) -> None:
    """Both devices publish the copy before either reads the other's: the same id, one version."""
    a, b, copy = both_conflict(world)
    assert a.push() is not None and b.push() is not None  # the copy is queued on each
    a.pull()
    b.pull()
    for dev in (a, b):
        (only,) = log(dev, copy)
        assert only["conflict"] and only["current"]
        assert dev.fog("status", "--json").json()["clean"] is True
    (b.root / copy).unlink()
    b.fog("sync")
    a.fog("sync")
    assert not (a.root / copy).exists()
    assert [v["deleted"] for v in log(a, copy)] == [True, False]


def test_own_file_under_the_copy_name_is_kept(world: World) -> None:
    """A file already at the copy's name is never overwritten, nor taken for the copy: the copy goes to
    the tagged name (it was recorded under the user's file, as if the file were an edit of it, and the
    other side's edit was then in no working tree; review 5, semantics S1). Both reach every device."""
    a, b = make_pair(world)
    a.write("doc.txt", "laptop edit\n")
    a.push()
    b.write("doc.txt", "desktop edit\n")
    b.push()
    a.pull(expect=3)
    (copy,) = [p.name for p in a.conflicts()]
    b.write(copy, "mine\n")
    b.pull(expect=3)
    assert b.read(copy) == "mine\n"
    (tagged,) = [p.name for p in b.conflicts() if p.name != copy]
    assert b.read(tagged) == a.read(copy)
    for _ in range(2):
        b.fog("sync", expect=(0, 3))
        a.fog("sync", expect=(0, 3))
    assert a.tree() == b.tree()
    held = {a.read("doc.txt"), *((a.root / p.name).read_text() for p in a.conflicts())}
    assert {"laptop edit\n", "desktop edit\n", "mine\n"} <= held, held


def test_two_conflicting_versions_of_one_device_in_one_second_each_get_a_copy(world: World) -> None:
    """New-user review: the desk holds an unpushed edit of `f`; the laptop pushes v1, the desk pulls (a
    conflict copy), the laptop pushes v2 in the same second, the desk pulls again: v2's copy had the
    same name as v1's and was dropped ("kept local changes", 0 conflicts, exit 0)."""
    second = time.time_ns() // 10**9 * 10**9
    same_second = f"""
import time as _time
import fog.sync.push as _push
class _Clock:
    def __getattr__(self, name):
        return getattr(_time, name)
    @staticmethod
    def time_ns():
        return {second} + _time.time_ns() % 10**9
_push.time = _Clock()
"""
    laptop = world.init("laptop")
    laptop.write("f", "0\n")
    laptop.fog("push")
    desk = world.clone("desk")
    desk.write("f", "local\n")
    laptop.write("f", "v1\n")
    laptop.fog("push", patch=same_second)
    desk.fog("pull", expect=3)
    laptop.write("f", "v2\n")
    laptop.fog("push", patch=same_second)
    r = desk.fog("pull", expect=3)
    copies = sorted(p for p in desk.root.iterdir() if p.name.startswith("f" + CONFLICT_MARK))
    assert sorted(p.read_text() for p in copies) == ["v1\n", "v2\n"], (r, copies)
    assert desk.read("f") == "local\n"
    for _ in range(2):
        desk.fog("sync", expect=(0, 3))
        laptop.fog("sync", expect=(0, 3))
    assert desk.tree() == laptop.tree()


def test_a_file_of_the_users_at_the_copys_name_is_kept_and_the_copy_takes_another(world: World) -> None:
    """B had a file of its own (never pushed) at the exact name A's conflict copy gets: the pull said
    "conflict: wrote NAME", left B's file there and recorded the copy's version under it; A's edit was
    then in no working tree on any device (review 5, semantics S1)."""
    from fog.sync.merge import conflict_name_at

    a, b = make_pair(world)
    a.write("doc.txt", "laptop edit\n")
    a.push()
    head = log(a, "doc.txt")[0]
    taken = conflict_name_at("doc.txt", head["time_ns"], "laptop")
    b.write(taken, "precious, never pushed\n")
    b.write("doc.txt", "desktop edit\n")
    r = b.pull(expect=3)
    assert b.read(taken) == "precious, never pushed\n"
    copies = [p for p in b.conflicts() if p.name != taken]
    assert len(copies) == 1 and copies[0].read_text() == "laptop edit\n", (copies, str(r))
    assert copies[0].name in r.err or copies[0].name in r.out, str(r)
    b.fog("sync")
    a.pull(expect=3)  # (A's edit is in the copy now: A is told, semantics S12)
    assert a.read(taken) == "precious, never pushed\n" and a.read(copies[0].name) == "laptop edit\n"


def test_the_device_whose_link_was_moved_aside_by_a_kind_clash_is_told(world: World) -> None:
    """A replaced directory d by a link while B added d/new.txt: B's sync kept the directory and moved A's
    link aside (exit 3 there), but A's next sync replaced A's link by the directory in silence: exit 0,
    '0 conflict(s)' (review 5, semantics S12)."""
    import os

    a, b = make_pair(world)
    a.write("d/s", "s\n")
    a.push()
    b.pull()
    b.write("d/new.txt", "b's new work\n")
    os.rename(a.root / "d", a.root / "d_real")
    os.symlink("d_real", a.root / "d")
    a.push()
    b.fog("sync", expect=3)
    r = a.fog("sync", expect=3)
    copies = [p for p in a.root.iterdir() if CONFLICT_MARK in p.name]
    assert len(copies) == 1 and copies[0].is_symlink(), copies
    assert f"conflict: wrote {copies[0].name}" in r.err, str(r)
    assert (a.root / "d").is_dir() and (a.root / "d" / "new.txt").read_text() == "b's new work\n"
