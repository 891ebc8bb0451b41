"""Retention policies (fog.format.policy) and what they keep (fog.sync.retention), golden style.

Every test injects `now`; times are UTC. Versions are named by their id, so a
decision reads back as the list of names kept.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fog.format.policy import check_pattern, format_duration
from fog.sync.retention import (
    DEFAULT_POLICY,
    Candidate,
    Decision,
    Policy,
    Rules,
    decide_path,
    matches,
    plan,
    share_policy,
)

NS = 1_000_000_000
DAY = 86400


def at(*when: int) -> int:
    """ns since the epoch of a UTC calendar time: at(2026, 12, 1, 14, 30)."""
    return int(datetime(*when, tzinfo=UTC).timestamp()) * NS  # type: ignore[misc]


NOW = at(2026, 12, 15, 12)


def v(name: str, t: int, kind: str = "file", size: int = 10) -> Candidate:
    return Candidate(name.encode(), t, kind, size)


def decide(versions: list[Candidate], rules: Rules, head: str | None = "", now: int = NOW) -> list[Decision]:
    """Decisions for path "p"; head "" = the newest version given."""
    head_id = versions[0].id if head == "" else (head.encode() if head is not None else None)
    return decide_path("p", versions, head_id, rules, now)


def kept(decisions: list[Decision]) -> list[str]:
    return [d.id.decode() for d in decisions if d.keep]


def why(decisions: list[Decision]) -> dict[str, tuple[str, ...]]:
    return {d.id.decode(): d.reasons for d in decisions}


# -- rule 1: the current version --------------------------------------------------------------


def test_the_current_version_is_kept_whatever_the_rules() -> None:
    versions = [v("c", NOW - 10 * DAY * NS), v("b", NOW - 11 * DAY * NS), v("a", NOW - 12 * DAY * NS)]
    zero = Rules(keep_last=0, keep_daily=0, keep_within=0, keep_deleted=0)
    assert why(decide(versions, zero)) == {"c": ("current",), "b": ("no rule keeps it",), "a": ("no rule keeps it",)}
    # the head is kept even when it is not the newest by time (a device whose clock ran behind)
    assert kept(decide(versions, Rules(keep_last=1), head="a")) == ["c", "a"]


def test_decisions_come_newest_first_with_every_field() -> None:
    d = decide([v("old", NOW - 2 * NS, size=3), v("new", NOW - NS, size=5)], Rules(keep_last=1), head="new")
    assert d == [
        Decision(b"new", "p", NOW - NS, 5, True, ("current", "last 1")),
        Decision(b"old", "p", NOW - 2 * NS, 3, False, ("no rule keeps it",)),
    ]


def test_a_head_that_is_not_a_version_is_refused() -> None:
    with pytest.raises(ValueError, match="head"):
        decide([v("a", NOW)], Rules(keep_last=1), head="zz")


def test_no_head_means_the_rules_alone_decide() -> None:
    versions = [v("b", NOW - NS), v("a", NOW - 2 * NS)]
    assert why(decide(versions, Rules(keep_last=1), head=None)) == {"b": ("last 1",), "a": ("no rule keeps it",)}


# -- rule 4: keep-last, keep-within ---------------------------------------------------------


def test_keep_last_keeps_the_n_newest_the_current_one_counting() -> None:
    versions = [v(n, NOW - i * NS) for i, n in enumerate("edcba")]
    assert why(decide(versions, Rules(keep_last=3))) == {
        "e": ("current", "last 3"),
        "d": ("last 3",),
        "c": ("last 3",),
        "b": ("no rule keeps it",),
        "a": ("no rule keeps it",),
    }
    assert kept(decide(versions, Rules(keep_last=10))) == list("edcba")


def test_equal_times_are_ordered_by_id_the_larger_is_newer() -> None:
    versions = [v("a", NOW - NS), v("c", NOW - NS), v("b", NOW - NS), v("z", NOW)]
    assert kept(decide(versions, Rules(keep_last=3), head="z")) == ["z", "c", "b"]
    assert [d.id for d in decide(versions, Rules(keep_last=3), head="z")] == [b"z", b"c", b"b", b"a"]


def test_keep_within_is_inclusive_and_the_future_counts_as_now() -> None:
    versions = [
        v("future", NOW + 5 * DAY * NS),
        v("edge", NOW - 30 * DAY * NS),
        v("past", NOW - 30 * DAY * NS - 1),
    ]
    assert why(decide(versions, Rules(keep_within=30 * DAY), head="future")) == {
        "future": ("current", "within 30d"),
        "edge": ("within 30d",),
        "past": ("no rule keeps it",),
    }


# -- rule 4: calendar buckets -------------------------------------------------------------------


def test_keep_daily_keeps_the_newest_of_each_day_at_the_midnight_boundary() -> None:
    versions = [
        v("d2-noon", at(2026, 12, 2, 12)),
        v("d2-midnight", at(2026, 12, 2)),
        v("d1-last", at(2026, 12, 2) - 1),  # 2026-12-01 23:59:59.999999999
        v("d1-early", at(2026, 12, 1, 1)),
        v("nov30", at(2026, 11, 30, 10)),
    ]
    assert why(decide(versions, Rules(keep_daily=2))) == {
        "d2-noon": ("current", "daily 2026-12-02"),
        "d2-midnight": ("no rule keeps it",),
        "d1-last": ("daily 2026-12-01",),
        "d1-early": ("no rule keeps it",),
        "nov30": ("no rule keeps it",),  # the count is spent
    }


def test_keep_hourly_boundary() -> None:
    versions = [v("h14", at(2026, 12, 1, 14)), v("h13-end", at(2026, 12, 1, 14) - 1), v("h13", at(2026, 12, 1, 13))]
    assert why(decide(versions, Rules(keep_hourly=5))) == {
        "h14": ("current", "hourly 2026-12-01 14:00"),
        "h13-end": ("hourly 2026-12-01 13:00",),
        "h13": ("no rule keeps it",),
    }


def test_keep_weekly_uses_iso_weeks_across_the_new_year() -> None:
    # 2026-12-31 (Thursday) and 2027-01-01 (Friday) are both in ISO week 2026-W53;
    # Sunday 2026-12-27 is the end of W52, Monday 2026-12-28 the start of W53.
    versions = [
        v("fri", at(2027, 1, 1, 9)),
        v("thu", at(2026, 12, 31, 9)),
        v("mon", at(2026, 12, 28)),
        v("sun", at(2026, 12, 28) - 1),
        v("w51", at(2026, 12, 16)),
    ]
    assert why(decide(versions, Rules(keep_weekly=2), now=at(2027, 1, 2))) == {
        "fri": ("current", "weekly 2026-W53"),
        "thu": ("no rule keeps it",),
        "mon": ("no rule keeps it",),
        "sun": ("weekly 2026-W52",),
        "w51": ("no rule keeps it",),
    }


def test_keep_monthly_and_yearly_boundaries() -> None:
    versions = [
        v("dec1", at(2026, 12, 1)),
        v("nov-end", at(2026, 12, 1) - 1),
        v("nov", at(2026, 11, 2)),
        v("y2026", at(2026, 1, 1)),
        v("y2025-end", at(2026, 1, 1) - 1),
        v("y2024", at(2024, 6, 1)),
        v("y2023", at(2023, 6, 1)),
    ]
    assert why(decide(versions, Rules(keep_monthly=3, keep_yearly=3))) == {
        "dec1": ("current", "monthly 2026-12", "yearly 2026"),
        "nov-end": ("monthly 2026-11",),
        "nov": ("no rule keeps it",),
        "y2026": ("monthly 2026-01",),
        "y2025-end": ("yearly 2025",),
        "y2024": ("yearly 2024",),
        "y2023": ("no rule keeps it",),
    }


def test_a_bucket_rule_counts_only_the_buckets_it_kept() -> None:
    versions = [v("dec-a", at(2026, 12, 9)), v("dec-b", at(2026, 12, 5)), v("dec-c", at(2026, 12, 2))]
    versions += [v("nov", at(2026, 11, 20)), v("oct", at(2026, 10, 20))]
    assert kept(decide(versions, Rules(keep_monthly=2))) == ["dec-a", "nov"]


def test_future_versions_fill_buckets_like_any_other() -> None:
    versions = [v("tomorrow", NOW + DAY * NS), v("today", NOW), v("yesterday", NOW - DAY * NS)]
    assert why(decide(versions, Rules(keep_daily=2), head="today")) == {
        "tomorrow": ("daily 2026-12-16",),
        "today": ("current", "daily 2026-12-15"),
        "yesterday": ("no rule keeps it",),
    }


def test_every_reason_that_keeps_a_version_is_listed_in_a_fixed_order() -> None:
    versions = [v("b", NOW - NS), v("a", NOW - DAY * NS)]
    rules = Rules(keep_last=5, keep_within=7 * DAY, keep_hourly=1, keep_daily=3, keep_weekly=1, keep_yearly=1)
    assert why(decide(versions, rules)) == {
        "b": ("current", "last 5", "within 7d", "hourly 2026-12-15 11:00", "daily 2026-12-15", "weekly 2026-W51",
              "yearly 2026"),
        "a": ("last 5", "within 7d", "daily 2026-12-14"),
    }  # fmt: skip


# -- rule 2: deleted paths ----------------------------------------------------------------------


def history_deleted(days_ago: int, extra_ns: int = 0) -> list[Candidate]:
    gone = NOW - days_ago * DAY * NS - extra_ns
    return [v("del", gone, "deleted", 0), v("v2", gone - DAY * NS), v("v1", gone - 2 * DAY * NS)]


def test_a_deleted_path_is_forgotten_whole_after_keep_deleted() -> None:
    decisions = decide(history_deleted(90, 1), Rules(keep_last=5, keep_deleted=90 * DAY))
    assert kept(decisions) == []
    assert set(why(decisions).values()) == {("deleted 90 days ago (keep-deleted 90d)",)}
    decisions = decide(history_deleted(120), Rules(keep_last=5, keep_deleted=90 * DAY))
    assert set(why(decisions).values()) == {("deleted 120 days ago (keep-deleted 90d)",)}


def test_a_deleted_path_inside_keep_deleted_keeps_its_deletion_and_follows_the_rules() -> None:
    decisions = decide(history_deleted(90), Rules(keep_last=1, keep_deleted=90 * DAY))
    assert why(decisions) == {
        "del": ("deleted, kept until 2026-12-15T12:00:00Z",),
        "v2": ("last 1",),  # the deletion is not counted by keep-last: the last content is kept
        "v1": ("no rule keeps it",),
    }


def test_a_deletion_is_never_older_than_the_version_it_deletes() -> None:
    """Review 5, R9: a deletion made on a device whose clock is a year behind carries a time before the
    version it deletes; measured by its own time, the next trim anywhere forgot the whole history."""
    year = 365 * DAY * NS
    made = NOW - 5 * DAY * NS  # the version it deletes: 5 days ago
    versions = [v("v1", made), v("del", NOW - year, "deleted", 0)]
    decisions = decide(versions, Rules(keep_last=1, keep_deleted=90 * DAY), head="del")
    assert kept(decisions) == ["v1", "del"]
    assert why(decisions)["del"] == ("deleted, kept until 2027-03-10T12:00:00Z",)  # 90 days after v1's time
    assert kept(decide(versions, Rules(keep_deleted=90 * DAY), head="del", now=made + 91 * DAY * NS)) == []


def test_a_deletion_is_kept_for_keep_deleted_after_this_device_recorded_it() -> None:
    """...and a deletion of a file unchanged for months: counted from when it reached this device."""
    year = 365 * DAY * NS
    versions = [v("v1", NOW - 200 * DAY * NS), Candidate(b"del", NOW - year, "deleted", 0, NOW - DAY * NS)]
    decisions = decide(versions, Rules(keep_last=1, keep_deleted=90 * DAY), head="del")
    assert kept(decisions) == ["v1", "del"]
    assert why(decisions)["del"] == ("deleted, kept until 2027-03-14T12:00:00Z",)
    later = decide(versions, Rules(keep_deleted=90 * DAY), head="del", now=NOW + 90 * DAY * NS)
    assert set(why(later).values()) == {("deleted 91 days ago (keep-deleted 90d)",)}


def test_without_keep_deleted_a_deletion_is_kept_forever() -> None:
    decisions = decide(history_deleted(4000), Rules(keep_last=1))
    assert why(decisions) == {
        "del": ("deleted, kept (no keep-deleted)",),
        "v2": ("last 1",),
        "v1": ("no rule keeps it",),
    }


def test_a_deletion_in_the_middle_is_kept_with_an_older_kept_version() -> None:
    versions = [v("again", NOW - NS), v("gone", NOW - 2 * NS, "deleted", 0), v("first", NOW - 3 * NS)]
    assert why(decide(versions, Rules(keep_last=1))) == {
        "again": ("current", "last 1"),
        "gone": ("no rule keeps it",),
        "first": ("no rule keeps it",),
    }
    assert why(decide(versions, Rules(keep_last=2))) == {
        "again": ("current", "last 2"),
        "gone": ("deletion after a kept version",),
        "first": ("last 2",),
    }


# -- rule 3: no rule set ------------------------------------------------------------------------


def test_with_no_rule_set_everything_is_kept() -> None:
    versions = [v("b", NOW - NS), v("gone", NOW - 2 * NS, "deleted", 0), v("a", NOW - 3 * NS)]
    assert why(decide(versions, Rules())) == {"b": ("current",), "gone": ("no rule set",), "a": ("no rule set",)}
    # keep-deleted alone is not a rule that keeps versions: a live path keeps everything
    assert kept(decide(versions, Rules(keep_deleted=DAY))) == ["b", "gone", "a"]
    assert kept(decide(history_deleted(2), Rules(keep_deleted=DAY))) == []
    assert why(decide(history_deleted(2), Rules())) == {
        "del": ("deleted, kept (no keep-deleted)",),
        "v2": ("no rule set",),
        "v1": ("no rule set",),
    }


# -- plan and the max-old-bytes cap -------------------------------------------------------------


def paths_for_cap() -> list[tuple[str, list[Candidate], bytes | None]]:
    a = [v("a3", NOW, size=100), v("a2", NOW - 3 * NS, size=40), v("a1", NOW - 5 * NS, size=30)]
    b = [v("b2", NOW - NS, size=1000), v("b1", NOW - 4 * NS, size=50)]
    gone = [v("cdel", NOW - 2 * NS, "deleted", 0), v("c1", NOW - 6 * NS, size=20)]
    return [("a", a, b"a3"), ("b", b, b"b2"), ("c", gone, b"cdel")]


def test_plan_without_a_cap_is_decide_path_per_path_in_order() -> None:
    policy = Policy(Rules(keep_last=5))
    decisions = plan(paths_for_cap(), policy, NOW)
    assert [d.path for d in decisions] == ["a", "a", "a", "b", "b", "c", "c"]
    assert all(d.keep for d in decisions)


def test_the_cap_forgets_the_oldest_old_versions_and_never_a_current_one() -> None:
    # old versions kept: a2 40, a1 30, b1 50, c1 20 = 140 bytes (cdel is 0: never counted)
    decisions = plan(paths_for_cap(), Policy(Rules(keep_last=5), max_old_bytes=95), NOW)
    assert why(decisions) == {
        "a3": ("current", "last 5"),
        "a2": ("last 5",),
        "a1": ("over max-old-size",),  # then 90 <= 95: b1 (older than a2) stays
        "b2": ("current", "last 5"),
        "b1": ("last 5",),
        "cdel": ("deleted, kept (no keep-deleted)",),
        "c1": ("over max-old-size",),  # the oldest: first to go
    }
    everything_old = plan(paths_for_cap(), Policy(Rules(keep_last=5), max_old_bytes=0), NOW)
    assert kept(everything_old) == ["a3", "b2", "cdel"]  # the current versions, whatever their size


def test_the_cap_breaks_time_ties_by_id_and_never_revives_what_rules_forgot() -> None:
    paths = [
        ("x", [v("x2", NOW), v("x1", NOW - NS, size=10), v("x0", NOW - 9 * NS, size=10)], b"x2"),
        ("y", [v("y2", NOW), v("y1", NOW - NS, size=10)], b"y2"),
    ]
    decisions = plan(paths, Policy(Rules(keep_last=2), max_old_bytes=10), NOW)
    assert why(decisions)["x0"] == ("no rule keeps it",)
    assert why(decisions)["x1"] == ("over max-old-size",)  # x1 < y1 at the same time
    assert why(decisions)["y1"] == ("last 2",)


def test_plan_applies_overrides_per_path() -> None:
    policy = Policy(Rules(keep_last=3), overrides=(("*.log", Rules(keep_last=1)),))
    paths = [(name, [v(f"{name}{i}", NOW - i * NS) for i in range(4)], f"{name}0".encode()) for name in ("a.log", "b")]
    assert kept(plan(paths, policy, NOW)) == ["a.log0", "b0", "b1", "b2"]


def many_paths(n: int) -> Iterator[tuple[str, list[Candidate], bytes | None]]:
    for i in range(n):
        yield (
            f"dir{i % 100}/file{i}.txt",
            [v(f"{i}b", NOW - i * NS), v(f"{i}a", NOW - DAY * NS - i * NS)],
            f"{i}b".encode(),
        )


def test_plan_takes_a_generator_of_100_000_paths() -> None:
    started = time.monotonic()
    decisions = plan(many_paths(100_000), DEFAULT_POLICY, NOW)
    assert len(decisions) == 200_000 and sum(d.keep for d in decisions) == 200_000
    assert time.monotonic() - started < 30  # ~2 s


def test_plan_holds_the_decisions_and_not_the_histories() -> None:
    n = 20_000
    tracemalloc.start()
    try:
        decisions = plan(many_paths(n), Policy(Rules(keep_last=1)), NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(d.keep for d in decisions) == n
    # ~550 bytes a path: two decisions and the path; ~850 when the histories are held as well
    assert peak < 750 * n


# -- property: the current version of a live path is always kept ------------------------------

counts = st.none() | st.integers(0, 4)
durations = st.none() | st.integers(0, 40 * DAY)
rules_st = st.builds(
    Rules,
    keep_last=counts,
    keep_within=durations,
    keep_hourly=counts,
    keep_daily=counts,
    keep_weekly=counts,
    keep_monthly=counts,
    keep_yearly=counts,
    keep_deleted=durations,
)
history_st = st.lists(
    st.tuples(st.integers(-90 * DAY, 2 * DAY), st.sampled_from(["file", "file", "dir", "link", "deleted"]),
              st.integers(0, 100)),
    min_size=1,
    max_size=8,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(history_st, st.integers(0, 7)), min_size=1, max_size=5),
    rules_st,
    st.none() | st.integers(0, 300),
)
def test_property_current_versions_are_always_kept(histories: list[Any], rules: Rules, cap: int | None) -> None:
    paths = []
    for p, (history, head_at) in enumerate(histories):
        versions = [v(f"{p}-{i}", NOW + secs * NS, kind, size) for i, (secs, kind, size) in enumerate(history)]
        head = versions[head_at % len(versions)]
        paths.append((f"p{p}", versions, head.id))
    decisions = plan(paths, Policy(rules, max_old_bytes=cap), NOW)
    by_id = {d.id: d for d in decisions}
    assert len(by_id) == sum(len(vs) for _, vs, _ in paths)
    for _, versions, head in paths:
        top = next(c for c in versions if c.id == head)
        if top.kind != "deleted":
            assert by_id[head].keep and by_id[head].reasons[0] == "current"
    assert all(d.reasons for d in decisions)
    if cap is not None:
        live_heads = {h for _, vs, h in paths if any(c.id == h and c.kind != "deleted" for c in vs)}
        assert sum(d.size for d in decisions if d.keep and d.id not in live_heads) <= cap


# -- patterns and overrides --------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, path, hit",
    [
        ("*.log", "x.log", True),
        ("*.log", "a/b/x.log", True),
        ("*.log", "x.log.gz", False),
        ("*.log", "logs/x", False),
        ("build", "build", True),
        ("build", "build/out/a.o", True),  # a matched directory covers everything below it
        ("build", "src/build/a.o", True),  # no '/': any depth
        ("build", "builds/a", False),
        ("build/", "build/a", True),
        ("/build", "src/build/a", False),  # a '/' anchors at the root
        ("docs/drafts", "docs/drafts/x.md", True),
        ("docs/drafts", "a/docs/drafts/x.md", False),
        ("docs/*.md", "docs/a.md", True),
        ("docs/*.md", "docs/sub/a.md", False),  # '*' never crosses a '/'
        ("docs/**/*.md", "docs/a.md", True),
        ("docs/**/*.md", "docs/sub/deeper/a.md", True),
        ("**/cache", "a/b/cache/x", True),
        ("logs/**", "logs/a/b", True),
        ("logs/**", "logs", False),
        ("photo?.jpg", "photo1.jpg", True),
        ("photo?.jpg", "photo10.jpg", False),
        ("[ab]*.txt", "b1.txt", True),
        ("[!ab]*.txt", "b1.txt", False),
        ("[!ab]*.txt", "c1.txt", True),
        ("a[", "a[", True),  # an unclosed '[' is literal
        ("\\*.txt", "*.txt", True),
        ("\\*.txt", "x.txt", False),
        ("a.b", "axb", False),  # '.' is literal
        ("notes (old)", "notes (old)/x", True),
    ],
)
def test_patterns(pattern: str, path: str, hit: bool) -> None:
    check_pattern(pattern)
    assert matches(pattern, path) is hit


@pytest.mark.parametrize("pattern", ["", "/", "!*.log", "a//b", "../x", "a/./b", "x\x00", 5, None])
def test_bad_patterns_are_refused(pattern: Any) -> None:
    with pytest.raises(ValueError, match="pattern"):
        check_pattern(pattern)


def test_overrides_first_match_wins_and_lay_over_the_share_rules() -> None:
    policy = Policy(
        Rules(keep_last=5, keep_daily=7),
        overrides=(("*.log", Rules(keep_last=1, keep_daily=0)), ("logs/**", Rules(keep_weekly=2))),
    )
    assert policy.for_path("a/b/x.log") == Rules(keep_last=1, keep_daily=0)
    assert policy.for_path("logs/keep.txt") == Rules(keep_last=5, keep_daily=7, keep_weekly=2)
    assert policy.for_path("logs/x.log") == Rules(keep_last=1, keep_daily=0)  # *.log comes first
    assert policy.for_path("notes.txt") == Rules(keep_last=5, keep_daily=7)


def test_overlay() -> None:
    base = Rules(keep_last=3, keep_deleted=DAY)
    assert base.overlay(Rules(keep_daily=2, keep_last=1)) == Rules(keep_last=1, keep_daily=2, keep_deleted=DAY)
    assert base.overlay(Rules()) == base
    assert Rules().overlay(base) == base


# -- JSON -------------------------------------------------------------------------------------


def test_default_policy() -> None:
    assert DEFAULT_POLICY == Policy(
        Rules(keep_last=10, keep_hourly=48, keep_daily=7, keep_weekly=4, keep_monthly=24, keep_yearly=3,
              keep_deleted=90 * DAY)
    )  # fmt: skip
    assert share_policy({"name": "x"}) is DEFAULT_POLICY
    assert share_policy({"policy": {"keep-last": 2, "updated": 5}}) == Policy(Rules(keep_last=2), updated=5)


def test_json_form_and_round_trip() -> None:
    policy = Policy(
        Rules(keep_last=10, keep_within=30 * DAY, keep_deleted=90 * DAY),
        overrides=(("*.log", Rules(keep_last=2)), ("big/", Rules(keep_daily=1, keep_within=0))),
        max_old_bytes=10 << 30,
        updated=1_700_000_000_123_456_789,
    )
    doc = policy.to_json()
    assert json.dumps(doc, sort_keys=True) == json.dumps(
        {
            "keep-last": 10,
            "keep-within": 2592000,
            "keep-deleted": 7776000,
            "max-old-bytes": 10737418240,
            "overrides": [{"pattern": "*.log", "keep-last": 2}, {"pattern": "big/", "keep-within": 0, "keep-daily": 1}],
            "updated": 1700000000123456789,
        },
        sort_keys=True,
    )
    assert Policy.from_json(json.loads(json.dumps(doc))) == policy
    assert Policy.from_json(DEFAULT_POLICY.to_json()) == DEFAULT_POLICY
    assert Policy(Rules()).to_json() == {"updated": 0}
    assert Policy.from_json({}) == Policy(Rules())


@pytest.mark.parametrize(
    "doc, message",
    [
        ([], "must be a JSON object"),
        ({"keep-last": -1}, "keep-last must not be negative"),
        ({"keep-daily": 1.5}, "keep-daily must be a whole number"),
        ({"keep-daily": "3"}, "keep-daily must be a whole number"),
        ({"keep-weekly": True}, "keep-weekly must be a whole number"),
        ({"keep-within": None}, "keep-within must be a whole number"),
        ({"keep-hourlies": 3}, "unknown rule keep-hourlies"),
        ({"keep_last": 3}, "unknown rule keep_last"),
        ({"max-old-bytes": -5}, "max-old-bytes must not be negative"),
        ({"updated": "now"}, "updated must be a whole number"),
        ({"overrides": {}}, "overrides must be a list"),
        ({"overrides": ["*.log"]}, "each override must be a JSON object"),
        ({"overrides": [{"keep-last": 1}]}, "pattern"),
        ({"overrides": [{"pattern": "!x", "keep-last": 1}]}, "negation"),
        ({"overrides": [{"pattern": "*.log"}]}, "sets no rule"),
        ({"overrides": [{"pattern": "*.log", "keep-last": -2}]}, "override '\\*.log': keep-last must not be negative"),
        ({"overrides": [{"pattern": "*.log", "max-old-bytes": 2}]}, "unknown rule max-old-bytes"),
        ({"overrides": [{"pattern": "a", "keep-last": 1}, {"pattern": "a", "keep-last": 2}]}, "given twice"),
    ],
)
def test_malformed_policies_are_refused(doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy.from_json(doc)


def test_lenient_reading_ignores_unknown_rules_but_not_malformed_known_ones() -> None:
    newer = {"keep-last": 3, "keep-tagged": 5, "overrides": [{"pattern": "*.iso", "keep-tagged": 1}], "updated": 9}
    assert Policy.from_json(newer, lenient=True) == Policy(Rules(keep_last=3), (("*.iso", Rules()),), updated=9)
    with pytest.raises(ValueError, match="keep-tagged"):
        Policy.from_json(newer)
    with pytest.raises(ValueError, match="must not be negative"):
        Policy.from_json({"keep-last": -3, "keep-tagged": 5}, lenient=True)


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0s"), (90, "1min30s"), (3600, "1h"), (30 * DAY, "30d"), (90 * DAY, "90d"), (365 * DAY, "1y"),
     (365 * DAY + 12 * 3600, "1y12h")],
)  # fmt: skip
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


# -- far times (review 5, R1) -------------------------------------------------------------------


def test_a_far_keep_deleted_or_deletion_time_is_a_reason_not_a_crash() -> None:
    """The reason "deleted, kept until <time>" past what gmtime takes (year ~2^31) raised OSError/OverflowError,
    and every forget and `sync --prune` of the share with it."""
    deleted = [v("gone", NOW - DAY * NS, kind="deleted", size=0), v("a", NOW - 2 * DAY * NS)]
    huge = decide(deleted, Rules(keep_deleted=9999999999 * 365 * DAY))
    assert huge[0].keep and huge[0].reasons == ("deleted, kept until after 9999",)
    far = [v("gone", 10**30, kind="deleted", size=0)]
    assert decide(far, Rules(keep_deleted=90 * DAY))[0].reasons == ("deleted, kept until after 9999",)
    assert decide(deleted, Rules(keep_deleted=DAY * 2))[0].reasons == ("deleted, kept until 2026-12-16T12:00:00Z",)


def test_a_duration_past_1000_years_reads_as_1000_years() -> None:
    """A SyncConfig from another fog may carry any int; 1000 years keeps as much as longer would."""
    limit = 1000 * 365 * DAY
    doc = {"keep-deleted": 10**40, "keep-within": limit + 1, "keep-last": 10**40, "overrides": []}
    policy = Policy.from_json({**doc, "overrides": [{"pattern": "*.log", "keep-within": 10**20}]})
    assert policy.rules.keep_deleted == limit and policy.rules.keep_within == limit
    assert policy.rules.keep_last == 10**40  # (a count: nothing to format)
    assert policy.overrides[0][1].keep_within == limit
    assert Rules.from_json({"keep-deleted": limit}).keep_deleted == limit


def test_one_day_is_said_in_the_singular() -> None:
    """review 7 newuser (minor): "deleted 1 days ago"; `fog log` said "1 days ago" too."""
    from fog.cli.text import human_age

    assert human_age(NOW - DAY * NS - 5 * NS, NOW) == "1 day ago"
    assert human_age(NOW - 3 * DAY * NS, NOW) == "3 days ago"
    deleted = [v("gone", NOW - DAY * NS - 5 * NS, kind="deleted")]
    assert set(why(decide(deleted, Rules(keep_deleted=0), head="gone")).values()) == {
        ("deleted 1 day ago (keep-deleted 0s)",)
    }
