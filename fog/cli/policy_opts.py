"""The retention options `fog policy set` and `fog forget` share: declarations and parsing.

`fog forget --keep-last 3` and `fog policy set --keep-last 3` take the same
options, declared once here as `Annotated` aliases:

    def forget(keep_last: KeepLast = None, ..., max_old_size: MaxOldSize = None) -> None:
        options = rule_options(locals())  # (in the command's body, not inside a lambda)
        policy = run(lambda: policy_from_options(**options), as_json)

Every value arrives as the text the user typed (so that a bad one is one line
and exit 2, not a parser's usage block); parsing raises UsageError.

Durations: a number and a unit, or several (`1y6m`): `s`, `min`, `h`, `d`,
`w`, `m` or `mo` (a month: 30 days), `y` (a year: 365 days), at most 1000y
(longer is refused: a time that far out cannot be written). A policy keeps
plain seconds, so months and years have fixed lengths. `m` is a month here, as
in restic's --keep-within; a REV's age (`fog log --since 30min`) refuses a bare
`m` (fog.repo.revs), so `.@6m` never means 6 minutes to one who meant months. `forever` is accepted by
--keep-deleted only (the rule unset: a deleted path's history is kept).

Sizes: a number, optionally with a decimal part, and K, M, G or T (powers
of 1024; `KiB`, `MB` and the like are read the same way): `500M`, `10G`,
`1.5T`, `1048576`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated

import typer

from fog.errors import UsageError
from fog.format.policy import (
    DEFAULT_POLICY,
    MAX_DURATION_S,
    RULE_FIELDS,
    Policy,
    Rules,
    check_pattern,
    format_duration,
    rule_name,
)
from fog.repo.revs import parse_whole

_DURATION_PART = re.compile(r"(\d+)(min|mo|[smhdwy])")
_DURATION_UNITS = {
    "s": 1,
    "min": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "m": 30 * 86400,
    "mo": 30 * 86400,
    "y": 365 * 86400,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:I?B)?|B)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
DURATION_HELP = "30d, 12h, 2w, 6m (months of 30 days), 1y, 90s"


def parse_duration(text: str, what: str = "duration") -> int:
    """Seconds from `30d`, `12h`, `2w`, `6m`, `1y`, `90s`, `1y6m` (module docstring); UsageError otherwise."""
    value = text.strip().lower()
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise UsageError(f"{what} {text!r}: give a duration such as {DURATION_HELP}")
    seconds = sum(int(n) * _DURATION_UNITS[u] for n, u in parts)
    if seconds > MAX_DURATION_S:
        raise UsageError(f"{what} {text!r}: the longest duration fog takes is {format_duration(MAX_DURATION_S)}")
    return seconds


def parse_size(text: str, what: str = "size") -> int:
    """Bytes from `500M`, `10G`, `1.5T` or a plain number (powers of 1024); UsageError otherwise."""
    m = _SIZE.fullmatch(text.strip())
    if not m:
        raise UsageError(f"{what} {text!r}: give a size such as 500M, 10G, 1.5T or a number of bytes")
    return round(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").upper()])


def parse_count(value: int | str, what: str) -> int:
    """A whole number of versions or buckets, 0 or more; UsageError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and (n := parse_whole(value)) is not None:
        return n
    raise UsageError(f"{what} {value!r}: give a whole number, 0 or more")


def _count_option(flag: str, help_text: str) -> typer.models.OptionInfo:
    return typer.Option(flag, help=help_text, metavar="N", show_default=False)


KeepLast = Annotated[str | None, _count_option("--keep-last", "Keep the N newest versions of each path.")]
KeepWithin = Annotated[
    str | None,
    typer.Option(
        "--keep-within",
        help=f"Keep every version younger than DURATION ({DURATION_HELP}).",
        metavar="DURATION",
        show_default=False,
    ),
]
KeepHourly = Annotated[
    str | None, _count_option("--keep-hourly", "Keep the newest version of each of the last N hours that have one.")
]
KeepDaily = Annotated[
    str | None, _count_option("--keep-daily", "Keep the newest version of each of the last N days that have one.")
]
KeepWeekly = Annotated[
    str | None, _count_option("--keep-weekly", "Keep the newest version of each of the last N weeks that have one.")
]
KeepMonthly = Annotated[
    str | None, _count_option("--keep-monthly", "Keep the newest version of each of the last N months that have one.")
]
KeepYearly = Annotated[
    str | None, _count_option("--keep-yearly", "Keep the newest version of each of the last N years that have one.")
]
KeepDeleted = Annotated[
    str | None,
    typer.Option(
        "--keep-deleted",
        help="Keep a deleted path's history for DURATION after its deletion ('forever': always).",
        metavar="DURATION",
        show_default=False,
    ),
]
MaxOldSize = Annotated[
    str | None,
    typer.Option(
        "--max-old-size",
        help="Keep at most SIZE of old versions in the whole share, the oldest going first (500M, 10G, 1.5T).",
        metavar="SIZE",
        show_default=False,
    ),
]


OPTION_FIELDS = (*RULE_FIELDS, "max_old_size")  # the rules, and the cap


def rule_options(params: dict[str, object]) -> dict[str, int | str | None]:
    """The retention options among a command's parameters (`locals()`), by name."""
    return {k: params[k] for k in OPTION_FIELDS if k in params}  # type: ignore[misc]


class RuleOptions:
    """The retention options a user gave, parsed: the rules they set and the cap."""

    def __init__(self, **given: int | str | None) -> None:
        unknown = set(given) - set(OPTION_FIELDS)
        if unknown:
            raise TypeError(f"not a retention option: {sorted(unknown)}")
        max_old_size = given.pop("max_old_size", None)
        self.rules: dict[str, int | None] = {}  # field -> value (None: keep-deleted forever)
        for field, value in given.items():
            if value is None:
                continue
            flag = "--" + rule_name(field)
            if field == "keep_deleted" and str(value).strip().lower() == "forever":
                self.rules[field] = None
            elif field in ("keep_within", "keep_deleted"):
                if str(value).strip().lower() == "forever":
                    raise UsageError(
                        f"{flag} forever would keep every version: leave the rule out "
                        "(`fog policy set --unset keep-within` removes it from the share's policy)"
                    )
                self.rules[field] = parse_duration(str(value), flag)
            else:
                self.rules[field] = parse_count(value, flag)
        self.cap_given = max_old_size is not None
        self.max_old_bytes = parse_size(str(max_old_size), "--max-old-size") if max_old_size is not None else None

    def given(self) -> bool:
        return bool(self.rules) or self.cap_given


def policy_from_options(**given: int | str | None) -> Policy | None:
    """The policy the options on a command line form (keep_last=..., max_old_size=...), or None when
    none was given.

    Only the rules given form it (restic's semantics): a share's stored policy
    is not mixed in. UsageError for a bad value."""
    opts = RuleOptions(**given)
    if not opts.given():
        return None
    return Policy(Rules(**opts.rules), max_old_bytes=opts.max_old_bytes)


# -- fog policy set ---------------------------------------------------------------------------

UNSET_NAMES = (*(rule_name(f) for f in RULE_FIELDS), "max-old-size")


def policy_edit(opts: RuleOptions, *, unset: list[str], pattern: str | None, reset: bool) -> PolicyEdit:
    """Check what `fog policy set` was asked to do (UsageError if it cannot make sense)."""
    names: list[str] = []
    for item in unset:
        names += [n.strip() for n in item.split(",") if n.strip()]
    for name in names:
        if name not in UNSET_NAMES:
            raise UsageError(f"--unset {name!r}: not a rule (rules: {', '.join(UNSET_NAMES)})")
    both = sorted({n for n in names if n.replace("-", "_") in opts.rules or (n == "max-old-size" and opts.cap_given)})
    if both:
        raise UsageError(f"--{both[0]} and --unset {both[0]}: give one or the other")
    if not (opts.given() or names or reset):
        raise UsageError("nothing to change: give a rule (--keep-last N, ...), --unset RULE or --reset")
    if pattern is not None:
        try:
            check_pattern(pattern)
        except ValueError as exc:
            raise UsageError(str(exc).replace("policy override pattern", "--path")) from None
        if opts.cap_given or "max-old-size" in names:
            raise UsageError("--max-old-size is share-wide: it cannot be set for a --path pattern")
        if "keep_deleted" in opts.rules and opts.rules["keep_deleted"] is None:
            raise UsageError(
                "--keep-deleted forever cannot be set for a --path pattern (a rule a pattern leaves unset "
                "comes from the share-wide rules): give a long duration, such as 100y"
            )
    return PolicyEdit(opts, tuple(dict.fromkeys(names)), pattern, reset)


class PolicyEdit:
    """One `fog policy set`: applied to the share's policy by fog.api.set_policy (`apply`)."""

    def __init__(self, opts: RuleOptions, unset: tuple[str, ...], pattern: str | None, reset: bool) -> None:
        self.opts, self.unset, self.pattern, self.reset = opts, unset, pattern, reset

    def _rules(self, rules: Rules) -> Rules:
        cleared = {n.replace("-", "_"): None for n in self.unset if n != "max-old-size"}
        return replace(rules, **cleared, **self.opts.rules)

    def apply(self, current: Policy) -> Policy:
        """The policy after this edit (current: the share's policy, or the defaults)."""
        if self.pattern is None:
            base = DEFAULT_POLICY if self.reset else current
            cap = base.max_old_bytes
            if self.opts.cap_given:
                cap = self.opts.max_old_bytes
            elif "max-old-size" in self.unset:
                cap = None
            return Policy(self._rules(base.rules), base.overrides, cap, current.updated)
        overrides = list(current.overrides)
        at = next((i for i, (p, _) in enumerate(overrides) if p == self.pattern), None)
        old = Rules() if self.reset or at is None else overrides[at][1]
        new = self._rules(old)
        if at is not None:
            overrides.pop(at)
        if not new.is_empty():
            overrides.insert(len(overrides) if at is None else at, (self.pattern, new))
        return replace(current, overrides=tuple(overrides))
