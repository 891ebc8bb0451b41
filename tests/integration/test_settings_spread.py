"""The SyncConfig reaches every remote: a remote that missed a change gets it from the next device that
reaches it, and a remote holds the entry of every device whose versions a batch relays there.

Two or three local-directory remotes; a device "uses only" a remote by skipping the others; a remote
"down" is one whose directory was moved away (an unmounted disk).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, ONLY_KEEP_LAST, Device, World, run_fog


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "r1", tmp_path / "master.key")


def _clone(world: World, name: str, remote: Path, *, skip: list[str]) -> Device:
    d = world.device(name)
    run_fog(
        ["clone", remote, d.root, "--master-key-file", world.key, "--device-name", name], home=d.home, cwd=world.tmp
    )
    for other in skip:
        d.fog("remote", "skip", other)
    return d


def _config_versions(remote: Path) -> int:
    return sum(1 for p in remote.glob("config/*/*") if p.is_file())


def _keep_last(dev: Device) -> int | None:
    return dev.fog("policy", "show", "--json").json()["policy"].get("keep-last")


def _two_remotes(world: World) -> tuple[Device, Path]:
    a = world.init("A")
    r2 = world.tmp / "r2"
    a.fog("remote", "add", "r2", r2)
    return a, r2


@pytest.mark.parametrize("how", ["sync", "push"])
def test_a_policy_set_while_a_remote_was_down_reaches_it(world: World, how: str) -> None:
    """Review finding: the policy change never reached r2; B, which reads only r2, kept keep-last 2 and its
    `fog forget` dropped 4 versions that A's policy (keep-last 10) keeps, and A applied B's forget."""
    a, r2 = _two_remotes(world)
    a.fog("policy", "set", "--keep-last", "2", *ONLY_KEEP_LAST)
    for i in range(6):
        a.write("f", f"v{i}\n")
        a.fog("push", "-q")
    b = _clone(world, "B", r2, skip=["origin"])
    assert _keep_last(b) == 2
    r2.rename(world.tmp / "r2.off")
    r = a.fog("policy", "set", "--keep-last", "10", expect=1)
    assert "r2" in r.err
    (world.tmp / "r2.off").rename(r2)
    a.write("g", "new\n")
    a.fog(how, "-q")  # the first command that reaches r2 again publishes the newer settings there
    b.fog("sync", "-q")
    assert _keep_last(b) == 10
    assert "Nothing to forget" in b.fog("forget").out
    a.fog("sync", "-q")
    assert _keep_last(a) == 10
    assert len(a.fog("log", "f", "--json").json()) == 6


def test_a_remote_added_while_another_was_down_reaches_the_devices_of_that_one(world: World) -> None:
    a, r2 = _two_remotes(world)
    a.write("f", "one\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    b = _clone(world, "B", r2, skip=["origin"])
    r2.rename(world.tmp / "r2.off")
    r3 = world.tmp / "r3"
    a.fog("remote", "add", "r3", r3)  # published on origin and r3 only (exit 0)
    (world.tmp / "r2.off").rename(r2)
    a.fog("sync", expect=0)
    doc = b.fog("pull", "--json").json()
    assert doc["remotes_added"] == ["r3"]
    assert {r["name"] for r in b.fog("remote", "list", "--json").json()} == {"origin", "r2", "r3"}


def test_a_device_using_some_remotes_accepts_versions_relayed_to_them(world: World) -> None:
    """Review finding: A relayed B's version to origin, whose SyncConfig never listed B (only a device's
    first batch on a remote made sure of that): C, which reads only origin, refused every sync (exit 4)."""
    a, r2 = _two_remotes(world)
    a.write("f1", "one\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push", "-q")
    b = _clone(world, "B", r2, skip=["origin"])
    c = _clone(world, "C", world.remote, skip=["r2"])
    b.write("fb", "from B\n", mtime_ns=OLD_MTIME_NS)
    b.fog("sync", "-q")
    a.fog("sync", "-q")  # relays B's version to origin
    a.write("f1", "A's later edit\n", mtime_ns=OLD_MTIME_NS)
    a.fog("sync", "-q")
    a.fog("check", "origin")
    c.fog("sync", "-q")
    c.fog("sync", "-q")
    assert c.read("fb") == "from B\n" and c.read("f1") == "A's later edit\n"
    assert {d["name"] for d in c.fog("device", "list", "--json").json()} == {"A", "B", "C"}


def test_a_relay_batch_lists_its_devices_also_when_the_pull_that_learnt_them_came_last(world: World) -> None:
    """The push itself (not only a later pull) makes sure: A learns B from r2 in one sync and relays B's
    version to origin in the same sync (batch 2 there: not A's first); C reads only origin right after."""
    a, r2 = _two_remotes(world)
    a.write("fa", "from A\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push", "-q")
    b = _clone(world, "B", r2, skip=["origin"])
    c = _clone(world, "C", world.remote, skip=["r2"])
    b.write("fb", "from B\n", mtime_ns=OLD_MTIME_NS)
    b.fog("push", "-q")
    a.fog("sync", "-q")
    c.fog("pull")
    assert c.read("fb") == "from B\n"


def test_devices_in_step_write_no_settings_version(world: World) -> None:
    """Once every remote holds what the devices know, syncs and pushes write no SyncConfig version."""
    a, r2 = _two_remotes(world)
    b = _clone(world, "B", r2, skip=[])
    for dev in (a, b, a, b):
        dev.fog("sync", "-q")
    before = (_config_versions(world.remote), _config_versions(r2))
    for i, dev in enumerate((a, b, a, b)):
        dev.write(f"n{i}", f"{i}\n", mtime_ns=OLD_MTIME_NS)
        dev.fog("sync", "-q")
        dev.fog("push", "-q")
    assert (_config_versions(world.remote), _config_versions(r2)) == before


def test_a_remote_that_refuses_the_settings_version_does_not_fail_the_pull(world: World) -> None:
    """A read-only remote that missed a change: the pull reads it as before; a later pull that can write
    publishes the change there."""
    a, r2 = _two_remotes(world)
    b = _clone(world, "B", r2, skip=["origin"])
    r2.rename(world.tmp / "r2.off")
    a.fog("policy", "set", "--keep-last", "7", expect=1)
    (world.tmp / "r2.off").rename(r2)
    refuse = """
from fog.backends.local import LocalBackend
from fog.errors import ReadOnlyRemote
_put_new = LocalBackend.put_new
def put_new(self, name, data):
    if name.startswith("config/"):
        raise ReadOnlyRemote("read-only here")
    return _put_new(self, name, data)
LocalBackend.put_new = put_new
"""
    before = _config_versions(r2)
    a.fog("pull", "r2", patch=refuse)
    assert _config_versions(r2) == before
    a.fog("pull", "r2")
    b.fog("pull")
    assert _keep_last(b) == 7


def test_a_dry_run_push_writes_no_settings_version(world: World) -> None:
    a, r2 = _two_remotes(world)
    b = _clone(world, "B", r2, skip=["origin"])
    r2.rename(world.tmp / "r2.off")
    a.fog("policy", "set", "--keep-last", "7", expect=1)
    (world.tmp / "r2.off").rename(r2)
    a.write("n", "new\n", mtime_ns=OLD_MTIME_NS)
    before = _config_versions(r2)
    a.fog("push", "-n")
    assert _config_versions(r2) == before
    a.fog("push")
    assert _config_versions(r2) == before + 1
    b.fog("pull")
    assert _keep_last(b) == 7
