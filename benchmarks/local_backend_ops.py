"""Per-call cost of the local-directory backend: put, get_range, exists and list of N small objects.

    BENCH_DIR=/dev/shm PYTHONPATH=TREE python benchmarks/local_backend_ops.py 20000

N objects of 512 bytes under one share's 256 pack directories
(`shares/<id>/packs/<xx>/<64 hex>`), all through one LocalBackend: what a
push's and a restore's calls cost apart from the data. One JSON line:
microseconds per put, get_range and exists, and milliseconds for the listing.
Alternate two TREEs (`git archive` of two commits) for an A/B.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time

from fog.backends.local import LocalBackend

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
top = tempfile.mkdtemp(dir=os.environ.get("BENCH_DIR"))
b = LocalBackend.from_url(top + "/r", create=True)
prefix = "shares/0123456789abcdef0123456789abcdef/packs/"
names = [prefix + (h := os.urandom(32).hex())[:2] + "/" + h for _ in range(N)]
data = b"x" * 512
t0 = time.perf_counter()
for n in names:
    b.put(n, data)
t1 = time.perf_counter()
for n in names:
    b.get_range(n, 100, 200)
t2 = time.perf_counter()
for n in names:
    b.exists(n)
t3 = time.perf_counter()
listed = sum(1 for _ in b.list(prefix))
t4 = time.perf_counter()
assert listed == N
us = 1e6 / N
print(
    json.dumps(
        {
            "put_us": (t1 - t0) * us,
            "get_range_us": (t2 - t1) * us,
            "exists_us": (t3 - t2) * us,
            "list_ms": (t4 - t3) * 1e3,
        }
    )
)
b.close()
shutil.rmtree(top)
