"""A path's history read straight from the share database, importing only lmdb and json.

`fog log FILE` is what a user types to find a version to restore, and it must
answer in well under 0.1 s even with a million versions in the history
(issue 5). Importing fog.api (dataclasses, pathlib, PyNaCl...) alone takes
longer than that, so this module holds the pieces of the share layout that
need nothing else: the directory and database names, the LMDB key of a path,
and a reader for one path's versions. fog.repo.share and fog.repo.db build on
them, so there is one definition of each.

`quick_log` handles the common case only (a file or link with history, at
most `limit` entries) and returns None for anything else: a directory, a path
with no history, a missing identity, anything unexpected. The caller then
goes through fog.api, which words every error.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import lmdb

from fog.format import record
from fog.format.paths import FS_ENCODING, path_from_json

FOG_DIR = ".fog"
# 5: `locs` keyed by 8 bytes of the object id, valued by a pack number and the object's entry in that pack's index;
#    `versions` indexes a record by `id[:8] · time_ns` (empty value) instead of id -> time_ns; `history` values
#    are empty (the id is found in `timeline` from the key's time_ns and id[:8]);
# 4: a stat entry's value holds the path only when its key is hashed (over PATHKEY_MAX bytes);
# 3: records written in time order (in `timeline`, `versions` points there) and presence in runs;
# 2: versions as binary records (fog.format.record); 1 held JSON only
REPO_FORMAT = 5
READABLE_FORMATS = (1, 2, 3, 4, 5)  # an older share is read as it is and marked 5 by the next command that locks it
DB_NAMES = (
    b"stat",
    b"versions",
    b"history",
    b"heads",
    b"timeline",
    b"cursors",
    b"present",
    b"pending",
    b"meta",
    b"packs",
    b"locs",
    b"forgotten",
    b"forgets",
    b"batches",
    b"packnums",
)
DUPSORT = frozenset({b"locs"})
MAP_SIZE = 1 << 36
PATHKEY_MAX = 400  # a longer path is keyed by 0xFF || SHA256 (LMDB keys are at most 511 bytes)
SEALED_PREFIX = b"fog-sealed "  # fog.format.sealed.PREFIX, without importing it (dataclasses; see quick_log)


def pathkey(path: str) -> bytes:
    """A path's LMDB key: its bytes, or 0xFF || SHA256 for a path longer than 400 bytes."""
    raw = path.encode(FS_ENCODING, "surrogateescape")  # os.fsencode, without its checks
    if len(raw) <= PATHKEY_MAX:
        return raw
    import hashlib

    return b"\xff" + hashlib.sha256(raw).digest()


def open_env(path: str, *, readonly: bool = False) -> lmdb.Environment:
    """The share database's LMDB environment (raises lmdb.Error, or DamagedDB before mapping a damaged file).

    A new database directory is made 0700 and its files 0600: they hold every path name and its history.
    `readonly`: for a reader that cannot write `data.mdb` (LMDB still needs `lock.mdb`, for its reader table).
    """
    damage = check_data_file(path)
    if damage is not None:
        raise DamagedDB(os.path.join(path, DATA_FILE), damage)
    if not os.path.isdir(path):
        os.mkdir(path, 0o700)
    if readonly:
        return lmdb.open(path, max_dbs=len(DB_NAMES), subdir=True, readonly=True, lock=True)
    return lmdb.open(path, map_size=MAP_SIZE, max_dbs=len(DB_NAMES), subdir=True, lock=True, mode=0o600)


def not_writable(path: str) -> str | None:
    """Which of the database directory `path`, its data file and its lock file exists and is not writable by this
    user (one `sudo fog sync` in the share leaves them root's), or None."""
    for p in (path, os.path.join(path, DATA_FILE), os.path.join(path, "lock.mdb")):
        if os.path.exists(p) and not os.access(p, os.W_OK | (os.X_OK if p == path else 0), effective_ids=True):
            return p
    return None


@contextmanager
def swap_lock(path: str | os.PathLike[str], *, exclusive: bool) -> Iterator[None]:
    """flock(2) on the database directory: a repack swaps `data.mdb` and `lock.mdb` under it exclusively, and a
    reader without the share lock opens the environment under it shared. A reader that opened between the
    unlink of `lock.mdb` and the rename would otherwise share the new lock table with the old file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:  # nothing to swap yet: LMDB makes the directory, or says what is wrong
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # drops the lock


DATA_FILE = "data.mdb"
# LMDB's MDB_meta (mdb.c), after the 16-byte page header of a 64-bit build, in native byte order:
# mm_magic u32, mm_version u32, mm_address ptr, mm_mapsize size_t, mm_dbs[2] (FREE, MAIN: MDB_db,
# 48 bytes each, md_root last; the first one's md_pad u32 is the page size), mm_last_pg, mm_txnid
_META_MAGIC = 0xBEEFC0DE
_PAGE_HEADER = 16  # mp_pgno u64, mp_pad u16, mp_flags u16, mp_lower u16, mp_upper u16
_META_PSIZE = 40  # u32: page size (mm_dbs[FREE_DBI].md_pad)
_META_ROOTS = (80, 128)  # md_root of the free and the main database
_META_TAIL = 136  # last_pg u64, txnid u64
_META_END = 152
_P_LEAF, _F_SUBDATA, _DB_SIZE = 0x02, 0x02, 48


class DamagedDB(ValueError):
    """`data.mdb` does not hold what its own meta pages say: mapping it would crash (SIGBUS)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} is damaged ({reason})")
        self.path, self.reason = path, reason


def check_data_file(path: str) -> str | None:
    """What is wrong with the LMDB data file in directory `path`, or None when it may be mapped.

    LMDB maps the file and reads its pages through the map: a page past the
    end of a truncated file kills the process with SIGBUS, before any Python
    code can say a word. Checked, from two small reads (the meta pages, then
    the main database's root page): the newer meta page (by txnid, the one
    LMDB opens) is intact, the file is a whole number of pages, and the root
    of the free list, of the main database and of every named database lie
    inside it. A page LMDB can reach was written, so these never fail on a
    sound file. The meta's last page in use is not a bound: pages allocated
    and freed within one transaction are counted there but never written.
    A missing or empty file is fine: LMDB makes it.
    """
    try:
        fd = os.open(os.path.join(path, DATA_FILE), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file: a directory, or another kind of file, has its name"
        size = st.st_size
        if size == 0:
            return None
        head = os.pread(fd, 8192, 0)
        first = _meta(head, 0)
        if isinstance(first, str):
            return first
        at = first[0]  # meta page 1 starts one page in
        second = _meta(head[at : at + _META_END] if at + _META_END <= len(head) else os.pread(fd, _META_END, at), 1)
        if isinstance(second, str):
            return second
        psize, roots, _ = max((first, second), key=lambda m: m[2])
        pages = size // psize
        if size % psize:
            return f"truncated: {size} bytes, not a whole number of {psize}-byte pages"
        main = roots[1]
        if main < pages:
            roots += _named_roots(os.pread(fd, psize, main * psize))
    finally:
        os.close(fd)
    beyond = [r for r in roots if r != _NO_PAGE and r >= pages]
    if beyond:
        end = (max(beyond) + 1) * psize
        return f"truncated: {size} bytes, but page {max(beyond)} is in use (it ends at byte {end})"
    return None


_NO_PAGE = (1 << 64) - 1  # P_INVALID: an empty database has no root


def _meta(buf: bytes, n: int) -> tuple[int, tuple[int, ...], int] | str:
    """(page size, (free root, main root), txnid) of meta page `n` at the start of `buf`, or what is wrong."""
    import struct

    if len(buf) < _META_END:
        return f"truncated: meta page {n} is incomplete"
    (magic,) = struct.unpack_from("=I", buf, _PAGE_HEADER)
    if magic != _META_MAGIC:
        return f"meta page {n} is not an LMDB meta page"
    (psize,) = struct.unpack_from("=I", buf, _META_PSIZE)
    if psize < 512 or psize > 1 << 20 or psize & (psize - 1):
        return f"meta page {n} gives a page size of {psize}"
    roots = tuple(struct.unpack_from("=Q", buf, off)[0] for off in _META_ROOTS)
    _last_pg, txnid = struct.unpack_from("=QQ", buf, _META_TAIL)
    return psize, roots, txnid


def _named_roots(page: bytes) -> tuple[int, ...]:
    """Root pages of the named databases recorded in the main database's root page (a leaf: the
    share has a dozen of them). Anything else (a branch page, an odd layout) gives none: no guess."""
    import struct

    if len(page) < _PAGE_HEADER:
        return ()
    flags, lower = struct.unpack_from("=HH", page, 10)
    if not flags & _P_LEAF:
        return ()
    out = []
    for i in range(max(0, (lower - _PAGE_HEADER) // 2)):
        (off,) = struct.unpack_from("=H", page, _PAGE_HEADER + 2 * i)
        if off + 8 > len(page):
            return ()
        lo, hi, nflags, ksize = struct.unpack_from("=HHHH", page, off)
        data = off + 8 + ksize
        if nflags & _F_SUBDATA and lo | hi << 16 == _DB_SIZE and data + _DB_SIZE <= len(page):
            out.append(struct.unpack_from("=Q", page, data + 40)[0])
    return tuple(out)


VERSION_KEY_BYTES = 8  # of a version id, in its `versions` key (a test lowers it to make ids collide)


def version_key(version_id: bytes) -> bytes:
    """The first part of a version's `versions` key (format 5): its id's first 8 bytes, followed there by its
    time_ns. Versions whose ids share them are told apart by their `timeline` keys (`time_ns · id`)."""
    return version_id[:VERSION_KEY_BYTES]


# Called as check(table, lo, hi) before a cursor of named database `table` is placed at `lo` and walks the keys
# below `hi` (None: no bound): raises when a page that walk reads is damaged (fog.repo.dbpages.Snapshot; a
# damaged leaf a cursor steps to aborts the process inside LMDB). None: no check (a caller that checked the
# whole table already).
Check = Callable[[bytes, bytes, "bytes | None"], None]


def after_prefix(prefix: bytes) -> bytes | None:
    """The smallest key above every key that starts with `prefix` (None: there is none)."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else None


def indexed_record(
    txn: lmdb.Transaction, versions: object, timeline: object, version_id: bytes, check: Check | None = None
) -> tuple[bytes, bytes] | None:
    """(time_ns as 8 bytes, record) of a version through its format-5 `versions` entry `version_key(id) ·
    time_ns`, kept only when `timeline` holds `time_ns · id` (the full id); None when there is none."""
    prefix = version_key(version_id)
    if check is not None:
        check(b"versions", prefix, after_prefix(prefix))
    cur = txn.cursor(versions)
    if cur.set_range(prefix):
        at, end = len(prefix), len(prefix) + 8
        for key in cur.iternext(True, False):
            if not key.startswith(prefix):
                break
            if len(key) == end:
                raw = txn.get(key[at:] + version_id, db=timeline)
                if raw is not None:
                    return key[at:], raw
    return None


def read_record(
    txn: lmdb.Transaction, versions: object, timeline: object, version_id: bytes, check: Check | None = None
) -> bytes | None:
    """The stored record of a version: in `timeline` under the time its `versions` entry gives, else (formats 1
    and 2) in `versions`.

    Format 5 keys the entry `version_key(id) · time_ns` (16 bytes, empty value); formats 3 and 4 keyed it by
    the id (32 bytes) with the time as value. A record is never 8 bytes long (a binary one has at least 50,
    JSON more), so the length of such a value tells the two older layouts apart.
    """
    found = indexed_record(txn, versions, timeline, version_id, check)
    if found is not None:
        return found[1]
    raw = txn.get(version_id, db=versions)
    if raw is not None and len(raw) == 8:
        return txn.get(raw + version_id, db=timeline)
    return raw


HISTORY_ID_BYTES = 8  # of a version id, in its `history` key (a test lowers it to make ids collide)


def history_tag(version_id: bytes) -> bytes:
    """The last 8 bytes of a version's `history` key: the first bytes of its id (zeros after HISTORY_ID_BYTES)."""
    n = HISTORY_ID_BYTES
    return version_id[:n] + bytes(8 - n)


def history_id(
    txn: lmdb.Transaction, versions: object, timeline: object, key: bytes, value: bytes, check: Check | None = None
) -> bytes | None:
    """The id of the version a `history` entry names: its value (formats 1 to 4), else (format 5, an empty value)
    the version in `timeline` under the key's time_ns whose id starts with the key's last 8 bytes; of several
    such (ids that share them), the one whose record's path has the key's pathkey."""
    if value:
        return value
    seek = key[-16:-8] + key[-8:][:HISTORY_ID_BYTES]
    found: list[bytes] = []
    if check is not None:
        check(b"timeline", seek, after_prefix(seek))
    cur = txn.cursor(timeline)
    if cur.set_range(seek):
        for k in cur.iternext(True, False):
            if not k.startswith(seek):
                break
            found.append(k[8:])
    if len(found) == 1:
        return found[0]
    pk = key[:-16]
    for vid in found:
        raw = read_record(txn, versions, timeline, vid, check)
        if raw is not None and pathkey(Record(vid, raw).path) == pk:
            return vid
    return None


def history_ids(
    txn: lmdb.Transaction,
    history: object,
    versions: object,
    timeline: object,
    path: str,
    check: Check | None = None,
) -> list[bytes]:
    """Ids of every version of one path, in key order (the `history`, `versions` and `timeline` sub-databases)."""
    pk = pathkey(path)
    out: list[bytes] = []
    if check is not None:
        check(b"history", pk, after_prefix(pk))
    cur = txn.cursor(history)
    if cur.set_range(pk):
        for key, value in cur:
            if not key.startswith(pk):
                break
            if len(key) == len(pk) + 16:  # not a longer path that merely starts with this one
                vid = history_id(txn, versions, timeline, key, value, check)
                if vid is not None:
                    out.append(vid)
    return out


TYPE_CHECKING = False  # (no `typing` at run time: the fast path imports this module)
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    class _Linked(Protocol):
        id: bytes
        parent: bytes | None
        time_ns: int

    _V = TypeVar("_V", bound=_Linked)


def newest_first(versions: list[_V], head: bytes | None = None) -> list[_V]:
    """One path's versions, newest first, in the merge's order: the first is the head a pull picks.

    A version's time is the clock of the device that made it: a device whose clock runs behind (a
    dual-boot RTC, a Raspberry Pi before NTP, a suspended VM) makes a version older by the clock than
    its own parent. Ordering by time alone then put the parent first, and "the newest" (no REV, `~0`)
    named the version the edit replaced: `fog restore PATH` silently reverted it. Here versions are
    ordered as fog.sync.merge.Ranks ranks them (newest first): by effective time, a version's own time
    raised to 1 ns past its parent's effective time when it is not later, and at equal effective times
    the larger id first. So a version always comes before the one it was made from, and of two edits of
    a version dated in the future (both then 1 ns past it), the one the merge kept at the path (the
    larger id) comes first, not the later by the clock, which the merge wrote to a conflict copy.
    A parent that is not in the list (forgotten) is one the merge does not know either: then an edit
    made from it on a device whose clock ran behind falls back to its own (earlier) time, and would sort
    below older versions it replaced. `head` (the path's entry in `heads`, the version the merge put at
    the path) is first whatever the times: the forget of a middle version must not make `fog log`, `cat`
    and `restore PATH` name an older one as the newest (review 7 history H4).
    """
    by_id = {v.id: v for v in versions}
    effective: dict[bytes, int] = {}
    for v in versions:  # (Ranks.effective_time, with the list as what is known)
        chain: list[_V] = []
        seen: set[bytes] = set()
        cur: _V | None = v
        while cur is not None and cur.id not in effective and cur.id not in seen:
            seen.add(cur.id)
            chain.append(cur)
            cur = by_id.get(cur.parent) if cur.parent else None
        below = effective.get(cur.id) if cur is not None else None
        for x in reversed(chain):
            below = x.time_ns if below is None else max(x.time_ns, below + 1)
            effective[x.id] = below
    order = sorted(versions, key=lambda v: (effective[v.id], v.id), reverse=True)
    if head is not None and order and order[0].id != head:
        at = next((i for i, v in enumerate(order) if v.id == head), None)
        if at is not None and not any(_made_from(v, head, by_id) for v in order[:at]):
            order.insert(0, order.pop(at))  # (a version made from the head, not applied here, stays above it)
    return order


def _made_from(v: _V, ancestor: bytes, by_id: dict[bytes, _V]) -> bool:
    """Whether `v` was made, through its known parents, from the version `ancestor`."""
    seen: set[bytes] = set()
    cur: _V | None = v
    while cur is not None and cur.parent and cur.parent not in seen:
        if cur.parent == ancestor:
            return True
        seen.add(cur.parent)
        cur = by_id.get(cur.parent)
    return False


class Record:
    """The fields of a version record that `fog log` shows (a light fog.format.version.Version)."""

    __slots__ = ("id", "path", "kind", "size", "mode", "mtime_ns", "time_ns", "device", "conflict", "parent")

    def __init__(self, version_id: bytes, raw: bytes) -> None:
        """Decode the record stored under `version_id`: binary, or JSON (fog.format.record)."""
        self.id = version_id
        if raw[:1] != b"{":
            fields = record.decode(raw)
            self.path, self.kind, self.size, self.mode, self.mtime_ns, self.time_ns, self.device = fields[:7]
            self.parent, self.conflict = fields[7], fields[11]
            return
        doc = json.loads(raw)
        self.path = path_from_json(doc)
        self.kind = str(doc["kind"])
        self.size = int(doc["size"])  # type: ignore[call-overload]
        self.mode = int(doc["mode"])  # type: ignore[call-overload]
        self.mtime_ns = int(doc["mtime_ns"])  # type: ignore[call-overload]
        self.time_ns = int(doc["time_ns"])  # type: ignore[call-overload]
        self.device = str(doc["device"])
        self.conflict = bool(doc.get("conflict", False))
        parent = doc.get("parent")
        self.parent = bytes.fromhex(str(parent)) if parent else None

    @property
    def deleted(self) -> bool:
        return self.kind == "deleted"


class Entry:
    """One line of `fog log` (the shape of fog.api.LogEntry)."""

    __slots__ = ("version", "device_name", "current")

    def __init__(self, version: Record, device_name: str, current: bool) -> None:
        self.version, self.device_name, self.current = version, device_name, current


def find_root(start: str) -> str | None:
    """The directory holding `.fog/config.json`, walking up from `start` (None: not in a share).

    Like pathlib's `parents`, and unlike os.path.abspath, `..` is not folded away.
    """
    here = start if os.path.isabs(start) else os.path.join(os.getcwd(), start)
    while True:
        if os.path.isfile(os.path.join(here, FOG_DIR, "config.json")):
            return here
        up = os.path.dirname(here)
        if up == here:
            return None
        here = up


def quick_log(home: str, cwd: str, arg: str, limit: int | None) -> list[Entry] | None:
    """`fog log ARG [-n LIMIT]` for a file or link with history, newest first; None: ask fog.api."""
    try:
        return _quick_log(home, cwd, arg, limit)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, lmdb.Error):
        return None  # fog.api reads the same files again and says what is wrong


def _quick_log(home: str, cwd: str, arg: str, limit: int | None) -> list[Entry] | None:
    root = find_root(cwd)
    if root is None:
        return None
    with open(os.path.join(root, FOG_DIR, "config.json"), "rb") as f:
        config = json.load(f)
    if not isinstance(config, dict) or config.get("format") not in READABLE_FORMATS:
        return None  # (`[]`: fog.api words it; .get on it was an AttributeError, an internal error)
    full = os.path.normpath(os.path.join(os.path.abspath(cwd), arg))
    if not full.startswith(root + os.sep):  # through a symlinked directory? as fog.api.share_path reads it
        head, name = os.path.split(full)
        full, root = os.path.join(os.path.realpath(head), name), os.path.realpath(root)
        if not full.startswith(root.rstrip(os.sep) + os.sep):
            return None
    rel = full[len(root.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
    if rel == FOG_DIR or rel.startswith(FOG_DIR + "/"):
        return None
    raw = _home_file(os.path.join(home, "identity.json"), 1 << 20)  # what fog.api's Identity.load needs
    if raw.startswith(SEALED_PREFIX):
        return None  # a protected FOG_HOME: fog.api asks for the passphrase
    identity = json.loads(raw)
    if (
        not isinstance(identity, dict)
        or not isinstance(identity.get("device"), dict)
        or not os.path.isfile(os.path.join(home, "master-key"))
    ):
        return None
    db_dir = os.path.join(root, FOG_DIR, "db")
    if check_data_file(db_dir) is not None:
        return None  # fog.api opens it again and words what is wrong (mapping it here would be SIGBUS)
    with swap_lock(db_dir, exclusive=False):  # not between a repack's unlink of lock.mdb and its rename
        env = lmdb.open(db_dir, max_dbs=len(DB_NAMES), subdir=True, readonly=True, lock=True)
    try:
        with env.begin() as txn:
            from fog.repo.dbpages import Snapshot

            pages = Snapshot(db_dir, txn.id())
            try:
                check = _checker(pages)
                versions = env.open_db(b"versions", txn=txn, create=False)
                timeline = env.open_db(b"timeline", txn=txn, create=False)
                history = env.open_db(b"history", txn=txn, create=False)
                ids = history_ids(txn, history, versions, timeline, rel, check)
                raws = [(vid, read_record(txn, versions, timeline, vid, check)) for vid in ids]
                records = [Record(vid, raw) for vid, raw in raws if raw is not None]
                head = txn.get(pathkey(rel), db=env.open_db(b"heads", txn=txn, create=False))
            finally:
                pages.close()
    finally:
        env.close()
    if not records or any(r.kind == "dir" for r in records):
        return None  # a directory lists what is below it: fog.api does that
    records = newest_first(records, head)
    if limit is not None:
        records = records[:limit]
    names = _device_names(home)
    if names is None:
        return None  # sealed: fog.api opens it
    if any(r.device not in names for r in records):
        return None  # another user's device (a shared share): fog.api knows the members' names
    return [Entry(r, names[r.device], r.id == head) for r in records]


def _home_file(path: str, limit: int) -> bytes:
    """A FOG_HOME file's bytes, as fog.repo.vault.read_home_file reads them (a FIFO, a link, a file over
    `limit` bytes: an OSError or ValueError, and fog.api says what is wrong)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise ValueError(f"{path} is too big")
    return raw


def _checker(pages: object) -> Check:
    """check(table, lo, hi) over a fog.repo.dbpages.Snapshot, raising DamagedDB (fog.api words it)."""

    def check(table: bytes, lo: bytes, hi: bytes | None) -> None:
        damage = pages.span_damage(table, lo, hi)  # type: ignore[attr-defined]
        if damage is not None:
            raise DamagedDB(DATA_FILE, f"its {table.decode()} table: {damage}")

    return check


def _device_names(home: str) -> dict[str, str] | None:
    """Device id -> name from the cached SyncConfig (none cached: no names; sealed: None, for fog.api)."""
    try:
        raw = _home_file(os.path.join(home, "syncconfig.json"), 160 << 20)
    except FileNotFoundError:
        return {}
    if raw.startswith(SEALED_PREFIX):
        return None
    devices = json.loads(raw)["devices"]
    if not isinstance(devices, dict) or not all(isinstance(d, dict) for d in devices.values()):
        raise ValueError("the cached SyncConfig is malformed")  # fog.api words this
    return {did: str(d.get("name", did[:8])) for did, d in devices.items()}
