"""fog prune against the interleavings an adversarial review found (FORMAT.md section 14).

Each test is one review finding, run as separate fog processes per device: it
failed (the data was lost) before the fix it names, and must keep passing.
"""

from __future__ import annotations

import os
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


def _intent_file(world: World, intent: str) -> Path:
    (path,) = [p for p in world.remote.glob("shares/*/prune/*") if p.name.endswith(intent)]
    return path


@pytest.mark.parametrize("tamper", ["truncate", "fifo"])
def test_a_prune_intent_the_remote_altered_is_reported_not_ignored(world: World, tamper: str) -> None:
    """Review 7, F4: another device's observe ignored an intent that did not open (meant for a key epoch it
    does not hold yet): sync exit 0, check "no problems", and the pruner told the user, for ever, to run a
    `fog sync` there that could not help. Now the reading device refuses it (exit 4, `fog check` lists it),
    and the pruner's waiting line names the way out."""
    a, b = make_pair(world)
    b.write("b.txt", "b has a log\n")
    b.fog("sync")
    a.pull()
    made = orphan(a, "x.bin", seed=13)
    first = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(first["planned_delete"]) == made and first["intent"]
    path = _intent_file(world, first["intent"])
    if tamper == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:
        path.unlink()
        os.mkfifo(path)
    for command in ("sync", "pull"):
        r = b.fog(command, expect=4)
        assert f"prune intent {first['intent'][:8]} of device 'laptop'" in r.err and "altered" in r.err, r
    r = b.fog("check", expect=4)
    assert f"prune intent {first['intent'][:8]}" in r.err and "1 problem(s)" in r.out, r
    r = a.fog("check", expect=4)  # the pruner's own check sees it too
    assert f"prune intent {first['intent'][:8]}" in r.err, r
    time.sleep(1.1)
    waiting = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert not waiting["deleted"] and packs(world) >= made
    (line,) = waiting["waiting"]
    assert "desktop" in line and "cannot read the intent" in line and "--grace 0" in line, line
    # the way out it names: no other device is pushing, so the packs go at once
    done = a.fog("prune", "--grace", "0", "--json").json()["remotes"][0]
    assert set(done["deleted"]) == made, done
    b.write("more.txt", "after the prune\n")
    b.fog("sync")  # collected: nothing waits for the altered intent any more
    r = b.fog("check")
    assert f"delete {path.relative_to(world.remote)}" in r.err, r
    a.pull()
    assert (a.root / "more.txt").read_text() == "after the prune\n"
    c = world.clone("phone")
    assert (c.root / "more.txt").read_text() == "after the prune\n"
    c.fog("check", "--read-data")


NO_PRUNE_KEY_YET = """
import fog.crypto.keys as _k
def _not_held(self, epoch):
    raise ValueError(f"key epoch {epoch} is unknown")  # (as for an epoch a rotation elsewhere just started)
_k.ShareKeys.prune_keys = _not_held
"""


def test_a_prune_intent_sealed_under_an_epoch_not_held_yet_stays_silent(world: World) -> None:
    """The other side of F4: an intent its author signed, sealed with a key epoch this device does not hold
    yet, is not the remote's doing: it waits, unacknowledged, without an error (check: a note)."""
    a, b = make_pair(world)
    b.write("b.txt", "b has a log\n")
    b.fog("sync")
    a.pull()
    made = orphan(a, "x.bin", seed=14)
    first = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(first["planned_delete"]) == made and first["intent"]
    r = b.fog("sync", patch=NO_PRUNE_KEY_YET)
    assert "prune" not in r.err, r
    r = b.fog("check", patch=NO_PRUNE_KEY_YET)
    assert "cannot be read here yet" in r.err, r
    time.sleep(1.1)
    waiting = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert not waiting["deleted"] and any("desktop" in w for w in waiting["waiting"]), waiting
    b.fog("sync")  # holds the key now: acknowledges
    done = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(done["deleted"]) == made, done
