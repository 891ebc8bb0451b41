"""restore: bring one version of one path back, in place or elsewhere."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fog.errors import FogError, UnsavedChangesError
from fog.format.version import Version
from fog.repo.db import RepoDB
from fog.repo.revs import older_than_deletion
from fog.store import PutStats
from fog.sync.content import FileReader, stage_version, stream_version, write_version
from fog.sync.context import Context, staging_dir, sweep_staging
from fog.sync.meter import Progress, finish, meter, told
from fog.sync.placing import Parents, chmod_dir, lstat_at, place
from fog.sync.scan import TMP_NAME, TMP_PREFIX


@dataclass
class RestoreResult:
    path: str
    version: str
    kind: str
    size: int
    output: str  # where it went: a path, or "-" for stdout


_SPECIAL = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


def refuse_special(path: str | os.PathLike[str]) -> None:
    """A restore writes regular files, directories and links: a device, FIFO or socket at its destination is
    refused, --force or not (as root, `-o /dev/full --force` replaced the device node with a file)."""
    try:
        kind = _SPECIAL.get(stat.S_IFMT(os.lstat(path).st_mode))
    except OSError:
        return  # absent (or unreadable: the write then says why)
    if kind is not None:
        raise FogError(f"{path} is {kind}, not a regular file: a restore never replaces it, even with --force")


def local_state_saved(ctx: Context, path: str) -> bool:
    """True when the working copy of `path` holds nothing that was never pushed."""
    full = ctx.share.root / path
    try:
        s = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return True  # absent (or its parent is a file now, which safe_parent then names): nothing to lose
    entry = ctx.share.db.get_stat(path)
    if entry is not None and (entry.matches(s) or (os.path.isdir(full) and entry.mode == s.st_mode)):
        return True
    # The stat changed; the content may still be a pushed version: touched, or put back by a restore
    # (`restore F@~1`, then `restore F@~2`): any version of the path in the history is safe to replace.
    db = ctx.share.db
    head = db.version(entry.version) if entry is not None else None
    versions = [head] if head is not None else []
    versions += [v for v in db.path_history(path) if head is None or v.id != head.id]
    if os.path.islink(full):
        target = os.readlink(full)  # a link's whole state is its target
        return any(v.kind == "link" and v.target == target for v in versions)
    # a version's state is its content and mode (the mode as a restore or a pull gives it here too)
    states = {(v.content, v.depth, m) for v in versions if v.kind == "file" for m in (v.mode, ctx.mode_of(v))}
    mode = stat.S_IMODE(s.st_mode)
    if not any(m == mode for _c, _d, m in states) or not os.path.isfile(full):
        return False
    content = FileReader(ctx.keys, None).read(full, s, PutStats())
    return content.stable and (content.root, content.depth, mode) in states


def safe_parent(root: Path, path: str, known: set[str] | None = None, db: RepoDB | None = None) -> str:
    """Create the parent directories of path, refusing to pass through a symlink; return the parent.

    `known` (shared by one pull) remembers directories already checked or made. With `db`, a directory
    made here gets the mode of its newest version in the history (a directory 0700 deleted on one
    device while another added to it came back 0755, the umask's, and the next push published that).
    """
    top = str(root)
    head = path.rpartition("/")[0]
    if not head:
        return top
    if known is None or head not in known:
        rel = ""
        for part in head.split("/"):
            rel = f"{rel}/{part}" if rel else part
            if known is not None and rel in known:
                continue
            full = os.path.join(top, rel)
            try:
                here: int | None = os.lstat(full).st_mode
            except FileNotFoundError:
                here = None
            if here is not None and stat.S_ISLNK(here):
                raise FogError(f"refusing to restore {path}: {rel} is a symlink")
            try:
                if here is None:  # (the history is looked up only for a directory that is missing)
                    mode = dir_mode(db, rel) if db is not None else None
                    os.mkdir(full, 0o700 if mode is not None else 0o777)
                    if mode is not None:
                        os.chmod(full, mode)  # (no umask: what the history says)
                elif not stat.S_ISDIR(here):
                    raise FileExistsError(full)
            except FileExistsError:
                if not os.path.isdir(full):
                    raise FogError(f"refusing to restore {path}: {rel} is a file now; move it away") from None
            if known is not None:
                known.add(rel)
    return os.path.join(top, head)


def dir_mode(db: RepoDB, rel: str) -> int | None:
    """The mode of `rel`'s newest version that is not a deletion, if it is a directory (always
    writable by this user: what goes into it is written next)."""
    for v in db.path_history(rel):
        if v.kind == "dir":
            return (v.mode & 0o1777) | 0o700  # (never setuid bits chosen here)
        if v.kind != "deleted":
            return None
    return None


def sweep_dead_temps(directory: str) -> None:
    """Remove what a `restore FILE -o OUT` killed before its rename left beside OUT: fog's exact temp names
    (fog.sync.scan.TMP_NAME) of processes that are gone (one alive may be about to rename its own). Only
    `.fog/tmp` was swept: a multi-GB hidden copy stayed in the user's directory for ever."""
    try:
        entries = [e for e in os.scandir(directory) if e.name.startswith(TMP_PREFIX) and TMP_NAME.fullmatch(e.name)]
    except OSError:
        return
    for e in entries:
        pid = int(e.name[len(TMP_PREFIX) :].split("-", 1)[0])
        if pid == os.getpid() or _alive(pid) or e.is_dir(follow_symlinks=False):
            continue
        try:
            os.unlink(e.path)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True  # (another user's process, or no answer: not ours to judge)
    return True


def restore(
    ctx: Context,
    v: Version,
    *,
    output: str | None,
    force: bool,
    stdout: Callable[[bytes], object] | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> RestoreResult:
    """Write version `v` to its place in the share, to `output`, or to stdout ('-').

    `progress(done, total)`: the file's bytes written, told as its blocks arrive. `dry_run`: make the
    same checks (the same errors), write nothing."""
    if v.kind == "deleted":
        hint = older_than_deletion(ctx.share.db.path_history(v.path), v)
        raise FogError(f"{v.path}@{v.id.hex()[:12]} is a deletion; {hint}")
    result = RestoreResult(v.path, v.id.hex(), v.kind, v.size, output or v.path)
    if output == "-":
        if v.kind != "file":
            raise FogError(f"{v.path} is a {v.kind}; only files can be written to stdout")
        assert stdout is not None
        m = meter(progress, v.size)
        stream_version(ctx.store, v, stdout, told(m))
        finish(m)
        return result
    if output is not None:
        dest = Path(output)
        if dest.is_dir():
            dest = dest / v.path.rsplit("/", 1)[-1]
        refuse_special(dest)
        if (dest.exists() or dest.is_symlink()) and not force:
            raise FogError(f"{dest} exists; pass --force to overwrite it")
        if not dest.parent.is_dir():  # (else the error would name the temp file beside it)
            raise FogError(f"cannot write {dest}: no directory {dest.parent}")
        fog_dir, where = os.path.realpath(ctx.share.dir), os.path.realpath(dest.parent)
        if where == fog_dir or where.startswith(fog_dir + os.sep):
            raise FogError(f"{dest} is inside the share's .fog/ (fog's own state): choose another place")
        result.output = str(dest)
        if dry_run:
            return result
        if v.kind == "dir":
            dest.mkdir(parents=True, exist_ok=True)
            os.chmod(dest, ctx.mode_of(v))
            return result
        sweep_dead_temps(str(dest.parent))
        m = meter(progress, v.size if v.kind == "file" else 0)
        write_version(ctx.store, v, dest, str(dest.parent), told(m), mode=ctx.mode_of(v))
        finish(m)
        return result
    root = ctx.share.root
    dest = root / v.path
    seen = _lstat(dest)  # (before the check: what it judged is what may be replaced)
    if not force and not local_state_saved(ctx, v.path):
        raise UnsavedChangesError(
            f"{v.path} has changes that were never pushed; push them first, or pass --force to discard them"
        )
    if dry_run:
        _check(root, v, seen)
        return result
    parent = safe_parent(root, v.path, db=ctx.share.db)
    with Parents(str(root)) as dirs:
        if v.kind == "dir":
            dir_fd, name = dirs.parent(v.path)
            here = lstat_at(dir_fd, name)
            if here is not None and not stat.S_ISDIR(here.st_mode):
                raise FogError(f"{v.path} exists and is not a directory")
            if here is None:
                os.mkdir(name, dir_fd=dir_fd)
            chmod_dir(dir_fd, name, ctx.mode_of(v))
            return result
        if seen is not None and stat.S_ISDIR(seen.st_mode):
            raise FogError(f"{v.path} is a directory now; move it away to restore the {v.kind}")
        sweep_staging(ctx)
        m = meter(progress, v.size if v.kind == "file" else 0)
        tmp = stage_version(ctx.store, v, staging_dir(ctx, parent), on_bytes=told(m), mode=ctx.mode_of(v))
        try:
            if force:
                seen = _lstat(dest)  # whatever is there now is discarded, as asked
                if seen is not None and stat.S_ISDIR(seen.st_mode):
                    raise FogError(f"{v.path} is a directory now; move it away to restore the {v.kind}")
            moved, _ = place(tmp, dirs, v.path, seen)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
        if not moved:
            raise UnsavedChangesError(
                f"{v.path} changed while it was restored: left as it is; run the restore again "
                "(--force discards the change)"
            )
        finish(m)
    return result


def _check(root: Path, v: Version, seen: os.stat_result | None) -> None:
    """The refusals of an in-place restore of `v`, without writing: a symlink above it, a file where it is a
    directory, a directory where it is a file or link (`seen`: what is at its path)."""
    rel = ""
    for part in v.path.split("/")[:-1]:
        rel = f"{rel}/{part}" if rel else part
        here = _lstat(root / rel)
        if here is None:
            break
        if stat.S_ISLNK(here.st_mode):
            raise FogError(f"refusing to restore {v.path}: {rel} is a symlink")
    if seen is not None and v.kind == "dir" and not stat.S_ISDIR(seen.st_mode):
        raise FogError(f"{v.path} exists and is not a directory")
    if seen is not None and v.kind != "dir" and stat.S_ISDIR(seen.st_mode):
        raise FogError(f"{v.path} is a directory now; move it away to restore the {v.kind}")


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
