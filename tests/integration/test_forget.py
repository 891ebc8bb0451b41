"""Forgetting old versions across devices (issue 16, item 2): forgets travel in the device logs.

`fog forget` forgets the versions a retention policy does not keep and
publishes the forgets as a batch of the device's log; every device that
reads it drops them from its history, a clone never records them, and a
path whose whole history is forgotten is never written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, ONLY_KEEP_LAST, Device, World, make_pair, run_fog


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def history(dev: Device, path: str, expect: int = 0) -> list[dict]:
    r = dev.fog("log", path, "--json", expect=expect)
    return r.json() if expect == 0 else []


def ids(entries: list[dict]) -> list[str]:
    return [e["version"] for e in entries]


def forget(dev: Device, *args: str, expect: int = 0) -> dict:
    return dev.fog("forget", *args, "--json", expect=expect).json()


def edits(dev: Device, path: str, n: int) -> list[str]:
    """n pushed edits of `path` on `dev`; the version ids, oldest first."""
    for i in range(n):
        dev.write(path, f"{path} edit {i}\n", mtime_ns=OLD_MTIME_NS + i * 1_000_000_000)
        dev.push()
    return list(reversed(ids(history(dev, path))))


# -- forgets published, pulled, relayed ---------------------------------------------------------------


def test_forgotten_versions_leave_every_device_and_never_reach_a_clone(world: World) -> None:
    a, b = make_pair(world)
    doc = edits(a, "doc.txt", 4)  # with the first: five versions
    assert len(doc) == 5
    a.write("gone.txt", "short-lived\n")
    a.push()
    (a.root / "gone.txt").unlink()
    a.push()
    gone = ids(history(a, "gone.txt"))
    assert len(gone) == 2
    before = len(world.log_files())
    done = forget(a, "--keep-last", "2", "--keep-deleted", "0s")
    assert sorted(f["version"] for f in done["forgotten"]) == sorted(doc[:3] + gone)
    assert (done["versions"], done["paths"], done["policy"]) == (5, 2, "options")
    assert done["bytes"] == sum(f["size"] for f in done["forgotten"] if f["kind"] == "file") > 0
    assert list(done["batches"]) == ["origin"] and done["remote_errors"] == {}
    assert len(world.log_files()) == before + 1  # one batch: the forgets
    assert ids(history(a, "doc.txt")) == list(reversed(doc[3:]))
    history(a, "gone.txt", expect=1)

    r = b.fog("pull", "--json").json()
    assert r["forgotten"] == 1  # B held only the first version of doc.txt; the rest arrived in this pull
    assert ids(history(b, "doc.txt")) == list(reversed(doc[3:]))
    assert b.read("doc.txt") == a.read("doc.txt") == "doc.txt edit 3\n"
    assert not (b.root / "gone.txt").exists()
    history(b, "gone.txt", expect=1)
    assert b.fog("status", "--json").json()["clean"] is True

    c = world.clone("phone")
    assert ids(history(c, "doc.txt")) == list(reversed(doc[3:]))
    assert c.tree() == a.tree()
    history(c, "gone.txt", expect=1)
    every = {e["version"] for e in c.fog("log", "--json").json()}
    assert every.isdisjoint(doc[:3] + gone)
    a.fog("check")
    c.fog("check", "--read-data")
    assert forget(a, "--keep-last", "2", "--keep-deleted", "0s")["versions"] == 0  # nothing left to forget


def test_a_deleted_path_forgotten_whole_is_deleted_here_not_resurrected(world: World) -> None:
    a, b = make_pair(world)
    (a.root / "notes.txt").unlink()
    a.push()
    done = forget(a, "notes.txt", "--keep-deleted", "0s")
    assert {f["path"] for f in done["forgotten"]} == {"notes.txt"} and done["versions"] == 2
    assert (b.root / "notes.txt").exists()
    r = b.pull()
    assert "1 old version(s) forgotten by another device" in r.out  # the one B had; the deletion arrived
    assert not (b.root / "notes.txt").exists()  # the deletion still applies to B's copy
    history(b, "notes.txt", expect=1)
    b.push()  # nothing to publish: B does not bring the file back
    a.pull()
    assert not (a.root / "notes.txt").exists()
    assert world.clone("phone").tree() == a.tree()


def test_a_local_edit_over_a_forgotten_version_is_kept_and_pushed(world: World) -> None:
    a, b = make_pair(world)
    doc = edits(a, "doc.txt", 2)
    assert [f["version"] for f in forget(a, "doc.txt", "--keep-last", "2")["forgotten"]] == doc[:1]
    b.write("doc.txt", "edited on B, from the first version\n")
    r = b.fog("pull", expect=3)  # B's edit stays; A's newest goes beside it
    assert "kept local changes to doc.txt" in r.err
    assert b.read("doc.txt") == "edited on B, from the first version\n"
    assert ids(history(b, "doc.txt")) == list(reversed(doc[1:]))  # its stat entry names a forgotten version
    st = b.fog("status", "--json").json()
    assert st["modified"] == ["doc.txt"]
    b.fog("restore", "doc.txt@~1", expect=1)  # a local change: not overwritten without --force
    b.fog("sync", expect=(0, 3))
    a.pull(expect=(0, 3))
    assert a.read("doc.txt") == "edited on B, from the first version\n"
    assert history(a, "doc.txt")[0]["parent"] == doc[-1]


def test_forgets_reach_a_remote_that_was_down_with_the_next_push(world: World) -> None:
    a, _ = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    edits(a, "doc.txt", 2)
    usb.rename(world.tmp / "usb-away")
    for i in range(2):  # two more versions, on origin only
        a.write("doc.txt", f"while usb is away {i}\n", mtime_ns=OLD_MTIME_NS + 10**10 + i)
        a.fog("push", expect=1)
    doc = list(reversed(ids(history(a, "doc.txt"))))
    r = a.fog("forget", "--keep-last", "1", expect=1)
    assert "remote usb failed" in r.err and "published on origin batch" in r.out
    assert ids(history(a, "doc.txt")) == doc[4:]
    (world.tmp / "usb-away").rename(usb)
    a.fog("push")  # nothing changed in the tree: the push publishes the newest version and the forgets
    assert a.push() is None  # once
    a.fog("check", "usb")  # a forget of a version usb never held (doc[3]) is no problem
    c = world.device("phone")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert ids(history(c, "doc.txt")) == doc[4:]
    assert c.tree() == a.tree()


def test_prune_keeps_what_a_forget_not_yet_published_there_forgot(world: World) -> None:
    """Review 6, crash C2: a forget stopped while publishing (or run with the remote away) left its forgets
    queued; `prune` then deleted those versions' data although every other device still listed them (`check`
    exit 4 everywhere, their restores exit 4), and `forget` again said "Nothing to forget", publishing nothing."""
    a, b = make_pair(world)
    edits(a, "doc.txt", 3)
    b.pull()
    doc = ids(history(b, "doc.txt"))
    world.remote.rename(world.tmp / "away")
    a.fog("forget", "--keep-last", "1", expect=1)  # forgotten here, queued for origin
    (world.tmp / "away").rename(world.remote)
    a.fog("prune", "--grace", "0")
    a.fog("check")
    b.fog("check", "--read-data")
    for vid in doc:
        b.fog("cat", f"doc.txt@{vid[:12]}")
    r = a.fog("forget", "--keep-last", "1")  # nothing new to forget: what was queued is published
    assert "published on origin batch" in r.out, r.out
    assert a.push() is None
    b.pull()
    assert len(ids(history(b, "doc.txt"))) == 1
    a.fog("prune", "--grace", "0")
    a.fog("check", "--read-data")
    b.fog("check", "--read-data")


def test_a_forgotten_version_arriving_later_through_another_remote_is_never_recorded(world: World) -> None:
    a, b = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    doc = edits(a, "doc.txt", 2)  # on both remotes
    usb.rename(world.tmp / "usb-away")
    a.fog("forget", "--keep-last", "1", expect=1)  # the forgets reach origin only
    b.pull()  # origin: the new versions and the forgets (usb is learnt now, and away)
    assert ids(history(b, "doc.txt")) == doc[2:]
    (world.tmp / "usb-away").rename(usb)
    r = b.fog("pull", "usb", "--json").json()  # A's log there still holds the forgotten versions
    assert r["batches"] > 0 and r["versions"] == 0
    assert ids(history(b, "doc.txt")) == doc[2:]
    assert b.fog("status", "--json").json()["clean"] is True


def test_a_device_relays_forgets_to_the_remotes_the_forgetter_does_not_use(world: World) -> None:
    a, b = make_pair(world)
    usb = world.tmp / "usb"
    b.fog("remote", "add", "usb", usb)
    b.fog("push")  # seeds usb with the history B knows
    a.fog("pull")  # learns of usb ...
    a.fog("remote", "skip", "usb")  # ... and leaves it to B
    doc = edits(a, "doc.txt", 3)
    forget(a, "--keep-last", "1")  # the first three: B saw the first on usb
    b.fog("sync")  # pulls the forgets from origin and publishes them on usb
    c = world.device("phone")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert ids(history(c, "doc.txt")) == doc[3:]
    assert c.tree() == a.tree()


def test_rebuilding_fog_dir_adopts_this_devices_own_forgets(world: World) -> None:
    a, _ = make_pair(world)
    doc = edits(a, "doc.txt", 2)
    forget(a, "doc.txt", "--keep-last", "1")
    os.rename(a.root / ".fog", world.tmp / "fog-aside")
    run_fog(
        ["clone", world.remote, a.root, "--into-existing", "--master-key-file", world.key],
        home=a.home,
        cwd=world.tmp,
    )
    assert ids(history(a, "doc.txt")) == doc[2:]


# -- the command ----------------------------------------------------------------------------------------


def test_dry_run_lists_and_changes_nothing(world: World) -> None:
    a, b = make_pair(world)
    doc = edits(a, "doc.txt", 4)
    logs = world.log_files()
    r = a.fog("forget", "--keep-last", "2", "--dry-run")
    lines = r.out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [v[:12] for v in doc[:3]]
    assert all("doc.txt" in line and "laptop" in line and "(no rule keeps it)" in line for line in lines[:-1])
    assert lines[-1].startswith("would forget 3 version(s) of 1 path(s) (policy: the options given)")
    done = forget(a, "--keep-last", "2", "-n")
    assert done["dry_run"] is True and done["versions"] == 3 and done["batches"] == {}
    assert [f["version"] for f in done["forgotten"]] == doc[:3]
    assert world.log_files() == logs  # no batch
    assert ids(history(a, "doc.txt")) == list(reversed(doc))
    assert a.push() is None  # nothing was queued either
    b.pull()
    assert len(history(b, "doc.txt")) == 5


def test_the_current_version_of_a_live_path_is_never_forgotten(world: World) -> None:
    a, _ = make_pair(world)
    edits(a, "doc.txt", 2)
    heads = {e["path"]: e["version"] for e in a.fog("log", "--json").json() if e["current"]}
    assert len(heads) == len(a.tree())  # every file and directory, "empty" among them
    time.sleep(1.1)  # every version is older than 1s
    forget(a, "--keep-within", "1s", "--keep-last", "0")
    after = a.fog("log", "--json").json()
    assert {e["path"]: e["version"] for e in after} == heads  # all that is left: the current versions
    assert all(e["current"] for e in after)
    forget(a, "--keep-last", "0")
    assert len(a.fog("log", "--json").json()) == len(heads)
    assert world.clone("phone").tree() == a.tree()


def test_paths_limit_what_is_forgotten(world: World) -> None:
    a, _ = make_pair(world)
    edits(a, "doc.txt", 1)
    edits(a, "sub/readme.md", 1)
    edits(a, "sub/deep/data.bin", 1)
    sub = a.root / "sub"
    r = run_fog(["forget", "deep", "--keep-last", "1", "--json"], home=a.home, cwd=sub)  # relative to cwd
    assert [f["path"] for f in r.json()["forgotten"]] == ["sub/deep/data.bin"]
    assert [f["path"] for f in forget(a, "sub", "--keep-last", "1")["forgotten"]] == ["sub/readme.md"]
    assert len(history(a, "doc.txt")) == 2
    r = a.fog("forget", "nothing-here", "--keep-last", "1", expect=1)  # (no history: exit 1, as in log, ls, restore)
    assert "nothing-here: no history" in r.error_line()
    a.fog("forget", "--keep-last", "many", expect=2)
    assert [f["path"] for f in forget(a, ".", "--keep-last", "1")["forgotten"]] == ["doc.txt"]


def test_without_options_the_shares_policy_applies(world: World) -> None:
    a, b = make_pair(world)
    edits(a, "doc.txt", 3)
    assert forget(a)["policy"] == "default"
    assert forget(a)["versions"] == 0  # the defaults keep 10 versions, and more
    b.fog("policy", "set", "--keep-last", "2", *ONLY_KEEP_LAST)
    a.pull()
    done = forget(a)
    assert (done["policy"], done["versions"]) == ("share", 2)
    assert len(history(a, "doc.txt")) == 2


def test_forgetting_in_chunks_keeps_each_path_whole(world: World) -> None:
    """record() forgets a chunk of versions per transaction, a path's versions in one chunk (its head is
    fixed once: split, a head that is not the newest by time could leave an older version as a head
    that counts as live). With chunks of 2, two paths forgotten whole still leave no trace."""
    a, _ = make_pair(world)
    edits(a, "x.txt", 3)
    edits(a, "y.txt", 3)
    for name in ("x.txt", "y.txt"):
        (a.root / name).unlink()
    a.push()
    small = "import fog.sync.forget as _f\n_f.RECORD_CHUNK = 2\n"
    done = a.fog("forget", "x.txt", "y.txt", "--keep-deleted", "0s", "--json", patch=small).json()
    assert done["versions"] == 8
    history(a, "x.txt", expect=1)
    history(a, "y.txt", expect=1)
    assert world.clone("phone").tree() == a.tree()
