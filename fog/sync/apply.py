"""Applying a pull's plans to the working tree, one path at a time, in an order that works for every kind change.

Phases, each over the plans sorted by path:
  1. clear (children before parents): deletions, and directories that
     become a file or link (their synced children were deleted just before;
     one holding anything else stays, and the incoming version goes beside
     it as a conflict copy);
  2. directories (parents before children): a file or link in the way is
     replaced, or moved aside to a conflict name when it holds unsynced
     changes (`Plan.move_aside`);
  3. files and links: staged in parallel, made durable at once, renamed;
  4. conflict copies.
Every rename, deletion and chmod is relative to its parent directory opened
without following a symlink, and a path changed (or made) here since the
scan is kept, the incoming version going beside it (fog.sync.placing).
A path that cannot be applied (an OSError, an object that fails verification)
is reported and left as it was; every other path is applied. The caller
records nothing for a failed path but its versions, and retries it at the
next pull.
"""

from __future__ import annotations

import os
import stat as st
from collections.abc import Callable, Container, MutableSequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from fog import cancel
from fog.backends.local import flushing, syncfs
from fog.errors import FogError, IntegrityError, RemoteError
from fog.format.version import Version
from fog.repo.db import StatEntry
from fog.store import PutStats
from fog.sync.content import FileReader, read_workers, stage_version
from fog.sync.context import Context, staging_dir
from fog.sync.merge import Plan, conflict_name, conflict_name_at, conflict_version
from fog.sync.placing import Parents, chmod_dir, lstat_at, move_new, place, same
from fog.sync.push import is_racy
from fog.sync.restore import safe_parent


class Local(Protocol):
    """What applying needs of a working-tree path (fog.sync.pull.LocalState)."""

    path: str
    full: str
    st: os.stat_result | None
    entry: StatEntry | None  # what the stat index held for it

    def matches(self, v: Version) -> bool: ...


class Report(Protocol):
    """Where applying reports (fog.sync.pull.PullResult)."""

    updated: MutableSequence[str]  # (a fog.pathlist.PathList: append and read in order)
    deleted: MutableSequence[str]
    conflicts: list[str]
    kept: list[str]
    kept_deleted: list[str]
    problems: list[str]
    failed: list[str]
    remote: str  # the remote pulled from
    remote_errors: dict[str, str]  # remotes that failed, and why
    bytes_written: int


@dataclass
class Applied:
    """What the working tree now holds, for the database transaction that follows."""

    stat_updates: dict[str, StatEntry | None] = field(default_factory=dict)  # None: drop the entry
    copies: list[Version] = field(default_factory=list)  # conflict copies written here: record and publish
    failed: set[str] = field(default_factory=set)  # paths left as they were: retried by the next pull
    retry: set[str] = field(default_factory=set)  # paths recorded, their versions planned again by the next pull
    # conflict copies that arrive as incoming paths themselves: reported as conflicts once written
    arrived: list[str] = field(default_factory=list)


def apply_plans(
    ctx: Context,
    plans: list[tuple[Plan, Local]],
    incoming_paths: Container[str],
    names: dict[str, str],
    scan_start: int,
    result: Report,
    forgotten: Callable[[bytes], bool] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    placing: Callable[[list[str]], None] | None = None,
) -> Applied:
    """Bring the working tree to the plans' state (plans sorted by path); see the module docstring.

    `forgotten(id)`: a version forgotten by some device, whose conflict copy is never written.
    `on_bytes(n)`: told each block's size as an incoming file is written (progress).
    `placing(paths)`: told the paths about to be changed in place, before any is (and the staged files
    only once they are all staged, right before their renames).
    A pull applies its paths in chunks, one call each: `incoming_paths` are those of the whole pull.
    """
    out = Applied()
    modes: dict[str, int] = {}  # directories made writable while this apply fills them -> their mode
    try:
        _open_parents(ctx, plans, modes)
        _apply(ctx, plans, incoming_paths, names, scan_start, result, forgotten, on_bytes, placing, out, modes)
    finally:
        _close_dirs(ctx, modes, result)
    for path, entry in out.stat_updates.items():
        if path in modes and entry is not None:  # indexed with its final mode
            here = _lstat(os.path.join(ctx.share.top, path))
            if here is not None:
                out.stat_updates[path] = _entry(path, here, entry.version, scan_start)
    return out


def _apply(
    ctx: Context,
    plans: list[tuple[Plan, Local]],
    incoming_paths: Container[str],
    names: dict[str, str],
    scan_start: int,
    result: Report,
    forgotten: Callable[[bytes], bool] | None,
    on_bytes: Callable[[int], None] | None,
    placing: Callable[[list[str]], None] | None,
    out: Applied,
    modes: dict[str, int],
) -> None:
    """apply_plans' phases (the module docstring); `modes`: see _make_dir."""
    for plan, local in plans:
        if plan.adopt_local and plan.head is not None and local.st is not None:
            out.stat_updates[plan.path] = _entry(plan.path, local.st, plan.head.id, scan_start)
        if plan.kept_local:
            result.kept.append(plan.path)
            if plan.head is not None and plan.head.kind == "deleted":
                result.kept_deleted.append(plan.path)
            if plan.head is not None and local.entry is None and local.st is not None:
                _index_kept(out, plan.path, local.st, plan.head)
    if placing is not None:
        first = [plan.path for plan, local in plans if _in_place(plan, local)]
        if first:
            placing(first)
    with Parents(ctx.share.top) as dirs:
        for plan, local in reversed(plans):  # children before parents
            cancel.check()
            _guarded(out, result, plan.path, _clear, ctx, plan, local, dirs, out, result)
        _children_win(plans, out)
        files: list[tuple[Plan, Local]] = []
        parents: set[str] = set()  # directories found in place (or made) for an incoming entry
        known: set[str] = set()  # directories checked or made by this apply (never through a symlink)
        for plan, local in plans:  # parents before children
            cancel.check()
            if plan.write is None or plan.write.kind == "deleted" or plan.path in out.failed:
                continue
            if _guarded(out, result, plan.path, _make_way, ctx, plan.path, parents, result) is _FAILED:
                continue
            if plan.write.kind != "dir":
                files.append((plan, local))
                continue
            made = _guarded(out, result, plan.path, _make_dir, ctx, plan, local, known, dirs, result, modes)
            if isinstance(made, os.stat_result):
                out.stat_updates[plan.path] = _entry(plan.path, made, plan.write.id, scan_start)
                result.updated.append(plan.path)
    done, failures, raced = _write_files(ctx, files, known, on_bytes, placing)
    for plan, local, s in done:
        assert plan.write is not None
        out.stat_updates[plan.path] = _entry(plan.path, s, plan.write.id, scan_start)
        result.updated.append(plan.path)
        result.bytes_written += plan.write.size if plan.write.kind == "file" else 0
        if plan.write.conflict and plan.write.device == ctx.ident.device_id and local.st is None:
            # another device moved a version of this one aside (a kind clash it resolved): said, exit 3
            result.conflicts.append(plan.path)
    for plan, exc in failures:
        _fail(out, result, plan.path, exc)
    for plan, local, now in raced:
        _kept_meanwhile(out, result, plan, local, now)
    ok = [(plan, local) for plan, local in plans if plan.path not in out.failed]
    out.copies = _write_conflicts(ctx, ok, incoming_paths, names, out, scan_start, result, forgotten)


_OWNER = st.S_IRWXU  # what this user needs of a directory to write into it


def _open_parents(ctx: Context, plans: list[tuple[Plan, Local]], modes: dict[str, int]) -> None:
    """Make writable, for this apply, each synced read-only directory it writes or deletes something in.

    A directory whose version is read-only (0555: made so on another device,
    or by an earlier chunk of this pull) would otherwise refuse every incoming
    child for good. Only one that still has the mode its stat entry recorded
    is opened: one made read-only here since is the user's say, and a path
    in it fails (reported, retried). `modes` gets each one's mode back
    (_close_dirs).
    """
    seen: set[str] = set()
    db = ctx.share.db
    for plan, _ in plans:
        if plan.write is None and not plan.conflicts:
            continue
        head = plan.path.rpartition("/")[0]
        if not head or head in seen:
            continue
        seen.add(head)
        full = os.path.join(ctx.share.top, head)
        try:
            here = _lstat(full)
        except OSError:  # a directory above it this user cannot enter, a path too long here: the paths
            continue  # below it fail alone when written (reported, retried), the rest of the pull goes on
        if here is None or not st.S_ISDIR(here.st_mode) or here.st_mode & _OWNER == _OWNER:
            continue
        entry = db.get_stat(head)
        if entry is not None and entry.mode == here.st_mode:
            try:
                os.chmod(full, st.S_IMODE(here.st_mode) | _OWNER)
            except OSError:
                continue  # (another user's, say): the paths in it fail alone, as they would have
            modes[head] = st.S_IMODE(here.st_mode)


def _close_dirs(ctx: Context, modes: dict[str, int], result: Report) -> None:
    """Give each directory this apply kept writable its mode: deepest first, a read-only one after what
    goes in it (and after its subdirectories, which it must let be chmodded)."""
    for path in sorted(modes, key=lambda p: p.count("/"), reverse=True):
        full = os.path.join(ctx.share.top, path)
        here = _lstat(full)
        if here is not None and st.S_ISDIR(here.st_mode):  # (not a file or link that took its place)
            try:
                os.chmod(full, modes[path])
            except OSError as exc:  # (left writable: the next push records the mode it has)
                result.failed.append(f"{path}: mode {modes[path]:o} not given back: {exc.strerror or exc}")


def _in_place(plan: Plan, local: Local) -> bool:
    """Whether phases 1 and 2 change what is at the plan's path (not a file staged and renamed later)."""
    v = plan.write
    if v is None:
        return False
    if v.kind == "dir":
        return True
    return local.st is not None and (v.kind == "deleted" or st.S_ISDIR(local.st.st_mode))


def _index_kept(out: Applied, path: str, s: os.stat_result, head: Version) -> None:
    """A file kept that this device never pushed: indexed as the head, to be read again (racy), so that
    the next push publishes it on top of the head, or its deletion if it goes first."""
    if not st.S_ISDIR(s.st_mode):
        out.stat_updates[path] = StatEntry(
            path, s.st_size, s.st_mtime_ns, s.st_ino, s.st_ctime_ns, s.st_mode, True, head.id
        )


def _kept_meanwhile(out: Applied, result: Report, plan: Plan, local: Local, now: os.stat_result) -> None:
    """A file changed (or made) here while the pull ran, where an incoming version was to go: it is kept,
    and the incoming version goes beside it as a conflict copy, as for a change made before the pull."""
    v = plan.write
    assert v is not None
    plan.write, plan.kept_local = None, True
    if all(c.id != v.id for c in plan.conflicts):
        plan.conflicts.append(v)
    result.kept.append(plan.path)
    if local.entry is None and plan.head is not None:
        _index_kept(out, plan.path, now, plan.head)


_FAILED = object()


def _guarded(out: Applied, result: Report, path: str, step: Callable[..., object], *args: object) -> object:
    """Run one path's step and return what it returns; a failure is reported, marks the path failed,
    and returns _FAILED."""
    try:
        return step(*args)
    except (OSError, FogError) as exc:
        _fail(out, result, path, exc)
        return _FAILED


def _fail(out: Applied, result: Report, path: str, exc: BaseException) -> None:
    out.failed.add(path)
    out.stat_updates.pop(path, None)
    if isinstance(exc, IntegrityError):
        result.problems.append(f"{path}: {exc}")
        return
    if isinstance(exc, RemoteError):  # (the remote stopped answering while this path's blocks were read)
        result.remote_errors.setdefault(result.remote, str(exc))
    if isinstance(exc, OSError) and exc.strerror:
        result.failed.append(f"{path}: {exc.strerror}")
    else:
        result.failed.append(f"{path}: {exc}")


def _clear(ctx: Context, plan: Plan, local: Local, dirs: Parents, out: Applied, result: Report) -> None:
    """Phase 1 for one path: delete it, or empty its place for a file or link."""
    v = plan.write
    if v is None:
        return
    if v.kind == "deleted":
        existed = local.st is not None
        if _remove(ctx, local, dirs):
            out.stat_updates[plan.path] = None
            if existed:
                result.deleted.append(plan.path)
        else:
            result.kept.append(plan.path)
            if plan.head is not None and plan.head.kind == "deleted":
                result.kept_deleted.append(plan.path)
            if local.st is not None and st.S_ISDIR(local.st.st_mode):
                out.stat_updates[plan.path] = None  # it holds unsynced files: the next push publishes it again
    elif v.kind in ("file", "link") and local.st is not None and st.S_ISDIR(local.st.st_mode):
        try:
            _rmdir(dirs, plan.path)  # its synced children were removed just before
            local.st = None
        except OSError:
            # it holds what was never synced: the directory keeps the name and is pushed again
            # (on top of v), and v goes beside it as a conflict copy
            plan.write, plan.kept_local = None, True
            plan.conflicts.append(v)
            out.stat_updates[plan.path] = None
            result.kept.append(plan.path)


def _rmdir(dirs: Parents, path: str) -> None:
    dir_fd, name = dirs.parent(path)
    dirs.forget(path)
    os.rmdir(name, dir_fd=dir_fd)


def _children_win(plans: list[tuple[Plan, Local]], out: Applied) -> None:
    """A file or link arriving where this apply also writes something below it: the children win.

    Concurrent changes can leave a file at `a` and a live `a/x` (one device
    made `a` a file while another edited `a/x`, and the edit won). As on the
    device whose directory still holds `a/x` (`_clear`), `a` is a directory
    here, pushed on top of the file, and the file goes beside it as a
    conflict copy, named the same on every device.
    """
    below: set[str] = set()  # every parent of a path this apply writes
    for plan, _ in plans:
        v = plan.write
        if v is not None and v.kind != "deleted" and plan.path not in out.failed:
            parent = plan.path.rpartition("/")[0]
            while parent and parent not in below:
                below.add(parent)
                parent = parent.rpartition("/")[0]
    for plan, _ in plans:
        v = plan.write
        if v is not None and v.kind in ("file", "link") and plan.path in below:
            plan.write, plan.kept_local = None, True
            plan.conflicts.append(v)
            out.stat_updates[plan.path] = None


def _make_way(ctx: Context, path: str, parents: set[str], result: Report) -> None:
    """Move aside a file or link standing where an incoming entry needs a parent directory.

    Such a file was made here and never synced (a synced one would have an
    incoming deletion, applied in phase 1): it is renamed to a conflict name
    and pushed later, as for an incoming directory (`move_aside`), so the
    incoming entry is written and nothing of this device's is lost.
    """
    rel = ""
    for part in path.split("/")[:-1]:
        rel = f"{rel}/{part}" if rel else part
        if rel in parents:
            continue
        full = os.path.join(ctx.share.top, rel)
        here = _lstat(full)
        if here is None:
            return  # made by safe_parent when the entry is written
        if not st.S_ISDIR(here.st_mode):
            aside = conflict_name_at(rel, here.st_mtime_ns, ctx.ident.device_name)
            try:
                move_new(full, os.path.join(ctx.share.top, aside))  # recorded by the next push
            except FileExistsError:
                raise FileExistsError(f"{rel} is in the way, and so is its conflict copy {aside}") from None
            result.conflicts.append(aside)
            return
        parents.add(rel)


def _make_dir(
    ctx: Context, plan: Plan, local: Local, known: set[str], dirs: Parents, result: Report, modes: dict[str, int]
) -> os.stat_result:
    """Phase 2 for one directory: make it (a file or link in its place moved aside, or replaced when it
    is the synced one seen at the scan); return its stat. A mode that would keep this user from writing
    in it is given at the end of the apply (`modes`, _close_dirs), after its children."""
    v = plan.write
    assert v is not None
    safe_parent(ctx.share.root, v.path, known, ctx.share.db)
    dir_fd, name = dirs.parent(v.path)
    here = lstat_at(dir_fd, name)
    if here is not None and not st.S_ISDIR(here.st_mode):
        if plan.move_aside or local.st is None or not same(here, local.st):  # (changed since the scan: kept)
            aside = conflict_name_at(v.path, here.st_mtime_ns, ctx.ident.device_name)
            try:
                move_new(name, aside.rpartition("/")[2], src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except FileExistsError:
                raise FileExistsError(f"{aside} is in the way of this file's conflict copy") from None
            result.conflicts.append(aside)  # recorded by the next push
        else:
            _archive(ctx, local)
            os.unlink(name, dir_fd=dir_fd)
    try:
        os.mkdir(name, dir_fd=dir_fd)
    except FileExistsError:
        here = lstat_at(dir_fd, name)
        if here is None or not st.S_ISDIR(here.st_mode):
            raise
    mode = ctx.mode_of(v)
    if mode & _OWNER != _OWNER:
        modes[v.path] = mode
        mode |= _OWNER
    else:
        modes.pop(v.path, None)  # (opened by _open_parents: it is writable from now on)
    known.add(v.path)  # its children's safe_parent need not check it again
    return chmod_dir(dir_fd, name, mode)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _entry(path: str, s: os.stat_result, version: bytes, scan_start: int) -> StatEntry:
    racy = is_racy(s.st_mtime_ns, scan_start)
    return StatEntry(path, s.st_size, s.st_mtime_ns, s.st_ino, s.st_ctime_ns, s.st_mode, racy, version)


def _archive(ctx: Context, local: Local) -> None:
    """Keep the bytes a pull is about to replace in the local archive."""
    archive = ctx.store.archive
    if archive is None or local.st is None or not st.S_ISREG(local.st.st_mode):
        return
    FileReader(ctx.keys, archive).read(local.full, local.st, PutStats())


def _stage(ctx: Context, plan: Plan, local: Local, known: set[str], on_bytes: Callable[[int], None] | None) -> str:
    """Write one incoming file or link to a temp file beside its place (not yet durable)."""
    v = plan.write
    assert v is not None
    parent = safe_parent(ctx.share.root, v.path, known, ctx.share.db)
    here = _lstat(local.full)  # now, not when the pull was planned
    if here is not None and st.S_ISDIR(here.st_mode):
        os.rmdir(local.full)  # a directory that appeared meanwhile: OSError if not empty (path failed)
    _archive(ctx, local)
    return stage_version(ctx.store, v, staging_dir(ctx, parent), fsync=False, on_bytes=on_bytes, mode=ctx.mode_of(v))


Failures = list[tuple[Plan, BaseException]]
Raced = list[tuple[Plan, Local, os.stat_result]]


def _write_files(
    ctx: Context,
    files: list[tuple[Plan, Local]],
    known: set[str],
    on_bytes: Callable[[int], None] | None = None,
    placing: Callable[[list[str]], None] | None = None,
) -> tuple[list[tuple[Plan, Local, os.stat_result]], Failures, Raced]:
    """Stage every incoming file in parallel, make them durable at once, then rename each.

    Many files cost one syncfs instead of an fsync each. A file edited (or
    made) here while the pull ran is never overwritten, and no file is
    written through a directory replaced by a symlink meanwhile: each rename
    checks both right before (fog.sync.placing). Returns the files placed
    (with their stat), the ones that failed with why, and the ones changed
    here meanwhile (with what is there now). `on_bytes` is told each block's
    size as it is staged (progress); `placing` the paths staged, before the
    first rename.
    """
    done: list[tuple[Plan, Local, os.stat_result]] = []
    failures: Failures = []
    raced: Raced = []
    staged: list[tuple[Plan, Local, str]] = []
    placed = 0  # staged[:placed] were renamed into place (or removed)
    try:
        store = ctx.store
        roots = [p.write.content if p.write and p.write.depth == 0 and p.write.content else b"" for p, _ in files]
        if any(r and not store.catalog.locations(r) for r in roots):
            store.scan_packs()  # packs written by other devices: learn where their objects are

        def stage_group(group: list[int]) -> tuple[list[tuple[int, str | BaseException]], BaseException | None]:
            # single-block files packed side by side come with one ranged read
            out: list[tuple[int, str | BaseException]] = []
            with store.preload([roots[i] for i in group if roots[i]]):
                for i in group:
                    try:
                        out.append((i, _stage(ctx, *files[i], known, on_bytes)))
                    except (OSError, FogError) as exc:  # this path fails, the others go on
                        out.append((i, exc))
                    except BaseException as exc:  # what was staged must still be cleaned up
                        return out, exc
            return out, None

        pool = ThreadPoolExecutor(read_workers(store), thread_name_prefix="fog-pull")
        with flushing(ctx.share.top), cancel.stopping(pool):
            futures = [pool.submit(stage_group, group) for group in store.nearby(roots)]
        results: dict[int, str | BaseException] = {}
        failure: BaseException | None = None
        for fut in futures:
            part, exc = fut.result()
            results.update(part)
            failure = failure or exc
        for i, (plan, local) in enumerate(files):
            tmp = results.get(i)
            if isinstance(tmp, str):
                staged.append((plan, local, tmp))
            elif tmp is not None:
                failures.append((plan, tmp))
        if failure is not None:
            raise failure
        for tmp in _unsynced([tmp for _, _, tmp in staged]):
            _fsync(tmp)  # no syncfs(2) for its filesystem: one fsync per file
        if placing is not None and staged:
            placing([plan.path for plan, _, _ in staged])
        with Parents(ctx.share.top) as dirs:
            for plan, local, tmp in staged:
                placed += 1
                try:
                    moved, s = place(tmp, dirs, plan.path, local.st)
                    if not moved and s is not None and _only_touched(ctx, local, s):
                        moved, s = place(tmp, dirs, plan.path, s)  # (what is there now must still be it)
                except (OSError, FogError) as exc:
                    _unlink_quiet(tmp)
                    failures.append((plan, exc))
                    continue
                if moved:
                    assert s is not None
                    done.append((plan, local, s))
                    continue
                os.unlink(tmp)  # changed or made here while we were pulling: never overwritten
                if s is None:  # (made and gone again in between: retried by the next pull)
                    failures.append((plan, FileExistsError(f"{plan.path} came and went while it was placed")))
                else:
                    raced.append((plan, local, s))
        # the renames too are durable before the database records the files (a crash must not
        # leave a stat entry for a file whose rename was lost: a later push would see it deleted)
        for parent in sorted({os.path.dirname(path) for path in _unsynced([local.full for _, local, _ in done])}):
            _fsync(parent)
    finally:
        for _, _, tmp in staged[placed:]:
            _unlink_quiet(tmp)
    return done, failures, raced


def _only_touched(ctx: Context, local: Local, now: os.stat_result) -> bool:
    """Whether the file at `local`, changed since the pull planned it (`now`), still holds the very version
    its stat entry records (same kind, mode and content): a touch, not an edit (`touch`, `rsync -t`, an editor
    saving an unchanged buffer). Such a file is replaced by the incoming version as if untouched."""
    entry = local.entry
    if entry is None or local.st is None or not st.S_ISREG(now.st_mode) or not st.S_ISREG(local.st.st_mode):
        return False
    v = ctx.share.db.version(entry.version)
    if v is None or v.kind != "file" or v.size != now.st_size or v.mode != st.S_IMODE(now.st_mode):
        return False
    try:
        c = FileReader(ctx.keys, None).read(local.full, now, PutStats())
    except OSError:
        return False
    return c.stable and (c.root, c.depth, c.size) == (v.content, v.depth, v.size)


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


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


def _remove(ctx: Context, local: Local, dirs: Parents) -> bool:
    """Phase 1's deletion of one path; False when it stays (a directory holding unsynced files, a file
    changed since the scan)."""
    if local.st is None:
        return True
    try:
        dir_fd, name = dirs.parent(local.path)
    except FileNotFoundError:
        return True  # gone with its parent
    if st.S_ISDIR(local.st.st_mode):
        dirs.forget(local.path)
        try:
            os.rmdir(name, dir_fd=dir_fd)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            return False  # holds files fog does not know: keep it
    now = lstat_at(dir_fd, name)
    if now is None:
        return True
    if not same(now, local.st):
        return False
    _archive(ctx, local)
    os.unlink(name, dir_fd=dir_fd)
    return True


def _write_conflicts(
    ctx: Context,
    plans: list[tuple[Plan, Local]],
    incoming_paths: Container[str],
    names: dict[str, str],
    out: Applied,
    scan_start: int,
    result: Report,
    forgotten: Callable[[bytes], bool] | None = None,
) -> list[Version]:
    """Write each plan's conflict copies; return the versions recording them (to record and publish).

    A copy is recorded like any file, as `conflict_version`: the same version
    on every device that writes it, so it is published once in the history
    and a deletion or edit of it anywhere applies everywhere. A copy whose
    path already has a history (another device published it, maybe deleted
    it since) is left to that history: it arrives, or stays deleted, as
    that path's own plan says. A copy that cannot be written is reported;
    its version stays in the history of the original path, and the next
    pull tries again: a path kept here is not recorded (`failed`: its head
    and stat entry stay, so its next push is a concurrent change, never one
    on top of the version it did not keep), another is recorded with its
    versions retried (`retry`). A copy whose version was forgotten (its path
    deleted and forgotten) is not written again.
    """
    with Parents(ctx.share.top) as dirs:
        return _write_copies(ctx, plans, incoming_paths, names, out, scan_start, result, dirs, forgotten)


def _write_copies(
    ctx: Context,
    plans: list[tuple[Plan, Local]],
    incoming_paths: Container[str],
    names: dict[str, str],
    out: Applied,
    scan_start: int,
    result: Report,
    dirs: Parents,
    forgotten: Callable[[bytes], bool] | None = None,
) -> list[Version]:
    db = ctx.share.db
    copies: list[Version] = []
    arrived: list[str] = []
    done: dict[str, bytes] = {}  # name -> the copy's version id
    for plan, _ in plans:
        for loser in plan.conflicts:
            device = names.get(loser.device, loser.device[:8])
            name = conflict_name(plan.path, loser, device)
            copy = ctx.seal_version(conflict_version(loser, name))
            if done.get(name, copy.id) != copy.id or (db.head(name) is not None and db.version(copy.id) is None):
                # another copy holds the name (the same device made both in one second): this one
                # gets the version's id in its name, not dropped
                name = conflict_name(plan.path, loser, device, tagged=True)
                copy = ctx.seal_version(conflict_version(loser, name))
            if name in done:
                continue
            done[name] = copy.id
            if name in incoming_paths:
                arrived.append(name)
                continue
            if db.head(name) is not None:
                continue  # recorded by an earlier pull (the copy may have been deleted since)
            if forgotten is not None and forgotten(copy.id):
                continue
            try:
                entry = _write_conflict(ctx, copy, scan_start, dirs)
                if entry is None and name == conflict_name(plan.path, loser, device):
                    # a file of the user's holds the usual name (no history there): never taken for the
                    # copy (reported written, the other device's edit was in no tree): the tagged name
                    tagged = conflict_name(plan.path, loser, device, tagged=True)
                    if tagged not in done and tagged not in incoming_paths and db.head(tagged) is None:
                        del done[name]
                        name, copy = tagged, ctx.seal_version(conflict_version(loser, tagged))
                        done[name] = copy.id
                        entry = _write_conflict(ctx, copy, scan_start, dirs)
                if entry is None:
                    raise FileExistsError(f"{name}: the conflict copy's name is taken by another file")
            except (OSError, FogError) as exc:
                _fail(out, result, name, exc)
                if plan.kept_local:
                    out.failed.add(plan.path)
                    out.stat_updates.pop(plan.path, None)
                else:
                    out.retry.add(plan.path)
                continue
            out.stat_updates[name] = entry
            copies.append(copy)
            result.conflicts.append(name)
    out.arrived += arrived
    return copies


def _write_conflict(ctx: Context, v: Version, scan_start: int, dirs: Parents) -> StatEntry | None:
    """Write one conflict copy; its stat entry, or None when another file already holds its name."""
    full = os.path.join(ctx.share.top, v.path)
    here = _lstat(full)
    if here is None:
        parent = safe_parent(ctx.share.root, v.path, db=ctx.share.db)
        tmp = stage_version(ctx.store, v, staging_dir(ctx, parent), mode=ctx.mode_of(v))
        try:
            moved, here = place(tmp, dirs, v.path, None)
        finally:
            _unlink_quiet(tmp)  # (gone once moved)
        if moved:
            assert here is not None
            return _entry(v.path, here, v.id, scan_start)
        if here is None:
            raise FileExistsError(f"{v.path} came and went while it was written")
    if not _holds(ctx, full, here, v):
        return None  # another file holds the name: left as it is (the caller picks another name)
    # else: written by an earlier, interrupted run
    return _entry(v.path, here, v.id, scan_start)


def _holds(ctx: Context, full: str, s: os.stat_result, v: Version) -> bool:
    """Whether the entry at `full` already holds v's state."""
    if st.S_ISLNK(s.st_mode):
        return v.kind == "link" and os.readlink(full) == v.target
    if not st.S_ISREG(s.st_mode) or v.kind != "file" or st.S_IMODE(s.st_mode) != ctx.mode_of(v):
        return False
    c = FileReader(ctx.keys, None).read(full, s, PutStats())
    return (c.root, c.depth, c.size) == (v.content, v.depth, v.size)
