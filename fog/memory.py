"""Keep peak memory honest on glibc: big buffers go back to the OS when freed.

glibc raises its mmap threshold each time a large mmapped block is freed (up to
32 MiB), after which 8 MiB packs and 4 MiB reads are carved from per-thread
arenas and stay resident, fragmented, after use. Pinning it at 1 MiB keeps
blocks (<= 256 KiB) in the fast arenas and sends packs and whole-file reads to
mmap. Measured on a 272 MB, 5,052-file initial push (benchmarks/corpus.py
--scale 0.25): unpinned 4.6 s / 205-225 MB peak RSS; 1 MiB 5.1 s / 118 MB;
128 KiB (glibc's initial value) 5.8 s / 110 MB. Elsewhere this does nothing.
"""

from __future__ import annotations

import sys

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
_done = False
_libc = None


def pin_mmap_threshold(threshold: int = 1 << 20) -> bool:
    """Call glibc mallopt once per process; False where it does not apply."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        _done = bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
        global _libc
        _libc = libc if _done else None
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        _done = False
    return _done


def release_free_memory() -> None:
    """Hand the free pages inside glibc's arenas back to the OS (malloc_trim), where pinned.

    Between the phases of a big push: what its chunks freed stays resident,
    scattered through the arenas, until something reuses it. No-op elsewhere.
    """
    if _libc is not None:
        _libc.malloc_trim(0)
