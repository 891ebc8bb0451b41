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


MADV_DONTNEED = 4  # Linux


def file_mappings(path: str) -> list[tuple[int, int]]:
    """(address, length) of each shared mapping of the file at `path` in this process (Linux's
    /proc/self/maps); [] elsewhere, or when it is not mapped."""
    if not sys.platform.startswith("linux"):
        return []
    import os

    real = os.path.realpath(path)
    out: list[tuple[int, int]] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and parts[5].rstrip("\n") == real and parts[1].endswith("s"):
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    out.append((lo, hi - lo))
    except OSError:
        return []
    return out


def drop_mapped_pages(ranges: list[tuple[int, int]]) -> None:
    """Unmap the pages of shared file mappings from this process (`file_mappings`).

    They stay in the page cache and the mapping stays valid: the next read
    maps them back, with the same bytes. Each page a read faults in maps its
    cached neighbours too (the kernel's fault-around, 64 KiB): random reads
    across a database file map all of it, counted in the RSS, until this (or
    the mapping's end). Only for shared mappings: a private one would lose its
    written pages.
    """
    if not ranges:
        return
    libc = _madvise_libc()
    if libc is None:
        return
    for address, length in ranges:
        libc.madvise(address, length, MADV_DONTNEED)


_madvise: object = None


def _madvise_libc():  # type: ignore[no-untyped-def]
    global _madvise
    if _madvise is None:
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            libc.madvise.restype = ctypes.c_int
            _madvise = libc
        except (OSError, AttributeError):
            _madvise = False
    return _madvise or None
