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

import json
import os

import lmdb

from fog.format import record
from fog.format.paths import FS_ENCODING, path_from_json

FOG_DIR = ".fog"
# 3: records written in time order (in `timeline`, `versions` points there) and presence in runs;
# 2: versions as binary records (fog.format.record); 1 held JSON only
REPO_FORMAT = 3
READABLE_FORMATS = (1, 2, 3)  # an older share is read as it is and marked 3 by the next command that locks it
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
)
DUPSORT = frozenset({b"locs"})
MAP_SIZE = 1 << 36


def pathkey(path: str) -> bytes:
    """A path's LMDB key: its bytes, or 0xFF || SHA256 for a path longer than 400 bytes."""
    raw = path.encode(FS_ENCODING, "surrogateescape")  # os.fsencode, without its checks
    if len(raw) <= 400:
        return raw
    import hashlib

    return b"\xff" + hashlib.sha256(raw).digest()


def open_env(path: str) -> lmdb.Environment:
    """The share database's LMDB environment (raises lmdb.Error)."""
    return lmdb.open(path, map_size=MAP_SIZE, max_dbs=len(DB_NAMES), subdir=True, lock=True)


def read_record(txn: lmdb.Transaction, versions: object, timeline: object, version_id: bytes) -> bytes | None:
    """The stored record of a version: in `timeline` when `versions` holds its time (format 3), else in `versions`.

    A record is never 8 bytes long (a binary one has at least 50, JSON more),
    so the length of the `versions` value tells the two layouts apart.
    """
    raw = txn.get(version_id, db=versions)
    if raw is not None and len(raw) == 8:
        return txn.get(raw + version_id, db=timeline)
    return raw


def history_ids(txn: lmdb.Transaction, history: object, path: str) -> list[bytes]:
    """Ids of every version of one path, in key order (history: the `history` sub-database)."""
    pk = pathkey(path)
    out: list[bytes] = []
    cur = txn.cursor(history)
    if cur.set_range(pk):
        for key, vid in cur:
            if not key.startswith(pk):
                break
            if len(key) == len(pk) + 16:  # not a longer path that merely starts with this one
                out.append(vid)
    return out


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
    except (OSError, ValueError, KeyError, TypeError, lmdb.Error):
        return None  # fog.api reads the same files again and says what is wrong


def _quick_log(home: str, cwd: str, arg: str, limit: int | None) -> list[Entry] | None:
    root = find_root(cwd)
    if root is None:
        return None
    with open(os.path.join(root, FOG_DIR, "config.json"), "rb") as f:
        if json.load(f).get("format") not in READABLE_FORMATS:
            return None
    full = os.path.normpath(os.path.join(os.path.abspath(cwd), arg))
    if not full.startswith(root + os.sep):
        return None
    rel = full[len(root) + 1 :].replace(os.sep, "/")
    if rel == FOG_DIR or rel.startswith(FOG_DIR + "/"):
        return None
    with open(os.path.join(home, "identity.json"), "rb") as f:  # what fog.api's Identity.load needs
        identity = json.load(f)
    if not isinstance(identity.get("device"), dict) or not os.path.isfile(os.path.join(home, "master-key")):
        return None
    env = lmdb.open(os.path.join(root, FOG_DIR, "db"), max_dbs=len(DB_NAMES), subdir=True, readonly=True, lock=True)
    try:
        with env.begin() as txn:
            ids = history_ids(txn, env.open_db(b"history", txn=txn, create=False), rel)
            versions = env.open_db(b"versions", txn=txn, create=False)
            timeline = env.open_db(b"timeline", txn=txn, create=False)
            raws = [(vid, read_record(txn, versions, timeline, vid)) for vid in ids]
            records = [Record(vid, raw) for vid, raw in raws if raw is not None]
            head = txn.get(pathkey(rel), db=env.open_db(b"heads", txn=txn, create=False))
    finally:
        env.close()
    if not records or any(r.kind == "dir" for r in records):
        return None  # a directory lists what is below it: fog.api does that
    records.sort(key=lambda r: (r.time_ns, r.id), reverse=True)
    if limit is not None:
        records = records[:limit]
    names = _device_names(home)
    return [Entry(r, names.get(r.device, r.device[:8]), r.id == head) for r in records]


def _device_names(home: str) -> dict[str, str]:
    """Device id -> name from the cached SyncConfig (none cached: no names)."""
    try:
        with open(os.path.join(home, "syncconfig.json"), "rb") as f:
            devices = json.load(f)["devices"]
    except FileNotFoundError:
        return {}
    if not isinstance(devices, dict) or not all(isinstance(d, dict) for d in devices.values()):
        raise ValueError("the cached SyncConfig is malformed")  # fog.api words this
    return {did: str(d.get("name", did[:8])) for did, d in devices.items()}
