"""keep-deleted against skewed clocks (review 5, R9).

keep-deleted forgets a deleted path's whole history once the deletion is older than the rule. Measured
with the deletion's own time (its device's clock) and the trimming device's clock alone, a deletion made
on a device whose clock is behind, or one `sync --prune` while this device's clock is far ahead, erased
the file's history at the next trim instead of 90 days later, and the following prune deleted the data.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_multidevice import World, make_pair, shifted

YEAR = 365 * 86400


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def test_a_deletion_from_a_device_whose_clock_is_behind_keeps_the_history(world: World) -> None:
    a, b = make_pair(world)
    a.write("thesis.odt", "chapter one\n")
    a.fog("push", patch=shifted(-200 * 86400))  # unchanged for 200 days
    b.pull()
    (b.root / "thesis.odt").unlink()
    b.fog("sync", "-q", patch=shifted(-YEAR))  # a dead RTC battery: a year behind
    a.pull()
    preview = a.fog("forget", "-n", "--json").json()
    assert preview["versions"] == 0, preview
    a.fog("sync", "-q", "--prune")
    log = a.fog("log", "thesis.odt", "--json").json()
    assert [e["deleted"] for e in log] == [True, False], log
    a.fog("restore", f"thesis.odt@{log[1]['version'][:12]}", "-o", world.tmp / "back.odt")
    assert (world.tmp / "back.odt").read_text() == "chapter one\n"
    # 91 days after A recorded the deletion, keep-deleted lets it go, as it says
    later = a.fog("forget", "-n", "--json", patch=shifted(91 * 86400)).json()
    assert later["versions"] == 2, later


def test_one_trim_with_the_clock_far_ahead_does_not_erase_a_fresh_deletion(world: World) -> None:
    a, _ = make_pair(world)
    a.write("report.odt", "figures\n")
    a.push()
    (a.root / "report.odt").unlink()
    a.push()
    r = a.fog("sync", "--prune", patch=shifted(YEAR))  # a wrong NTP answer, once
    log = a.fog("log", "report.odt", "--json", expect=None)
    assert log.rc == 0 and len(log.json()) == 2, f"{log}\n{r}"
    assert "clock is 358.0 d past" in r.err, str(r)
    a.fog("sync", "-q", "--prune", patch=shifted(YEAR + 86400))  # another run: one more week at most
    assert len(a.fog("log", "report.odt", "--json").json()) == 2
