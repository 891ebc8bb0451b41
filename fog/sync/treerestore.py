"""Restore a whole tree (a directory, or the share) as it was at a moment.

Plan first, then act. The plan compares the tree at T (fog.repo.trees) with
what is on disk under the scope: paths that already hold their version are
left alone (stat index first, so a restore of a share that barely changed
reads nothing), the others are written, and paths not in the tree are left
alone or, with `delete`, removed. Nothing is touched if any path that would
be overwritten or removed holds changes never pushed, unless `force`.

Files are written as a pull writes them (fog.sync.apply): fetched in groups
that sit close together in one pack, each staged to a temp file, verified
block by block, made durable with one syncfs, then renamed into place. A
rerun after an interruption skips what is already in place. The stat index
is not updated: a restored path differs from the last push, so the next push
records it as a new version (its parent the head), and every device follows.
"""

from __future__ import annotations

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
from fog.sync.restore import local_state_saved, refuse_special
from fog.sync.scan import TMP_NAME, TMP_PREFIX

UNFINISHED = f"{TMP_PREFIX}restore-unfinished"  # in an output directory while `restore -o` fills it


def unfinished(top: str) -> bool:
    """Whether `top` is the output of a `restore -o` that stopped: the same command resumes into it."""
    return os.path.lexists(os.path.join(top, UNFINISHED))


def _sweep_temps(top: str) -> None:
    """Remove the temp files a stopped restore left in its output (fog's exact temp names only)."""
    for parent, _dirs, files in os.walk(top):
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
    written: list[str] = field(default_factory=list)  # files and links (re)written, share paths
    dirs: list[str] = field(default_factory=list)  # directories made or given back their mode
    unchanged: int = 0  # paths already as they were
    deleted: list[str] = field(default_factory=list)  # removed (--delete)
    extra: list[str] = field(default_factory=list)  # not in the tree, left alone
    skipped: list[str] = field(default_factory=list)  # changed while restoring, or blocked: "path: why"
    bytes_written: int = 0
    bytes_planned: int = 0  # what the files to write hold
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Bytes written per second."""
        return self.bytes_written / self.seconds if self.seconds > 0 else 0.0


def _local_tree(top: str) -> dict[str, os.stat_result]:
    """Everything under `top` (relative '/' paths), without `.fog`, nested shares or fog's temp files."""
    out: dict[str, os.stat_result] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            it = os.scandir(os.path.join(top, rel) if rel else top)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with it:
            for e in it:
                if e.name == FOG_DIR or e.name.startswith(TMP_PREFIX):
                    continue
                path = f"{rel}/{e.name}" if rel else e.name
                s = e.stat(follow_symlinks=False)
                if st.S_ISDIR(s.st_mode):
                    if os.path.isdir(os.path.join(e.path, FOG_DIR)):
                        continue  # a nested share: not ours
                    stack.append(path)
                out[path] = s
    return out


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


def _saved(ctx: Context, index: StatView, path: str, s: os.stat_result) -> bool:
    """Whether what is at `path` was pushed (a directory's entries are checked one by one; here, its mode)."""
    entry = index.get(path)
    if st.S_ISDIR(s.st_mode):
        if entry is None or entry.mode == s.st_mode:
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
) -> TreeRestoreResult:
    """Make the directory SCOPE (or `output`) hold `tree` (share path -> version) as it was.

    `progress(done, total)`: bytes of the files to write, told as their blocks arrive."""
    t0 = time.monotonic()
    strip = len(scope) + 1 if scope else 0
    if output is not None:
        top = output
        refuse_special(top)
        if os.path.lexists(top) and not os.path.isdir(top):
            raise FogError(f"{top} exists and is not a directory")
        if os.path.isdir(top) and any(os.scandir(top)) and not force and not unfinished(top):
            raise FogError(f"{top} is not empty; pass --force to restore into it")
    else:
        top = str(ctx.share.root / scope) if scope else str(ctx.share.root)
        _refuse_linked_parents(ctx.share.top, scope)
        if os.path.islink(top) or (os.path.lexists(top) and not os.path.isdir(top)):
            if scope not in tree or not force and not local_state_saved(ctx, scope):
                raise FogError(f"{scope} is not a directory now; move it away to restore the tree")
    result = TreeRestoreResult(scope, moment, top, dry_run)
    rel_of = {p: p[strip:] for p in tree if p != scope and not in_fog_dir(p)}  # share path -> path under top
    here = _local_tree(top) if os.path.isdir(top) and not os.path.islink(top) else {}
    writes: list[Version] = []
    dirs: list[Version] = []
    remove: list[str] = []  # paths under top, deepest first when acted on
    unsaved: list[str] = []
    in_place = output is None
    with ctx.share.db.stat_view() as index:
        share_path = (lambda r: f"{scope}/{r}" if scope else r) if in_place else None
        for path, rel in rel_of.items():
            v = tree[path]
            s = here.get(rel)
            if s is not None and in_place and _holds(ctx, index, path, s, v):
                result.unchanged += 1
                continue
            if s is not None and not in_place:
                refuse_special(os.path.join(top, rel))  # (in place: the share's own tree, as a pull treats it)
            if s is not None and not in_place and v.kind == "dir" and st.S_ISDIR(s.st_mode):
                dirs.append(v)
                continue
            if s is not None and (v.kind == "dir") != st.S_ISDIR(s.st_mode):
                remove.append(rel)  # a file where a directory was, or the other way
            if s is not None and in_place and not force and not _saved(ctx, index, path, s):
                unsaved.append(path)
            (dirs if v.kind == "dir" else writes).append(v)
        wanted = set(rel_of.values())
        ancestors = {r.rsplit("/", i)[0] for r in wanted for i in range(1, r.count("/") + 1)}
        rules = Ignore(ctx.share.root) if in_place else None
        for rel, s in here.items():
            if rel in wanted or rel in ancestors:
                continue
            if rules is not None and share_path and rules.ignored(share_path(rel), st.S_ISDIR(s.st_mode)):
                continue  # ignored here: hands off (never pushed, so never "unsaved", and never deleted)
            if not delete:
                result.extra.append(share_path(rel) if share_path else rel)
                continue
            remove.append(rel)
            path = share_path(rel) if share_path else rel
            result.deleted.append(path)
            if in_place and not force and not _saved(ctx, index, path, s):
                unsaved.append(path)
    if rules is not None:
        result.skipped += rules.notices  # .fogignore files and lines left out of the rules
    if unsaved:
        shown = ", ".join(sorted(unsaved)[:10]) + (f" and {len(unsaved) - 10} more" if len(unsaved) > 10 else "")
        raise UnsavedChangesError(
            f"{len(unsaved)} path(s) have changes that were never pushed: {shown}; "
            "push them first, or pass --force to discard them"
        )
    doomed = [r for r in result.deleted if not st.S_ISDIR(here[r[strip:] if in_place else r].st_mode)]
    if doomed:
        tracked = sum(1 for s in here.values() if not st.S_ISDIR(s.st_mode))
        (max_delete or DeleteLimit.parse(None)).check(len(doomed), tracked, "restore with")
    result.deleted.sort()
    result.written = sorted(v.path for v in writes)
    result.bytes_planned = sum(v.size for v in writes if v.kind == "file")
    result.dirs = sorted(v.path for v in dirs)
    if dry_run:
        result.seconds = time.monotonic() - t0
        return result
    _remove(top, remove, here)
    if in_place and (os.path.islink(top) or (os.path.lexists(top) and not os.path.isdir(top))):
        os.unlink(top)  # a link or file where the directory was (saved, or --force): never written through
    os.makedirs(top, exist_ok=True)
    if output is not None:  # until the end: a stopped restore is resumed by the same command
        if unfinished(top):
            _sweep_temps(top)
        os.close(os.open(os.path.join(top, UNFINISHED), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for v in sorted(dirs, key=lambda v: v.path):
        full = os.path.join(top, rel_of[v.path])
        os.makedirs(full, 0o700, exist_ok=True)
    for parent in {os.path.dirname(os.path.join(top, rel_of[v.path])) for v in writes}:
        os.makedirs(parent, 0o700, exist_ok=True)  # (a file whose directory has no version of its own)
    if in_place:
        sweep_staging(ctx)
    m = meter(progress, result.bytes_planned)
    result.bytes_written = _write(ctx, top, writes, rel_of, here, in_place, result, told(m))
    finish(m)
    for v in sorted(dirs, key=lambda v: v.path, reverse=True):  # deepest first: a read-only one last
        os.chmod(os.path.join(top, rel_of[v.path]), ctx.mode_of(v))
    if scope in tree and tree[scope].kind == "dir" and output is None:
        os.chmod(top, ctx.mode_of(tree[scope]))
    if output is not None:
        os.unlink(os.path.join(top, UNFINISHED))
    result.seconds = time.monotonic() - t0
    return result


def _remove(top: str, rels: list[str], here: dict[str, os.stat_result]) -> None:
    """Remove the paths under `top`, children before parents (a directory only once it is empty)."""
    for rel in sorted(rels, key=lambda r: (r.count("/"), r), reverse=True):
        full = os.path.join(top, rel)
        cancel.check()
        try:
            if st.S_ISDIR(here[rel].st_mode) and not os.path.islink(full):
                for sub in sorted(
                    (r for r in here if r.startswith(rel + "/")), key=lambda r: r.count("/"), reverse=True
                ):
                    p = os.path.join(top, sub)
                    if os.path.isdir(p) and not os.path.islink(p):
                        os.rmdir(p)
                    elif os.path.lexists(p):
                        os.unlink(p)
                os.rmdir(full)
            else:
                os.unlink(full)
        except FileNotFoundError:
            pass


def _write(
    ctx: Context,
    top: str,
    writes: list[Version],
    rel_of: dict[str, str],
    here: dict[str, os.stat_result],
    in_place: bool,
    result: TreeRestoreResult,
    on_bytes: Callable[[int], None] | None = None,
) -> int:
    """Stage every file and link in parallel (pack-ordered groups), sync once, rename each into place."""
    if not writes:
        return 0
    store = ctx.store
    roots = [v.content if v.depth == 0 and v.content else b"" for v in writes]
    if any(r and not store.catalog.locations(r) for r in roots):
        store.scan_packs()  # packs written by other devices: learn where their objects are

    def tmp_dir(v: Version) -> str:
        parent = os.path.dirname(os.path.join(top, rel_of[v.path]))
        return staging_dir(ctx, parent) if in_place else parent

    def stage_group(group: list[int]) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        with store.preload([roots[i] for i in group if roots[i]]):
            for i in group:
                out.append(
                    (
                        i,
                        stage_version(
                            store,
                            writes[i],
                            tmp_dir(writes[i]),
                            fsync=False,
                            on_bytes=on_bytes,
                            mode=ctx.mode_of(writes[i]),
                        ),
                    )
                )
        return out

    staged: dict[int, str] = {}
    try:
        pool = ThreadPoolExecutor(read_workers(store), thread_name_prefix="fog-restore")
        with flushing(top), cancel.stopping(pool):
            futures = [pool.submit(stage_group, group) for group in store.nearby(roots)]
            failure: BaseException | None = None
            for fut in futures:
                try:
                    staged.update(fut.result())
                except BaseException as exc:  # the others still finish, so their temp files are cleaned up
                    failure = failure or exc
            if failure is not None:
                raise failure
        for tmp in _unsynced(list(staged.values())):
            _fsync(tmp)
        written = 0
        for i in sorted(staged):
            v, tmp = writes[i], staged.pop(i)
            full = os.path.join(top, rel_of[v.path])
            before = here.get(rel_of[v.path])
            if before is not None and _changed_since(full, before):
                os.unlink(tmp)
                result.skipped.append(f"{v.path}: changed while restoring; left as it is")
                continue
            if os.path.isdir(full) and not os.path.islink(full):
                os.unlink(tmp)
                result.skipped.append(f"{v.path}: a directory is in the way (--delete removes it)")
                continue
            os.replace(tmp, full)
            written += v.size if v.kind == "file" else 0
        for parent in sorted({os.path.dirname(os.path.join(top, rel_of[v.path])) for v in writes}):
            try:
                _fsync(parent)
            except OSError:
                pass
        return written
    finally:
        for tmp in staged.values():
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def _changed_since(full: str, s: os.stat_result) -> bool:
    try:
        now = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return False  # (removed as planned, or gone: nothing to lose)
    return (now.st_mtime_ns, now.st_size, now.st_ino) != (s.st_mtime_ns, s.st_size, s.st_ino)


def _refuse_linked_parents(top: str, scope: str) -> None:
    """FogError when a directory above `scope` is a symlink (or not a directory) now: what is below it is
    not in the share, and a restore through it would write where the link leads."""
    rel = ""
    for part in scope.split("/")[:-1] if scope else []:
        rel = f"{rel}/{part}" if rel else part
        full = os.path.join(top, rel)
        if os.path.islink(full) or (os.path.lexists(full) and not os.path.isdir(full)):
            raise FogError(f"{rel} is not a directory now (a symlink or a file); move it away to restore {scope}")
