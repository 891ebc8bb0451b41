"""The cached SyncConfig and the config versions it is known to hold (fog.repo.identity)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fog.errors import IdentityError
from fog.format.syncconfig import SyncConfig
from fog.repo.identity import Identity


def _config(ident: Identity, name: str) -> SyncConfig:
    return SyncConfig(ident.user_json(), {ident.device_id: {"name": name, "updated": 1}})


def test_merged_version_names_live_and_die_with_the_cached_copy(tmp_path: Path) -> None:
    ident = Identity.create(tmp_path / "home", name="pc")
    assert ident.cached_state() == (None, set())
    ident.cache_config(_config(ident, "pc"), {"config/x/1", "config/x/2"})
    config, names = ident.cached_state()
    assert config == _config(ident, "pc") and names == {"config/x/1", "config/x/2"}
    assert ident.cached_config() == config  # the names do not change what the config is
    ident.cache_config(_config(ident, "renamed"))  # any other write forgets them: the next pull reads all
    assert ident.cached_state() == (_config(ident, "renamed"), set())


def test_a_damaged_list_of_names_is_an_identity_error(tmp_path: Path) -> None:
    ident = Identity.create(tmp_path / "home", name="pc")
    ident.cache_config(_config(ident, "pc"), {"config/x/1"})
    path = tmp_path / "home" / "syncconfig.json"
    doc = json.loads(path.read_text())
    doc["merged_versions"] = "config/x/1"
    path.write_text(json.dumps(doc))
    with pytest.raises(IdentityError, match="unreadable"):
        ident.cached_state()


def test_names_merged_by_an_older_fog_are_read_again(tmp_path: Path) -> None:
    """An older fog's merge dropped one key of an epoch that two devices started at once; the version that
    holds it is still on the remote. A cached copy without `merge_rules` gives no names: every version is
    read (and merged by today's rules, which keep every key) once."""
    ident = Identity.create(tmp_path / "home", name="pc")
    ident.cache_config(_config(ident, "pc"), {"config/x/1"})
    path = tmp_path / "home" / "syncconfig.json"
    doc = json.loads(path.read_text())
    assert doc["merge_rules"] == 2
    del doc["merge_rules"]
    path.write_text(json.dumps(doc))
    assert ident.cached_state() == (_config(ident, "pc"), set())
