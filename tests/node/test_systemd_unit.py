"""contrib/systemd/fog-serve.service: systemd accepts it, and `fog serve` accepts its ExecStart.

`systemd-analyze verify` runs on a copy whose ExecStart names a fog executable that exists (the unit's
/usr/local/bin/fog need not), with MANPATH pointing at this checkout's man pages (its Documentation=
is `man:fog-serve(1)`); skipped where systemd-analyze is missing. The ExecStart's options are then
given to a real `fog serve` (its DIR and --listen replaced by a temporary directory and 127.0.0.1:0),
which must listen and stop on SIGTERM with a status the unit counts as success.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fognode import REPO, NodeProcess

UNIT = REPO / "contrib" / "systemd" / "fog-serve.service"


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def _exec_start() -> list[str]:
    (line,) = _directives(UNIT.read_text())["ExecStart"]
    return shlex.split(line)


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    argv = _exec_start()
    fog_bin = shutil.which("fog") or str(Path(sys.executable).parent / "fog")
    assert os.access(fog_bin, os.X_OK), fog_bin
    text = UNIT.read_text()
    copy = tmp_path / "fog-serve.service"  # (the unit's name: verify reads it from the file name)
    copy.write_text(text.replace(f"ExecStart={argv[0]} ", f"ExecStart={fog_bin} ", 1))
    assert copy.read_text() != text
    (tmp_path / "man").mkdir()
    (tmp_path / "man" / "man1").symlink_to(REPO / "man")
    env = {**os.environ, "MANPATH": str(tmp_path / "man"), "SYSTEMD_LOG_COLOR": "0"}
    r = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, env=env, timeout=60)
    said = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    # without a `man` that finds the page (no man-db installed), that lookup is all it may report
    said = [line for line in said if not re.search(r"Command 'man fog-serve\(1\)' failed", line)]
    assert not said, "\n".join(said)
    assert r.returncode == 0 or re.search(r"man fog-serve\(1\)", r.stdout + r.stderr), r


def test_the_units_exec_start_runs_fog_serve(tmp_path: Path, fog_node: Callable[..., NodeProcess]) -> None:
    argv = _exec_start()
    assert Path(argv[0]).name == "fog" and argv[1] == "serve", argv
    directives = _directives(UNIT.read_text())
    # the node's directory is the one systemd makes for it (StateDirectory=, under /var/lib)
    (state,) = directives["StateDirectory"]
    assert argv[2] == f"/var/lib/{state}", argv
    options = argv[3:]
    assert "--listen" in options, "the unit says where it listens"
    i = options.index("--listen")
    options[i + 1] = "127.0.0.1:0"
    node = fog_node(*options, root=tmp_path / "node")
    assert node.alive() and node.port
    with socket.create_connection(("127.0.0.1", node.port), timeout=5):
        pass
    assert node.proc is not None
    node.proc.send_signal(signal.SIGTERM)  # what `systemctl stop` sends
    rc = node.proc.wait(timeout=15)
    assert (tmp_path / "node" / "node.json").is_file()
    # `systemctl stop` must not leave the unit failed: a status other than 0 is listed as a success
    success = " ".join(directives.get("SuccessExitStatus", [])).split()
    assert rc == 0 or str(rc) in success, f"fog serve exits {rc} on SIGTERM; SuccessExitStatus={success}"
