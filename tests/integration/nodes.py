"""Real `fog serve` processes on 127.0.0.1 for the tests: started from this worktree's code, stopped
by the test (or the fixture) that started them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on (\S+):(\d+) \(node key (fognode-[0-9A-Z-]+)\)")


@dataclass
class NodeProcess:
    """One `fog serve DIR --listen 127.0.0.1:PORT`; its key, port and log."""

    directory: Path
    log: Path
    extra: list[str] = field(default_factory=list)
    port: int = 0
    key: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"fog://{self.address}"

    def start(self, port: int = 0, timeout: float = 20.0) -> NodeProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOG_")}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        with open(self.log, "ab") as log:
            start = log.tell()
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fog",
                    "serve",
                    str(self.directory),
                    "--listen",
                    f"127.0.0.1:{port}",
                    *self.extra,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=self.directory.parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log, "rb") as f:
                f.seek(start)
                m = _LISTENING.search(f.read().decode(errors="replace"))
            if m:
                self.port, self.key = int(m.group(2)), m.group(3)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"fog serve did not start:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Start nodes in tmp_path (`node_factory("name")`); every one is stopped at the end."""
    started: list[NodeProcess] = []

    def make(name: str = "node", *extra: str) -> NodeProcess:
        d = tmp_path / f"serve-{name}"
        d.mkdir()
        n = NodeProcess(d, tmp_path / f"serve-{name}.log", list(extra))
        started.append(n)
        return n.start()

    yield make
    for n in started:
        n.stop()
