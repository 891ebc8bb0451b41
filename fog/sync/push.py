"""push: scan, store changed content, publish one event batch, commit.

Write ordering (docs/FORMAT.md): every object of the push is put, one
`sync()` makes them durable, then the sealed batch is published create-only,
then the local database commits. A crash before the publish leaves only
unreferenced objects; a crash after it is repaired by the next push, which
finds its own unrecorded batch on the remote and adopts it.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import stat as st
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import lmdb

from fog import cancel
from fog.crypto.keys import ShareKeys
from fog.errors import FogError, IntegrityError, ReadOnlyRemote, RemoteError, failure, none_left
from fog.format.batch import EventBatch, chain_hash
from fog.format.pack import PackIndex
from fog.format.version import Version
from fog.memory import release_free_memory
from fog.repo import pushes
from fog.repo.db import RepoDB, StatEntry
from fog.repo.share import PLACING, Share
from fog.store import Packer, PutStats, ShareStore, seal_batch
from fog.sync import keyring, nodes, prune, replicate, stranded
from fog.sync import sealers as sealing
from fog.sync.content import CPU_WORKERS, Content, FileReader
from fog.sync.context import Context
from fog.sync.enrol import ensure_listed
from fog.sync.guard import DeleteLimit
from fog.sync.logs import LogOwner, audit_log, foreign_text, read_log, rolled_back_text
from fog.sync.merge import CONFLICT_RE, same_state
from fog.sync.replicate import CopyStats
from fog.sync.scan import Candidates, Diff, Entry, scan
from fog.sync.sealers import Sealed, Sealers

RACY_NS = 2_000_000_000  # mtimes this close to the scan may hide a later edit
FUTURE_NS = 3600 * 1_000_000_000  # an mtime further ahead of the scan was not made by a write then (a clock)


def is_racy(mtime_ns: int, scan_start: int) -> bool:
    """Whether a stat entry taken at `scan_start` cannot be trusted next time: its mtime is so close to the
    scan that an edit in the same tick would not change it. An mtime far in the future (another device's
    fast clock, kept by a pull) is not: any write now sets an mtime unlike it (it was re-read, whole, at
    every scan until that date)."""
    return scan_start - RACY_NS <= mtime_ns <= scan_start + FUTURE_NS


# A push records and publishes at most this many changed paths at a time (one
# batch each): memory follows the chunk, not the tree, and a push stopped
# part-way keeps what it published. Each chunk's commit rewrites most pages of
# the sub-databases keyed by random ids (locs, the versions index). 100,000
# files with `.fog/` format 3 (two pairs each): 8,192 15.0 s and 141 MB peak
# RSS, 16,384 15.6-17.4 s and 155-160 MB, 4,096 the same as 8,192 (format 2,
# whose commits rewrote far more, favoured 16,384).
CHUNK_FILES = 8192

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(slots=True)
class Change:
    """One path whose recorded state changes in this push."""

    path: str
    status: str  # added | modified | deleted
    version: Version | None  # None: only the stat index is refreshed
    stat: StatEntry | None


@dataclass
class PushResult:
    remote: str
    dry_run: bool
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)  # paths skipped because they could not be read: exit 5
    snapshots: list[str] = field(default_factory=list)  # never held still: recorded from a private copy
    conflict_copies: list[str] = field(default_factory=list)  # unresolved NAME.fog-conflict-* files
    ignored: list[str] = field(default_factory=list, repr=False)  # left out by .fogignore rules (status --ignored)
    files_read: int = 0
    bytes_read: int = 0
    objects_uploaded: int = 0
    bytes_uploaded: int = 0
    bytes_deduped: int = 0  # plaintext already on the remote (identical blocks), not sent again
    copied: CopyStats = field(default_factory=CopyStats)  # catch-up: objects a remote lacked, sent from another
    batch: int | None = None  # the batch number (on the last remote published to)
    batches: dict[str, int] = field(default_factory=dict)  # remote -> batch number published
    remote_errors: dict[str, str] = field(default_factory=dict)  # remotes that failed, and why
    # remotes given this push's batches but not some queued versions (an object on no reachable remote): why
    held: dict[str, str] = field(default_factory=dict, repr=False)
    seconds: float = 0.0


UNAPPLIED = "unapplied"  # meta key: ids of known versions whose paths a pull could not apply (fog.sync.pull)


def catch_up_own_log(
    ctx: Context,
    sources: Sequence[ShareStore] = (),
    readers: Readers | None = None,
    copied: CopyStats | None = None,
    *,
    write_new: bool = False,
) -> int:
    """Adopt batches of ours that reached the remote but not our database (a push killed after publishing).

    Such a batch holds only versions this checkout recorded before it published them. One above the
    cursor this database holds there that carries a version it never recorded was written by another
    holder of this identity (a copied FOG_HOME): refused (IntegrityError), nothing adopted.

    A batch proves nothing about the objects it names (a copy of the log without the packs, a batch
    copied from another remote): the versions it carries leave this remote's outbox only once every
    object of theirs is known to be there, copied now from `sources` (then `readers`) where missing
    (`settle_adopted`); `copied` adds up what that sent. Returns how many batches were adopted.

    `write_new` (a pull): where this database holds no cursor on the log (a clone, or a `.fog/` rebuilt,
    with the FOG_HOME that pushed them), the versions it never recorded are recorded without taking the
    path and left to the pull to write (as versions a pull could not apply): a clone of a share with the
    same FOG_HOME recorded this device's own files as current and never wrote them (review 7).
    """
    db = ctx.share.db
    seqs = ctx.store.list_logs(only=ctx.log).get(ctx.log, [])
    cursor = db.cursor(ctx.remote_name, ctx.log)
    top = seqs[-1] if seqs else 0
    if top < cursor[0]:  # (read_log says so too, without the way out)
        why = rolled_back_text(ctx.remote_name, top, cursor[0], node=nodes.is_node_url(ctx.url))
        raise IntegrityError(f"{ctx.store.backend.url}: {why}")
    anchor = db.audit_anchor(ctx.remote_name, ctx.log)
    owner, secrets = own_owner(ctx), ctx.user_secrets
    # our batches already published must still be there, in their order (a new clone reads them all)
    audited = audit_log(ctx.store, secrets, owner, ctx.log, cursor, anchor, seqs)
    if audited != anchor:
        with db.write() as txn:
            db.set_audit_anchor(txn, ctx.remote_name, ctx.log, audited)
    adopted = 0
    unwritten: list[str] = []  # (write_new) hex ids of versions recorded here for the pull to write
    owed: dict[bytes, Version] = {}  # adopted versions this remote's outbox holds: settled below
    queued: set[bytes] | None = None
    for vb in read_log(ctx.store, secrets, owner, ctx.log, cursor, seqs):
        queued = set(db.pending(ctx.remote_name)) if queued is None else queued
        with db.write() as txn:
            gone, new = [], []
            for v in vb.batch.versions:
                if ctx.version_id(v) != v.id:
                    raise FogError(f"batch {vb.seq} of this device holds a version with a wrong id")
                if db.add_version(txn, v, make_head=not (write_new and not cursor[0])):
                    new.append(v)
                elif db.is_forgotten(v.id, txn):
                    gone.append(v.id)
            if new and cursor[0]:  # (the transaction is dropped: nothing of it is recorded)
                raise IntegrityError(
                    foreign_text(ctx.remote_name, vb.seq, [v.path for v in new], ctx.url, ctx.share.root)
                )
            # forgotten here since (a remote seeded again on top of an old copy, `remote remove` + `add`):
            # its forget is published there too, unless a later batch of ours there carries it (cleared below)
            if gone:
                db.add_pending_forgets(txn, [ctx.remote_name], gone)
            db.forget_versions(txn, vb.batch.forgets)  # (done here already, unless .fog/ was rebuilt)
            db.set_cursor(txn, ctx.remote_name, ctx.log, vb.seq, vb.chain)
            pushes.record(
                txn,
                db.db["batches"],
                vb.chain,
                ctx.remote_name,
                vb.seq,
                vb.batch.device,
                vb.batch.time_ns,
                [v.id for v in vb.batch.versions],
            )
            db.clear_pending_forgets(txn, ctx.remote_name, vb.batch.forgets)
            if write_new and not cursor[0] and new:
                unwritten += [v.id.hex() for v in new if v.id.hex() not in unwritten]
                have = json.loads(txn.get(UNAPPLIED.encode(), db=db.db["meta"]) or b"[]")
                db.set_meta(txn, UNAPPLIED, json.dumps(sorted({*have, *unwritten})).encode())
        owed.update((v.id, v) for v in vb.batch.versions if v.id in queued)
        adopted += 1
    if owed:
        settle_adopted(ctx, list(owed.values()), sources, readers, copied)
    return adopted


def settle_adopted(
    ctx: Context,
    versions: list[Version],
    sources: Sequence[ShareStore],
    readers: Readers | None,
    copied: CopyStats | None,
) -> None:
    """Clear from this remote's outbox the adopted `versions` whose objects are all there (catch-up copies
    what is missing, as `publish` does). Those no source holds, or all of them if the remote fails, stay
    queued: the next `publish` catches them up and carries them again, or says why it cannot."""
    db = ctx.share.db
    others = [s for s in sources if s is not ctx.store]
    try:
        prune.observe(ctx)  # before anything counts as present: condemned packs do not
        sent, lacked = replicate.complete(ctx.store, versions, others, ctx.remote_name)
        more = [] if lacked is None or readers is None else [r for r in readers() if r not in others]
        if more:
            again, lacked = replicate.complete(ctx.store, versions, [*others, *more], ctx.remote_name)
            sent = CopyStats(sent.objects + again.objects, sent.bytes + again.bytes, sent.packs + again.packs)
        ctx.store.backend.sync(every=ctx.store.adopted)  # what counts as present is durable before it is relied on
    except RemoteError:  # (a read-only remote, one gone meanwhile): they stay queued for `publish`
        return
    if copied is not None:
        copied.objects += sent.objects
        copied.bytes += sent.bytes
        copied.packs += sent.packs
    held = lacked.ids if lacked is not None else set()
    with db.write() as txn:
        db.clear_pending(txn, ctx.remote_name, [v.id for v in versions if v.id not in held])
        ctx.commit_presence(txn)


def own_owner(ctx: Context) -> LogOwner:
    """This device as the owner of its own log, read as every other device reads it.

    Its signed batches verify under its own signing key. Its unsigned ones
    (written by an older fog) count only below a signed one once its
    SyncConfig entry lists a signing key: one past the cursor may have been
    sealed by any holder of the user key, and the next batch would vouch for it.
    """
    config = ctx.ident.cached_config()
    entry = config.devices.get(ctx.ident.device_id, {}) if config is not None else {}
    return LogOwner(ctx.ident.device_name, ctx.ident.device_public, ctx.ident.sign_public, bool(entry.get("sign")))


def plan(
    ctx_keys: ShareKeys,
    store: ShareStore | None,
    root,
    db: RepoDB,
    device: str,
    stats: PutStats,
    result: PushResult,
    progress: Progress | None = None,
    others: frozenset[str] = frozenset(),
    fenced: str | None = None,
) -> list[Change]:
    """Scan the tree and work out each change; stores content when `store` is set (`others`: see changes_for;
    `fenced`: FOG_HOME's path in the share, Share.fenced)."""
    scan_start = time.time_ns()
    d = scan_tree(root, db, result, fenced)
    reader = FileReader(ctx_keys, store)
    changes = changes_for(reader, root, db, d.candidates[:], scan_start, device, stats, result, progress, others=others)
    return changes + deletions(db, d.gone, device, time.time_ns())


def refresh_index(db: RepoDB, changes: list[Change]) -> int:
    """Store the new stat of files that were re-read and found unchanged (what `status` can do without a push).

    A file written just before a push is indexed as racy (its mtime is too
    close to when it was read) and re-hashed by every scan until the next push
    rewrites its entry; `status` holds the share's lock, so it rewrites it
    itself once the file is old enough. Returns how many entries were written.
    """
    fresh = [(c.stat, None) for c in changes if c.version is None and c.stat is not None and c.status == "unchanged"]
    if fresh:
        with db.write() as txn:
            db.put_stats(txn, fresh)
    return len(fresh)


HELD = "a pull was placing it when it stopped, before recording it: the next pull settles it"
HELD_SHOWN = 10  # held paths named one a line; the others in one line


def scan_tree(root, db: RepoDB, result: PushResult, fenced: str | None = None) -> Diff:  # type: ignore[no-untyped-def]
    placing = db.get_meta(PLACING)
    with db.stat_view() as index:
        d: Diff = scan(root, index, _is_conflict_copy, fenced=fenced)
        if placing:  # files that may hold a version the pull never recorded: not local edits (fog.sync.pull)
            # (but a file still the inode its stat entry names was not placed: an ordinary change)
            held = set(json.loads(placing))
            d.candidates, out = d.candidates.without(held, lambda path, ino: _unplaced(index.get(path), ino))
            out += [p for p in d.gone if p in held]
            d.gone = [p for p in d.gone if p not in held]
            out.sort()
            result.skipped += [f"{p}: {HELD}" for p in out[:HELD_SHOWN]]
            if len(out) > HELD_SHOWN:  # (a pull stopped in a chunk's renames: up to a chunk of paths)
                result.skipped.append(f"{len(out) - HELD_SHOWN} more path(s), {out[HELD_SHOWN]} to {out[-1]}: {HELD}")
    result.skipped += d.skipped
    result.unread += d.unreadable  # (nested shares, special files, fog's temp names: left out by rule)
    result.conflict_copies = d.flagged
    result.ignored = d.ignored
    return d


def _unplaced(entry: StatEntry | None, ino: int) -> bool:
    """Whether a regular file's inode is still the one its stat entry names (no pull renamed another over it)."""
    return entry is not None and st.S_ISREG(entry.mode) and entry.ino == ino


def changes_for(
    reader: FileReader,
    root,
    db: RepoDB,
    entries: list[Entry],
    scan_start: int,
    device: str,
    stats: PutStats,
    result: PushResult,
    progress: Progress | None,
    sealed: Iterator[tuple[str, Sealed]] | None = None,
    others: frozenset[str] = frozenset(),
    now: int | None = None,
) -> list[Change]:
    """Read (and store) the changed files among `entries` and work out each one's change.

    `others`: devices of other users (a shared share), whose setuid and setgid bits a pull drops.
    `now`: the versions' time (a push gives chunk n the time of its start + n ns: the chunks' batches
    are one push for `fog log --pushes` and `~N`, fog.repo.trees); default: the clock now.

    `sealed`: the worker processes' results for the small files, in order (fog.sync.sealers)."""
    files = [e for e in entries if e.kind == "file"]
    contents = _read_all(reader, root, files, stats, result, progress, sealed)
    now = time.time_ns() if now is None else now
    changes: list[Change] = []
    with db.read() as txn:
        for entry in entries:
            content = contents.get(entry.path)
            if entry.kind == "file" and content is None:
                continue  # unreadable or changing: skipped, retried next push
            changes.append(_change_for(db, txn, entry, content, scan_start, now, device, others))
    return changes


def deletions(db: RepoDB, gone: list[str], device: str, now: int) -> list[Change]:
    changes: list[Change] = []
    for path in gone:
        head = db.head(path)
        if head is not None and not head.deleted:
            v = Version(path, "deleted", 0, 0, 0, now, device, parent=head.id)
            changes.append(Change(path, "deleted", v, None))
        else:
            changes.append(Change(path, "deleted", None, None))
    return changes


def _read_all(
    reader: FileReader,
    root,
    files: list[Entry],
    stats: PutStats,
    result: PushResult,
    progress: Progress | None,
    sealed: Iterator[tuple[str, Sealed]] | None = None,
) -> dict[str, Content]:
    total = sum(e.st.st_size for e in files)
    done = 0
    out: dict[str, Content] = {}
    small: list[Entry] = []
    if sealed is not None:  # the workers' files; the rest is read here
        small = [e for e in files if e.st.st_size <= sealing.SMALL_BYTES]
        files = [e for e in files if e.st.st_size > sealing.SMALL_BYTES]
    seen = [0]  # bytes read so far, also inside a large file still being read (progress only)
    seen_lock = threading.Lock()
    if progress is not None:
        progress(0, total)

        def count(n: int) -> None:
            with seen_lock:
                seen[0] += n

        reader.on_bytes = count
    top = str(root)
    tiny_lane = threading.Lock()

    def work(batch: list[Entry]) -> list[tuple[Content, str] | OSError]:
        # Tiny files are Python glue around C calls too short to gain from releasing the GIL:
        # two threads on them only trade the GIL (100,000 1 KiB files: 27 s on one lane,
        # 32 s on two). One lane for them; larger files still fill every core.
        if sum(e.st.st_size for e in batch) < TINY_FILE * len(batch):
            with tiny_lane:
                return _read_batch(batch)
        return _read_batch(batch)

    def _read_batch(batch: list[Entry]) -> list[tuple[Content, str] | OSError]:
        results: list[tuple[Content, str] | OSError] = []
        for e in batch:
            cancel.check()
            try:
                results.append(reader.read_consistent(f"{top}/{e.path}", e.st, stats))  # (not os.path.join: 1 us)
            except OSError as exc:
                results.append(exc)
        return results

    # stopping: an interrupted push must not wait for the queued files (nor a large file) to be read
    with cancel.stopping(ThreadPoolExecutor(CPU_WORKERS, thread_name_prefix="fog-read")) as pool:
        window: deque[tuple[list[Entry], Future[list[tuple[Content, str] | OSError]]]] = deque()
        batches = _batches(files)

        def fill() -> None:
            while len(window) < CPU_WORKERS * 4:
                batch = next(batches, None)
                if batch is None:
                    break
                window.append((batch, pool.submit(work, batch)))

        if sealed is not None:
            fill()  # the larger files are read on the pool while this thread stores what the workers sealed
            left, done = _take_sealed(reader.store, sealed, small, stats, result, out, progress, total)  # type: ignore[arg-type]
            batches = itertools.chain(batches, _batches(left))  # (what they returned nothing for)
        while True:
            fill()
            if not window:
                break
            batch, fut = window.popleft()
            while progress is not None:  # a large file: tell the bar how far its reading is, 4 times a second
                try:
                    fut.result(timeout=0.25)
                    break
                except TimeoutError:
                    progress(max(done, min(seen[0], total)), total)
            for e, read in zip(batch, fut.result(), strict=True):
                if isinstance(read, FileNotFoundError):
                    continue  # vanished during the scan: the next push records the deletion
                if isinstance(read, OSError):
                    result.skipped.append(f"{e.path}: {read.strerror or read}")
                    if read.errno not in (errno.EINVAL, errno.ELOOP):  # (became a FIFO or a symlink since the
                        result.unread.append(e.path)  # scan: not a failure, the next push records what it is)
                    continue
                content, how = read
                if not content.stable:  # (only without a snapshot directory: status and dry runs, where a
                    # push would record it from a copy: not an unread file)
                    result.skipped.append(f"{e.path}: changed while being read; a push records it from a copy")
                    continue
                if how in ("reflink", "copy"):
                    result.snapshots.append(e.path)
                out[e.path] = content
                result.files_read += 1
                result.bytes_read += content.size
                done += e.st.st_size
            if progress is not None:
                progress(max(done, min(seen[0], total)), total)
    return out


def _take_sealed(
    fan: FanoutStore,
    sealed: Iterator[tuple[str, Sealed]],
    files: list[Entry],
    stats: PutStats,
    result: PushResult,
    out: dict[str, Content],
    progress: Progress | None,
    total: int,
) -> tuple[list[Entry], int]:
    """Store what the workers sealed of `files` (each a small file); the files left to read here, bytes done.

    A file the workers returned nothing for (unreadable, changed, or the
    workers failed) is read in-process like any other.
    """
    left: list[Entry] = []
    done = 0
    for e in files:
        path, got = next(sealed)
        if path != e.path:
            raise FogError(f"internal error: the push's workers returned {path!r} for {e.path!r}")
        if got is None:
            left.append(e)
            continue
        object_id, size, stored = got
        if object_id is not None:
            fan.put_sealed(object_id, size, stored, stats)  # type: ignore[arg-type]
        out[e.path] = Content(object_id, 0, size, True)
        result.files_read += 1
        result.bytes_read += size
        done += size
        if progress is not None and not result.files_read & 1023:
            progress(done, total)
    return left, done


TINY_FILE = 4096  # a batch of files smaller than this on average runs in the tiny lane (see _read_all)


def _batches(files: list[Entry], count: int = 64, size: int = 4 << 20) -> Iterator[list[Entry]]:
    """Files in runs of up to `count` files or `size` bytes: one task each (a task per
    small file costs more in thread hand-offs than reading it)."""
    batch: list[Entry] = []
    held = 0
    for e in files:
        if batch and (len(batch) >= count or held + e.st.st_size > size):
            yield batch
            batch, held = [], 0
        batch.append(e)
        held += e.st.st_size
    if batch:
        yield batch


def _is_conflict_copy(path: str) -> bool:
    return ".fog-conflict-" in path and bool(CONFLICT_RE.search(path.rsplit("/", 1)[-1]))


def _change_for(
    db: RepoDB,
    txn: lmdb.Transaction,
    e: Entry,
    content: Content | None,
    scan_start: int,
    now: int,
    device: str,
    others: frozenset[str] = frozenset(),
) -> Change:
    head = db.head(e.path, txn)
    parent = head.id if head is not None else None
    s = e.st
    mode = st.S_IMODE(s.st_mode)
    conflict = _is_conflict_copy(e.path)  # (the literal first: the regex costs 0.25 us more a path)
    if e.kind == "file":
        assert content is not None
        v = Version(
            e.path,
            "file",
            content.size,
            mode,
            s.st_mtime_ns,
            now,
            device,
            parent=parent,
            content=content.root,
            depth=content.depth,
            conflict=conflict,
        )
    elif e.kind == "link":
        size = len(os.fsencode(e.target or ""))
        v = Version(
            e.path, "link", size, 0o777, s.st_mtime_ns, now, device, parent=parent, target=e.target, conflict=conflict
        )
    else:
        v = Version(e.path, "dir", 0, mode, 0, now, device, parent=parent)
    racy = is_racy(s.st_mtime_ns, scan_start)
    if head is not None and (same_state(head, v) or _bits_dropped(head, v, others)):
        stat = StatEntry(e.path, s.st_size, s.st_mtime_ns, s.st_ino, s.st_ctime_ns, s.st_mode, racy, head.id)
        return Change(e.path, "unchanged", None, stat)
    status = "added" if head is None or head.deleted else "modified"
    stat = StatEntry(e.path, s.st_size, s.st_mtime_ns, s.st_ino, s.st_ctime_ns, s.st_mode, racy, b"")
    return Change(e.path, status, v, stat)


def _bits_dropped(head: Version, v: Version, others: frozenset[str]) -> bool:
    """Whether `v` is another user's `head` as a pull left it here: its setuid and setgid bits dropped."""
    return (
        head.device in others
        and v.mode == head.mode & 0o1777
        and (v.kind, v.content, v.depth, v.size, v.target)
        == (head.kind, head.content, head.depth, head.size, head.target)
    )


class FanoutStore:
    """Packs new objects once and puts every pack to each healthy remote that lacks them.

    Quacks like ShareStore.put for FileReader. An object goes into a pack for
    the remotes not known to hold it: usually every remote, so one pack is
    built and put to each; an object only a lagging remote lacks goes into a
    pack for that remote alone (a remote that has it is never sent it again).
    A remote that fails drops out and the others carry on. Children are
    packed before the manifest nodes naming them, and no batch is published
    before every pack is flushed and synced.
    """

    def __init__(self, ctxs: list[Context]) -> None:
        self.ctxs = list(ctxs)
        self.failed: dict[str, str] = {}
        self.errors: dict[str, RemoteError] = {}
        self.stats = {ctx.remote_name: PutStats() for ctx in ctxs}
        self._lock = threading.Lock()
        self.store = ctxs[0].store  # keys and encoding are the same for every remote
        self.mac = self.store.keys.mac
        self._packers: dict[tuple[str, ...], Packer] = {}
        for ctx in list(self.ctxs):
            try:
                ctx.remote.allow_packs()
            except RemoteError as exc:
                self.drop(ctx, exc)

    def put(self, data: bytes | memoryview, stats: PutStats | None = None) -> bytes:
        object_id = self.mac(data)
        packer = self._claim(object_id, len(data), stats)
        if packer is not None:
            packer.add(object_id, self.store.encode(object_id, data))
        return object_id

    def put_sealed(self, object_id: bytes, size: int, stored: bytes, stats: PutStats | None = None) -> None:
        """`put` of an object already named and sealed (by a worker process: fog.sync.sealers)."""
        packer = self._claim(object_id, size, stats)
        if packer is not None:
            packer.add(object_id, stored)

    def _claim(self, object_id: bytes, size: int, stats: PutStats | None) -> Packer | None:
        """Count a put and claim the object for each remote lacking it; the packer to add it to, if any."""
        if stats is not None:
            stats.blocks += 1
            stats.plain_bytes += size
        lacking: list[str] = []
        with self._lock:
            if not self.ctxs:
                raise self.all_failed()
            for ctx in self.ctxs:
                if ctx.store.presence.claim(object_id):  # claimed: another thread will not pack it again
                    lacking.append(ctx.remote_name)
                else:
                    self.stats[ctx.remote_name].deduped_bytes += size
            return self._packer(tuple(lacking)) if lacking else None

    def _packer(self, names: tuple[str, ...]) -> Packer:
        """The packer whose packs go to exactly these remotes (call with the lock held)."""
        packer = self._packers.get(names)
        if packer is None:
            hints = [c.store.write_concurrency for c in self.ctxs if c.remote_name in names]
            in_flight = min((h for h in hints if h is not None), default=None) if None not in hints else None
            limits = [c.store.max_object for c in self.ctxs if c.remote_name in names]
            packer = self._packers[names] = Packer(
                self.store.keys.pack_key,
                lambda data, index: self._ship(names, data, index),
                in_flight=in_flight,
                limit=min((x for x in limits if x is not None), default=None),
            )
        return packer

    def flush(self) -> None:
        """Ship every partial pack and wait for every upload; raise the first upload failure."""
        first: BaseException | None = None
        for packer in list(self._packers.values()):
            try:
                packer.flush()
            except RemoteError as exc:
                first = first or exc
        if first is not None:
            raise first

    def _ship(self, names: tuple[str, ...], data: bytes, index: PackIndex) -> None:
        for ctx in list(self.ctxs):
            if ctx.remote_name not in names:
                continue
            try:
                ctx.store.put_pack(data, index)
            except RemoteError as exc:
                self.drop(ctx, exc)
                continue
            s = self.stats[ctx.remote_name]
            s.uploaded += len(index)
            s.uploaded_bytes += len(data)
        if not self.ctxs:
            raise self.all_failed()

    def drop(self, ctx: Context, exc: RemoteError) -> None:
        with self._lock:
            if ctx in self.ctxs:
                self.ctxs.remove(ctx)
                self.failed[ctx.remote_name] = str(exc)
                self.errors[ctx.remote_name] = exc

    def all_failed(self) -> RemoteError:
        """The error to raise once every remote dropped out: a lone remote's own, else a summary."""
        if len(self.errors) == 1:
            return next(iter(self.errors.values()))
        kind = ReadOnlyRemote if all(isinstance(e, ReadOnlyRemote) for e in self.errors.values()) else RemoteError
        return kind("every remote failed: " + "; ".join(f"{k}: {v}" for k, v in self.failed.items()))


def publish(
    ctx: Context,
    sources: list[Context],
    fresh: dict[bytes, Version] | None = None,
    copied: CopyStats | None = None,
    held: dict[str, str] | None = None,
    readers: Readers | None = None,
) -> int | None:
    """Publish this remote's pending versions and forgets as one batch; returns its number.

    `fresh` holds versions this process just recorded and put on every remote
    still in the push: complete there by construction. Every other pending
    version (the remote missed it, or was just added) is made complete first,
    copying what the remote lacks from the other remotes (fog.sync.replicate);
    `copied` adds up what that sent. A version that cannot be made complete
    there stays queued, the others go: `held` (remote -> why) says so.
    `readers`: more remotes to copy from, only read (a push to one named remote
    reads the share's other remotes), opened when the sources lack something.
    """
    db = ctx.share.db
    ids = db.pending(ctx.remote_name)
    forgets = db.pending_forgets(ctx.remote_name)
    seq, chain = db.cursor(ctx.remote_name, ctx.log)
    if seq == 0 and ids:  # this device's first batch here: what other devices' logs carry is not published again
        config = ctx.ident.cached_config()
        there = replicate.carried(ctx.store, ctx.user_secrets, dict(config.devices) if config else {}, ctx.log)
        if there & set(ids):
            with db.write() as txn:
                db.clear_pending(txn, ctx.remote_name, [i for i in ids if i in there])
            ids = [i for i in ids if i not in there]
    # Prune intents (docs/FORMAT.md, section 14). What this batch acknowledges must have been
    # known before anything it names was found present: intents observed at the start of the
    # push, or now if every version is checked below. A device with a log here acknowledges a
    # new one in its next batch (the pruner waits for it and reads this one first); a device
    # without one has nothing to acknowledge in yet, so its first batch is checked whole, and
    # the intents are listed again right before it is written, until none is new.
    acks = prune.unacked(ctx)
    if prune.observe(ctx) and (seq == 0 or not fresh):
        fresh = None
        acks = prune.unacked(ctx)
    if not ids and not forgets and (not acks or seq == 0):  # (no log here: nothing to acknowledge, see above)
        return None
    fresh = fresh or {}
    versions = [v for v in (fresh.get(i) or db.version(i) for i in ids) if v is not None]
    others = [s.store for s in sources if s is not ctx]
    stale = [v for v in versions if v.id not in fresh]
    blocked: set[bytes] = set()
    why = ""
    while True:
        for start in range(0, len(stale), CHUNK_FILES):  # memory follows a chunk of trees, not the history
            chunk = stale[start : start + CHUNK_FILES]
            sent, lacked = replicate.complete(ctx.store, chunk, others, ctx.remote_name)
            more = [] if lacked is None or readers is None else [r for r in readers() if r not in others]
            if more:  # (what was sent is on the target now: the second pass copies only the rest)
                others += more
                again, lacked = replicate.complete(ctx.store, chunk, others, ctx.remote_name)
                sent = CopyStats(sent.objects + again.objects, sent.bytes + again.bytes, sent.packs + again.packs)
            if copied is not None:
                copied.objects += sent.objects
                copied.bytes += sent.bytes
                copied.packs += sent.packs
            if lacked is not None:
                blocked |= lacked.ids
                why = why or lacked.message
        if blocked:  # they wait in the queue, and so do the versions made from them; the rest is published
            # (only behind one another remote carries: one published nowhere, e.g. its objects pruned after a
            # killed push, may never be published, and must not hold the path's new work back for good)
            # (nor behind one stranded on a store no longer used, which the user was told of: fog.sync.stranded)
            others_q = [n for n in ctx.share.config.queued_remotes() if n != ctx.remote_name]
            queues = [set(db.pending(n)) for n in others_q]
            left = stranded.held(ctx.share)
            carried_elsewhere = {i for i in blocked if any(i not in q for q in queues) or i in left}
            behind = replicate.behind(versions, carried_elsewhere)
            gone = blocked | behind
            versions = [v for v in versions if v.id not in gone]
            ids = [i for i in ids if i not in gone]
            if held is not None:
                held[ctx.remote_name] = (
                    why
                    + (f"; {len(behind)} later version(s) of the same path(s) wait behind them" if behind else "")
                    + stranded_text(blocked, left)
                )
        if seq:
            break
        ensure_listed(ctx.ident, ctx.remote)  # first batch here: others accept it only if the remote lists us
        if not prune.observe(ctx):
            break
        stale, acks = versions, prune.unacked(ctx)  # an intent appeared during the catch-up: check again
    if not ids and not forgets and (not acks or seq == 0):  # everything waits: no empty batch
        return None
    return _put_batch(ctx, seq, chain, tuple(versions), ids, tuple(acks), tuple(forgets))


def stranded_text(blocked: set[bytes], left: dict[bytes, tuple[str, str]]) -> str:
    """What a push says of the held versions that only a store no longer used holds ("" if none)."""
    where: dict[tuple[str, str], int] = {}
    for i in blocked:
        if i in left:
            where[left[i]] = where.get(left[i], 0) + 1
    return "".join(
        f"; {n} of them only {url} holds (remote {name} until it was removed or moved): `fog remote add` it "
        "again (under its name, or another if the name is used) and a push copies them over"
        for (name, url), n in sorted(where.items())
    )


def acknowledge(ctx: Context) -> int | None:
    """Publish a batch of acknowledgements alone, for the prune intents observed here (section 14).

    Only where this device has a log (a device without one has nothing in flight to vouch
    for), and only while no version waits in the outbox for this remote: such a version (a
    push stopped after recording it, a pull's conflict copy, a relay) was decided before the
    intent, and its objects may be only in the condemned packs (a conflict copy's content
    may be a forgotten version's). Acknowledged now, a collection could delete them before
    the next push publishes it; that push checks it object by object first, copying what is
    condemned into packs that stay (catch-up, `publish`), and acknowledges in the same batch."""
    db = ctx.share.db
    seq, chain = db.cursor(ctx.remote_name, ctx.log)
    acks = prune.unacked(ctx)
    if not seq or not acks or db.pending(ctx.remote_name):
        return None
    try:
        return _put_batch(ctx, seq, chain, (), [], tuple(acks))
    except ReadOnlyRemote:
        return None  # the next push that can write acknowledges them


def _put_batch(
    ctx: Context,
    seq: int,
    chain: bytes | None,
    versions: tuple[Version, ...],
    ids: list[bytes],
    acks: tuple[str, ...],
    forgets: tuple[bytes, ...] = (),
) -> int:
    """Seal and publish batch seq + 1 (objects durable first), then record it: cursor, outboxes, acknowledgements."""
    keyring.ensure_not_rotated(ctx.remote, ctx.ident)  # (a rotation during this push: its epoch is stale)
    db = ctx.share.db
    batch = EventBatch(
        ctx.keys.locator,
        ctx.log,
        ctx.ident.device_id,
        seq + 1,
        chain,
        time.time_ns(),
        versions,
        forgets=forgets,
        acks=acks,
    )
    if batch.acks or batch.forgets:
        ctx.remote.allow_prune()  # a fog that does not know them must not write here (section 14)
    signer_listed(ctx)
    # the remote's SyncConfig lists every device whose versions the batch relays (and holds every change
    # of the settings this device knows: a remote that was down when one was made gets it now)
    keyring.ensure_held(ctx)
    ctx.remote.allow_signed()  # a fog that knows only unsigned batches must not read or write here (section 9)
    stored = seal_batch(ctx.ident.sign_secret, ctx.keys, batch)
    ctx.store.publish_batch(ctx.log, seq + 1, stored)  # syncs objects first
    with db.write() as txn:
        db.set_cursor(txn, ctx.remote_name, ctx.log, seq + 1, chain_hash(stored))
        pushes.record(
            txn,
            db.db["batches"],
            chain_hash(stored),
            ctx.remote_name,
            seq + 1,
            batch.device,
            batch.time_ns,
            [v.id for v in versions],
        )
        db.clear_pending(txn, ctx.remote_name, ids)
        db.clear_pending_forgets(txn, ctx.remote_name, forgets)
        prune.mark_acked(ctx, txn, acks)
        ctx.commit_presence(txn)
    return seq + 1


def signer_listed(ctx: Context) -> None:
    """Make sure the remote's SyncConfig lists this device's signing key before it signs anything there.

    Readers verify a signed batch or prune record under the key the SyncConfig
    lists for its device; a device made before signing keys published none.
    Checked once per remote (the share database remembers it): a key, once
    listed, stays in every merge.
    """
    key = f"signer-listed\0{ctx.remote_name}\0{ctx.remote.url}"
    if ctx.share.db.get_meta(key) is None:
        ensure_listed(ctx.ident, ctx.remote)
        ctx.share.db.put_meta(key, b"1")


Syncs = list[tuple[Context, "Future[None]"]]


def _start_sync(fan: FanoutStore, pool: ThreadPoolExecutor, changes: list[Change]) -> Syncs:
    """Ship the chunk's last pack and, if it has changes to record, start making every remote durable.

    Called as soon as the chunk's files are read: the wait for the disk (or
    the remote) overlaps sealing the versions and preparing the transaction.
    """
    try:
        fan.flush()
    except RemoteError:
        pass  # every remote failed: reported by _commit
    return [(ctx, pool.submit(ctx.store.backend.sync)) for ctx in fan.ctxs] if changes else []


def _record(
    fan: FanoutStore,
    live: list[Context],
    changes: list[Change],
    versions: list[Version],
    result: PushResult,
    syncs: Syncs,
    readers: Readers | None = None,
) -> None:
    """Record one chunk's changes once its objects are durable, publish them as a batch on each remote."""
    if changes:
        _commit(fan, live[0].share, changes, versions, result, syncs)
    fresh = {v.id: v for v in versions}
    for ctx in live:
        if ctx.remote_name in result.remote_errors:
            continue
        try:
            sources = [c for c in live if c.remote_name not in result.remote_errors]
            n = publish(ctx, sources, fresh, result.copied, result.held, readers)
            if n is not None:
                result.batches[ctx.remote_name] = n
                result.batch = n
        except (RemoteError, IntegrityError) as exc:  # (refused data there: exit 4, the others go on)
            result.remote_errors[ctx.remote_name] = failure(exc)


def _commit(
    fan: FanoutStore, share: Share, changes: list[Change], versions: list[Version], result: PushResult, syncs: Syncs
) -> None:
    """Objects durable on every remote, then one local transaction recording the chunk.

    Objects must be durable before the database records them (and long before
    a batch names them): the database writes are prepared while the remotes
    sync (`syncs`, from _start_sync), and committed only after every sync returned.
    """
    db = share.db
    with db.write() as txn:
        db.add_unknown_versions(txn, versions)  # made by this push: nothing to look up
        db.put_stats(txn, [(c.stat, None if c.version is None else c.version.id) for c in changes if c.stat])
        for c in changes:
            if c.stat is None and c.status == "deleted":
                db.drop_stat(txn, c.path)
        db.add_pending(txn, share.config.queued_remotes(), [v.id for v in versions])
        for ctx, fut in syncs:
            try:
                fut.result()
            except RemoteError as exc:
                fan.drop(ctx, exc)
        result.remote_errors.update(fan.failed)
        if not fan.ctxs:  # raised inside the transaction: nothing is recorded
            raise fan.all_failed()
        for ctx in fan.ctxs:
            # (raised inside the transaction: nothing is recorded) the chunk is sealed with the epoch
            # the push began in; recorded, its versions would wait in the outbox and a later push would
            # publish them, naming what the revoked device can read
            keyring.ensure_not_rotated(ctx.remote, ctx.ident)
            ctx.commit_presence(txn, locs=False)  # the packs' places: once, at the end of the push


Readers = Callable[[], list[ShareStore]]  # more remotes to read from, opened on the first call (see `publish`)

UNFINISHED = "push-unfinished\0"  # meta key (+ remote name): a push may have put packs there it never recorded


def resume(db: RepoDB, ctxs: list[Context], *, uploading: bool) -> None:
    """Reuse what an interrupted push already put, and mark this one as under way.

    A push stopped by Ctrl-C, SIGTERM, kill -9, a crash or a failing remote
    leaves packs on the remotes that no batch names and the database never
    recorded. The next push finds the mark this one leaves until it ends,
    lists each remote's packs once and learns their headers
    (`ShareStore.scan_packs`): their objects count as present, so they are
    not uploaded again, and the batch that names them first makes them
    durable (`publish_batch`, `sync(every=True)`).
    """
    for ctx in ctxs:
        if db.get_meta(UNFINISHED + ctx.remote_name) is not None:
            # an earlier push put packs here and may have recorded their objects as present
            # without making them durable: the first batch here makes the remote durable first
            ctx.store.adopted = True
            try:
                ctx.store.scan_packs(confirm=True)
            except RemoteError:
                pass  # the push itself reports this remote
    if uploading:
        with db.write() as txn:
            for ctx in ctxs:
                txn.put((UNFINISHED + ctx.remote_name).encode(), b"", db=db.db["meta"])


def _check_deletions(
    db: RepoDB, changes: list[Change], candidates: Candidates, limit: DeleteLimit, *, dry_run: bool = False
) -> None:
    """Refuse to publish a mass deletion of files (directories do not count); a dry run is refused as the
    push would be. A file moved to another path of the share is not a deletion (renaming a directory
    of 30 files is not 30 files lost)."""
    if not any(c.status == "deleted" and c.version is not None for c in changes):
        return
    entries = db.stat_entries()
    tracked = sum(1 for e in entries.values() if not st.S_ISDIR(e.mode))
    gone = [
        e
        for c in changes
        if c.status == "deleted" and c.version is not None and (e := entries.get(c.path)) and not st.S_ISDIR(e.mode)
    ]
    if len(gone) <= limit.allowed(tracked):
        return
    count = len(gone) - candidates.moved_from(gone)
    limit.check(count, tracked, "publish", verb="the push would refuse" if dry_run else "refusing")


def push(
    ctxs: list[Context],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    failed: dict[str, str] | None = None,
    max_delete: DeleteLimit | None = None,
    sealers: Sealers | None = None,
    readers: Readers | None = None,
) -> PushResult:
    """Record the working tree's changes and publish them on every remote.

    `failed` names remotes that could not even be opened. A remote failing
    part-way drops out; the others carry on. Nothing is recorded unless at
    least one remote holds every new object; lagging remotes catch up on a
    later push (their versions stay queued in the outbox). `sealers`: worker
    processes forked for this push (fog.sync.sealers), used if it finds at
    least SMALL_FILES small files to read, else stopped; the caller ends them.
    `readers`: the share's remotes outside this push, read (never written) to
    catch a remote up (a push to one named remote: see `publish`).
    """
    t0 = time.monotonic()
    share, ident, keys = ctxs[0].share, ctxs[0].ident, ctxs[0].keys
    db = share.db
    before = db.pages()  # an initial push writes most of the database: then it is repacked (RepoDB.repack_grown)
    result = PushResult(",".join(c.remote_name for c in ctxs), dry_run)
    result.remote_errors = dict(failed or {})
    live: list[Context] = []
    for ctx in ctxs:
        try:
            if not dry_run:
                catch_up_own_log(ctx, [c.store for c in ctxs], readers, result.copied)
                prune.observe(ctx)  # before anything counts as present: condemned packs do not
            live.append(ctx)
        except (RemoteError, IntegrityError) as exc:
            # refused data there (this device's own log rolled back, a batch that does not verify): that
            # remote is reported (exit 4) and left out; the others still get this push
            result.remote_errors[ctx.remote_name] = failure(exc)
    if not live:
        raise none_left(result.remote_errors)
    fan = None if dry_run else FanoutStore(live)
    stats = PutStats()
    scan_start = time.time_ns()
    d = scan_tree(share.root, db, result, share.fenced)
    # The versions of chunk n carry the time now + n (the deletions go with the last chunk): the batches
    # of one push read as one (fog.repo.trees), and each chunk's records still sort after the last's
    now = time.time_ns()
    gone = deletions(db, d.gone, ident.device_id, now + max(1, -(-len(d.candidates) // CHUNK_FILES)) - 1)
    gone += [Change(p, "deleted", None, None) for p in d.ignored_gone]  # (forgotten here, never published)
    # before anything is read or uploaded: a refused mass deletion costs nothing (a dry run says it too)
    _check_deletions(db, gone, d.candidates, max_delete or DeleteLimit.parse(None), dry_run=dry_run)
    if fan is not None:
        resume(db, fan.ctxs, uploading=len(d.candidates) > 0)
    reader = FileReader(keys, fan, None if fan is None else str(share.tmp_dir()))  # type: ignore[arg-type]
    sealed = None
    if sealers is not None:
        many = d.candidates.count_small(sealing.SMALL_BYTES) >= sealing.SMALL_FILES
        if fan is not None and many and sealers.fits(fan.store.keys):
            sealed = sealers.stream(str(share.root), d.candidates.small_files(sealing.SMALL_BYTES))
        else:
            sealers.close()  # (too few files to gain from them, or keys rotated since they were forked)
    with cancel.stopping(ThreadPoolExecutor(max(1, len(live)), thread_name_prefix="fog-sync")) as syncer:
        _push_chunks(
            d.candidates,
            gone,
            reader,
            share,
            live,
            fan,
            scan_start,
            now,
            stats,
            result,
            progress,
            syncer,
            sealed,
            readers,
        )
    if sealers is not None:
        sealers.close()  # (before the database is indexed and repacked: their memory goes back now)
    if fan is not None:
        if any(s.uploaded for s in fan.stats.values()):
            # new packs: indexing them touches most of `locs`; the last chunk's mapped pages and freed memory go first
            db.remap()
            release_free_memory()
        with db.write() as txn:
            db.index_packs(txn)  # one pass over `locs` instead of one per chunk (RepoDB.add_pack)
            for ctx in live:
                if ctx.remote_name not in result.remote_errors:
                    db.drop_meta(txn, UNFINISHED + ctx.remote_name)  # it took the whole push
        result.objects_uploaded = sum(s.uploaded for s in fan.stats.values()) + result.copied.objects
        result.bytes_uploaded = sum(s.uploaded_bytes for s in fan.stats.values()) + result.copied.bytes
        result.bytes_deduped = fan.stats[live[0].remote_name].deduped_bytes
        db.repack_grown(before)
    for name, why in result.held.items():  # (published what it could: a failure all the same, exit 1)
        result.remote_errors.setdefault(name, why)
    result.seconds = time.monotonic() - t0
    return result


def _push_chunks(
    candidates: Candidates,
    gone: list[Change],
    reader: FileReader,
    share: Share,
    live: list[Context],
    fan: FanoutStore | None,
    scan_start: int,
    now: int,
    stats: PutStats,
    result: PushResult,
    progress: Progress | None,
    syncer: ThreadPoolExecutor,
    sealed: Iterator[tuple[str, Sealed]] | None = None,
    readers: Readers | None = None,
) -> None:
    """Read, record and publish each chunk in turn (see CHUNK_FILES); a chunk's entries exist only while it runs."""
    db, device = share.db, live[0].ident.device_id
    total = candidates.file_bytes()
    starts = range(0, len(candidates), CHUNK_FILES) or range(1)
    base = 0
    for n, start in enumerate(starts):
        cancel.check()
        chunk = candidates[start : start + CHUNK_FILES]
        sized = candidates.file_bytes(start, start + CHUNK_FILES)
        step = None if progress is None else (lambda done, _t, b=base: progress(b + done, total))  # type: ignore[misc]
        changes = changes_for(
            reader, share.root, db, chunk, scan_start, device, stats, result, step, sealed, live[0].others, now + n
        )
        base += sized
        if n == len(starts) - 1:
            changes += gone
        syncs = _start_sync(fan, syncer, changes) if fan is not None else []
        versions = []
        for c in changes:
            if c.version is not None:
                c.version = live[0].seal_version(c.version)
                versions.append(c.version)
                {"added": result.added, "modified": result.modified, "deleted": result.deleted}[c.status].append(c.path)
        if fan is not None:
            _record(fan, live, changes, versions, result, syncs, readers)
        del changes, versions, chunk, syncs
        if n < len(starts) - 1:
            db.remap()  # drop the pages this chunk mapped (see RepoDB.remap)
