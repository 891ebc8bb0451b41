"""Progress of a push by bytes, also inside one large file (issue 19)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fogcli import Share

from fog import api
from fog.sync import content


def test_push_progress_moves_inside_a_large_file(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    size = 12 << 20
    share.write("big.bin", os.urandom(size))
    real = content.FileReader._put

    def slow(self, stats):  # type: ignore[no-untyped-def]
        put = real(self, stats)

        def paced(data):  # type: ignore[no-untyped-def]
            time.sleep(0.01)  # (blocks go in parallel) ~0.5 s or more for the file: the bar must move while it is read
            return put(data)

        return paced

    monkeypatch.setattr(content.FileReader, "_put", slow)
    calls: list[tuple[int, int]] = []
    api.push(Path(os.environ["FOG_HOME"]), share.root, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, size)  # the total is known from the start (never "0/? bytes")
    inside = [done for done, total in calls if 0 < done < size]
    assert inside, calls  # it moved while the one file was being read
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)  # never backwards
    assert calls[-1] == (size, size)
