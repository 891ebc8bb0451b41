"""Restore a whole tree (a directory, or the share) as it was at a moment.

Plan first, then act. The plan compares the tree at T (fog.repo.trees) with
what is on disk under the scope: paths that already hold their version are
left alone (stat index first, so a restore of a share that barely changed
reads nothing), the others are written, and paths not in the tree are left
alone or, with `delete`, removed. Nothing is touched if any path that would
be overwritten or removed holds changes never pushed, unless `force`. A
nested share is never entered; a directory goes only with all it holds (never
with an ignored path or a nested share in it), so a directory where the tree
has a file may stay, and the file is then not written (said in `skipped`).

Files are written as a pull writes them (fog.sync.apply): fetched in groups
that sit close together in one pack, each staged to a temp file (in .fog/tmp,
or in an output the deepest directory there now), verified block by block,
made durable with one syncfs. Only then is anything under the top changed (a
block that fails verification leaves it as it was): paths removed,
directories made, and the staged files renamed into place: each
relative to its directory opened from the top without following a symlink,
and only if the path still holds what the plan saw (one empty then: still
empty). A rerun after an interruption skips what is already in place. The
stat index is not updated: a restored path differs from the last push, so the next push
records it as a new version (its parent the head), and every device follows.
"""

from __future__ import annotations

import errno
import os
import stat as st
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fog import cancel
from fog.backends.local import flushing
from fog.errors import FogError, UnsavedChangesError
from fog.format.version import Version, in_fog_dir
from fog.repo.db import StatView
from fog.repo.history import FOG_DIR
from fog.store import PutStats
from fog.sync.apply import _fsync, _unsynced
from fog.sync.content import FileReader, read_workers, stage_version
from fog.sync.context import Context, staging_dir, sweep_staging
from fog.sync.guard import DeleteLimit
from fog.sync.ignore import Ignore
from fog.sync.meter import Progress, finish, meter, told
from fog.sync.placing import LinkedParent, Parents, chmod_dir, lstat_at, place, same
from fog.sync.restore import local_state_saved, refuse_special
from fog.sync.scan import TMP_NAME, TMP_PREFIX

NESTED = "nested fog share: left alone"  # a directory below the top holding a `.fog/` of its own
FENCED = "this device's FOG_HOME (its keys): left alone"  # Share.fenced, treated as a nested share

UNFINISHED = f"{TMP_PREFIX}restore-unfinished"  # in an output directory while `restore -o` fills it


def unfinished(top: str) -> bool:
    """Whether `top` is the output of a `restore -o` that stopped: the same command resumes into it."""
    return os.path.lexists(os.path.join(top, UNFINISHED))


def _sweep_temps(top: str) -> None:
    """Remove the temp files a stopped restore left in its output (fog's exact temp names only)."""
    for parent, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != FOG_DIR and not os.path.isdir(os.path.join(parent, d, FOG_DIR))]
        for name in files:
            if TMP_NAME.fullmatch(name):
                try:
                    os.unlink(os.path.join(parent, name))
                except FileNotFoundError:
                    pass


@dataclass
class TreeRestoreResult:
    scope: str  # share path of the tree ("" for the whole share)
    moment: str  # what the REV resolved to
    output: str  # the directory written
    dry_run: bool = False
    in_place: bool = True  # (False: to `output`, where nothing is ever deleted)
    written: list[str] = field(default_factory=list)  # files and links (re)written, share paths
    dirs: list[str] = field(default_factory=list)  # directories made or given back their mode
    unchanged: int = 0  # paths already as they were
    deleted: list[str] = field(default_factory=list)  # removed (--delete)
    extra: list[str] = field(default_factory=list)  # not in the tree, left alone
    # share paths whose state at the moment is unknown (their history before it forgotten): never written,
    # and left alone in place, even with --delete
    forgotten: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # changed while restoring, or blocked: "path: why"
    partial: bool = False  # some path of the tree was not put in place (a `skipped` line other than a nested share's)
    bytes_written: int = 0
    bytes_planned: int = 0  # what the files to write hold
    seconds: float = 0.0
    moment_ns: int | None = None  # the time `moment` resolved to (None: the current state)

    def miss(self, line: str) -> None:
        """A path of the tree left as it is ("path: why"): the restore is partial (exit 5)."""
        self.skipped.append(line)
        self.partial = True

    @property
    def rate(self) -> float:
        """Bytes written per second."""
        return self.bytes_written / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Here:
    """What is under the top now: `paths` (relative '/' paths) without `.fog`, nested shares or fog's temp files;
    `nested`: the nested shares; `held`: directories holding something left out of `paths` (never emptied)."""

    paths: dict[str, os.stat_result] = field(default_factory=dict)
    nested: list[str] = field(default_factory=list)
    held: set[str] = field(default_factory=set)


def _local_tree(top: str, *, output: bool = False, fenced: str | None = None) -> _Here:
    """Everything under `top` now. A nested share (or `fenced`, FOG_HOME's path below `top`) is listed apart
    and never entered; fog's own temp names (exactly) and, in an `output`, the unfinished mark are left out.
    A user's `.fog-tmp-notes` is a file."""
    here = _Here()
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            it = os.scandir(os.path.join(top, rel) if rel else top)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            here.held.add(rel)  # (unreadable: what it holds is not known, so it is never emptied)
            continue
        with it:
            for e in it:
                if e.name == FOG_DIR or TMP_NAME.fullmatch(e.name) or (output and not rel and e.name == UNFINISHED):
                    here.held.add(rel)
                    continue
                path = f"{rel}/{e.name}" if rel else e.name
                try:
                    s = e.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if st.S_ISDIR(s.st_mode):
                    if path == fenced or os.path.isdir(os.path.join(e.path, FOG_DIR)):
                        here.nested.append(path)  # a nested share: not ours
                        here.held.add(rel)
                        continue
                    stack.append(path)
                here.paths[path] = s
    here.nested.sort()
    return here


def _kind(s: os.stat_result) -> str:
    return "dir" if st.S_ISDIR(s.st_mode) else "link" if st.S_ISLNK(s.st_mode) else "file"


def _holds(ctx: Context, index: StatView, path: str, s: os.stat_result, v: Version) -> bool:
    """Whether the working path already holds version `v` (from the stat index; no file is read)."""
    if _kind(s) != v.kind:
        return False
    if v.kind == "dir":
        return st.S_IMODE(s.st_mode) == ctx.mode_of(v)
    if v.kind == "link":
        return os.readlink(ctx.share.root / path) == v.target
    if st.S_IMODE(s.st_mode) != ctx.mode_of(v):
        return False
    entry = index.get(path)
    if entry is None or not entry.matches(s):
        if s.st_size != v.size:
            return False
        # the stat index cannot tell (a racy entry, a file never recorded, a touch): read it
        content = FileReader(ctx.keys, None).read(ctx.share.root / path, s, PutStats())
        return content.stable and (content.root, content.depth) == (v.content, v.depth)
    if entry.version == v.id:
        return True
    have = ctx.share.db.version(entry.version) if entry.version else None
    return have is not None and (have.kind, have.content, have.depth, have.target, have.size, have.mode) == (
        v.kind,
        v.content,
        v.depth,
        v.target,
        v.size,
        v.mode,
    )


def _finished(ctx: Context, full: str, s: os.stat_result, v: Version) -> bool:
    """Whether `full`, in the output of a stopped `restore -o`, already holds version `v` as a restore puts
    it there: a link to its target, or a regular file with its size, mode and mtime whose content hashes
    to it (read only when all three match)."""
    if v.kind == "link":
        return st.S_ISLNK(s.st_mode) and os.readlink(full) == v.target
    if v.kind != "file" or not st.S_ISREG(s.st_mode):
        return False
    if (s.st_size, st.S_IMODE(s.st_mode), s.st_mtime_ns) != (v.size, ctx.mode_of(v), v.mtime_ns):
        return False
    try:
        content = FileReader(ctx.keys, None).read(full, s, PutStats())
    except OSError:  # (unreadable: written again, which says why if it fails)
        return False
    return content.stable and (content.root, content.depth) == (v.content, v.depth)


def _saved(ctx: Context, index: StatView, path: str, s: os.stat_result) -> bool:
    """Whether what is at `path` was pushed (a directory's entries are checked one by one; here, its mode)."""
    entry = index.get(path)
    if st.S_ISDIR(s.st_mode):
        if entry is None:  # never recorded here: made since the last push, unless some version of it exists
            return any(v.kind == "dir" for v in ctx.share.db.path_history(path))  # (review 7 history H6)
        if entry.mode == s.st_mode:
            return True
        mode = st.S_IMODE(s.st_mode)  # chmod'ed since: saved if some version had that mode (a restore put it back)
        return any(v.kind == "dir" and mode in (v.mode, ctx.mode_of(v)) for v in ctx.share.db.path_history(path))
    if entry is not None and entry.matches(s) and entry.version and ctx.share.db.version(entry.version):
        return True
    return local_state_saved(ctx, path)  # the stat changed: hash it (a touched file was still pushed)


def restore_tree(
    ctx: Context,
    scope: str,
    tree: dict[str, Version],
    moment: str,
    *,
    output: str | None = None,
    force: bool = False,
    delete: bool = False,
    max_delete: DeleteLimit | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    forgotten: list[str] | None = None,
) -> TreeRestoreResult:
    """Make the directory SCOPE (or `output`) hold `tree` (share path -> version) as it was.

    `forgotten`: share paths the tree leaves out because their history at the moment was forgotten
    (fog.repo.trees): they existed then, so they are never taken as "not in the tree" and deleted.
    `progress(done, total)`: bytes of the files to write, told as their blocks arrive."""
    t0 = time.monotonic()
    strip = len(scope) + 1 if scope else 0
    in_place = output is None
    if output is not None:
        top = output
        refuse_special(top)
        if os.path.lexists(top) and not os.path.isdir(top):
            raise FogError(f"{top} exists and is not a directory")
        if os.path.isdir(top) and any(os.scandir(top)) and not force and not unfinished(top):
            raise FogError(f"{top} is not empty; pass --force to restore into it")
    else:
        top = str(ctx.share.root / scope) if scope else str(ctx.share.root)
        _refuse_linked_parents(ctx.share.top, scope, ctx.share.fenced)
        if os.path.islink(top) or (os.path.lexists(top) and not os.path.isdir(top)):
            if scope not in tree or not force and not local_state_saved(ctx, scope):
                raise FogError(f"{scope} is not a directory now; move it away to restore the tree")
    # in place, a path under top is named by its share path, from the share's root; in an output, by itself
    key = (lambda r: f"{scope}/{r}" if scope and r else r or scope) if in_place else (lambda r: r)
    result = TreeRestoreResult(scope, moment, top, dry_run, in_place, forgotten=sorted(forgotten or ()))
    unknown = {p[strip:] for p in result.forgotten} if in_place else set()
    rel_of = {p: p[strip:] for p in tree if p != scope and not in_fog_dir(p)}  # share path -> path under top
    fenced = _fenced_below(ctx.share.fenced, scope) if in_place else None
    here = _Here()
    if os.path.isdir(top) and not os.path.islink(top):
        here = _local_tree(top, output=not in_place, fenced=fenced)
    now = here.paths
    nested = set(here.nested)
    result.skipped += [f"{key(n)}: {FENCED if n == fenced else NESTED}" for n in here.nested]
    writes: list[Version] = []
    dirs: list[Version] = []
    todo: list[tuple[str, str, os.stat_result | None]] = []  # (share path, path under top, what is there)
    replaced: set[str] = set()  # a file or link where the tree has a directory
    clash: set[str] = set()  # a directory where the tree has a file or link: goes only with all it holds
    gone: set[str] = set()  # not in the tree (--delete)
    extra: set[str] = set()  # not in the tree, left alone
    unsaved: list[str] = []
    resuming = not in_place and os.path.isdir(top) and unfinished(top)
    with ctx.share.db.stat_view() as index:
        for path, rel in rel_of.items():
            if nested and _below(rel, nested):
                continue  # a nested share, or in one: hands off, as push
            v = tree[path]
            s = now.get(rel)
            if s is not None and in_place and _holds(ctx, index, path, s, v):
                result.unchanged += 1
                continue
            if s is not None and resuming and _finished(ctx, os.path.join(top, rel), s, v):
                result.unchanged += 1  # (put there by the run that stopped: not fetched again)
                continue
            if s is not None and not in_place:
                refuse_special(os.path.join(top, rel))  # (in place: the share's own tree, as a pull treats it)
            if s is not None and not in_place and v.kind == "dir" and st.S_ISDIR(s.st_mode):
                dirs.append(v)
                continue
            if s is not None and (v.kind == "dir") != st.S_ISDIR(s.st_mode):
                (clash if st.S_ISDIR(s.st_mode) else replaced).add(rel)
            todo.append((path, rel, s))
        wanted = set(rel_of.values())
        ancestors = {r.rsplit("/", i)[0] for r in wanted for i in range(1, r.count("/") + 1)}
        rules = Ignore(ctx.share.root) if in_place else None
        for rel, s in now.items():
            if rel in wanted or rel in ancestors or rel in unknown:
                continue
            if rules is not None and rules.ignored(key(rel), st.S_ISDIR(s.st_mode)):
                continue  # ignored here: hands off (never pushed, so never "unsaved", and never deleted)
            (gone if delete else extra).add(rel)
        result.extra = [key(rel) for rel in sorted(extra)]
        kept = _kept_dirs(now, gone | clash, here.held)  # a directory stays with what stays in it
        kept_anyway = set(_kept_dirs(now, clash | extra, here.held)) if kept and not delete else set()
        for rel in kept:
            if rel in clash:
                clash.discard(rel)
                hint = " (--delete removes them)" if in_place and not delete and rel not in kept_anyway else ""
                result.miss(f"{key(rel)}: a directory is in the way, holding paths left alone{hint}")
            else:
                gone.discard(rel)
                result.skipped.append(f"{key(rel)}: holds paths left alone; not deleted")
        for path, rel, s in todo:
            v = tree[path]
            if s is not None and st.S_ISDIR(s.st_mode) and v.kind != "dir" and rel not in clash:
                continue  # a directory in the way stays: said above
            if s is not None and in_place and not force and not _saved(ctx, index, path, s):
                unsaved.append(path)
            (dirs if v.kind == "dir" else writes).append(v)
        for rel in gone:
            result.deleted.append(key(rel))
            if in_place and not force and not _saved(ctx, index, key(rel), now[rel]):
                unsaved.append(key(rel))
    if rules is not None:
        result.skipped += rules.notices  # .fogignore files and lines left out of the rules
    if unsaved:
        shown = ", ".join(sorted(unsaved)[:10]) + (f" and {len(unsaved) - 10} more" if len(unsaved) > 10 else "")
        raise UnsavedChangesError(
            f"{len(unsaved)} path(s) have changes that were never pushed: {shown}; "
            "push them first, or pass --force to discard them"
        )
    doomed = [rel for rel in gone if not st.S_ISDIR(now[rel].st_mode)]
    if doomed:
        tracked = sum(1 for s in now.values() if not st.S_ISDIR(s.st_mode))
        (max_delete or DeleteLimit.parse(None)).check(len(doomed), tracked, "restore with")
    result.deleted.sort()
    result.written = sorted(v.path for v in writes)
    result.bytes_planned = sum(v.size for v in writes if v.kind == "file")
    result.dirs = sorted(v.path for v in dirs)
    if dry_run:
        result.seconds = time.monotonic() - t0
        return result
    if output is not None:
        os.makedirs(top, exist_ok=True)
        if unfinished(top):
            _sweep_temps(top)
        # until the end: a stopped restore is resumed by the same command
        os.close(os.open(os.path.join(top, UNFINISHED), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    base = str(ctx.share.top) if in_place else top
    if in_place:
        sweep_staging(ctx)
    # every file is fetched, verified and staged before anything under the top changes: a block that fails
    # verification stops the restore with nothing removed, made or replaced
    m = meter(progress, result.bytes_planned)
    staged = _stage(ctx, base, writes, key, rel_of, in_place, result, told(m))
    finish(m)
    try:
        with Parents(base) as fds:
            _remove(fds, gone | clash | replaced, now, key, result)
            if in_place and scope:
                _make_top(fds, scope)  # (a link or file where the directory was, saved or --force: not written through)
            made = _make_dirs(fds, key, [rel_of[v.path] for v in dirs], [rel_of[v.path] for v in writes], result)
            for i, v in enumerate(writes):
                if i in staged and key(rel_of[v.path]).rpartition("/")[0] not in made:  # (not made: said)
                    _unlink_quiet(staged.pop(i))
                    result.written.remove(v.path)
            result.bytes_written = _place_staged(writes, staged, fds, key, rel_of, now, result)
            for v in sorted(dirs, key=lambda v: v.path, reverse=True):  # deepest first: a read-only one last
                if key(rel_of[v.path]) in made:
                    _chmod(fds, key(rel_of[v.path]), ctx.mode_of(v), result)
            if scope in tree and tree[scope].kind == "dir" and in_place:
                _chmod(fds, scope, ctx.mode_of(tree[scope]), result)
    finally:
        for tmp in staged.values():
            _unlink_quiet(tmp)
    if output is not None:
        os.unlink(os.path.join(top, UNFINISHED))
    result.seconds = time.monotonic() - t0
    return result


def _below(rel: str, tops: set[str]) -> bool:
    """Whether `rel` is one of `tops` or below one."""
    while rel:
        if rel in tops:
            return True
        rel = rel.rpartition("/")[0]
    return False


def _kept_dirs(paths: dict[str, os.stat_result], going: set[str], held: set[str]) -> list[str]:
    """The directories among `going` that hold something that stays (`held`: something not in `paths`)."""
    if not any(st.S_ISDIR(paths[r].st_mode) for r in going):
        return []
    busy: set[str] = set()  # directories holding something that stays, and those above them
    for rel in [r.rpartition("/")[0] for r in paths if r not in going] + list(held):
        while rel not in busy:
            busy.add(rel)
            if not rel:
                break
            rel = rel.rpartition("/")[0]
    return sorted(r for r in going if r in busy)


def _made(dirs: Parents, rel: str) -> int:
    """The directory `rel`, made (0700, with those above it) if missing; LinkedParent as `Parents.fd`."""
    try:
        return dirs.fd(rel)
    except FileNotFoundError:
        if not rel:
            raise
    head, _, name = rel.rpartition("/")
    try:
        os.mkdir(name, 0o700, dir_fd=_made(dirs, head))
    except FileExistsError:
        pass
    return dirs.fd(rel)


def _make_top(dirs: Parents, scope: str) -> None:
    """Make the directory `scope`, removing a link or file in its place (the plan allowed it)."""
    head, _, name = scope.rpartition("/")
    try:
        parent = _made(dirs, head)
        s = lstat_at(parent, name)
        if s is not None and not st.S_ISDIR(s.st_mode):
            os.unlink(name, dir_fd=parent)
        _made(dirs, scope)
    except LinkedParent as exc:
        raise FogError(f"{exc}; move it away to restore {scope}") from None


def _make_dirs(
    dirs: Parents, key: Callable[[str], str], made: list[str], files: list[str], result: TreeRestoreResult
) -> set[str]:
    """Make the directories of the tree and those the files go in; return those there (named by `key`)."""
    there: set[str] = set()
    failed: set[str] = set()
    wanted = {key(r) for r in made} | {key(r).rpartition("/")[0] for r in files}
    for k in sorted(wanted, key=lambda k: k.split("/")):  # parents first
        if k.rpartition("/")[0] in failed:
            failed.add(k)
            continue
        try:
            _made(dirs, k)
            there.add(k)
        except LinkedParent as exc:
            failed.add(k)
            result.miss(f"{k}: {exc}")
        except FileNotFoundError:
            failed.add(k)
            result.miss(f"{k}: removed while restoring; left as it is")
        except OSError as exc:  # a name this file system cannot hold, a directory not writable...: this one
            failed.add(k)
            result.miss(f"{k}: {_why(exc)}")
    dirs.close()  # the next step opens them again, right before it acts
    return there


def _chmod(dirs: Parents, rel: str, mode: int, result: TreeRestoreResult) -> None:
    """Give the directory `rel` its mode (never one a symlink in its place leads to)."""
    try:
        chmod_dir(*dirs.parent(rel), mode)
    except LinkedParent as exc:
        result.miss(f"{rel}: mode not set: {exc}")
    except FileNotFoundError:
        result.miss(f"{rel}: mode not set: removed while restoring")
    except OSError as exc:
        result.miss(f"{rel}: mode not set: {_why(exc)}")


def _remove(
    dirs: Parents,
    rels: set[str],
    here: dict[str, os.stat_result],
    key: Callable[[str], str],
    result: TreeRestoreResult,
) -> None:
    """Remove the paths under the top, children before parents, each only if it is still what the plan saw
    (a directory only once it is empty: the plan removes all it holds first)."""
    for rel in sorted(rels, key=lambda r: (r.count("/"), r), reverse=True):
        cancel.check()
        k = key(rel)
        why = None
        try:
            parent, name = dirs.parent(k)
            if st.S_ISDIR(here[rel].st_mode):
                os.rmdir(name, dir_fd=parent)
                dirs.forget(k)
            else:
                now = lstat_at(parent, name)
                if now is not None and not same(now, here[rel]):
                    why = "changed while restoring; left as it is"
                elif now is not None:
                    os.unlink(name, dir_fd=parent)
        except FileNotFoundError:
            pass  # (gone already: nothing to lose)
        except LinkedParent as exc:
            why = str(exc)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                why = "changed while restoring; left as it is"
            else:  # (a directory not writable...: this path stays, the others go on)
                why = f"not removed: {_why(exc)}"
        if why is not None:
            result.miss(f"{k}: {why}")
            if k in result.deleted:
                result.deleted.remove(k)
    dirs.close()


def _stage_dir(ctx: Context, base: str, k: str, in_place: bool, cache: dict[str, str]) -> str:
    """Where to stage the file `k` (a path under `base`) before anything under the top changes: in place,
    `.fog/tmp` (or, on another file system, the deepest directory above `k` that is one now, reached
    without a symlink); in an output, that directory. Never a path the restore is about to make."""
    head = k.rpartition("/")[0]
    found = cache.get(head)
    if found is None:
        there = ""
        for part in head.split("/") if head else []:
            step = f"{there}/{part}" if there else part
            try:
                if not st.S_ISDIR(os.lstat(os.path.join(base, step)).st_mode):
                    break
            except OSError:
                break
            there = step
        found = os.path.join(base, there) if there else base
        found = cache[head] = staging_dir(ctx, found) if in_place else found
    return found


def _stage(
    ctx: Context,
    base: str,
    writes: list[Version],
    key: Callable[[str], str],
    rel_of: dict[str, str],
    in_place: bool,
    result: TreeRestoreResult,
    on_bytes: Callable[[int], None] | None = None,
) -> dict[int, str]:
    """Fetch, verify and stage every file and link in parallel (pack-ordered groups) and sync them once;
    return the temp file of each (index in `writes`). A path that cannot be staged is said in `result`;
    an altered block (or a stop) raises, with every temp file removed."""
    if not writes:
        return {}
    store = ctx.store
    roots = [v.content if v.depth == 0 and v.content else b"" for v in writes]
    if any(r and not store.catalog.locations(r) for r in roots):
        store.scan_packs()  # packs written by other devices: learn where their objects are
    where: dict[str, str] = {}
    tmp_dirs = [_stage_dir(ctx, base, key(rel_of[v.path]), in_place, where) for v in writes]

    def stage_group(group: list[int]) -> tuple[list[tuple[int, str | OSError]], BaseException | None]:
        out: list[tuple[int, str | OSError]] = []
        with store.preload([roots[i] for i in group if roots[i]]):
            for i in group:
                v = writes[i]
                try:
                    out.append(
                        (i, stage_version(store, v, tmp_dirs[i], fsync=False, on_bytes=on_bytes, mode=ctx.mode_of(v)))
                    )
                except OSError as exc:  # written here (the remote's errors are not OSErrors): this path only
                    out.append((i, exc))
                except BaseException as exc:  # (an altered block: all stops) what was staged is still cleaned up
                    return out, exc
        return out, None

    staged: dict[int, str] = {}
    try:
        pool = ThreadPoolExecutor(read_workers(store), thread_name_prefix="fog-restore")
        with flushing(base), cancel.stopping(pool):
            futures = [pool.submit(stage_group, group) for group in store.nearby(roots)]
            failure: BaseException | None = None
            for fut in futures:
                try:
                    part, stopped = fut.result()
                except BaseException as exc:  # the others still finish, so their temp files are cleaned up
                    part, stopped = [], exc
                failure = failure or stopped
                for i, tmp in part:
                    if isinstance(tmp, str):
                        staged[i] = tmp
                    else:
                        result.miss(f"{writes[i].path}: {_why(tmp)}")
                        result.written.remove(writes[i].path)
            if failure is not None:
                raise failure
        for tmp in _unsynced(list(staged.values())):
            _fsync(tmp)
    except BaseException:
        for tmp in staged.values():
            _unlink_quiet(tmp)
        raise
    return staged


def _place_staged(
    writes: list[Version],
    staged: dict[int, str],
    fds: Parents,
    key: Callable[[str], str],
    rel_of: dict[str, str],
    here: dict[str, os.stat_result],
    result: TreeRestoreResult,
) -> int:
    """Rename each staged file into place (taking it out of `staged`); return the bytes of the files placed."""
    written = 0
    parents: set[str] = set()
    for i in sorted(staged, key=lambda i: rel_of[writes[i].path].split("/")):  # a directory at a time
        v, tmp = writes[i], staged[i]
        k = key(rel_of[v.path])
        why = _place(fds, k, tmp, here.get(rel_of[v.path]))
        del staged[i]
        if why is not None:
            _unlink_quiet(tmp)
            result.miss(f"{v.path}: {why}")
            result.written.remove(v.path)
            continue
        parents.add(k.rpartition("/")[0])
        written += v.size if v.kind == "file" else 0
    for head in sorted(parents):
        try:
            own = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fds.fd(head))
        except (OSError, LinkedParent):
            continue
        try:
            os.fsync(own)
        finally:
            os.close(own)
    fds.close()
    return written


def _place(dirs: Parents, path: str, tmp: str, before: os.stat_result | None) -> str | None:
    """Move `tmp` to `path` if what is there is still what the plan saw (nothing: still nothing); else why not."""
    try:
        done, now = place(tmp, dirs, path, before)
    except LinkedParent as exc:
        return str(exc)
    except FileNotFoundError:
        return "its directory was removed while restoring; left as it is"
    except OSError as exc:  # a name this file system cannot hold (ENAMETOOLONG, EILSEQ), EACCES...
        return _why(exc)
    if done:
        return None
    if before is None:
        return "made while restoring; left as it is"
    if now is not None and st.S_ISDIR(now.st_mode):
        return "a directory is in the way; left as it is"
    return "changed while restoring; left as it is"


def _why(exc: OSError) -> str:
    """What the system said about one path, without the path (the line names it)."""
    return exc.strerror or str(exc)


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fenced_below(fenced: str | None, scope: str) -> str | None:
    """FOG_HOME's path (Share.fenced) below the directory `scope` restores, when it is there."""
    if fenced is None or not scope:
        return fenced
    return fenced[len(scope) + 1 :] if fenced.startswith(scope + "/") else None


def _refuse_linked_parents(top: str, scope: str, fenced: str | None = None) -> None:
    """FogError when a directory above `scope` is a symlink (or not a directory) now: what is below it is
    not in the share, and a restore through it would write where the link leads. Also when `scope` is, or is
    in, a nested share (not ours) or this device's FOG_HOME (`fenced`)."""
    rel = ""
    for part in scope.split("/") if scope else []:
        rel = f"{rel}/{part}" if rel else part
        if rel == fenced:
            raise FogError(f"{rel} is this device's FOG_HOME (its keys): left alone (restore it with -o DIR)")
        full = os.path.join(top, rel)
        if rel != scope and (os.path.islink(full) or (os.path.lexists(full) and not os.path.isdir(full))):
            raise FogError(f"{rel} is not a directory now (a symlink or a file); move it away to restore {scope}")
        if not os.path.islink(full) and os.path.isdir(os.path.join(full, FOG_DIR)):
            raise FogError(f"{rel} is a nested fog share: left alone (restore it with its own fog)")
