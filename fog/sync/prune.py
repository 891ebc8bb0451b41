"""prune: delete what no remaining version references, safely while other devices push.

The protocol (docs/FORMAT.md, section 14), in short. There is no lock:
1. **Plan.** The pruner reads every log on the remote from batch 1 and its
   own history, walks every remaining (not forgotten) version's tree, reads
   every pack header, and picks the packs to go: those holding no referenced
   object, and those whose unreferenced share is worth a rewrite (their
   referenced objects are first copied into new packs: repacking).
2. **Intent.** It writes a sealed intent naming those packs
   (`prune/<log>.<id>`). Every device reads the intents at the start of each
   push and again right before each batch (`observe`): it stops counting the
   condemned packs' objects as present (so it uploads them again rather than
   dedupe against them) and acknowledges the intent in its next batch
   (`acks`). A device with nothing to push publishes an acknowledgement alone.
3. **Collection**, in a later run (or at once with `--grace 0`): once every
   other device with a log on the remote has acknowledged the intent (a batch
   acknowledging it proves every later batch of that device was decided
   knowing it, and every earlier one is already there to read) and the grace
   period has passed on this device's own clock since it first saw the intent
   (for a device pushing its very first batch, which has no log to
   acknowledge in), the pruner reads the logs again, and deletes each
   condemned pack whose referenced objects all have another place in a pack
   that stays (not condemned by any intent). Then it writes a completion
   record (`prune/<log>.<id>.done`) naming what it kept.

Killed at any point, a remote stays complete: a pack goes only after the
checks that make it safe, one by one; a rerun finds the intent and finishes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fog import cancel
from fog.crypto.seal import random_bytes
from fog.errors import AlreadyExists, FogError, IntegrityError, NotReadableYet, ObjectNotFound, RemoteError
from fog.format.intent import Intent, record_name
from fog.format.pack import PackIndex, header_size
from fog.format.syncconfig import SyncConfig
from fog.format.version import Version
from fog.store import Packer, ShareStore
from fog.sync.context import Context
from fog.sync.enrol import ensure_listed
from fog.sync.logs import LogOwner, VerifiedBatch, accepted_limit, accepted_pin, logs_by_name, read_log
from fog.sync.meter import Progress, finish, meter
from fog.sync.replicate import read_node

DEFAULT_GRACE_S = 24 * 3600  # outlives any push's last step (list intents -> put batch) by far: see FORMAT.md
STUCK_GRACES = 2  # an intent a device has not acknowledged for this many grace periods is said even under --quiet
DEFAULT_MAX_UNUSED = 0.05  # repack until at most this share of the packs' bytes is unreferenced (restic's default)
_RECORD = "prune\0"  # meta key prefix: prune\0<remote>\0<intent id> -> JSON (what this device knows of an intent)


class PruneRefused(FogError):
    """Prune cannot know what is referenced (an unreadable log or tree), or the remote deletes nothing
    (an append-only node): nothing was deleted."""


APPEND_ONLY_NODE = "append-only node: delete refused"  # what an append-only node answers a delete (section 17)
APPEND_ONLY = (
    "the node is append-only (it refuses every delete); to prune there, run it with `fog serve --allow-prune`. "
    "Nothing was deleted"
)


SHARED_SKIPPED = (
    "the share is shared with another user (fog prune does not yet count their devices' acknowledgements); "
    "what the retention policy let go is forgotten, not deleted"
)


def append_only(ctx: Context) -> bool:
    """Whether the remote is a node that said, when this device connected, that it deletes nothing."""
    info = getattr(ctx.remote.backend, "info", None)
    return isinstance(info, dict) and info.get("append_only") is True


# -- what a device knows of the intents on a remote ---------------------------------------


def _records(db: Any, remote: str) -> dict[str, dict[str, Any]]:
    prefix = f"{_RECORD}{remote}\0".encode()
    out = {}
    with db.read() as txn:
        cur = txn.cursor(db.db["meta"])
        if cur.set_range(prefix):
            for key, value in cur:
                if not key.startswith(prefix):
                    break
                out[key[len(prefix) :].decode()] = json.loads(value)
    return out


def _put_record(db: Any, txn: Any, remote: str, intent_id: str, rec: dict[str, Any]) -> None:
    db.set_meta(txn, f"{_RECORD}{remote}\0{intent_id}", json.dumps(rec, sort_keys=True).encode())


def observe(ctx: Context) -> int:
    """Learn the prune records on ctx's remote: stop counting condemned packs as present.

    Called at the start of every push and right before every batch. Objects of
    the packs a new intent condemns are dropped from the presence cache (here
    and in the database) before anything relies on it, and the packs are not
    counted present by later header scans while the intent is open. Returns
    how many records were new here, intents or completions (the caller
    re-checks what it was about to name).
    """
    store, db, remote = ctx.store, ctx.share.db, ctx.remote_name
    listed = store.list_prune_records()
    known = _records(db, remote)
    if not listed and not known:
        store.condemned = set()
        return 0
    by_log = _authors(ctx)
    if any(log not in by_log for log, _, _ in listed):  # a device this device's SyncConfig does not know yet
        from fog.sync.pull import refresh_config  # (pull imports this module)

        try:
            refresh_config(ctx)
        except (IntegrityError, FogError):
            pass  # pull reports it; what cannot be opened stays unobserved
        by_log = _authors(ctx)
    dones = {iid for _, iid, done in listed if done}
    secrets = ctx.user_secrets
    updates: dict[str, dict[str, Any]] = {}
    drop: set[bytes] = set()
    new = 0
    for log, iid, done in listed:
        rec = known.get(iid)
        if done and rec is not None and rec["done"]:
            continue
        if not done and (rec is not None or iid in dones):
            continue  # known, or completed already (its completion record is handled on its own)
        author = by_log.get(log)
        if author is None:
            continue  # sealed by no device we know: cannot be opened, vouches for nothing
        try:
            intent = read_record(store, secrets, author, log, iid, done)
        except IntegrityError as exc:  # altered or made up by the remote: said (exit 4), never acknowledged
            ctx.altered[f"{log}.{iid}{'.done' if done else ''}"] = altered_text(ctx.remote_name, author, iid, done, exc)
            continue
        if intent is None:
            continue  # (an epoch this device does not hold yet: it stays unread, so unacknowledged, till then)
        packs = set(intent.packs) | set(intent.kept)
        # a new intent: what it condemns stops counting; a completion (of a known intent too):
        # what it deleted is gone, whatever this device counted since
        for pack_id in packs if rec is None else intent.packs:
            index = store.catalog.index(pack_id)
            if index is not None:
                drop.update(index.ids())
        if rec is None:
            new += 1  # an intent, or the completion of one never seen: either way, presence changed
            rec = {
                "first_seen": time.time_ns(),
                "device": intent.device,
                "log": log,
                "packs": sorted(p.hex() for p in packs),
                "acked": intent.device == ctx.ident.device_id,
                "done": done,
                "kept": [],
            }
        if done:
            new += rec["done"] is False  # completed since this device saw it: what it deleted is gone
            rec = {**rec, "done": True, "kept": sorted(p.hex() for p in intent.kept)}
        updates[iid] = rec
    if drop:
        # (a block the condemned packs share with a pack that stays, a repack's output, stays present)
        drop -= store.held_elsewhere(drop, condemned({**known, **updates}) | _deleted({**known, **updates}))
    if drop:
        store.presence.discard(drop)
        db.forget_present(remote, drop)
    if updates:
        with db.write() as txn:
            for iid, rec in updates.items():
                _put_record(db, txn, remote, iid, rec)
        known.update(updates)
    store.condemned = condemned(known)
    return new


def read_record(
    store: ShareStore, secrets: tuple[bytes, ...], author: tuple[str, dict[str, Any]], log: str, iid: str, done: bool
) -> Intent | None:
    """One prune record of a known author (`author`: device id, SyncConfig entry), opened; None when this
    device cannot read it yet (a key epoch, or the author's signing key, it does not hold yet).

    IntegrityError when the remote altered or made up what is under its name: not a file, a signature, seal
    or format that fails, or gone between the listing and the read (records are never deleted)."""
    owner = LogOwner.of(*author)
    try:
        return store.get_prune_record(
            log, iid, done, sign_public=owner.sign, device_public=owner.public, user_secrets=secrets
        )
    except NotReadableYet:
        return None
    except ObjectNotFound:
        name = record_path(store, log, iid, done)
        raise IntegrityError(f"{name}: listed on {store.backend.url} but cannot be read (not a file there)") from None


def record_path(store: ShareStore, log: str, iid: str, done: bool = False) -> str:
    """A prune record's name on the remote (for a message)."""
    return f"{store.prefix}prune/{record_name(log, iid, done=done)}"


def altered_text(remote: str, author: tuple[str, dict[str, Any]], iid: str, done: bool, exc: IntegrityError) -> str:
    """One line about a prune record the remote altered (pull and `fog check` say it, exit 4)."""
    name = str(author[1].get("name", author[0][:8]))
    if done:
        return (
            f"the completion record of prune intent {iid[:8]} of device {name!r} on remote {remote} is refused "
            f"({exc}): the remote altered it"
        )
    return (
        f"prune intent {iid[:8]} of device {name!r} on remote {remote} is refused ({exc}): the remote altered it, "
        f"so this device cannot acknowledge it, and {name!r} waits for that before it deletes anything (there: "
        "`fog check`, then `fog prune --grace 0` once no other device is pushing)"
    )


def verify_records(ctx: Context, config: SyncConfig | None) -> tuple[list[str], list[str]]:
    """(problems, notes) of every prune record on ctx's remote (`fog check`): each one a device of `config`
    signed must open, else the remote altered it; one this device cannot read yet is a note."""
    problems: list[str] = []
    notes: list[str] = []
    by_log = _authors(ctx, config)
    listed = ctx.store.list_prune_records()
    dones = {iid for _, iid, done in listed if done}
    for log, iid, done in listed:
        cancel.check()
        author = by_log.get(log)
        if author is None:
            continue  # sealed by no device the SyncConfig knows: ignored by every reader (section 14)
        try:
            intent = read_record(ctx.store, ctx.user_secrets, author, log, iid, done)
        except IntegrityError as exc:
            if done or iid not in dones:
                problems.append(altered_text(ctx.remote_name, author, iid, done, exc))
            else:  # collected since: readers skip it, nothing waits for it any more
                notes.append(
                    f"prune intent {iid[:8]} on the remote is refused ({exc}), but it was collected since (its "
                    f"completion record is there): nothing waits for it; delete {record_path(ctx.store, log, iid)} "
                    "on the remote"
                )
            continue
        if intent is None:
            notes.append(
                f"prune {'completion record' if done else 'intent'} {iid[:8]} on the remote cannot be read here yet "
                "(sealed with a key epoch, or signed with a key, this device does not hold yet)"
            )
    return problems, notes


def _deleted(records: dict[str, dict[str, Any]]) -> set[bytes]:
    """Packs that completed intents deleted (condemned, not kept)."""
    return {bytes.fromhex(p) for rec in records.values() if rec["done"] for p in set(rec["packs"]) - set(rec["kept"])}


def known_condemned(db: Any, remote: str) -> set[bytes]:
    """The packs of a remote that open intents known here condemn (every command's header scans skip them)."""
    return condemned(_records(db, remote))


def _authors(ctx: Context, config: SyncConfig | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Log name -> device, for the devices whose prune records count: trusted and not revoked (of `config`,
    by default the SyncConfig cached here)."""
    config = config or ctx.ident.cached_config()
    devices = {
        did: d
        for did, d in (dict(config.devices) if config else {}).items()
        if d.get("trusted", True) and not d.get("revoked")
    }
    return logs_by_name(ctx.keys.share_id, devices)


def condemned(records: dict[str, dict[str, Any]]) -> set[bytes]:
    """Packs condemned by intents not completed yet."""
    return {bytes.fromhex(p) for rec in records.values() if not rec["done"] for p in rec["packs"]}


def unacked(ctx: Context) -> list[str]:
    """Open intents this device observed and has not acknowledged on this remote yet."""
    return sorted(
        i for i, rec in _records(ctx.share.db, ctx.remote_name).items() if not rec["acked"] and not rec["done"]
    )


def mark_acked(ctx: Context, txn: Any, ids: Iterable[str]) -> None:
    db = ctx.share.db
    known = _records(db, ctx.remote_name)
    for iid in ids:
        if iid in known:
            _put_record(db, txn, ctx.remote_name, iid, {**known[iid], "acked": True})


# -- what the remote's history references ----------------------------------------------------


@dataclass
class _Log:
    device: str
    name: str
    seen: int = 0
    chain: bytes | None = None
    acks: set[str] = field(default_factory=set)
    last_ns: int = 0  # the time its last batch names (its writer's clock): for the waiting message


class RemoteHistory:
    """Every verified batch on a remote, read incrementally: versions, forgets, acknowledgements.

    A log that does not verify, or that belongs to no device of the
    SyncConfig, refuses the prune: what it references cannot be known.
    """

    def __init__(self, ctx: Context, config: SyncConfig) -> None:
        self.ctx = ctx
        self.devices = dict(config.devices)
        self.by_log = logs_by_name(ctx.keys.share_id, self.devices)
        self.logs: dict[str, _Log] = {}
        self.versions: dict[bytes, Version] = {}  # versions with content this device's history lacks
        self.forgets: set[bytes] = set()
        # versions forgotten here whose forget this remote has not received (a forget stopped while publishing,
        # or run while the remote was away): every other device still lists them, so they still count
        self.unpublished = set(ctx.share.db.pending_forgets(ctx.remote_name))

    def read(self) -> list[Version]:
        """Read every log from where the last call stopped; the versions with content it found that this
        device's history lacks (those in the history are walked from the database)."""
        fresh: list[Version] = []
        ctx = self.ctx
        db = ctx.share.db
        share_hex = ctx.keys.share_id.hex()
        secrets = ctx.user_secrets
        for log, seqs in sorted(ctx.store.list_logs().items()):
            cancel.check()
            if log not in self.by_log:
                raise PruneRefused(
                    f"log {log[:12]} on {ctx.remote.url} belongs to no device in your fog settings: what it "
                    "references cannot be known, so nothing is pruned (see `fog check`)"
                )
            did, dev = self.by_log[log]
            owner = LogOwner.of(did, dev)
            state = self.logs.setdefault(log, _Log(did, owner.name))
            seen, _ = db.cursor(ctx.remote_name, log)
            if seqs and seqs[-1] < seen or not seqs and seen:
                raise PruneRefused(
                    f"the log of {state.name!r} on {ctx.remote.url} ends at batch {seqs[-1] if seqs else 0}, but "
                    f"batch {seen} was read before: the remote was rolled back; nothing is pruned (see `fog check`)"
                )
            limit = accepted_limit(dev, share_hex, ctx.remote_name)
            notes: list[str] = []
            held: list[VerifiedBatch] = []
            try:
                for vb in read_log(
                    ctx.store,
                    secrets,
                    owner,
                    log,
                    (state.seen, state.chain),
                    seqs,
                    notes=notes,
                    held=held,
                    pin=accepted_pin(dev, share_hex, ctx.remote_name),
                ):
                    state.seen, state.chain, state.last_ns = vb.seq, vb.chain, vb.batch.time_ns
                    # a refused batch (revoked device past its limit, untrusted device) acknowledges and
                    # forgets nothing; its versions still count: some reader may have accepted them (one
                    # that read them before the revocation), and keeping more is always safe
                    if not (limit is not None and vb.seq > limit) and dev.get("trusted", True):
                        self.forgets.update(vb.batch.forgets)
                        state.acks.update(vb.batch.acks)
                    fresh.extend(self._versions(vb))
                # an unsigned tail no signed batch vouches for yet (section 9) is not accepted, but a
                # later signed batch may make it so: its versions count too, it acknowledges nothing
                for vb in held:
                    fresh.extend(self._versions(vb))
            except IntegrityError as exc:
                raise PruneRefused(f"{exc}; nothing is pruned until `fog check` is clean") from exc
            if notes:  # a batch this device cannot read yet may reference anything
                raise PruneRefused(f"{notes[0]}; nothing is pruned until this device can read it (pull first)")
        return fresh

    def _versions(self, vb: VerifiedBatch) -> list[Version]:
        """The batch's versions with content this device's history lacks, not seen before; a forged one refuses."""
        ctx, db = self.ctx, self.ctx.share.db
        out = []
        with db.read() as txn:
            for v in vb.batch.versions:
                if v.device not in self.devices or ctx.version_id(v) != v.id:
                    raise IntegrityError(f"batch {vb.seq} of {self.logs[vb.batch.log].name!r} holds a forged version")
                if (
                    v.content is not None
                    and v.id not in self.versions
                    and not db.has_version(v.id, txn)
                    and (v.id in self.unpublished or not db.is_forgotten(v.id, txn))
                ):
                    self.versions[v.id] = v  # the others are read from the database, one at a time
                    out.append(v)
        return out

    def active(self) -> dict[str, _Log]:
        """Logs of devices whose batches are accepted (not revoked, trusted)."""
        out = {}
        for log, state in self.logs.items():
            dev = self.devices.get(state.device, {})
            if not dev.get("revoked") and dev.get("trusted", True):
                out[log] = state
        return out


def referenced(versions: Iterable[Version], readers: list[ShareStore], out: set[bytes] | None = None) -> set[bytes]:
    """Every object of the versions' trees; a node no reader gives refuses the prune."""
    out = set() if out is None else out
    for v in versions:
        if v.content is None or v.content in out:
            continue
        stack = [(v.content, v.depth)]
        while stack:
            object_id, depth = stack.pop()
            if object_id in out:
                continue
            out.add(object_id)
            if depth > 0:
                cancel.check()
                try:
                    node = read_node(readers, object_id, depth - 1, v.path)
                except (IntegrityError, RemoteError) as exc:
                    raise PruneRefused(
                        f"{exc}: its subtree cannot be known, so nothing is pruned (run `fog check --repair`)"
                    ) from exc
                stack.extend((child, depth - 1) for child, _ in node.entries)
    return out


def _remaining(ctx: Context, history: RemoteHistory) -> Iterable[Version]:
    """This device's history and every version the remote's logs carry, minus what was forgotten."""
    forgotten = history.forgets
    for v in ctx.share.db.all_versions_chunked():
        if v.id not in forgotten:
            yield v
    for vid, v in history.versions.items():
        if vid not in forgotten:
            yield v


# -- the plan ----------------------------------------------------------------------------------


@dataclass
class PackUse:
    pack: bytes
    size: int  # stored bytes of the pack (header included)
    used: int  # stored bytes of the objects this pack is the kept place of
    objects: int
    used_objects: int


@dataclass
class PruneResult:
    remote: str
    dry_run: bool
    packs: int = 0  # packs on the remote before
    pack_bytes: int = 0
    referenced_objects: int = 0
    unused_bytes: int = 0  # stored bytes no remaining version needs, before
    planned_delete: list[str] = field(default_factory=list)  # packs condemned whole (hex ids)
    planned_repack: list[str] = field(default_factory=list)  # packs rewritten (their used objects copied out)
    planned_bytes: int = 0  # bytes those packs hold
    repacked_objects: int = 0
    repacked_bytes: int = 0  # bytes written in new packs
    intent: str | None = None  # the intent this run wrote
    deleted: list[str] = field(default_factory=list)  # packs deleted by this run's collections (a dry run: would be)
    deleted_bytes: int = 0
    kept: list[str] = field(default_factory=list)  # condemned packs kept: referenced again (a dry run: would be)
    waiting: list[str] = field(default_factory=list)  # intents not collectable yet, and why
    collectable: list[str] = field(default_factory=list)  # intents whose collection ran (a dry run: would run)
    clock: list[str] = field(default_factory=list)  # times recorded here that are ahead of the clock now
    stuck: list[str] = field(default_factory=list)  # of `waiting`: held by a device's acknowledgement past 2 graces
    unreadable: list[str] = field(default_factory=list)  # packs whose header does not open: left alone
    seconds: float = 0.0


def _pack_bytes(index: PackIndex) -> int:
    return header_size(len(index)) + sum(length for _, _, length in index)


def _headers(ctx: Context, result: PruneResult | None) -> dict[bytes, PackIndex]:
    """Every listed pack's index (catalog, else its header read); unreadable ones are reported and left."""
    out: dict[bytes, PackIndex] = {}
    for pack_id in ctx.store.list_packs():
        cancel.check()
        index = ctx.store.catalog.index(pack_id)
        if index is None:
            try:
                index = ctx.store.read_index(pack_id)
            except (IntegrityError, ObjectNotFound) as exc:
                if result is not None:
                    result.unreadable.append(f"{pack_id.hex()[:16]}: {exc}")
                continue
            ctx.store.catalog.add(index)
        out[pack_id] = index
    return out


def plan_packs(
    indexes: dict[bytes, PackIndex], refs: set[bytes], excluded: set[bytes], max_unused: float
) -> tuple[list[PackUse], list[PackUse], dict[bytes, bytes], list[PackUse]]:
    """(delete, repack, home, every pack's use) over the packs not `excluded` (condemned already).

    Each referenced object is kept in one place, its `home`: of the packs
    holding it, the one holding the most referenced bytes (then the lowest
    id), so duplicates count as unused. Packs that are no object's home are
    deleted; then the packs with the most unused bytes are repacked until
    unused bytes are at most `max_unused` of the total.
    """
    live = {p: ix for p, ix in indexes.items() if p not in excluded}
    weight = {p: sum(n for oid, _, n in ix if oid in refs) for p, ix in live.items()}
    home: dict[bytes, bytes] = {}
    for p in sorted(live, key=lambda p: (-weight[p], p)):
        for oid, _, _ in live[p]:
            if oid in refs and oid not in home:
                home[oid] = p
    uses = []
    for p, ix in live.items():
        kept = [n for oid, _, n in ix if home.get(oid) == p]
        size = _pack_bytes(ix)
        used = header_size(len(ix)) + sum(kept) if kept else 0  # a pack that stays keeps its header
        uses.append(PackUse(p, size, used, len(ix), len(kept)))
    delete = [u for u in uses if u.used_objects == 0]
    rest = sorted((u for u in uses if u.used_objects), key=lambda u: (u.used - u.size, u.pack))
    total = sum(u.size for u in rest)
    unused = sum(u.size - u.used for u in rest)
    repack = []
    for u in rest:
        if unused <= max_unused * total or u.size == u.used:
            break
        repack.append(u)
        unused -= u.size - u.used
        total -= u.size - u.used
    return delete, repack, home, uses


def prune(
    ctx: Context,
    config: SyncConfig,
    sources: list[ShareStore],
    *,
    dry_run: bool = False,
    grace_s: int = DEFAULT_GRACE_S,
    max_unused: float = DEFAULT_MAX_UNUSED,
    progress: Progress | None = None,
) -> PruneResult:
    """Collect what earlier intents allow, then plan (and unless dry_run, announce) the next deletions.

    `progress(done, total)`: the repack's bytes copied of those to copy (the long part of a prune)."""
    t0 = time.monotonic()
    result = PruneResult(ctx.remote_name, dry_run)
    from fog.sync import members  # (members imports what this module's importers do)

    if members.load(ctx, config) is not None:
        raise FogError(
            "this share is shared with another user: fog prune does not yet count their devices' "
            "acknowledgements, so it refuses to delete anything (fog forget still works)"
        )
    if append_only(ctx):  # refused before an intent or a repacked pack is written there (a dry run: the same)
        raise PruneRefused(APPEND_ONLY)
    observe(ctx)
    history = RemoteHistory(ctx, config)
    history.read()
    readers = [ctx.store, *[s for s in sources if s is not ctx.store]]
    # walked once; a collection only adds what batches written since reference (more kept is always safe)
    refs = referenced(_remaining(ctx, history), readers)
    _collect_ready(ctx, history, readers, refs, grace_s, result, dry_run=dry_run)
    result.referenced_objects = len(refs)
    indexes = _headers(ctx, result)
    records = _records(ctx.share.db, ctx.remote_name)
    excluded = condemned(records)
    delete, repack, home, uses = plan_packs(indexes, refs, excluded, max_unused)
    result.packs = len(indexes)
    result.pack_bytes = sum(_pack_bytes(ix) for ix in indexes.values())
    result.unused_bytes = sum(u.size - u.used for u in uses)
    result.planned_delete = [u.pack.hex() for u in delete]
    result.planned_repack = [u.pack.hex() for u in repack]
    result.planned_bytes = sum(u.size for u in delete + repack)
    if not dry_run and (delete or repack):
        ctx.remote.allow_prune()
        if repack:
            _repack(ctx, repack, home, result, progress)
        intent = _announce(ctx, history, [u.pack for u in delete + repack])
        result.intent = intent.id
        if grace_s == 0:
            _collect_ready(ctx, history, readers, refs, 0, result)
    result.seconds = time.monotonic() - t0
    return result


def _repack(
    ctx: Context,
    repack: list[PackUse],
    home: dict[bytes, bytes],
    result: PruneResult,
    progress: Progress | None = None,
) -> None:
    """Copy the objects the packs to rewrite are the home of into new packs, durably, before any intent names them.

    Each such pack is read once, whole; each object is verified (section 4) and its stored bytes go
    into the new pack as they are (valid under the same name and key). An object whose copy there is
    damaged is read from any other place through the usual verified read, else the prune is refused."""
    chosen = {u.pack for u in repack}
    by_pack: dict[bytes, set[bytes]] = {}
    for oid, p in home.items():
        if p in chosen:
            by_pack.setdefault(p, set()).add(oid)
    if not by_pack:
        return
    stats = {"objects": 0, "bytes": 0}
    indexes = {p: ctx.store.catalog.index(p) for p in by_pack}
    to_copy = sum(n for p, ix in indexes.items() for oid, _, n in ix or () if oid in by_pack[p])
    m = meter(progress, to_copy)

    def ship(data: bytes, index: PackIndex) -> None:
        ctx.store.put_pack(data, index)
        stats["bytes"] += len(data)

    packer = Packer(ctx.store.keys.pack_key, ship, limit=ctx.store.max_object)
    for p in sorted(by_pack):
        cancel.check()
        index = indexes[p]
        try:
            data = ctx.store.fetch_pack(p)
        except (ObjectNotFound, IntegrityError, RemoteError):
            data = None
        for oid, offset, length in index or ():
            if oid not in by_pack[p]:
                continue
            stored = data[offset : offset + length] if data is not None else b""
            try:
                ctx.store.decode(oid, stored, "")
            except IntegrityError:
                try:
                    stored = ctx.store.encode(oid, ctx.store.get(oid))  # another copy, verified
                except (IntegrityError, RemoteError) as exc:
                    raise PruneRefused(
                        f"a referenced object could not be read to repack it ({exc}); nothing is pruned"
                    ) from exc
            packer.add(oid, stored)
            stats["objects"] += 1
            if m is not None:
                m.add(length)
    packer.flush()
    finish(m)
    ctx.store.backend.sync()
    with ctx.share.db.write() as txn:
        ctx.commit_presence(txn)
    result.repacked_objects += stats["objects"]
    result.repacked_bytes += stats["bytes"]


def _verify_copies(
    ctx: Context, indexes: dict[bytes, PackIndex], needed: set[bytes], going: set[bytes]
) -> set[tuple[bytes, bytes]]:
    """(object, pack) for each copy of a needed object, in a pack not going, that reads back intact.

    One read per pack: the whole pack when it holds many of them, else one
    ranged read each; memory holds one pack at a time."""
    intact: set[tuple[bytes, bytes]] = set()
    for p, ix in indexes.items():
        if p in going:
            continue
        wanted = [(oid, offset, length) for oid, offset, length in ix if oid in needed]
        if not wanted:
            continue
        cancel.check()
        data: bytes | None = None
        if len(wanted) > 8:
            try:
                data = ctx.store.fetch_pack(p)
            except (ObjectNotFound, IntegrityError, RemoteError):
                continue
        for oid, offset, length in wanted:
            try:
                stored = (
                    data[offset : offset + length]
                    if data is not None
                    else ctx.store.backend.get_range(ctx.store.pack_name(p), offset, length)
                )
                ctx.store.decode(oid, stored, "")
            except (IntegrityError, ObjectNotFound):
                continue
            intact.add((oid, p))
    return intact


def _announce(ctx: Context, history: RemoteHistory, packs: list[bytes]) -> Intent:
    """Write the intent, then record it here as observed (and acknowledged: this device holds the lock)."""
    intent = Intent(
        id=random_bytes(16).hex(),
        share=ctx.keys.locator,
        device=ctx.ident.device_id,
        time_ns=time.time_ns(),
        packs=tuple(sorted(packs)),
        heads={log: state.seen for log, state in history.logs.items()},
    )
    _put_record_signed(ctx, intent)
    observe(ctx)
    return intent


def _put_record_signed(ctx: Context, intent: Intent) -> None:
    """Write a prune record (signed: store format 4) once the remote's SyncConfig lists this device and its
    signing key: devices open records only from a device it lists, and verify them under that key."""
    ensure_listed(ctx.ident, ctx.remote)
    ctx.remote.allow_signed()
    ctx.store.put_prune_record(ctx.log, ctx.ident.sign_secret, intent)


def _collect_ready(
    ctx: Context,
    history: RemoteHistory,
    readers: list[ShareStore],
    refs: set[bytes],
    grace_s: int,
    result: PruneResult,
    *,
    dry_run: bool = False,
) -> None:
    """Finish every open intent whose acknowledgements and grace period allow it.

    `refs` (every object the history referenced when the run began) is
    extended with what the batches written since reference, before anything goes.
    `dry_run`: the same decisions, reported in `result` (deleted, kept), and nothing deleted or written."""
    records = _records(ctx.share.db, ctx.remote_name)
    now = time.time_ns()
    ready = []
    for iid, rec in sorted(records.items()):
        if rec["done"]:
            continue
        if rec["first_seen"] > now:  # seen by a run whose clock was ahead: the grace period starts now
            if rec["first_seen"] - now > 3600 * 1e9:  # (a clock stepped back by seconds is no news)
                result.clock.append(
                    f"intent {iid[:8]} was first seen here {_duration((rec['first_seen'] - now) / 1e9)} ahead of "
                    "the clock now (the clock was wrong then, or is now): its grace period is counted from now"
                )
            rec = records[iid] = {**rec, "first_seen": now}
            if not dry_run:
                with ctx.share.db.write() as txn:
                    _put_record(ctx.share.db, txn, ctx.remote_name, iid, rec)
        if grace_s:
            missing = [
                f"{state.name} (last batch {_duration(max(0, now - state.last_ns) / 1e9)} ago)"
                for log, state in history.active().items()
                if state.device not in (rec["device"], ctx.ident.device_id) and iid not in state.acks
            ]
            left = grace_s - (now - rec["first_seen"]) / 1e9
            why = []
            if missing:
                why.append(
                    "waiting for " + ", ".join(sorted(missing)) + " to acknowledge (run `fog sync` there; if it "
                    "still does not, it cannot read the intent: the remote altered or withheld it, which `fog check` "
                    "there reports; `fog prune --grace 0` deletes without waiting, once no other device is pushing)"
                )
            if left > 0:
                why.append(f"grace period ends in {_duration(left)}")
            if why:
                line = f"intent {iid[:8]}: " + "; ".join(why)
                result.waiting.append(line)
                if missing and now - rec["first_seen"] > STUCK_GRACES * grace_s * 1e9:
                    result.stuck.append(line)  # (said under `sync --quiet --prune`: the store only grows)
                continue
        ready.append(iid)
    if not ready:
        return
    # every batch up to now: those before each acknowledgement are all there
    referenced(history.read(), readers, refs)
    indexes = _headers(ctx, None)
    loose = set(ctx.store.list_objects())
    condemned_here = {bytes.fromhex(p) for iid in ready for p in records[iid]["packs"]} & indexes.keys()
    # the referenced objects the condemned packs hold, and every place a listed pack holds them
    needed = {oid for p in condemned_here for oid, _, _ in indexes[p] if oid in refs and oid not in loose}
    places: dict[bytes, list[bytes]] = {}
    for p, ix in indexes.items():
        for oid, _, _ in ix:
            if oid in needed:
                places.setdefault(oid, []).append(p)
    intact = _verify_copies(ctx, indexes, needed, condemned_here)

    def safe_elsewhere(oid: bytes, stays: set[bytes]) -> bool:
        """Whether a pack that stays holds an intact copy: read back and verified, never taken on a
        listing's word (the copy a repair wrote beside a damaged one must not go for the damaged one)."""
        return oid in loose or any(p in stays and (oid, p) in intact for p in places.get(oid, ()))

    for iid in ready:
        rec = records[iid]
        result.collectable.append(iid)
        going = {bytes.fromhex(p) for p in rec["packs"]} & indexes.keys()
        others = condemned({k: v for k, v in records.items() if k != iid})
        stays = indexes.keys() - going - others
        # a condemned pack holding a referenced object with no place in a pack that stays is kept
        changed = True
        while changed:
            changed = False
            for p in sorted(going):
                for oid, _, _ in indexes[p]:
                    if oid in needed and not safe_elsewhere(oid, stays):
                        going.discard(p)
                        stays.add(p)
                        changed = True
                        break
        kept = sorted({bytes.fromhex(p) for p in rec["packs"]} & indexes.keys() - going)
        result.kept.extend(k.hex() for k in kept)
        for p in sorted(going):
            result.deleted.append(p.hex())
            result.deleted_bytes += _pack_bytes(indexes[p])
        if dry_run:
            continue
        for p in sorted(going):
            cancel.check()
            try:
                ctx.store.backend.delete(ctx.store.pack_name(p))
            except ObjectNotFound:
                pass
        ctx.store.backend.sync()
        done = Intent(
            id=iid,
            share=ctx.keys.locator,
            device=ctx.ident.device_id,
            time_ns=time.time_ns(),
            packs=tuple(sorted(going)),
            heads={},
            done=True,
            kept=tuple(kept),
        )
        try:
            _put_record_signed(ctx, done)
        except AlreadyExists:
            pass  # this device wrote it in a run stopped right after: a remote failure propagates, the rerun finishes
        with ctx.share.db.write() as txn:
            _put_record(ctx.share.db, txn, ctx.remote_name, iid, {**rec, "done": True, "kept": [k.hex() for k in kept]})
    if not dry_run:
        observe(ctx)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"
