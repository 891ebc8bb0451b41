"""PATH@REV: naming one version of one path.

REV forms: `~N` (N versions back, `~0` the newest); a hex prefix of a version
id (at least 4 characters, unique among the path's versions); an ISO 8601
date or date-time (the newest version at or before it; without a zone it is
local time, and a local time the clock showed twice, when DST ended, means the
later of the two: `fog log` prints the offset after such a time); an age
`30m` or `30min`, `2h`, `3d`, `1w`, `6mo`, `1y` (the newest version at least that old; `m` is
minutes here, months in a retention policy's durations: `min` and `mo` say which); `yesterday`
(the newest version from before today). No REV means the newest version.
"""

from __future__ import annotations

import re
import time
from datetime import MAXYEAR, datetime

from fog.errors import NoHistoryError, RevisionError
from fog.format.version import Version

_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")
_BACK = re.compile(r"^~([0-9]{1,18})$")  # (longer: not a REV; int() of 4,300 digits would raise)
_AGE = re.compile(r"^([0-9]{1,12})(min|mo|[smhdwy])$")  # (`m`: minutes, as documented since the first REVs)
# the units of a policy's durations (fog.cli.policy_opts), but a bare `m` is refused: minutes here once,
# months there (restic's --keep-within), so `.@6m` meant as half a year restored 6 minutes ago
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400, "y": 365 * 86400}
LAST_NS = 253_402_300_799_999_999_999  # 9999-12-31T23:59:59.999999999Z, the last instant a datetime holds
_CLOCK = re.compile(r"[T ](?P<h>\d{2})(?::?(?P<m>\d{2})(?::?(?P<s>\d{2}))?)?(?P<f>[.,]\d+)?")


def parse_whole(text: str) -> int | None:
    """A whole number typed by the user (ASCII digits, at most 18 of them), else None."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def split_spec(spec: str, known_path: bool = False) -> tuple[str, str | None]:
    """Split 'PATH@REV'; a path containing '@' works when REV is given."""
    if "@" not in spec or known_path:
        return spec, None
    path, rev = spec.rsplit("@", 1)
    return path, rev


def parse_when(text: str, now_ns: int | None = None) -> int:
    """A point in time (ns since the epoch) from an age, `yesterday`, `today` or an ISO time."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    m = _AGE.match(text)
    if m:  # (older than 1970: before everything fog has)
        return max(0, now_ns - int(m.group(1)) * _UNIT_S[m.group(2)] * 1_000_000_000)
    if text in ("yesterday", "today"):
        midnight = datetime.fromtimestamp(now_ns / 1e9).astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        if text == "yesterday":
            return int(midnight.timestamp()) * 1_000_000_000 - 1
        return now_ns
    return parse_time(text)


def parse_time(text: str) -> int:
    """An ISO date or date-time to ns since the epoch (naive = local time)."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise RevisionError(
            f"cannot read {text!r} as a REV (use ~N, a version id prefix of at least 4 hex digits, "
            "an age like 2h or 3d, 'yesterday', or an ISO date/time)"
        ) from None
    # A time is a span: its last instant counts ("2026-01-02" is the whole day,
    # "12:30:05" the whole second), so a time copied from `fog log` names that version.
    clock = _CLOCK.search(text)
    if clock is not None and clock.group("f") and clock.group("s") is None:  # Python reads 07.5 as 07:00:00.5
        raise RevisionError(f"{text!r}: a fraction is read only after the seconds (HH:MM:SS.fff)")
    if clock is None:
        dt = dt.replace(hour=23, minute=59, second=59, microsecond=999999)
    elif clock.group("m") is None:  # an hour alone is the whole hour
        dt = dt.replace(minute=59, second=59, microsecond=999999)
    elif clock.group("s") is None:
        dt = dt.replace(second=59, microsecond=999999)
    elif clock.group("f") is None:
        dt = dt.replace(microsecond=999999)
    try:
        # (whole seconds apart: a float timestamp of .999999 rounds up to the next second past 2100 or so)
        if dt.tzinfo is None:
            # a local time the clock shows twice (DST ends) names both moments: the span ends at the later
            # one, so a time copied from `fog log` without its offset picks the newest version it names
            whole = dt.replace(microsecond=0)
            ns = max(int(whole.replace(fold=f).timestamp()) for f in (0, 1)) * 1_000_000_000
        else:
            ns = int(dt.replace(microsecond=0).timestamp()) * 1_000_000_000
    except (ValueError, OverflowError):  # year 1 in a zone east of UTC, the end of year 9999 west of it
        if dt.year == MAXYEAR:
            return LAST_NS  # the end of time fog can name: later than every version
        raise RevisionError(f"{text!r} is a time outside what fog can use (years 1970 to 9999)") from None
    return min(LAST_NS, max(0, ns + dt.microsecond * 1000 + (999 if clock is None or clock.group("f") is None else 0)))


def resolve(history: list[Version], path: str, rev: str | None) -> Version:
    """Pick one version from a path's history (newest first)."""
    if not history:
        raise NoHistoryError(path)
    if rev is None or rev == "":
        return history[0]
    m = _BACK.match(rev)
    if m:
        n = int(m.group(1))
        if n >= len(history):
            raise RevisionError(f"{path}@{rev}: only {len(history)} version(s) exist (~0 to ~{len(history) - 1})")
        return history[n]
    if _HEX.match(rev):
        hits = [v for v in history if v.id.hex().startswith(rev.lower())]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise RevisionError(f"{path}@{rev}: ambiguous, {len(hits)} versions start with it; give more digits")
        if not re.match(r"^\d{4}", rev):
            raise RevisionError(f"{path}@{rev}: no version id starts with {rev}")
    when = parse_when(rev)
    # the clocks alone, as a tree at that moment picks (fog.repo.trees._pick): the newest recorded time at or
    # before it. Not the first such in `history`'s merge order: under a skewed clock that order puts a version
    # recorded "earlier" above the one whose time was asked for (review 7 history H2)
    then = [v for v in history if v.time_ns <= when]
    if then:
        return max(then, key=lambda v: (v.time_ns, v.id[:8]))
    raise RevisionError(f"{path}@{rev}: no version is that old (the oldest is from {_iso(history[-1].time_ns)})")


def older_than_deletion(history: list[Version], deletion: Version) -> str:
    """What to say after refusing a deletion of a path's history (newest first): the version right
    before it, by id (`@~1` names the deletion itself when it is not the head)."""
    ids = [v.id for v in history]
    if deletion.id in ids:
        for v in history[ids.index(deletion.id) + 1 :]:
            if not v.deleted:
                return f"pick an older version (e.g. @{v.id.hex()[:12]}, the one it deleted)"
        return "no older version of it is left"
    return "pick an older version (fog log lists them)"


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9).astimezone().isoformat(timespec="seconds")
