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


def _fog_callables() -> dict[tuple[str, str], object]:
    """Every function and class bound at the top of a loaded fog module, by (module, name)."""
    import sys
    import types

    found: dict[tuple[str, str], object] = {}
    for modname, module in list(sys.modules.items()):
        if modname != "fog" and not modname.startswith("fog."):
            continue
        for name, value in list(vars(module).items()):
            if isinstance(value, (types.FunctionType, type)):
                found[(modname, name)] = value
    return found


@pytest.fixture
def _no_leaked_patches() -> object:
    """Fail a test that leaves a fog function or class replaced: the next tests would run the patch.

    Tests run fog in this process, and a patch that outlives its test (one applied by exec'd code
    that monkeypatch then records as the original) slowed every later restore by a sleep per block,
    stacked once per test that applied it: 100 s for a 64 MiB restore late in the suite."""
    before = _fog_callables()
    yield
    changed = sorted(
        f"{mod}.{name}"
        for (mod, name), value in _fog_callables().items()
        if (mod, name) in before and before[(mod, name)] is not value
    )
    assert not changed, f"left patched after the test: {', '.join(changed)}"


@pytest.fixture(autouse=True)
def _isolated_fog_env(
    _no_leaked_patches: None, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Keep the developer's FOG_* settings and identity out of every test (and check for leaked
    patches after monkeypatch has undone its own: requested first, it is torn down last)."""
    for key in list(os.environ):
        if key.startswith("FOG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("FOG_HOME", str(tmp_path_factory.mktemp("fog-home")))
