"""Signed batches between devices (docs/FORMAT.md, section 9): forgeries, legacy logs, revoked devices.

The attacks write to the remote as a trusted device could: with the keys in
its own FOG_HOME (the user secret every device holds, its own signing key,
the share's keys), through fog's own encodings.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from test_multidevice import INITIAL, Device, World, make_pair, run_fog

from fog.backends.local import LocalBackend
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.format.batch import BATCH_VERSION_BOX, EventBatch, chain_hash, seq_name
from fog.format.version import VERSION_ID_PREFIX, Version
from fog.repo.identity import Identity
from fog.store import Remote, seal_batch


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def identity(dev: Device) -> dict[str, Any]:
    return json.loads((dev.home / "identity.json").read_text())


def remote_of(world: World) -> Remote:
    remote = Remote(LocalBackend(world.remote))
    remote.require_marker()
    return remote


def master_key(world: World) -> bytes:
    return K.master_key_from_text(world.key.read_text())


def share_keys(world: World) -> K.ShareKeys:
    config, _ = remote_of(world).load_config(master_key(world))
    assert config is not None and len(config.shares) == 1
    share_hex, entry = next(iter(config.shares.items()))
    return K.ShareKeys.from_json(share_hex, entry)


class Victim:
    """The log of one device on the remote, as an attacker sees it."""

    def __init__(self, world: World, dev: Device, keys: K.ShareKeys | None = None) -> None:
        self.world = world
        self.keys = keys or share_keys(world)
        doc = identity(dev)["device"]
        self.device_id, self.public = doc["id"], bytes.fromhex(doc["public"])
        self.log = K.device_log_name(self.keys.share_id, self.public)
        self.dir = world.remote / "shares" / self.keys.locator / "log" / self.log

    def batches(self) -> list[Path]:
        return sorted(self.dir.iterdir())

    def next_batch(self, path: str) -> EventBatch:
        """Its next batch as the attacker makes it: chained to its last one, one valid new version."""
        done = self.batches()
        t = time.time_ns()
        v = Version(path, "file", 0, 0o644, t, t, self.device_id)
        v = v.with_id(self.keys.mac(VERSION_ID_PREFIX + v.canonical()))
        prev = chain_hash(done[-1].read_bytes())
        return EventBatch(self.keys.locator, self.log, self.device_id, len(done) + 1, prev, t, (v,))

    def put(self, batch: EventBatch, stored: bytes) -> Path:
        path = self.dir / seq_name(batch.seq)
        path.write_bytes(stored)
        return path


def test_a_batch_forged_with_the_user_secret_is_never_applied(world: World) -> None:
    """Box is symmetric: the user secret seals a batch that opens as any device's. Since the victim
    signs its batches, an unsigned one in its log counts only below a signed one: never, here."""
    a, b = make_pair(world)
    b.write("mine.txt", "from the desktop\n")
    b.push()
    a.pull()
    victim = Victim(world, b)
    forged = victim.next_batch("forged.txt")
    user_secret = bytes.fromhex(identity(a)["user"]["secret"])
    victim.put(forged, bytes([BATCH_VERSION_BOX]) + S.seal_box(user_secret, victim.public, forged.to_bytes()))
    for _ in range(2):
        r = a.pull()
        assert "fog:" not in r.err, r  # nothing alarming: the batch is held back, silently
        assert not (a.root / "forged.txt").exists()
    c = world.clone("phone")
    assert not (c.root / "forged.txt").exists()
    assert "fog:" not in c.fog("pull").err
    assert c.tree() == a.tree()
    r = a.fog("check")  # a note, not a problem
    assert "not signed" in r.err and "fog:" not in r.err
    # the victim cannot write over it (it never adopts it, nor chains onto it): its push says so
    b.write("more.txt", "after the forgery\n")
    line = b.fog("push", expect=4).error_line()
    assert "already exists" in line and "other content" in line


def test_a_batch_signed_by_another_device_is_refused(world: World) -> None:
    """A device holding the user secret and its own signing key writes into the victim's log: the
    signature is its own, not the victim's, and readers refuse the victim's new batches."""
    a, b = make_pair(world)
    b.write("mine.txt", "from the desktop\n")
    b.push()
    c = world.clone("phone")
    victim = Victim(world, b)
    forged = victim.next_batch("forged.txt")
    own_seed = bytes.fromhex(identity(c)["device"]["sign_secret"])
    victim.put(forged, seal_batch(own_seed, victim.keys, forged))
    before = a.tree()
    r = a.pull(expect=4)
    line = r.error_line()
    assert "batch 2" in line and "'desktop'" in line and "signature does not verify" in line, line
    assert a.tree() == before
    r = a.fog("check", expect=4)
    assert "signature does not verify" in r.err
    assert world.clone("tablet", expect=4).tree() == before


# An older fog: its device publishes no signing key and writes Box-sealed batches.
LEGACY = """
import os as _os
from pathlib import Path as _Path
import fog.repo.identity as _identity
import fog.sync.push as _push
from fog.crypto import seal as _S
_entry = _identity.Identity.device_entry
def _legacy_entry(self):
    entry = _entry(self)
    entry.pop("sign")
    return entry
def _legacy_seal(sign_seed, keys, batch):
    ident = _identity.Identity.load(_Path(_os.environ["FOG_HOME"]))
    return bytes([1]) + _S.seal_box(ident.device_secret, ident.user_public, batch.to_bytes())
_identity.Identity.device_entry = _legacy_entry
_push.seal_batch = _legacy_seal
_push.ensure_listed = lambda ident, remote: False
_push.signer_listed = lambda ctx: None
import fog.store as _store
from fog.crypto import keys as _K
def _unsigned_put_config(self, signer, config):  # an older fog wrote unsigned SyncConfig versions
    locator, box_key, hmac_key = _K.config_keys(signer.master_key)
    stored = bytes([1]) + _S.seal_secret(box_key, config.to_bytes())
    name = f"config/{locator}/{_S.mac(hmac_key, stored).hex()}"
    self.backend.put_new(name, stored)
    self.backend.sync()
    return name
_store.Remote.put_config = _unsigned_put_config
import fog.sync.enrol as _enrol
_enrol.listing_signer = lambda config, signer: config  # (an older fog lists no signing key)
"""


def test_a_legacy_log_is_applied_whole_once_its_device_signs(world: World) -> None:
    a = world.init("laptop")
    for rel, data in INITIAL.items():
        a.write(rel, data)
    a.push()
    b = world.device("desktop")
    run_fog(
        ["clone", world.remote, b.root, "--master-key-file", world.key, "--device-name", "desktop"],
        home=b.home,
        cwd=world.tmp,
        patch=LEGACY,
    )
    victim = Victim(world, b)
    for n in (1, 2):
        b.write(f"old-{n}.txt", f"written by an older fog, {n}\n")
        b.fog("push", patch=LEGACY)
    assert [p.read_bytes()[0] for p in victim.batches()] == [1, 1]
    a.pull()  # a device without a signing key: its unsigned batches are its own
    assert a.read("old-2.txt") == "written by an older fog, 2\n"
    b.write("old-3.txt", "the last one before the upgrade\n")
    b.fog("push", patch=LEGACY)
    # the upgrade: this fog lists the device's signing key, then signs
    b.write("new.txt", "signed\n")
    b.fog("push")
    assert [p.read_bytes()[0] for p in victim.batches()] == [1, 1, 1, 2]
    config, _ = remote_of(world).load_config(master_key(world))
    assert config is not None and config.devices[victim.device_id]["sign"] == identity(b)["device"]["sign_public"]
    r = a.pull()
    assert "fog:" not in r.err, r
    assert a.read("old-3.txt") == "the last one before the upgrade\n" and a.read("new.txt") == "signed\n"
    assert a.tree() == b.tree()
    c = world.clone("phone")  # reads the whole log anew: the signed batch vouches for the three below it
    assert c.tree() == b.tree()
    a.fog("check")
    c.fog("check")


def revoke_by_hand(world: World, dev: Device, limit: int) -> None:
    """What the revoking device writes: `revoked`, and the last batch accepted per share and remote."""
    remote = remote_of(world)
    config, _ = remote.load_config(master_key(world))
    assert config is not None
    did = identity(dev)["device"]["id"]
    now = time.time_ns()
    share_hex = next(iter(config.shares))
    devices = dict(config.devices)
    devices[did] = {**devices[did], "revoked": now, "revoked_logs": {share_hex: {"origin": limit}}, "updated": now}
    # (an advisory revocation as an older fog wrote it, without a key rotation), signed by the laptop
    remote.put_config(Identity.load(world.devices["laptop"].home), config.with_(devices=devices))


def test_a_revoked_device_that_keeps_pushing_is_reported_once(world: World) -> None:
    a, b = make_pair(world)
    b.write("early.txt", "before the revocation\n")
    b.push()
    a.pull()
    revoke_by_hand(world, b, 1)
    b.write("late.txt", "after the revocation\n")
    b.push()
    b.write("later.txt", "still pushing\n")
    b.push()
    r = a.pull()
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "revoked" in lines[0] and "'desktop'" in lines[0], r
    assert "batches 2 to 3" in lines[0] and "origin" in lines[0]
    assert not (a.root / "late.txt").exists() and a.read("early.txt") == "before the revocation\n"
    assert a.pull().err.strip() == ""  # told once
    assert "revoked" not in a.fog("sync").err
    r = a.fog("check")  # listed, as a note
    assert "revoked" in r.err and "fog:" not in r.err
    b.write("again.txt", "and again\n")
    b.push()
    r = a.pull()  # a new batch past the limit: said once more
    assert "batches 2 to 4 on remote origin are not applied" in r.err
    assert a.pull().err.strip() == ""
    # a device joining later applies what was accepted, and warns once too
    c = world.device("phone")
    r = run_fog(
        ["clone", world.remote, c.root, "--master-key-file", world.key, "--device-name", "phone"],
        home=c.home,
        cwd=world.tmp,
    )
    assert r.err.count("revoked") == 1 and "batches 2 to 4" in r.err, r
    assert c.read("early.txt") == "before the revocation\n" and not (c.root / "late.txt").exists()
    assert c.fog("pull").err.strip() == ""


def rotate_cached_keys(dev: Device, new_key: bytes) -> None:
    """Give a device the share's next key epoch, as a key rotation would (in its cached SyncConfig only)."""
    path = dev.home / "syncconfig.json"
    doc = json.loads(path.read_text())
    doc.pop("merged_versions", None)
    (share_hex, entry), *_ = doc["shares"].items()
    keys = K.ShareKeys.from_json(share_hex, entry)
    rotated = K.ShareKeys(keys.share_id, new_key, keys.mac_key, keys.chunk_seed, (*keys.older, keys.data_key))
    entry.update(rotated.to_json())
    path.write_text(json.dumps(doc))


# The race, made to last: A read the SyncConfig just before B's push put the new epoch there (a push
# otherwise puts its settings on the remote before its batch: fog.sync.keyring.ensure_held).
LEAVE_SETTINGS = """
import fog.sync.keyring as _keyring
_refresh = _keyring.refresh_config
_keyring.ensure_held = lambda ctx: False
_keyring.refresh_config = lambda ctx, spread=False: _refresh(ctx)
"""


def test_a_batch_of_a_key_epoch_not_held_yet_waits_with_a_warning(world: World) -> None:
    """In a race with a key rotation, a device may read a batch sealed with an epoch it does not hold
    yet: it applies nothing from that log for now, says so, and does not fail."""
    a, b = make_pair(world)
    new_key = bytes(range(32))
    rotate_cached_keys(b, new_key)
    b.write("rotated.txt", "sealed with the next epoch\n")
    before = set(world.log_files())
    b.fog("push", patch=LEAVE_SETTINGS)
    (batch,) = set(world.log_files()) - before
    assert batch.read_bytes()[1:5] == (1).to_bytes(4, "big")
    r = a.pull()
    line = r.error_line()
    assert "fog: warning:" in line and "batch 1 of device 'desktop'" in line, line
    assert "key epoch 1, which this device does not hold yet" in line
    assert not (a.root / "rotated.txt").exists()
    r = a.pull()  # said once while it lasts (a cron job hears of it once), still nothing applied
    assert r.err == "" and not (a.root / "rotated.txt").exists()
    rotate_cached_keys(a, new_key)
    r = a.pull()
    assert "fog:" not in r.err, r
    assert a.read("rotated.txt") == "sealed with the next epoch\n"
    a.fog("check", "--read-data")
