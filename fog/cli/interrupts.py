"""SIGINT and SIGTERM: stop any command within a second, cleanly, with one line.

The first signal asks every worker thread to stop (fog.cancel.request) and
raises fog.cancel.Cancelled in the main thread, which unwinds as from any
failure: the LMDB transaction in progress aborts, temporary files go, the
share lock is released, nothing is published that is not durable. main()
then prints `fog: interrupted` and exits 128 + the signal's number (130 for
SIGINT, 143 for SIGTERM), as a shell reports a process killed by it.

A watchdog keeps the bound when unwinding cannot: the signal's C-level
handler writes its number to a pipe (signal.set_wakeup_fd) even while the
main thread is inside a long C call, and a thread reading that pipe ends the
process with os._exit STOP_WITHIN seconds after the signal if it is still
there (a worker stuck on a network call, a sync of a slow disk). Later
signals are ignored: they never interrupt the cleanup, and the first one
decides the exit code.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from fog import cancel, forking

TYPE_CHECKING = False  # (see fog.cli.text) `fog log` must not pay for importing typing
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

STOP_WITHIN = 0.8  # seconds from a signal to the process's end, at most (a second is promised)
SIGNALS = (signal.SIGINT, signal.SIGTERM)
MESSAGE = "fog: interrupted\n"


def message(code: int) -> str:
    """The line an interrupted command prints: under --json, the error object every error is."""
    if "--json" in sys.argv[1:]:
        return f'{{"code": {code}, "kind": "interrupted", "message": "interrupted"}}\n'
    return MESSAGE


class Interrupts:
    """While active (a context manager in the main thread): SIGINT and SIGTERM stop the command."""

    def __init__(self) -> None:
        self.raised = False
        self._said = threading.Lock()  # whoever takes it prints MESSAGE
        self._saved: dict[int, Any] = {}
        self._wakeup: int | None = None
        self._pipe: tuple[int, int] | None = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is not threading.main_thread():
            return self  # (signal handlers can only be set from the main thread)
        r, w = os.pipe()  # (not inherited by child processes)
        os.set_blocking(w, False)  # the C handler's end must never block; the watchdog blocks on r
        self._pipe = (r, w)
        for signum in SIGNALS:
            self._saved[signum] = signal.signal(signum, self._handler)
        self._wakeup = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        watchdog = threading.Thread(target=self._watch, args=(r,), name="fog-signals", daemon=True)
        forking.mark_safe(watchdog)  # it takes no lock a forked worker needs (fog.forking): a push may still fork
        watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pipe is None or self.raised:
            return  # (interrupted: the process ends now; a later signal must not find the default handlers)
        signal.set_wakeup_fd(self._wakeup if self._wakeup is not None else -1)
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        os.close(self._pipe[1])  # the watchdog reads end-of-file and ends (unless a signal came)
        self._pipe = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        cancel.request(signum)
        if not self.raised:  # later signals do nothing: they must not interrupt the cleanup
            self.raised = True
            raise cancel.Cancelled(signum)

    def _watch(self, r: int) -> None:
        while True:
            data = os.read(r, 64)
            if not data:
                os.close(r)
                return
            got = [s for s in data if s in SIGNALS]
            if got:
                break  # (r stays open: the handler of a later signal still writes to the pipe)
        signum = got[0]
        cancel.request(signum)  # the main thread may be in a C call: the workers stop now
        time.sleep(STOP_WITHIN)
        if self._said.acquire(blocking=False):
            try:
                os.write(2, message(128 + signum).encode())  # (not sys.stderr: the main thread may hold its lock)
            except OSError:
                pass
        os._exit(128 + signum)

    def exit(self, exc: BaseException) -> None:
        """Print `fog: interrupted` (once) and leave with the exit code for `exc` (called by main())."""
        if self._said.acquire(blocking=False):
            sys.stderr.write(message(getattr(exc, "exit_code", 130)))
            sys.stderr.flush()
        if self.raised:
            # The interpreter puts the default handlers back on its way out, and a second signal
            # would then kill the process: ignore both now (signal.signal first runs any pending
            # handler, ours, which does nothing now; not from inside the handler, where it cannot).
            for signum in SIGNALS:
                signal.signal(signum, signal.SIG_IGN)
        sys.exit(exc.exit_code if isinstance(exc, cancel.Cancelled) else 130)
