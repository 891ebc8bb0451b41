"""Which versions a retention policy keeps: a pure decision over each path's history.

No I/O and no clock: the caller passes every version of a path, its head and
`now_ns`, and gets one Decision per version, saying whether it is kept and
why. `fog forget` and `fog prune` act on the decisions; this module never
forgets anything itself. The policy and its encoding are fog.format.policy
(re-exported here).

The rules, for one path (these sentences are the specification; the unit
tests in tests/unit/test_retention.py pin them):

1. The current version of a live path (its `head`, when the head's kind is
   not "deleted") is ALWAYS kept, reason "current", whatever the rules.
2. A path whose head is a deletion: if keep-deleted is set and the deletion
   is more than keep-deleted before now, EVERY version of the path is
   forgotten, the deletion included ("deleted 120 days ago (keep-deleted
   90d)"). Otherwise the deletion is kept ("deleted, kept until <UTC time>",
   or "deleted, kept (no keep-deleted)" when the rule is not set) and the
   older versions follow the rules below. The deletion's time for this rule
   is the latest of its own time, the time of every version of the path (a
   deletion is never older than what it deletes, whatever the deleting
   device's clock said) and when this device recorded it (`recorded_ns`,
   0 when unknown): a deletion made on a device whose clock is behind is
   kept for keep-deleted after it reached this one.
3. If no rule that keeps versions is set (keep-last, keep-within and the
   five calendar rules all None), every version is kept, reason "no rule
   set": a policy never forgets by omission. keep-deleted alone keeps every
   version of a live path, and only ever forgets whole deleted paths (2).
4. Otherwise the versions that are not deletions are walked newest first:
   by time_ns, and at equal times the larger id counts as newer, except that a
   version never comes before the one it was made from (its parent): after
   a clock stepped back, a version dated in the future is not "the newest"
   (fog.repo.history.newest_first, the order of `fog log` and `~N`, which is
   the merge's: a version's time counts as 1 ns past its parent's when it is
   not later, so the first is the head a pull picks).
   - keep-last N keeps the N newest ("last N").
   - keep-within D keeps every version whose time is at most D seconds
     before now; a version from the future counts as now ("within 30d").
   - keep-hourly/daily/weekly/monthly/yearly N, restic's bucket rule: a
     version is kept when its bucket (the UTC calendar hour, day, ISO week,
     month or year of its time) differs from the bucket of the last version
     that rule kept, while the rule has count left; so each rule keeps the
     newest version of each of its N most recent buckets that have one
     ("hourly 2026-12-01 14:00", "daily 2026-12-01", "weekly 2026-W48",
     "monthly 2026-12", "yearly 2026").
   The current version takes part in the walk: it is one of the last N and
   fills its buckets. A version kept by any rule is kept, and every reason
   that keeps it is listed (in the order current, last, within, hourly,
   daily, weekly, monthly, yearly).
5. A deletion that is not the head (the path was deleted, then made again)
   counts for no rule; it is kept when an older version of the path is kept
   ("deletion after a kept version"), so the kept history still shows the gap.
6. Anything not kept by the above is forgotten: "no rule keeps it".

`plan` applies `Policy.for_path` to each path, then the share-wide
`max_old_bytes` cap: the sizes of the kept versions that are not the current
version of a live path are summed, and while the sum is over the cap the
oldest of them (time_ns, then id) is forgotten, reason "over max-old-size".
A version whose size is 0 (a deletion) frees nothing and is left alone.
Current versions are never touched, whatever the cap.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date

from fog.format.policy import (  # noqa: F401  -- re-exported: fog.sync.retention is the API
    DEFAULT_POLICY,
    RULE_NAMES,
    Policy,
    Rules,
    format_duration,
    matches,
    share_policy,
)
from fog.repo.history import newest_first

NS = 1_000_000_000
DAY_NS = 86400 * NS


@dataclass(frozen=True, slots=True)
class Candidate:
    """One version of one path: what the policy needs of it."""

    id: bytes
    time_ns: int
    kind: str  # "file" | "dir" | "link" | "deleted"
    size: int
    recorded_ns: int = 0  # when this device recorded it (a deletion: RepoDB.deletion_recorded), 0 if unknown
    parent: bytes | None = None  # the version it was made from (the order of rule 4)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy does with one version, and why (every reason that keeps it, or the one that forgets it)."""

    id: bytes
    path: str
    time_ns: int
    size: int
    keep: bool
    reasons: tuple[str, ...]


NO_RULE = "no rule keeps it"
NO_RULE_SET = "no rule set"
OVER_CAP = "over max-old-size"

_EPOCH_DAY = date(1970, 1, 1).toordinal()


def _civil(days: int) -> date:
    return date.fromordinal(_EPOCH_DAY + days)


# The calendar rules, in the order their reasons are listed: (field, label, bucket of a time in UTC
# seconds). A bucket is an integer, named only when a version is kept (strftime for every version
# was most of the time).
_BUCKETS: tuple[tuple[str, str, Callable[[int], int]], ...] = (
    ("keep_hourly", "hourly", lambda s: s // 3600),
    ("keep_daily", "daily", lambda s: s // 86400),
    ("keep_weekly", "weekly", lambda s: (s // 86400 + 3) // 7),  # ISO weeks start on Monday; 1970-01-01 a Thursday
    ("keep_monthly", "monthly", lambda s: (d := _civil(s // 86400)).year * 12 + d.month - 1),
    ("keep_yearly", "yearly", lambda s: _civil(s // 86400).year),
)


@functools.lru_cache(maxsize=4096)
def _bucket_name(label: str, bucket: int) -> str:
    if label == "hourly":
        return time.strftime("%Y-%m-%d %H:00", time.gmtime(bucket * 3600))
    if label == "daily":
        return _civil(bucket).isoformat()
    if label == "weekly":
        return "{}-W{:02d}".format(*_civil(bucket * 7 - 3).isocalendar())
    if label == "monthly":
        return f"{bucket // 12:04d}-{bucket % 12 + 1:02d}"
    return str(bucket)


def decide_path(path: str, versions: list[Candidate], head: bytes | None, rules: Rules, now_ns: int) -> list[Decision]:
    """One Decision per version of `path`, newest first (module docstring, rules 1-6).

    `head` is the id of the path's current state (a deletion when the path is
    deleted), or None when the path has none; ValueError if it is not one of
    `versions`."""
    order = newest_first(versions)  # (by time, but never before the version it was made from)
    top = None
    if head is not None:
        top = next((c for c in order if c.id == head), None)
        if top is None:
            raise ValueError(f"{path}: its head {head.hex()[:12]} is not one of its versions")
    reasons: dict[bytes, list[str]] = {c.id: [] for c in order}
    if top is not None and top.kind == "deleted":
        limit = rules.keep_deleted
        since = max(top.recorded_ns, max(c.time_ns for c in order))  # (rule 2: never older than what it deletes)
        if limit is not None and now_ns - since > limit * NS:
            days = (now_ns - since) // DAY_NS
            why = f"deleted {days} day{'' if days == 1 else 's'} ago (keep-deleted {format_duration(limit)})"
            return [Decision(c.id, path, c.time_ns, c.size, False, (why,)) for c in order]
        until = "(no keep-deleted)" if limit is None else "until " + _iso(since + limit * NS)
        reasons[top.id].append(f"deleted, kept {until}")
    elif top is not None:
        reasons[top.id].append("current")
    if not rules.keeps_versions():
        for c in order:
            reasons[c.id] = reasons[c.id] or [NO_RULE_SET]
    else:
        _apply_rules([c for c in order if c.kind != "deleted"], rules, now_ns, reasons)
        _keep_gaps(order, top, reasons)
    return [
        Decision(c.id, path, c.time_ns, c.size, bool(reasons[c.id]), tuple(reasons[c.id]) or (NO_RULE,)) for c in order
    ]


def _apply_rules(content: list[Candidate], rules: Rules, now_ns: int, reasons: dict[bytes, list[str]]) -> None:
    """Rule 4 over the versions that are not deletions, newest first."""
    if rules.keep_last is not None:
        for c in content[: rules.keep_last]:
            reasons[c.id].append(f"last {rules.keep_last}")
    if rules.keep_within is not None:
        horizon = now_ns - rules.keep_within * NS
        label = f"within {format_duration(rules.keep_within)}"
        for c in content:
            if c.time_ns >= horizon:  # a time in the future counts as now
                reasons[c.id].append(label)
    active = [(getattr(rules, f), label, bucket) for f, label, bucket in _BUCKETS if getattr(rules, f)]
    if not active:
        return
    left = [count for count, _, _ in active]
    last: list[int | None] = [None] * len(active)
    for c in content:
        if not any(left):
            break
        secs = c.time_ns // NS
        for i, (_, label, bucket) in enumerate(active):
            if left[i]:
                b = bucket(secs)
                if b != last[i]:
                    reasons[c.id].append(f"{label} {_bucket_name(label, b)}")
                    last[i] = b
                    left[i] -= 1


def _keep_gaps(order: list[Candidate], top: Candidate | None, reasons: dict[bytes, list[str]]) -> None:
    """Rule 5: a deletion in the middle of a history is kept when an older version is."""
    older_kept = False
    for c in reversed(order):  # oldest first
        if c.kind == "deleted" and c is not top and older_kept:
            reasons[c.id].append("deletion after a kept version")
        older_kept = older_kept or bool(reasons[c.id])


def plan(paths: Iterable[tuple[str, list[Candidate], bytes | None]], policy: Policy, now_ns: int) -> list[Decision]:
    """Decisions for every version of every path (in the order given, each path newest first),
    then the share-wide max_old_bytes cap (module docstring).

    `paths` is consumed one path at a time (a generator over a share's whole
    history is fine): only the decisions are held."""
    out: list[Decision] = []
    old: list[int] = []  # indices in `out` of kept versions that are not current
    for path, versions, head in paths:
        live = head is not None and any(c.id == head and c.kind != "deleted" for c in versions)
        start = len(out)
        out.extend(decide_path(path, versions, head, policy.for_path(path), now_ns))
        for i in range(start, len(out)):
            d = out[i]
            if d.keep and d.size > 0 and not (live and d.id == head):
                old.append(i)
    if policy.max_old_bytes is None:
        return out
    total = sum(out[i].size for i in old)
    if total <= policy.max_old_bytes:
        return out
    old.sort(key=lambda i: out[i].id)  # two stable sorts: (time_ns, id) without building tuples
    old.sort(key=lambda i: out[i].time_ns)
    for i in old:
        if total <= policy.max_old_bytes:
            break
        total -= out[i].size
        out[i] = replace(out[i], keep=False, reasons=(OVER_CAP,))
    return out


def _iso(ns: int) -> str:
    """A UTC time; 'after 9999' for one past what a date can be written as (a far deletion time plus a
    long keep-deleted: formatting a reason must never fail a forget)."""
    try:
        text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // NS))
    except (OverflowError, OSError, ValueError):
        return "after 9999" if ns > 0 else "before 1970"
    return text if len(text) == 20 else ("after 9999" if ns > 0 else "before 1970")
