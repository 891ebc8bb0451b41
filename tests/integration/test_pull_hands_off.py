"""What a pull must leave alone, and what must not stop it (review 4: F3, F3b, F5, F12).

- a nested share (a directory below the root holding `.fog/`, which push
  skips whole): pull, sync and `clone --into-existing` write, replace and
  delete nothing in it; its incoming paths are said once, recorded, and
  applied once it is no longer a share;
- one file or directory this user cannot read fails alone (exit 5), the
  others are applied;
- a read-only directory from another device (0555) is filled, then given
  its mode (deepest first), also across the pull's chunks and by a later pull.

Permission cases run fog as a normal user would: as root, the forked fog
first drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER (as
`setpriv --bounding-set -dac_override,-dac_read_search,-fowner` does).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_multidevice import Device, World, run_fog

# Run in the fog process before the CLI starts: permission bits then apply to root as to anyone.
AS_A_USER = """
import ctypes, os
if os.geteuid() == 0:
    class _Head(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class _Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
    _libc = ctypes.CDLL(None, use_errno=True)
    _head, _data = _Head(0x20080522, 0), (_Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    assert _libc.capget(ctypes.byref(_head), _data) == 0, ctypes.get_errno()
    _keep = ~((1 << 1) | (1 << 2) | (1 << 3)) & 0xFFFFFFFF  # DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER
    _data[0].effective &= _keep
    _data[0].permitted &= _keep
    assert _libc.capset(ctypes.byref(_head), _data) == 0, ctypes.get_errno()
"""
ONE_PATH_A_CHUNK = "import fog.sync.pull\nfog.sync.pull.PULL_CHUNK = 1\n"


@pytest.fixture
def world(tmp_path: Path) -> World:
    if os.uname().sysname != "Linux":
        pytest.skip("capget/capset are Linux's")
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _make_nested(world: World, b: Device, rel: str) -> Path:
    """Turn B's synced directory `rel` into a share of its own (moved out, `fog init`, moved back: its
    files keep their inodes, so B's stat index still takes them for synced)."""
    aside = world.tmp / "aside"
    os.rename(b.root / rel, aside)
    home = world.tmp / "home-nested"
    home.mkdir()
    run_fog(["init", aside, "--remote", world.tmp / "remote-nested", "--master-key-file", world.tmp / "key2"],
            home=home, cwd=world.tmp)  # fmt: skip
    run_fog(["-C", aside, "push", "-q"], home=home, cwd=world.tmp)
    os.rename(aside, b.root / rel)
    return home


def _nested_status(world: World, where: Path) -> dict:
    return run_fog(["-C", where, "status", "--json"], home=world.tmp / "home-nested", cwd=world.tmp).json()


def test_pull_writes_nothing_into_a_nested_share(world: World) -> None:
    a = world.init("a")
    for rel in ("sub/f", "sub/h", "sub/k", "top"):
        a.write(rel, "v1\n")
    a.push()
    b = world.clone("b")
    _make_nested(world, b, "sub")
    b.write("sub/k", "the nested share's own edit\n")  # (a change of the nested share: the outer's conflict)
    assert "nested fog share" in b.fog("push").err
    a.write("sub/f", "A2\n")
    a.write("sub/k", "A2\n")
    a.write("sub/g", "new from A\n")
    (a.root / "sub" / "h").unlink()
    a.write("top", "A2\n")
    a.push()

    r = b.pull()
    assert b.read("top") == "A2\n"
    assert sorted(p.name for p in (b.root / "sub").iterdir()) == [".fog", "f", "h", "k"], r
    assert (b.read("sub/f"), b.read("sub/h")) == ("v1\n", "v1\n")
    assert b.read("sub/k") == "the nested share's own edit\n"
    assert not list(b.root.glob("**/*fog-conflict*")), r
    said = [line for line in r.err.splitlines() if "sub" in line]
    assert said == [
        "fog: skipped sub: nested fog share: not synced (4 incoming path(s) left as they are there: "
        "recorded in the history, applied once it is no longer a share)"
    ], r.err
    nested = _nested_status(world, b.root / "sub")
    assert (nested["added"], nested["modified"], nested["deleted"]) == ([], ["k"], []), nested
    again = b.pull()
    assert "sub" not in again.err, again  # said once, when its versions arrived
    assert "Nothing to push" in b.fog("push").out

    # once it is no longer a share here, what was held back is applied; the nested share lost nothing
    os.rename(b.root / "sub", world.tmp / "nested")
    r = b.pull()
    held = {p.name: p.read_text() for p in (b.root / "sub").iterdir()}
    assert held == {"f": "A2\n", "g": "new from A\n", "k": "A2\n"}, r
    assert {p.name: p.read_text() for p in (world.tmp / "nested").iterdir() if p.is_file()} == {
        "f": "v1\n",
        "h": "v1\n",
        "k": "the nested share's own edit\n",
    }


def test_sync_leaves_a_share_moved_inside_alone(world: World) -> None:
    """A directory replaced by another share (F3). (`clone --into-existing` refuses a tree holding one.)"""
    a = world.init("a")
    a.write("sub/f", "v1\n")
    a.write("top", "v1\n")
    a.push()
    b = world.clone("b")
    other = world.tmp / "other"
    other.mkdir()
    home = world.tmp / "home-nested"
    home.mkdir()
    run_fog(["init", other, "--remote", world.tmp / "remote-nested", "--master-key-file", world.tmp / "key2"],
            home=home, cwd=world.tmp)  # fmt: skip
    (other / "f").write_text("nested content\n")
    shutil.rmtree(b.root / "sub")
    os.rename(other, b.root / "sub")
    a.write("sub/f", "A2\n")
    a.write("sub/g", "new from A\n")
    a.push()
    r = b.fog("sync")  # pull, then push
    assert sorted(p.name for p in (b.root / "sub").iterdir()) == [".fog", "f"], r
    assert b.read("sub/f") == "nested content\n"
    assert "fog: skipped sub: nested fog share: not synced (2 incoming path(s)" in r.err
    assert not list(b.root.glob("**/*fog-conflict*")), r


def test_an_unreadable_path_fails_alone(world: World) -> None:
    a = world.init("a")
    for rel in ("d/f", "r0", "ok"):
        a.write(rel, "v1\n")
    a.push()
    b = world.clone("b")
    for rel in ("d/f", "r0", "ok"):
        a.write(rel, "A2\n")
    a.write("d/new", "new\n")
    a.push()
    os.chmod(b.root / "r0", 0)
    os.chmod(b.root / "d", 0)
    try:
        r = b.fog("pull", expect=5, patch=AS_A_USER)
        assert b.read("ok") == "A2\n"
        lines = sorted(line for line in r.err.splitlines() if "Permission denied" in line)
        assert lines == [
            "fog: not applied (retried by the next pull): d/f: Permission denied",
            "fog: not applied (retried by the next pull): d/new: Permission denied",
            "fog: not applied (retried by the next pull): r0: Permission denied",
        ], r.err
        r = b.fog("push", "--json", expect=5, patch=AS_A_USER)  # what push cannot read: skipped, said, exit 5
        assert sorted(r.json()["unread"]) == ["d", "r0"], r
    finally:
        os.chmod(b.root / "r0", 0o644)
        os.chmod(b.root / "d", 0o755)
    assert (b.read("r0"), b.read("d/f")) == ("v1\n", "v1\n")  # left as they were
    r = b.fog("pull", patch=AS_A_USER)  # retried: applied now
    assert (b.read("r0"), b.read("d/f"), b.read("d/new")) == ("A2\n", "A2\n", "new\n"), r
    r = b.fog("push", "--json", patch=AS_A_USER)
    assert r.json()["modified"] == ["d"], r  # its mode again (the push above published d's 0000: a change here)


def test_a_directory_this_user_cannot_enter_fails_only_the_paths_below_it(world: World) -> None:
    """Review 6, crash C1: a path two levels below a mode-000 directory made every pull and sync fail (exit 1,
    nothing applied, the sync's push never run) at every run."""
    a = world.init("a")
    a.write("one.txt", "one\n")
    a.write("private/p.txt", "p\n")
    a.push()
    b = world.clone("b")
    os.chmod(b.root / "private", 0)
    try:
        a.write("private/sub/s.txt", "s\n")
        a.write("one.txt", "edit from a\n")
        a.push()
        b.write("bnew.txt", "b's own work\n")
        r = b.fog("sync", expect=5, patch=AS_A_USER)
        assert "fog: not applied (retried by the next pull): private/sub" in r.err, r.err
        assert b.read("one.txt") == "edit from a\n"
        assert "Traceback" not in r.err
    finally:
        os.chmod(b.root / "private", 0o755)
    a.pull()
    assert a.read("bnew.txt") == "b's own work\n"  # the sync's push ran
    b.fog("pull", patch=AS_A_USER)  # retried: applied now
    assert b.read("private/sub/s.txt") == "s\n"


def test_a_path_too_long_here_fails_alone_and_is_never_published_deleted(world: World) -> None:
    """Review 6, crash C1: a path valid on A but past PATH_MAX under B's deeper root. B's pull must apply the
    rest (exit 5), and B's push must not publish the deletion of what it could not even lstat."""
    a = world.init("a")
    a.write("one.txt", "one\n")
    a.push()
    deep = world.tmp / ("x" * 200) / ("y" * 200)
    deep.mkdir(parents=True)
    b = Device("b", world.tmp / "home-b", deep / "b", world)
    b.home.mkdir()
    run_fog(["clone", world.remote, b.root, "--master-key-file", world.key, "--device-name", "b"], home=b.home,
            cwd=world.tmp)  # fmt: skip
    rel = ""
    while len(str(a.root)) + len(rel) + 210 < 4000:
        rel = f"{rel}/{'d' * 200}" if rel else "d" * 200
    a.write(f"{rel}/deep.txt", "deep\n")
    a.write("one.txt", "edit from a\n")
    a.push()
    b.write("bnew.txt", "b's own work\n")
    r = b.fog("sync", "--json", expect=5)
    assert b.read("one.txt") == "edit from a\n" and "Traceback" not in r.err, r.err
    assert r.json()["push"]["deleted"] == [] and r.json()["push"]["added"] == ["bnew.txt"], r.json()["push"]
    r = a.fog("pull")
    assert a.read(f"{rel}/deep.txt") == "deep\n" and a.read("bnew.txt") == "b's own work\n"
    assert "kept local changes" not in r.err, r.err


@pytest.mark.parametrize("patch", ["", ONE_PATH_A_CHUNK], ids=["one-chunk", "a-chunk-a-path"])
def test_a_read_only_directory_is_filled(world: World, patch: str) -> None:
    a = world.init("a")
    a.write("ro/f", "v1\n")
    a.write("ro/sub/x", "x\n")
    os.chmod(a.root / "ro" / "sub", 0o555)
    os.chmod(a.root / "ro", 0o555)
    a.push()
    home = world.tmp / "home-b"
    home.mkdir()
    b = Device("b", home, world.tmp / "b", world)
    r = run_fog(
        ["clone", world.remote, b.root, "--master-key-file", world.key, "--device-name", "b"],
        home=home,
        cwd=world.tmp,
        patch=AS_A_USER + patch,
    )
    assert (b.read("ro/f"), b.read("ro/sub/x")) == ("v1\n", "x\n"), r
    assert (b.root / "ro").stat().st_mode & 0o7777 == 0o555
    assert (b.root / "ro" / "sub").stat().st_mode & 0o7777 == 0o555
    assert "Nothing to push" in b.fog("push", patch=AS_A_USER).out

    # A opens it, adds and deletes files, makes it read-only again: only the files change
    os.chmod(a.root / "ro", 0o755)
    a.write("ro/g", "new\n")
    (a.root / "ro" / "f").unlink()
    a.write("ro/more/y", "y\n")
    os.chmod(a.root / "ro" / "more", 0o500)
    os.chmod(a.root / "ro", 0o555)
    a.push()
    r = b.fog("pull", patch=AS_A_USER + patch)
    assert sorted(p.name for p in (b.root / "ro").iterdir()) == ["g", "more", "sub"], r
    assert (b.read("ro/g"), b.read("ro/more/y")) == ("new\n", "y\n")
    assert (b.root / "ro").stat().st_mode & 0o7777 == 0o555
    assert (b.root / "ro" / "more").stat().st_mode & 0o7777 == 0o500
    assert "Nothing to push" in b.fog("push", patch=AS_A_USER).out


def test_a_directory_made_read_only_here_is_not_opened(world: World) -> None:
    """Read-only by this device's own chmod (not pushed yet): the user's say; a path in it fails, reported."""
    a = world.init("a")
    a.write("d/f", "v1\n")
    a.push()
    b = world.clone("b")
    a.write("d/g", "new\n")
    a.push()
    os.chmod(b.root / "d", 0o555)
    try:
        r = b.fog("pull", expect=5, patch=AS_A_USER)
        assert "d/g: Permission denied" in r.err
        assert (b.root / "d").stat().st_mode & 0o7777 == 0o555
    finally:
        os.chmod(b.root / "d", 0o755)
    b.pull()
    assert b.read("d/g") == "new\n"
