"""fog.sync.pull._unsynced: one syncfs per filesystem holding staged files, and what is left to fsync."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fogcli import Share

from fog.sync import apply as pull


def _other_filesystem(tmp_path: Path) -> Path | None:
    for candidate in ("/dev/shm", "/run"):
        try:
            if os.stat(candidate).st_dev != os.stat(tmp_path).st_dev and os.access(candidate, os.W_OK):
                return Path(candidate)
        except OSError:
            continue
    return None


def test_every_filesystem_is_flushed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = _other_filesystem(tmp_path)
    if other is None:
        pytest.skip("no second writable filesystem here")
    away = Path(os.path.join(other, f"fog-test-{os.getpid()}"))
    away.mkdir()
    try:
        paths = [str(tmp_path / "a"), str(tmp_path / "b"), str(away / "c")]
        calls: list[int] = []
        monkeypatch.setattr(pull, "syncfs", lambda root: calls.append(os.stat(root).st_dev) or True)
        assert pull._unsynced(paths) == []
        assert sorted(calls) == sorted({os.stat(tmp_path).st_dev, os.stat(away).st_dev})
    finally:
        away.rmdir()


def test_a_filesystem_without_syncfs_is_left_to_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pull, "syncfs", lambda root: False)
    paths = [str(tmp_path / "a"), str(tmp_path / "sub" / "b")]
    (tmp_path / "sub").mkdir()
    assert sorted(pull._unsynced(paths)) == sorted(paths)


def test_a_pull_without_syncfs_still_lands_every_file(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback path end to end: fsync per staged file, then per directory renamed into."""
    share.write("a.txt", "one\n")
    share.write("d/e/b.txt", "two\n")
    share.push()
    fsynced: list[str] = []
    real = pull._fsync
    monkeypatch.setattr(pull, "syncfs", lambda root: False)
    monkeypatch.setattr(pull, "_fsync", lambda path: fsynced.append(path) or real(path))
    clone = tmp_path / "clone"
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))  # a second device
    share.fog("clone", share.remote, clone, "--master-key-file", share.key_file, cwd=tmp_path)
    assert (clone / "a.txt").read_text() == "one\n" and (clone / "d/e/b.txt").read_text() == "two\n"
    assert str(clone / "d" / "e") in fsynced and str(clone) in fsynced  # the directories renamed into
    assert len([p for p in fsynced if ".fog-tmp-" in p]) == 2  # and each staged file
