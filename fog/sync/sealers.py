"""Small files read, named and sealed in forked worker processes while the push records them.

A push of many small files is one core of Python: per file the process
reads it, names it (HMAC), compresses and seals it, packs it and records it.
Two processes forked from the push take the first three off it: each reads
one-block files (at most MIN_BLOCK bytes) in batches and returns every one's
id and sealed bytes, a few batches ahead of the push, which claims the ids,
packs the sealed bytes and records each chunk as before. The result is the
same bytes as reading in-process: ids and sealed objects depend only on the
content and the keys (blocks' nonces are derived from their ids).

Safety:
- Forked only while no other thread runs (fog.forking), at the start of the
  command: before any remote is opened and before a progress bar shows. Not
  `spawn` or `forkserver`: both import the embedding program's `__main__`
  again. A push that then finds fewer than SMALL_FILES such files stops them.
- Keys reach the workers only by fork inheritance: they are sent paths and
  sizes and return ids and sealed bytes. They touch no LMDB handle, remote
  or terminal (every inherited descriptor but their two pipes is closed, or
  pointed at /dev/null for 0-2), never collect garbage (a cycle holding a
  parent's LMDB transaction must not be finalised there) and leave with
  os._exit.
- A worker that dies (EOF on its pipe) or returns nothing for STALL_SECONDS
  while it holds work is killed with the others; the files they held and all
  the rest are read in-process: the push carries on, only slower. A result
  is used only once its whole batch arrived.
- Workers ignore SIGINT (the push decides); closing or killing them is the
  push's `with` exit, on any outcome. A push process that dies leaves them
  EOF on their task pipe (or EPIPE on their results): they end.
- Files a worker cannot read, or that changed while it read them, come back
  empty-handed and are read in-process: errors, snapshots and re-reads stay
  the in-process path's.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import stat as st
import struct
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from fog import cancel, forking
from fog.crypto.keys import ShareKeys
from fog.format.objects import MIN_BLOCK
from fog.store import encode_object

WORKERS = 2  # the push's own process stays the bottleneck (it packs and records): two keep it fed
SMALL_FILES = 4096  # a push with fewer changed one-block files reads them in-process (forking costs ~what it gives)
SMALL_BYTES = MIN_BLOCK  # a file at most this large is one block: its id and sealed bytes are all it needs
BATCH_FILES = 128  # files per task sent to a worker
AHEAD = 6  # batches in flight per worker (sent, not yet used): the workers' lead over the push
STALL_SECONDS = 60.0  # a worker holding work that returns nothing this long is taken for hung
PIPE_BYTES = 1 << 20  # results a worker can leave in its pipe while the push commits a chunk

_LEN = struct.Struct("<I")

# (id, size, sealed bytes) of a one-block file, (None, 0, None) of an empty one; None: read it in-process
Sealed = tuple[bytes | None, int, bytes | None] | None


class WorkersFailed(Exception):
    """A worker died or stalled (internal: the push reads the rest in-process)."""


@dataclass
class _Worker:
    pid: int
    tasks: int  # write end of its task pipe (non-blocking)
    results: int  # read end of its result pipe
    out: bytearray = field(default_factory=bytearray)  # task bytes not yet written
    inbuf: bytearray = field(default_factory=bytearray)
    ready: deque[list[Sealed]] = field(default_factory=deque)
    held: int = 0  # batches sent whose results the push has not taken yet


class Sealers:
    """Worker processes forked for one push; `start` returns None when forking is not safe."""

    def __init__(self, keys: ShareKeys, workers: list[_Worker]) -> None:
        self.keys = keys
        self.workers = workers
        self.failed: str | None = None  # why the workers were stopped early
        self.sealed = 0  # files whose worker result the push used

    @classmethod
    def start(cls, keys: ShareKeys, count: int = WORKERS) -> Sealers | None:
        if count < 1 or not forking.safe_to_fork():
            return None
        name = keys.mac
        data_key = keys.data_key
        workers: list[_Worker] = []
        try:
            for _ in range(count):
                workers.append(_fork(lambda data, oid: encode_object(data_key, oid, data), name))
        except OSError:
            _kill(workers)
            return None
        return cls(keys, workers)

    def fits(self, keys: ShareKeys) -> bool:
        """Whether the workers seal with these keys (a rotation followed after the fork: not)."""
        return self.failed is None and keys.mac_key == self.keys.mac_key and keys.data_key == self.keys.data_key

    def stream(self, top: str, files: Iterable[tuple[str, int, int, int]]) -> Iterator[tuple[str, Sealed]]:
        """(path, result) for each (path, size, mtime_ns, inode) of `files`, in their order, read under `top`."""
        batches = _batched(files, BATCH_FILES)
        sent: deque[tuple[_Worker, list[tuple[str, int, int, int]]]] = deque()
        n = 0
        while True:
            while self.failed is None and len(sent) < AHEAD * len(self.workers):
                batch = next(batches, None)
                if batch is None:
                    break
                w = self.workers[n % len(self.workers)]
                n += 1
                self._send(w, [(f"{top}/{p}", size, mtime, ino) for p, size, mtime, ino in batch])
                sent.append((w, batch))
            if not sent:
                batch = next(batches, None)  # (the workers failed: the rest is read in-process)
                if batch is None:
                    return
                sent.append((self.workers[0], batch))
            w, batch = sent.popleft()
            got = self._receive(w) if self.failed is None else None
            if got is None:
                for p, *_ in batch:
                    yield p, None
                continue
            for (p, *_), r in zip(batch, got, strict=True):
                if r is not None:
                    self.sealed += 1
                yield p, r

    def _send(self, w: _Worker, task: list[tuple[str, int, int, int]]) -> None:
        data = pickle.dumps(task, protocol=5)
        w.out += _LEN.pack(len(data)) + data
        w.held += 1
        try:
            self._flush(w)
        except WorkersFailed as exc:
            self.stop(str(exc))

    def _flush(self, w: _Worker) -> None:
        while w.out:
            try:
                n = os.write(w.tasks, w.out)
            except BlockingIOError:
                return
            except OSError as exc:  # (EPIPE: it is gone)
                raise WorkersFailed(f"a worker process stopped taking work ({exc.strerror})") from None
            del w.out[:n]

    def _receive(self, w: _Worker) -> list[Sealed] | None:
        """The next batch of results from `w`; None once the workers failed (then they are stopped)."""
        cancel.check()
        try:
            self._pump(0)  # whatever any worker has ready: none waits on a full pipe meanwhile
            quiet = time.monotonic()  # (only time spent waiting here counts: the push may pause long between)
            while not w.ready:
                heard = self._pump(0.25)
                cancel.check()
                now = time.monotonic()
                if heard:
                    quiet = now
                elif now - quiet > STALL_SECONDS:
                    raise WorkersFailed(f"a worker process returned nothing for {STALL_SECONDS:g} s")
        except WorkersFailed as exc:
            self.stop(str(exc))
            return None
        w.held -= 1
        return w.ready.popleft()

    def _pump(self, timeout: float) -> bool:
        """Write pending tasks and read results, waiting up to `timeout` s for either; whether results came."""
        poller = select.poll()
        by_fd: dict[int, _Worker] = {}
        for w in self.workers:
            if w.held > len(w.ready):  # results still to come
                poller.register(w.results, select.POLLIN)
                by_fd[w.results] = w
            if w.out:
                poller.register(w.tasks, select.POLLOUT)
                by_fd[w.tasks] = w
        if not by_fd:
            return False
        heard = False
        for fd, ev in poller.poll(timeout * 1000):
            w = by_fd[fd]
            if fd == w.tasks:
                if ev & (select.POLLERR | select.POLLHUP):
                    raise WorkersFailed("a worker process stopped taking work")
                self._flush(w)
                continue
            chunk = os.read(fd, PIPE_BYTES) if ev & (select.POLLIN | select.POLLHUP) else b""
            if not chunk:
                raise WorkersFailed("a worker process ended before its work was done")
            heard = True
            w.inbuf += chunk
            while len(w.inbuf) >= 4:
                (size,) = _LEN.unpack_from(w.inbuf)
                if len(w.inbuf) < 4 + size:
                    break
                with memoryview(w.inbuf) as view:
                    w.ready.append(pickle.loads(view[4 : 4 + size]))
                del w.inbuf[: 4 + size]
        return heard

    def stop(self, why: str) -> None:
        """Kill the workers now (a failure): what they held is read in-process."""
        if self.failed is None:
            self.failed = why
        _kill(self.workers)

    def close(self) -> None:
        """End the workers: idle ones leave at the end of their task pipe; any still busy is killed."""
        for w in self.workers:
            _close(w.tasks)
            w.tasks = -1
        deadline = time.monotonic() + 1.0
        live = list(self.workers)
        while live and time.monotonic() < deadline:
            live = [w for w in live if not _reaped(w)]
            if live:
                time.sleep(0.002)
        _kill(live)
        for w in self.workers:
            _close(w.results)
            w.results = -1

    def __enter__(self) -> Sealers:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if exc is None:
            self.close()
        else:
            self.stop("the push stopped")


def _batched(items: Iterable[tuple[str, int, int, int]], n: int) -> Iterator[list[tuple[str, int, int, int]]]:
    batch: list[tuple[str, int, int]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def _fork(seal: Callable[[bytes, bytes], bytes], name: Callable[[bytes], bytes]) -> _Worker:
    tasks_r, tasks_w = os.pipe()
    results_r, results_w = os.pipe()
    try:
        import fcntl

        fcntl.fcntl(results_w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # (a smaller pipe: the workers' lead is shorter)
    collecting = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():  # (3.12 warns of any other thread: fog.forking vouched for them)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except BaseException:
        for fd in (tasks_r, tasks_w, results_r, results_w):
            os.close(fd)
        if collecting:
            gc.enable()
        raise
    if pid == 0:  # the worker: never returns
        code = 1
        try:
            _child(tasks_r, results_w, name, seal)
            code = 0
        finally:
            os._exit(code)
    if collecting:
        gc.enable()
    os.close(tasks_r)
    os.close(results_w)
    os.set_blocking(tasks_w, False)
    return _Worker(pid, tasks_w, results_r)


def _child(tasks: int, results: int, name: Callable[[bytes], bytes], seal: Callable[[bytes, bytes], bytes]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (Ctrl-C reaches the whole group: the push decides)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    _keep_only({tasks, results})
    while True:
        head = _read_exactly(tasks, 4)
        if head is None:
            return  # the push closed the pipe (or ended)
        data = _read_exactly(tasks, _LEN.unpack(head)[0])
        if data is None:
            return
        out = pickle.dumps([_seal_file(*task, name, seal) for task in pickle.loads(data)], 5)
        view = memoryview(_LEN.pack(len(out)) + out)
        while view:
            view = view[os.write(results, view) :]


def _seal_file(
    path: str,
    size: int,
    mtime_ns: int,
    ino: int,
    name: Callable[[bytes], bytes],
    seal: Callable[[bytes, bytes], bytes],
) -> Sealed:
    """What FileReader.read makes of a one-block file, if it is one and held still; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not st.S_ISREG(os.fstat(fd).st_mode) or size > SMALL_BYTES:
            return None
        data = os.read(fd, size + 1)
        after = os.fstat(fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    if not (len(data) == size == after.st_size and after.st_mtime_ns == mtime_ns and after.st_ino == ino):
        return None  # changed since the scan or while read (or another file: a parent swapped): read in-process
    if not data:
        return None, 0, None
    object_id = name(data)
    return object_id, size, seal(data, object_id)


def _keep_only(fds: set[int]) -> None:
    """Close every inherited descriptor but `fds`; 0-2 point at /dev/null (no terminal, no parent's files)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd != null:
            os.dup2(null, fd)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in fds:
            _close(fd)


def _read_exactly(fd: int, n: int) -> bytes | None:
    parts: list[bytes] = []
    while n:
        part = os.read(fd, n)
        if not part:
            return None
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _close(fd: int) -> None:
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def _reaped(w: _Worker) -> bool:
    if w.pid <= 0:
        return True
    try:
        pid, _ = os.waitpid(w.pid, os.WNOHANG)
    except ChildProcessError:
        pid = w.pid
    if pid:
        w.pid = 0
    return pid != 0


def _kill(workers: list[_Worker]) -> None:
    """SIGKILL and reap (waiting at most a second: a worker stuck in the kernel is left to init)."""
    for w in workers:
        _close(w.tasks)
        _close(w.results)
        w.tasks = w.results = -1
        if w.pid > 0:
            try:
                os.kill(w.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 1.0
    live = [w for w in workers if w.pid > 0]
    while live and time.monotonic() < deadline:
        live = [w for w in live if not _reaped(w)]
        if live:
            time.sleep(0.002)
