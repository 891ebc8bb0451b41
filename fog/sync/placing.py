"""Moving staged entries into the working tree: never through a symlink, never over what the user made meanwhile.

A pull (or a restore) looks at a path, downloads for a while, then moves a
staged file into place. Meanwhile the user may create a file at a path that
was free, edit the file that was there, or replace a parent directory by a
symlink to somewhere outside the share. So, right before each move:

  * the parent directory is opened from the share's top, one component at a
    time, with O_NOFOLLOW | O_DIRECTORY (`Parents`): a symlink (or a file)
    in the chain refuses the path (`LinkedParent`), and the move, stat,
    unlink or chmod that follows is relative to that descriptor, so it
    lands in that very directory whatever the path names by then;
  * a path that was free is taken with a no-clobber rename
    (renameat2 RENAME_NOREPLACE; else link + unlink; else a re-lstat right
    before the rename): something there now is left alone (`place` says so);
  * a path that held an entry is checked against what was seen (`same`)
    right before the rename (a small window remains: a write landing between
    that check and the rename).
"""

from __future__ import annotations

import errno
import os
import stat as st
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fog.errors import FogError

_O_PATH = getattr(os, "O_PATH", 0)  # (Linux: needs no permission on the directory itself)
_DIR_FLAGS = (_O_PATH or os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class LinkedParent(FogError):
    """A parent of the path is a symlink (or no directory) now: nothing is written through it."""


class Parents:
    """Directories of one tree opened from its top without following a symlink, a few kept open.

    `fd(rel)` is the directory `rel` ("" for the top) as it is now; the
    descriptors of recent ones are reused (a pull places files in path
    order). A directory this process removes must be `forget`-ten.
    """

    def __init__(self, top: str, keep: int = 32) -> None:
        self.top = top
        self.keep = keep
        self._fds: OrderedDict[str, int] = OrderedDict()

    def __enter__(self) -> Parents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.popitem()[1])

    def forget(self, rel: str) -> None:
        """Drop `rel` and everything below it (removed, or replaced)."""
        below = rel + "/"
        for key in [k for k in self._fds if k == rel or k.startswith(below) or not rel]:
            os.close(self._fds.pop(key))

    def fd(self, rel: str) -> int:
        """The open directory `rel`; LinkedParent when a component is a symlink or no directory now,
        FileNotFoundError when one is missing."""
        fd = self._fds.get(rel)
        if fd is not None:
            self._fds.move_to_end(rel)
            return fd
        if not rel:
            fd = os.open(self.top, (_O_PATH or os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            head, _, name = rel.rpartition("/")
            parent = self.fd(head)
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            except OSError as exc:
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                raise LinkedParent(
                    f"{rel} is {_what(parent, name)} now, not a directory: nothing written through it"
                ) from None
        self._fds[rel] = fd
        while len(self._fds) > self.keep:
            os.close(self._fds.popitem(last=False)[1])
        return fd

    def parent(self, path: str) -> tuple[int, str]:
        """The open parent directory of `path` and the name in it."""
        head, _, name = path.rpartition("/")
        return self.fd(head), name


def _what(dir_fd: int, name: str) -> str:
    try:
        s = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return "gone"
    return "a symlink" if st.S_ISLNK(s.st_mode) else "not a directory"


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """The entry `name` in the directory (not followed); None when nothing is there."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None


def same(a: os.stat_result, b: os.stat_result) -> bool:
    """Whether two stats show the same untouched entry (ctime too: a same-size rewrite in one mtime tick)."""
    return (a.st_ino, a.st_size, a.st_mtime_ns, a.st_ctime_ns, a.st_mode) == (
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
        b.st_mode,
    )


def place(src: str, parents: Parents, path: str, seen: os.stat_result | None) -> tuple[bool, os.stat_result | None]:
    """Move the staged entry `src` (an absolute path) to `path` of the tree, if what is there is still
    `seen` (None: nothing was there).

    Returns (True, the placed entry's stat), or (False, what is there now)
    when it changed meanwhile: then `src` is left where it is, for the caller
    to remove. LinkedParent: a parent is a symlink now (nothing moved).
    """
    dir_fd, name = parents.parent(path)
    if seen is not None:
        now = lstat_at(dir_fd, name)
        if now is not None:
            if not same(now, seen):
                return False, now
            os.replace(src, name, dst_dir_fd=dir_fd)
            return True, os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        # removed meanwhile: as if it had not been there, but taken without clobbering
    try:
        move_new(src, name, dst_dir_fd=dir_fd)
    except FileExistsError:
        return False, lstat_at(dir_fd, name)
    return True, os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def move_new(src: str, dst: str, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None) -> None:
    """Rename `src` to `dst`, which must not exist (FileExistsError, and nothing moved).

    renameat2(RENAME_NOREPLACE) where the kernel and file system have it;
    else a hard link then unlink of `src`; else (no hard links here) a
    check right before a plain rename.
    """
    if _noreplace(src, dst, src_dir_fd, dst_dir_fd):
        return
    try:
        os.link(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(dst) if dst_dir_fd is None else lstat_at(dst_dir_fd, dst) is not None:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst) from None
        os.rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        return
    os.unlink(src, dir_fd=src_dir_fd)


def chmod_dir(dir_fd: int, name: str, mode: int) -> os.stat_result:
    """Give the directory `name` (never a symlink followed) `mode`; return its stat."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except PermissionError:
        if not _O_PATH:
            raise
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)  # (no read permission: by its /proc name)
        try:
            os.chmod(f"/proc/self/fd/{fd}", mode)
            return os.fstat(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            raise LinkedParent(f"{name} is {_what(dir_fd, name)} now, not a directory") from None
        raise
    try:
        os.fchmod(fd, mode)
        return os.fstat(fd)
    finally:
        os.close(fd)


_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_renameat2: Any = None  # the libc function once looked up; False: not available


def _noreplace(src: str, dst: str, src_dir_fd: int | None, dst_dir_fd: int | None) -> bool:
    """renameat2(RENAME_NOREPLACE): True when done, False when not available (FileExistsError, OSError)."""
    fn = _lookup()
    if fn is None:
        return False
    import ctypes

    rc = fn(
        _AT_FDCWD if src_dir_fd is None else src_dir_fd,
        os.fsencode(src),
        _AT_FDCWD if dst_dir_fd is None else dst_dir_fd,
        os.fsencode(dst),
        _RENAME_NOREPLACE,
    )
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.ENOSYS:
        global _renameat2
        _renameat2 = False
        return False
    if err in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):  # not on this file system
        return False
    raise OSError(err, os.strerror(err), dst) if err != errno.EEXIST else FileExistsError(err, os.strerror(err), dst)


def _lookup() -> Callable[..., int] | None:
    global _renameat2
    if _renameat2 is None:
        _renameat2 = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                fn = ctypes.CDLL(None, use_errno=True).renameat2
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                fn.restype = ctypes.c_int
                _renameat2 = fn
            except (OSError, AttributeError):
                pass
    return _renameat2 or None
