"""The incoming versions of a pull, kept on disk while it applies them chunk by chunk (docs/FORMAT.md, section 12).

A pull that held every incoming version decoded (~0.9 KB each) grew with the
number of files: a clone of 200,000 files peaked at ~290 MB. Here the
versions go into a scratch LMDB environment under `.fog/tmp` as they are
read, in sorted runs of up to RUN entries, each appended at the end of one
tree under its run number; the pull reads them back merged in path order,
one chunk of paths at a time, and only that chunk is decoded. Appending
keeps the pages a write touches few (a tree keyed by path alone takes a
random insert per version, which brings the whole file into the map), and
the map is dropped between chunks, so the memory stays that of one chunk.

Paths are ordered by their bytes (UTF-8, surrogate escapes for the rest),
which is the order of `str` for every valid name. The directory is removed
when the pull ends, and by the next pull if a pull was killed.
"""

from __future__ import annotations

import heapq
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import lmdb

from fog.format.version import Version
from fog.repo.history import MAP_SIZE

SCRATCH_PREFIX = "pull-scratch-"  # .fog/tmp/pull-scratch-XXXXXXXX/: one pull's scratch environment
RUN = 16384  # entries sorted in memory, then appended as one run
_KEY_PATH = 400  # path bytes in a key (LMDB keys are at most 511 bytes); a longer path is told by its record
_HEAD = struct.Struct(">BIqQ")  # flags, log number, time_ns, size; then the id (32 bytes) and the record
_ID = _HEAD.size
_RECORD = _ID + 32
NEW, DELETED, FILE = 1, 2, 4  # flags: arrived in this pull (else: retried), kind deleted, kind file
_INT64 = (1 << 63) - 1


def encode_path(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def _group_key(raw_path: bytes) -> bytes:
    return raw_path[:_KEY_PATH] + b"\0"  # (no path holds a NUL: a shorter path sorts before its extensions)


def sweep(tmp_dir: Path) -> None:
    """Remove the scratch environments of pulls that were killed (the share lock held)."""
    for p in tmp_dir.glob(f"{SCRATCH_PREFIX}*"):
        shutil.rmtree(p, ignore_errors=True)


class Entry:
    """One staged version, its header read (decoding the version costs more: `version()`)."""

    __slots__ = ("value", "_version")

    def __init__(self, value: bytes) -> None:
        self.value = value
        self._version: Version | None = None

    @property
    def flags(self) -> int:
        return self.value[0]

    @property
    def time_ns(self) -> int:
        return _HEAD.unpack_from(self.value)[2]

    @property
    def size(self) -> int:
        return _HEAD.unpack_from(self.value)[3]

    @property
    def record(self) -> bytes:
        """The version's record, as the share database stores it (Version.to_record)."""
        return self.value[_RECORD:]

    def version(self) -> Version:
        if self._version is None:
            self._version = Version.from_record(self.value[_ID:_RECORD], self.value[_RECORD:])
        return self._version


class Staged:
    """The versions a pull still has to plan, on disk, read back one chunk of paths at a time."""

    def __init__(self, tmp_dir: Path) -> None:
        sweep(tmp_dir)
        self.dir = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=tmp_dir)
        self.env: lmdb.Environment | None = None
        self._open()
        self.runs = 0
        self.new = 0  # versions staged as arrived in this pull
        self._serial = 0
        self._buf: list[tuple[bytes, bytes]] = []

    def _open(self) -> None:
        self.env = lmdb.open(
            self.dir, map_size=MAP_SIZE, subdir=True, sync=False, metasync=False, lock=False, readahead=False
        )

    def remap(self) -> None:
        """Drop the map (the pages read through it count in the RSS until then); between transactions only."""
        assert self.env is not None
        self.env.close()
        self._open()

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def add(self, v: Version, log: int, *, new: bool = True) -> None:
        """Stage a version (`log`: a number for `drop_log`)."""
        flags = (NEW if new else 0) | (DELETED if v.kind == "deleted" else 0) | (FILE if v.kind == "file" else 0)
        time_ns = max(-_INT64, min(v.time_ns, _INT64))
        head = _HEAD.pack(flags, log, time_ns, min(max(v.size, 0), _INT64))
        key = _group_key(encode_path(v.path)) + self._serial.to_bytes(8, "big")
        self._serial += 1
        self._buf.append((key, head + v.id + v.to_record()))
        self.new += new
        if len(self._buf) >= RUN:
            self.flush()

    def flush(self) -> None:
        """Write what is gathered as one more run."""
        if not self._buf:
            return
        assert self.env is not None
        buf, self._buf = self._buf, []
        buf.sort()  # (keys are unique: the serial number)
        run = self.runs.to_bytes(4, "big")
        self.runs += 1
        with self.env.begin(write=True) as txn:
            txn.cursor().putmulti([(run + k, v) for k, v in buf], append=True)
        del buf
        self.remap()

    def drop_log(self, log: int) -> None:
        """Unstage every version of one log (it failed verification part-way: nothing of it is applied)."""
        assert self.env is not None
        mine = [e for e in self._buf if _HEAD.unpack_from(e[1])[1] == log]
        self._buf = [e for e in self._buf if _HEAD.unpack_from(e[1])[1] != log]
        self.new -= sum(1 for _, value in mine if value[0] & NEW)
        with self.env.begin(write=True) as txn:
            cur = txn.cursor()
            ok = cur.first()
            while ok:
                flags, number = _HEAD.unpack_from(cur.value())[:2]
                if number == log:
                    self.new -= bool(flags & NEW)
                    ok = cur.delete()  # (moves to the next entry)
                else:
                    ok = cur.next()
        self.remap()

    def _runs(self) -> list[bytes]:
        return [r.to_bytes(4, "big") for r in range(self.runs)]

    def chunk(self, start: bytes, paths: int) -> tuple[list[tuple[str, list[Entry]]], bytes | None]:
        """The staged entries of the next `paths` paths from `start` (b"": the first), in path order, and where
        the next chunk starts (None: none left). A group of long paths sharing their first bytes comes whole."""
        assert self.env is not None and not self._buf, "flush() first"
        groups: list[tuple[bytes, list[bytes]]] = []
        nxt: bytes | None = None
        with self.env.begin() as txn:
            merged = heapq.merge(*(self._run(txn, run, start) for run in self._runs()))
            last = None
            for key, value in merged:
                group = key[:-8]
                if group != last:
                    if len(groups) >= paths:
                        nxt = key
                        break
                    groups.append((group, []))
                    last = group
                groups[-1][1].append(value)
        out: list[tuple[str, list[Entry]]] = []
        for group, values in groups:
            entries = [Entry(v) for v in values]
            if len(group) <= _KEY_PATH:  # the whole path is in the key
                out.append((group[:-1].decode("utf-8", "surrogateescape"), entries))
                continue
            by_path: dict[str, list[Entry]] = {}
            for e in entries:
                by_path.setdefault(e.version().path, []).append(e)
            out.extend(sorted(by_path.items(), key=lambda item: encode_path(item[0])))
        return out, nxt

    @staticmethod
    def _run(txn: lmdb.Transaction, run: bytes, start: bytes) -> Iterator[tuple[bytes, bytes]]:
        cur = txn.cursor()
        if not cur.set_range(run + start):
            return
        for key, value in cur:
            if key[:4] != run:
                return
            yield key[4:], value

    def _first_under(self, txn: lmdb.Transaction, low: bytes, group_prefix: bytes, test) -> bool:  # type: ignore[no-untyped-def]
        """Whether some run holds, from `low` on, an entry whose key starts with `group_prefix` and passes `test`."""
        for run in self._runs():
            cur = txn.cursor()
            if not cur.set_range(run + low):
                continue
            for key, value in cur:
                if key[:4] != run or not key[4:].startswith(group_prefix):
                    break
                if test(value):
                    return True
        return False

    def subtree_after(self, path: str, start: bytes | None) -> bool:
        """Whether a staged path under `path` lies at or after `start` (a chunk's start; None: nothing does)."""
        if start is None:
            return False
        assert self.env is not None
        prefix = encode_path(path) + b"/"
        if len(prefix) <= _KEY_PATH:
            group, test = prefix, lambda value: True
        else:
            group = prefix[:_KEY_PATH] + b"\0"

            def test(value: bytes) -> bool:
                return encode_path(Entry(value).version().path).startswith(prefix)

        with self.env.begin() as txn:
            return self._first_under(txn, max(start, group), group, test)

    def __contains__(self, path: object) -> bool:
        """Whether a version of `path` is staged (what `apply_plans` asks of a pull's paths)."""
        if not isinstance(path, str) or self.env is None:
            return False
        raw = encode_path(path)
        group = _group_key(raw)
        with self.env.begin() as txn:
            if len(raw) < _KEY_PATH:
                return self._first_under(txn, group, group, lambda value: True)
            return self._first_under(txn, group, group, lambda value: Entry(value).version().path == path)
