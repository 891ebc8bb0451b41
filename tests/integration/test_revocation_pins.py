"""A revocation pins what it accepted from the revoked device: the chain hash of its last accepted batch
(docs/FORMAT.md, sections 9 and 15). The thief of a revoked device holds its signing key and the old
epoch's keys: it can write the device's log again from batch 1 on, and must not reach a device that
reads that log later."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from fog.crypto import keys as K
from fog.errors import EXIT_INTEGRITY, IntegrityError
from fog.format import pack as P
from fog.repo.identity import Identity
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


_DIE_AFTER_TWO_PACKS = """
import os as _os
import fog.store as _store
_put = _store.ShareStore.put_pack
_count = [0]
def _put_pack(self, data, index):
    _put(self, data, index)
    _count[0] += 1
    if _count[0] == 2:
        _os._exit(9)  # SIGKILL-like: two packs on the remote, nothing recorded or published
_store.ShareStore.put_pack = _put_pack
"""


def _pack_objects(world: World, keys: K.ShareKeys, *, epoch: int) -> set[bytes]:
    """The ids of the objects in the remote's packs whose header is sealed with that key epoch."""
    key = K.derive(K.LABEL_PACK_INDEX, keys.data_key_of(epoch))
    out: set[bytes] = set()
    for path in world.remote.glob("shares/*/packs/*/*"):
        if len(path.name) != 64:
            continue  # a temporary name: a put the killed push left half done (never listed by fog)
        try:
            index = P.open_index(key, bytes.fromhex(path.name), path.read_bytes(), "pack")
        except IntegrityError:
            continue
        out.update(index.ids())
    return out


def test_a_push_resumed_after_a_revocation_seals_again_what_the_killed_push_uploaded(world: World) -> None:
    a = world.init("laptop")
    a.write("doc.txt", "base\n")
    a.push()
    world.clone("desktop")
    sid, entry = next(iter(Identity.load(a.home).cached_config().shares.items()))  # type: ignore[union-attr]
    old = K.ShareKeys.from_json(sid, entry)
    published = _pack_objects(world, old, epoch=0)
    a.write("big.bin", random.Random(5).randbytes(20 << 20))
    a.fog("push", expect=9, patch=_DIE_AFTER_TWO_PACKS)
    uploaded = _pack_objects(world, old, epoch=0) - published
    assert len(uploaded) > 2
    new_key = world.tmp / "new-master.key"
    a.fog("device", "revoke", "desktop", "--master-key-file", new_key)
    r = a.fog("push", "--json")
    assert r.json()["bytes_deduped"] < 1 << 20, r.out
    sid, entry = next(iter(Identity.load(a.home).cached_config().shares.items()))  # type: ignore[union-attr]
    new = K.ShareKeys.from_json(sid, entry)
    assert new.epoch == 1
    # what the killed push uploaded under the old key is sealed again under the new one: the version
    # published after the revocation needs nothing the revoked device's keys open
    fresh = _pack_objects(world, new, epoch=1)
    assert {o for o in uploaded if o not in fresh} == set()
    c = world.device("tablet")
    run_fog(["clone", world.remote, c.root, "--master-key-file", new_key], home=c.home, cwd=world.tmp)
    assert (c.root / "big.bin").read_bytes() == random.Random(5).randbytes(20 << 20)


_REVOKED_WHILE_PUSHING = """
import os as _os, subprocess as _sp, sys as _sys
import fog.sync.push as _push
_start = _push._start_sync
_done = []
def _start_sync(fan, pool, changes):  # the chunk's packs are up; another device revokes the desktop now
    if not _done:
        _done.append(1)
        env = dict(_os.environ, FOG_HOME=%(home)r, PYTHONPATH=%(path)r)
        _sp.run([_sys.executable, "-m", "fog", "device", "revoke", "desktop", "--master-key-file", %(key)r],
                cwd=%(root)r, env=env, check=True, capture_output=True)
    return _start(fan, pool, changes)
_push._start_sync = _start_sync
"""


def test_a_push_overtaken_by_a_revocation_records_nothing_and_its_next_run_seals_again(world: World) -> None:
    a = world.init("laptop")
    a.write("doc.txt", "base\n")
    a.push()
    world.clone("desktop")
    phone = world.clone("phone")
    sid, entry = next(iter(Identity.load(a.home).cached_config().shares.items()))  # type: ignore[union-attr]
    old = K.ShareKeys.from_json(sid, entry)
    published = _pack_objects(world, old, epoch=0)
    data = random.Random(6).randbytes(3 << 20)
    a.write("big.bin", data)
    new_key = world.tmp / "new-master.key"
    patch = _REVOKED_WHILE_PUSHING % {
        "home": str(phone.home),
        "root": str(phone.root),
        "key": str(new_key),
        "path": str(Path(K.__file__).parents[2]),
    }
    r = a.fog("push", expect=1, patch=patch)
    assert "keys were rotated while this push ran" in r.err
    uploaded = _pack_objects(world, old, epoch=0) - published
    assert uploaded
    a.fog("push")
    sid, entry = next(iter(Identity.load(a.home).cached_config().shares.items()))  # type: ignore[union-attr]
    fresh = _pack_objects(world, K.ShareKeys.from_json(sid, entry), epoch=1)
    assert uploaded <= fresh  # big.bin, published after the revocation, is sealed under the new key
    c = world.device("tablet")
    run_fog(["clone", world.remote, c.root, "--master-key-file", new_key], home=c.home, cwd=world.tmp)
    assert (c.root / "big.bin").read_bytes() == data


def _shared_with_bob(tmp_path: Path) -> tuple[World, Device, Device]:
    """Alice's share, with Bob invited and his checkout made."""
    from tests.integration.test_sharing import accept, user, user_key

    world = World(tmp_path, tmp_path / "remote", tmp_path / "alice.key")
    alice = world.init("alice-laptop")
    alice.write("doc.txt", "alice's first draft\n")
    alice.push()
    bob = user(alice, "bob")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    accept(alice, bob)
    return world, alice, bob


def test_a_removed_members_log_rewritten_since_its_cut_is_refused(tmp_path: Path) -> None:
    world, alice, bob = _shared_with_bob(tmp_path)
    snap = world.tmp / "bob-before"
    _snapshot([bob.root, bob.home, world.remote], snap)
    bob.write("bob.txt", "bob's, while a member\n")
    bob.fog("push")
    alice.pull()
    assert alice.read("bob.txt") == "bob's, while a member\n"
    alice.fog("share", "remove-member", "bob")

    def rewrite() -> None:  # bob's batch 1 again, other content: he still holds his keys and the old epoch's
        (bob.root / "bob.txt").write_text(THIEF)
        bob.fog("push")

    _as_thief(world, bob, snap, rewrite)
    tablet = world.device("alice-tablet")  # alice's new device joins the shared share
    r = run_fog(
        ["clone", world.remote, tablet.root, "--master-key-file", world.key, "--share", "alice-laptop"],
        home=tablet.home,
        cwd=world.tmp,
        expect=None,
    )
    assert r.rc == EXIT_INTEGRITY, str(r)
    assert "not the one the device's revocation accepted" in r.err
    assert not (tablet.root / "bob.txt").exists() or tablet.read("bob.txt") != THIEF


def test_a_retired_keys_device_log_rewritten_since_is_refused_by_another_users_new_device(tmp_path: Path) -> None:
    from tests.integration.test_sharing import _second_device

    world, alice, bob = _shared_with_bob(tmp_path)
    desktop = _second_device(alice, "alice-desktop", world.key)
    snap = world.tmp / "desktop-before"
    _snapshot([desktop.root, desktop.home, world.remote], snap)
    desktop.write("desk.txt", "the desktop's, before it was stolen\n")
    desktop.fog("push")
    bob.pull()
    alice.fog("device", "revoke", "alice-desktop", "--master-key-file", world.tmp / "alice-new.key")

    def rewrite() -> None:
        (desktop.root / "desk.txt").write_text(THIEF)
        desktop.fog("push")

    _as_thief(world, desktop, snap, rewrite)
    phone = world.device("bob-phone")  # bob's new device: it never read the desktop's log
    r = run_fog(
        ["clone", world.remote, phone.root, "--master-key-file", world.tmp / "bob.key", "--share", "alice-laptop"],
        home=phone.home,
        cwd=world.tmp,
        expect=None,
    )
    assert r.rc == EXIT_INTEGRITY, str(r)
    assert "not the one the device's revocation accepted" in r.err
    assert not (phone.root / "desk.txt").exists() or phone.read("desk.txt") != THIEF
