"""`fog mount`: the share's history as a read-only file system, another face over fog.api.

`vfs` is the file system without FUSE (tested on its own), `fusefs` serves it
through libfuse. This module opens what a mount needs for its whole life:
the share's database (no lock: pushes and pulls go on beside the mount, and
current/ follows them), one remote to read blocks from, and the moment of
`--at`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fog.api import device_names, open_reading, open_share
from fog.errors import FogError
from fog.mount.vfs import HistoryFS
from fog.repo import trees
from fog.repo.share import find_root
from fog.sync.blockread import BlockReader
from fog.sync.forgotten import explain_missing


def check_mountpoint(share_root: Path, cwd: Path, mountpoint: str) -> str:
    """The absolute mount point, or a FogError saying why it cannot be one."""
    mp = os.path.normpath(cwd.absolute() / mountpoint)
    if not os.path.lexists(mp):
        raise FogError(f"mount point {mountpoint} does not exist; make an empty directory for it (mkdir)")
    if os.path.islink(mp) or not os.path.isdir(mp):
        raise FogError(f"mount point {mountpoint} is not a directory")
    if os.path.ismount(mp) and _is_fuse(mp):
        raise FogError(f"mount point {mountpoint} is already mounted (fusermount -u {mp} unmounts it)")
    if any(os.scandir(mp)):
        raise FogError(f"mount point {mountpoint} is not empty; mount on an empty directory")
    root = share_root.resolve()
    if Path(mp).resolve().is_relative_to(root):
        raise FogError(f"mount point {mountpoint} is inside the share; a push would read the mount: pick one outside")
    return mp


def _is_fuse(mp: str) -> bool:
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            return any(line.split()[1:2] == [mp] and "fuse" in line.split()[2] for line in f if line.strip())
    except OSError:
        return True


@contextmanager
def open_fs(home: Path, cwd: Path, at: str | None = None) -> Iterator[HistoryFS]:
    """The history file system of the share containing `cwd` (the tree at `at` alone, when given)."""
    with open_share(home, cwd, lock=False) as (share, ident):
        names = device_names(ident, share)
        moment = trees.resolve_moment(share.db, "", at, names) if at is not None else None
        ctx = open_reading(share, ident)
        try:
            yield HistoryFS(
                share.db,
                BlockReader(ctx.store),
                names,
                moment,
                explain=lambda v: explain_missing(ctx, [(v.path, v.id)]),
            )
        finally:
            ctx.close()


@contextmanager
def open_history(home: Path, cwd: Path, mountpoint: str, at: str | None = None) -> Iterator[tuple[HistoryFS, str, str]]:
    """(HistoryFS, the absolute mount point, what the mount shows), once the mount point and FUSE are checked."""
    from fog.mount.fusefs import load_fuse

    mp = check_mountpoint(find_root(cwd), cwd, mountpoint)
    load_fuse()  # FUSE missing: say so before opening anything
    with open_fs(home, cwd, at) as fs:
        shows = f"the share at {fs.at.label}" if fs.at is not None else "current/, at/, by-push/, versions/"
        yield fs, mp, shows


def unmount(mountpoint: str, *, lazy: bool = False) -> bool:
    """Ask the kernel to unmount (fusermount -u, or umount); whether it worked."""
    for tool in ("fusermount3", "fusermount", "umount"):
        exe = shutil.which(tool)
        if exe is None:
            continue
        args = [exe, "-u"] if tool.startswith("fusermount") else [exe]
        if lazy:
            args.append("-z" if tool.startswith("fusermount") else "-l")
        r = subprocess.run([*args, mountpoint], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        if r.returncode == 0:
            return True
    return False
