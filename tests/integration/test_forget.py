"""Forgetting old versions across devices (issue 16, item 2): forgets travel in the device logs.

A device forgets versions, publishes the forgets as a batch of its log, and
every device that reads it drops them from its history; a clone never
records them, and a path whose whole history is forgotten is never written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, Device, World, fog_env, make_pair, run_fog


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def history(dev: Device, path: str, expect: int = 0) -> list[dict]:
    r = dev.fog("log", path, "--json", expect=expect)
    return r.json() if expect == 0 else []


def ids(entries: list[dict]) -> list[str]:
    return [e["version"] for e in entries]


def edits(dev: Device, path: str, n: int) -> list[str]:
    """n pushed edits of `path` on `dev`; the version ids, oldest first."""
    for i in range(n):
        dev.write(path, f"{path} edit {i}\n", mtime_ns=OLD_MTIME_NS + i * 1_000_000_000)
        dev.push()
    return list(reversed(ids(history(dev, path))))


def forget_ids(dev: Device, version_ids: list[str]) -> dict:
    """Forget these versions on `dev` and publish the forgets (fog.sync.forget.record, publish_all)."""
    code = textwrap.dedent(
        f"""
        import json
        from pathlib import Path
        from fog import api
        from fog.sync import forget
        with api.open_share(Path({str(dev.home)!r}), Path({str(dev.root)!r})) as (share, ident):
            forget.record(share, [bytes.fromhex(i) for i in {version_ids!r}])
            result = forget.ForgetResult(False, "test")
            ctxs = api._open_each(share, ident, result.remote_errors)
            forget.publish_all(ctxs, result)
            for ctx in ctxs:
                ctx.close()
        print(json.dumps({{"batches": result.batches, "remote_errors": result.remote_errors}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], env=fog_env(dev.home), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# -- the protocol: forgets published, pulled, relayed -------------------------------------------------


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
    done = forget_ids(a, doc[:3] + gone)
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


def test_a_deleted_path_forgotten_whole_is_deleted_here_not_resurrected(world: World) -> None:
    a, b = make_pair(world)
    (a.root / "notes.txt").unlink()
    a.push()
    forget_ids(a, ids(history(a, "notes.txt")))
    assert (b.root / "notes.txt").exists()
    b.pull()
    assert not (b.root / "notes.txt").exists()  # the deletion still applies to B's copy
    history(b, "notes.txt", expect=1)
    b.push()  # nothing to publish: B does not bring the file back
    a.pull()
    assert not (a.root / "notes.txt").exists()
    assert world.clone("phone").tree() == a.tree()


def test_a_local_edit_over_a_forgotten_version_is_kept_and_pushed(world: World) -> None:
    a, b = make_pair(world)
    first = ids(history(b, "doc.txt"))
    doc = edits(a, "doc.txt", 2)
    forget_ids(a, first)
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
    a, b = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    doc = edits(a, "doc.txt", 3)
    usb.rename(world.tmp / "usb-away")
    done = forget_ids(a, doc[:2])
    assert list(done["batches"]) == ["origin"] and list(done["remote_errors"]) == ["usb"]
    pending = {r["name"]: r["pending"] for r in a.fog("remote", "list", "--json").json()}
    assert pending == {"origin": 0, "usb": 0}  # no version waits; the forgets do
    (world.tmp / "usb-away").rename(usb)
    a.fog("push")  # nothing changed in the tree: the push publishes the forgets
    c = world.device("phone")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert ids(history(c, "doc.txt")) == list(reversed(doc[2:]))
    assert a.push() is None  # published once


def test_a_device_relays_forgets_to_the_remotes_the_forgetter_does_not_use(world: World) -> None:
    a, b = make_pair(world)
    usb = world.tmp / "usb"
    b.fog("remote", "add", "usb", usb)
    b.fog("push")  # seeds usb with the history B knows
    a.fog("pull")  # learns of usb ...
    a.fog("remote", "skip", "usb")  # ... and leaves it to B
    doc = edits(a, "doc.txt", 3)
    forget_ids(a, doc[:3])  # the first three: B saw the first on usb
    b.fog("sync")  # pulls the forgets from origin and publishes them on usb
    c = world.device("phone")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert ids(history(c, "doc.txt")) == list(reversed(doc[3:]))
    assert c.read("doc.txt") == a.read("doc.txt")


def test_rebuilding_fog_dir_adopts_this_devices_own_forgets(world: World) -> None:
    a, _ = make_pair(world)
    doc = edits(a, "doc.txt", 2)
    forget_ids(a, doc[:2])
    os.rename(a.root / ".fog", world.tmp / "fog-aside")
    run_fog(
        ["clone", world.remote, a.root, "--into-existing", "--master-key-file", world.key],
        home=a.home,
        cwd=world.tmp,
    )
    assert ids(history(a, "doc.txt")) == list(reversed(doc[2:]))
