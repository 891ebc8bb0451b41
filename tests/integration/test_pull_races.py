"""What the user does while a pull runs is never lost, and never written outside the share (review 4).

Each race is made deterministic by a patch that acts, inside the pulling
process, right after the pull staged one incoming file (its download done,
its rename to come): the user creates a file at a path that was free (F1),
edits the file there (F4), or replaces a parent directory by a symlink to
somewhere outside the share (F2). Also: a conflict copy that could not be
written is written by the next pull, and the local side is not published
on top of the version it never kept meanwhile (F6); a pull stopped before it
placed a file leaves no path "placing" (F7).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, Device, World, make_pair, tree

from fog.sync.merge import CONFLICT_MARK


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _after_staging(path: str, action: str) -> str:
    """A patch running `action` (Python, with `full` the file's place) once `path` is staged."""
    return f"""
import os, shutil
import fog.sync.apply as _A
_real = _A._stage
def _stage(ctx, plan, local, *a, **k):
    tmp = _real(ctx, plan, local, *a, **k)
    if plan.path == {path!r}:
        full = local.full
        {action}
    return tmp
_A._stage = _stage
"""


def _copies(dev: Device, stem: str, ext: str = ".txt") -> list[Path]:
    return sorted(p for p in dev.root.rglob(f"{stem}{CONFLICT_MARK}*{ext}"))


def _everything(dev: Device) -> set[bytes]:
    """The contents of every file of the device's tree."""
    return {v[2] for v in tree(dev.root).values() if v[0] == "file"}


def test_a_file_made_where_a_new_one_arrives_while_the_pull_stages_is_kept(world: World) -> None:
    """F1: the path was free at the scan; the pull's rename must not clobber what the user put there."""
    a, b = make_pair(world)
    a.write("new.txt", "from A\n")
    a.push()
    mine = "open(full, 'w').write('mine, unpushed\\n')"
    r = b.fog("pull", expect=3, patch=_after_staging("new.txt", mine))
    assert b.read("new.txt") == "mine, unpushed\n"
    [copy] = _copies(b, "new")
    assert copy.read_text() == "from A\n" and copy.name in r.err
    assert "kept local changes to new.txt" in r.err
    b.fog("sync")
    a.fog("pull", expect=3)  # (its version is in a conflict copy now: said, exit 3)
    assert a.read("new.txt") == "mine, unpushed\n"  # published on top of A's, which stays beside it
    assert [p.read_text() for p in _copies(a, "new")] == ["from A\n"]
    assert a.tree() == b.tree()


def test_a_file_only_touched_while_the_pull_stages_takes_the_incoming_version(world: World) -> None:
    """Review 6, crash C4: a touch (mtime only: a build tool, rsync -t, an editor saving an unchanged buffer)
    while the pull staged made the other device's edit a conflict copy, and the old content was then
    published as newest on every device."""
    a, b = make_pair(world)
    a.write("report.txt", "v1\n")
    a.push()
    b.pull()
    a.write("report.txt", "v2: a's edit\n")
    a.push()
    touch = "os.utime(full, ns=(os.stat(full).st_atime_ns, os.stat(full).st_mtime_ns + 5_000_000_000))"
    r = b.fog("pull", patch=_after_staging("report.txt", touch))
    assert b.read("report.txt") == "v2: a's edit\n" and not _copies(b, "report"), r.err
    b.fog("sync")
    a.fog("pull")
    assert a.read("report.txt") == "v2: a's edit\n" and not _copies(a, "report")
    chmod = "os.chmod(full, 0o600)"  # a mode change is a change: kept, the incoming version beside it
    a.write("report.txt", "v3\n")
    a.push()
    b.fog("pull", expect=3, patch=_after_staging("report.txt", chmod))
    assert b.read("report.txt") == "v2: a's edit\n" and [p.read_text() for p in _copies(b, "report")] == ["v3\n"]


@pytest.mark.parametrize("same_size", [False, True], ids=["appended", "same-size-same-mtime"])
def test_a_file_edited_while_the_pull_stages_keeps_both_sides(world: World, same_size: bool) -> None:
    """F4: the local edit stays, the incoming version goes beside it (not dropped), exit 3; A's edit
    survives B's next push. A same-size rewrite keeping the mtime is seen too (its ctime changed)."""
    a, b = make_pair(world)
    a.write("doc.txt", "A's v2\n")
    a.push()
    if same_size:
        edit = (
            "s = os.stat(full); open(full, 'r+').write('B' * s.st_size)"
            "; os.utime(full, ns=(s.st_atime_ns, s.st_mtime_ns))"
        )
        expected = "B" * len("base version\n")
    else:
        edit = "open(full, 'a').write('B appended during pull\\n')"
        expected = "base version\nB appended during pull\n"
    r = b.fog("pull", expect=3, patch=_after_staging("doc.txt", edit))
    assert b.read("doc.txt") == expected
    assert "kept local changes to doc.txt" in r.err
    assert [p.read_text() for p in _copies(b, "doc")] == ["A's v2\n"]
    b.fog("sync")
    a.fog("pull", expect=3)  # (its version is in a conflict copy now: said, exit 3)
    assert a.read("doc.txt") == expected
    assert b"A's v2\n" in _everything(a)
    assert a.tree() == b.tree()


def test_a_pull_never_writes_through_a_directory_swapped_for_a_symlink_while_it_stages(
    world: World, tmp_path: Path
) -> None:
    """F2: sub/ becomes a symlink to a directory outside the share after the pull checked it: nothing is
    written out there (the existing file there is not replaced); the paths fail (exit 5), retried."""
    a, b = make_pair(world)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "new.txt").write_text("precious outside\n")
    a.write("sub/new.txt", "from A\n")
    a.write("sub/readme.md", "# edited on A\n")
    a.push()
    swap = f"d = os.path.dirname(full); os.rename(d, d + '.old'); os.symlink({str(outside)!r}, d)"
    r = b.fog("pull", expect=5, patch=_after_staging("sub/readme.md", swap))
    assert sorted(os.listdir(outside)) == ["new.txt"]
    assert (outside / "new.txt").read_text() == "precious outside\n"
    assert "sub is a symlink now" in r.err and "retried by the next pull" in r.err
    assert (b.root / "sub.old" / "readme.md").read_text() == "# nested\n"
    # put back: the next pull applies what was refused
    (b.root / "sub").unlink()
    (b.root / "sub.old").rename(b.root / "sub")
    b.fog("pull")
    assert b.read("sub/new.txt") == "from A\n" and b.read("sub/readme.md") == "# edited on A\n"
    assert a.tree() == b.tree()


_COPY_FAILS = """
import errno
import fog.sync.apply as _A
def _no_room(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")
_A._write_conflict = _no_room
"""


def test_a_conflict_copy_that_could_not_be_written_is_written_by_the_next_pull(world: World) -> None:
    """F6: said "retried by the next pull", it is; and a push in between publishes the kept local edit as
    concurrent with A's, never on top of it (A's edit is not overwritten everywhere)."""
    a, b = make_pair(world)
    b.write("doc.txt", "B's edit\n")
    a.write("doc.txt", "A's edit\n")
    a.push()
    r = b.fog("pull", expect=5, patch=_COPY_FAILS)
    assert "kept local changes to doc.txt" in r.err and "retried by the next pull" in r.err
    assert not _copies(b, "doc")
    b.fog("push")
    a.fog("pull", expect=3)
    assert {a.read("doc.txt"), *(p.read_text() for p in _copies(a, "doc"))} == {"A's edit\n", "B's edit\n"}
    b.fog("pull", expect=3)
    assert {b.read("doc.txt"), *(p.read_text() for p in _copies(b, "doc"))} == {"A's edit\n", "B's edit\n"}
    a.fog("sync")
    b.fog("sync")
    assert a.tree() == b.tree()


def test_a_conflict_copy_not_written_on_a_clean_device_is_written_by_the_next_pull(world: World) -> None:
    """F6, the other case: B applies the winner of A's and C's concurrent edits, and the loser's copy
    fails; the next pull writes it."""
    a, b = make_pair(world)
    c = world.clone("phone")
    a.write("doc.txt", "A's edit\n", mtime_ns=OLD_MTIME_NS + 10**9)
    a.push()
    c.write("doc.txt", "C's edit\n", mtime_ns=OLD_MTIME_NS + 2 * 10**9)
    c.push()
    r = b.fog("pull", expect=5, patch=_COPY_FAILS)
    assert "retried by the next pull" in r.err and not _copies(b, "doc")
    b.fog("pull", expect=3)
    assert {b.read("doc.txt"), *(p.read_text() for p in _copies(b, "doc"))} == {"A's edit\n", "C's edit\n"}
    assert b.fog("status", "--json").json()["clean"]


_STOP_WHILE_STAGING = """
import fog.sync.apply as _A
def _stop(*a, **k):
    raise KeyboardInterrupt
_A._stage = _stop
"""


def test_a_pull_stopped_while_staging_leaves_nothing_placing(world: World) -> None:
    """F7: nothing was placed, so a local edit made after is an ordinary one: both sides kept (exit 3),
    and status does not list the chunk's files as "a pull was placing it" (only the directory it made)."""
    a, b = make_pair(world)
    for i in range(20):
        a.write(f"m/f{i}.txt", f"A {i}\n")
    a.write("doc.txt", "A's v2\n")
    a.push()
    b.fog("pull", expect=130, patch=_STOP_WHILE_STAGING)
    assert b.read("doc.txt") == "base version\n"
    held = [line for line in b.fog("status").err.splitlines() if "placing" in line]
    assert held == [
        "fog: skipped m: a pull was placing it when it stopped, before recording it: the next pull settles it"
    ]
    b.write("doc.txt", "base version\nB edit\n")
    b.fog("pull", expect=3)
    assert b.read("doc.txt") == "base version\nB edit\n"
    assert [p.read_text() for p in _copies(b, "doc")] == ["A's v2\n"]


_STOP_AFTER_THE_FIRST_RENAME = """
import os
_real = os.replace
def _replace(src, dst, *a, **k):
    done = _real(src, dst, *a, **k)
    if os.path.basename(dst) == "a.txt":
        raise KeyboardInterrupt
    return done
os.replace = _replace
"""


def test_a_pull_stopped_between_renames_plans_the_files_it_never_placed_as_usual(world: World) -> None:
    """F7: a.txt was placed, doc.txt not (its file is still the inode the stat index names): an edit of
    doc.txt after the stop is an ordinary local change, and A's version goes beside it."""
    a, b = make_pair(world)
    a.write("a.txt", "first\n")
    a.push()
    b.fog("pull")
    a.write("a.txt", "A's a v2\n")
    a.write("doc.txt", "A's v2\n")
    a.push()
    b.fog("pull", expect=130, patch=_STOP_AFTER_THE_FIRST_RENAME)
    assert b.read("a.txt") == "A's a v2\n" and b.read("doc.txt") == "base version\n"
    b.write("doc.txt", "base version\nB edit\n")
    held = [line for line in b.fog("status").err.splitlines() if "placing" in line]
    assert held == [
        "fog: skipped a.txt: a pull was placing it when it stopped, before recording it: the next pull settles it"
    ]
    b.fog("pull", expect=3)
    assert b.read("doc.txt") == "base version\nB edit\n"
    assert [p.read_text() for p in _copies(b, "doc")] == ["A's v2\n"]
    assert not _copies(b, "a")


_STOP_AFTER_TWELVE_RENAMES = """
import os, re
_real, _n = os.replace, [0]
def _replace(src, dst, *a, **k):
    done = _real(src, dst, *a, **k)
    _n[0] += bool(re.fullmatch(r"f\\d\\d\\.txt", os.path.basename(dst)))
    if _n[0] == 12:
        raise KeyboardInterrupt
    return done
os.replace = _replace
"""


def test_status_after_a_pull_stopped_between_many_renames_names_a_few_paths(world: World) -> None:
    """F7: the paths a stopped pull placed are named one a line up to 10, the others in one line (a chunk
    is up to 4,096 paths)."""
    a, b = make_pair(world)
    for i in range(30):
        a.write(f"m/f{i:02}.txt", f"v1 {i}\n")
    a.push()
    b.fog("pull")
    for i in range(30):
        a.write(f"m/f{i:02}.txt", f"v2 {i}\n")
    a.push()
    b.fog("pull", expect=130, patch=_STOP_AFTER_TWELVE_RENAMES)
    held = [line for line in b.fog("status").err.splitlines() if "placing" in line]
    assert len(held) == 11 and held[-1].startswith("fog: skipped 2 more path(s), m/f10.txt to m/f11.txt: "), held
    b.fog("pull")
    assert a.tree() == b.tree()


_EDIT_BEFORE_ITS_DIRECTORY_IS_MADE = """
import fog.sync.apply as _A
_real = _A.safe_parent
def _safe_parent(root, path, *a, **k):
    if path == "x":
        with open(f"{root}/x", "a") as f:
            f.write("B's edit\\n")
    return _real(root, path, *a, **k)
_A.safe_parent = _safe_parent
"""


def test_a_file_edited_before_the_directory_replacing_it_is_made_is_moved_aside(world: World) -> None:
    """Code-read finding: a clean file where a directory arrives was archived and unlinked without a look;
    edited since the scan, it is moved aside to a conflict name (exit 3), as an unsynced one is."""
    a, b = make_pair(world)
    a.write("x", "synced\n")
    a.push()
    b.fog("pull")
    (a.root / "x").unlink()
    a.write("x/child", "inside\n")
    a.push()
    r = b.fog("pull", expect=3, patch=_EDIT_BEFORE_ITS_DIRECTORY_IS_MADE)
    assert b.read("x/child") == "inside\n"
    [aside] = [p for p in b.root.iterdir() if p.name.startswith(f"x{CONFLICT_MARK}")]
    assert aside.read_text() == "synced\nB's edit\n" and aside.name in r.err


def _edit_while_restoring(full: Path) -> str:
    return f"""
import fog.sync.content as _C
_real, _done = _C._fetch_blocks, []
def _fetch(store, v):
    if v.path == "doc.txt" and not _done:
        _done.append(1)
        with open({str(full)!r}, "a") as f:
            f.write("edited while restoring\\n")
    return _real(store, v)
_C._fetch_blocks = _fetch
"""


def test_a_file_edited_while_a_restore_downloads_is_not_replaced(world: World) -> None:
    """Code-read finding: `fog restore PATH@REV` checked for unsaved changes before the download only;
    an edit made during it was replaced. Now the restore leaves it and says so (exit 1)."""
    a = world.init("laptop")
    a.write("doc.txt", "v1\n")
    a.push()
    a.write("doc.txt", "v2\n")
    a.push()
    r = a.fog("restore", "doc.txt@~1", expect=1, patch=_edit_while_restoring(a.root / "doc.txt"))
    assert "changed while it was restored" in r.error_line()
    assert a.read("doc.txt") == "v2\nedited while restoring\n"
    a.fog("restore", "doc.txt@~1", "--force")
    assert a.read("doc.txt") == "v1\n"


def test_a_remote_failing_while_a_pull_reads_blocks_exits_1_and_the_path_comes_next_time(world: World) -> None:
    """A remote that stops answering while the pull downloads a file's blocks is a remote failure
    (exit 1, the remote named), not a path that "could not be written here" (exit 5) (review 4, remotes F5)."""
    a, b = make_pair(world)
    a.write("big.bin", os.urandom(300_000))
    a.push()
    down = """
import fog.backends.local as _L
from fog.errors import RemoteError
_real_range, _real_get = _L.LocalBackend.get_range, _L.LocalBackend.get
def _get_range(self, name, *a, **k):
    if "/packs/" in name:
        raise RemoteError("remote stopped answering (test)", transient=True)
    return _real_range(self, name, *a, **k)
def _get(self, name, *a, **k):
    if "/packs/" in name:
        raise RemoteError("remote stopped answering (test)", transient=True)
    return _real_get(self, name, *a, **k)
_L.LocalBackend.get_range, _L.LocalBackend.get = _get_range, _get
"""
    r = b.fog("pull", expect=1, patch=down)
    assert "stopped answering" in r.err and "origin" in r.err
    assert not (b.root / "big.bin").exists()
    doc = b.fog("status", "--json").json()  # (said "clean" and nothing else; review 5, semantics S13)
    assert doc["unapplied"] == ["big.bin"], doc
    assert "U big.bin" in b.fog("status").out
    b.fog("pull")
    assert (b.root / "big.bin").read_bytes() == (a.root / "big.bin").read_bytes()
    assert b.fog("status", "--json").json()["unapplied"] == []


def test_a_private_directory_made_again_by_a_pull_keeps_its_mode(world: World) -> None:
    """private/ (0700) deleted on A while B added a file inside: A's pull made the directories again with
    the umask's mode (0755), A's next push published that, and B's private directory, holding B's new
    file, became world-readable on every device (review 5, semantics S3)."""
    a, b = make_pair(world)
    a.write("private/sub/f", "base\n")
    for d in ("private", "private/sub"):
        os.chmod(a.root / d, 0o700)
    a.push()
    b.pull()
    b.write("private/sub/diary.txt", "secret\n")
    b.push()
    import shutil

    shutil.rmtree(a.root / "private")
    a.push()
    a.pull()
    for dev in (a, b, a, b):
        dev.fog("sync")
    for dev in (a, b):
        assert dev.read("private/sub/diary.txt") == "secret\n"
        for d in ("private", "private/sub"):
            assert (dev.root / d).stat().st_mode & 0o777 == 0o700, (dev.name, d)


def test_holes_stay_holes_and_links_keep_their_mtime(world: World) -> None:
    """A sparse file arrived fully allocated (a 100 GB disk image holding 2 GB filled the other disk), and
    a symlink got the pull's time, not its own (review 5, semantics S5, S8)."""
    a, b = make_pair(world)
    with open(a.root / "disk.img", "wb") as f:
        f.write(b"head")
        f.seek(64 << 20)
        f.write(b"tail")
    a.write("after-hole.img", b"")
    with open(a.root / "after-hole.img", "wb") as f:
        f.write(b"x" * 100)
        f.truncate(8 << 20)  # ends in a hole
    (a.root / "lnk").symlink_to("disk.img")
    os.utime(a.root / "lnk", ns=(OLD_MTIME_NS, OLD_MTIME_NS), follow_symlinks=False)
    a.push()
    b.pull()
    for name in ("disk.img", "after-hole.img"):
        assert (b.root / name).read_bytes() == (a.root / name).read_bytes()
        assert (b.root / name).stat().st_blocks * 512 < 4 << 20, name
    assert (b.root / "lnk").lstat().st_mtime_ns == OLD_MTIME_NS
    assert b.fog("status", "--json").json()["clean"]
