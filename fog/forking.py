"""When this process may fork a worker that runs Python: only while no other thread runs.

A forked child holds one thread, but every lock the parent's other threads
held at that moment stays held in it, forever: OpenSSL 3's (hashlib's HMAC)
are not reset at fork, nor are those of any other C library or of Python
objects. fog forks its push workers (fog.sync.sealers) only when the calling
thread is the main thread and every other thread alive is one marked here as
holding no lock such a child could need. The command line's signal watchdog
(fog.cli.interrupts) is the only such thread: it waits in read(2) on a pipe
of its own, and once woken sets a flag, sleeps and ends the process.

Threads are counted twice: those Python knows (threading.enumerate) and those
the kernel lists for the process (/proc/self/task), which also shows a thread
a C library started on its own. Linux only; elsewhere nothing is forked.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref

_safe: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def mark_safe(thread: threading.Thread) -> None:
    """Say that `thread` never holds a lock a forked worker could need (see the module docstring)."""
    _safe.add(thread)


def safe_to_fork() -> bool:
    """Whether a child forked now could only meet locks that nobody holds."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return False
    main = threading.main_thread()
    if threading.current_thread() is not main:
        return False
    alive = threading.enumerate()
    if any(t is not main and t not in _safe for t in alive):
        return False
    try:
        tasks = set(os.listdir("/proc/self/task"))
    except OSError:
        return False
    return tasks == {str(t.native_id) for t in alive}
