"""An edit in the middle of a large file costs only the blocks around it (issue 2, "Must hold" 4)."""

from __future__ import annotations

import hashlib
import os

from fogcli import Share, remote_bytes, sha256_file

SIZE = 64 << 20


def test_insert_100_bytes_in_a_64_mib_file_adds_under_1_mib(share: Share) -> None:
    path = share.root / "big.bin"
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(SIZE // (8 << 20)):
            chunk = os.urandom(8 << 20)
            h.update(chunk)
            f.write(chunk)
    first = share.push()
    assert first["added"] == ["big.bin"] and first["bytes_read"] == SIZE
    assert first["objects_uploaded"] > 200  # ~64 KiB blocks, not a few big ones
    before = remote_bytes(share.remote)
    assert before >= SIZE  # random data: stored, not compressed away

    middle = SIZE // 2 + 12345
    insert = os.urandom(100)
    with open(path, "r+b") as f:
        f.seek(middle)
        tail = f.read()
        f.seek(middle)
        f.write(insert + tail)
    second = share.push()
    assert second["modified"] == ["big.bin"]
    added = remote_bytes(share.remote) - before
    print(
        f"\n64 MiB file, 100 bytes inserted in the middle: remote grew by {added} bytes "
        f"({second['objects_uploaded']} objects, {second['bytes_uploaded']} bytes uploaded)"
    )
    assert 0 < added < 1 << 20
    assert second["bytes_uploaded"] < 1 << 20

    # both versions restore exactly
    out = share.tmp / "old.bin"
    share.fog("restore", "big.bin@~1", "-o", out)
    assert sha256_file(out) == h.hexdigest()
    out.unlink()
    share.fog("restore", "big.bin@~0", "-o", out)
    assert sha256_file(out) == sha256_file(path)
    assert out.stat().st_size == SIZE + 100
