"""`fog serve`'s command line: bad values and bad directories are one-line usage errors (exit 2)."""

from __future__ import annotations

import os
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


def test_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x\n")
    for args in (("--show-key",), ("--stdio",), ("--listen", "127.0.0.1:0")):
        one_line_usage(serve(str(tmp_path / "plain"), *args), f"{tmp_path / 'plain'} is not a directory")
        one_line_usage(serve(str(tmp_path / "plain" / "node"), *args), "is not a directory")
    assert (tmp_path / "plain").read_text() == "x\n"


def test_dir_inside_a_share_is_refused(tmp_path: Path) -> None:
    """The node's secret key and its users' spaces would be pushed (and listed by `fog status`)."""
    share = tmp_path / "share"
    (share / ".fog").mkdir(parents=True)
    (share / ".fog" / "config.json").write_text("{}")
    (tmp_path / "link").symlink_to(share / "sub", target_is_directory=True)
    for d, what in ((share, "is a fog share"), (share / "sub" / "node", f"is inside the fog share {share}")):
        for args in (("--show-key",), ("--stdio",), ("--listen", "127.0.0.1:0")):
            one_line_usage(serve(str(d), *args), what)
    one_line_usage(serve("link/node", "--show-key", cwd=tmp_path), f"is inside the fog share {share}")
    assert not (share / "node.json").exists() and not (share / "sub").exists()
    r = serve(str(tmp_path / "node"), "--show-key")  # outside: fine
    assert r.returncode == 0 and r.stdout.startswith("fognode-"), r.stderr


def test_share_mark_matches_the_repo() -> None:
    from fog.cli.serving import SHARE_MARK
    from fog.repo.history import FOG_DIR

    assert SHARE_MARK[0] == FOG_DIR


@pytest.mark.parametrize("value", ["0", "64K", "1048575"])
def test_max_object_is_at_least_one_mebibyte(tmp_path: Path, value: str) -> None:
    """Below 1M even one block (up to 256 KiB) or a device list might not fit: refused at the start."""
    one_line_usage(serve(str(tmp_path / "node"), "--max-object", value, "--show-key"), "--max-object")
    one_line_usage(serve(str(tmp_path / "node"), "--max-object", value, "--stdio"), "--max-object")


def test_a_directory_holding_other_files_is_not_made_a_node(tmp_path: Path) -> None:
    """`fog serve /srv --show-key` (meant: /srv/fog) wrote a node key into /srv and set it to 0700, dropping
    other users' access and a sticky bit (review 5, serve 8)."""
    d = tmp_path / "srv"
    d.mkdir()
    (d / "someone-elses.txt").write_text("x\n")
    os.chmod(d, 0o1777)
    for args in (("--show-key",), ("--listen", "127.0.0.1:0")):
        one_line_usage(serve(str(d), *args), "is not empty and holds no fog node")
    assert sorted(p.name for p in d.iterdir()) == ["someone-elses.txt"]
    assert d.stat().st_mode & 0o7777 == 0o1777
    empty = tmp_path / "empty"
    empty.mkdir()
    assert serve(str(empty), "--show-key").returncode == 0
    assert serve(str(empty), "--show-key").returncode == 0  # (a node's now: its key again)
