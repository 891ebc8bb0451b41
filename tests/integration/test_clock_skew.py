"""A device whose clock runs behind: "the newest version" is the one made last, not the one with the
latest clock (review 5, semantics S4).

A version's time is its device's clock. B, an hour behind, pulls A's v2 and edits it: its v3 is made
from v2 (v2 is its parent) yet carries an earlier time. By the clock alone v2 came first in every
history, so `cat f`, `diff f`, `f@~0` named v2, `f@~1` v1, and `restore f` ("the newest version")
silently put v2 back over v3, with no unsaved change to stop it: the next push published the revert.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multidevice import Device, World, make_pair, shifted

BEHIND = shifted(-3600)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _skewed_edit(world: World) -> tuple[Device, Device]:
    a, b = make_pair(world)
    a.write("f", "v1\n")
    a.push()
    a.write("f", "v2-A\n")
    a.push()
    b.fog("pull", patch=BEHIND)
    b.write("f", "v3-B\n")
    b.fog("push", patch=BEHIND)
    a.pull()
    assert a.read("f") == "v3-B\n"
    return a, b


def test_the_newest_version_is_the_one_made_from_the_others_whatever_the_clocks(world: World) -> None:
    a, b = _skewed_edit(world)
    log = a.fog("log", "f", "--json").json()
    assert [e["current"] for e in log] == [True, False, False], log
    lines = a.fog("log", "f").out.splitlines()  # (the fast path, fog.repo.history.quick_log)
    assert "(current)" in lines[0] and lines[0].startswith(log[0]["version"][:12]), lines
    assert a.fog("cat", "f").out == "v3-B\n"
    assert a.fog("cat", "f@~0").out == "v3-B\n"
    assert a.fog("cat", "f@~1").out == "v2-A\n"
    assert a.fog("cat", "f@~2").out == "v1\n"
    a.fog("restore", "f")
    assert a.read("f") == "v3-B\n"
    a.fog("diff", "f", "--exit-code")
    assert a.fog("status", "--json").json()["clean"]
    assert b.fog("cat", "f").out == "v3-B\n"


def test_keep_last_after_the_clock_stepped_back_keeps_the_newest_made(world: World) -> None:
    """v2 pushed while the clock ran 10 minutes fast, then NTP stepped it back and v3..v5 followed:
    `forget --keep-last 2` kept v2 (the latest clock) and v5, forgot v4 and v3, and after that v2 and v5
    were unrelated tips, so `cat f` gave v2 and `restore f` wrote it over v5 (review 5, longrun 1)."""
    a = world.init("laptop")
    ahead = shifted(600)
    a.write("f", "v1\n")
    a.push()
    a.write("f", "v2\n")
    a.fog("push", patch=ahead)
    for v in ("v3", "v4", "v5"):
        a.write("f", f"{v}\n")
        a.push()
    a.fog("forget", "f", "--keep-last", "2")
    assert [a.fog("cat", f"f@~{n}").out for n in (0, 1)] == ["v5\n", "v4\n"]
    a.fog("restore", "f")
    assert a.read("f") == "v5\n"


def test_the_newest_version_is_the_one_the_merge_kept_after_a_clock_ran_ahead(world: World) -> None:
    """Review 6 F3: P made while A's clock ran 2 h fast; then A and B, clocks right, edit it concurrently,
    B a moment later. Both edits rank 1 ns past P, and the larger id keeps the name on every device (the
    other goes to a conflict copy). The history listed B's (the later clock) first whatever the ids: where
    A's kept the name, `log` marked (current) on its second line, and `cat f` and `restore f` (no REV)
    took the conflict loser. Twenty files: each one's ids decide, so some have A's edit kept."""
    a, b = make_pair(world)
    names = [f"f{i:02}" for i in range(20)]
    for name in names:
        a.write(name, "base\n")
    a.fog("push", patch=shifted(7200))
    b.pull()
    for name in names:
        a.write(name, f"{name} edit by A\n")
    a.push()
    for name in names:
        b.write(name, f"{name} edit by B\n")
    b.push()
    a.fog("pull", expect=(0, 3))
    b.fog("pull", expect=(0, 3))
    kept_a = [name for name in names if a.read(name) == f"{name} edit by A\n"]
    for dev in (a, b):
        for name in names:
            assert dev.read(name) == a.read(name)  # the same winner on both
            log = dev.fog("log", name, "--json").json()
            assert log[0]["current"] and not any(e["current"] for e in log[1:]), log
            assert dev.fog("cat", name).out == dev.read(name)
    for name in kept_a:
        assert "(current)" in a.fog("log", name).out.splitlines()[0]  # (the fast path)
        assert [a.fog("cat", f"{name}@~{n}").out for n in (1, 2)] == [f"{name} edit by B\n", "base\n"]
    assert kept_a, "every file kept B's edit: the ids never put the earlier clock first (1 in 2**20)"
    a.fog("restore", kept_a[0])
    assert a.read(kept_a[0]) == f"{kept_a[0]} edit by A\n"
    assert a.fog("status", "--json").json()["clean"]


def test_a_time_copied_from_log_picks_that_version_as_the_tree_does(world: World) -> None:
    """review 7 history H2: `f@TIME` walked the merge order and took the first version at or before TIME,
    so under a skewed clock the time of v2-A, copied from `fog log f`, named v3-B (made an hour "earlier"
    by B's clock), while `fog ls .@TIME` named v2-A. A time reads the clocks alone, in both forms."""
    a, _ = _skewed_edit(world)
    v2 = a.fog("log", "f", "--json").json()[1]  # newest first: v3-B, v2-A, v1
    assert a.fog("cat", f"f@{v2['version']}").out == "v2-A\n"
    when = v2["time"]
    assert a.fog("cat", f"f@{when}").out == "v2-A\n"
    tree = a.fog("ls", "--json", f".@{when}").json()
    assert [e["version"] for e in tree["entries"] if e["path"] == "f"] == [v2["version"]]
    a.fog("restore", f"f@{when}", "-o", str(world.tmp / "out"))
    assert (world.tmp / "out").read_text() == "v2-A\n"


def test_forgetting_the_version_a_behind_clock_edit_came_from_keeps_the_newest_first(world: World) -> None:
    """review 7 history H4: B (clock an hour behind) edits A's v1 twice (v2, v3); `forget --keep-within 30min`
    on A drops v2 (an hour old by B's clock). v3's order came from v2 (its parent): without it, v3 fell
    back to its own time, below v1, and `fog log f` listed v1 first, `cat f` and `restore f` gave v1 back."""
    a, b = make_pair(world)
    a.write("f", "v1\n")
    a.push()
    b.fog("pull", patch=BEHIND)
    b.write("f", "v2-B\n")
    b.fog("push", patch=BEHIND)
    b.write("f", "v3-B, the newest\n")
    b.fog("push", patch=BEHIND)
    a.pull()
    assert a.read("f") == "v3-B, the newest\n"
    a.fog("forget", "--keep-within", "30min")  # (30m: 30 months in a policy, as restic)
    log = a.fog("log", "f", "--json").json()
    assert len(log) == 2 and log[0]["current"], log  # v2 forgotten, v3 first and current
    assert a.fog("log", "f").out.splitlines()[0].endswith("(current)")
    assert a.fog("cat", "f").out == "v3-B, the newest\n"
    assert a.fog("cat", "f@~1").out == "v1\n"
    a.fog("restore", "f")
    assert a.read("f") == "v3-B, the newest\n"
    b.pull()
    assert b.fog("cat", "f").out == "v3-B, the newest\n"
