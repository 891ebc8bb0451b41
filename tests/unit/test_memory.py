"""fog.memory: glibc's mmap threshold pinned, and free pages inside the arenas handed back."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

SCRIPT = textwrap.dedent(
    """
    import os
    from fog import memory

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    if not memory.pin_mmap_threshold():
        print("SKIP")
        raise SystemExit
    blocks = [bytes(200 << 10) for _ in range(400)]  # 80 MB below the 1 MiB threshold: from the arenas
    del blocks[::2]  # holes between live blocks: free() cannot return them
    before = rss()
    memory.release_free_memory()
    print(before - rss())
    """
)


def test_release_free_memory_returns_the_holes_a_phase_left() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout.strip()
    if out == "SKIP":
        pytest.skip("not glibc")
    assert int(out) > 16_000_000  # ~40 MB of holes (27 MB came back here); without malloc_trim none
