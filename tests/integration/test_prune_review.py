"""fog prune against the interleavings an adversarial review found (FORMAT.md section 14).

Each test is one review finding, run as separate fog processes per device: it
failed (the data was lost) before the fix it names, and must keep passing.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, Device, World, make_pair, run_fog
from test_prune import orphan, packs, paused


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


@pytest.mark.parametrize("how", ["pull", "sync"])
def test_pull_recounts_condemned_pack_then_push_names_deleted_object(world: World, how: str) -> None:
    """A pull's header scan counted a condemned pack's objects present again (and committed them), and
    nothing dropped them later: every command's scans now skip condemned packs, pull observes, and a
    completion drops the presence of what it deleted."""
    a, b = make_pair(world)
    b.write("b.txt", "b has a log\n")
    b.fog("sync")
    a.pull()
    data = random.Random(11).randbytes(400_000)
    made = orphan(a, "x.bin", seed=11)  # A's killed push: pack(s) no batch names
    first = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(first["planned_delete"]) == made and first["intent"]
    b.fog("sync")  # B observes the intent and acknowledges it (ack-only batch)
    a.write("new.txt", "a small new file\n")
    a.fog("push")
    b.fog(how)  # pull: new.txt's pack is unknown -> scan_packs lists every pack, the condemned one too
    time.sleep(1.2)
    done = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(done["deleted"]) == made, done  # B acknowledged: collected
    assert packs(world).isdisjoint(made)
    # later, B gets the same content (a copy, a revert, the same download...)
    b.write("x.bin", data, mtime_ns=OLD_MTIME_NS)
    out = b.fog("push", "--json").json()
    assert out["bytes_uploaded"] >= 400_000, out  # not deduped against the deleted pack
    a.fog("check", "--read-data")
    a.pull()
    assert (a.root / "x.bin").read_bytes() == data


def test_prune_keeps_the_repaired_copy_beside_a_corrupt_one(world: World) -> None:
    """A pack is deleted for another copy only once that copy has been read back and verified."""
    a, b = make_pair(world)
    (q,) = [p for p in world.remote.glob("shares/*/packs/*/*") if p.is_file()]
    raw = bytearray(q.read_bytes())
    raw[-10] ^= 0xFF  # inside the last object of the pack (a block of a referenced file)
    q.write_bytes(bytes(raw))
    a.fog("check", "--read-data", "--repair", "--json", expect=None)
    before = packs(world)
    assert len(before) == 2, before  # the corrupt pack and the repair pack
    a.fog("check", "--read-data")
    a.fog("prune", "--grace", "0")
    a.fog("check", "--read-data")
    c = world.clone("phone")
    assert c.tree() == a.tree()


def test_prune_ignores_batches_pull_accepted_from_a_revoked_device(world: World) -> None:
    """revoked_seq is recorded only for the share `fog device revoke` ran in; elsewhere pull accepts
    up to its own cursor: prune counts every verified batch's versions, refused or not."""
    a, b = make_pair(world)
    a2 = Device("laptop", a.home, world.tmp / "photos", world)
    run_fog(["init", a2.root, "--remote", world.remote, "--name", "photos"], home=a.home, cwd=world.tmp)
    a2.write("cat.jpg", b"meow")
    a2.push()
    b2 = Device("desktop", b.home, world.tmp / "desktop-photos", world)
    run_fog(
        ["clone", world.remote, b2.root, "--share", "photos", "--master-key-file", world.key],
        home=b.home,
        cwd=world.tmp,
    )
    b2.write("dog.jpg", random.Random(3).randbytes(200_000), mtime_ns=OLD_MTIME_NS)
    b2.push()  # before the revocation: a legitimate version
    a2.pull()
    assert (a2.root / "dog.jpg").exists()
    a.fog("device", "revoke", "desktop")  # run in the first share: no limit recorded for photos
    # a third device joins photos later and prunes it
    c = world.device("phone")
    run_fog(
        ["clone", world.remote, c.root, "--share", "photos", "--master-key-file", world.key, "--device-name", "phone"],
        home=c.home,
        cwd=world.tmp,
        expect=None,
    )
    c.fog("prune", "--grace", "0", "--json", expect=None)
    assert a2.fog("check", expect=None).rc != 4
    data = (a2.root / "dog.jpg").read_bytes()
    (a2.root / "dog.jpg").unlink()
    a2.fog("restore", "dog.jpg")
    assert (a2.root / "dog.jpg").read_bytes() == data


PAUSE_AFTER_CATCH_UP = """
import os as _os, time as _time
import fog.sync.push as _p
_complete = _p.replicate.complete
def _slow(target, versions, sources, remote_name):
    out = _complete(target, versions, sources, remote_name)
    if remote_name == "usb":  # stands for a catch-up copy that takes longer than the grace period
        open(REACHED, "w").close()
        while not _os.path.exists(GO):
            _time.sleep(0.05)
    return out
_p.replicate.complete = _slow
"""


def test_first_batch_window_spans_the_whole_catch_up(world: World, tmp_path: Path) -> None:
    """A first batch here listed the intents before its catch-up only: one written during a long seeding
    copy went unseen. The intents are now listed again right before the batch, until none is new."""
    a, b = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    b.pull()  # learns usb
    a.write("new.bin", random.Random(21).randbytes(400_000), mtime_ns=OLD_MTIME_NS)
    with paused(a, ["push", "--json"], PAUSE_AFTER_CATCH_UP, tmp_path) as pushed:
        b.fog("prune", "usb", "--grace", "1s")
        time.sleep(1.2)
        b.fog("prune", "usb", "--grace", "1s")
    assert pushed["run"].rc == 0, pushed["run"]
    a.fog("check", "usb", "--read-data")
    b.fog("sync")
    b.fog("prune", "usb", "--grace", "0")
    a.fog("check", "usb", "--read-data")


def test_a_second_checkout_of_a_share_under_one_identity_is_refused(world: World) -> None:
    """Two checkouts under one FOG_HOME would write one device log from two trees, under two locks:
    a prune would take one's pushes for the other's (FORMAT.md section 14)."""
    a, _ = make_pair(world)
    second = world.tmp / "second"
    r = run_fog(["clone", world.remote, second, "--master-key-file", world.key], home=a.home, cwd=world.tmp, expect=1)
    assert "already has this share at" in r.error_line() and str(a.root) in r.error_line()
    assert not (second / ".fog").exists()
    moved = world.tmp / "moved"
    a.root.rename(moved)  # a checkout that moved is the same checkout
    run_fog(["-C", moved, "status"], home=a.home, cwd=world.tmp)
    shutil.rmtree(moved)  # one that is gone gives way to a new one
    run_fog(["clone", world.remote, second, "--master-key-file", world.key], home=a.home, cwd=world.tmp)


KILL_BEFORE_PUBLISH = """
import fog.sync.push as _p
def _die(*a, **k):
    raise SystemExit(9)
_p.publish = _die
"""


@pytest.mark.parametrize("how", ["pull", "sync"])
def test_a_pull_does_not_acknowledge_while_versions_wait_in_the_outbox(world: World, how: str) -> None:
    """B's push was killed after it recorded a version and before it published it: the version waits in
    B's outbox, its objects in a pack no batch names, which A's prune condemns. B's pull then
    acknowledged the intent in a batch alone, so A's collection (B acknowledged, grace over) deleted the
    pack before B's next push could copy the objects out of it: that push held the version ("stay
    queued ... check --repair", exit 1) and its own prune refused ("its subtree cannot be known"). A batch
    may acknowledge an intent only once every version waiting for it was checked against it: the pull
    leaves the acknowledgement to the push that publishes them."""
    a, b = make_pair(world)
    b.write("b.txt", "b has a log\n")
    b.fog("sync")
    a.pull()
    before = packs(world)
    data = random.Random(12).randbytes(300_000)
    b.write("x.bin", data, mtime_ns=OLD_MTIME_NS)
    b.fog("push", expect=9, patch=KILL_BEFORE_PUBLISH)  # recorded, queued, not published
    made = packs(world) - before
    assert made
    first = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(first["planned_delete"]) == made and first["intent"]  # no batch names them
    if how == "pull":
        b.fog("pull")  # observes the intent; x.bin's version still waits in the outbox
    else:  # the sync killed between its pull and its push
        b.fog("sync", expect=9, patch=KILL_BEFORE_PUBLISH)
    time.sleep(1.1)
    waiting = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert not waiting["deleted"], waiting  # B has not acknowledged: its queued version relies on the packs
    assert any("desktop" in w for w in waiting["waiting"]), waiting
    b.fog("push")  # publishes x.bin (its objects copied out of the condemned packs) and acknowledges
    done = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(done["deleted"]) | set(done["kept"]) == made, done
    a.pull()
    assert (a.root / "x.bin").read_bytes() == data
    a.fog("check", "--read-data")
    b.fog("check", "--read-data")
    c = world.clone("phone")
    assert (c.root / "x.bin").read_bytes() == data
    c.fog("check", "--read-data")
