"""check: verify what a remote holds against what history references."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import lmdb

from fog import cancel
from fog.crypto.keys import config_keys
from fog.errors import FogError, IntegrityError, ObjectNotFound, RemoteError, UsageError
from fog.format.pack import PackIndex
from fog.format.syncconfig import SyncConfig
from fog.format.version import Version
from fog.repo.db import RepoDB
from fog.store import ShareStore
from fog.sync import keyring, members, prune
from fog.sync.context import Context, config_seen_key
from fog.sync.logs import (
    LogOwner,
    VerifiedBatch,
    accepted_limit,
    accepted_pin,
    foreign_text,
    logs_by_name,
    read_before_text,
    read_log,
    revoked_text,
)
from fog.sync.stats import usage


@dataclass
class CheckResult:
    remote: str
    read_data: bool
    versions: int = 0
    batches: int = 0
    objects_referenced: int = 0
    objects_on_remote: int = 0
    objects_read: int = 0
    packs_read: int = 0
    packs_total: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # anomalies that put nothing at risk
    unreferenced_packs: int = 0  # packs holding no object history names (interrupted pushes): prune's
    unreferenced_objects: int = 0  # objects history does not name (those packs' and any other)
    unreferenced_bytes: int = 0  # their bytes, and the headers of those packs (fog.sync.stats.usage)
    repaired: int = 0  # objects put back (check --repair)
    repaired_from: dict[str, int] = field(default_factory=dict)  # source -> objects
    unrepaired: list[str] = field(default_factory=list)  # objects no source could give, with a path
    damaged: set[bytes] = field(default_factory=set, repr=False)  # missing or failing objects (to repair)
    paths: dict[bytes, str] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems


Subset = Callable[[bytes], bool]  # which packs --read-data-subset reads


def parse_subset(spec: str | None) -> Subset | None:
    """`P%` (a random P percent of the packs) or `n/t` (the n-th of t slices, by pack id:
    t runs with n = 1..t read every pack once); None reads every pack."""
    if spec is None:
        return None
    text = spec.strip()
    try:
        if text.endswith("%"):
            share = float(text[:-1])
            if not 0 < share <= 100:
                raise ValueError
            rnd = random.SystemRandom()
            return lambda _pack: rnd.random() * 100 < share
        n, t = (int(x) for x in text.split("/"))
        if not 1 <= n <= t:
            raise ValueError
        return lambda pack: int.from_bytes(pack[:4], "big") % t == n - 1
    except ValueError:
        raise UsageError(f"--read-data-subset {spec!r}: give P% (0 < P <= 100) or n/t (1 <= n <= t)") from None


def check(
    ctx: Context,
    *,
    read_data: bool = False,
    subset: Subset | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CheckResult:
    """List every problem a pull or a new clone of this remote would meet; never stops at the first.

    That is: the SyncConfig and the versions of it this device saw, every
    device log from batch 1 (also logs this device read that vanished), every
    pack header, and every object of every version any log or this device's
    history names."""
    result = CheckResult(ctx.remote_name, read_data or subset is not None)
    with ctx.share.db.read() as txn:  # every table, before any walk (a damaged leaf would abort inside LMDB)
        ctx.share.db.walkable(txn, *ctx.share.db.db)
    store = ctx.store
    config = _check_config(ctx, result)
    logged, forgotten = _check_logs(ctx, config, result)
    problems, notes = prune.verify_records(ctx, config)  # (a record the remote altered: never acknowledged)
    result.problems += problems
    result.notes += notes
    packs = _read_headers(ctx, result)  # before the walk: objects packed by other devices are found
    referenced = _referenced(ctx, result, logged, forgotten)
    loose = set(store.list_objects())
    on_remote = loose | {i for index in packs.values() if index is not None for i in index.ids()}
    result.objects_referenced = len(referenced)
    result.objects_on_remote = len(on_remote)
    missing = set(referenced) - on_remote
    # a manifest node the walk could not read is reported once, below, as missing
    gone = {f"object {oid.hex()[:16]} " for oid in missing}
    result.problems = [p for p in result.problems if not (p[:24] in gone and "is missing from" in p)]
    for object_id in sorted(missing):
        result.problems.append(f"object {object_id.hex()[:16]} of {referenced[object_id]} is missing from the remote")
    if missing:
        ctx.share.db.forget_present(ctx.remote_name, missing)  # so the next push uploads them again
    garbage = set() if missing else _garbage_packs(ctx, result, packs)
    result.damaged |= missing
    result.paths = referenced
    # what no version references (interrupted pushes; prune's), weighed as `fog stats` does; loose
    # objects are counted, not weighed (a listing has no sizes)
    unused = usage(packs, dict.fromkeys(loose, 0), referenced)
    result.unreferenced_packs = unused.unreferenced_packs
    result.unreferenced_objects = unused.unreferenced_objects
    result.unreferenced_bytes = unused.unreferenced_bytes
    if read_data or subset is not None:
        chosen = {p: i for p, i in packs.items() if subset is None or subset(p)}
        result.packs_total, result.packs_read = len(packs), len(chosen)
        chosen = {p: i for p, i in chosen.items() if p not in garbage}
        _read_data(ctx, result, referenced, loose if subset is None else set(), chosen, progress)
    return result


def _garbage_packs(ctx: Context, result: CheckResult, packs: dict[bytes, PackIndex | None]) -> set[bytes]:
    """Packs whose header does not open and whose bytes do not match their name, when nothing the history
    needs is missing: garbage (no key will ever open them), a note naming the file to delete, not a problem
    for ever (a repair put their objects back elsewhere). A header that fails with intact bytes (a key
    epoch this device does not hold yet?) stays a problem."""
    store = ctx.store
    garbage: set[bytes] = set()
    for pack_id in [p for p, index in packs.items() if index is None]:
        try:
            data = store.fetch_pack(pack_id)
        except (ObjectNotFound, RemoteError):
            continue
        if hashlib.sha256(data).digest() == pack_id:
            continue
        garbage.add(pack_id)
        short = pack_id.hex()[:16]
        result.problems = [p for p in result.problems if not p.startswith(f"pack {short}")]
        result.notes.append(
            f"pack {short}: its header does not open and its bytes do not match its name (corrupt); nothing "
            f"the history needs is missing: it is garbage, delete {store.pack_name(pack_id)} on the remote"
        )
    return garbage


def _read_headers(ctx: Context, result: CheckResult) -> dict[bytes, PackIndex | None]:
    """Every listed pack's header, read from the remote (None: unreadable, reported).

    Also headers of packs this device wrote and knows: other devices find
    objects only through them. What opens is learnt, as `scan_packs` would."""
    store = ctx.store
    placed: dict[bytes, str] = {}
    astray: dict[bytes, str] = {}
    for pack_id, name in store.list_pack_names():
        (placed if name == store.pack_name(pack_id) else astray)[pack_id] = name
    for pack_id, name in sorted(astray.items()):
        place = name[len(store.prefix) :].rsplit("/", 1)[0]
        what = f"pack {pack_id.hex()[:16]} is stored under {place}/, where readers never look (moved by the remote)"
        if pack_id in placed:
            result.notes.append(f"{what}; a copy is in its place")
        else:
            result.problems.append(what)
    packs: dict[bytes, PackIndex | None] = {}
    for pack_id in sorted(placed):
        cancel.check()
        index: PackIndex | None = None
        epoch = 0
        try:
            index, epoch = store.read_index_epoch(pack_id)
        except IntegrityError as exc:
            result.problems.append(str(exc))
        except ObjectNotFound:
            result.problems.append(
                f"pack {pack_id.hex()[:16]} is listed on {store.backend.url} but cannot be read (not a file there)"
            )
        except RemoteError as exc:
            result.problems.append(f"pack {pack_id.hex()[:16]} cannot be read: {exc}")
        if index is not None:
            store.catalog.add(index)
            # a prune intent's (section 14), or sealed before a key rotation (section 15): not to be relied on
            if pack_id in store.condemned or epoch < store.keys.epoch:
                packs[pack_id] = index
                continue
            for object_id in index.ids():
                if not store.presence.known(object_id):
                    store.presence.add(object_id)
        packs[pack_id] = index
    store.mark_scanned()  # a missing object must not make `get` read the failing headers again
    return packs


def _read_data(
    ctx: Context,
    result: CheckResult,
    referenced: dict[bytes, str],
    loose: set[bytes],
    packs: dict[bytes, PackIndex | None],
    progress: Callable[[int, int], None] | None,
) -> None:
    """Download and verify every pack (its name, then each object in it) and loose object.

    A bad copy of an object that has an intact copy on this remote too (a
    repair put one there) is a note, not a problem: nothing is at risk, and
    prune reclaims the bad pack."""
    store = ctx.store
    total = len(packs) + len(loose)
    bad: set[bytes] = set()
    done = 0
    for pack_id, index in sorted(packs.items()):
        cancel.check()
        try:
            data = store.fetch_pack(pack_id)
        except (ObjectNotFound, RemoteError) as exc:  # (UnreadableObject: not a regular file, or too large)
            if index is not None:  # (else its header could not be read either: reported)
                result.problems.append(f"pack {pack_id.hex()[:16]} cannot be read: {exc}")
            data = None
        if data is None:
            lost = [oid for oid in (index.ids() if index is not None else ()) if oid in referenced]
            lost = [oid for oid in lost if not _intact_elsewhere(store, oid, pack_id, loose)]
            bad.update(lost)
            done += 1
            if progress is not None:
                progress(done, total)
            continue
        failed: list[tuple[bytes, str]] = []
        for object_id, offset, length in index or ():
            try:
                store.decode(object_id, data[offset : offset + length], referenced.get(object_id, ""))
                result.objects_read += 1
            except IntegrityError as exc:
                failed.append((object_id, str(exc)))
        lost = [(oid, why) for oid, why in failed if not _intact_elsewhere(store, oid, pack_id, loose)]
        intact = hashlib.sha256(data).digest() == pack_id
        if intact and index is not None and store.catalog.index(pack_id) != index:
            store.catalog.replace(index)  # the catalog had learnt another pack's header under this name
        if not intact:
            what = f"pack {pack_id.hex()[:16]}: bytes do not match its name (altered or corrupt)"
            if lost or index is None:
                result.problems.append(what)
            else:
                result.notes.append(f"{what}; every object in it has an intact copy in another pack")
        for object_id, why in lost:
            result.problems.append(why)
            bad.add(object_id)
        done += 1
        if progress is not None:
            progress(done, total)
    for object_id in sorted(loose):
        cancel.check()
        try:
            store.decode(object_id, store.get_loose(object_id), referenced.get(object_id, ""))
            result.objects_read += 1
        except (IntegrityError, ObjectNotFound, RemoteError) as exc:
            result.problems.append(str(exc))
            bad.add(object_id)
        done += 1
        if progress is not None:
            progress(done, total)
    if bad:
        ctx.share.db.forget_present(ctx.remote_name, bad)
    result.damaged |= {oid for oid in bad if oid in referenced}


def _intact_elsewhere(store: ShareStore, object_id: bytes, bad_pack: bytes, loose: set[bytes]) -> bool:
    """Whether this remote holds another copy of the object that verifies (another pack, or loose)."""
    for pack_id, offset, length in store.catalog.locations(object_id):
        if pack_id == bad_pack:
            continue
        try:
            store.decode(object_id, store.backend.get_range(store.pack_name(pack_id), offset, length), "")
            return True
        except (IntegrityError, ObjectNotFound, RemoteError):
            continue
    if object_id in loose:
        try:
            store.decode(object_id, store.get_loose(object_id), "")
            return True
        except (IntegrityError, ObjectNotFound, RemoteError):
            pass
    return False


def _check_config(ctx: Context, result: CheckResult) -> SyncConfig | None:
    """Verify every SyncConfig version, and that none seen before is gone; the merged SyncConfig."""
    cached = ctx.ident.cached_config()
    try:
        config, names = keyring.load_config(ctx.remote, ctx.ident, base=cached)
    except (IntegrityError, ObjectNotFound) as exc:
        result.problems.append(f"fog settings: {exc}" if isinstance(exc, ObjectNotFound) else str(exc))
        return cached
    if not names:
        result.problems.append("no fog settings (devices and shares) for this user on the remote")
    seen = set(json.loads(ctx.share.db.get_meta(config_seen_key(ctx.remote_name)) or b"[]"))
    place = f"config/{config_keys(ctx.ident.master_key)[0]}/"
    seen = {n for n in seen if n.startswith(place)}  # a key rotation moved the SyncConfig: the old place is not read
    gone = seen - set(names) - set(config.supersedes if config is not None else ())
    if gone:
        result.problems.append(
            f"{len(gone)} fog settings version(s) seen before are gone from {ctx.remote.url}: "
            "the remote was rolled back"
        )
    return config


def _check_logs(ctx: Context, config: SyncConfig | None, result: CheckResult) -> tuple[list[Version], set[bytes]]:
    """Verify every device log from batch 1 against what pull requires; the versions of every verified batch.

    Logs this device read before are checked against its cursors (also a log
    that vanished whole); a suspect log's versions count up to its first bad batch."""
    if config is not None:
        roster = members.load(ctx, config)
        if roster is not None and roster.gone:
            result.problems.append(members.rolled_back_text(ctx, len(roster.gone)))
        config = members.view(ctx, config, roster)  # the other members' devices, if shared
    devices = dict(config.devices) if config is not None else {}
    by_log = logs_by_name(ctx.keys.share_id, devices)
    share_hex = ctx.keys.share_id.hex()
    secrets = ctx.user_secrets
    db = ctx.share.db
    remote_logs = ctx.store.list_logs()
    found: list[Version] = []
    forgotten: set[bytes] = set()
    for log in sorted(remote_logs.keys() | by_log.keys() | set(db.cursor_logs(ctx.remote_name))):
        cancel.check()
        seqs = remote_logs.get(log, [])
        seen, chain = db.cursor(ctx.remote_name, log)
        top = seqs[-1] if seqs else 0
        if log not in by_log:
            if seqs and seen:  # a device whose batches were read here: its history, never to delete
                result.notes.append(read_before_text(log, ctx.remote_name, seen))
            elif seqs:  # unverifiable, and pull sets it aside: a note, as for pull (not exit 4)
                result.notes.append(
                    f"log {log[:12]} on the remote belongs to no device in your fog settings: set aside, nothing in "
                    f"it applied (a damaged identity or a foreign writer; delete log/{log} on the remote once you "
                    "know which)"
                )
            elif seen:
                result.problems.append(f"log {log[:12]}, read up to batch {seen} before, vanished from the remote")
            continue
        did, dev = by_log[log]
        owner = LogOwner.of(did, dev)
        where = f"log of device {owner.name!r} on {ctx.remote.url}"
        if top < seen:
            result.problems.append(
                f"{where} ends at batch {top}, but batch {seen} was seen before: the remote was rolled back"
            )
        limit = accepted_limit(dev, share_hex, ctx.remote_name)
        bound = top if limit is None else max(limit, seen)  # as pull (collect) has it
        if top > bound:
            result.notes.append(revoked_text(owner.name, ctx.remote_name, bound, top, dev))
        held: list[VerifiedBatch] = []
        try:
            readable = [seq for seq in seqs if seq <= bound]
            pin = accepted_pin(dev, share_hex, ctx.remote_name)
            for vb in read_log(
                ctx.store, secrets, owner, log, (0, None), readable, notes=result.notes, held=held, pin=pin
            ):
                result.batches += 1
                if vb.seq == seen and vb.chain != chain:
                    raise IntegrityError(f"{where}: batch {seen} changed since it was read (history rewritten)")
                if not dev.get("trusted", True):
                    raise IntegrityError(f"device {owner.name!r} is not trusted; its batches are refused")
                for v in vb.batch.versions:
                    if v.device not in devices or ctx.version_id(v) != v.id:
                        raise IntegrityError(f"batch {vb.seq} of {owner.name!r} holds a forged version")
                if log == ctx.log and seen and vb.seq > seen:  # as a push or pull of this device refuses it
                    with db.read() as txn:
                        new = [v.path for v in vb.batch.versions if not _recorded(db, v.id, txn)]
                    if new:
                        raise IntegrityError(foreign_text(ctx.remote_name, vb.seq, new, ctx.url, ctx.share.root))
                found.extend(vb.batch.versions)
                forgotten.update(vb.batch.forgets)
        except IntegrityError as exc:
            result.problems.append(str(exc))
        if any(vb.seq == seen and vb.chain != chain for vb in held):
            result.problems.append(f"{where}: batch {seen} changed since it was read (history rewritten)")
        if held:
            result.notes.append(
                f"batches {held[0].seq} to {held[-1].seq} of the {where} are not signed, although that device signs "
                "its batches, and no signed batch follows them: not accepted (a holder of the user key sealed them, "
                "or the device's next push vouches for them)"
            )
    return found, forgotten


def _recorded(db: RepoDB, version_id: bytes, txn: lmdb.Transaction) -> bool:
    """Whether this database recorded the version (or forgot it since)."""
    return db.has_version(version_id, txn) or db.is_forgotten(version_id, txn)


def _referenced(ctx: Context, result: CheckResult, logged: list[Version], forgotten: set[bytes]) -> dict[bytes, str]:
    """Every object id history references (this device's, and every verified batch's), mapped to a path.

    Versions this device has queued for this remote and no log there names yet
    are not the remote's to hold: a remote that lags (it was down, or failed
    part-way) is behind, not damaged; the next push completes it (a note says so).
    """
    refs: dict[bytes, str] = {}
    counted: set[bytes] = set()
    queued = set(ctx.share.db.pending(ctx.remote_name)) - {v.id for v in logged}
    waiting = 0
    for v in itertools.chain(ctx.share.db.all_versions(), logged):
        if v.id in counted or v.id in forgotten:  # forgotten (section 14): its objects may be pruned
            continue
        counted.add(v.id)
        if v.id in queued:
            waiting += 1
            continue
        result.versions += 1
        if v.content is None:
            continue

        def visit(object_id: bytes, depth: int, path: str = v.path) -> bool:
            if object_id in refs:
                return False
            refs[object_id] = path
            return True

        try:
            ctx.store.walk(v.content, v.depth, v.path, visit)
        except IntegrityError as exc:
            result.problems.append(str(exc))
        except RemoteError as exc:
            raise FogError(f"check stopped: {exc}") from exc
    if waiting:
        result.notes.append(
            f"{waiting} version(s) of this device wait to be published on this remote (run `fog push`): "
            "their objects are not expected there yet"
        )
    return refs
