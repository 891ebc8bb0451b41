"""Times in REVs (fog.repo.revs): a date names its whole span, to the last nanosecond, in any year."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fog.errors import RevisionError
from fog.repo.revs import LAST_NS, parse_time


def _zone(name: str) -> Iterator[None]:
    """This process in the time zone `name`, then back."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.fixture
def utc() -> Iterator[None]:
    yield from _zone("UTC")


def _ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1_000_000_000


@pytest.mark.parametrize("year", [1970, 2026, 2100, 5000, 9998])
def test_a_day_ends_right_before_the_next_one(utc: None, year: int) -> None:
    """Past 2100 or so the day's last microsecond, as a float timestamp, rounded up to the next day."""
    assert parse_time(f"{year}-12-31") == _ns(year + 1, 1, 1) - 1
    assert parse_time(f"{year}-12-31T23:59:59Z") == _ns(year + 1, 1, 1) - 1


@pytest.mark.parametrize("text", ["2026-12-07T07", "2026-12-07 07", "2026-12-07T07Z", "20261207T07"])
def test_an_hour_alone_is_the_whole_hour(utc: None, text: str) -> None:
    """Review 6, trees T2: `2026-12-07T07` meant the end of the whole day (after a ransomware hit at 08:00)."""
    assert parse_time(text) == _ns(2026, 12, 7, 8) - 1
    assert parse_time("2026-12-07T07:30") == _ns(2026, 12, 7, 7, 31) - 1


@pytest.mark.parametrize("text", ["2026-12-07T07.5", "2026-12-07T07:30.5", "2026-12-07T07,5"])
def test_a_fraction_of_an_hour_or_a_minute_is_refused(utc: None, text: str) -> None:
    with pytest.raises(RevisionError, match="fraction"):  # Python reads T07.5 as 07:00:00.5
        parse_time(text)


def test_the_end_of_year_9999_is_the_last_instant(utc: None) -> None:
    assert parse_time("9999-12-31") == LAST_NS
    assert parse_time("9999-12-31T23:59:59.999999-05:00") == LAST_NS  # (past what a datetime holds in UTC)
    assert datetime.fromtimestamp(LAST_NS // 1_000_000_000, UTC).year == 9999
    assert parse_time("0001-01-01T00:00:00+01:00") == 0  # (before everything fog has)


@pytest.fixture
def berlin() -> Iterator[None]:
    yield from _zone("Europe/Berlin")


def test_a_local_time_shown_twice_names_the_later_moment_and_log_prints_its_offset(berlin: None) -> None:
    """2026-10-25 02:30:30 is 00:30:30Z (summer time) and 01:30:30Z (winter time) in Berlin: fog log showed
    both as 02:30:30 and the time picked the first (fold=0), so the second could not be named."""
    from fog.cli.text import local_time

    summer, winter = _ns(2026, 10, 25, 0, 30, 30), _ns(2026, 10, 25, 1, 30, 30)
    assert local_time(summer) == "2026-10-25 02:30:30+02:00"
    assert local_time(winter) == "2026-10-25 02:30:30+01:00"
    assert local_time(_ns(2026, 10, 25, 2, 0, 0)) == "2026-10-25 03:00:00"  # (once: no offset)
    assert local_time(_ns(2026, 10, 24, 23, 59, 59)) == "2026-10-25 01:59:59"
    assert local_time(_ns(2026, 3, 29, 1, 30, 0)) == "2026-03-29 03:30:00"  # (spring: nothing shown twice)
    # what log prints names that moment's second; without an offset, the span ends at the later one
    assert parse_time(local_time(summer)) == summer + 999_999_999
    assert parse_time(local_time(winter)) == winter + 999_999_999
    assert parse_time("2026-10-25 02:30:30") == winter + 999_999_999
    assert parse_time("2026-10-25T02:30") == winter + 29 * 1_000_000_000 + 999_999_999
    assert parse_time("2026-10-25") == _ns(2026, 10, 25, 23, 0, 0) - 1
    assert parse_time("2026-03-29T02:30") == _ns(2026, 3, 29, 1, 30, 59) + 999_999_999  # (a time never shown)


def test_a_far_time_is_shown_not_a_crash(utc: None) -> None:
    from fog.cli.text import iso_utc, local_time

    assert iso_utc(10**30) == local_time(10**30) == "9999-12-31T23:59:59Z"
    assert iso_utc(LAST_NS) == "9999-12-31T23:59:59Z"
    assert local_time(_ns(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05"
