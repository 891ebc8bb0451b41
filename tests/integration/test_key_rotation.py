"""Revocation with key rotation, written as the revoked device's attacks (docs/FORMAT.md, section 15)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fog.backends.local import LocalBackend
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import EXIT_INTEGRITY, EXIT_REVOKED, IntegrityError
from fog.format import pack as P
from fog.format.syncconfig import CONFIG_VERSION, SyncConfig
from fog.repo.identity import Identity
from fog.store import Remote
from tests.integration.test_multidevice import INITIAL, OLD_MTIME_NS, Device, World, run_fog

SECRET = "written after the revocation: TOP SECRET\n"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


@pytest.fixture
def trio(world: World) -> tuple[Device, Device, Device]:
    """laptop made the share; desktop and phone cloned it; desktop is then revoked by laptop."""
    a = world.init("laptop")
    for rel, data in INITIAL.items():
        a.write(rel, data, mtime_ns=OLD_MTIME_NS)
    a.push()
    b = world.clone("desktop")
    c = world.clone("phone")
    b.write("early.txt", "before the revocation\n")
    b.push()
    a.pull()
    c.pull()
    return a, b, c


def revoke(a: Device, name: str) -> Path:
    new_key = a.world.tmp / "new-master.key"
    r = a.fog("device", "revoke", name, "--master-key-file", new_key)
    assert f"revoked {name}" in r.out and "epoch 1" in r.out
    return new_key


def remote(world: World) -> Remote:
    return Remote(LocalBackend.from_url(str(world.remote)))


def test_revoke_rotates_every_key_and_the_others_follow_by_themselves(trio: tuple[Device, Device, Device]) -> None:
    a, b, c = trio
    old_key = a.world.key.read_text()
    new_key = revoke(a, "desktop")
    assert new_key.read_text() != old_key
    assert K.master_key_from_text(new_key.read_text()) == Identity.load(a.home).master_key
    a.write("secret.txt", SECRET)
    a.push()
    c.pull()  # nothing typed: phone opens its stanza and moves to the new place
    assert c.read("secret.txt") == SECRET
    assert (c.home / "master-key").read_text() == new_key.read_text()
    assert c.fog("key", "show", "--json").json()["epoch"] == 1
    c.write("from-phone.txt", "phone writes in the new epoch\n")
    c.push()
    a.pull()
    assert a.read("from-phone.txt") == "phone writes in the new epoch\n"
    listed = {d["name"]: d for d in c.fog("device", "list", "--json").json()}
    assert listed["desktop"]["revoked"] and not listed["laptop"]["revoked"] and not listed["phone"]["revoked"]
    # a new device with the new master key gets everything, old epoch and new
    d = a.world.device("tablet")
    run_fog(["clone", a.world.remote, d.root, "--master-key-file", new_key], home=d.home, cwd=a.world.tmp)
    assert d.read("secret.txt") == SECRET and d.read("early.txt") == "before the revocation\n"
    assert d.read("doc.txt") == INITIAL["doc.txt"]


def test_the_revoked_device_is_told_once_per_command_and_its_files_are_untouched(
    trio: tuple[Device, Device, Device],
) -> None:
    a, b, _ = trio
    revoke(a, "desktop")
    b.write("local-only.txt", "never pushed\n")
    before = b.tree()
    for args in (["pull"], ["push"], ["sync"], ["status", "--remote"], ["stats"], ["stats", "--json"]):
        r = b.fog(*args, expect=None)
        if args == ["status", "--remote"] and r.rc == 2:
            continue  # (no such option: status does not touch the remote)
        assert r.rc == EXIT_REVOKED, str(r)
        line = r.error_line()
        assert "this device (desktop) was revoked by 'laptop'" in line and "untouched" in line
    assert b.tree() == before


def test_the_revoked_device_is_told_when_it_changes_the_remotes(trio: tuple[Device, Device, Device]) -> None:
    """`remote add`, `set-url` and `remove` of a revoked device exited 0 saying "for every device", though no
    device ever saw the change. Exit 6 like every command that touches a remote; `--local` stays local."""
    a, b, _ = trio
    revoke(a, "desktop")
    q = a.world.tmp / "q"
    for args in (["remote", "add", "q", q], ["remote", "set-url", "origin", q], ["remote", "remove", "origin"]):
        r = b.fog(*args, expect=EXIT_REVOKED)
        assert "this device (desktop) was revoked by 'laptop'" in r.error_line()
    assert not q.exists()
    assert "q" not in {r["name"] for r in a.fog("remote", "list", "--json").json()}


def test_the_revoked_device_cannot_change_the_device_list(trio: tuple[Device, Device, Device]) -> None:
    a, b, c = trio
    revoke(a, "desktop")
    for args in (
        ["device", "revoke", "laptop"],
        ["device", "revoke", "phone"],
        ["device", "rename", "desktop", "innocent"],
        ["device", "rename", "laptop", "evil"],
        ["key", "rotate"],
    ):
        r = b.fog(*args, expect=EXIT_REVOKED)
        assert "was revoked" in r.error_line()
    c.pull()
    a.pull()
    for dev in (a, c):
        listed = {d["name"]: d for d in dev.fog("device", "list", "--json").json()}
        assert set(listed) == {"laptop", "desktop", "phone"}
        assert listed["desktop"]["revoked"] and not listed["laptop"]["revoked"] and not listed["phone"]["revoked"]


def test_the_revoked_device_cannot_rejoin_with_the_old_master_key(trio: tuple[Device, Device, Device]) -> None:
    a, _, _ = trio
    revoke(a, "desktop")
    thief = a.world.device("thief")
    r = run_fog(
        ["clone", a.world.remote, thief.root, "--master-key-file", a.world.key, "--device-name", "thief"],
        home=thief.home,
        cwd=a.world.tmp,
        expect=EXIT_REVOKED,
    )
    assert "master key was replaced by a key rotation" in r.error_line()
    assert not thief.root.exists() or not any(thief.root.iterdir())
    listed = {d["name"] for d in a.fog("device", "list", "--json").json()}
    assert "thief" not in listed


def test_the_revoked_device_reads_nothing_pushed_later_with_any_key_it_holds(
    trio: tuple[Device, Device, Device],
) -> None:
    a, b, _ = trio
    world = a.world
    packs_before = set(world.remote.glob("shares/*/packs/*/*"))
    logs_before = set(world.log_files())
    revoke(a, "desktop")
    a.write("secret.txt", SECRET * 50)
    a.write("doc.txt", "edited after the revocation\n")
    a.push()
    new_packs = set(world.remote.glob("shares/*/packs/*/*")) - packs_before
    new_batches = set(world.log_files()) - logs_before
    assert new_packs and new_batches
    # everything the revoked device holds: its identity, its cached SyncConfig, the master key it knew
    ident = Identity.load(b.home)
    cached = ident.cached_config()
    assert cached is not None
    share_keys = [K.ShareKeys.from_json(sid, e) for sid, e in cached.shares.items()]
    data_keys = {k for sk in share_keys for k in sk.data_keys} | {ident.user_secret, ident.device_secret}
    for path in new_packs:  # no pack written later opens with any key it holds
        head = path.read_bytes()
        for key in data_keys:
            for candidate in (key, K.derive(K.LABEL_PACK_INDEX, key)):
                with pytest.raises(IntegrityError):
                    P.open_index(candidate, bytes.fromhex(path.name), head, "pack")
    for path in new_batches:  # no batch written later opens with any key it holds
        stored = path.read_bytes()
        for key in data_keys:
            for candidate in (key, K.derive(K.LABEL_BATCH_KEY, key)):
                with pytest.raises(IntegrityError):
                    S.open_secret(candidate, stored[1 + 4 + 64 :], "batch")
        for device in cached.devices.values():
            with pytest.raises(IntegrityError):
                S.open_box(ident.user_secret, bytes.fromhex(device["public"]), stored[1 + 4 + 64 :], "batch")
    # the new SyncConfig place: its locator is not derived from any key it holds, and nothing there opens
    locators = {p.name for p in (world.remote / "config").iterdir()}
    old_locator = K.config_keys(ident.master_key)[0]
    assert old_locator in locators and len(locators) == 2
    new_place = world.remote / "config" / (locators - {old_locator}).pop()
    for version in new_place.iterdir():
        stored = version.read_bytes()
        for key in (K.config_keys(ident.master_key)[1], *data_keys):
            with pytest.raises(IntegrityError):
                S.open_secret(key, stored[1 + 16 + 64 :], "config")
    # and the store holds no plaintext
    for path in world.remote.rglob("*"):
        if path.is_file():
            assert b"TOP SECRET" not in path.read_bytes() and b"secret.txt" not in path.read_bytes()


def test_what_the_revoked_device_writes_at_the_old_place_reaches_no_one(trio: tuple[Device, Device, Device]) -> None:
    """After the rotation, the revoked device still holds the old master key and its signing key: a
    SyncConfig version it signs at the old place (revoking the others, renaming itself) is never merged
    by a device that follows the rotation, even one that reads the old place after it was written."""
    a, b, c = trio
    revoke(a, "desktop")
    ident = Identity.load(b.home)
    old = ident.cached_config()
    assert old is not None
    devices = {did: dict(d) for did, d in old.devices.items()}
    now = time.time_ns()
    for did, d in devices.items():
        if d["name"] in ("laptop", "phone"):
            d.update(revoked=now, updated=now)
        if did == ident.device_id:
            d.update(name="laptop-2", updated=now)
    evil = remote(a.world)
    evil.put_config(ident, old.with_(devices=devices))
    c.pull()  # phone reads the old place (evil version and rotation record) and follows
    listed = {d["name"]: d for d in c.fog("device", "list", "--json").json()}
    assert set(listed) == {"laptop", "desktop", "phone"}
    assert listed["desktop"]["revoked"] and not listed["laptop"]["revoked"] and not listed["phone"]["revoked"]
    a.write("after.txt", "still syncing\n")
    a.push()
    c.pull()
    assert c.read("after.txt") == "still syncing\n"


def test_forged_syncconfig_versions_at_the_new_place_are_refused(trio: tuple[Device, Device, Device]) -> None:
    """Even a holder of the new master key cannot slip in an unsigned version, or one whose signer's
    keys do not match its id (a device entry forged under laptop's id)."""
    a, _, c = trio
    new_key = K.master_key_from_text(revoke(a, "desktop").read_text())
    c.pull()
    locator, box_key, hmac_key = K.config_keys(new_key)
    config = Identity.load(a.home).cached_config()
    assert config is not None
    laptop = next(did for did, d in config.devices.items() if d["name"] == "laptop")

    def plant(stored: bytes) -> Path:
        path = a.world.remote / "config" / locator / S.mac(hmac_key, stored).hex()
        path.write_bytes(stored)
        return path

    unsigned = plant(bytes([CONFIG_VERSION]) + S.seal_secret(box_key, config.to_bytes()))
    r = c.pull(expect=EXIT_INTEGRITY)
    assert "unsigned" in r.error_line()
    unsigned.unlink()
    # a version claiming laptop's id, with a signing key the forger made: the id binds laptop's real keys
    seed, public = S.new_signing_key()
    forged_devices = {**config.devices, laptop: {**config.devices[laptop], "sign": public.hex(), "name": "pwned"}}
    forged = SyncConfig(config.user, forged_devices, config.shares, (), config.user_old, config.rotation)
    sealed = S.seal_secret(box_key, forged.to_bytes())
    who = bytes.fromhex(laptop)
    stored = bytes([0x02]) + who + S.sign(seed, b"fog/v1/syncconfig\0" + bytes.fromhex(locator) + who + sealed) + sealed
    planted = plant(stored)
    r = c.pull(expect=EXIT_INTEGRITY)
    assert "do not match its id" in r.error_line()
    planted.unlink()
    c.pull()
    assert {d["name"] for d in c.fog("device", "list", "--json").json()} == {"laptop", "desktop", "phone"}


def test_key_rotate_keep_revokes_every_device_not_in_hand(trio: tuple[Device, Device, Device]) -> None:
    a, b, c = trio
    r = a.fog("key", "rotate", "--keep", "phone", "--master-key-file", a.world.tmp / "k2")
    assert "revoked desktop" in r.out
    c.pull()
    b.pull(expect=EXIT_REVOKED)
    plain = a.fog("key", "rotate", "--json").json()  # no device lost: every device follows
    assert plain["revoked"] == [] and plain["following"] == ["phone"] and plain["epoch"] == 2
    assert plain["master_key"]
    c.pull()
    assert c.fog("key", "show", "--json").json()["epoch"] == 2


def test_a_device_that_slept_through_two_rotations_follows_both(trio: tuple[Device, Device, Device]) -> None:
    a, _, c = trio
    revoke(a, "desktop")
    a.fog("key", "rotate", "--master-key-file", a.world.tmp / "k3")
    a.write("late.txt", "epoch two\n")
    a.push()
    c.pull()
    assert c.read("late.txt") == "epoch two\n"
    assert c.fog("key", "show", "--json").json()["epoch"] == 2


def counter_rotation(author: Identity, cached: SyncConfig) -> dict:
    """A rotation record by `author` revoking laptop, backdated (the earliest would win a naive choice),
    that seals a master key of the attacker's choosing to phone (returned as `evil_key`)."""
    laptop = next(did for did, d in cached.devices.items() if d["name"] == "laptop")
    phone = next(did for did, d in cached.devices.items() if d["name"] == "phone")
    evil_key = K.new_master_key()
    stanza = S.seal_box(author.device_secret, bytes.fromhex(cached.devices[phone]["public"]), evil_key).hex()
    record = {"format": 1, "by": author.device_id, "time_ns": 1, "epoch": 1, "revoked": [laptop]}
    return {**record, "stanzas": {phone: stanza}, "evil_key": evil_key}


def test_two_rotations_that_revoke_each_other_are_refused_and_adopt_resolves_it(
    trio: tuple[Device, Device, Device],
) -> None:
    """desktop (to be revoked) answers its revocation with a rotation of its own that revokes laptop: phone,
    which has not pulled since, cannot tell which rotation is the user's, refuses both (exit 4, one line,
    nothing changed), and takes the master key the user trusts with `fog key adopt`."""
    a, b, c = trio
    new_key = revoke(a, "desktop")
    ident = Identity.load(b.home)
    cached = ident.cached_config()
    assert cached is not None
    record = counter_rotation(ident, cached)
    record.pop("evil_key")
    remote(a.world).put_rotation(ident, record)
    before = (c.home / "master-key").read_text()
    r = c.pull(expect=EXIT_INTEGRITY)
    assert "rotated the keys at once" in r.error_line() and "fog key adopt" in r.error_line()
    assert (c.home / "master-key").read_text() == before
    assert c.fog("key", "adopt", "--master-key-file", new_key, "--json").json() == {"epoch": 1}
    c.pull()
    assert (c.home / "master-key").read_text() == new_key.read_text()
    a.write("after.txt", "after the fight\n")
    a.push()
    c.pull()
    assert c.read("after.txt") == "after the fight\n"


def test_key_adopt_recovers_a_device_whose_cached_settings_were_lost(world: World) -> None:
    """The case `fog key adopt` names ("the cache was lost"): laptop rotates, desk loses its cached
    SyncConfig; desk's pull asks for `fog key adopt`, and adopt itself failed the same way (exit 6),
    opening the share's SyncConfig before adopting (new-user review)."""
    a = world.init("laptop")
    a.write("a.txt", "a\n")
    a.push()
    b = world.clone("desk")
    new_key = world.tmp / "mk2"
    a.fog("key", "rotate", "--master-key-file", new_key)
    (b.home / "syncconfig.json").unlink()
    r = b.pull(expect=EXIT_REVOKED)
    assert "fog key adopt" in r.error_line()
    wrong = world.tmp / "wrong.key"
    wrong.write_text(K.master_key_to_text(K.new_master_key()) + "\n")
    b.fog("key", "adopt", "--master-key-file", wrong, expect=1)  # checked against the remote: no settings there
    b.fog("key", "adopt", "--master-key-file", world.key, expect=2)  # the old key: replaced by the rotation
    assert b.fog("key", "adopt", "--master-key-file", new_key, "--json").json() == {"epoch": 1}
    assert (b.home / "master-key").read_text() == new_key.read_text()
    b.pull()
    a.write("after.txt", "after the rotation\n")
    a.push()
    b.write("from-desk.txt", "desk\n")
    b.fog("sync")
    assert b.read("after.txt") == "after the rotation\n"
    a.pull()
    assert a.read("from-desk.txt") == "desk\n"


def test_a_record_by_a_device_added_at_the_old_place_after_the_fact_is_ignored(
    trio: tuple[Device, Device, Device],
) -> None:
    """The revoked device enrols a brand-new device at the old place (it still holds the old master key)
    and signs a rotation as that device, sealing its own master key to phone: phone only believes records
    by devices it trusted before, so it follows laptop's rotation, and the thief learns nothing."""
    a, b, c = trio
    revoke(a, "desktop")
    ident = Identity.load(b.home)
    cached = ident.cached_config()
    assert cached is not None
    sock = Identity.create(
        a.world.tmp / "home-sock", name="sock", master_key=ident.master_key, user=(ident.user_secret, ident.user_public)
    )
    devices = {**cached.devices, sock.device_id: sock.device_entry()}
    remote(a.world).put_config(sock, cached.with_(devices=devices))
    record = counter_rotation(sock, cached)
    evil_key = record.pop("evil_key")
    remote(a.world).put_rotation(sock, record)
    c.pull()
    assert K.master_key_from_text((c.home / "master-key").read_text()) != evil_key
    assert K.master_key_from_text((c.home / "master-key").read_text()) == Identity.load(a.home).master_key


def test_a_store_that_withholds_the_new_place_changes_nothing(trio: tuple[Device, Device, Device]) -> None:
    a, _, c = trio
    new_key = K.master_key_from_text(revoke(a, "desktop").read_text())
    place = a.world.remote / "config" / K.config_keys(new_key)[0]
    hidden = place.with_name("hidden")
    place.rename(hidden)
    before = (c.home / "master-key").read_text()
    r = c.pull(expect=EXIT_INTEGRITY)
    assert "withholds" in r.error_line()
    assert (c.home / "master-key").read_text() == before
    hidden.rename(place)
    c.pull()
    assert K.master_key_from_text((c.home / "master-key").read_text()) == new_key


def test_user_key_text_form_round_trips_and_catches_typos(trio: tuple[Device, Device, Device]) -> None:
    a, _, _ = trio
    doc = a.fog("key", "show", "--json").json()
    text = doc["user_key"]
    assert text.startswith("fogpub-")
    assert K.public_key_from_text(text) == (
        bytes.fromhex(doc["user_box_public"]),
        bytes.fromhex(doc["user_sign_public"]),
    )
    assert doc["user_public"] == text  # (--json keeps the paste form as user_public)
    assert doc["user_key"] in a.fog("key", "show").out
    bad = text[:-1] + ("0" if text[-1] != "0" else "1")
    with pytest.raises(ValueError, match="checksum"):
        K.public_key_from_text(bad)
    assert json.dumps(doc)  # (stays JSON)


def test_the_revoked_device_cannot_forge_a_batch_as_another_device(trio: tuple[Device, Device, Device]) -> None:
    """After its revocation, the desktop writes into the laptop's log with every key it holds: a batch
    Box-sealed with the old user secret, and one signed with its own signing key under the old epoch.
    Neither is ever applied; the signed one is refused in one line."""
    from fog.format.batch import BATCH_VERSION_BOX
    from fog.store import seal_batch
    from tests.integration.test_signed_batches import Victim, identity

    a, b, c = trio
    revoke(a, "desktop")
    c.pull()
    held = identity(b)
    kept = Identity.load(b.home).cached_config()  # the share keys the desktop kept (the old epoch)
    assert kept is not None
    victim = Victim(a.world, a, K.ShareKeys.from_json(*next(iter(kept.shares.items()))))
    boxed = victim.next_batch("forged-box.txt")
    user_secret = bytes.fromhex(held["user"]["secret"])
    path = victim.put(boxed, bytes([BATCH_VERSION_BOX]) + S.seal_box(user_secret, victim.public, boxed.to_bytes()))
    r = c.pull()
    assert not (c.root / "forged-box.txt").exists() and "fog:" not in r.err
    path.unlink()
    signed = victim.next_batch("forged-signed.txt")
    victim.put(signed, seal_batch(bytes.fromhex(held["device"]["sign_secret"]), victim.keys, signed))
    line = c.pull(expect=EXIT_INTEGRITY).error_line()
    assert "'laptop'" in line and "signature does not verify" in line, line
    assert not (c.root / "forged-signed.txt").exists()


def test_a_key_file_that_cannot_be_written_stops_the_rotation_before_it_starts(world: World) -> None:
    """`key rotate` / `device revoke` with --master-key-file in a missing directory or naming a directory
    said "No such file or directory: .../.new.key.tmp-N" and exited 1, but had rotated: the new key was
    nowhere, and a second try rotated again. Now nothing changes, and the error names the file."""
    a = world.init("laptop")
    a.write("a.txt", "a\n")
    a.push()
    b = world.clone("desktop")
    bad = world.tmp / "missing-dir" / "new.key"
    for args, code in (
        (["key", "rotate", "--master-key-file", bad], 1),
        (["device", "revoke", "desktop", "--master-key-file", bad], 1),
        (["key", "rotate", "--master-key-file", world.tmp], 2),
    ):
        line = a.fog(*args, expect=code).error_line()
        assert str(bad if code == 1 else world.tmp) in line and ".tmp-" not in line and ".probe-" not in line, line
        assert a.fog("key", "show", "--json").json()["epoch"] == 0
    assert [p.name for p in world.tmp.iterdir() if p.name.startswith(".")] == []
    b.pull()  # still trusted: nothing was revoked
    a.fog("device", "revoke", "desktop", "--master-key-file", world.tmp / "new.key")
    assert a.fog("key", "show", "--json").json()["epoch"] == 1
    assert len((world.tmp / "new.key").read_text().strip()) > 20


# Killed at the n-th rename into FOG_HOME (the secret files, and a journal of several): as a power cut there.
_DIE_AT_RENAME = """
import os
_real, _seen = os.replace, [0]
def _replace(src, dst, *a, **k):
    if str(dst).startswith(os.environ["FOG_HOME"]) and os.path.basename(str(dst)) != "checkouts.json":
        _seen[0] += 1
        if _seen[0] == {n}:
            os._exit(9)
    return _real(src, dst, *a, **k)
os.replace = _replace
"""


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_a_device_killed_while_it_takes_a_rotations_keys_recovers(trio: tuple[Device, Device, Device], n: int) -> None:
    """Following a rotation writes the new master key, the user keypair and the SyncConfig: three files,
    each atomic, but not together. Killed between them (strace: the 3rd rename), the device was left with
    the new master key and the old keypair and SyncConfig, and every later command exited 4 ("two SyncConfig
    versions disagree on the user keypair"), for good. They are written as one change now."""
    a, _, c = trio
    a.fog("key", "rotate")
    a.write("after.txt", "after the rotation\n")
    a.push()
    r = c.fog("pull", expect=None, patch=_DIE_AT_RENAME.replace("{n}", str(n)))
    assert r.rc in (0, 9), r
    c.fog("sync")
    assert c.read("after.txt") == "after the rotation\n"
    assert c.fog("key", "show", "--json").json()["epoch"] == 1


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_a_device_killed_while_it_rotates_recovers(trio: tuple[Device, Device, Device], n: int) -> None:
    """The same on the rotating device: killed at any rename into FOG_HOME, its next command goes on
    (finishing the rotation, or redoing it) and the other devices follow."""
    a, _, c = trio
    new_key = a.world.tmp / "k2"
    r = a.fog("key", "rotate", "--master-key-file", new_key, expect=None, patch=_DIE_AT_RENAME.replace("{n}", str(n)))
    assert r.rc in (0, 9), r
    a.fog("sync")
    if r.rc == 9 and a.fog("key", "show", "--json").json()["epoch"] == 0:
        a.fog("key", "rotate", "--master-key-file", new_key)  # killed before it took effect: the user runs it again
    a.write("after.txt", "after the rotation\n")
    a.push()
    c.fog("sync")
    assert c.read("after.txt") == "after the rotation\n"
    assert a.fog("key", "show", "--json").json()["epoch"] == c.fog("key", "show", "--json").json()["epoch"] == 1


# -- fifth review ------------------------------------------------------------------------------


def _rotation_records(world: World, locator: str) -> list[Path]:
    return sorted((world.remote / "config" / locator).glob("rotation.*"))


def test_two_rotations_at_once_are_refused_by_the_rotating_devices_too_and_adopt_keeps_what_they_pushed(
    trio: tuple[Device, Device, Device],
) -> None:
    """laptop and desktop each rotate (both revoke phone) while the store hides laptop's record from desktop.
    Each then read only its own new place: they pushed on under different epoch-1 keys, exit 0, and each
    refused the other's batches as "authentication failed" for ever. Now the rotating devices list the place
    they left at each push and pull and refuse with the "at once ... fog key adopt" line, as followers do;
    after `fog key adopt` of the key the user keeps, what desktop pushed under its own key stays readable."""
    a, b, _ = trio
    old = K.config_keys(Identity.load(a.home).master_key)[0]
    key_a = revoke(a, "phone")
    hidden = a.world.tmp / "hidden"
    hidden.mkdir()
    for p in _rotation_records(a.world, old):  # the store withholds laptop's record while desktop rotates
        p.rename(hidden / p.name)
    key_b = a.world.tmp / "desktop.key"
    b.fog("key", "rotate", "--keep", "laptop", "--master-key-file", key_b)
    b.write("from-desktop.txt", "sealed with desktop's epoch-1 key\n")
    b.push()
    for p in hidden.iterdir():
        p.rename(a.world.remote / "config" / old / p.name)
    assert len(_rotation_records(a.world, old)) == 2
    a.write("from-laptop.txt", "laptop, after both rotations\n")
    logs = set(a.world.log_files())
    for dev in (a, b):
        for args in (["push"], ["pull"], ["sync"]):
            r = dev.fog(*args, expect=EXIT_INTEGRITY)
            assert "rotated the keys at once" in r.err and "fog key adopt" in r.err, (dev.name, args, r)
    assert set(a.world.log_files()) == logs  # refused before anything was pushed
    # the way out: every device takes laptop's master key
    for dev in (b, a):
        dev.fog("key", "adopt", "--master-key-file", key_a)
    a.fog("sync")
    assert a.read("from-desktop.txt") == "sealed with desktop's epoch-1 key\n"
    b.fog("sync")
    assert b.read("from-laptop.txt") == "laptop, after both rotations\n"
    assert b.read("from-desktop.txt") == "sealed with desktop's epoch-1 key\n"
    assert (b.home / "master-key").read_text() == key_a.read_text()
    a.fog("check")
    # a new device with the kept key reads desktop's batch too
    d = a.world.device("tablet")
    run_fog(["clone", a.world.remote, d.root, "--master-key-file", key_a], home=d.home, cwd=a.world.tmp)
    assert d.read("from-desktop.txt") == "sealed with desktop's epoch-1 key\n"


def _owner_with_two_devices_and_two_members(
    tmp_path: Path,
) -> tuple[World, Device, Device, Device, Device, str, set[Path]]:
    """alice (two devices, both pulled) shares her share with bob and carol: (world, alice-laptop,
    alice-desktop, bob, carol, the share's directory name on the remote, the remote's files now)."""
    from tests.integration.test_sharing import _second_device, _share_dir, accept, user, user_key

    world = World(tmp_path, tmp_path / "remote", tmp_path / "alice.key")
    a = world.init("alice-laptop")
    a.write("doc.txt", "alice's first draft\n")
    a.push()
    bob, carol = user(a, "bob"), user(a, "carol")
    for d in (bob, carol):
        a.fog("share", "invite", "--user", user_key(d), "--name", d.name)
        accept(a, d)
    a2 = _second_device(a, "alice-desktop", world.key)
    for d in (a, a2, bob, carol):
        d.pull()
    sid = _share_dir(a).name
    before = {p for p in world.remote.rglob("*") if p.is_file()}
    return world, a, a2, bob, carol, sid, before


def test_two_owner_devices_that_start_one_key_epoch_at_once_lose_no_key(tmp_path: Path) -> None:
    """alice's two devices each remove bob at the same time (the store shows neither what the other wrote):
    each draws its own key for epoch 1 and seals data with it. The SyncConfig merge kept one of the two
    keys: what the other device pushed opened for nobody (its own history included, `check` exit 4), and
    that device's every sync failed. Now every key of an epoch is kept; the member who stays (carol) reads
    what both devices pushed, and they read hers."""
    from tests.integration.test_sharing import accept, user, user_key

    world, a, a2, bob, carol, sid, before = _owner_with_two_devices_and_two_members(tmp_path)
    a.fog("share", "remove-member", "bob")
    a.write("one.txt", "alice-laptop, epoch 1\n")
    a.fog("sync")
    hidden = tmp_path / "hidden"
    moved = []
    for p in sorted({p for p in world.remote.rglob("*") if p.is_file()} - before):
        rel = p.relative_to(world.remote)
        if rel.parts[0] == "config" or rel.parts[2:3] in (("members",), ("keys",)):
            (hidden / rel).parent.mkdir(parents=True, exist_ok=True)
            p.rename(hidden / rel)
            moved.append(rel)
    assert moved
    a2.fog("share", "remove-member", "bob")
    a2.write("two.txt", "alice-desktop, epoch 1\n")
    a2.fog("sync", expect=None)  # (it cannot open laptop's batch yet: laptop's key is hidden from it)
    for rel in moved:
        (world.remote / rel).parent.mkdir(parents=True, exist_ok=True)
        (hidden / rel).rename(world.remote / rel)
    for _ in range(2):
        for d in (a, a2, carol):
            d.fog("sync")
    for d in (a, a2, carol):
        assert d.read("one.txt") == "alice-laptop, epoch 1\n", d.name
        assert d.read("two.txt") == "alice-desktop, epoch 1\n", d.name
    for d in (a, a2):
        cfg = Identity.load(d.home).cached_config()
        assert cfg is not None
        keys = K.ShareKeys.from_json(sid, cfg.shares[sid])
        assert keys.epoch == 1 and len(keys.data_keys_of(1)) == 2
        d.fog("check")
    carol.write("carol.txt", "carol, after\n")
    carol.fog("sync")
    a.write("three.txt", "alice, after\n")
    a.fog("sync")
    a2.fog("sync")
    carol.fog("sync")
    assert a2.read("carol.txt") == "carol, after\n" and carol.read("three.txt") == "alice, after\n"
    assert not (bob.root / "one.txt").exists()
    bob.fog("pull", expect=None)
    assert not (bob.root / "one.txt").exists() and not (bob.root / "two.txt").exists()
    # a member invited later gets both keys of epoch 1 with the invitation
    dave = user(a, "dave")
    a2.fog("share", "invite", "--user", user_key(dave), "--name", "dave")
    accept(a, dave)
    assert dave.read("one.txt") == "alice-laptop, epoch 1\n" and dave.read("two.txt") == "alice-desktop, epoch 1\n"


def test_two_owner_devices_that_remove_two_members_at_once_start_one_more_epoch(tmp_path: Path) -> None:
    """alice-laptop removes bob while alice-desktop removes carol, neither seeing the other: each sealed its
    epoch-1 key to the member the other removed. Both keys are kept (they sealed data), so new data must not
    be sealed with either: the owner's next push starts epoch 2, sealed to nobody removed."""
    from tests.integration.test_sharing import _share_dir

    world, a, a2, bob, carol, sid, before = _owner_with_two_devices_and_two_members(tmp_path)
    a.fog("share", "remove-member", "bob")
    hidden, moved = tmp_path / "hidden", []
    for p in sorted({p for p in world.remote.rglob("*") if p.is_file()} - before):
        rel = p.relative_to(world.remote)
        (hidden / rel).parent.mkdir(parents=True, exist_ok=True)
        p.rename(hidden / rel)
        moved.append(rel)
    a2.fog("share", "remove-member", "carol")
    for rel in moved:
        (world.remote / rel).parent.mkdir(parents=True, exist_ok=True)
        (hidden / rel).rename(world.remote / rel)
    ids = {d.name: Identity.load(d.home).user_id for d in (bob, carol)}
    keys_dir = _share_dir(a) / "keys"
    assert {p.name.split(".")[0] for p in keys_dir.iterdir()} == set(ids.values())  # each removed one got a key
    for _ in range(2):
        for d in (a, a2):
            d.fog("sync")
    for d in (a, a2):
        cfg = Identity.load(d.home).cached_config()
        assert cfg is not None
        assert K.ShareKeys.from_json(sid, cfg.shares[sid]).epoch == 2
        members = {m["name"]: m["role"] for m in d.fog("share", "members", "--json").json()}
        assert members["bob"] == members["carol"] == "removed"
    assert not [p for p in keys_dir.iterdir() if p.name.split(".")[1] == "2"]  # nobody left to seal it to
    a.write("secret.txt", "after both removals\n")
    batch = a.push()
    assert batch is not None and int.from_bytes(batch.read_bytes()[1:5], "big") == 2
    a2.fog("sync")
    assert a2.read("secret.txt") == "after both removals\n"
