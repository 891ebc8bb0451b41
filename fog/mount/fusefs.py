"""The mount's FUSE face: HistoryFS served read-only through libfuse by mfusepy.

mfusepy (the maintained successor of fusepy: pure Python over libfuse 2 or 3
through ctypes, nothing to compile) is imported only here, and only when a
mount starts, so every other command works where FUSE is absent.

The file system is mounted `ro` (the kernel answers EROFS to every write
before it reaches us; the write operations below say EROFS too, should one
come through), with our inode numbers (`use_ino`) and the kernel checking
permissions from the modes shown (`default_permissions`). Requests are served
one at a time (`nothreads`): the share's database and the block cache are
then used from one thread. A block that cannot be fetched or fails
verification makes the read fail with EIO and one line through `warn`.

A name outside versions/ can mean another version after a push or pull (current/
follows them; a moment's tree gains what a pull brings). An open file keeps the
version its open() found (its handle): a read across a push never splices two
versions. The kernel's page cache and size are per name, though: the first
open of a name drops its cached pages, a file opened while another version of
its name is open is read with direct I/O (past the cache), and attributes are
not cached (`attr_timeout=0`: a read past the size the kernel holds asks it
again, through the reader's own handle).
"""

from __future__ import annotations

import errno
import os
import stat as st
from collections.abc import Callable
from typing import Any

from fog.errors import FogError
from fog.mount.vfs import Entry, HistoryFS, NotADir, NotFound, inode

INSTALL_HINT = (
    "install libfuse and fusermount (Debian/Ubuntu: apt install fuse3, or fuse; Fedora: dnf install fuse3) "
    "and the Python binding (pip install mfusepy)"
)


class FuseUnavailable(FogError):
    """FUSE cannot be used on this machine (no /dev/fuse, no libfuse, no binding)."""

    kind = "fuse-unavailable"


def load_fuse() -> Any:
    """The mfusepy module, or FuseUnavailable saying what to install."""
    if not os.path.exists("/dev/fuse"):
        raise FuseUnavailable(
            "FUSE is not available here: /dev/fuse is missing (load the fuse kernel module; "
            "in a container, pass the device /dev/fuse)"
        )
    try:
        import mfusepy
    except ImportError:
        raise FuseUnavailable(f"FUSE is not available here: the mfusepy module is missing; {INSTALL_HINT}") from None
    except (OSError, AttributeError) as exc:  # mfusepy found no usable libfuse
        raise FuseUnavailable(f"FUSE is not available here ({exc}); {INSTALL_HINT}") from None
    return mfusepy


def operations(fs: HistoryFS, warn: Callable[[str], None], ready: Callable[[], None]) -> Any:
    """An mfusepy Operations object over `fs`."""
    fuse = load_fuse()
    uid, gid = os.getuid(), os.getgid()

    def failure(exc: Exception) -> OSError:
        if isinstance(exc, NotFound):
            return fuse.FuseOSError(errno.ENOENT)
        if isinstance(exc, NotADir):
            return fuse.FuseOSError(errno.ENOTDIR)
        warn(str(exc))
        return fuse.FuseOSError(errno.EIO)

    def entry(path: str) -> Entry:
        try:
            return fs.lookup(path)
        except (FogError, OSError) as exc:
            raise failure(exc) from None

    handles: dict[int, tuple[str, Entry, bool]] = {}  # a handle -> (its name, the entry open() found, cached)
    cached: dict[str, tuple[bytes, int]] = {}  # a name outside versions/ -> its version in the page cache, readers
    last = [0]

    def held(fi: Any) -> Entry | None:
        """The entry of the file handle in `fi` (a fuse_file_info; None when not asked through an open file)."""
        h = handles.get(fi.fh) if fi is not None else None
        return h[1] if h is not None else None

    class Ops(fuse.Operations):  # type: ignore[misc,name-defined]
        use_ns = True

        def init(self, path: str) -> None:
            ready()

        def getattr(self, path: str, fi: Any = None) -> dict[str, int]:
            e = held(fi) or entry(path)  # (fstat of an open file: the version it reads)
            return {
                "st_mode": e.st_mode(),
                "st_ino": inode(path.strip("/")),
                "st_nlink": 1,  # (for a directory: "not counted", so find never skips one as a leaf)
                "st_size": e.size,
                "st_uid": uid,
                "st_gid": gid,
                "st_mtime": e.mtime_ns,
                "st_ctime": e.mtime_ns,
                "st_atime": e.mtime_ns,
                "st_blocks": (e.size + 511) // 512,
            }

        def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int], int]]:
            try:
                names = fs.listdir_typed(path)
            except (FogError, OSError) as exc:
                raise failure(exc) from None
            here = path.strip("/")
            up = here.rsplit("/", 1)[0] if "/" in here else ""
            out = [(".", {"st_mode": st.S_IFDIR, "st_ino": inode(here)}, 0)]
            out.append(("..", {"st_mode": st.S_IFDIR, "st_ino": inode(up)}, 0))
            for name, fmt in names:
                out.append((name, {"st_mode": fmt, "st_ino": inode(f"{here}/{name}" if here else name)}, 0))
            return out

        def readlink(self, path: str) -> str:
            e = entry(path)
            if e.kind != "link" or e.version is None:
                raise fuse.FuseOSError(errno.EINVAL)
            return e.version.target or ""

        def open(self, path: str, fi: Any) -> int:
            if fi.flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC | os.O_CREAT):
                raise fuse.FuseOSError(errno.EROFS)
            e = entry(path)
            if e.kind != "file":
                raise fuse.FuseOSError(errno.EISDIR)
            last[0] += 1
            fi.fh = last[0]
            in_cache = True
            if fs.frozen(path):
                fi.keep_cache = 1  # (one version for ever: its pages stay good)
            else:
                this = e.version.id if e.version is not None else b""
                vid, readers = cached.get(path, (this, 0))
                if vid != this:  # another version of this name is read through the page cache
                    fi.direct_io = fi.keep_cache = 1
                    in_cache = False
                else:
                    fi.keep_cache = int(readers > 0)  # (none: pages of a version read before are dropped)
                    cached[path] = (vid, readers + 1)
            handles[fi.fh] = (path, e, in_cache)  # read() reads this version until release()
            return 0

        def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
            e = held(fi) or entry(path)
            try:
                return fs.read(e, offset, size)
            except (FogError, OSError) as exc:
                raise failure(exc) from None

        def release(self, path: str, fi: Any) -> int:
            name, _e, in_cache = handles.pop(fi.fh, ("", None, False))
            if in_cache and name in cached:
                vid, readers = cached[name]
                if readers > 1:
                    cached[name] = (vid, readers - 1)
                else:
                    del cached[name]
            return 0

        def statfs(self, path: str) -> dict[str, int]:
            return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}

        def _refuse(self, *args: object) -> int:
            raise fuse.FuseOSError(errno.EROFS)

        chmod = chown = create = mkdir = mknod = rename = rmdir = symlink = link = unlink = _refuse
        truncate = utimens = write = setxattr = removexattr = _refuse

    return Ops()


def serve(fs: HistoryFS, mountpoint: str, warn: Callable[[str], None], ready: Callable[[], None]) -> None:
    """Mount `fs` at `mountpoint` and serve it until it is unmounted (blocks; any thread)."""
    fuse = load_fuse()
    ops = operations(fs, warn, ready)
    try:
        fuse.FUSE(
            ops,
            mountpoint,
            raw_fi=True,  # (open() sets direct_io or keep_cache; read, getattr and release get the handle there)
            attr_timeout=0,  # (a size is asked each time: a name's version can change)
            foreground=True,
            nothreads=True,
            ro=True,
            nosuid=True,  # (a version's setuid bits are shown, never honoured; another user's least of all)
            nodev=True,
            use_ino=True,
            default_permissions=True,
            fsname="fog",
            subtype="fog",
        )
    except RuntimeError as exc:
        raise FogError(f"cannot mount at {mountpoint}: libfuse failed ({exc}; its own message is above)") from None
