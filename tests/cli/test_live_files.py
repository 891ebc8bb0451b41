"""Files that never hold still are recorded from a private copy; files fog cannot read make exit 5.

Issue 15 item 6: a log appended every few milliseconds used to be skipped on
every push ("changed while being read", exit 0), so cron never learnt that it
was not kept.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from fogcli import Share

from fog.sync import content as content_mod
from fog.sync.content import Content, FileReader


def _unstable_in_place(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Reads of `name` in the share never come out stable (reads of fog's private copy do)."""
    real = FileReader.read

    def read(self, path, before, stats):  # type: ignore[no-untyped-def]
        c = real(self, path, before, stats)
        if str(path).endswith("/" + name):
            return Content(c.root, c.depth, c.size, False)
        return c

    monkeypatch.setattr(FileReader, "read", read)


def test_a_file_that_never_holds_still_is_recorded_from_a_copy(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write("other.txt", "calm\n")
    log = share.write("live.log", b"start\n")
    stop = threading.Event()

    def append() -> None:
        with open(log, "ab") as f:
            while not stop.is_set():
                f.write(os.urandom(3000))
                f.flush()
                time.sleep(0.001)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        with monkeypatch.context() as m:
            _unstable_in_place(m, "live.log")
            time.sleep(0.05)
            r = share.fog("push", "--json")
    finally:
        stop.set()
        writer.join()
    doc = r.json()
    assert doc["snapshots"] == ["live.log"] and doc["unread"] == [], doc
    assert sorted(doc["added"]) == ["live.log", "other.txt"]
    assert "kept changing" not in r.err  # --json: the document says it
    out = share.tmp / "restored.log"
    share.fog("restore", "live.log@~0", "--output", out)
    recorded = out.read_bytes()
    assert recorded.startswith(b"start\n") and log.read_bytes().startswith(recorded)  # a real state: a prefix
    assert not list((share.root / ".fog" / "tmp").iterdir())  # the private copy is gone
    r = share.fog("push")  # it changed since: a new version, read in place now that it holds still
    assert "pushed 1 change" in r.out


def test_the_copy_is_a_reflink_where_the_file_system_offers_one(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where FICLONE fails (ext4, tmpfs) the bytes are copied; the version is the same either way."""
    share.write("live.bin", os.urandom(300_000))
    _unstable_in_place(monkeypatch, "live.bin")
    calls: list[int] = []
    real = content_mod._copy_prefix
    monkeypatch.setattr(content_mod, "_copy_prefix", lambda s, d, n: calls.append(n) or real(s, d, n))
    doc = share.fog("push", "--json").json()
    assert doc["snapshots"] == ["live.bin"]
    assert calls in ([], [300_000])  # reflinked, or copied whole


def test_a_file_fog_cannot_read_makes_exit_5_and_is_listed(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write("fine.txt", "ok\n")
    share.write("secret.txt", "no\n")
    real = FileReader.read

    def read(self, path, before, stats):  # type: ignore[no-untyped-def]
        if str(path).endswith("/secret.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(self, path, before, stats)

    with monkeypatch.context() as m:
        m.setattr(FileReader, "read", read)
        r = share.fog("push", "--json", expect=5)
        doc = r.json()
        assert doc["unread"] == ["secret.txt"] and doc["added"] == ["fine.txt"]
        assert any(s.startswith("secret.txt: Permission denied") for s in doc["skipped"])
        r = share.fog("push", expect=5)
        assert "fog: skipped secret.txt: Permission denied" in r.err
        st = share.fog("status", "--json").json()
        assert st["clean"] is False and st["unread"] == ["secret.txt"]  # (a cron check on .clean hears of it)
        assert share.fog("sync", expect=5).rc == 5
    share.fog("push")  # readable again: recorded, exit 0


def test_special_files_and_nested_shares_are_left_out_without_failing(share: Share, tmp_path: Path) -> None:
    os.mkfifo(share.root / "a.fifo")
    share.write("f.txt", "x\n")
    r = share.fog("push", "--json")
    doc = r.json()
    assert doc["unread"] == [] and any("a.fifo" in s for s in doc["skipped"])
