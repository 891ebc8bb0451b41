"""Fixtures shared by every test."""

from __future__ import annotations

import os

import pytest

# Fixture modules in tests/ shared by several test directories; one per line.
pytest_plugins = [
    "s3server",  # s3_server, s3_env, s3_url: a real SeaweedFS S3 server
    "sshd",  # sshd_server, ssh_home: a real OpenSSH server and a HOME whose ~/.ssh trusts it
    "fognode",  # fog_node: a real `fog serve` on 127.0.0.1; User: a user's keys and roster
]


@pytest.fixture(autouse=True)
def _isolated_fog_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the developer's FOG_* settings and identity out of every test."""
    for key in list(os.environ):
        if key.startswith("FOG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("FOG_HOME", str(tmp_path_factory.mktemp("fog-home")))
