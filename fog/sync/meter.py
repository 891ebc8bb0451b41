"""Progress by bytes for the commands that fetch or rewrite stored data (pull, clone, restore, prune).

A `Meter` knows its total before the first byte moves, is told each block's
size as it is written (from any thread, so it also moves inside one large
file), and passes (done, total) on to the caller's callback: at the start,
at most every `INTERVAL` seconds in between, and at the end. It prints
nothing: fog.cli draws the bar (STYLE.md, layers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Progress = Callable[[int, int], None]  # (bytes done, bytes total)

INTERVAL = 0.1  # seconds between two reports (a bar redraws about 10 times a second)


class Meter:
    """Bytes done of a known total, reported to `progress` (thread-safe, throttled, never backwards)."""

    def __init__(self, progress: Progress, total: int) -> None:
        self._progress = progress
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._last = time.monotonic()
        progress(0, total)

    def add(self, n: int) -> None:
        """`n` more bytes were fetched and written (one block)."""
        with self._lock:
            self.done = min(self.done + n, self.total)
            now = time.monotonic()
            if now - self._last >= INTERVAL:
                self._last = now
                self._progress(self.done, self.total)

    def reach(self, n: int) -> None:
        """At least `n` bytes are dealt with: a step's planned bytes, also those it did not write (an ignored
        path, a local version kept), so the bar does not stall short of its total until the end."""
        with self._lock:
            if n > self.done:
                self.done = min(n, self.total)
                self._progress(self.done, self.total)

    def finish(self) -> None:
        """Everything planned was dealt with (also what failed or was skipped: the bar ends full)."""
        with self._lock:
            self.done = self.total
            self._progress(self.total, self.total)


def meter(progress: Progress | None, total: int) -> Meter | None:
    """A Meter when someone listens and there are bytes to count (no bar for a pull that fetches nothing)."""
    return Meter(progress, total) if progress is not None and total > 0 else None


def told(m: Meter | None) -> Callable[[int], None] | None:
    """What to hand a block writer as `on_bytes` (None: nobody listens)."""
    return None if m is None else m.add


def finish(m: Meter | None) -> None:
    if m is not None:
        m.finish()


def offset(progress: Progress | None) -> tuple[Progress | None, Callable[[], None]]:
    """One bar over several runs (each remote of a pull or prune): each run's bytes go on after the last's.

    Returns the callback to give each run, and `next()` to call between runs."""
    if progress is None:
        return None, lambda: None
    base = [0, 0]  # bytes of the runs before; the current run's total

    def step(done: int, total: int) -> None:
        base[1] = total
        progress(base[0] + done, base[0] + total)

    def next_run() -> None:
        base[0] += base[1]
        base[1] = 0

    return step, next_run
