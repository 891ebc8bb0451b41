"""Deciding what a pull does to one path: a pure function of versions and state.

Every device must reach the same answer from the same versions, so the rules
depend only on version ids, parents and times:
  * an incoming version that descends from the current head replaces it;
  * one the head already descends from is old news;
  * two concurrent versions (neither descends from the other) are a conflict
    unless they record the same state; the newer by (time, id) keeps the name
    and the other is written beside it as a conflict copy.
A working file with changes that were never pushed is never overwritten: the
incoming winner goes to a conflict copy instead, and the local edit is pushed
later on top of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


def conflict_name(path: str, v: Version, device_name: str) -> str:
    """`NAME.fog-conflict-YYYYMMDD-HHMMSS-DEVICE.EXT`, beside the original."""
    head, _, base = path.rpartition("/")
    stamp = datetime.fromtimestamp(v.time_ns / 1e9, tz=UTC).strftime("%Y%m%d-%H%M%S")
    device = re.sub(r"[^A-Za-z0-9_-]+", "_", device_name) or "device"
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:  # no extension, or a dotfile like .bashrc
        stem, ext = base, ""
    name = f"{stem}{CONFLICT_MARK}{stamp}-{device}" + (f".{ext}" if ext else "")
    return f"{head}/{name}" if head else name


@dataclass
class Plan:
    """What to do with one path."""

    path: str
    head: Version | None  # the new head after this pull
    write: Version | None = None  # materialize in place (file, link, dir or deletion)
    conflicts: list[Version] = field(default_factory=list)  # write beside the file
    kept_local: bool = False  # a local unpushed change stays; the incoming was set aside
    adopt_local: bool = False  # the local file already equals the head: just record it


def plan_path(
    path: str,
    head: Version | None,
    incoming: list[Version],
    is_ancestor: Callable[[bytes, Version], bool],
    local_dirty: bool,
    local_matches: Callable[[Version], bool],
) -> Plan:
    """Fold incoming versions into the head and decide the working-tree action.

    `is_ancestor(a, v)`: version id a is v or one of v's ancestors.
    `local_dirty`: the working file differs from what fog last recorded for it.
    `local_matches(v)`: the working file already holds v's state.
    """
    cur = head
    losers: list[Version] = []
    for v in sorted(incoming, key=lambda v: (v.time_ns, v.id)):
        if cur is None or is_ancestor(cur.id, v):
            cur = v
        elif is_ancestor(v.id, cur):
            continue
        elif same_state(cur, v):
            cur = max(cur, v, key=lambda x: (x.time_ns, x.id))
        else:
            winner, loser = (v, cur) if (v.time_ns, v.id) > (cur.time_ns, cur.id) else (cur, v)
            cur = winner
            losers.append(loser)
    plan = Plan(path, cur)
    if cur is None or (head is not None and cur.id == head.id and not losers):
        return plan
    conflicts = [v for v in losers if v.kind in ("file", "link")]
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
    plan.conflicts = [v for v in conflicts if head is None or v.id != cur.id]
    return plan
