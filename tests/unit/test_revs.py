"""Times in REVs (fog.repo.revs): a date names its whole span, to the last nanosecond, in any year."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fog.repo.revs import LAST_NS, parse_time


@pytest.fixture
def utc() -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = saved
    time.tzset()


def _ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1_000_000_000


@pytest.mark.parametrize("year", [1970, 2026, 2100, 5000, 9998])
def test_a_day_ends_right_before_the_next_one(utc: None, year: int) -> None:
    """Past 2100 or so the day's last microsecond, as a float timestamp, rounded up to the next day."""
    assert parse_time(f"{year}-12-31") == _ns(year + 1, 1, 1) - 1
    assert parse_time(f"{year}-12-31T23:59:59Z") == _ns(year + 1, 1, 1) - 1


def test_the_end_of_year_9999_is_the_last_instant(utc: None) -> None:
    assert parse_time("9999-12-31") == LAST_NS
    assert parse_time("9999-12-31T23:59:59.999999-05:00") == LAST_NS  # (past what a datetime holds in UTC)
    assert datetime.fromtimestamp(LAST_NS // 1_000_000_000, UTC).year == 9999
    assert parse_time("0001-01-01T00:00:00+01:00") == 0  # (before everything fog has)
