"""A remote server that accepts a connection and never answers (issue 15, item 10).

fog gives up within its documented timeout (the `timeout=SECONDS` URL option)
with one line and exit 1, instead of waiting forever.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_multidevice import run_fog


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_s3_endpoint_that_never_answers(tmp_path: Path, silent_port: int) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"s3://bucket/fog?endpoint=http://127.0.0.1:{silent_port}&path_style=1&timeout=1"
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    start = time.monotonic()
    r = run_fog(
        ["init", tmp_path / "share", "--remote", url, "--master-key-file", tmp_path / "key"],
        home=home,
        cwd=tmp_path,
        env=env,
        expect=1,
        patch="import signal; signal.alarm(30)\n",
    )
    assert time.monotonic() - start < 15, str(r)
    line = r.error_line()
    assert "127.0.0.1" in line or "s3://bucket" in line, line
    assert "timed out" in line.lower() or "timeout" in line.lower(), line
