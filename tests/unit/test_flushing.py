"""fog.backends.local.flushing: background flushes while a pull stages files, and nothing after."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from fog.backends import local


def _flushers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fog-flush"]


def test_flushes_while_the_block_runs_and_stops_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if local._syncfs_call() is None:
        pytest.skip("no syncfs(2) here")
    calls: list[str] = []
    real = local.syncfs

    def counting(root: str | Path) -> bool:
        calls.append(str(root))
        return real(root)

    monkeypatch.setattr(local, "syncfs", counting)
    with local.flushing(tmp_path, interval=0.01):
        (tmp_path / "f").write_bytes(b"x" * 4096)
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_flushers()) == 1
    assert len(calls) >= 3 and set(calls) == {str(tmp_path)}
    assert _flushers() == []
    settled = len(calls)
    time.sleep(0.05)
    assert len(calls) == settled  # no flush once the block is over


def test_a_failing_block_still_stops_the_flusher(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), local.flushing(tmp_path, interval=0.01):
        raise RuntimeError("staging failed")
    assert _flushers() == []
