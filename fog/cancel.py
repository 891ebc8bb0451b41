"""Stopping a running operation promptly: one process-wide cancellation flag.

Worker threads (reading and chunking files, uploading packs, fetching blocks)
cannot be interrupted from outside, and a thread pool's shutdown waits for
them. So they call `check()` between units of work (a block, a pack, a file)
and raise `Cancelled` once `request()` was called; the thread that waits on
them stops them with `stopping(pool)`.

Nothing here reads signals: the command line (fog.cli) calls `request()` from
its SIGINT and SIGTERM handlers. A library caller may call it from any thread
(or from its own signal handler); a KeyboardInterrupt caught by `stopping`
requests it too. Every operation that opens a share starts with `clear()`.
Two operations running at once in one process are stopped together.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

TYPE_CHECKING = False  # the command line imports this module for every command, `fog log` too
if TYPE_CHECKING:
    from collections.abc import Iterator
    from concurrent.futures import ThreadPoolExecutor

_requested = threading.Event()
_signum: int | None = None


class Cancelled(BaseException):
    """The operation was asked to stop (a signal, or `request()`).

    A BaseException like KeyboardInterrupt, so no `except Exception` (nor
    typer's KeyboardInterrupt handling) takes it for a failure to report.
    `exit_code` is what a shell reports for death by that signal (128 + its
    number), 130 (SIGINT's) when no signal is known.
    """

    def __init__(self, signum: int | None = None) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum if self.signum is not None else 2)


def request(signum: int | None = None) -> None:
    """Ask every running operation to stop at its next check. Safe from a signal handler."""
    global _signum
    if not _requested.is_set():
        _signum = signum
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def check() -> None:
    """Raise Cancelled if a stop was requested (call it between units of work)."""
    if _requested.is_set():
        raise Cancelled(_signum)


def wait(seconds: float) -> bool:
    """Sleep up to `seconds`, waking early on a request; True if one was made."""
    return _requested.wait(seconds)


def clear() -> None:
    """Forget an earlier request: a new operation starts."""
    global _signum
    _requested.clear()
    _signum = None


@contextmanager
def stopping(pool: ThreadPoolExecutor) -> Iterator[ThreadPoolExecutor]:
    """Use `pool`, and shut it down on the way out without finishing queued work on failure.

    On success: wait for every task, as `with pool:` does. On any exception:
    drop the tasks not started, and (for KeyboardInterrupt or Cancelled) ask
    the running ones to stop, then wait for them; they stop at their next
    `check()`.
    """
    try:
        yield pool
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | Cancelled):
            request(getattr(exc, "signum", None))
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
