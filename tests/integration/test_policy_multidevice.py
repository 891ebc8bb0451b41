"""The retention policy travels in the SyncConfig: set on one device, every other applies it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_multidevice import Device, World, make_pair


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def policy(dev: Device) -> dict[str, Any]:
    doc = dev.fog("policy", "show", "--json").json()
    assert doc["stored"] is True
    return doc["policy"]


def test_a_policy_set_on_one_device_is_shown_on_another_after_its_pull(world: World) -> None:
    a, b = make_pair(world)
    a.fog("policy", "set", "--keep-last", "3", "--keep-within", "30d")
    a.fog("policy", "set", "--path", "*.log", "--keep-last", "1")
    assert b.fog("policy", "show", "--json").json()["stored"] is False  # not pulled yet
    b.pull()
    assert policy(b) == policy(a)
    assert policy(b)["keep-last"] == 3 and policy(b)["overrides"] == [{"pattern": "*.log", "keep-last": 1}]
    assert "*.log" in b.fog("policy", "show").out


def test_a_change_starts_from_what_the_remotes_hold_not_from_a_stale_copy(world: World) -> None:
    a, b = make_pair(world)
    a.fog("policy", "set", "--keep-last", "3")
    # b has not pulled: its own copy still has no policy, yet its change keeps a's
    doc = b.fog("policy", "set", "--keep-daily", "2", "--json").json()
    assert doc["previous_stored"] is True and doc["changes"] == ["keep-daily: 7 -> 2"]
    a.pull()
    assert policy(a) == policy(b)
    assert (policy(a)["keep-last"], policy(a)["keep-daily"]) == (3, 2)
