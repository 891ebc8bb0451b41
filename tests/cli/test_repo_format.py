"""`.fog/` format 5 (`locs` keyed by 8 bytes of the object id, valued by pack number and entry), 4 (stat entries
keyed by their path carry it once) and 3 (records in time order, presence in runs): a fog reads and upgrades
format-1 to -4 shares in place."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import pytest
from fogcli import Share

from fog import api
from fog.format.version import Version
from fog.repo import history
from fog.repo.db import RepoDB, remote_key


def _tables(root: Path, *names: bytes) -> list[dict[bytes, bytes]]:
    env = history.open_env(str(root / ".fog" / "db"))
    try:
        with env.begin() as txn:
            return [dict(txn.cursor(env.open_db(name, txn=txn, create=False))) for name in names]
    finally:
        env.close()


def _as_format(root: Path, fmt: int) -> None:
    """Rewrite the share as a format-1 to -4 fog left it: `locs` keyed by full object ids, valued by pack id,
    offset and length, no `packnums`; below format 4 the path at the end of every stat value; below format 3,
    records in `versions` and one key per present object."""
    env = history.open_env(str(root / ".fog" / "db"))
    try:
        with env.begin(write=True) as txn:
            versions, timeline, present, meta, stat, packs = (
                env.open_db(name, txn=txn, create=False)
                for name in (b"versions", b"timeline", b"present", b"meta", b"stat", b"packs")
            )
            locs = env.open_db(b"locs", txn=txn, create=False, dupsort=True)
            txn.drop(locs, delete=False)
            txn.drop(env.open_db(b"packnums", txn=txn, create=False), delete=True)
            for pack, entries in txn.cursor(packs):
                for oid, offset, length in struct.iter_unpack(">32sII", entries):
                    txn.put(oid, pack + struct.pack(">II", offset, length), db=locs, dupdata=True)
            for key in list(txn.cursor(timeline).iternext(True, False)):  # `versions`: id -> time_ns
                txn.delete(key[8:16] + key[:8], db=versions)
                txn.put(key[8:], key[:8], db=versions)
            history_db = env.open_db(b"history", txn=txn, create=False)
            for key, value in list(txn.cursor(history_db)):  # `history`: the id as value
                assert value == b""
                found = [k[8:] for k in txn.cursor(timeline).iternext(True, False) if k[:16] == key[-16:]]
                assert len(found) == 1
                txn.put(key, found[0], db=history_db)
            for key, value in list(txn.cursor(stat)):
                if len(value) == _STAT_SIZE and fmt < 4:
                    txn.put(key, value + key, db=stat)
            if fmt < 3:
                for vid in list(txn.cursor(versions).iternext(True, False)):
                    record = history.read_record(txn, versions, timeline, vid)
                    assert record is not None
                    v = Version.from_record(vid, record)
                    txn.put(vid, v.to_bytes() if fmt == 1 else record, db=versions)
                    txn.put(struct.pack(">Q", v.time_ns) + vid, b"", db=timeline)
                for key, value in list(txn.cursor(present)):
                    if len(key) == 16:
                        txn.delete(key, db=present)
                        for i in range(0, len(value), 32):
                            txn.put(key[:8] + value[i : i + 32], b"", db=present)
                for key in [k for k in txn.cursor(meta).iternext(True, False) if k.startswith(b"present-runs\0")]:
                    txn.delete(key, db=meta)
    finally:
        env.close()
    config = root / ".fog" / "config.json"
    doc = json.loads(config.read_text())
    doc["format"] = fmt
    config.write_text(json.dumps(doc))


_STAT_SIZE = 70  # a stat value without the path (fog.repo.db._STAT)


def _locs(root: Path) -> dict[bytes, list[bytes]]:
    env = history.open_env(str(root / ".fog" / "db"))
    try:
        with env.begin() as txn:
            out: dict[bytes, list[bytes]] = {}
            for key, value in txn.cursor(env.open_db(b"locs", txn=txn, create=False, dupsort=True)):
                out.setdefault(key, []).append(value)
            return out
    finally:
        env.close()


def _places(root: Path) -> dict[bytes, list[tuple[bytes, int, int]]]:
    """Where RepoDB.locations puts each object of every recorded pack (the reader sees either form)."""
    db = RepoDB(root / ".fog" / "db")
    try:
        out = {}
        for pack in db.known_packs():
            index = db.pack_index(pack)
            assert index is not None
            for oid, offset, length in index:
                out[oid] = db.locations(oid)
                assert (pack, offset, length) in out[oid]
        return out
    finally:
        db.close()


def _format(root: Path) -> int:
    return json.loads((root / ".fog" / "config.json").read_text())["format"]


def _present(root: Path) -> set[bytes]:
    db = RepoDB(root / ".fog" / "db")
    try:
        return db.present_ids("origin")
    finally:
        db.close()


def test_new_shares_keep_records_in_time_order_and_presence_in_runs(share: Share) -> None:
    share.write("a.txt", "one\n")
    os.symlink("a.txt", share.root / "link")
    uploaded = share.push()["objects_uploaded"]
    assert _format(share.root) == history.REPO_FORMAT == 5
    versions, timeline, present, stat = _tables(share.root, b"versions", b"timeline", b"present", b"stat")
    assert sorted(stat) == [b"a.txt", b"link"] and {len(v) for v in stat.values()} == {_STAT_SIZE}  # format 4
    assert len(versions) == len(timeline) == 2 and set(versions.values()) == {b""}  # format 5: `id[:8] · time_ns`
    (history_db,) = _tables(share.root, b"history")
    assert sorted(k[-16:] for k in history_db) == sorted(k[:16] for k in timeline) and set(history_db.values()) == {b""}
    for key, record in timeline.items():
        when, vid = key[:8], key[8:]
        assert vid[:8] + when in versions
        assert record[0] == 0x02  # binary record (fog.format.record)
        assert Version.from_record(vid, record).time_ns == struct.unpack(">Q", when)[0]
    runs = [(k, v) for k, v in present.items() if k.startswith(remote_key("origin"))]
    assert len(runs) == 1 and len(runs[0][0]) == 16 and len(runs[0][1]) == 32 * uploaded
    assert len(_present(share.root)) == uploaded

    share.write("b.txt", "two\n")
    share.push()
    (present,) = _tables(share.root, b"present")
    assert sorted(struct.unpack(">Q", k[8:])[0] for k in present) == [0, 1]  # one more run, numbered after


def test_a_path_too_long_for_a_key_keeps_it_in_the_stat_value(share: Share) -> None:
    deep = "/".join(["d" * 100] * 4) + "/" + "f" * 60 + ".txt"  # 465 bytes: keyed by 0xFF || SHA256
    share.write(deep, "one\n")
    share.write("short.txt", "two\n")
    share.push()
    (stat,) = _tables(share.root, b"stat")
    long_key = history.pathkey(deep)
    assert long_key[0] == 0xFF and stat[long_key][_STAT_SIZE:] == deep.encode()
    assert len(stat[b"short.txt"]) == _STAT_SIZE
    assert share.push()["added"] == []  # both entries still match their files
    share.write(deep, "changed\n")
    assert share.push()["modified"] == [deep]
    db = RepoDB(share.root / ".fog" / "db")
    try:
        assert deep in set(db.stat_entries()) and db.get_stat(deep).path == deep  # type: ignore[union-attr]
    finally:
        db.close()


@pytest.mark.parametrize("fmt", [1, 2, 3, 4])
def test_an_older_share_is_read_then_upgraded_in_place(share: Share, fmt: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from fog.repo import db as db_mod

    monkeypatch.setattr(db_mod, "REPACK_LEAST", 0)  # the upgrade repacks this small database too
    share.write("a.txt", "one\n")
    share.write("dir/b.txt", "two\n")
    share.push()
    share.write("a.txt", "one, then two\n")
    for name in ("a.txt", "dir/b.txt"):
        os.utime(share.root / name, ns=(1_577_836_800 * 10**9,) * 2)  # not racy: their stat entries are trusted
    share.push()
    before = share.log("a.txt")
    known = _present(share.root)
    _as_format(share.root, fmt)
    old, old_stat = _tables(share.root, b"versions", b"stat")
    if fmt < 3:
        assert all(raw.startswith(b"{" if fmt == 1 else b"\x02") for raw in old.values())
    if fmt < 4:
        assert all(raw[_STAT_SIZE:] == key for key, raw in old_stat.items())  # the path in every value
    assert _present(share.root) == known
    places = _places(share.root)
    assert places and all(len(key) == 32 for key in _locs(share.root))  # the old form, read as it is
    db = RepoDB(share.root / ".fog" / "db")  # read as it is (no lock taken: no upgrade)
    try:
        assert set(db.stat_entries()) == {"a.txt", "dir", "dir/b.txt"}
        with db.stat_view() as view:
            assert sorted(view) == ["a.txt", "dir", "dir/b.txt"]
            b = share.root / "dir" / "b.txt"
            assert view.matches("dir/b.txt", os.lstat(b), False)
            assert not view.matches("dir/c.txt", os.lstat(b), False)
            assert view.get("dir/b.txt").path == "dir/b.txt"  # type: ignore[union-attr]
    finally:
        db.close()

    # read as it is: `fog log` (both readers) and fog.api see the same history
    assert share.log("a.txt") == before
    assert share.fog("log", "--json", "a.txt", sub=True).json() == before
    home, root = os.environ["FOG_HOME"], str(share.root)
    quick = history.quick_log(home, root, "a.txt", None)
    assert quick is not None and [e.version.id for e in quick] == [
        e.version.id for e in api.log(Path(home), share.root, "a.txt")
    ]

    # the next command that locks the share marks it format 5; what was stored stays, new entries take the new form
    # (but for `locs`, rewritten whole)
    share.write("c.txt", "one\n")  # same bytes as a.txt had: the presence read from old keys spares the upload
    doc = share.push()
    assert doc["objects_uploaded"] == 0 and doc["added"] == ["c.txt"]  # the old stat entries still match
    share.write("a.txt", "three\n")
    share.write("dir/d.txt", "four\n")
    share.push()
    assert _format(share.root) == 5
    locs = _locs(share.root)
    assert {len(k) for k in locs} == {8} and {len(v) for vs in locs.values() for v in vs} == {8}
    assert {oid: where for oid, where in _places(share.root).items() if oid in places} == places
    for kept in (share.root / ".fog" / "archive").iterdir():  # read from the remote, through `locs`
        shutil.rmtree(kept) if kept.is_dir() else kept.unlink()
    share.fog("restore", "a.txt@~2", "-o", share.root.parent / "old.txt")
    assert (share.root.parent / "old.txt").read_text() == "one\n"
    after, timeline, present, stat = _tables(share.root, b"versions", b"timeline", b"present", b"stat")
    records = {vid: raw for vid, raw in old.items() if len(raw) != 8}  # a format-1 or -2 fog's: left in place
    assert {vid: after[vid] for vid in records} == records and len(records) == (len(old) if fmt < 3 else 0)
    indexed = [key for key in after if len(key) == 16]
    assert sorted(indexed) == sorted(k[8:16] + k[:8] for k, raw in timeline.items() if raw)  # reindexed, and new
    assert len(indexed) == (3 if fmt < 3 else len(old) + 3) and len(after) == len(records) + len(indexed)
    (history_db,) = _tables(share.root, b"history")
    assert len(history_db) == len(timeline) and set(history_db.values()) == {b""}  # emptied by the upgrade
    assert {len(k) for k in present} == ({40, 16} if fmt < 3 else {16})  # old keys and a run side by side
    assert stat[b"dir/b.txt"] == old_stat[b"dir/b.txt"][:_STAT_SIZE]  # trimmed by the upgrade (below 4), else untouched
    assert {len(v) for v in stat.values()} == {_STAT_SIZE}
    assert {k: len(stat[k]) for k in (b"a.txt", b"c.txt", b"dir/d.txt")} == dict.fromkeys(
        (b"a.txt", b"c.txt", b"dir/d.txt"), _STAT_SIZE
    )
    assert share.push()["added"] == []  # both forms side by side: nothing looks changed
    log = share.log("a.txt")
    assert len(log) == 3 and [e["version"] for e in log[1:]] == [e["version"] for e in before]
    assert share.fog("log", "--json", "a.txt", sub=True).json() == log
    every = share.fog("log", "--json", sub=True).json()  # every version, both forms, newest first
    assert sorted(e["version"] for e in every) == sorted(key[8:].hex() for key in timeline)
    assert [e["time_ns"] for e in every] == sorted((e["time_ns"] for e in every), reverse=True)
    below = share.fog("log", "--json", "dir", sub=True).json()  # a directory: every version below it, both forms
    assert sorted(e["path"] for e in below) == ["dir", "dir/b.txt", "dir/d.txt"]

    # forgetting some presence (fog check) rewrites what is left of both forms as one run
    everything = _present(share.root)
    assert known < everything
    gone = {next(iter(known)), next(iter(everything - known))}
    db = RepoDB(share.root / ".fog" / "db")
    try:
        db.forget_present("origin", gone)
    finally:
        db.close()
    assert _present(share.root) == everything - gone
    (present,) = _tables(share.root, b"present")
    assert [len(k) for k in present] == [16]


def test_an_upgrade_stopped_part_way_is_already_marked_format_5(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upgrade trims stat entries in place: config.json says format 5 before it starts, so that a fog
    that knows only format 3 refuses the share after a crash, instead of reading trimmed entries (its
    reader takes the path from the value's tail: an empty path). This fog reads both forms, and `locs` in
    either form when the crash came before its rewrite (one transaction) committed."""
    from fog.repo import db as db_mod

    share.write("a.txt", "one\n")
    share.write("dir/b.txt", "two\n")
    share.push()
    _as_format(share.root, 3)
    places = _places(share.root)

    def stop(self: RepoDB) -> None:
        raise KeyboardInterrupt  # after the stat entries were trimmed, before `locs` is rewritten

    with monkeypatch.context() as m:
        m.setattr(db_mod.RepoDB, "renumber_locs", stop)
        share.fog("status", expect=None)
    (stat,) = _tables(share.root, b"stat")
    assert all(len(raw) == _STAT_SIZE for raw in stat.values())  # trimmed
    assert _format(share.root) == 5
    assert share.fog("status", "--json").json()["clean"]
    db = RepoDB(share.root / ".fog" / "db")
    try:
        assert set(db.stat_entries()) == {"a.txt", "dir", "dir/b.txt"}
    finally:
        db.close()
    assert {len(k) for k in _locs(share.root)} == {32} and _places(share.root) == places  # the old form, read
    share.write("c.txt", "three\n")
    share.push()
    assert {len(k) for k in _locs(share.root)} == {32, 8}  # both forms side by side
    assert len(_places(share.root)) == len(places) + 1
    for kept in (share.root / ".fog" / "archive").iterdir():
        shutil.rmtree(kept) if kept.is_dir() else kept.unlink()
    out = share.root.parent / "out"
    share.fog("restore", "dir", "-o", out)
    assert (out / "b.txt").read_text() == "two\n"


def test_a_newer_format_is_refused_in_one_line(share: Share) -> None:
    config = share.root / ".fog" / "config.json"
    doc = json.loads(config.read_text())
    doc["format"] = 6
    config.write_text(json.dumps(doc))
    r = share.fog("status", expect=None)
    assert r.rc == 1 and "unsupported repository format 6 (this fog reads formats 1, 2, 3, 4, 5)" in r.one_line_error()
    assert json.loads(config.read_text())["format"] == 6  # left as it was


def _everything(root: Path) -> list[dict[bytes, list[bytes]]]:
    """Every entry of every sub-database (duplicates of `locs` included), in key order."""
    env = history.open_env(str(root / ".fog" / "db"))
    try:
        with env.begin() as txn:
            out = []
            for name in history.DB_NAMES:
                rows: dict[bytes, list[bytes]] = {}
                db = env.open_db(name, txn=txn, create=False, dupsort=name in history.DUPSORT)
                for key, value in txn.cursor(db):
                    rows.setdefault(key, []).append(value)
                out.append(rows)
            return out
    finally:
        env.close()


def _leaf_pages(root: Path) -> int:
    env = history.open_env(str(root / ".fog" / "db"))
    try:
        with env.begin() as txn:
            return sum(
                txn.stat(env.open_db(name, txn=txn, create=False, dupsort=name in history.DUPSORT))["leaf_pages"]
                for name in history.DB_NAMES
            )
    finally:
        env.close()


def test_repack_keeps_every_entry_in_fewer_pages(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(1500):  # random ids: `versions`, `locs` and a push's `timeline` fill their pages by about 2/3
        share.write(f"d{i % 7}/f{i}.txt", f"file {i}\n")
    share.push()
    share.write("d0/f0.txt", "changed\n")
    share.push()
    before, pages = _everything(share.root), _leaf_pages(share.root)
    log = share.log("d0/f0.txt")
    (share.root / ".fog" / "db.repack").mkdir()  # a crash's leftover is cleared first
    db = RepoDB(share.root / ".fog" / "db")
    try:
        assert not db.repack_grown(db.pages())  # did not double
        rows_after = RepoDB._rows_after

        def no_room(self: RepoDB, name: str, last: object, n: int) -> object:
            if name == "timeline":
                raise lmdb.DiskError("no space left")
            return rows_after(self, name, last, n)  # type: ignore[arg-type]

        used = db.pages()
        monkeypatch.setattr(RepoDB, "_rows_after", no_room)
        assert not db.repack_grown(0, least=0)  # failed part-way: the old file stays, usable
        monkeypatch.setattr(RepoDB, "_rows_after", rows_after)
        assert not (share.root / ".fog" / "db.repack").exists()
        assert db.pages() == used and db.get_stat("d0/f0.txt") is not None
        db.repack()
        assert db.get_stat("d0/f0.txt") is not None  # reopened, usable
    finally:
        db.close()
    assert _everything(share.root) == before
    after = _leaf_pages(share.root)
    assert after < pages * 0.9, (after, pages)
    assert sorted(os.listdir(share.root / ".fog")) == sorted(["config.json", "db", "lock", "tmp", "archive"])
    assert oct((share.root / ".fog" / "db" / "data.mdb").stat().st_mode & 0o777) == oct(0o600)
    assert share.log("d0/f0.txt") == log
    assert share.fog("log", "--json", "d0/f0.txt", sub=True).json() == log
    assert share.fog("status", "--json").json() is not None
    share.write("d1/new.txt", "new\n")
    assert share.push()["objects_uploaded"] == 1


def test_an_initial_push_and_a_clone_are_repacked(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fog.repo import db as db_mod

    calls: list[Path] = []
    swap = db_mod.RepoDB._swap

    def counted(self: RepoDB, new: Path) -> None:
        calls.append(self.path)
        swap(self, new)

    monkeypatch.setattr(db_mod, "REPACK_LEAST", 0)
    monkeypatch.setattr(db_mod.RepoDB, "_swap", counted)
    for i in range(50):
        share.write(f"f{i}.txt", f"file {i}\n")
    share.push()
    assert calls == [share.root / ".fog" / "db"]
    share.write("f0.txt", "changed\n")
    share.push()  # grew by less than twice: left as it is
    assert len(calls) == 1
    log = share.log("f0.txt")
    two = tmp_path / "two"
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))
    share.fog("clone", share.remote, two, "--master-key-file", share.key_file)
    assert calls[1:] == [two / ".fog" / "db"]
    assert (two / "f0.txt").read_text() == "changed\n"
    assert share.fog("log", "--json", "f0.txt", cwd=two).json() == log
    assert (
        _everything(two)[history.DB_NAMES.index(b"timeline")]
        == _everything(share.root)[history.DB_NAMES.index(b"timeline")]
    )


_READER = """
import sys
from pathlib import Path
from fog.repo.db import RepoDB
db = RepoDB(Path(sys.argv[1]), follow=True)
print(db._file, db.get_meta("probe"), flush=True)
sys.stdin.readline()
db.refresh()
print(db.get_meta("probe"), db._file, flush=True)
db.close()
"""


def _reader(path: Path) -> subprocess.Popen[str]:
    """A lock-free reader in its own process (LMDB opens an environment once per process)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, "-c", _READER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )


def test_a_reader_without_the_lock_follows_a_repack(share: Share) -> None:
    """A lock-free reader (a mount, a long `fog log`) that opened before a repack reads the new file next."""
    for i in range(40):
        share.write(f"f{i}.txt", f"file {i}\n")
    share.push()
    path = share.root / ".fog" / "db"
    reader = _reader(path)
    try:
        assert reader.stdout is not None and reader.stdin is not None
        assert reader.stdout.readline().strip().endswith(") None")  # opened, the old file mapped
        writer = RepoDB(path)
        try:
            writer.repack()
            writer.put_meta("probe", b"after")
            st = (path / "data.mdb").stat()
        finally:
            writer.close()
        out, _ = reader.communicate("go\n", timeout=30)
        assert out.strip() == f"b'after' {(st.st_dev, st.st_ino)}"
    finally:
        reader.kill()
        reader.wait()


def test_a_reader_opening_during_the_swap_waits_for_it(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened between the unlink of lock.mdb and the rename, a reader would map the old file under the new
    lock table, which the writer then shares: it waits for the swap instead, and maps the new file."""
    share.write("a.txt", "a\n")
    share.push()
    path = share.root / ".fog" / "db"
    writer = RepoDB(path)
    readers: list[subprocess.Popen[str]] = []
    replace = os.replace

    def replace_late(src: object, dst: object) -> None:
        if str(dst).endswith("data.mdb") and not readers:
            readers.append(_reader(path))
            time.sleep(1.0)  # long enough for it to start and open the file, unless it waits for the swap
        replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace_late)
    try:
        writer.repack()
        monkeypatch.setattr(os, "replace", replace)
        writer.put_meta("probe", b"after")
        st = (path / "data.mdb").stat()
        assert readers
        out, _ = readers[0].communicate("go\n", timeout=30)
        first, second = out.splitlines()
        assert first.startswith(f"{(st.st_dev, st.st_ino)} ")  # opened after the swap, not in its middle
        assert second == f"b'after' {(st.st_dev, st.st_ino)}"  # the new file, and the writer's commit in it
    finally:
        writer.close()
        for r in readers:
            r.kill()
            r.wait()


def test_a_repack_that_cannot_reopen_says_so(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy in place, reopening fails: the command stops with the error, not with a closed database that
    the next step trips over (repack_grown quietly gives up only while the old file is still in place)."""
    from fog.errors import FogError

    share.write("a.txt", "a\n")
    share.push()
    db = RepoDB(share.root / ".fog" / "db")
    opened = RepoDB._open_env

    def fail_after_swap(self: RepoDB) -> None:
        if not (self.path / "lock.mdb").exists():  # unlinked: the swap is under way
            raise FogError("cannot open the share database: injected")
        opened(self)

    monkeypatch.setattr(RepoDB, "_open_env", fail_after_swap)
    try:
        with pytest.raises(FogError, match="injected"):
            db.repack_grown(0, least=0)
    finally:
        monkeypatch.setattr(RepoDB, "_open_env", opened)
    db = RepoDB(share.root / ".fog" / "db")  # the file in place is the whole copy
    try:
        assert db.get_stat("a.txt") is not None
    finally:
        db.close()
    assert share.fog("status", "--json").json() is not None


def test_a_repack_copy_left_by_a_crash_goes_with_the_next_command(share: Share) -> None:
    share.write("a.txt", "a\n")
    share.push()
    left = share.root / ".fog" / "db.repack"
    left.mkdir()
    (left / "data.mdb").write_bytes(b"\0" * 8192)  # a partial copy of the database
    share.fog("log", "a.txt", sub=True)  # (takes no lock: leaves it)
    assert left.exists()
    share.fog("status", sub=True)
    assert not left.exists()


def test_objects_whose_ids_share_their_locs_key_are_each_found(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """`locs` keys an object by 8 bytes of its id: ids that share them share the key, and each lookup checks
    the full id in the pack's index. Forced here: every object gets the same key."""
    from fog.repo import db as db_mod

    monkeypatch.setattr(db_mod, "loc_key", lambda object_id: b"\0" * 8)
    for i in range(6):
        share.write(f"f{i}.txt", f"file {i}\n")
    share.push()
    assert list(_locs(share.root)) == [b"\0" * 8] and len(_locs(share.root)[b"\0" * 8]) >= 6
    places = _places(share.root)  # each object: its own place only
    assert len(places) >= 6 and all(len(where) == 1 for where in places.values())
    db = RepoDB(share.root / ".fog" / "db")
    try:
        assert db.locations(b"\0" * 32) == [] and db.locations(b"\xff" * 32) == []
    finally:
        db.close()
    for kept in (share.root / ".fog" / "archive").iterdir():
        shutil.rmtree(kept) if kept.is_dir() else kept.unlink()
    for i in range(6):
        (share.root / f"f{i}.txt").unlink()
    share.fog("restore", ".", "-o", share.root.parent / "out")
    assert [(share.root.parent / "out" / f"f{i}.txt").read_text() for i in range(6)] == [
        f"file {i}\n" for i in range(6)
    ]


def test_versions_whose_ids_share_their_key_are_each_found(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """`versions` keys a version by 8 bytes of its id and its time: ids that share both share the key, and a
    lookup checks the full id in `timeline`. Forced here: no byte of the id in the key, so every version of
    a push has the same key; forgetting one keeps the entry the others still need."""
    monkeypatch.setattr(history, "VERSION_KEY_BYTES", 0)
    for i in range(4):
        share.write(f"f{i}.txt", f"file {i}\n")
    share.push()
    share.write("f0.txt", "changed\n")
    share.write("f1.txt", "changed\n")
    share.push()
    versions, timeline = _tables(share.root, b"versions", b"timeline")
    assert len(versions) == 2 and len(timeline) == 6  # two pushes, two times
    log = share.log("f0.txt")
    assert [e["size"] for e in log] == [8, 7]
    quick = history.quick_log(os.environ["FOG_HOME"], str(share.root), "f0.txt", None)
    assert quick is not None and [e.version.id.hex() for e in quick] == [e["version"] for e in log]
    share.fog("forget", "--keep-last", "1", "f0.txt")  # drops the first push's f0.txt: f1..f3 keep their key
    (versions,) = _tables(share.root, b"versions")
    assert len(versions) == 2
    for i in range(1, 4):
        assert len(share.log(f"f{i}.txt")) == (2 if i == 1 else 1)
    assert [e["version"] for e in share.log("f0.txt")] == [log[0]["version"]]
    share.fog("forget", "--keep-last", "1", "f1.txt")
    share.fog("forget", "--keep-last", "1", "f2.txt")
    share.fog("forget", "--keep-last", "1", "f3.txt")
    assert len(_tables(share.root, b"versions")[0]) == 2  # all still heads
    out = share.root.parent / "out"
    share.fog("restore", ".", "-o", out)
    assert sorted(p.name for p in out.iterdir()) == [f"f{i}.txt" for i in range(4)]
    assert (out / "f2.txt").read_text() == "file 2\n"


def test_history_entries_whose_ids_share_their_key_are_each_found(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `history` key ends with the version's time and 8 bytes of its id, its value empty: the id is the one
    in `timeline` under that time whose id starts with those bytes; of several, the one whose record has the
    path. Forced here: no byte of the id in the key, so every version of a push matches every entry."""
    monkeypatch.setattr(history, "HISTORY_ID_BYTES", 0)
    for i in range(4):
        share.write(f"d/f{i}.txt", f"file {i}\n")
    share.push()
    share.write("d/f0.txt", "changed\n")
    share.write("d/f1.txt", "changed\n")
    share.push()
    (history_db,) = _tables(share.root, b"history")
    assert {k[-8:] for k in history_db} == {bytes(8)}
    log = share.log("d/f0.txt")
    assert [e["size"] for e in log] == [8, 7] and len(share.log("d/f2.txt")) == 1
    quick = history.quick_log(os.environ["FOG_HOME"], str(share.root), "d/f0.txt", None)
    assert quick is not None and [e.version.id.hex() for e in quick] == [e["version"] for e in log]
    below = share.log("d")  # a directory: every version below it (in this process: the test's key)
    assert sorted(e["path"] for e in below) == ["d", *sorted(f"d/f{i}.txt" for i in (0, 0, 1, 1, 2, 3))]
    out = share.root.parent / "out"
    share.fog("restore", ".@~1", "-o", out)  # the tree one push back: read from `history`
    assert [(out / "d" / f"f{i}.txt").read_text() for i in range(4)] == [f"file {i}\n" for i in range(4)]
    share.fog("forget", "--keep-last", "1", "d/f0.txt")
    assert [e["version"] for e in share.log("d/f0.txt")] == [log[0]["version"]]
    assert len(share.log("d/f1.txt")) == 2
