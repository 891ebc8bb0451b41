"""fog policy show|set, and the retention options fog forget shares (fog.cli.policy_opts)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from fogcli import Share

from fog.cli.policy_opts import parse_duration, parse_size, policy_from_options
from fog.errors import UsageError
from fog.format.policy import DEFAULT_POLICY, Policy, Rules

DAY = 86400
DEFAULTS = {k: v for k, v in DEFAULT_POLICY.to_json().items() if k != "updated"}


def config_versions(remote: Path) -> list[Path]:
    return sorted(p for p in remote.glob("config/*/*") if p.is_file())


def shown(share: Share) -> dict[str, Any]:
    doc = share.fog("policy", "show", "--json").json()
    doc["policy"].pop("updated")
    return doc


def set_policy(share: Share, *args: str, expect: int = 0) -> dict[str, Any]:
    return share.fog("policy", "set", *args, "--json", expect=expect).json()


def test_show_the_defaults_until_a_policy_is_set(share: Share) -> None:
    assert shown(share) == {"stored": False, "policy": DEFAULTS}
    text = share.fog("policy", "show").out
    assert "fog's defaults (none is stored" in text
    assert "keep-last     10" in text and "keep-deleted  90d" in text and "max-old-size  no limit" in text
    assert "keep-within   not set" in text


def test_set_changes_the_given_rules_and_publishes_a_syncconfig_version(share: Share) -> None:
    before = config_versions(share.remote)
    doc = set_policy(share, "--keep-last", "3", "--keep-within", "30d", "--max-old-size", "1.5G")
    assert doc["changed"] is True and doc["previous_stored"] is False
    assert doc["published"] == ["origin"] and doc["remote_errors"] == {}
    assert doc["changes"] == ["keep-last: 10 -> 3", "keep-within: not set -> 30d", "max-old-size: no limit -> 1.5 GiB"]
    assert len(config_versions(share.remote)) == len(before) + 1
    expected = {**DEFAULTS, "keep-last": 3, "keep-within": 30 * DAY, "max-old-bytes": 3 << 29}
    assert shown(share) == {"stored": True, "policy": expected}
    assert doc["policy"]["updated"] > 0 and doc["previous"] == DEFAULT_POLICY.to_json()
    # the cached SyncConfig holds it (what every command of this device reads)
    cached = json.loads((Path(os.environ["FOG_HOME"]) / "syncconfig.json").read_text())
    (entry,) = cached["shares"].values()
    assert entry["policy"] == doc["policy"]
    # the same rules again: nothing to write
    again = set_policy(share, "--keep-last", "3")
    assert again["changed"] is False and again["changes"] == [] and again["published"] == []
    assert len(config_versions(share.remote)) == len(before) + 1
    assert "unchanged" in share.fog("policy", "set", "--keep-within", "30d").out


def test_set_prints_what_changed(share: Share) -> None:
    out = share.fog("policy", "set", "--keep-daily", "3", "--keep-deleted", "2w").out
    assert "published on origin" in out
    assert "  keep-daily: 7 -> 3\n" in out and "  keep-deleted: 90d -> 14d\n" in out
    out = share.fog("policy", "set", "--keep-deleted", "forever").out
    assert "  keep-deleted: 14d -> forever\n" in out
    assert "keep-deleted" not in shown(share)["policy"]


def test_storing_the_defaults_says_so(share: Share) -> None:
    out = share.fog("policy", "set", "--keep-last", "10").out
    assert "fog's defaults are now stored as the share's policy" in out
    assert shown(share) == {"stored": True, "policy": DEFAULTS}


def test_unset_removes_rules(share: Share) -> None:
    set_policy(share, "--max-old-size", "10G")
    doc = set_policy(share, "--unset", "keep-daily", "--unset", "keep-hourly,keep-weekly", "--unset", "max-old-size")
    assert doc["changes"] == [
        "keep-hourly: 48 -> not set",
        "keep-daily: 7 -> not set",
        "keep-weekly: 4 -> not set",
        "max-old-size: 10.0 GiB -> no limit",
    ]
    policy = shown(share)["policy"]
    assert {"keep-hourly", "keep-daily", "keep-weekly", "max-old-bytes"}.isdisjoint(policy)
    assert policy["keep-last"] == 10
    set_policy(share, "--unset", "keep-last", "--unset", "keep-monthly", "--unset", "keep-yearly")
    text = share.fog("policy", "show").out
    assert "No rule keeps versions: every version is kept" in text


def test_reset_goes_back_to_the_defaults_and_drops_overrides(share: Share) -> None:
    set_policy(share, "--keep-last", "2", "--unset", "keep-daily", "--max-old-size", "1G")
    set_policy(share, "--path", "*.log", "--keep-last", "1")
    doc = set_policy(share, "--reset")
    assert shown(share) == {"stored": True, "policy": DEFAULTS}
    assert "override *.log: removed" in doc["changes"]
    set_policy(share, "--reset", "--keep-last", "5")
    assert shown(share)["policy"] == {**DEFAULTS, "keep-last": 5}


def test_path_overrides(share: Share) -> None:
    doc = set_policy(share, "--path", "*.log", "--keep-last", "2")
    assert doc["changes"] == ["override *.log: added (keep-last 2)"]
    set_policy(share, "--path", "build/", "--keep-daily", "1", "--keep-deleted", "1d")
    doc = set_policy(share, "--path", "*.log", "--keep-within", "12h")  # changed in place: the order stays
    assert doc["changes"] == ["override *.log: keep-last 2 -> keep-last 2, keep-within 12h"]
    policy = shown(share)["policy"]
    assert policy["overrides"] == [
        {"pattern": "*.log", "keep-last": 2, "keep-within": 43200},
        {"pattern": "build/", "keep-daily": 1, "keep-deleted": DAY},
    ]
    assert {k: v for k, v in policy.items() if k != "overrides"} == DEFAULTS  # the share-wide rules are untouched
    text = share.fog("policy", "show").out
    assert "Overrides (the first pattern that matches a path wins" in text
    assert "  *.log   keep-last 2, keep-within 12h\n" in text and "  build/  keep-daily 1, keep-deleted 1d\n" in text
    # unsetting its last rules drops the override; --reset --path drops it at once
    set_policy(share, "--path", "*.log", "--unset", "keep-last", "--unset", "keep-within")
    doc = set_policy(share, "--path", "build/", "--reset")
    assert doc["changes"] == ["override build/: removed"]
    assert "overrides" not in shown(share)["policy"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--keep-within", "3x"], "--keep-within '3x': give a duration such as 30d"),
        (["--keep-within", "30"], "--keep-within '30': give a duration"),
        (["--keep-deleted", "-1d"], "--keep-deleted '-1d': give a duration"),
        (["--keep-within", "forever"], "--keep-within forever would keep every version"),
        (["--keep-last", "-1"], "--keep-last '-1': give a whole number, 0 or more"),
        (["--keep-daily", "two"], "--keep-daily 'two': give a whole number"),
        (["--keep-weekly", "1.5"], "--keep-weekly '1.5': give a whole number"),
        (["--max-old-size", "10Q"], "--max-old-size '10Q': give a size such as 500M"),
        (["--max-old-size", "lots"], "--max-old-size 'lots': give a size"),
        (["--unset", "keep-forever"], "--unset 'keep-forever': not a rule (rules: keep-last"),
        (["--keep-daily", "3", "--unset", "keep-daily"], "--keep-daily and --unset keep-daily"),
        (["--path", "!*.log", "--keep-last", "1"], "--path '!*.log': negation is not supported"),
        (["--path", "a//b", "--keep-last", "1"], "--path 'a//b': empty, '.' and '..' segments"),
        (["--path", "x[z-a]", "--keep-last", "1"], "--path 'x[z-a]': bad character range z-a"),
        (["--path", "*.log", "--max-old-size", "1G"], "--max-old-size is share-wide"),
        (["--path", "*.log", "--keep-deleted", "forever"], "--keep-deleted forever cannot be set for a --path"),
        ([], "nothing to change"),
        (["--keep-deleted", "9999999999y"], "--keep-deleted '9999999999y': the longest duration fog takes is 1000y"),
        (["--keep-within", "1000y1s"], "--keep-within '1000y1s': the longest duration fog takes is 1000y"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(share: Share, args: list[str], message: str) -> None:
    before = config_versions(share.remote)
    r = share.fog("policy", "set", *args, expect=2)
    assert r.one_line_error() == f"fog: {r.one_line_error()[5:]}" and message in r.one_line_error(), r.err
    assert r.out == ""
    err = json.loads(share.fog("policy", "set", *args, "--json", expect=2).one_line_error())
    assert err["kind"] == "usage" and message in err["message"]
    assert config_versions(share.remote) == before
    assert shown(share)["stored"] is False


def test_a_remote_that_cannot_be_reached_is_named_and_the_others_get_the_policy(share: Share) -> None:
    share.fog("remote", "add", "second", share.tmp / "remote2")
    shutil.move(share.tmp / "remote2", share.tmp / "away")
    r = share.fog("policy", "set", "--keep-last", "4", "--json", expect=1)
    doc = r.json()
    assert doc["published"] == ["origin"] and set(doc["remote_errors"]) == {"second"}
    assert "second" in r.one_line_error()
    assert shown(share)["policy"]["keep-last"] == 4


def test_nothing_changes_when_no_remote_can_be_read(share: Share) -> None:
    shutil.move(share.remote, share.tmp / "away")
    r = share.fog("policy", "set", "--keep-last", "4", expect=1)
    assert "the policy was not changed: no remote of the share could be read" in r.one_line_error()
    shutil.move(share.tmp / "away", share.remote)
    assert shown(share) == {"stored": False, "policy": DEFAULTS}


def test_a_policy_with_a_rule_this_fog_does_not_know_is_not_used_nor_changed(share: Share) -> None:
    set_policy(share, "--keep-last", "4")
    cache = Path(os.environ["FOG_HOME"]) / "syncconfig.json"
    doc = json.loads(cache.read_text())
    (entry,) = doc["shares"].values()
    entry["policy"] = {**entry["policy"], "keep-tagged": 3, "updated": entry["policy"]["updated"] + 1}
    cache.write_text(json.dumps(doc))
    for args in (["show"], ["set", "--keep-last", "5"]):
        r = share.fog("policy", *args, expect=1)
        assert "cannot be used by this fog (policy: unknown rule keep-tagged" in r.one_line_error()
        assert "upgrade fog" in r.one_line_error()


# -- the options fog forget shares ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("90s", 90),
        ("5min", 300),
        ("12h", 12 * 3600),
        ("30d", 30 * DAY),
        ("2w", 14 * DAY),
        ("6m", 180 * DAY),
        ("6mo", 180 * DAY),
        ("1y", 365 * DAY),
        ("1y6m", 545 * DAY),
        ("0d", 0),
        (" 3D ", 3 * DAY),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "3 d", "1.5d", "-1d", "3x", "forever", "1y-6m", "3dd"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError, match="give a duration"):
        parse_duration(text, "--keep-within")


@pytest.mark.parametrize(
    "text, size",
    [("0", 0), ("1048576", 1 << 20), ("500M", 500 << 20), ("10G", 10 << 30), ("1.5T", 3 << 39), ("2k", 2048),
     ("10GiB", 10 << 30), ("10GB", 10 << 30), ("12B", 12)],
)  # fmt: skip
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "-1G", "10Q", "1,5G", "1e9"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(UsageError, match="give a size"):
        parse_size(text, "--max-old-size")


def test_policy_from_options_is_only_the_options_given() -> None:
    assert policy_from_options() is None
    assert policy_from_options(keep_last="3") == Policy(Rules(keep_last=3))
    assert policy_from_options(keep_last=3, keep_daily="0") == Policy(Rules(keep_last=3, keep_daily=0))
    assert policy_from_options(keep_within="30d", keep_deleted="1y", max_old_size="1G") == Policy(
        Rules(keep_within=30 * DAY, keep_deleted=365 * DAY), max_old_bytes=1 << 30
    )
    assert policy_from_options(keep_deleted="forever") == Policy(Rules())  # given: a policy that keeps everything
    assert policy_from_options(max_old_size="0") == Policy(Rules(), max_old_bytes=0)
    with pytest.raises(UsageError, match="--keep-hourly"):
        policy_from_options(keep_hourly=-1)
    with pytest.raises(UsageError, match="--keep-yearly"):
        policy_from_options(keep_yearly=True)  # type: ignore[arg-type]
