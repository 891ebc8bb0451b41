"""The share's LMDB environment: stat index, history, cursors, presence.

Sub-databases (keys; values):
  stat      pathkey -> StatEntry       what the working file looked like when
                                       it last matched a version
  versions  id[:8] || time_ns(8) -> b""   every version ever seen, any device: where
                                       its record is in `timeline` (format 5; the full
                                       id is checked there). Formats 3 and 4: version
                                       id -> time_ns(8); formats 1 and 2: version id ->
                                       the record itself, JSON in format 1
  history   pathkey || time_ns(8) || id[:8] -> b"" (per-path timeline; the id is
                                       in `timeline` under time_ns || id[:8]...; formats
                                       1 to 4: the version id as value)
  heads     pathkey -> version id      newest known version of each path
  timeline  time_ns(8) || id -> record  all versions by time (fog.format.record;
                                       b"" for a version of format 1 or 2)
  cursors   remote NUL log -> seq(8) || chain hash(32)
  present   remote hash(8) || run(8) -> object ids (32 each)   objects known on
                                       a remote, one run per commit that learnt some
                                       (formats 1 and 2: remote hash || object id -> b"")
  pending   remote hash(8) || version id -> order(8)   recorded here, not yet
                                       published on that remote (the outbox)
  packs     pack id -> index entries   every pack seen (own uploads, headers read)
  packnums  number(4) -> pack id      a local number per pack in `packs`, given in
                                       the order they were learnt (format 5)
  locs      object id[:8] -> pack number(4) || entry(4)   (dupsort: an object two
                                       devices packed has two places, and two objects
                                       whose ids share 8 bytes share a key: the full id
                                       is checked in the pack's index); a push writes
                                       its packs' places at its end (add_pack). Formats
                                       1 to 4: object id -> pack id || offset(4) || length(4)
  meta      name -> bytes (among them `audit NUL remote NUL log -> seq(8) || chain(32)`:
                                       where the re-verification of a log's read batches
                                       resumes, fog.sync.logs.audit_log)
  forgotten version id -> b""          versions forgotten (here or by any device): never
                                       recorded again (fog.repo.forgetting)
  forgets   remote hash(8) || version id -> order(8)   forgotten here or learnt from
                                       one remote, not yet published on that remote
LMDB keys are at most 511 bytes: a path longer than 400 bytes is keyed by
0xFF || SHA256(path); values always carry the full path.

Format 3 writes what a push adds in bulk where it clusters: a record under its
time (a chunk's versions land together at the end of `timeline`) and presence
as one run per commit. Keyed by random ids, as format 2 had them, a push
chunk of 16,384 versions touched and copied nearly every page of `versions`
and `present` (100,000 files: 31 MB of pages) in each transaction. Lookups by
id go through the small `versions` index (48 bytes an entry instead of ~140).

Format 4 keeps a stat entry's path in its key only (unless the key is a
hash), and a command that wrote most of the database (an initial push, a
clone) repacks it: random keys leave pages about 2/3 full (RepoDB.repack).

Format 5 keys `locs` by 8 bytes of the object id and names a place by a local
pack number and the object's position in that pack's index (26 bytes an entry
in a full page instead of 82); a lookup reads the pack's index to check the
full id and take the offset and length; and it keys `versions` by
`id[:8] · time_ns` with an empty value (26 bytes an entry instead of 50), and
`history` entries have an empty value (the id is found in `timeline`).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import struct
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import lmdb

from fog.errors import FogError, damaged_database
from fog.format.pack import PackIndex
from fog.format.version import Version
from fog.frozen import quick_init
from fog.memory import drop_mapped_pages, file_mappings
from fog.repo.dbpages import Snapshot, tree_damage
from fog.repo.forgetting import DELETION_RECORDED, Forgetting
from fog.repo.history import (
    DATA_FILE,
    DB_NAMES,
    DUPSORT,
    FS_ENCODING,
    MAP_SIZE,
    PATHKEY_MAX,
    Check,
    DamagedDB,
    history_id,
    history_ids,
    history_tag,
    indexed_record,
    newest_first,
    not_writable,
    open_env,
    pathkey,
    read_record,
    swap_lock,
    version_key,
)

_STAT = struct.Struct(">QqQqIB?32s")
_U64 = struct.Struct(">Q")
_SHED_EVERY = 64  # rows put at random places between two `RepoDB.shed` (each maps up to 64 KiB)
_SHED_ROWS = 2048  # rows read in key order between two (~50 pages)
T = TypeVar("T")
_LOC = struct.Struct(">II")  # offset, length (a format-1 to -4 `locs` value, after the pack id)
_PLACE = struct.Struct(">II")  # pack number, entry in its index (a format-5 `locs` value)
_U32 = struct.Struct(">I")
_ENTRY = struct.Struct(">32sII")  # a `packs` entry: object id, offset, length (fog.format.pack)
PACK_EPOCH = "pack-epoch\0"  # meta key prefix (+ pack id hex): the key epoch of a pack older than the share's
_SPANS_BEFORE_WALK = 256  # cursor walks checked one by one (RepoDB.span) before a table is checked whole
_UNINDEXED = b"unindexed\0"  # meta key prefix: a pack whose places are not in locs yet (add_pack)


def loc_key(object_id: bytes) -> bytes:
    """An object's key in `locs` (format 5): its first 8 bytes. Objects that share them share the key (each
    value names its own place, and the full id is checked there); a test makes them collide."""
    return object_id[:8]


REPACK_LEAST = 4096  # pages (16 MB): a smaller database is not worth rewriting (RepoDB.repack_grown)
_REPACK_ROWS = 16384


NS_MIN, NS_MAX = -(1 << 63), (1 << 63) - 1  # the times an int64 holds (clamp_ns)


def clamp_ns(ns: int) -> int:
    """A time in ns as an int64 can hold it: a file dated after 2262 (or before 1677) is recorded at the
    limit (its later changes are still seen through size, ctime and inode), never a crash."""
    return max(NS_MIN, min(ns, NS_MAX))


def remote_key(remote: str) -> bytes:
    return hashlib.sha256(remote.encode()).digest()[:8]


class StatLike(Protocol):
    """The stat fields fog compares (os.stat_result, or fog.sync.scan.Stat)."""

    st_size: int
    st_mtime_ns: int
    st_ino: int
    st_ctime_ns: int
    st_mode: int


@quick_init
@dataclass(frozen=True, slots=True)
class StatEntry:
    """A working-tree entry as last seen, and the version it matched."""

    path: str
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    mode: int  # full st_mode, type bits included
    racy: bool  # mtime too close to when it was read: re-read next time
    version: bytes

    def to_bytes(self, version: bytes | None = None) -> bytes:
        """The stored form; `version` stands in for self.version (saves building a named() copy)."""
        version = self.version if version is None else version
        mtime, ctime = clamp_ns(self.mtime_ns), clamp_ns(self.ctime_ns)
        head = _STAT.pack(self.size, mtime, self.ino, ctime, self.mode, 1, self.racy, version)
        raw = self.path.encode(FS_ENCODING, "surrogateescape")
        return head + raw if len(raw) > PATHKEY_MAX else head  # format 4: the key is the path (pathkey)

    @classmethod
    def from_bytes(cls, data: bytes, key: bytes) -> StatEntry:
        """An entry from its stored bytes and its key (the path, unless the value carries it)."""
        size, mtime, ino, ctime, mode, _, racy, version = _STAT.unpack_from(data)
        return cls(os.fsdecode(_stat_path(data, key)), size, mtime, ino, ctime, mode, racy, version)

    def matches(self, st: StatLike) -> bool:
        return (
            not self.racy
            and st.st_size == self.size
            and st.st_mtime_ns == self.mtime_ns
            and st.st_ino == self.ino
            and st.st_ctime_ns == self.ctime_ns
            and st.st_mode == self.mode
        )


_MATCH = struct.Struct(">QqQqIB?")  # the head of a stored StatEntry up to `racy`


def _stat_path(raw: bytes, key: bytes) -> bytes:
    """The path bytes of a stored entry: its value's tail (a path over PATHKEY_MAX bytes, or an entry
    written by a format-1 to -3 fog, which always put it there), else its key."""
    return raw[_STAT.size :] if len(raw) > _STAT.size else key


def stat_mode(raw: bytes) -> int:
    """The st_mode of a stored entry."""
    return int(_STAT.unpack_from(raw)[4])


class StatView:
    """Read-only, mapping-like access to the stat index inside one read transaction."""

    def __init__(self, txn: lmdb.Transaction, db: object) -> None:
        self.txn, self.db = txn, db
        self._get = txn.get

    def matches(self, path: str, s: StatLike, is_dir: bool) -> bool:
        """Whether the stored entry of `path` still describes `s`, without decoding it (the scan's test per entry).

        A file or link matches when size, mtime, inode, ctime and mode are
        equal and the entry is not racy (StatEntry.matches); a directory when
        its mode is. One encoding of the path serves as key and, when the
        value carries the path (a hashed key, or an entry a format-1 to -3 fog
        wrote), as the check of the value's tail.
        """
        raw_path = path.encode(FS_ENCODING, "surrogateescape")
        short = len(raw_path) <= PATHKEY_MAX
        raw = self._get(raw_path if short else pathkey(path), db=self.db)
        if raw is None:
            return False
        if len(raw) != _STAT.size:
            if len(raw) != _STAT.size + len(raw_path) or not raw.endswith(raw_path):
                return False
        elif not short:
            return False  # a hashed key always has the path in its value
        if is_dir:
            return _STAT.unpack_from(raw)[4] == s.st_mode
        try:
            head = _MATCH.pack(s.st_size, s.st_mtime_ns, s.st_ino, s.st_ctime_ns, s.st_mode, 1, False)
        except struct.error:  # a time out of int64's range: compared as stored (clamp_ns)
            mtime, ctime = clamp_ns(s.st_mtime_ns), clamp_ns(s.st_ctime_ns)
            head = _MATCH.pack(s.st_size, mtime, s.st_ino, ctime, s.st_mode, 1, False)
        return raw.startswith(head)

    def raw(self, path: str) -> bytes | None:
        """The stored entry's bytes."""
        return self.txn.get(pathkey(path), db=self.db)

    def __len__(self) -> int:
        return int(self.txn.stat(self.db)["entries"])

    def get(self, path: str) -> StatEntry | None:
        raw = self.txn.get(pathkey(path), db=self.db)
        if raw is None:
            return None
        entry = StatEntry.from_bytes(raw, pathkey(path))
        return entry if entry.path == path else None

    def __iter__(self) -> Iterator[str]:
        """Every indexed path (from the key, or the value's tail when it has one)."""
        for key, raw in self.txn.cursor(self.db):
            yield os.fsdecode(_stat_path(raw, key))


def _empty_commit(txn: lmdb.Transaction, meta: object) -> None:
    """Make `txn` a commit that changes nothing (LMDB commits no transaction that wrote nothing)."""
    txn.put(b"repacked", b"", db=meta)
    txn.delete(b"repacked", db=meta)


def not_yours(path: str, fog_dir: Path, what: str = "writable") -> str:
    """What to say of a file of `.fog/` this user may not write (or read: `what`): whose it is, and the fix."""
    import pwd

    def name(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return f"uid {uid}"

    try:
        st = os.stat(path)
        whose = f" (owner {name(st.st_uid)}, mode {stat_mode_text(st.st_mode)})"
    except OSError:
        whose = ""
    return (
        f"{path} is not {what} by you{whose}; nothing is damaged: fix its owner or permissions, e.g. "
        f"`sudo chown -R {name(os.geteuid())} {fog_dir}` (a `sudo fog` run in the share leaves .fog root's)"
    )


def stat_mode_text(mode: int) -> str:
    return f"{mode & 0o7777:04o}"


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class RepoDB(Forgetting):
    """Typed access to the share's LMDB environment."""

    def __init__(self, path: Path, recovery: str = "", *, follow: bool = False) -> None:
        """Open (or make) the environment; `recovery`: what to tell the user when it is damaged.

        `follow`: for a process without the share lock (`fog log`, `ls`, a
        mount): opened only outside a repack's swap (`swap_lock`), and
        `refresh` reopens it after a repack replaced `data.mdb`.
        """
        self.path = path
        self.recovery = recovery
        self.follow = follow
        self._file: tuple[int, int] | None = None
        self._walkable: set[str] = set()  # named databases whose tree was checked (`walkable`) in this file
        self._spans: dict[str, int] = {}  # short cursor walks checked (`span`) per named database
        self._snapshot: tuple[lmdb.Transaction, Snapshot] | None = None
        self._open()

    def _open(self) -> None:
        # a reader without the share lock: never between a repack's unlink of lock.mdb and its first commit
        with swap_lock(self.path, exclusive=False) if self.follow else nullcontext():
            self._open_env()
            file = _file_id(self.path / DATA_FILE)
            if file != self._file:
                self._walkable = set()
                self._spans = {}
            self._file = file
        self._mapped: list[tuple[int, int]] | None = None  # where this environment maps data.mdb (`shed`)

    def _open_env(self) -> None:
        locked = not_writable(str(self.path))
        # a reader (`follow`: no share lock, no write) of a data file it may not write opens it read-only
        data = self.path / DATA_FILE
        readonly = self.follow and locked is not None and data.exists() and not os.access(data, os.W_OK)
        try:
            self.env = open_env(str(self.path), readonly=readonly)
        except DamagedDB as exc:  # checked before LMDB maps the file: mapping it would be SIGBUS
            raise FogError(f"{exc}{self.recovery}") from None
        except lmdb.MemoryError:  # the mapping, not the file: no recovery to suggest
            raise FogError(
                f"cannot map the share database {self.path}: not enough address space for its "
                f"{MAP_SIZE >> 30} GiB map (is a virtual memory limit, `ulimit -v`, set?)"
            ) from None
        except lmdb.Error as exc:
            if locked is not None:
                raise FogError(not_yours(locked, self.path.parent)) from None
            raise FogError(f"cannot open the share database {self.path}: {exc}{self.recovery}") from exc
        try:
            if readonly:
                self.db = {
                    name.decode(): self.env.open_db(name, dupsort=name in DUPSORT, create=False) for name in DB_NAMES
                }
                return
            self.db = {name.decode(): self.env.open_db(name, dupsort=name in DUPSORT) for name in DB_NAMES}
        except lmdb.Error as exc:
            self.env.close()
            raise FogError(f"cannot open the share database {self.path}: {exc}{self.recovery}") from exc

    def remap(self) -> None:
        """Close and reopen the environment, between transactions only.

        Every page LMDB reads through its memory map stays resident, and
        counts in the process's RSS, until the map goes. Each chunk of a big
        push reads most of the randomly keyed sub-databases (versions,
        present, locs), at new page numbers after each commit, so the mapped
        set grows towards the whole file; reopening drops it. 100,000 files:
        peak file-backed RSS 118 -> 92 MB. Costs a few ms.
        """
        self.env.close()
        self._open()

    def shed(self) -> None:
        """Let go of the pages of data.mdb this process has mapped, inside a transaction too (`remap` between
        them): they stay in the page cache, and LMDB's next read of one maps it back.

        A read of one page through the map maps its 15 cached neighbours too
        (the kernel's fault-around): a transaction that puts 4,096 versions,
        keyed by their random ids, mapped nearly all of the file, 21 MB of RSS
        at the end of a clone of 100,000 files and more with every chunk.
        """
        if self._mapped is None:
            self._mapped = file_mappings(str(self.path / DATA_FILE))
        drop_mapped_pages(self._mapped)

    def _shedding(self, items: Iterable[T]) -> Iterator[T]:
        """`items`, calling `shed` every _SHED_EVERY of them (a putmulti of randomly keyed rows)."""
        for n, item in enumerate(items, 1):
            if n % _SHED_EVERY == 0:
                self.shed()
            yield item

    def close(self) -> None:
        self._drop_snapshot()
        self.env.close()

    def _drop_snapshot(self) -> None:
        if self._snapshot is not None:
            self._snapshot[1].close()
            self._snapshot = None

    def upgrade(self, found: int) -> None:
        """Bring a database a format-`found` fog wrote to this fog's form (the share lock held, before any other
        use): below format 4 the stat entries whose key is their path lose the copy at the end of their value;
        below format 5 the `versions` index takes its short keys and `history` values are emptied (in chunks:
        a crash part-way leaves both forms, which readers take) and `locs` is rewritten with short keys and
        pack numbers (renumber_locs); a database big enough is then repacked (a share of 119,000 paths: most
        of its pages were 2/3 full)."""
        if found >= 5:
            return
        last: tuple[bytes, bytes] | None = None
        while found < 4 and (rows := self._rows_after("stat", last, _REPACK_ROWS)):
            with self.write() as txn:
                cur = txn.cursor(self.db["stat"])
                cur.putmulti((k, v[: _STAT.size]) for k, v in rows if v[_STAT.size :] == k)
            last = rows[-1]
            self.remap()
        last = None
        while rows := self._rows_after("versions", last, _REPACK_ROWS):
            with self.write() as txn:
                self._reindex_versions(txn, rows)
            last = rows[-1]
            self.remap()
        last = None
        while rows := self._rows_after("history", last, _REPACK_ROWS):
            with self.write() as txn:  # `history` values emptied (history_id finds them in `timeline`)
                txn.cursor(self.db["history"]).putmulti((k, b"") for k, v in rows if v)
            last = rows[-1]
            self.remap()
        self.renumber_locs()
        self.remap()
        self.repack_grown(0)

    def _reindex_versions(self, txn: lmdb.Transaction, rows: list[tuple[bytes, bytes]]) -> None:
        """Each format-3/4 `versions` entry among `rows` (id -> time_ns) in its format-5 form (`version_key(id)
        · time_ns` -> b""); a record stored there by a format-1 or -2 fog stays as it is."""
        versions = self.db["versions"]
        old = [(vid, when) for vid, when in rows if len(vid) == 32 and len(when) == 8]
        txn.cursor(versions).putmulti((version_key(vid) + when, b"") for vid, when in old)
        for vid, _ in old:
            txn.delete(vid, db=versions)

    def _rows_after(self, name: str, last: tuple[bytes, bytes] | None, n: int) -> list[tuple[bytes, bytes]]:
        """Up to `n` rows of a sub-database in key order, after `last` (from the first when None)."""
        with self.read() as txn:
            cur = txn.cursor(self.db[name])
            if last is None:
                found = cur.first()
            elif name.encode() in DUPSORT:
                found = cur.set_range_dup(*last) and cur.next()
            else:
                found = cur.set_range(last[0]) and (cur.key() != last[0] or cur.next())
            if not found:
                return []
            rows, it = [], cur.iternext()
            while len(rows) < n and (more := list(itertools.islice(it, min(n - len(rows), _SHED_ROWS)))):
                rows += more
                self.shed()  # (pages in key order lie all over a file written in random order)
            return rows

    def pages(self) -> int:
        """Pages in use by the sub-databases (what repack_grown compares)."""
        with self.read() as txn:
            total = 0
            for db in self.db.values():
                s = txn.stat(db)
                total += s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"]
        return total

    def repack_grown(self, before: int, *, least: int | None = None) -> bool:
        """repack() when the sub-databases grew to at least `least` pages and twice `before` (the pages in use
        when the command began): an initial push or a clone, which write most of the database at once."""
        after = self.pages()
        if after < (REPACK_LEAST if least is None else least) or after < 2 * before:
            return False
        try:
            new = self._copy()
        except (lmdb.Error, OSError, FogError):  # no room for the copy, say: the old file stays, as good as before
            return False
        self._swap(new)
        return True

    def repack(self) -> None:
        """Rewrite the database with full pages, under the share lock, no transaction open.

        Keys written in random order (version and object ids) leave LMDB's
        pages about two thirds full, and the records of one push, all under the
        same time, land between each other's; so did the keys in `timeline`.
        Copied in key order with MDB_APPEND into a fresh environment, every
        page but the last of each sub-database is full (100,000 files: 87 MB
        of pages, 66 MB rewritten). The new `data.mdb` replaces the old one in
        one rename, after `lock.mdb` is unlinked, so that the next process
        starts a lock table of its own: a reader that had the old files open
        (a `fog log` or a mount, which take no share lock) keeps reading the
        old copy it mapped until it calls `refresh` (a mount does before each
        request), which reopens the new one. Readers open the environment only outside the swap
        (`swap_lock`), and the swap ends with a commit, so a new lock table
        never pairs with the old file. A crash leaves either file whole; a
        stray `db.repack/` is removed by the next command that takes the lock.
        """
        self._swap(self._copy())

    def _copy(self) -> Path:
        """The sub-databases copied in key order into `db.repack/` (on failure: removed, and raises)."""
        new = self.path.with_name(self.path.name + ".repack")
        shutil.rmtree(new, ignore_errors=True)
        os.mkdir(new, 0o700)
        dst = lmdb.open(str(new), map_size=MAP_SIZE, max_dbs=len(DB_NAMES), subdir=True, mode=0o600, sync=False)
        try:  # the copy: a failure leaves the old file as it was
            for name in DB_NAMES:
                dupsort = name in DUPSORT
                with dst.begin(write=True) as w:
                    db = dst.open_db(name, txn=w, dupsort=dupsort)
                last: tuple[bytes, bytes] | None = None
                while True:  # a chunk at a time: the rows in memory, the pages mapped and dirty stay few
                    rows = self._rows_after(name.decode(), last, _REPACK_ROWS)
                    if not rows:
                        break
                    with dst.begin(write=True) as w:
                        done, added = w.cursor(db).putmulti(rows, dupdata=dupsort, append=True)
                    if added != done:  # not in key order: never expected; the old file stays
                        raise FogError(f"cannot repack {self.path}: {name.decode()} is out of order")
                    last = rows[-1]
                    self.remap()  # drop the pages this chunk mapped (see remap)
            with dst.begin(write=True) as w:  # one more commit: both meta pages name the whole copy
                _empty_commit(w, dst.open_db(b"meta", txn=w))
            dst.sync(True)
        except BaseException:
            dst.close()
            shutil.rmtree(new, ignore_errors=True)
            raise
        dst.close()
        return new

    def _swap(self, new: Path) -> None:
        """Put the copy in place of `data.mdb` and reopen; a failure to reopen raises FogError."""
        with swap_lock(self.path, exclusive=True):  # lock-free readers open only before or after all of this
            self.env.close()
            try:
                try:
                    os.unlink(self.path / "lock.mdb")
                except FileNotFoundError:
                    pass
                os.replace(new / DATA_FILE, self.path / DATA_FILE)
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            finally:
                shutil.rmtree(new, ignore_errors=True)
                self._open()
            with self.write() as txn:  # the new lock table's last-commit mark now names this file's
                _empty_commit(txn, self.db["meta"])

    def walkable(self, txn: lmdb.Transaction, *names: str) -> None:
        """Check, once per file, that a cursor may walk all of the named databases `names` in `txn`:
        a damaged leaf there would abort the process inside LMDB (fog.repo.dbpages). Raises FogError."""
        for name in names:
            if name in self._walkable:
                continue
            try:
                damage = tree_damage(str(self.path), txn.id(), name.encode())
            except OSError:
                damage = None  # LMDB reads the same file and says what is wrong
            if damage is not None:
                raise damaged_database(f"its {name} table: {damage}")
            self._walkable.add(name)

    def span(self, txn: lmdb.Transaction) -> Check:
        """check(table, lo, hi) for a short cursor walk in `txn` (fog.repo.history.Check): the pages it reads
        are checked first (fog.repo.dbpages.Snapshot), or, after _SPANS_BEFORE_WALK of them, the whole
        table once (`walkable`). Raises FogError."""

        def check(table: bytes, lo: bytes, hi: bytes | None) -> None:
            name = table.decode()
            if name in self._walkable:
                return
            if self._snapshot is None or self._snapshot[0] is not txn:
                self._drop_snapshot()
                self._snapshot = (txn, Snapshot(str(self.path), txn.id()))
            pages = self._snapshot[1]
            if pages.fd is None:
                return  # not checkable (a write transaction's snapshot is not on disk yet)
            n = self._spans[name] = self._spans.get(name, 0) + 1
            if n > _SPANS_BEFORE_WALK:
                self.walkable(txn, name)
                return
            damage = pages.span_damage(table, lo, hi)
            if damage is not None:
                raise damaged_database(f"its {name} table: {damage}")

        return check

    def write(self) -> lmdb.Transaction:
        return self.env.begin(write=True)

    def read(self) -> lmdb.Transaction:
        return self.env.begin()

    def refresh(self) -> tuple[object, int]:
        """For a long reader without the share lock (a mount), between requests: reopen the database when
        a repack replaced `data.mdb` since it was opened, and return what changes with every commit
        (transaction ids start again in a repacked file, so the file's identity is part of it).

        Never while a transaction or a sub-database handle from before is in use: those belong to the
        environment a reopen closes."""
        if self.follow and _file_id(self.path / DATA_FILE) != self._file:
            self.remap()
        return self._file, self.env.info()["last_txnid"]

    # -- stat index -----------------------------------------------------------

    def stat_entries(self) -> dict[str, StatEntry]:
        with self.read() as txn:
            self.walkable(txn, "stat")
            return {e.path: e for e in (StatEntry.from_bytes(v, k) for k, v in txn.cursor(self.db["stat"]))}

    @contextmanager
    def stat_view(self) -> Iterator[StatView]:
        """The stat index read in place (no dict of every entry: 100,000 files cost ~65 MB that way)."""
        with self.read() as txn:
            self.walkable(txn, "stat")
            yield StatView(txn, self.db["stat"])

    def put_stat(self, txn: lmdb.Transaction, entry: StatEntry, version: bytes | None = None) -> None:
        """Store an entry (matched to `version` instead of entry.version when given)."""
        txn.put(pathkey(entry.path), entry.to_bytes(version), db=self.db["stat"])

    def put_stats(self, txn: lmdb.Transaction, entries: list[tuple[StatEntry, bytes | None]]) -> None:
        """put_stat for many (entry, version) pairs in one putmulti."""
        txn.cursor(self.db["stat"]).putmulti((pathkey(e.path), e.to_bytes(v)) for e, v in entries)

    def drop_stat(self, txn: lmdb.Transaction, path: str) -> None:
        txn.delete(pathkey(path), db=self.db["stat"])

    def get_stat(self, path: str) -> StatEntry | None:
        with self.read() as txn:
            raw = txn.get(pathkey(path), db=self.db["stat"])
        return StatEntry.from_bytes(raw, pathkey(path)) if raw else None

    # -- versions and history -------------------------------------------------

    def add_version(self, txn: lmdb.Transaction, v: Version, *, make_head: bool = True) -> bool:
        """Record a version (idempotent); returns False if it was known, or forgotten."""
        if self.has_version(v.id, txn) or self.is_forgotten(v.id, txn):
            return False
        pk = pathkey(v.path)
        when = _U64.pack(v.time_ns)
        txn.put(version_key(v.id) + when, b"", db=self.db["versions"])
        txn.put(when + v.id, v.to_record(), db=self.db["timeline"])
        txn.put(pk + when + history_tag(v.id), b"", db=self.db["history"])
        if make_head:
            txn.put(pk, v.id, db=self.db["heads"])
            self._release_kept(txn)
        self._stamp_deletions(txn, (v,))
        return True

    def add_unknown_versions(
        self,
        txn: lmdb.Transaction,
        versions: list[Version],
        *,
        make_head: bool = True,
        records: dict[bytes, bytes] | None = None,
    ) -> None:
        """Record versions the caller knows are not recorded yet (add_version without its lookup).

        `records`: version id -> its `to_record()`, where the caller has it already (a pull's staged versions).

        A push's own versions (made here and now) and a pull's incoming ones
        (checked with has_version under the share lock) are such versions; and
        every key below derives from the version, so writing one twice changes
        nothing. One putmulti per sub-database, its loop in C. A forgotten
        version is left out (never recorded again).
        """
        # generators, not lists: a chunk of 8,192 versions would hold ~4 MB of tuples at once
        db = self.db
        if txn.stat(db["forgotten"])["entries"]:
            versions = [v for v in versions if not self.is_forgotten(v.id, txn)]
        key = version_key
        # (shedding: each row lands on a page anywhere in the file, mapped with its neighbours)
        txn.cursor(db["versions"]).putmulti(self._shedding((key(v.id) + _U64.pack(v.time_ns), b"") for v in versions))
        known = records or {}
        txn.cursor(db["timeline"]).putmulti(
            self._shedding((_U64.pack(v.time_ns) + v.id, known.get(v.id) or v.to_record()) for v in versions)
        )
        tag = history_tag
        txn.cursor(db["history"]).putmulti((pathkey(v.path) + _U64.pack(v.time_ns) + tag(v.id), b"") for v in versions)
        self._stamp_deletions(txn, versions)
        if make_head:
            self.set_heads(txn, versions)

    def _stamp_deletions(self, txn: lmdb.Transaction, versions: Iterable[Version]) -> None:
        """Note when this device recorded each deletion among `versions` (its clock: DELETION_RECORDED)."""
        now = _U64.pack(max(0, time.time_ns()))
        meta = self.db["meta"]
        for v in versions:
            if v.deleted:
                txn.put(DELETION_RECORDED + v.id, now, db=meta, overwrite=False)

    def deletion_recorded(self, txn: lmdb.Transaction, version_id: bytes) -> int:
        """When this device recorded a deletion (ns), 0 if it has no note of it (recorded by an older fog)."""
        raw = txn.get(DELETION_RECORDED + version_id, db=self.db["meta"])
        return _U64.unpack(raw)[0] if raw and len(raw) == 8 else 0

    def set_heads(self, txn: lmdb.Transaction, versions: list[Version]) -> None:
        txn.cursor(self.db["heads"]).putmulti((pathkey(v.path), v.id) for v in versions)
        self._release_kept(txn)

    def version(self, version_id: bytes, txn: lmdb.Transaction | None = None) -> Version | None:
        if txn is None:
            with self.read() as t:
                return self.version(version_id, t)
        raw = read_record(txn, self.db["versions"], self.db["timeline"], version_id, self.span(txn))
        return Version.from_record(version_id, raw) if raw else None

    def has_version(self, version_id: bytes, txn: lmdb.Transaction) -> bool:
        """Whether the version is known (without decoding it)."""
        versions = self.db["versions"]
        found = indexed_record(txn, versions, self.db["timeline"], version_id, self.span(txn))
        return found is not None or txn.get(version_id, db=versions) is not None

    def head(self, path: str, txn: lmdb.Transaction | None = None) -> Version | None:
        """The newest known version of a path (inside `txn` when given: many lookups, one transaction)."""
        if txn is None:
            with self.read() as t:
                return self.head(path, t)
        vid = txn.get(pathkey(path), db=self.db["heads"])
        return self.version(vid, txn) if vid else None

    def heads(self) -> dict[str, Version]:
        with self.read() as txn:
            self.walkable(txn, "heads")
            out = {}
            for vid in txn.cursor(self.db["heads"]).iternext(False, True):
                v = self.version(vid, txn)
                if v is not None:
                    out[v.path] = v
            return out

    def path_history(self, path: str) -> list[Version]:
        """Every version of one path, newest first (a version before its parent: fog.repo.history.newest_first)."""
        out: list[Version] = []
        with self.read() as txn:
            db, check = self.db, self.span(txn)
            for vid in history_ids(txn, db["history"], db["versions"], db["timeline"], path, check):
                v = self.version(vid, txn)
                if v is not None:
                    out.append(v)
            head = txn.get(pathkey(path), db=db["heads"])
        return newest_first(out, head)

    def histories(self, txn: lmdb.Transaction) -> Iterator[tuple[str, list[Version], bytes | None]]:
        """Every path with history: (path, its versions, its head's id), one path at a time.

        A walk of `history` in key order (each path's keys are contiguous), so
        memory holds one path's versions, not the share's.
        """
        self.walkable(txn, "history", "timeline", "versions")  # (each version found through both)
        heads, versions, timeline = self.db["heads"], self.db["versions"], self.db["timeline"]
        group: list[Version] = []
        at = b""
        for key, value in txn.cursor(self.db["history"]):
            pk = key[:-16]  # pathkey || time_ns(8) || id[:8]
            if pk != at and group:
                yield group[0].path, group, txn.get(at, db=heads)
                group = []
            at = pk
            vid = history_id(txn, versions, timeline, key, value)
            v = self.version(vid, txn) if vid is not None else None
            if v is not None:
                group.append(v)
        if group:
            yield group[0].path, group, txn.get(at, db=heads)

    def recent(self, limit: int | None = None) -> Iterator[Version]:
        """All versions newest first."""
        with self.read() as txn:
            self.walkable(txn, "timeline")
            cur = txn.cursor(self.db["timeline"])
            if not cur.last():
                return
            n = 0
            for key, raw in cur.iterprev():
                v = Version.from_record(key[8:], raw) if raw else self.version(key[8:], txn)  # b"": format 1 or 2
                if v is not None:
                    yield v
                    n += 1
                    if limit is not None and n >= limit:
                        return

    def all_versions(self) -> Iterator[Version]:
        """Every recorded version, in no particular order (two sequential passes, no lookups)."""
        with self.read() as txn:
            self.walkable(txn, "timeline", "versions")
            for key, raw in txn.cursor(self.db["timeline"]):
                if raw:  # format 3
                    yield Version.from_record(key[8:], raw)
            for vid, raw in txn.cursor(self.db["versions"]):
                if len(vid) == 32 and len(raw) != 8:  # stored by a format-1 or -2 fog
                    yield Version.from_record(vid, raw)

    def all_versions_chunked(self, size: int = 16384) -> Iterator[Version]:
        """all_versions, read `size` at a time with the map dropped in between (remap): a walk over a
        big history keeps a chunk of pages resident, not the whole file. No transaction may be open."""
        for name in ("timeline", "versions"):
            start: bytes | None = b""
            while start is not None:
                chunk: list[Version] = []
                with self.read() as txn:
                    self.walkable(txn, name)
                    cur = txn.cursor(self.db[name])
                    start = start if cur.set_range(start) else None
                    for key, raw in cur if start is not None else ():
                        if len(chunk) >= size:
                            start = key
                            break
                        if name == "timeline" and raw:  # format 3
                            chunk.append(Version.from_record(key[8:], raw))
                        elif name == "versions" and len(key) == 32 and len(raw) != 8:  # by a format-1 or -2 fog
                            chunk.append(Version.from_record(key, raw))
                    else:
                        start = None
                self.remap()
                yield from chunk

    # -- cursors, presence, meta ------------------------------------------------

    def cursor(self, remote: str, log: str) -> tuple[int, bytes | None]:
        with self.read() as txn:
            raw = txn.get(remote.encode() + b"\0" + log.encode(), db=self.db["cursors"])
        if not raw:
            return 0, None
        return _U64.unpack_from(raw)[0], raw[8:]

    def set_cursor(self, txn: lmdb.Transaction, remote: str, log: str, seq: int, chain: bytes) -> None:
        txn.put(remote.encode() + b"\0" + log.encode(), _U64.pack(seq) + chain, db=self.db["cursors"])

    def cursor_logs(self, remote: str) -> list[str]:
        """Every log this device holds a cursor for on a remote (also logs the remote no longer lists)."""
        prefix = remote.encode() + b"\0"
        out: list[str] = []
        with self.read() as txn:
            cur = txn.cursor(self.db["cursors"])
            if cur.set_range(prefix):
                for key in cur.iternext(True, False):
                    if not key.startswith(prefix):
                        break
                    out.append(key[len(prefix) :].decode())
        return out

    def audit_anchor(self, remote: str, log: str) -> tuple[int, bytes | None]:
        """Where the re-verification of a log's read batches resumes: (seq, chain), or (0, None)."""
        raw = self.get_meta(f"audit\0{remote}\0{log}")
        if not raw or len(raw) != 40:
            return 0, None
        return _U64.unpack_from(raw)[0], raw[8:]

    def set_audit_anchor(self, txn: lmdb.Transaction, remote: str, log: str, anchor: tuple[int, bytes | None]) -> None:
        key = f"audit\0{remote}\0{log}".encode()
        seq, chain = anchor
        if seq and chain is not None:
            txn.put(key, _U64.pack(seq) + chain, db=self.db["meta"])
        else:
            txn.delete(key, db=self.db["meta"])

    # -- the outbox ------------------------------------------------------------------

    def add_pending(self, txn: lmdb.Transaction, remotes: list[str], ids: list[bytes]) -> None:
        """Queue versions for publication on each remote, in this order."""
        self._enqueue(txn, "pending", remotes, ids)

    def pending(self, remote: str) -> list[bytes]:
        """Version ids waiting for publication on a remote, oldest first."""
        return self._queued("pending", remote)

    def clear_pending(self, txn: lmdb.Transaction, remote: str, ids: Iterable[bytes]) -> None:
        self._dequeue(txn, "pending", remote, ids)

    def add_pending_forgets(self, txn: lmdb.Transaction, remotes: list[str], ids: list[bytes]) -> None:
        """Queue forgotten version ids for publication on each remote, in this order."""
        self._enqueue(txn, "forgets", remotes, ids)

    def pending_forgets(self, remote: str) -> list[bytes]:
        """Forgotten version ids waiting for publication on a remote, oldest first."""
        return self._queued("forgets", remote)

    def clear_pending_forgets(self, txn: lmdb.Transaction, remote: str, ids: Iterable[bytes]) -> None:
        self._dequeue(txn, "forgets", remote, ids)

    def _enqueue(self, txn: lmdb.Transaction, name: str, remotes: list[str], ids: list[bytes]) -> None:
        raw = txn.get(b"outbox-order", db=self.db["meta"])
        order = _U64.unpack(raw)[0] if raw else 0
        first = order + 1
        order += len(ids)
        cur = txn.cursor(self.db[name])
        for remote in remotes:
            rk = remote_key(remote)
            cur.putmulti((rk + vid, _U64.pack(n)) for n, vid in enumerate(ids, first))
        txn.put(b"outbox-order", _U64.pack(order), db=self.db["meta"])

    def _queued(self, name: str, remote: str) -> list[bytes]:
        rk = remote_key(remote)
        rows: list[tuple[int, bytes]] = []
        with self.read() as txn:
            cur = txn.cursor(self.db[name])
            if cur.set_range(rk):
                for key, value in cur:
                    if not key.startswith(rk):
                        break
                    rows.append((_U64.unpack(value)[0], key[8:]))
        return [vid for _, vid in sorted(rows)]

    def _dequeue(self, txn: lmdb.Transaction, name: str, remote: str, ids: Iterable[bytes]) -> None:
        rk = remote_key(remote)
        queue = self.db[name]
        for vid in ids:
            txn.delete(rk + vid, db=queue)

    def _queue_keys(self, txn: lmdb.Transaction, name: str) -> list[bytes]:
        """The remote keys that have an entry in an outbox (one seek each, not a walk of the queue)."""
        out: list[bytes] = []
        cur = txn.cursor(self.db[name])
        found = cur.first()
        while found:
            rk = cur.key()[:8]
            out.append(rk)
            after = int.from_bytes(rk, "big") + 1
            found = after < 1 << 64 and cur.set_range(after.to_bytes(8, "big"))
        return out

    def get_meta(self, key: str) -> bytes | None:
        with self.read() as txn:
            return txn.get(key.encode(), db=self.db["meta"])

    def put_meta(self, key: str, value: bytes) -> None:
        with self.write() as txn:
            txn.put(key.encode(), value, db=self.db["meta"])

    def set_meta(self, txn: lmdb.Transaction, key: str, value: bytes) -> None:
        """put_meta inside the caller's transaction."""
        txn.put(key.encode(), value, db=self.db["meta"])

    def drop_meta(self, txn: lmdb.Transaction, key: str) -> None:
        txn.delete(key.encode(), db=self.db["meta"])

    def present_ids(self, remote: str) -> set[bytes]:
        with self.read() as txn:
            return self._present(txn, remote_key(remote))

    def _present(self, txn: lmdb.Transaction, rk: bytes) -> set[bytes]:
        out: set[bytes] = set()
        cur = txn.cursor(self.db["present"])
        if cur.set_range(rk):
            for key, value in cur:
                if not key.startswith(rk):
                    break
                if len(key) == 8 + 32:  # one id per key (formats 1 and 2)
                    out.add(key[8:])
                else:
                    out.update(value[i : i + 32] for i in range(0, len(value), 32))
        return out

    def present_runs(self, remote: str) -> list[bytes]:
        """The ids known on a remote as stored: runs of ids end to end (one per key of formats 1 and 2)."""
        rk = remote_key(remote)
        out: list[bytes] = []
        with self.read() as txn:
            cur = txn.cursor(self.db["present"])
            if cur.set_range(rk):
                for key, value in cur:
                    if not key.startswith(rk):
                        break
                    out.append(key[8:] if len(key) == 8 + 32 else value)
        return out

    def add_present(self, txn: lmdb.Transaction, remote: str, ids: Iterable[bytes] | bytes) -> None:
        """Record objects known on a remote (ids, or ids end to end): one run, written after the remote's others."""
        if ids:
            self._put_run(txn, remote_key(remote), ids)

    def _put_run(self, txn: lmdb.Transaction, rk: bytes, ids: Iterable[bytes] | bytes) -> None:
        counter = b"present-runs\0" + rk  # runs are numbered per remote, never reused
        raw = txn.get(counter, db=self.db["meta"])
        run = _U64.unpack(raw)[0] if raw else 0
        joined = ids if isinstance(ids, bytes) else b"".join(ids)
        txn.put(rk + _U64.pack(run), joined, db=self.db["present"])
        txn.put(counter, _U64.pack(run + 1), db=self.db["meta"])

    # -- packs ---------------------------------------------------------------------

    def add_pack(self, txn: lmdb.Transaction, index: PackIndex, *, locs: bool = True) -> bool:
        """Record a pack's index, its number and its objects' places; False if it was known.

        With `locs=False` the places wait (the pack is marked unindexed, the
        mark holding its number) for `index_packs`: `locs` is keyed by random
        object ids, so each chunk of a big push would touch and copy nearly
        every page of it; one transaction at the end of the push writes them
        all at once.
        """
        if not txn.put(index.pack, index.entries, db=self.db["packs"], overwrite=False):
            return False
        number = self._number_pack(txn, index.pack)
        if locs:
            self._put_locs(txn, index, number)
        else:
            txn.put(_UNINDEXED + index.pack, number, db=self.db["meta"])
        return True

    def replace_pack(self, txn: lmdb.Transaction, index: PackIndex) -> None:
        """Record a pack's index in place of the one known (learnt from a header another pack's bytes
        carried under its name: fog.store.PackCatalog.replace), with its objects' places.

        The pack gets a new number for them: a place names an entry of its pack's index and is checked
        against the object id (`locations`), so the old entries' places stop resolving, and one that
        still does (the same object at the same entry) names the same place."""
        if txn.put(index.pack, index.entries, db=self.db["packs"], overwrite=False):
            self._put_locs(txn, index, self._number_pack(txn, index.pack))
            return
        txn.put(index.pack, index.entries, db=self.db["packs"])
        if txn.get(_UNINDEXED + index.pack, db=self.db["meta"]) is None:  # (else index_packs writes them)
            self._put_locs(txn, index, self._number_pack(txn, index.pack))

    def _number_pack(self, txn: lmdb.Transaction, pack_id: bytes) -> bytes:
        """Give a pack the next local number (u32, stored in `packnums`); returns it packed."""
        cur = txn.cursor(self.db["packnums"])
        number = _U32.pack(_U32.unpack(cur.key())[0] + 1 if cur.last() else 0)
        txn.put(number, pack_id, db=self.db["packnums"], append=True)
        return number

    def _put_locs(self, txn: lmdb.Transaction, index: PackIndex, number: bytes) -> None:
        key, n = loc_key, _U32.unpack(number)[0]
        rows = ((key(oid), _PLACE.pack(n, i)) for i, oid in enumerate(index.ids()))
        txn.cursor(self.db["locs"]).putmulti(rows, dupdata=True)

    def _unindexed(self, txn: lmdb.Transaction) -> list[tuple[PackIndex, bytes]]:
        """Each pack marked unindexed, with its mark's value (its number; empty: marked by a format-4 fog)."""
        out: list[tuple[PackIndex, bytes]] = []
        cur = txn.cursor(self.db["meta"])
        if cur.set_range(_UNINDEXED):
            for key, value in cur:
                if not key.startswith(_UNINDEXED):
                    break
                raw = txn.get(key[len(_UNINDEXED) :], db=self.db["packs"])
                if raw is not None:
                    out.append((PackIndex(key[len(_UNINDEXED) :], raw), value))
        return out

    def unindexed_packs(self, txn: lmdb.Transaction | None = None) -> list[PackIndex]:
        """Packs recorded with `locs=False` whose places are not in `locs` yet."""
        if txn is None:
            with self.read() as t:
                return self.unindexed_packs(t)
        return [index for index, _ in self._unindexed(txn)]

    def index_packs(self, txn: lmdb.Transaction) -> int:
        """Write the places of every unindexed pack into `locs`; returns how many packs."""
        packs = self._unindexed(txn)
        for index, number in sorted(packs, key=lambda p: p[0].pack):
            self._put_locs(txn, index, number if len(number) == 4 else self._number_pack(txn, index.pack))
            txn.delete(_UNINDEXED + index.pack, db=self.db["meta"])
        return len(packs)

    def renumber_locs(self) -> None:
        """Rewrite `locs` in the format-5 form, in one transaction (the upgrade from formats 1 to 4): every
        pack in `packs` numbered, in pack id order, and each of its objects' places written, the unindexed
        marks cleared (their packs' places are written with the others)."""
        with self.write() as txn:
            meta = self.db["meta"]
            txn.drop(self.db["locs"], delete=False)
            txn.drop(self.db["packnums"], delete=False)
            for pack_id, entries in txn.cursor(self.db["packs"]):
                self._put_locs(txn, PackIndex(pack_id, entries), self._number_pack(txn, pack_id))
            cur = txn.cursor(meta)
            while cur.set_range(_UNINDEXED) and cur.key().startswith(_UNINDEXED):
                cur.delete()

    def pack_epoch(self, pack_id: bytes) -> int | None:
        """The key epoch a pack's header is sealed with, when remembered (only packs older than the share's
        epoch when learnt are: `meta` `pack-epoch\0<pack id hex>`, docs/FORMAT.md section 12)."""
        raw = self.get_meta(PACK_EPOCH + pack_id.hex())
        return int.from_bytes(raw, "big") if raw is not None and len(raw) == 4 else None

    def set_pack_epoch(self, txn: lmdb.Transaction, pack_id: bytes, epoch: int) -> None:
        self.set_meta(txn, PACK_EPOCH + pack_id.hex(), epoch.to_bytes(4, "big"))

    def pack_index(self, pack_id: bytes) -> PackIndex | None:
        with self.read() as txn:
            raw = txn.get(pack_id, db=self.db["packs"])
        return PackIndex(pack_id, raw) if raw is not None else None

    def known_packs(self) -> set[bytes]:
        with self.read() as txn:
            return set(txn.cursor(self.db["packs"]).iternext(True, False))

    def locations(self, object_id: bytes) -> list[tuple[bytes, int, int]]:
        """Every (pack id, offset, length) an object is known at.

        Format 5: each value under the object's `loc_key` names a pack by
        number and an entry of its index, which must hold this very id (the
        key is only 8 bytes of it). A place stored by a format-1 to -4 fog
        (the full id as key: a share not upgraded yet) is read as well.
        """
        out: list[tuple[bytes, int, int]] = []
        with self.env.begin(buffers=True) as txn:  # the pack's index read in place, not copied
            cur = txn.cursor(self.db["locs"])
            if cur.set_key(loc_key(object_id)):
                packs, numbers = self.db["packs"], self.db["packnums"]
                for raw in cur.iternext_dup():
                    number, i = _PLACE.unpack(raw)
                    named = txn.get(_U32.pack(number), db=numbers)
                    pack_id = bytes(named) if named is not None else b""
                    entries = txn.get(pack_id, db=packs) if pack_id else None
                    if entries is None or (i + 1) * _ENTRY.size > len(entries):
                        continue
                    oid, offset, length = _ENTRY.unpack_from(entries, i * _ENTRY.size)
                    if oid == object_id and (pack_id, offset, length) not in out:  # (see replace_pack)
                        out.append((pack_id, offset, length))
            if cur.set_key(object_id):  # a format-1 to -4 place
                out.extend((bytes(raw[:32]), *_LOC.unpack_from(raw, 32)) for raw in cur.iternext_dup())
        return out

    def forget_remote(self, remote: str) -> None:
        """Drop everything known of a remote name: cursors, outboxes, SyncConfig versions seen,
        push marks, prune intents, presence. For a name removed, or pointed at another URL (maybe another
        store): what was learnt of the old one must not be held against the new one."""
        prefix = remote.encode() + b"\0"
        with self.write() as txn:
            for db, start in (
                (self.db["cursors"], prefix),
                (self.db["pending"], remote_key(remote)),
                (self.db["forgets"], remote_key(remote)),
                (self.db["meta"], b"audit\0" + prefix),
                (self.db["meta"], b"prune\0" + prefix),  # what is known of its prune intents (fog.sync.prune)
            ):
                cur = txn.cursor(db)
                if cur.set_range(start):
                    while cur.key().startswith(start):
                        if not cur.delete():
                            break
            meta = self.db["meta"]
            for key in (
                b"config-seen\0" + remote.encode(),
                b"members-seen\0" + remote.encode(),  # (fog.sync.members.load)
                b"config-held\0" + remote.encode(),
                b"push-unfinished\0" + remote.encode(),
                b"remote-instance\0" + remote.encode(),  # (fog.sync.remotes.renew_if_readded)
            ):
                txn.delete(key, db=meta)
        self.forget_present(remote)

    def forget_present(self, remote: str, ids: set[bytes] | None = None) -> None:
        """Drop cached presence (all of a remote's, or some ids) after `check`."""
        rk = remote_key(remote)
        with self.write() as txn:
            keep = self._present(txn, rk) - ids if ids is not None else set()
            cur = txn.cursor(self.db["present"])
            if cur.set_range(rk):
                while cur.key().startswith(rk):
                    if not cur.delete():
                        break
            if keep:
                self._put_run(txn, rk, keep)  # what is left, as one run
