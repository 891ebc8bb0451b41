"""Key rotation: move the user to fresh secrets, and follow a rotation made elsewhere.

A rotation (`fog device revoke`, `fog key rotate`) makes a new master key, a
new user keypair and a new data-key epoch for every share, publishes the
SyncConfig at the new master key's place, and leaves a signed *rotation
record* at the old place holding the new master key sealed (NaCl Box) to
each remaining device's own key. A device that reads the old place opens its
stanza and moves on by itself; a revoked device finds none and is told so
(RevokedError, exit 6). docs/FORMAT.md, section 15.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fog.backends.base import open_backend, store_key
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import FogError, IntegrityError, KeysRotated, RemoteError, RevokedError, UsageError
from fog.format.syncconfig import SyncConfig
from fog.repo.identity import Identity
from fog.repo.share import Share
from fog.store import Remote

MAX_HOPS = 64  # rotations followed in one go (a device that slept through many)


def load_config(
    remote: Remote, ident: Identity, *, known: set[str] | frozenset[str] = frozenset(), base: SyncConfig | None = None
) -> tuple[SyncConfig | None, list[str]]:
    """`remote.load_config` under this device's master key, following every rotation sealed to it.

    After a followed rotation the cached copy (`base`) belongs to the old
    place and is dropped: the new place holds everything the rotating device
    knew. The identity (master key, user keypair) is updated on disk.
    """
    moved = False
    for _ in range(MAX_HOPS):
        try:
            found, names = remote.load_config(ident.master_key, known=known, base=base)
        except KeysRotated as exc:
            follow(ident, exc)
            known, base, moved = frozenset(), None, True
            continue
        if moved and found is not None:
            ident.adopt_user(found.user)
            ident.cache_config(found)
        return found, names
    raise IntegrityError(f"more than {MAX_HOPS} key rotations in a row on {remote.url}: refused")


def load_for_master_key(remote: Remote, master_key: bytes) -> tuple[SyncConfig | None, list[str]]:
    """`remote.load_config` for a device that holds only a master key (clone): a rotated key is refused."""
    try:
        return remote.load_config(master_key)
    except KeysRotated as exc:
        record = _choose(exc.records)
        raise RevokedError(
            f"this master key was replaced by a key rotation ({_who(record)}, {_when(record)}): it no longer "
            "joins; use the new master key ('fog key show --master' on a trusted device)"
        ) from None


def follow(ident: Identity, exc: KeysRotated) -> None:
    """Adopt the new master key sealed to this device in a rotation record; RevokedError if none is."""
    record = _choose(exc.records)
    stanza = record["stanzas"].get(ident.device_id)
    if stanza is None:
        if ident.device_id in record["revoked"]:
            raise RevokedError(
                f"this device ({ident.device_name}) was revoked by {_who(record)} on {_when(record)}: it can no "
                "longer read what is pushed or change the user's devices; its local files are untouched"
            )
        raise RevokedError(
            f"the master key of this device was replaced by a key rotation ({_who(record)}, {_when(record)}) "
            "that did not include it; its local files are untouched. To rejoin, clone with the new master key "
            "into a new FOG_HOME"
        )
    what = f"key rotation record {record['name'].rsplit('.', 1)[-1][:12]}"
    try:
        new_key = S.open_box(
            ident.device_secret, bytes.fromhex(record["by_entry"]["public"]), bytes.fromhex(stanza), what
        )
    except ValueError:
        raise IntegrityError(f"{what}: this device's stanza is malformed") from None
    if len(new_key) != K.MASTER_KEY_BYTES:
        raise IntegrityError(f"{what}: the sealed master key has the wrong length")
    ident.adopt_master_key(new_key)


def _choose(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The rotation to follow when a place holds several.

    A record whose author another record revoked is dropped (the thief's
    rotation, when the user revoked the thief too). When every record's
    author is revoked by another (two devices revoked each other at once)
    nothing can be chosen safely: refused. Otherwise the earliest wins, by
    (time, name), the same on every device.
    """
    revoked = {did for r in records for did in r["revoked"]}
    left = [r for r in records if r["by"] not in revoked]
    if not left:
        names = sorted(_who(r) for r in records)
        raise IntegrityError(
            f"devices {', '.join(names)} rotated the keys at once, each revoking the other: fog cannot tell which "
            "rotation is yours; clone with the master key you trust into a new FOG_HOME"
        )
    return min(left, key=lambda r: (r["time_ns"], r["name"]))


def _who(record: dict[str, Any]) -> str:
    entry = record.get("by_entry") or {}
    return repr(entry.get("name", record["by"][:8]))


def _when(record: dict[str, Any]) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(record["time_ns"] / 1e9))


# -- rotating --------------------------------------------------------------------


@dataclass
class RotationResult:
    epoch: int
    master_key: str | None  # the new master key's text form (None when written to a file)
    revoked: list[str]  # names of the devices revoked by this rotation
    following: list[str]  # names of the devices that follow it by themselves
    remotes: list[str]  # where the new SyncConfig and the rotation record were written
    failed: dict[str, str] = field(default_factory=dict)  # remote -> why it could not be written
    seconds: float = 0.0
    bytes_written: int = 0
    master_key_file: str | None = None


@dataclass
class _Signer:
    master_key: bytes
    device_id: str
    device_public: bytes
    sign_secret: bytes
    sign_public: bytes


def rotate(share: Share, ident: Identity, *, revoke: set[str]) -> RotationResult:
    """Rotate every secret of the user; the devices in `revoke` are left out (and revoked)."""
    from fog.sync import remotes as remotes_mod  # (remotes imports this module)

    started = time.monotonic()
    failed: dict[str, str] = {}
    config, read = remotes_mod.fresh_config(share, ident, failed)
    if not read:
        raise RemoteError("no remote of this share could be read: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    if ident.device_id in revoke:
        raise UsageError("a device cannot revoke itself; revoke it from another trusted device")
    already = set(config.revoked_by_rotation) | {did for did, d in config.devices.items() if d.get("revoked")}
    now = time.time_ns()
    targets = _targets(share, config)
    devices = dict(config.devices)
    for did in sorted(revoke):
        devices[did] = {
            **devices[did],
            "revoked": devices[did].get("revoked") or now,
            "revoked_logs": _log_tops(targets, config, devices[did]),
            "updated": max(now, int(devices[did].get("updated", 0)) + 1),
        }
    gone = already | revoke
    shares = {}
    for sid, entry in config.shares.items():
        if not entry.get("removed") and not entry.get("owner"):  # (another user's share: its owner rotates it)
            entry = {**entry, **K.ShareKeys.from_json(sid, entry).rotated().to_json()}
            entry["updated"] = max(now, int(entry.get("updated", 0)) + 1)
        shares[sid] = entry
    usk, upk = S.new_keypair()
    new_key = K.new_master_key()
    old_locator = K.config_keys(ident.master_key)[0]
    epoch = config.epoch + 1
    rotation = {"epoch": epoch, "from": old_locator, "by": ident.device_id, "time_ns": now, "revoked": sorted(gone)}
    new = SyncConfig(
        {"public": upk.hex(), "secret": usk.hex()},
        devices,
        shares,
        (),
        (*config.user_old, config.user),
        rotation,
    )
    followers = {
        did: e
        for did, e in devices.items()
        if did not in gone and did != ident.device_id and e.get("trusted", True) is True and e.get("public")
    }
    stanzas = {
        did: S.seal_box(ident.device_secret, bytes.fromhex(e["public"]), new_key).hex() for did, e in followers.items()
    }
    record = {
        "format": 1,
        "by": ident.device_id,
        "time_ns": now,
        "epoch": epoch,
        "revoked": sorted(gone),
        "stanzas": stanzas,
    }
    signer_new = _Signer(new_key, ident.device_id, ident.device_public, ident.sign_secret, ident.sign_public)
    written = 0
    landed: list[tuple[str, Remote]] = []
    try:
        for name, url in targets:  # the new place everywhere first: a record must never point at nothing
            try:
                remote = Remote(open_backend(url))
                remote.require_marker()
                written += len(new.to_bytes()) + 200
                remote.put_config(signer_new, new)
                landed.append((name, remote))
            except RemoteError as exc:
                failed[name] = str(exc)
        if not landed:
            raise RemoteError("the rotation could not be written to any remote: " + "; ".join(failed.values()))
        for _name, remote in landed:
            remote.put_rotation(ident, record)
            written += 300 + 90 * len(stanzas)
    finally:
        for _, remote in landed:
            remote.backend.close()
    ident.adopt_master_key(new_key)
    ident.adopt_user(new.user)
    ident.cache_config(new)
    return RotationResult(
        epoch,
        K.master_key_to_text(new_key),
        sorted(devices[d].get("name", d[:8]) for d in revoke),
        sorted(e.get("name", d[:8]) for d, e in followers.items()),
        [n for n, _ in landed],
        {k: v for k, v in failed.items() if k not in {n for n, _ in landed}},
        time.monotonic() - started,
        written,
    )


def _targets(share: Share, config: SyncConfig) -> list[tuple[str, str]]:
    """(name, URL) of every remote of every share of the user, and of this share: where the SyncConfig lives."""
    out: dict[str, tuple[str, str]] = {}
    for name, url in sorted(share.config.remotes.items()):
        out.setdefault(store_key(url), (name, url))
    for entry in config.shares.values():
        if entry.get("removed"):
            continue
        for name, r in sorted((entry.get("remotes") or {}).items()):
            if not r.get("removed") and isinstance(r.get("url"), str):
                out.setdefault(store_key(r["url"]), (name, r["url"]))
    return list(out.values())


def _log_tops(targets: list[tuple[str, str]], config: SyncConfig, dev: dict[str, Any]) -> dict[str, dict[str, int]]:
    """share id -> remote name -> the revoked device's last batch there: what is accepted from it."""
    out: dict[str, dict[str, int]] = {}
    public = bytes.fromhex(dev["public"])
    for sid, entry in config.shares.items():
        if entry.get("removed"):
            continue
        log = K.device_log_name(bytes.fromhex(sid), public)
        urls = {store_key(u): n for n, u in targets}
        for name, r in (entry.get("remotes") or {}).items():
            if r.get("removed") or store_key(r.get("url", "")) not in urls:
                continue
            try:
                backend = open_backend(r["url"])
            except (RemoteError, FogError):
                continue
            try:
                leaves = (n.rsplit("/", 1)[-1] for n in backend.list(f"shares/{sid}/log/{log}/"))
                seqs = [int(leaf) for leaf in leaves if leaf.isdigit()]
                out.setdefault(sid, {})[name] = max(seqs, default=0)
            except (RemoteError, ValueError):
                pass
            finally:
                backend.close()
    return out
