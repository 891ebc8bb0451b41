"""Turn working files into stored content, and stored content back into files.

`FileReader` cuts a file into FastCDC blocks, names each by HMAC, stores the
missing ones and folds the ids into a manifest tree. With no store it only
computes ids (for `status` and `push --dry-run`). Files are streamed: a large
file is never held in memory whole.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat as st
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pyfastcdc import Chunk, FastCDC

from fog import cancel
from fog.backends.local import WRITEBACK_BYTES, start_writeback
from fog.crypto.keys import ShareKeys
from fog.errors import IntegrityError
from fog.format import objects as O
from fog.format.manifest import build_tree
from fog.format.version import Version
from fog.frozen import quick_init
from fog.repo.db import StatLike
from fog.store import PutStats, ShareStore
from fog.sync.scan import TMP_PREFIX

WHOLE_READ_LIMIT = 4 << 20  # files up to this size are read in one call
_BUFFER = 1 << 20


@quick_init
@dataclass(frozen=True, slots=True)
class Content:
    """What reading a file produced."""

    root: bytes | None
    depth: int
    size: int
    stable: bool  # the file did not change while it was read


SNAPSHOT_REREADS = 1  # a file that changed while read is read again this often before it is copied
FICLONE = 0x40049409  # ioctl: make `fd` a reflink copy of another file (btrfs, xfs, bcachefs, ...)


REPLACED = "another file is at this path than the scan found (replaced, or a directory above it swapped)"


class _Seen:
    """A file's size and mtime now, with the inode the scan found (what every read of it must open)."""

    def __init__(self, now: os.stat_result, ino: int | None) -> None:
        self.st_size, self.st_mtime_ns, self.st_ino = now.st_size, now.st_mtime_ns, ino or 0


class FileReader:
    """Chunk, name and (optionally) store file contents for one share."""

    def __init__(self, keys: ShareKeys, store: ShareStore | None, snapshot_dir: str | None = None) -> None:
        self.keys = keys
        self.store = store
        self.snapshot_dir = snapshot_dir  # where `read_consistent` copies a file that never holds still
        self.on_bytes: Callable[[int], None] | None = None  # told each block's size as it is read (progress)

    def _chunker(self) -> FastCDC:
        return FastCDC(O.FASTCDC_AVG_PARAM, min_size=O.MIN_BLOCK, max_size=O.MAX_BLOCK, seed=self.keys.chunk_seed)

    def _put(self, stats: PutStats) -> Callable[[bytes | memoryview], bytes]:
        put: Callable[[bytes | memoryview], bytes]
        if self.store is None:
            put = self.keys.mac
        else:
            store = self.store
            put = lambda data: store.put(data, stats)  # noqa: E731
        told = self.on_bytes
        if told is None:
            return put

        def counted(data: bytes | memoryview) -> bytes:
            told(len(data))
            return put(data)

        return counted

    def read(self, path: str | Path, before: StatLike, stats: PutStats) -> Content:
        """Read a regular file without following a symlink swapped in for it.

        Another file than `before` (its inode) opened there, a directory above it swapped for a symlink
        since the scan (O_NOFOLLOW guards only the last name), is not read: OSError."""
        put = self._put(stats)
        # O_NONBLOCK: a FIFO swapped in since the scan must not block the open forever
        # (regular files ignore it); O_NOFOLLOW: nor may a symlink lead out of the share.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            opened = os.fstat(fd)
            if not st.S_ISREG(opened.st_mode):
                # an OSError: push skips this one file (and retries next time)
                raise OSError(errno.EINVAL, "no longer a regular file", str(path))
            ino = getattr(before, "st_ino", 0)
            if ino and opened.st_ino != ino:
                raise OSError(errno.ESTALE, REPLACED, str(path))
            if before.st_size <= WHOLE_READ_LIMIT:
                data = _read_small(fd, before.st_size)
                if len(data) <= O.MIN_BLOCK:  # one block whatever the chunker says (most files: no tree)
                    root = put(data) if data else None
                    after = os.fstat(fd)
                    size = len(data)
                    stable = size == after.st_size == before.st_size and after.st_mtime_ns == before.st_mtime_ns
                    return Content(root, 0, size, stable)
                entries = [(put(c.data), c.length) for c in self._chunker().cut_buf(data)]
            else:
                with os.fdopen(os.dup(fd), "rb", buffering=0) as f:
                    entries = _put_parallel(put, self._chunker().cut_stream(f))
            after = os.fstat(fd)
        finally:
            os.close(fd)
        size = sum(n for _, n in entries)
        root, depth = build_tree(entries, put)
        stable = size == after.st_size == before.st_size and after.st_mtime_ns == before.st_mtime_ns
        return Content(root, depth, size, stable)

    def read_consistent(self, path: str, before: StatLike, stats: PutStats) -> tuple[Content, str]:
        """`read`, and for a file that changed while it was read, a consistent state of it.

        It is read again (SNAPSHOT_REREADS times at most); if it still never
        holds still (a log appended every few milliseconds), a private copy is
        made in `snapshot_dir` and read instead: a reflink where the file
        system offers one (instant, atomic), else a copy of the bytes it holds
        when the copy starts. Returns the content and how it was taken: "" (read
        in place), "reread", "reflink" or "copy". Without `snapshot_dir` (status,
        dry runs) an unstable content is returned as it is.
        """
        ino = getattr(before, "st_ino", None) or None  # the file the scan found: every read must open it
        content = self.read(path, before, stats)
        for _ in range(SNAPSHOT_REREADS):
            if content.stable:
                return content, "" if _ == 0 else "reread"
            cancel.check()
            content = self.read(path, _Seen(os.lstat(path), ino), stats)
        if content.stable:
            return content, "reread"
        if self.snapshot_dir is None:
            return content, ""
        return self._read_snapshot(path, stats, ino)

    def _read_snapshot(self, path: str, stats: PutStats, ino: int | None = None) -> tuple[Content, str]:
        src = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        assert self.snapshot_dir is not None
        tmp = os.path.join(self.snapshot_dir, f"{TMP_PREFIX}snap-{os.getpid()}-{threading.get_ident()}")
        dst = -1
        try:
            opened = os.fstat(src)
            if not st.S_ISREG(opened.st_mode):
                raise OSError(errno.EINVAL, "no longer a regular file", path)
            if ino is not None and opened.st_ino != ino:
                raise OSError(errno.ESTALE, REPLACED, path)
            dst = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            how = "reflink"
            try:
                import fcntl

                fcntl.ioctl(dst, FICLONE, src)
            except OSError:
                how = "copy"
                _copy_prefix(src, dst, os.fstat(src).st_size)
            snap = os.fstat(dst)
            return self.read(tmp, snap, stats), how
        finally:
            os.close(src)
            if dst >= 0:
                os.close(dst)
                os.unlink(tmp)


def _copy_prefix(src: int, dst: int, size: int) -> None:
    """Copy the first `size` bytes of src to dst (what the file held when the copy began)."""
    done = 0
    while done < size:
        cancel.check()
        try:
            n = os.copy_file_range(src, dst, min(size - done, 64 << 20), done, done)
        except OSError:
            n = os.pwrite(dst, os.pread(src, min(size - done, 1 << 20), done), done)
        if n <= 0:
            break  # the file shrank meanwhile: what was there is the copy
        done += n
    os.ftruncate(dst, done)


# Pushing computes (hash, compress, seal): one thread per core; more only fight
# over the GIL (measured: 2 threads 3.9 s, 8 + 16 threads 4.9 s for a 272 MB
# push on 2 cores). Uploads run on the packer's own threads. Fetching waits on
# the remote, one small read per block: more threads hide its latency.
CPU_WORKERS = max(2, os.cpu_count() or 2)
IO_WORKERS = max(8, 2 * (os.cpu_count() or 2))
_pools: dict[str, ThreadPoolExecutor] = {}
_pool_lock = threading.Lock()


def _forget_pools_after_fork() -> None:
    """A forked child has none of the parent's threads: it must build its own pools."""
    global _pool_lock
    _pools.clear()
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools_after_fork)


def _pool(kind: str, size: int = CPU_WORKERS) -> ThreadPoolExecutor:
    """The process-wide pool of `size` threads for the blocks of large files: "cpu" (push) or "io" (fetch).

    Separate from the per-file pools so a file worker waiting on its blocks can
    never starve them. The C libraries release the GIL, so this fills the cores.
    """
    key = f"{kind}-{size}"
    with _pool_lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(size, thread_name_prefix=f"fog-block-{kind}")
        return _pools[key]


def read_workers(store: ShareStore) -> int:
    """Threads worth reading from `store` at once: its backend's hint, else IO_WORKERS."""
    return store.read_concurrency or IO_WORKERS


def _put_parallel(put: Callable[[bytes | memoryview], bytes], chunks: Iterable[Chunk]) -> list[tuple[bytes, int]]:
    """Store a stream of chunks on the block pool, in order, with bounded memory.

    cut_stream reuses its buffer, so each chunk is copied before it is handed
    off; at most 2 x workers chunks (each <= 256 KiB) are in flight. Stops
    between two chunks once cancellation is requested (fog.cancel).
    """
    pool = _pool("cpu", CPU_WORKERS)
    window: deque[tuple[Future[bytes], int]] = deque()
    out: list[tuple[bytes, int]] = []
    try:
        for c in chunks:
            cancel.check()
            window.append((pool.submit(put, bytes(c.data)), c.length))
            if len(window) >= 2 * CPU_WORKERS:
                fut, n = window.popleft()
                out.append((fut.result(), n))
        while window:
            fut, n = window.popleft()
            out.append((fut.result(), n))
    finally:
        for fut, _ in window:  # only when stopped early: blocks nobody will name
            fut.cancel()
    return out


def _read_small(fd: int, expected: int) -> bytes:
    """Read up to WHOLE_READ_LIMIT + 1 bytes (one more than allowed shows growth)."""
    data = os.read(fd, max(expected, 0) + 1)
    if len(data) <= expected:
        return data
    parts = [data]
    total = len(data)
    while total <= WHOLE_READ_LIMIT:
        more = os.read(fd, _BUFFER)
        if not more:
            break
        parts.append(more)
        total += len(more)
    return b"".join(parts)


_temp_token = os.urandom(4).hex()
_temp_seq = itertools.count()


_pid = os.getpid()


def _new_temp_token() -> None:
    global _temp_token, _temp_seq, _pid
    _temp_token, _temp_seq, _pid = os.urandom(4).hex(), itertools.count(), os.getpid()


os.register_at_fork(after_in_child=_new_temp_token)


def _temp_name() -> str:
    """pid, a random token per process, then a counter: ext4 creates 5,000 files named
    in sequence 2-5x faster than 5,000 random names (measured here, same directory)."""
    return f"{TMP_PREFIX}{_pid}-{_temp_token}-{next(_temp_seq):08d}"


def stage_version(
    store: ShareStore,
    v: Version,
    tmp_dir: str,
    *,
    fsync: bool = True,
    on_bytes: Callable[[int], None] | None = None,
    mode: int | None = None,
) -> str:
    """Write a file or symlink version to a new temp file in `tmp_dir`; return its path (`mode`: the
    permission bits to give it, if not the version's).

    Blocks are fetched in parallel and verified before they are written; the
    file gets the version's mode and mtime. With `fsync=False` the caller
    makes the data durable (one syncfs for many files) before renaming. On any
    failure the temp file is removed. `on_bytes` is told each block's size
    once it is written (progress, also inside a large file).
    """
    while True:  # a name left by a killed process with the same pid and token: take the next
        tmp = os.path.join(tmp_dir, _temp_name())
        try:
            if v.kind == "link":
                os.symlink(v.target or "", tmp)
                os.utime(tmp, ns=(v.mtime_ns, v.mtime_ns), follow_symlinks=False)  # (a rename keeps it)
                return tmp
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            break
        except FileExistsError:
            continue
    try:
        try:
            written = 0
            hole = False  # the file ends in a hole: its size is set at the end
            for block in _fetch_blocks(store, v):
                cancel.check()
                if _zeros(block):  # a hole stays a hole (a sparse disk image does not fill the disk here)
                    os.lseek(fd, len(block), os.SEEK_CUR)
                    hole = True
                else:
                    view = memoryview(block)
                    while view:
                        view = view[os.write(fd, view) :]
                    hole = False
                written += len(block)
                if on_bytes is not None:
                    on_bytes(len(block))
            if written != v.size:
                raise IntegrityError(f"{v.path}: restored {written} bytes, version says {v.size}")
            if hole:
                os.ftruncate(fd, written)
            os.fchmod(fd, (v.mode if mode is None else mode) & 0o7777)
            os.utime(fd, ns=(v.mtime_ns, v.mtime_ns))
            if fsync:
                os.fsync(fd)
            elif written >= WRITEBACK_BYTES:
                start_writeback(fd)  # the caller's syncfs then waits for less
        finally:
            os.close(fd)
        return tmp
    except BaseException:
        _unlink(tmp)
        raise


def write_version(
    store: ShareStore,
    v: Version,
    dest: str | Path,
    tmp_dir: str,
    on_bytes: Callable[[int], None] | None = None,
    mode: int | None = None,
) -> None:
    """Materialize a file or symlink version at `dest` atomically.

    Content goes to a temp file in tmp_dir (on dest's filesystem), verified
    block by block, fsynced, then renamed over dest. On any failure the temp
    file is removed and dest is untouched. `on_bytes`: as for stage_version.
    """
    tmp = stage_version(store, v, tmp_dir, on_bytes=on_bytes, mode=mode)
    try:
        os.replace(tmp, dest)
    except BaseException:
        _unlink(tmp)
        raise


_ZERO_BLOCK = bytes(O.MAX_BLOCK)


def _zeros(block: bytes) -> bool:
    """Whether a whole block (at most MAX_BLOCK) is zero bytes (its ends first: cheap)."""
    return len(block) >= 4096 and not block[0] and not block[-1] and block == _ZERO_BLOCK[: len(block)]


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fetch_blocks(store: ShareStore, v: Version) -> Iterable[bytes]:
    """A version's verified blocks in order; a multi-block file is fetched on the block pool."""
    if v.depth == 0:
        return store.read_blocks(v.content, v.depth, v.path)
    leaves: list[bytes] = []

    def collect(object_id: bytes, depth: int) -> bool:
        if depth == 0:
            leaves.append(object_id)
        return True

    store.walk(v.content, v.depth, v.path, collect)  # manifest nodes only: small
    workers = read_workers(store)
    return _ordered(_pool("io", workers), workers, lambda run: store.get_run(run, v.path), store.runs(leaves))


def _ordered(
    pool: ThreadPoolExecutor, workers: int, fn: Callable[[list[bytes]], list[bytes]], runs: list[list[bytes]]
) -> Iterable[bytes]:
    """fn over runs of ids on the pool, yielding their blocks in order, 2 x workers runs in flight."""
    window: deque[Future[list[bytes]]] = deque()
    try:
        for run in runs:
            window.append(pool.submit(fn, run))
            if len(window) >= 2 * workers:
                yield from window.popleft().result()
        while window:
            yield from window.popleft().result()
    finally:
        for fut in window:  # the reader stopped early (an error, or cancellation): fetch no more
            fut.cancel()


def stream_version(
    store: ShareStore, v: Version, out: Callable[[bytes], object], on_bytes: Callable[[int], None] | None = None
) -> int:
    """Write a file version's verified bytes to `out`; returns the byte count (`on_bytes`: told each block's)."""
    n = 0
    for block in store.read_blocks(v.content, v.depth, v.path):
        cancel.check()
        out(block)
        n += len(block)
        if on_bytes is not None:
            on_bytes(len(block))
    return n
