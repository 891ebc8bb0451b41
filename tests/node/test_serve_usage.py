"""`fog serve`'s command line: bad values and bad directories are one-line usage errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fognode import node_env

from fog.backends.base import open_backend
from fog.errors import UsageError


def serve(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fog", "serve", *args],
        capture_output=True,
        text=True,
        env=node_env(),
        timeout=30,
        cwd=cwd,
    )


def one_line_usage(r: subprocess.CompletedProcess[str], text: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and text in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e300"])
def test_idle_timeout_must_be_a_finite_positive_number(tmp_path: Path, value: str) -> None:
    for stdio in ((), ("--stdio",)):
        r = serve(str(tmp_path / "node"), "--idle-timeout", value, *stdio)
        one_line_usage(r, "--idle-timeout")
    assert not (tmp_path / "node").exists()


@pytest.mark.parametrize("value", ["0", "-3"])
def test_max_connections_must_be_at_least_one(tmp_path: Path, value: str) -> None:
    one_line_usage(serve(str(tmp_path / "node"), "--max-connections", value, "--show-key"), "--max-connections")


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_client_timeouts_must_be_finite_and_positive(value: str) -> None:
    with pytest.raises(UsageError, match="timeout"):
        open_backend(f"sftp://nobody@127.0.0.1:1/x?timeout={value}")
    with pytest.raises(UsageError, match="timeout"):
        open_backend("fog://127.0.0.1:1", options={"node_auth": _auth(), "timeout": value})


def _auth():  # type: ignore[no-untyped-def]
    from fog.backends.node import NodeAuth

    return NodeAuth(secret=bytes(32), node_key=bytes(32))
