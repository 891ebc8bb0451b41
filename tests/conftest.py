"""Fixtures shared by every test."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_fog_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the developer's FOG_* settings and identity out of every test."""
    for key in list(os.environ):
        if key.startswith("FOG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("FOG_HOME", str(tmp_path_factory.mktemp("fog-home")))
