"""check: verify what a remote holds against what history references."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from fog import cancel
from fog.crypto.keys import device_log_name
from fog.errors import FogError, IntegrityError, ObjectNotFound, RemoteError, UnreadableObject, UsageError
from fog.format.pack import PackIndex
from fog.store import ShareStore
from fog.sync.context import Context
from fog.sync.logs import read_log


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
    unreferenced_bytes: int = 0
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
    """List every problem; never stops at the first."""
    result = CheckResult(ctx.remote_name, read_data or subset is not None)
    store = ctx.store
    _check_config(ctx, result)
    _check_logs(ctx, result)
    store.scan_packs()  # so objects packed by other devices are found (and counted present)
    referenced = _referenced(ctx, result)
    loose = set(store.list_objects())
    packs: dict[bytes, PackIndex | None] = {}
    for pack_id in store.list_packs():
        cancel.check()
        # Every header is read from the remote, also of packs this device wrote and
        # knows: other devices find objects through them.
        try:
            index: PackIndex | None = store.read_index(pack_id)
        except IntegrityError as exc:
            result.problems.append(str(exc))
            index = None
        packs[pack_id] = index
    on_remote = loose | {i for index in packs.values() if index is not None for i in index.ids()}
    result.objects_referenced = len(referenced)
    result.objects_on_remote = len(on_remote)
    missing = set(referenced) - on_remote
    for object_id in sorted(missing):
        result.problems.append(f"object {object_id.hex()[:16]} of {referenced[object_id]} is missing from the remote")
    if missing:
        ctx.share.db.forget_present(ctx.remote_name, missing)  # so the next push uploads them again
    result.damaged |= missing
    result.paths = referenced
    for index in packs.values():
        if index is not None and not any(oid in referenced for oid in index.ids()):
            result.unreferenced_packs += 1
            result.unreferenced_bytes += max((o + n for _, o, n in index), default=0)
    if read_data or subset is not None:
        chosen = {p: i for p, i in packs.items() if subset is None or subset(p)}
        result.packs_total, result.packs_read = len(packs), len(chosen)
        _read_data(ctx, result, referenced, loose if subset is None else set(), chosen, progress)
    return result


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
        except ObjectNotFound:
            data = b""
        except UnreadableObject as exc:  # not a regular file, or larger than any pack: nothing in it is read
            result.problems.append(str(exc))
            bad.update(index.ids() if index is not None else ())
            done += 1
            continue
        failed: list[tuple[bytes, str]] = []
        for object_id, offset, length in index or ():
            try:
                store.decode(object_id, data[offset : offset + length], referenced.get(object_id, ""))
                result.objects_read += 1
            except IntegrityError as exc:
                failed.append((object_id, str(exc)))
        lost = [(oid, why) for oid, why in failed if not _intact_elsewhere(store, oid, pack_id, loose)]
        if hashlib.sha256(data).digest() != pack_id:
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
        except (IntegrityError, ObjectNotFound) as exc:
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
        except (IntegrityError, ObjectNotFound):
            continue
    if object_id in loose:
        try:
            store.decode(object_id, store.get_loose(object_id), "")
            return True
        except (IntegrityError, ObjectNotFound):
            pass
    return False


def _check_config(ctx: Context, result: CheckResult) -> None:
    try:
        config, _ = ctx.remote.load_config(ctx.ident.master_key)
        if config is None:
            result.problems.append("no SyncConfig for this user on the remote")
    except IntegrityError as exc:
        result.problems.append(str(exc))


def _check_logs(ctx: Context, result: CheckResult) -> None:
    config = ctx.ident.cached_config()
    devices = dict(config.devices) if config is not None else {}
    by_log = {device_log_name(ctx.keys.share_id, bytes.fromhex(d["public"])): (did, d) for did, d in devices.items()}
    for log, seqs in sorted(ctx.store.list_logs().items()):
        if log not in by_log:  # unverifiable, and pull sets it aside: a note, as for pull (not exit 4)
            result.notes.append(
                f"log {log[:12]} on the remote belongs to no device in the SyncConfig: set aside, nothing in it "
                f"applied (a damaged identity or a foreign writer; delete log/{log} on the remote once you know which)"
            )
            continue
        _, dev = by_log[log]
        try:
            for _ in read_log(
                ctx.store, ctx.ident.user_secret, bytes.fromhex(dev["public"]), log, dev["name"], (0, None), seqs
            ):
                result.batches += 1
        except IntegrityError as exc:
            result.problems.append(str(exc))
            continue
        seen, _ = ctx.share.db.cursor(ctx.remote_name, log)
        if seqs and seqs[-1] < seen or (not seqs and seen):
            result.problems.append(f"log of {dev['name']!r} was rolled back below batch {seen}")


def _referenced(ctx: Context, result: CheckResult) -> dict[bytes, str]:
    """Every object id history references, mapped to a path that uses it."""
    refs: dict[bytes, str] = {}
    for v in ctx.share.db.all_versions():
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
    return refs
