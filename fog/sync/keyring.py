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

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from fog.backends.base import store_key
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.crypto.keys import config_keys
from fog.errors import (
    FogError,
    IdentityError,
    IntegrityError,
    KeysRotated,
    Refused,
    RemoteError,
    RevokedError,
    UsageError,
    none_left,
)
from fog.format.batch import chain_hash
from fog.format.syncconfig import SyncConfig
from fog.repo.identity import Identity
from fog.repo.share import Share
from fog.store import Remote, ShareStore, listing_signer
from fog.sync import nodes

if TYPE_CHECKING:
    from fog.sync.context import Context

MAX_HOPS = 64  # rotations followed in one go (a device that slept through many)


def load_config(
    remote: Remote,
    ident: Identity,
    *,
    known: set[str] | frozenset[str] = frozenset(),
    base: SyncConfig | None = None,
    news: list[SyncConfig] | None = None,
) -> tuple[SyncConfig | None, list[str]]:
    """`remote.load_config` under this device's master key, following every rotation sealed to it.

    A rotation record is believed only if its author is a trusted device in
    this device's cached SyncConfig (what it knew before reading the old
    place, which a revoked device can still write to). After a followed
    rotation the cached copy (`base`) belongs to the old place and is dropped:
    the new place holds everything the rotating device knew, and must say it
    was made by that very rotation. Only then are the new master key and user
    keypair taken into FOG_HOME. `news`: see `Remote.load_config`.
    """
    try:
        return remote.load_config(ident.master_key, known=known, base=base, news=news)
    except KeysRotated as exc:
        first = exc
    cached = ident.cached_config()
    if cached is None:
        raise RevokedError(
            "the keys of this user were rotated, and this device holds no fog settings to check the rotation "
            "against: take the new master key with `fog key adopt --master-key-file F`"
        )
    trusted = {
        did: d
        for did, d in cached.devices.items()
        if not d.get("revoked") and did not in cached.revoked_by_rotation and d.get("trusted", True) is True
    }
    master_key, exc = ident.master_key, first
    for _ in range(MAX_HOPS):
        record = _choose(remote, exc.records, trusted)
        if ident.device_id in record["revoked"]:
            raise RevokedError(
                f"this device ({ident.device_name}) was revoked by {_who(record)} on {_when(record)}: it can no "
                "longer read what is pushed or change the user's devices; its local files are untouched"
            )
        stanza = record["stanzas"].get(ident.device_id)
        if stanza is None:
            raise RevokedError(
                f"the master key of this device was replaced by a key rotation ({_who(record)}, {_when(record)}) "
                "that did not include it; its local files are untouched. To rejoin, clone with the new master key "
                "into a new FOG_HOME"
            )
        master_key = _open_stanza(ident, record, stanza)
        for did in record["revoked"]:
            trusted.pop(did, None)
        try:
            found, names = remote.load_config(master_key, news=news)
        except KeysRotated as again:  # several rotations while this device slept
            exc = again
            continue
        rotation = found.rotation if found is not None else None
        expected = {k: record[k] for k in ("by", "epoch", "time_ns")}
        if (
            rotation is None
            or {k: rotation.get(k) for k in expected} != expected
            or sorted(rotation.get("revoked", [])) != sorted(record["revoked"])
        ):
            raise IntegrityError(
                f"the fog settings a key rotation ({_who(record)}, {_when(record)}) moved to is missing or does not "
                f"match it on {remote.url}: the store withholds it; nothing was changed here"
            )
        assert found is not None
        ident.move_to(master_key, found)
        return found, names
    raise IntegrityError(f"more than {MAX_HOPS} key rotations in a row on {remote.url}: refused")


def check_left_place(ctx: Context, config: SyncConfig) -> None:
    """Refuse (exit 4) when another key rotation stands beside the one that made this device's place.

    A rotating device (and a follower that took the rotation before the other appeared) reads only the
    new place from then on: two rotations made at once (or one a store withheld for a while) would leave
    two halves of the user's devices pushing under different keys for ever, each refusing the other's
    batches as corrupt. So the place the rotation left is listed again (one LIST at each pull and push);
    its records are checked, as a follower checks them, only when that listing changed. Needs the old
    master key (`master-key.old`): a device that joined after the rotation has nothing to check it with.
    """
    from fog.sync.context import rotation_checked_key  # (context imports this module)

    old = config.rotation.get("from") if config.rotation else None
    if not isinstance(old, str) or ctx.ident.chosen_place() == K.config_keys(ctx.ident.master_key)[0]:
        return  # (no rotation made this place, or the user chose it with `fog key adopt`)
    names = ctx.remote.rotation_records_at(old)
    if len(names) < 2:
        return  # (its own record alone, or none shown here)
    key = rotation_checked_key(ctx.remote_name)
    listing = json.dumps(names).encode()
    if ctx.share.db.get_meta(key) == listing:
        return
    old_key = ctx.ident.old_master_key()
    if old_key is None or K.config_keys(old_key)[0] != old:
        return
    records = ctx.remote.open_rotations(old_key, names)
    trusted = {
        did: d
        for did, d in config.devices.items()
        if not d.get("revoked") and did not in config.revoked_by_rotation and d.get("trusted", True) is True
    }
    if len([r for r in records if r["by"] in trusted]) > 1:  # (a revoked device's record never counts)
        chosen = _choose(ctx.remote, records, trusted)  # (refuses two that stand side by side)
        rotation = config.rotation or {}
        if any(chosen.get(k) != rotation.get(k) for k in ("by", "epoch", "time_ns")):
            mine = _who({"by": str(rotation.get("by")), "by_entry": config.devices.get(str(rotation.get("by")))})
            raise IntegrityError(
                f"devices {_who(chosen)}, {mine} rotated the keys at once, and the rotation of {_who(chosen)} revoked "
                "the one this device took: fog cannot tell which rotation is yours; take the master key you trust "
                "with `fog key adopt --master-key-file F`"
            )
    ctx.share.db.put_meta(key, listing)


def ensure_not_rotated(remote: Remote, ident: Identity) -> None:
    """Refuse to publish when a key rotation appeared at this device's place since the push began.

    What the push uploaded is sealed with the epoch it started in; publishing
    it would point every device at data the revoked device can read. One LIST.
    """
    if remote.rotation_records(ident.master_key):
        raise FogError("the keys were rotated while this push ran: nothing was published; run it again")


def adopt(remote: Remote, ident: Identity, master_key: bytes) -> SyncConfig:
    """Take a master key the user gives (after a rotation this device could not follow by itself).

    The SyncConfig at that key's place must list this device, not revoked.
    """
    try:
        found, _ = remote.load_config(master_key)
    except KeysRotated:
        raise UsageError("that master key was itself replaced by a later key rotation: give the newest one") from None
    if found is None:
        raise IdentityError(f"no fog settings (devices and shares) for that master key on {remote.url}")
    entry = found.devices.get(ident.device_id)
    if entry is None or entry.get("revoked") or ident.device_id in found.revoked_by_rotation:
        raise RevokedError(
            f"the fog settings of that master key do not list this device ({ident.device_name}), or revoked it"
        )
    try:
        cached = ident.cached_config()
    except IdentityError:
        cached = None  # (lost or unreadable: what this command is for)
    kept = keep_epoch_keys(found, cached) if cached is not None and cached.user != found.user else found
    ident.move_to(master_key, kept)
    ident.chose_place(K.config_keys(master_key)[0])
    if kept != found:  # the other devices need those keys to read what this one sealed with them
        try:
            remote.put_config(ident, listing_signer(kept, ident))
        except RemoteError:
            pass  # (the next pull or push that can write puts it: the remote lacks part of the cached copy)
    return kept


def keep_epoch_keys(config: SyncConfig, left: SyncConfig) -> SyncConfig:
    """`config` with every data key of `left` (the place a device leaves for the one the user chose) that it
    lacks, as another key of its epoch (`epochs_alt`): what was sealed with them stays readable. They only
    ever open; new data is sealed with `config`'s own keys (a device one rotation revoked may hold the
    other's keys)."""
    shares = dict(config.shares)
    for sid, entry in left.shares.items():
        if sid not in shares or entry.get("removed"):
            continue
        try:
            theirs = K.ShareKeys.from_json(sid, entry)
            ours = K.ShareKeys.from_json(sid, shares[sid])
        except (KeyError, ValueError):
            continue
        known = set(ours.epoch_keys)
        extra = [(e, k) for e, k in theirs.epoch_keys if e >= 1 and (e, k) not in known]
        if extra:
            alternates = K.alternates_json([*ours.alternates, *extra])
            shares[sid] = {**shares[sid], "epochs_alt": alternates}
    return config.with_(shares=shares) if shares != config.shares else config


def refresh_config(ctx: Context, *, spread: bool = False) -> SyncConfig:
    """Merge the remote's SyncConfig into this device's cached copy.

    With `spread` (a pull, a push), a remote whose SyncConfig lacks something
    this copy holds (a change made while the remote was down, a device learnt
    from another remote) gets the merged copy as a new version: a change made
    on any device reaches every remote that one of its devices reaches, and
    every device that reads only that remote. What the remote is known to hold
    is kept in the share database (`config_held_key`), so a remote that holds
    everything is neither read whole nor written again.
    """
    from fog.sync.context import config_held_key, config_seen_key  # (context imports this module)
    from fog.sync.logs import rollback_advice

    cached, merged = ctx.ident.cached_state()
    if cached is None:
        merged = set()
    held_key = config_held_key(ctx.remote_name)
    held = ctx.share.db.get_meta(held_key)
    before = fingerprint(ctx.ident, cached) if cached is not None else None
    # versions the cached copy already holds are not fetched again: on a remote with
    # a version per device ever joined, that was a GET each at every pull. While nothing
    # is known of what this remote holds, every version is read (once): what it lacks shows.
    news: list[SyncConfig] = []
    known = merged if held is not None else frozenset()
    found, names = load_config(ctx.remote, ctx.ident, known=known, base=cached, news=news)
    key = config_seen_key(ctx.remote_name)
    seen = set(json.loads(ctx.share.db.get_meta(key) or b"[]"))
    place = f"config/{config_keys(ctx.ident.master_key)[0]}/"
    if cached is not None and found is not None and found.user != cached.user:
        cached, merged = None, set()  # a key rotation was followed: the cache held the old place
    seen_here = {n for n in seen if n.startswith(place)}  # after a rotation, the old place's names are not here
    gone = seen_here - set(names) - set(found.supersedes if found else ())
    # added again by a device (a new instance): accepted as it is now, read afresh; also by a push, which
    # reconciles nothing (this device's own log there may be what was rolled back)
    if (found or cached) is not None and renew_if_readded(ctx.share, found or cached, ctx.remote_name):
        return refresh_config(ctx, spread=spread)
    if gone:
        raise IntegrityError(
            f"{len(gone)} fog settings version(s) seen before are gone from {ctx.remote.url}: "
            "the remote was rolled back (restored from an older copy?); "
            + rollback_advice(ctx.remote_name, node=nodes.is_node_url(ctx.url))
        )
    config = found if found is not None else cached  # found holds cached merged in
    if config is None:
        raise FogError("no fog settings (devices and shares) known for this user; re-run 'fog clone'")
    check_left_place(ctx, config)
    there = _merge_all(news)  # the remote holds at least this (all of it, when it was read whole)
    now_held: str | None = None
    if (cached is not None and held is not None and held.decode() == before) or _covers(there, config):
        # it held the cached copy, and what it added is in `config`
        now_held = before if config == cached else fingerprint(ctx.ident, config)
    elif spread and may_publish(ctx.ident, config):
        mine = listing_signer(config, ctx.ident)
        try:
            names.append(ctx.remote.put_config(ctx.ident, mine))
            config, now_held = mine, fingerprint(ctx.ident, mine)
        except RemoteError:
            pass  # (a read-only remote, or one failing now) the next pull or push that can write tries again
    if now_held is None and held is None and there is not None:
        now_held = fingerprint(ctx.ident, there)  # read whole: exactly what it holds
    if config != cached or not merged >= set(names):
        ctx.ident.cache_config(config, merged | set(names))
    if set(names) - seen:
        ctx.share.db.put_meta(key, json.dumps(sorted(seen_here | set(names))).encode())
    if now_held is not None and now_held.encode() != held:
        ctx.share.db.put_meta(held_key, now_held.encode())
    ctx.rekey(config)
    return config


def ensure_held(ctx: Context) -> bool:
    """Before a batch is published on the remote: its SyncConfig holds everything this device's cached copy
    holds (every device whose versions the batch relays there among it), else the copy is put there first.
    Costs a meta read when the share database knows the remote holds it already; True if a version was put.

    A key rotation found here is not followed (what the push sealed belongs to the old epoch): refused."""
    from fog.sync.context import config_held_key

    cached, merged = ctx.ident.cached_state()
    if cached is None:
        return False
    held_key = config_held_key(ctx.remote_name)
    held = ctx.share.db.get_meta(held_key)
    now = fingerprint(ctx.ident, cached)
    if held is not None and held.decode() == now:
        return False
    news: list[SyncConfig] = []
    try:
        ctx.remote.load_config(
            ctx.ident.master_key, known=merged if held is not None else frozenset(), base=cached, news=news
        )
    except KeysRotated:
        raise FogError("the keys were rotated while this push ran: nothing was published; run it again") from None
    put = False
    if not _covers(_merge_all(news), cached):
        if not may_publish(ctx.ident, cached):
            return False  # (not a trusted device of the user: its batches are refused anyway)
        mine = listing_signer(cached, ctx.ident)
        ctx.remote.put_config(ctx.ident, mine)  # a failure fails the batch on this remote: it stays queued
        if mine != cached:
            ctx.ident.cache_config(mine, merged)
            now = fingerprint(ctx.ident, mine)
        put = True
    ctx.share.db.put_meta(held_key, now.encode())
    return put


def record_held(share: Share, ident: Identity, remote_names: list[str], config: SyncConfig) -> None:
    """The remotes named (of this share) now hold `config`: a version holding it was put there."""
    from fog.sync.context import config_held_key

    now = fingerprint(ident, config).encode()
    for name in remote_names:
        if name in share.config.remotes:
            share.db.put_meta(config_held_key(name), now)


def fingerprint(ident: Identity, config: SyncConfig) -> str:
    """The keyed digest of a SyncConfig copy's content (fog.crypto.keys.config_fingerprint)."""
    body = json.dumps(config.to_json(), sort_keys=True, separators=(",", ":")).encode()
    return K.config_fingerprint(ident.master_key, body)


def may_publish(ident: Identity, config: SyncConfig) -> bool:
    """This device may sign a version of `config`: it lists it, trusted and not revoked."""
    entry = config.devices.get(ident.device_id)
    return (
        entry is not None
        and not entry.get("revoked")
        and ident.device_id not in config.revoked_by_rotation
        and entry.get("trusted", True) is True
    )


def _merge_all(versions: list[SyncConfig]) -> SyncConfig | None:
    """The merge of some versions of one place (normalised: merged with itself when alone)."""
    out: SyncConfig | None = None
    for v in versions:
        out = v.merge(v) if out is None else out.merge(v)
    return out


def _covers(there: SyncConfig | None, config: SyncConfig) -> bool:
    """`there` holds everything of `config`: merging `config` in changes nothing."""
    if there is None:
        return False
    try:
        return there.merge(config) == there
    except ValueError:  # (another place: a key rotation)
        return False


def load_for_master_key(remote: Remote, master_key: bytes) -> tuple[SyncConfig | None, list[str]]:
    """`remote.load_config` for a device that holds only a master key (clone): a rotated key is refused."""
    try:
        return remote.load_config(master_key)
    except KeysRotated as exc:
        when = _when(min(exc.records, key=lambda r: r["time_ns"]))
        raise RevokedError(
            f"this master key was replaced by a key rotation ({when}): it no longer joins; use the new master "
            "key ('fog key show --master' on a trusted device)"
        ) from None


def _open_stanza(ident: Identity, record: dict[str, Any], stanza: str) -> bytes:
    what = f"key rotation record {record['name'].rsplit('.', 1)[-1][:12]}"
    try:
        sealed = bytes.fromhex(stanza)
    except ValueError:
        raise IntegrityError(f"{what}: this device's stanza is malformed") from None
    new_key = S.open_box(ident.device_secret, bytes.fromhex(record["by_entry"]["public"]), sealed, what)
    if len(new_key) != K.MASTER_KEY_BYTES:
        raise IntegrityError(f"{what}: the sealed master key has the wrong length")
    return new_key


def _choose(remote: Remote, records: list[dict[str, Any]], trusted: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The one rotation to follow among the records at a place.

    Only records signed by a device this device trusted before count (a
    record by anyone else is ignored). A record whose author another counted
    record revoked is dropped (a revoked device answering its revocation).
    Exactly one must remain: two rotations that revoke each other, or two
    made at once, cannot be told apart safely, and the user chooses with
    `fog key adopt` (the master key they trust).
    """
    counted = []
    for r in records:
        entry = trusted.get(r["by"])
        if entry is None:
            continue
        try:
            remote.verify_rotation(r, entry)
        except IntegrityError:
            continue
        counted.append({**r, "by_entry": entry})
    if not counted:
        raise IntegrityError(
            f"{len(records)} key rotation record(s) on {remote.url}, none signed by a device this device trusts: "
            "refused; if you rotated the keys, take the new master key with `fog key adopt --master-key-file F`"
        )
    revoked = {did for r in counted for did in r["revoked"]}
    left = [r for r in counted if r["by"] not in revoked]
    if len(left) != 1:
        names = ", ".join(sorted(_who(r) for r in counted))
        raise IntegrityError(
            f"devices {names} rotated the keys at once{', each revoking the other' if not left else ''}: fog "
            "cannot tell which rotation is yours; take the master key you trust with `fog key adopt "
            "--master-key-file F`"
        )
    return left[0]


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
    shared_by_others: list[str] = field(default_factory=list)  # "SHARE (owner NAME)": each needs a new invitation
    nodes_failed: dict[str, str] = field(default_factory=dict)  # node -> why its device list is not updated
    key_file_error: str | None = None  # why --master-key-file could not be written (the key is shown instead)


def rotate(share: Share, ident: Identity, *, revoke: set[str]) -> RotationResult:
    """Rotate every secret of the user; the devices in `revoke` are left out (and revoked)."""
    from fog.sync import remotes as remotes_mod  # (remotes imports this module)

    started = time.monotonic()
    failed: dict[str, str] = {}
    config, read = remotes_mod.fresh_config(share, ident, failed, refused_ok=True)  # (a refused one is left out)
    if not read:
        if any(isinstance(why, Refused) for why in failed.values()):
            raise none_left(failed)
        raise RemoteError("no remote of this share could be read: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    if ident.device_id in revoke:
        raise UsageError("a device cannot revoke itself; revoke it from another trusted device")
    already = set(config.revoked_by_rotation) | {did for did, d in config.devices.items() if d.get("revoked")}
    now = time.time_ns()
    targets = all_targets(share, config)
    devices = dict(config.devices)
    for did in sorted(revoke):
        tops, pins = _log_tops(share, ident, targets, config, devices[did])
        devices[did] = {
            **devices[did],
            "revoked": devices[did].get("revoked") or now,
            "revoked_logs": tops,
            "revoked_chains": pins,
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
    # this device too: if it stops between writing the records and taking the key, it follows its own record
    sealed_to = {**followers, ident.device_id: {"public": ident.device_public.hex()}}
    stanzas = {
        did: S.seal_box(ident.device_secret, bytes.fromhex(e["public"]), new_key).hex() for did, e in sealed_to.items()
    }
    record = {
        "format": 1,
        "by": ident.device_id,
        "time_ns": now,
        "epoch": epoch,
        "revoked": sorted(gone),
        "stanzas": stanzas,
    }
    signer_new = replace(ident, master_key=new_key)  # (this device, signing at the new place)
    written = 0
    landed: list[tuple[str, Remote]] = []
    try:
        for name, url in targets:  # the new place everywhere first: a record must never point at nothing
            if isinstance(failed.get(name), Refused):
                continue  # (its data was refused: not used by this command)
            try:
                remote = Remote(nodes.open_remote(url, ident, config=config))
                remote.require_marker()
                written += len(new.to_bytes()) + 200
                remote.put_config(signer_new, new)
                landed.append((name, remote))
            except RemoteError as exc:
                failed[name] = str(exc)
        if not landed:
            raise RemoteError("the rotation could not be written to any remote: " + "; ".join(failed.values()))
        recorded: list[str] = []
        mine: dict[str, tuple[Remote, str]] = {}
        for name, remote in landed:
            try:
                mine[name] = (remote, remote.put_rotation(ident, record))
                recorded.append(name)
                written += 300 + 90 * len(stanzas)
            except RemoteError as exc:
                failed[name] = str(exc)
        if not recorded:  # nobody can follow: the rotation did not happen (the new place is an orphan)
            raise RemoteError("the rotation record could not be written to any remote: " + "; ".join(failed.values()))
        first, own = mine[recorded[0]]
        others = [n for n in first.rotation_records(ident.master_key) if n != own]
        if others:
            failed["concurrent rotation"] = (
                f"{len(others)} other key rotation(s) at the same place: devices will refuse to choose; run "
                "`fog key adopt --master-key-file F` on each with the master key you keep"
            )
    finally:
        for _, remote in landed:
            remote.backend.close()
    _retire_user_key(ident, config, new)  # (before the identity forgets the old user key)
    ident.move_to(new_key, new)
    return RotationResult(
        epoch,
        K.master_key_to_text(new_key),
        sorted(devices[d].get("name", d[:8]) for d in revoke),
        sorted(e.get("name", d[:8]) for d, e in followers.items()),
        recorded,
        {k: v for k, v in failed.items() if k not in recorded},
        time.monotonic() - started,
        written,
    )


def _retire_user_key(ident: Identity, old: SyncConfig, new: SyncConfig) -> None:
    """In every shared share, a last statement signed by the old user key: it is retired, and these are its
    devices (the revoked ones revoked). The other users then take nothing new from that key (a revoked
    device holds it too) and seal nothing more to it; they invite this user's new key again."""
    from fog.format import roster as R
    from fog.sync import members as members_mod

    now = time.time_ns()
    user = {"box": ident.user_public.hex(), "sign": ident.user_sign_public.hex(), "name": members_mod.user_name()}
    for sid, entry in old.shares.items():
        if entry.get("removed"):
            continue
        keys = K.ShareKeys.from_json(sid, entry)
        doc: dict[str, Any] = {
            "format": 1,
            "share": sid,
            "user": user,
            "time_ns": now,
            "retired": True,
            "devices": members_mod.my_devices(new),
        }
        if not entry.get("owner"):
            doc["members"] = entry.get("members") or {}
        for name, backend in _share_backends(ident, old, sid):
            store = Remote(backend).share(keys)
            try:
                if not members_mod.is_shared(store):
                    continue  # not shared on that remote
                doc["devices"] = _with_tops(doc["devices"], store, name)
                members_mod.put_statement(store, R.seal_statement(ident.user_sign_secret, keys, doc))
            except RemoteError:
                pass


def _with_tops(devices: dict[str, Any], store: ShareStore, remote: str) -> dict[str, Any]:
    """Each device with the last batch of its log on this remote as its limit there (a retiring statement:
    what the other users take from a retired key's devices; a revoked one keeps the lower limit it has)."""
    logs, sid = store.list_logs(), store.keys.share_id
    out = {}
    for did, d in devices.items():
        log = K.device_log_name(sid, bytes.fromhex(d["public"]))
        top = max(logs.get(log, [0]))
        limits = dict((d.get("revoked_logs") or {}).get(sid.hex(), {}))
        pins = dict((d.get("revoked_chains") or {}).get(sid.hex(), {}))
        if top < limits.get(remote, top + 1):  # (a revoked one keeps the lower limit it has, and its pin)
            limits[remote] = top
            pins.pop(remote, None)
            if top:  # the batch as the remote holds it now: what the other users take from this key
                pins[remote] = {"seq": top, "chain": chain_hash(store.get_batch(log, top)).hex()}
        entry = {**d, "revoked_logs": {sid.hex(): limits}}
        entry.pop("revoked_chains", None)
        if pins:
            entry["revoked_chains"] = {sid.hex(): pins}
        out[did] = entry
    return out


def _share_backends(
    ident: Identity, config: SyncConfig, sid: str, only: set[str] | None = None
) -> Iterator[tuple[str, Any]]:
    """(remote name, open backend) for each reachable remote of a share (of those in `only`, by store key;
    the user's nodes included); each is closed when the caller moves on."""
    for name, r in nodes.share_remote_entries(config, sid).items():
        url = r.get("url")
        if r.get("removed") or not isinstance(url, str) or (only is not None and store_key(url) not in only):
            continue
        try:
            backend = nodes.open_remote(url, ident, config=config)
        except (RemoteError, FogError):
            continue
        try:
            yield name, backend
        finally:
            backend.close()


def all_targets(share: Share, config: SyncConfig) -> list[tuple[str, str]]:
    """(name, URL) of every remote of every share of the user, and of this share: where the SyncConfig lives."""
    out: dict[str, tuple[str, str]] = {}
    for name, url in sorted(share.config.remotes.items()):
        out.setdefault(store_key(url), (name, url))
    for sid, entry in config.shares.items():
        if entry.get("removed"):
            continue
        for name, r in sorted(nodes.share_remote_entries(config, sid).items()):
            if not r.get("removed") and isinstance(r.get("url"), str):
                out.setdefault(store_key(r["url"]), (name, r["url"]))
    return list(out.values())


def _log_tops(
    share: Share, ident: Identity, targets: list[tuple[str, str]], config: SyncConfig, dev: dict[str, Any]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, dict[str, Any]]]]:
    """What is accepted from a revoked device: share id -> remote name -> the last batch of its log there
    (`revoked_logs`), and the same with that batch's chain hash (`revoked_chains`, docs/FORMAT.md section 9):
    a reader then accepts only that very log, not one the device's thief rewrote since.

    The hash is this device's own cursor when it has read the log up to that batch (what it verified),
    else the hash of the batch as the remote holds it now.
    """
    tops: dict[str, dict[str, int]] = {}
    pins: dict[str, dict[str, dict[str, Any]]] = {}
    public = bytes.fromhex(dev["public"])
    for sid, entry in config.shares.items():
        if entry.get("removed"):
            continue
        log = K.device_log_name(bytes.fromhex(sid), public)
        urls = {store_key(u) for _, u in targets}
        for name, backend in _share_backends(ident, config, sid, urls):
            try:
                store = Remote(backend).share(K.ShareKeys.from_json(sid, entry))
                top = max(store.list_logs().get(log, [0]))
                chain = _chain_at(share, sid, name, log, top, store)
            except RemoteError:  # (unreachable: nothing of it is accepted there)
                continue
            tops.setdefault(sid, {})[name] = top
            if chain is not None:
                pins.setdefault(sid, {})[name] = {"seq": top, "chain": chain.hex()}
    return tops, pins


def _chain_at(share: Share, sid: str, remote: str, log: str, seq: int, store: ShareStore) -> bytes | None:
    """The chain hash of batch `seq` of a log (None for batch 0): this device's cursor's if it is there."""
    if seq <= 0:
        return None
    if sid == share.config.share_id:
        seen, chain = share.db.cursor(remote, log)
        if seen == seq and chain is not None:
            return chain
    return chain_hash(store.get_batch(log, seq))


def queue_all(share: Share, name: str) -> None:
    """Queue every version this device knows for remote `name` (a store new to it)."""
    ids = [v.id for v in sorted(share.db.all_versions(), key=lambda v: (v.time_ns, v.id))]
    with share.db.write() as txn:
        share.db.add_pending(txn, [name], ids)


def _instance(config: SyncConfig, share_id: str, name: str) -> str | None:
    """The instance id of a live remote entry ("" when its writer gave none); None: no such remote."""
    entry = nodes.share_remote_entries(config, share_id).get(name)
    if entry is None or entry.get("removed"):
        return None
    found = entry.get("instance")
    return found if isinstance(found, str) else ""


def readded(share: Share, config: SyncConfig, name: str) -> bool:
    """Whether the SyncConfig names another instance of remote `name` than the one this device's memory of
    it (cursors, SyncConfig versions seen, presence) was learnt from: a device removed it and added it
    again (docs/FORMAT.md section 10, `instance`)."""
    now = _instance(config, share.config.share_id, name)
    if now is None:
        return False
    held = share.db.get_meta(_instance_key(name))
    return held is not None and held.decode(errors="replace") != now


def renew_if_readded(share: Share, config: SyncConfig, name: str) -> bool:
    """Drop what this device remembers of remote `name` when another device added it again (`readded`): a
    store restored from an older copy is then accepted as it is now, on every device, not refused as
    rolled back at every run; the versions this device knows are queued for it, as for a new remote.
    The instance first seen is adopted as it is. Returns whether the memory was dropped."""
    now = _instance(config, share.config.share_id, name)
    if now is None:
        return False
    renewed = readded(share, config, name)
    if renewed:
        share.db.forget_remote(name)
        queue_all(share, name)
        reread_tree(share)
    if renewed or share.db.get_meta(_instance_key(name)) is None:
        share.db.put_meta(_instance_key(name), now.encode())
    return renewed


def reread_tree(share: Share) -> None:
    """Make the next push read every file of the tree again (its stat entries marked racy): a store
    restored from an older copy lacks the objects of what was pushed since, and the current versions'
    are put there again from the files (history no remote holds any more stays queued for it)."""
    entries = [(replace(e, racy=True), None) for e in share.db.stat_entries().values() if not e.racy]
    if entries:
        with share.db.write() as txn:
            share.db.put_stats(txn, entries)


def _instance_key(name: str) -> str:
    from fog.sync.context import remote_instance_key  # (context imports this module)

    return remote_instance_key(name)
