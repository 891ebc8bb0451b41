"""A revocation pins what it accepted from the revoked device: the chain hash of its last accepted batch
(docs/FORMAT.md, sections 9 and 15). The thief of a revoked device holds its signing key and the old
epoch's keys: it can write the device's log again from batch 1 on, and must not reach a device that
reads that log later."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fog.errors import EXIT_INTEGRITY
from tests.integration.test_multidevice import INITIAL, OLD_MTIME_NS, Device, World, run_fog

THIEF = "the thief's words, written after the revocation\n"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _snapshot(paths: list[Path], into: Path) -> None:
    for p in paths:
        shutil.copytree(p, into / p.name, symlinks=True)


def _as_thief(world: World, b: Device, snap: Path, act) -> None:  # type: ignore[no-untyped-def]
    """Run `act` with the device's directory, FOG_HOME and the remote as they were at the snapshot (the
    thief's copy, at the same paths), then put the real ones back and copy every log or pack file the
    thief wrote or changed onto the real remote."""
    paths = [b.root, b.home, world.remote]
    for p in paths:
        p.rename(p.with_name(p.name + ".real"))
        shutil.copytree(snap / p.name, p, symlinks=True)
    act()
    changed = []
    for f in world.remote.rglob("*"):
        old = snap / "remote" / f.relative_to(world.remote)
        if f.is_file() and ("/log/" in str(f) or "/packs/" in str(f)):
            if not old.exists() or old.read_bytes() != f.read_bytes():
                changed.append((f.relative_to(world.remote), f.read_bytes()))
    for p in paths:
        shutil.rmtree(p)
        p.with_name(p.name + ".real").rename(p)
    assert changed, "the thief wrote nothing"
    for rel, data in changed:
        (world.remote / rel).parent.mkdir(parents=True, exist_ok=True)
        (world.remote / rel).write_bytes(data)


def test_a_log_rewritten_by_the_revoked_devices_thief_is_refused_by_a_later_clone(world: World) -> None:
    a = world.init("laptop")
    for rel, data in INITIAL.items():
        a.write(rel, data, mtime_ns=OLD_MTIME_NS)
    a.push()
    b = world.clone("desktop")
    snap = world.tmp / "thief"
    _snapshot([b.root, b.home, world.remote], snap)  # the thief's copy of the desktop (and of the store)
    b.write("early.txt", "before the revocation\n")
    b.push()
    a.pull()
    new_key = world.tmp / "new-master.key"
    a.fog("device", "revoke", "desktop", "--master-key-file", new_key)

    def rewrite() -> None:  # the desktop's batch 1 again, with other content
        (b.root / "early.txt").write_text(THIEF)
        (b.root / "doc.txt").write_text(THIEF)
        b.fog("push")

    _as_thief(world, b, snap, rewrite)
    c = world.device("tablet")
    r = run_fog(["clone", world.remote, c.root, "--master-key-file", new_key], home=c.home, cwd=world.tmp, expect=None)
    assert r.rc == EXIT_INTEGRITY, str(r)
    assert "not the one the device's revocation accepted" in r.err, r.err
    for rel in ("early.txt", "doc.txt"):
        assert not (c.root / rel).exists() or (c.root / rel).read_text() != THIEF
    # the device that revoked it notices too, and `fog check` names it
    assert a.pull(expect=EXIT_INTEGRITY).rc == EXIT_INTEGRITY
    assert a.read("doc.txt") == INITIAL["doc.txt"]
    r = a.fog("check", expect=EXIT_INTEGRITY)
    assert "not the one the device's revocation accepted" in r.out + r.err


def test_a_revoked_devices_log_as_it_was_is_still_read_up_to_the_pin(world: World) -> None:
    a = world.init("laptop")
    a.write("doc.txt", "base\n")
    a.push()
    b = world.clone("desktop")
    b.write("early.txt", "before the revocation\n")
    b.push()
    b.write("second.txt", "also before\n")
    b.push()
    new_key = world.tmp / "new-master.key"
    a.fog("device", "revoke", "desktop", "--master-key-file", new_key)  # (laptop never pulled: pinned from the remote)
    c = world.device("tablet")
    run_fog(["clone", world.remote, c.root, "--master-key-file", new_key], home=c.home, cwd=world.tmp)
    assert c.read("early.txt") == "before the revocation\n" and c.read("second.txt") == "also before\n"
    a.pull()
    assert a.read("second.txt") == "also before\n"
    entry = next(d for d in c.fog("device", "list", "--json").json() if d["name"] == "desktop")
    assert entry["revoked"]
