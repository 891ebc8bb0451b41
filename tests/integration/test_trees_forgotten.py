"""A tree at a past moment after `fog forget` (review 5, retention R8).

A retention policy thins old versions: a file edited often keeps none of its versions of weeks ago. The
tree at such a moment (newest version at or before it, else absent) then left the file out, as if it had
been made since: `ls .@WHEN` did not show it, `diff .@WHEN` listed it as added, and `restore .@WHEN
--delete` deleted it (then pushed the deletion to every device). Its oldest remaining version names a
parent this device no longer holds, so fog knows it existed: its state then is unknown, never "absent".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multidevice import Device, World, shifted

DAY = 86400


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _thinned(world: World) -> Device:
    a = world.init("laptop")
    a.write("unchanged.txt", "keep\n")
    a.write("report.txt", "r1\n")
    a.fog("push", patch=shifted(-30 * DAY))
    a.write("report.txt", "r2\n")
    a.fog("push", patch=shifted(-2 * DAY))
    a.write("report.txt", "r3\n")
    a.push()
    assert a.fog("ls", ".@10d").out.split() == ["report.txt", "unchanged.txt"]
    done = a.fog("forget", "--keep-within", "7d", "--json").json()
    assert done["versions"] == 1  # report.txt's version of 30 days ago
    return a


def test_a_path_whose_versions_of_then_were_forgotten_is_not_deleted_by_restore_delete(world: World) -> None:
    a = _thinned(world)
    dry = a.fog("restore", ".@10d", "--delete", "--dry-run", "--json").json()
    assert dry["deleted"] == [] and dry["forgotten"] == ["report.txt"], dry
    r = a.fog("restore", ".@10d", "--delete")
    assert "0 deleted" in r.err and "1 path(s) existed then" in r.err, str(r)
    assert a.read("report.txt") == "r3\n"
    a.fog("sync", "-q")
    assert a.fog("log", "report.txt", "--json").json()[0]["deleted"] is False


def test_ls_and_diff_at_that_moment_say_the_path_is_unknown_not_absent(world: World) -> None:
    a = _thinned(world)
    assert a.fog("ls", ".@10d").out.splitlines() == ["unchanged.txt", "report.txt  (history then forgotten)"]
    listed = a.fog("ls", ".@10d", "--json").json()
    assert [e["path"] for e in listed["entries"]] == ["unchanged.txt"]
    assert [e["path"] for e in listed["forgotten"]] == ["report.txt"]
    diff = a.fog("diff", ".@10d", "--json").json()
    assert diff["changes"] == [] and diff["forgotten"] == ["report.txt"], diff
    # a path made after the moment, with no forgotten past, is still "added"
    a.write("new.txt", "new\n")
    a.push()
    diff = a.fog("diff", ".@10d", "--name-status")
    assert diff.out.split() == ["A", "new.txt"], str(diff)
