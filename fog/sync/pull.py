"""pull: read every device's new batches, verify them, apply them path by path.

Order: refresh the SyncConfig; verify batches (nothing is applied from a
device whose log fails verification); plan each path (fog.sync.merge); write
files atomically; then commit history, heads, stat index and cursors in one
transaction. A pull killed part-way leaves files that already equal their new
version, which the re-run recognises, so running it again ends in the same
state.
"""

from __future__ import annotations

import json
import os
import stat as st
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fog import cancel
from fog.backends.local import flushing, syncfs
from fog.crypto.keys import device_log_name
from fog.errors import FogError, IntegrityError
from fog.format.syncconfig import SyncConfig
from fog.format.version import Version, in_fog_dir
from fog.repo.db import RepoDB, StatEntry
from fog.store import PutStats
from fog.sync.content import FileReader, read_workers, stage_version, write_version
from fog.sync.context import Context, staging_dir, sweep_staging
from fog.sync.guard import DeleteLimit
from fog.sync.logs import read_log
from fog.sync.merge import Plan, conflict_name, conflict_version, plan_path
from fog.sync.push import RACY_NS, catch_up_own_log
from fog.sync.remotes import reconcile
from fog.sync.restore import safe_parent


@dataclass
class PullResult:
    remote: str
    batches: int = 0
    versions: int = 0
    updated: list[str] = field(default_factory=list)
    bytes_written: int = 0  # file bytes written into the share
    deleted: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # conflict copies written
    kept: list[str] = field(default_factory=list)  # local edits kept over incoming changes
    problems: list[str] = field(default_factory=list)  # refused devices (integrity)
    skipped: list[str] = field(default_factory=list)  # versions never written here, and why
    remote_errors: dict[str, str] = field(default_factory=dict)  # remotes that failed, and why
    remotes_added: list[str] = field(default_factory=list)  # learnt from the SyncConfig: used from now on
    remotes_removed: list[str] = field(default_factory=list)  # removed by another device
    seconds: float = 0.0

    def absorb(self, other: PullResult) -> None:
        """Add another remote's pull to this report."""
        self.batches += other.batches
        self.versions += other.versions
        for name in (
            "updated",
            "deleted",
            "conflicts",
            "kept",
            "problems",
            "skipped",
            "remotes_added",
            "remotes_removed",
        ):
            getattr(self, name).extend(x for x in getattr(other, name) if x not in getattr(self, name))
        self.remote_errors.update(other.remote_errors)
        self.seconds += other.seconds
        self.bytes_written += other.bytes_written


def refresh_config(ctx: Context) -> SyncConfig:
    """Merge the remote's SyncConfig into this device's cached copy."""
    cached, merged = ctx.ident.cached_state()
    if cached is None:
        merged = set()
    # versions the cached copy already holds are not fetched again: on a remote with
    # a version per device ever joined, that was a GET each at every pull
    found, names = ctx.remote.load_config(ctx.ident.master_key, known=merged, base=cached)
    key = f"config-seen\0{ctx.remote_name}"
    seen = set(json.loads(ctx.share.db.get_meta(key) or b"[]"))
    gone = seen - set(names) - set(found.supersedes if found else ())
    if gone:
        raise IntegrityError(
            f"{len(gone)} SyncConfig version(s) seen before are gone from {ctx.remote.url}: the remote was rolled back"
        )
    config = found if found is not None else cached  # found holds cached merged in
    if config is None:
        raise FogError("no SyncConfig known for this user; re-run 'fog clone'")
    if config != cached or not merged >= set(names):
        ctx.ident.cache_config(config, merged | set(names))
    if set(names) - seen:
        ctx.share.db.put_meta(key, json.dumps(sorted(seen | set(names))).encode())
    return config


@dataclass
class Incoming:
    device: str
    log: str
    seq: int
    chain: bytes
    versions: tuple[Version, ...]


def collect(ctx: Context, config: SyncConfig, result: PullResult) -> list[Incoming]:
    """Verified new batches of every other device, oldest first per device."""
    share_hex = ctx.keys.share_id.hex()
    by_log = {
        device_log_name(ctx.keys.share_id, bytes.fromhex(d["public"])): (did, d) for did, d in config.devices.items()
    }
    out: list[Incoming] = []
    remote_logs = ctx.store.list_logs()
    # Every listed device's log is checked, also when it vanished from the remote
    # entirely: a cursor above 0 then proves the remote was rolled back.
    for log in sorted(remote_logs.keys() | by_log.keys()):
        seqs = remote_logs.get(log, [])
        if log == ctx.log:
            continue
        if log not in by_log:
            result.problems.append(
                f"log {log[:12]} on {ctx.remote.url} belongs to no device in the SyncConfig; refused"
            )
            continue
        did, dev = by_log[log]
        cursor = ctx.share.db.cursor(ctx.remote_name, log)
        limit = None
        if dev.get("revoked"):
            # The revoking device set the limit only for the share it ran in; in any
            # other share, accept nothing beyond what this device had already read.
            limit = (dev.get("revoked_seq") or {}).get(share_hex, cursor[0])
        got: list[Incoming] = []
        try:
            for vb in read_log(
                ctx.store,
                ctx.ident.user_secret,
                bytes.fromhex(dev["public"]),
                log,
                dev.get("name", did[:8]),
                cursor,
                seqs,
            ):
                if limit is not None and vb.seq > limit:
                    # Batches up to the limit were accepted before the revocation and stay valid.
                    out.extend(got)
                    got = []
                    raise IntegrityError(
                        f"device {dev.get('name')!r} is revoked; its batches after {limit} are refused"
                    )
                if not dev.get("trusted", True):
                    raise IntegrityError(f"device {dev.get('name')!r} is not trusted; its batches are refused")
                for v in vb.batch.versions:
                    # A version may be relayed by another device (seeding a new remote); its id,
                    # an HMAC under the share key, proves a trusted device made it.
                    if v.device not in config.devices or ctx.version_id(v) != v.id:
                        raise IntegrityError(f"batch {vb.seq} of {dev.get('name')!r} holds a forged version")
                got.append(Incoming(did, log, vb.seq, vb.chain, vb.batch.versions))
        except IntegrityError as exc:
            result.problems.append(str(exc))
            continue  # nothing from a suspect device
        out.extend(got)
    return out


class LocalState:
    """Lazy view of one working-tree path relative to the stat index."""

    def __init__(self, ctx: Context, path: str, entry: StatEntry | None) -> None:
        self.ctx, self.path, self.entry = ctx, path, entry
        self.full = os.path.join(ctx.share.top, path)  # a str: pathlib costs more than the syscalls here
        try:
            self.st: os.stat_result | None = os.lstat(self.full)
        except FileNotFoundError:
            self.st = None
        self._sig: tuple | None = None

    def signature(self) -> tuple | None:
        """(kind, mode, content, depth, size, target) of the working entry."""
        if self._sig is None and self.st is not None:
            s = self.st
            mode = st.S_IMODE(s.st_mode)
            if st.S_ISDIR(s.st_mode):
                self._sig = ("dir", mode, None, 0, 0, None)
            elif st.S_ISLNK(s.st_mode):
                target = os.readlink(self.full)
                self._sig = ("link", 0o777, None, 0, len(os.fsencode(target)), target)
            elif st.S_ISREG(s.st_mode):
                c = FileReader(self.ctx.keys, None).read(self.full, s, PutStats())
                self._sig = ("file", mode, c.root, c.depth, c.size, None)
            else:
                self._sig = ("special", 0, None, 0, 0, None)
        return self._sig

    def matches(self, v: Version) -> bool:
        if self.st is None:
            return v.kind == "deleted"
        return self.signature() == (v.kind, v.mode, v.content, v.depth, v.size, v.target)

    def dirty(self) -> bool:
        """Holds a change fog never recorded (a missing file counts as clean)."""
        if self.st is None:
            return False
        if self.entry is None:
            return not st.S_ISDIR(self.st.st_mode)
        if st.S_ISDIR(self.st.st_mode):
            return not stat_dir(self.entry)
        if self.entry.matches(self.st):
            return False
        base = self.ctx.share.db.version(self.entry.version)
        return base is None or not self.matches(base)


REBUILT = "rebuilt-around-files"  # meta key: set by `fog clone --into-existing`, dropped by its pull


def _untracked(
    plan: Plan,
    local: LocalState,
    head: Version | None,
    incoming: list[Version],
    lookup: Callable[[bytes], Version | None],
    db: RepoDB,
) -> Plan:
    """The plan for a file found in a directory that `fog clone --into-existing` rebuilt `.fog/` around.

    Nobody knows which version it was edited from, so: a file that holds an
    older version of its path is stale (nothing of it is lost when the head
    replaces it, the usual plan for a clean file); any other is a local
    change, kept, and published by the next push on top of the head. The
    incoming head goes beside it as a conflict copy only when it is newer
    than the file (the remote moved on after the file was last written).
    """
    assert local.st is not None
    if not st.S_ISDIR(local.st.st_mode) and any(
        local.matches(v) for v in (*incoming, *db.path_history(local.path)) if v.kind != "deleted"
    ):
        return plan_path(plan.path, head, incoming, lookup, False, local.matches)
    cur = plan.head
    if cur is not None and cur.time_ns <= local.st.st_mtime_ns:
        plan.conflicts = [v for v in plan.conflicts if v.id != cur.id]
    return plan


_IN_FOG_DIR = "not written: a path inside a .fog directory is never synced"


def stat_dir(entry: StatEntry) -> bool:
    return st.S_ISDIR(entry.mode)


def pull(ctx: Context, *, max_delete: DeleteLimit | None = None) -> PullResult:
    t0 = time.monotonic()
    result = PullResult(ctx.remote_name)
    config = refresh_config(ctx)
    reconciled = reconcile(ctx.share, ctx.ident, config, ctx.remote)
    result.remotes_added += reconciled.added
    result.remotes_removed += reconciled.removed
    catch_up_own_log(ctx)
    sweep_staging(ctx)
    incoming = collect(ctx, config, result)
    names = {did: d.get("name", did[:8]) for did, d in config.devices.items()}
    db = ctx.share.db
    by_path: dict[str, list[Version]] = {}
    carried: list[bytes] = []  # known versions this remote's logs carry: nothing to publish there again
    with db.read() as txn:  # one transaction for every lookup
        for inc in incoming:
            result.batches += 1
            for v in inc.versions:
                if in_fog_dir(v.path):
                    result.skipped.append(f"{v.path}: {_IN_FOG_DIR}")
                elif not db.has_version(v.id, txn):
                    by_path.setdefault(v.path, []).append(v)
                else:
                    carried.append(v.id)
    result.versions = sum(len(vs) for vs in by_path.values())
    pending = {v.id: v for vs in by_path.values() for v in vs}

    def lookup(version_id: bytes) -> Version | None:
        return pending.get(version_id) or db.version(version_id)

    entries = db.stat_entries()
    rebuilt = db.get_meta(REBUILT) is not None  # `fog clone --into-existing`: files with no stat entry
    stat_updates: dict[str, StatEntry | None] = {}
    heads: list[Version] = []
    plans: list[tuple[Plan, LocalState]] = []
    for path in sorted(by_path):
        cancel.check()
        local = LocalState(ctx, path, entries.get(path))
        head = db.head(path)
        plan = plan_path(path, head, by_path[path], lookup, local.dirty(), local.matches)
        if rebuilt and plan.kept_local and local.entry is None:
            plan = _untracked(plan, local, head, by_path[path], lookup, db)
        plans.append((plan, local))
    doomed = sum(
        1
        for plan, local in plans
        if plan.write is not None
        and plan.write.kind == "deleted"
        and local.st is not None
        and not st.S_ISDIR(local.st.st_mode)
    )
    tracked = sum(1 for e in entries.values() if not st.S_ISDIR(e.mode))
    (max_delete or DeleteLimit.parse(None)).check(doomed, tracked, "apply")
    scan_start = time.time_ns()
    files: list[tuple[Plan, LocalState]] = []
    for plan, local in plans:  # parents before children
        cancel.check()
        if plan.head is not None:
            heads.append(plan.head)
        if plan.adopt_local and plan.head is not None and local.st is not None:
            stat_updates[plan.path] = _entry(plan.path, local.st, plan.head.id, scan_start)
        if plan.kept_local:
            result.kept.append(plan.path)
        if plan.write is not None and plan.write.kind == "dir":
            _make_dir(ctx, plan.write, local)
            stat_updates[plan.path] = _entry(plan.path, os.lstat(local.full), plan.write.id, scan_start)
            result.updated.append(plan.path)
        elif plan.write is not None and plan.write.kind != "deleted":
            files.append((plan, local))
    for plan, local in _write_files(ctx, files):
        assert plan.write is not None
        stat_updates[plan.path] = _entry(plan.path, os.lstat(local.full), plan.write.id, scan_start)
        result.updated.append(plan.path)
        result.bytes_written += plan.write.size if plan.write.kind == "file" else 0
    copies = _write_conflicts(ctx, plans, by_path, names, stat_updates, scan_start, result)
    heads += copies
    for plan, local in reversed(plans):  # children before parents
        if plan.write is not None and plan.write.kind == "deleted":
            existed = local.st is not None
            if _remove(ctx, local):
                stat_updates[plan.path] = None
                if existed:
                    result.deleted.append(plan.path)
            else:
                result.kept.append(plan.path)
    with db.write() as txn:
        db.add_unknown_versions(txn, list(pending.values()), make_head=False)  # has_version said unknown, above
        if copies:  # their paths have no history here (_write_conflicts)
            db.add_unknown_versions(txn, copies, make_head=False)
            db.add_pending(txn, ctx.share.config.queued_remotes(), [v.id for v in copies])
        db.clear_pending(txn, ctx.remote_name, carried)  # this remote has them already
        # relay: what arrived through this remote is queued for the others this device uses (a
        # device that never syncs again may be the only one that would have published it
        # there); pulling from those, before any push, drops what they carry already
        others = [name for name in sorted(ctx.share.config.remotes) if name != ctx.remote_name]
        if others and pending:
            db.add_pending(txn, others, list(pending))
        db.set_heads(txn, heads)
        db.put_stats(txn, [(entry, None) for entry in stat_updates.values() if entry is not None])
        for path, entry in stat_updates.items():
            if entry is None:
                db.drop_stat(txn, path)
        for inc in incoming:
            db.set_cursor(txn, ctx.remote_name, inc.log, inc.seq, inc.chain)
        if rebuilt:
            db.drop_meta(txn, REBUILT)  # every file there was met once: from now on, the usual rules
        ctx.commit_presence(txn)  # objects of packs whose headers were read: present there
    result.seconds = time.monotonic() - t0
    return result


def _entry(path: str, s: os.stat_result, version: bytes, scan_start: int) -> StatEntry:
    racy = s.st_mtime_ns >= scan_start - RACY_NS
    return StatEntry(path, s.st_size, s.st_mtime_ns, s.st_ino, s.st_ctime_ns, s.st_mode, racy, version)


def _archive(ctx: Context, local: LocalState) -> None:
    """Keep the bytes a pull is about to replace in the local archive."""
    archive = ctx.store.archive
    if archive is None or local.st is None or not st.S_ISREG(local.st.st_mode):
        return
    FileReader(ctx.keys, archive).read(local.full, local.st, PutStats())


def _make_dir(ctx: Context, v: Version, local: LocalState) -> None:
    safe_parent(ctx.share.root, v.path)
    dest = ctx.share.root / v.path
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        if local.st is not None and not st.S_ISDIR(local.st.st_mode):
            _archive(ctx, local)
            dest.unlink()
    dest.mkdir(exist_ok=True)
    os.chmod(dest, v.mode & 0o7777)


def _stage(ctx: Context, plan: Plan, local: LocalState, known: set[str]) -> str | None:
    """Write one incoming file or link to a temp file beside its place (not yet durable)."""
    v = plan.write
    assert v is not None
    parent = safe_parent(ctx.share.root, v.path, known)
    try:
        here = os.lstat(local.full).st_mode  # now, not when the pull was planned
    except FileNotFoundError:
        here = 0
    if st.S_ISDIR(here):
        try:
            os.rmdir(local.full)
        except OSError:
            return None  # a non-empty directory stands where a file arrives: leave both
    _archive(ctx, local)
    return stage_version(ctx.store, v, staging_dir(ctx, parent), fsync=False)


def _write_files(ctx: Context, files: list[tuple[Plan, LocalState]]) -> list[tuple[Plan, LocalState]]:
    """Stage every incoming file in parallel, make them durable at once, then rename each.

    Many files cost one syncfs instead of an fsync each. A file edited here
    while the pull ran is never overwritten: it is checked just before its rename.
    """
    done: list[tuple[Plan, LocalState]] = []
    staged: list[tuple[Plan, LocalState, str]] = []
    placed = 0  # staged[:placed] were renamed into place (or removed)
    known: set[str] = set()  # parent directories already checked (never through a symlink)
    try:
        store = ctx.store
        roots = [p.write.content if p.write and p.write.depth == 0 and p.write.content else b"" for p, _ in files]
        if any(r and not store.catalog.locations(r) for r in roots):
            store.scan_packs()  # packs written by other devices: learn where their objects are

        def stage_group(group: list[int]) -> tuple[list[tuple[int, str | None]], BaseException | None]:
            # single-block files packed side by side come with one ranged read
            out: list[tuple[int, str | None]] = []
            with store.preload([roots[i] for i in group if roots[i]]):
                for i in group:
                    try:
                        out.append((i, _stage(ctx, *files[i], known)))
                    except BaseException as exc:  # what was staged must still be cleaned up
                        return out, exc
            return out, None

        pool = ThreadPoolExecutor(read_workers(store), thread_name_prefix="fog-pull")
        with flushing(ctx.share.top), cancel.stopping(pool):
            futures = [pool.submit(stage_group, group) for group in store.nearby(roots)]
        results: dict[int, str | None] = {}
        failure: BaseException | None = None
        for fut in futures:
            part, exc = fut.result()
            results.update(part)
            failure = failure or exc
        for i, (plan, local) in enumerate(files):
            tmp = results.get(i)
            if tmp is not None:
                staged.append((plan, local, tmp))
        if failure is not None:
            raise failure
        for tmp in _unsynced([tmp for _, _, tmp in staged]):
            _fsync(tmp)  # no syncfs(2) for its filesystem: one fsync per file
        for plan, local, tmp in staged:
            if local.st is not None and _changed_since(local):
                os.unlink(tmp)  # edited while we were pulling: never overwrite
            else:
                os.replace(tmp, local.full)
                done.append((plan, local))
            placed += 1
        # the renames too are durable before the database records the files (a crash must not
        # leave a stat entry for a file whose rename was lost: a later push would see it deleted)
        for parent in sorted({os.path.dirname(path) for path in _unsynced([local.full for _, local in done])}):
            _fsync(parent)
    finally:
        for _, _, tmp in staged[placed:]:
            if os.path.lexists(tmp):
                os.unlink(tmp)
    return done


def _unsynced(paths: list[str]) -> list[str]:
    """Flush every filesystem that holds one of `paths` (one syncfs each); return the paths left unsynced.

    Usually one filesystem, but a mount inside the share stages its files on
    itself (`staging_dir`), and syncfs of the share root would not cover them.
    """
    devices: dict[int, list[str]] = {}
    by_dir: dict[str, int] = {}
    for path in paths:
        parent = os.path.dirname(path)
        dev = by_dir.get(parent)
        if dev is None:
            dev = by_dir[parent] = os.stat(parent).st_dev
        devices.setdefault(dev, []).append(path)
    left: list[str] = []
    for group in devices.values():
        if not syncfs(os.path.dirname(group[0])):
            left += group
    return left


def _fsync(path: str) -> None:
    if os.path.islink(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _changed_since(local: LocalState) -> bool:
    try:
        now = os.lstat(local.full)
    except FileNotFoundError:
        return False
    s = local.st
    assert s is not None
    return (now.st_mtime_ns, now.st_size, now.st_ino) != (s.st_mtime_ns, s.st_size, s.st_ino)


def _remove(ctx: Context, local: LocalState) -> bool:
    if local.st is None:
        return True
    if st.S_ISDIR(local.st.st_mode):
        try:
            os.rmdir(local.full)
            return True
        except OSError:
            return False  # holds files fog does not know: keep it
    if _changed_since(local):
        return False
    _archive(ctx, local)
    os.unlink(local.full)
    return True


def _write_conflicts(
    ctx: Context,
    plans: list[tuple[Plan, LocalState]],
    by_path: dict[str, list[Version]],
    names: dict[str, str],
    stat_updates: dict[str, StatEntry | None],
    scan_start: int,
    result: PullResult,
) -> list[Version]:
    """Write each plan's conflict copies; return the versions recording them (to record and publish).

    A copy is recorded like any file, as `conflict_version`: the same version
    on every device that writes it, so it is published once in the history
    and a deletion or edit of it anywhere applies everywhere. A copy whose
    path already has a history (another device published it, maybe deleted
    it since) is left to that history: it arrives, or stays deleted, as
    that path's own plan says.
    """
    db = ctx.share.db
    copies: list[Version] = []
    arrived: list[str] = []
    done: set[str] = set()
    for plan, _ in plans:
        for loser in plan.conflicts:
            name = conflict_name(plan.path, loser, names.get(loser.device, loser.device[:8]))
            if name in done:
                continue
            done.add(name)
            if name in by_path:
                arrived.append(name)
                continue
            if db.head(name) is not None:
                continue  # recorded by an earlier pull (the copy may have been deleted since)
            copy = ctx.seal_version(conflict_version(loser, name))
            entry = _write_conflict(ctx, copy, scan_start)
            if entry is not None:
                stat_updates[name] = entry
            copies.append(copy)
            result.conflicts.append(name)
    updated = set(result.updated)
    result.conflicts += [name for name in arrived if name in updated]
    return copies


def _write_conflict(ctx: Context, v: Version, scan_start: int) -> StatEntry | None:
    """Write one conflict copy; its stat entry, or None when another file already holds its name."""
    local = LocalState(ctx, v.path, None)
    if local.st is None:
        parent = safe_parent(ctx.share.root, v.path)
        write_version(ctx.store, v, local.full, staging_dir(ctx, parent))
    elif not local.matches(v):
        # kept; the next push records it as a change of the copy, which stays in the history
        return None
    # else: written by an earlier, interrupted run
    return _entry(v.path, os.lstat(local.full), v.id, scan_start)
