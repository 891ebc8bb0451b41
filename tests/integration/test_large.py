"""A 1 GiB file is streamed, never held whole (issue 2, "Must hold" 5: under 300 MB peak RSS)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time

from fogcli import FOG, Share, run_fog, sha256_file

SIZE = 1 << 30
PIECE = 64 << 20
RSS_LIMIT = 300_000_000  # bytes

# Runs the command after it as a child and reports the child's peak RSS: a fresh
# interpreter, so RUSAGE_CHILDREN holds that one process tree only.
MEASURE = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write(f"FOGTEST-PEAK-RSS-KIB {peak}\\n")
sys.exit(rc)
"""


def _measured(share: Share, *args: str) -> tuple[dict | None, int, float]:
    t0 = time.monotonic()
    r = run_fog(args, share.root, prefix=[sys.executable, "-c", MEASURE, *FOG], timeout=900)
    elapsed = time.monotonic() - t0
    m = re.search(r"FOGTEST-PEAK-RSS-KIB (\d+)", r.err)
    assert m, r.err
    peak = int(m.group(1)) * 1024  # Linux reports KiB
    doc = r.json() if "--json" in args else None
    return doc, peak, elapsed


def test_push_and_restore_1_gib_under_300_mb_rss(share: Share) -> None:
    path = share.root / "huge.bin"
    out = share.tmp / "huge.restored"
    h = hashlib.sha256()
    try:
        with open(path, "wb") as f:
            for _ in range(SIZE // PIECE):
                piece = os.urandom(PIECE)
                h.update(piece)
                f.write(piece)
        del piece
        doc, push_peak, push_secs = _measured(share, "push", "--json")
        assert doc is not None and doc["added"] == ["huge.bin"] and doc["bytes_read"] == SIZE
        _, restore_peak, restore_secs = _measured(share, "restore", "huge.bin", "-o", str(out))
        assert out.stat().st_size == SIZE
        assert sha256_file(out) == h.hexdigest()
        mb = SIZE / 1e6
        print(
            f"\n1 GiB random file: push peak RSS {push_peak / 1e6:.0f} MB, {push_secs:.1f}s wall "
            f"({mb / push_secs:.0f} MB/s; fog's own figure {mb / doc['seconds']:.0f} MB/s), "
            f"restore -o peak RSS {restore_peak / 1e6:.0f} MB, {restore_secs:.1f}s ({mb / restore_secs:.0f} MB/s)"
        )
        assert push_peak < RSS_LIMIT, push_peak
        assert restore_peak < RSS_LIMIT, restore_peak
    finally:
        for p in (path, out):
            p.unlink(missing_ok=True)
        for pack in share.packs():
            pack.unlink()
