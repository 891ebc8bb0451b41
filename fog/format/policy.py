"""Retention policies: the rules that say which versions of each path a share keeps.

This module is the policy and its JSON encoding (it lives in the share's
entry of the SyncConfig, docs/FORMAT.md section 10); what a policy decides for
a given history is fog.sync.retention. Pure: no I/O, no clock.

A policy holds:

- `rules`, restic's and Kopia's: keep-last N, keep-within DURATION,
  keep-hourly/daily/weekly/monthly/yearly N, plus keep-deleted DURATION (how
  long the history of a deleted path outlives its deletion). A rule that is
  None is not set.
- `overrides`: (pattern, rules) pairs. The first pattern that matches a path
  wins, and the rules it sets are laid over the share-wide ones for that path.
- `max_old_bytes`: a share-wide cap on the bytes of old (non-current) versions.
- `updated` (ns): when the policy was set; the newer policy wins a merge.

Patterns are gitignore-like (matched against the '/'-separated share path):

- `*` matches any run of characters but `/`, `?` one character but `/`,
  `[abc]` / `[a-z]` / `[!abc]` one character of a class, `\\x` a literal x;
- `**` as a whole path segment matches any number of directories
  (`**/cache`, `logs/**`, `a/**/b`);
- a pattern without a `/` matches a name at any depth (`*.log` matches
  `x.log` and `a/b/x.log`); one with a `/` is relative to the share's root
  (a leading `/` may be written and changes nothing);
- a pattern that matches a directory matches everything below it (`build`,
  `docs/drafts`); a trailing `/` is allowed and changes nothing.

Negation (`!pattern`) has no meaning in a first-match list and is refused.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from fog.format.glob import segment

RULE_FIELDS = (
    "keep_last",
    "keep_within",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
    "keep_deleted",
)


def rule_name(field_name: str) -> str:
    """The JSON and command-line name of a rule: keep_last -> keep-last."""
    return field_name.replace("_", "-")


_BY_NAME = {rule_name(f): f for f in RULE_FIELDS}
RULE_NAMES = tuple(_BY_NAME)
DURATION_FIELDS = ("keep_within", "keep_deleted")
# The longest duration a rule holds: 1000 years of 365 days. Longer ones are refused where typed and
# read as this from a SyncConfig (any device may have written any int there): a time that far out
# cannot even be written as a date, and keeping for 1000 years keeps as much as keeping for longer.
MAX_DURATION_S = 1000 * 365 * 86400


@dataclass(frozen=True)
class Rules:
    """Retention rules; every field None = rule not set. Counts are versions, durations seconds."""

    keep_last: int | None = None
    keep_within: int | None = None  # seconds
    keep_hourly: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    keep_yearly: int | None = None
    keep_deleted: int | None = None  # seconds after a path's deletion; None = forever

    def overlay(self, other: Rules) -> Rules:
        """These rules with every rule `other` sets replaced by other's."""
        return Rules(**{f: _first(getattr(other, f), getattr(self, f)) for f in RULE_FIELDS})

    def keeps_versions(self) -> bool:
        """Whether any rule that keeps versions is set (all but keep-deleted): if none
        is, a policy keeps every version (it never forgets by omission)."""
        return any(getattr(self, f) is not None for f in RULE_FIELDS if f != "keep_deleted")

    def is_empty(self) -> bool:
        return all(getattr(self, f) is None for f in RULE_FIELDS)

    def to_json(self) -> dict[str, int]:
        """Set rules only: {"keep-last": 10, "keep-within": <seconds>, ...}."""
        return {rule_name(f): getattr(self, f) for f in RULE_FIELDS if getattr(self, f) is not None}

    @classmethod
    def from_json(cls, doc: dict[str, Any], where: str = "policy") -> Rules:
        """The rules named in `doc` (other keys are the caller's business); ValueError if one is malformed."""
        values: dict[str, int] = {}
        for name, f in _BY_NAME.items():
            if name in doc:
                values[f] = _non_negative(doc[name], f"{where}: {name}")
                if f in DURATION_FIELDS:
                    values[f] = min(values[f], MAX_DURATION_S)
        return cls(**values)


def _first(a: int | None, b: int | None) -> int | None:
    return a if a is not None else b


def _non_negative(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative ({value})")
    return value


@dataclass(frozen=True)
class Policy:
    """A share's retention policy: rules, per-pattern overrides, a cap on old bytes."""

    rules: Rules
    overrides: tuple[tuple[str, Rules], ...] = ()  # (pattern, rules set for matching paths); first match wins
    max_old_bytes: int | None = None  # share-wide cap on bytes of old (non-current) versions kept
    updated: int = 0  # ns, for the SyncConfig merge

    def for_path(self, path: str) -> Rules:
        """The rules for one share path: the first matching override laid over the share-wide rules."""
        for pattern, rules in self.overrides:
            if matches(pattern, path):
                return self.rules.overlay(rules)
        return self.rules

    def same_rules(self, other: Policy) -> bool:
        """Equal in everything but `updated`."""
        return (self.rules, self.overrides, self.max_old_bytes) == (other.rules, other.overrides, other.max_old_bytes)

    def to_json(self) -> dict[str, Any]:
        """{"keep-last": .., ..., "max-old-bytes": .., "overrides": [{"pattern": .., rules}], "updated": ns};
        unset rules, no overrides and no cap are absent."""
        doc: dict[str, Any] = self.rules.to_json()
        if self.max_old_bytes is not None:
            doc["max-old-bytes"] = self.max_old_bytes
        if self.overrides:
            doc["overrides"] = [{"pattern": p, **r.to_json()} for p, r in self.overrides]
        doc["updated"] = self.updated
        return doc

    @classmethod
    def from_json(cls, doc: Any, *, lenient: bool = False) -> Policy:
        """Check and decode a policy; every failure is a ValueError that says what is wrong.

        Strict by default: a key this fog does not know (a rule of a newer fog,
        a typo) is refused, because applying a policy without one of its rules
        could forget versions that rule keeps. `lenient` ignores unknown keys
        (checking only those it knows): what a SyncConfig reader does, so that a
        newer fog's policy never stops an older one from syncing.
        """
        if not isinstance(doc, dict):
            raise ValueError(f"a retention policy must be a JSON object, not {type(doc).__name__}")
        if not lenient:
            _refuse_unknown(doc, {*RULE_NAMES, "max-old-bytes", "overrides", "updated"}, "policy")
        rules = Rules.from_json(doc)
        cap = doc.get("max-old-bytes")
        if cap is not None:
            cap = _non_negative(cap, "policy: max-old-bytes")
        updated = _non_negative(doc.get("updated", 0), "policy: updated")
        raw = doc.get("overrides", [])
        if not isinstance(raw, list):
            raise ValueError("policy: overrides must be a list")
        overrides: list[tuple[str, Rules]] = []
        for item in raw:
            if not isinstance(item, dict):
                raise ValueError("policy: each override must be a JSON object")
            pattern = item.get("pattern")
            check_pattern(pattern)
            assert isinstance(pattern, str)
            where = f"policy override {pattern!r}"
            if not lenient:
                _refuse_unknown(item, {*RULE_NAMES, "pattern"}, where)
            if any(pattern == p for p, _ in overrides):
                raise ValueError(f"{where} is given twice")
            rules_here = Rules.from_json(item, where)
            if rules_here.is_empty() and not lenient:
                raise ValueError(f"{where} sets no rule")
            overrides.append((pattern, rules_here))
        return cls(rules, tuple(overrides), cap, updated)


def _refuse_unknown(doc: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in doc if k not in known)
    if unknown:
        raise ValueError(
            f"{where}: unknown rule {', '.join(unknown)} (known: {', '.join(RULE_NAMES)}, max-old-bytes, overrides)"
        )


# Kopia's defaults for a snapshot policy (latest 10, hourly 48, daily 7, weekly 4,
# monthly 24, annual 3): what people who chose a backup tool's defaults keep, so no
# surprise for them; recent edits stay fine-grained (two days of hours, a week of days)
# and two years of months remain, while a file edited every minute keeps ~100 versions,
# not tens of thousands. keep-deleted 90 days: a deleted file stays restorable for a
# quarter, long enough to notice a mistaken deletion after a holiday, without keeping
# every file ever deleted forever.
DEFAULT_POLICY = Policy(
    Rules(
        keep_last=10,
        keep_hourly=48,
        keep_daily=7,
        keep_weekly=4,
        keep_monthly=24,
        keep_yearly=3,
        keep_deleted=90 * 86400,
    )
)


def share_policy(entry: dict[str, Any]) -> Policy:
    """The policy of a share's SyncConfig entry, or DEFAULT_POLICY if it has none.

    Strict (Policy.from_json): ValueError for a policy with a rule this fog does not know."""
    doc = entry.get("policy")
    return DEFAULT_POLICY if doc is None else Policy.from_json(doc)


# -- patterns -----------------------------------------------------------------------------


def check_pattern(pattern: Any) -> None:
    """ValueError unless `pattern` is a pattern fog can match (module docstring)."""
    if not isinstance(pattern, str) or not pattern.strip("/"):
        raise ValueError(f"policy override pattern {pattern!r}: give a non-empty pattern")
    if pattern.startswith("!"):
        raise ValueError(f"policy override pattern {pattern!r}: negation is not supported (the first match wins)")
    if "\x00" in pattern or "\n" in pattern:
        raise ValueError(f"policy override pattern {pattern!r}: control characters are not allowed")
    if any(part in ("", ".", "..") for part in pattern.strip("/").split("/")):
        raise ValueError(f"policy override pattern {pattern!r}: empty, '.' and '..' segments are not allowed")
    try:
        _compile(pattern)
    except ValueError as exc:
        raise ValueError(f"policy override pattern {pattern!r}: {exc}") from None


def matches(pattern: str, path: str) -> bool:
    """Whether a gitignore-like pattern matches a share path (module docstring)."""
    return _compile(pattern).match(path) is not None


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    """The regex that matches a share path when the pattern matches it or one of its directories.

    Each run of segments after a `**` takes its leftmost fit (an atomic group), and each `*` of a
    segment too (fog.format.glob): matching time is polynomial whatever the pattern. ValueError for
    a class with a reversed range (`[z-a]`)."""
    body = pattern.strip("/")
    segs = body.split("/")
    if not ("/" in body or pattern.startswith("/")):
        segs.insert(0, "**")  # no '/': at any depth
    runs: list[list[str]] = [[]]  # the segments between two `**`
    for seg in segs:
        if seg != "**":
            runs[-1].append(segment(seg, lenient=True))
        elif runs[-1] or len(runs) == 1:
            runs.append([])
    out = ""
    for k, run in enumerate(runs):
        if not run:
            continue
        below = k < len(runs) - 1  # a `**` follows: the match must go on below
        stop = "(?=/)" if below else r"(?=/|\Z)"
        skip = "" if k == 0 else "/(?:.*?/)??" if out else "(?:.*?/)??"
        out += f"(?>{skip}{'/'.join(run)}{stop})"
    if not out:  # `**`
        return re.compile(".", re.DOTALL)
    return re.compile(out, re.DOTALL)


# -- durations, for reasons and output --------------------------------------------------

_UNITS = (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def format_duration(seconds: int) -> str:
    """A duration in the units a user types: 7776000 -> '90d', 31536000 -> '1y', 5400 -> '1h30min'.

    A year is 365 days (policies store plain seconds: no calendar arithmetic)."""
    if seconds == 0:
        return "0s"
    parts = []
    left = seconds
    for unit, size in _UNITS:
        n, left = divmod(left, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)
