"""Versions only one store holds, when that store stops being a remote (review 7 diff F2, F3, F6, F7).

A laptop's v2 of a.txt reached origin only (usb was unplugged). Whether origin is removed here
(`--force`), removed or moved by another device, or moved here (`set-url`), v2 is never dropped
silently: the removal or move is refused, or said once, and the path's later versions keep waiting
behind v2 (a reader of usb never gets the writer's own history out of order, as a conflict copy).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, Device, World, run_fog
from test_remotes_multi import _add_usb


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _v2_only_on_origin_read_by(world: World, *, skip_origin: bool = True) -> tuple[Device, Device, Path]:
    """(laptop, a reader, usb): the reader had v1 of a.txt (and, `skip_origin`, reads usb only); the laptop
    pushed v2 while usb was unplugged (origin only)."""
    a = world.init("laptop")
    a.write("a.txt", "v1\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    usb = _add_usb(world, a)
    a.fog("push")
    c = world.clone("reader")
    c.pull()  # (learns usb)
    if skip_origin:
        c.fog("remote", "skip", "origin")
    usb.rename(world.tmp / "usb-away")
    a.write("a.txt", "v2\n")
    a.fog("push", expect=1)
    (world.tmp / "usb-away").rename(usb)
    return a, c, usb


def _v3_waits_behind_v2(a: Device, c: Device) -> None:
    """The laptop's v3 of a.txt (made from v2) is not published ahead of v2: the reader of usb sees no
    conflict and keeps v1."""
    a.write("a.txt", "v3 from v2\n")
    pushed = a.fog("push", expect=1)
    assert "1 later version(s) of the same path(s) wait behind them" in pushed.err, str(pushed)
    r = c.fog("pull")
    assert "conflict" not in r.err and c.conflicts("a") == [] and c.read("a.txt") == "v1\n", str(r)


def _origin_back_then_in_order(world: World, a: Device, c: Device, name: str, url: Path) -> None:
    """The advice (add the old store again, push) publishes v2 then v3; the reader gets them in order."""
    a.fog("remote", "add", name, url)
    a.fog("push")
    r = c.fog("sync")
    assert "conflict" not in r.err and c.conflicts("a") == [] and c.read("a.txt") == "v3 from v2\n", str(r)


def test_a_forced_remove_keeps_the_later_versions_behind_the_stranded_one(world: World) -> None:
    """F2: after `remote remove origin --force`, v3 went to usb ahead of v2 (stranded on origin, counted as
    published nowhere): the reader wrote a conflict copy of the writer's own history."""
    a, c, _ = _v2_only_on_origin_read_by(world)
    r = a.fog("remote", "remove", "origin", "--force")
    assert "1 version(s) that only origin held stay queued" in r.err, str(r)
    assert f"`fog remote add origin {world.remote}` again" in r.err, str(r)
    _v3_waits_behind_v2(a, c)
    pushed = a.fog("push", expect=1)
    assert f"1 of them only {world.remote} holds (remote origin until it was removed" in pushed.err, str(pushed)
    _origin_back_then_in_order(world, a, c, "origin", world.remote)
    assert a.fog("push").err == ""  # nothing stranded any more


def test_a_remove_learnt_from_another_device_says_what_it_leaves_and_keeps_the_order(world: World) -> None:
    """F3: the reader (which never saw v2) removed origin; the laptop's pull only said "no longer uses it", v3
    then went out ahead of v2, and wiping origin lost v2. The pull says once what origin alone held."""
    a, c, _ = _v2_only_on_origin_read_by(world, skip_origin=False)
    c.fog("remote", "remove", "origin")  # (it knows of nothing only origin holds)
    r = a.fog("pull")
    warned = [line for line in r.err.splitlines() if "warning" in line]
    assert len(warned) == 1, str(r)
    assert "remote origin was removed on another device, but 1 version(s)" in warned[0], str(r)
    assert f"`fog remote add origin {world.remote}` again" in warned[0], str(r)
    assert "warning" not in a.fog("pull").err  # said once
    _v3_waits_behind_v2(a, c)
    _origin_back_then_in_order(world, a, c, "origin", world.remote)


def test_a_move_learnt_from_another_device_says_what_the_old_store_holds(world: World) -> None:
    """F3: the reader moved origin to a new, empty store; the laptop followed in silence and v3 went out
    ahead of v2 (only on the old store, to be retired)."""
    a, c, _ = _v2_only_on_origin_read_by(world, skip_origin=False)
    new = world.tmp / "origin-new"
    c.fog("remote", "set-url", "origin", new)
    r = a.fog("pull")
    assert f"remote origin was moved to {new} on another device, but 1 version(s)" in r.err, str(r)
    assert f"`fog remote add OTHERNAME {world.remote}`" in r.err, str(r)
    c.fog("remote", "skip", "origin")  # (the reader reads usb, as above)
    _v3_waits_behind_v2(a, c)
    _origin_back_then_in_order(world, a, c, "old", world.remote)


def test_set_url_to_a_store_without_the_versions_only_the_old_one_holds_is_refused(world: World) -> None:
    """F6: `remote remove origin` was refused while origin alone held v2, but `set-url origin NEWSTORE` was
    accepted in silence: v2 waited for a store that never had it, and v3 went out ahead of it."""
    a, c, _ = _v2_only_on_origin_read_by(world)
    new = world.tmp / "origin-new"
    line = a.fog("remote", "set-url", "origin", new, expect=1).error_line()
    assert "1 version(s) are on remote origin" in line and "not yet on usb" in line, line
    assert f"`fog remote set-url origin {new} --force`" in line, line
    assert {x["name"]: x["url"] for x in a.fog("remote", "list", "--json", "--offline").json()}["origin"] == str(
        world.remote
    )
    r = a.fog("remote", "set-url", "origin", new, "--force")
    assert "1 version(s) that only the old store of origin held stay queued" in r.err, str(r)
    assert f"`fog remote add OTHERNAME {world.remote}`" in r.err, str(r)
    _v3_waits_behind_v2(a, c)
    _origin_back_then_in_order(world, a, c, "old", world.remote)


def test_set_url_to_a_copy_of_the_store_is_not_refused(world: World) -> None:
    """A store moved whole (its data copied to the new URL) leaves nothing behind: no refusal, no warning,
    and the next push finds v2 there and copies it to usb."""
    a, c, _ = _v2_only_on_origin_read_by(world)
    copy = world.tmp / "origin-copy"
    shutil.copytree(world.remote, copy)
    r = a.fog("remote", "set-url", "origin", copy)
    assert "warning" not in r.err, str(r)
    shutil.rmtree(world.remote)  # the old server is retired
    a.write("a.txt", "v3 from v2\n")
    a.fog("push")
    r = c.fog("pull")
    assert "conflict" not in r.err and c.read("a.txt") == "v3 from v2\n", str(r)


def test_set_url_of_a_share_s_only_remote_to_an_empty_store_is_refused(world: World) -> None:
    """F6 with one remote: every version is on it alone; the way to move to a new store is given."""
    a = world.init("laptop")
    a.write("a.txt", "v1\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    new = world.tmp / "new"
    line = a.fog("remote", "set-url", "origin", new, expect=1).error_line()
    assert "this share's only remote, holds 1 version(s)" in line, line
    assert f"`fog remote add NEWNAME {new}`, `fog push`" in line, line
    a.fog("remote", "add", "new", new)  # what it says
    a.fog("push")
    a.fog("remote", "remove", "origin")
    c = world.device("third")
    run_fog(["clone", new, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.read("a.txt") == "v1\n"


def test_set_url_to_a_new_empty_directory_makes_the_store(world: World) -> None:
    """F7: `set-url usb NEWDIR` (a new, empty disk) never made a store there: every push failed "not a fog
    store". It is made as `remote add` makes one, and the next push fills it from origin."""
    a = world.init("laptop")
    a.write("a.txt", "v1\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    _add_usb(world, a)
    a.fog("push")
    new = world.tmp / "usb-new"
    new.mkdir()
    a.fog("remote", "set-url", "usb", new)
    a.fog("push")
    c = world.device("third")
    run_fog(["clone", new, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.read("a.txt") == "v1\n"
    (world.tmp / "junk").mkdir()
    (world.tmp / "junk" / "notes.txt").write_text("mine\n")
    line = a.fog("remote", "set-url", "usb", world.tmp / "junk", expect=1).error_line()
    assert "is not empty and holds no fog store" in line, line
