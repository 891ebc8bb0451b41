"""Deciding what a pull does to one path: a pure function of versions and state.

Every device must reach the same answer from the same versions, so the rules
depend only on version ids, parents and times:
  * an incoming version that descends from the current head replaces it;
  * one the head already descends from is old news;
  * two concurrent versions (neither descends from the other) are a conflict
    unless they record the same state; the newer by (time, id) keeps the name
    and the other is written beside it as a conflict copy. "Newer" uses the
    effective time (`Ranks`), which no device's slow clock can put before a
    version's ancestors, so every device picks the same winner.
A working file with changes that were never pushed is never overwritten: the
incoming winner goes to a conflict copy instead, and the local edit is pushed
later on top of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fog.format.version import Version

CONFLICT_MARK = ".fog-conflict-"
CONFLICT_RE = re.compile(r"\.fog-conflict-\d{8}-\d{6}-")


def same_state(a: Version, b: Version) -> bool:
    """Whether two versions record the same state (mtime and author aside)."""
    return (a.kind, a.mode, a.content, a.depth, a.size, a.target) == (
        b.kind,
        b.mode,
        b.content,
        b.depth,
        b.size,
        b.target,
    )


NAME_MAX = 255  # bytes in one path component (Linux, macOS, Windows)
_DEVICE_MAX = 40  # characters of the device name kept in a conflict name


def conflict_name(path: str, v: Version, device_name: str, tagged: bool = False) -> str:
    """`NAME.fog-conflict-YYYYMMDD-HHMMSS-DEVICE.EXT`, beside the original.

    `tagged`: `...-DEVICE-ID8.EXT`, with the version id's first 8 hex digits, for a second copy
    whose usual name another copy (of the same device, in the same second) already holds.
    """
    return conflict_name_at(path, v.time_ns, device_name, v.id.hex()[:8] if tagged else "")


def conflict_name_at(path: str, time_ns: int, device_name: str, tag: str = "") -> str:
    """The conflict name of `path` for a version made at `time_ns` by `device_name`.

    The name fits NAME_MAX bytes: a long stem is cut (by bytes, never inside
    a UTF-8 character), the mark and the extension are kept. It depends on
    its arguments alone, so every device computes the same name.
    """
    head, _, base = path.rpartition("/")
    stamp = datetime.fromtimestamp(time_ns / 1e9, tz=UTC).strftime("%Y%m%d-%H%M%S")
    device = (re.sub(r"[^A-Za-z0-9_-]+", "_", device_name) or "device")[:_DEVICE_MAX]
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem or len(_utf8(ext)) > NAME_MAX // 2:  # no extension, a dotfile, or no sane one
        stem, ext = base, ""
    suffix = f"{CONFLICT_MARK}{stamp}-{device}" + (f"-{tag}" if tag else "") + (f".{ext}" if ext else "")
    name = _cut(stem, NAME_MAX - len(_utf8(suffix))) + suffix
    return f"{head}/{name}" if head else name


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")  # paths hold the file system's bytes (os.fsdecode)


def _cut(s: str, limit: int) -> str:
    """`s` cut to at most `limit` bytes, never inside a UTF-8 character."""
    raw = _utf8(s)
    if len(raw) <= limit:
        return s
    raw = raw[: max(limit, 1)]
    for drop in range(4):  # a character is at most 4 bytes
        try:
            return raw[: len(raw) - drop].decode("utf-8") or "_"
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "surrogateescape")  # not UTF-8 to begin with: bytes stay bytes


def conflict_version(loser: Version, name: str) -> Version:
    """The version recording `loser` written as the conflict copy `name` (not yet sealed).

    Every field comes from the losing version, none from the device writing
    the copy: a new path (no parent), the loser's state, author and time. So
    every device that writes the same copy records the same version id; the
    history holds it once, and a deletion or edit of the copy made anywhere
    descends from it and fast-forwards every other device.
    """
    return Version(
        name,
        loser.kind,
        loser.size,
        loser.mode,
        loser.mtime_ns,
        loser.time_ns,
        loser.device,
        parent=None,
        content=loser.content,
        depth=loser.depth,
        target=loser.target,
        conflict=True,
    )


@dataclass
class Plan:
    """What to do with one path."""

    path: str
    head: Version | None  # the new head after this pull
    write: Version | None = None  # materialize in place (file, link, dir or deletion)
    conflicts: list[Version] = field(default_factory=list)  # write beside the file
    kept_local: bool = False  # a local unpushed change stays; the incoming was set aside
    adopt_local: bool = False  # the local file already equals the head: just record it
    move_aside: bool = False  # a local unsynced file or link gives way to an incoming directory


def plan_path(
    path: str,
    head: Version | None,
    incoming: list[Version],
    lookup: Callable[[bytes], Version | None],
    local_dirty: bool,
    local_matches: Callable[[Version], bool],
    local_kind: str | None = None,
) -> Plan:
    """Fold incoming versions into the head and decide the working-tree action.

    `lookup(id)`: a version this device knows (history or incoming), or None.
    `local_dirty`: the working file differs from what fog last recorded for it.
    `local_matches(v)`: the working file already holds v's state.
    `local_kind`: what stands at the path here (file, dir, link, special), None if nothing.
    A directory wins the name over a file or link changed here: the local
    entry moves aside to a conflict name (`move_aside`) and is pushed later.
    """
    if head is None and len(incoming) == 1 and not local_dirty:
        # a path new here, one version of it (all of a clone): the general case below ends the same
        # way without ranking anything (tests/unit/test_merge.py compares the two)
        return Plan(path, incoming[0], write=incoming[0])
    return _plan_general(path, head, incoming, lookup, local_dirty, local_matches, local_kind)


def _plan_general(
    path: str,
    head: Version | None,
    incoming: list[Version],
    lookup: Callable[[bytes], Version | None],
    local_dirty: bool,
    local_matches: Callable[[Version], bool],
    local_kind: str | None = None,
) -> Plan:
    rank = Ranks(lookup)
    candidates: dict[bytes, Version] = {}
    for v in ([head] if head is not None else []) + incoming:
        candidates.setdefault(v.id, v)
    if not candidates:
        return Plan(path, None)
    superseded = _ancestor_ids(candidates.values(), lookup)
    tips = sorted((v for v in candidates.values() if v.id not in superseded), key=rank.key, reverse=True)
    # The top-ranked version is a tip of everything this device knows, and the
    # same one on every device that knows the same versions (see Ranks).
    cur = max(candidates.values(), key=rank.key)
    losers: list[Version] = []
    for v in tips:
        if v.id != cur.id and not any(same_state(v, w) for w in (cur, *losers)):
            losers.append(v)
    plan = Plan(path, cur)
    if head is not None and cur.id == head.id and not losers:
        return plan
    conflicts = [v for v in losers if v.kind in ("file", "link")]
    if local_dirty and cur.kind == "dir" and local_kind not in (None, "dir"):
        plan.write, plan.move_aside, plan.conflicts = cur, True, conflicts
        return plan
    if local_dirty:
        if local_matches(cur):
            plan.adopt_local = True
        else:
            plan.kept_local = True
            if cur.kind in ("file", "link"):
                conflicts.append(cur)
        plan.conflicts = [v for v in conflicts if not local_matches(v)]
        return plan
    if head is None or cur.id != head.id:
        plan.write = cur
    plan.conflicts = conflicts
    return plan


class Ranks:
    """Orders versions for picking a winner: (effective time, id), newest last.

    The effective time is the version's own time, raised to one past its
    parent's effective time when the author's clock was behind. So a version
    always outranks its ancestors, the top-ranked known version is never one
    that another known version replaced, and folding versions in any order
    or any number of pulls ends at the same head on every device.
    """

    def __init__(self, lookup: Callable[[bytes], Version | None]) -> None:
        self.lookup = lookup
        self.memo: dict[bytes, int] = {}

    def key(self, v: Version) -> tuple[int, bytes]:
        return self.effective_time(v), v.id

    def effective_time(self, v: Version) -> int:
        chain: list[Version] = []
        seen: set[bytes] = set()
        cur: Version | None = v
        while cur is not None and cur.id not in self.memo and cur.id not in seen:
            seen.add(cur.id)
            chain.append(cur)
            cur = self.lookup(cur.parent) if cur.parent else None
        below = self.memo.get(cur.id) if cur is not None else None
        for x in reversed(chain):
            below = x.time_ns if below is None else max(x.time_ns, below + 1)
            self.memo[x.id] = below
        return self.memo[v.id]


def _ancestor_ids(versions: Iterable[Version], lookup: Callable[[bytes], Version | None]) -> set[bytes]:
    """Ids of every known proper ancestor of the given versions."""
    out: set[bytes] = set()
    for v in versions:
        parent = v.parent
        while parent is not None and parent not in out:
            out.add(parent)
            found = lookup(parent)
            parent = found.parent if found is not None else None
    return out
