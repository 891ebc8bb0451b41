"""A node reachable by strangers: its key is public (anyone may probe it), so node-wide bounds hold
whoever starts spaces: --max-spaces and --min-free (review 5, serve 6)."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from fognode import NodeProcess, User

from fog.backends.base import open_backend
from fog.backends.node import NodeBackend
from fog.crypto import channel as C
from fog.errors import RemoteError
from fog.node.server import NodeOptions

Start = Callable[..., NodeProcess]


@pytest.fixture
def start(fog_node: Start) -> Start:
    return fog_node


def _stranger(n: NodeProcess) -> NodeBackend:
    """A client that knows nothing but the address: the node key from the node itself, a made-up user."""
    sock = socket.create_connection(("127.0.0.1", n.port), timeout=10)
    pipe = C.SocketPipe(sock)
    node_public = C.probe_node_key(pipe)
    pipe.close()
    assert node_public == n.public  # the node key is no secret
    b = open_backend(n.url, options={"node_auth": User().auth(node_public), "connections": 1})
    return b.inner  # type: ignore[attr-defined]


def _put_pack(b: NodeBackend, size: int) -> None:
    data = os.urandom(size)
    h = hashlib.sha256(data).hexdigest()
    b.put(f"shares/{bytes(range(16)).hex()}/packs/{h[:2]}/{h}", data)


def test_max_spaces_bounds_the_spaces_strangers_start(start: Start) -> None:
    n = start("--max-spaces", "2")
    first = _stranger(n)
    _put_pack(first, 1000)
    first.close()
    _stranger(n).close()
    mark = len(n.lines)
    with pytest.raises(RemoteError, match=r"this node holds all the spaces it may \(fog serve --max-spaces 2\)"):
        _stranger(n)
    n.wait_for_log("refused: this node holds all the spaces it may", since=mark)
    assert len([p for p in (n.root / "spaces").iterdir() if (p / "roster.json").exists()]) == 2
    assert NodeOptions().max_spaces == 100  # a default node has a bound too


def test_min_free_keeps_the_nodes_disk_from_filling(start: Start) -> None:
    """A put that would leave less than --min-free on the node's file system is refused (transient, one
    line), however small, before its data is read; deletes and reads still work."""
    n = start("--min-free", "1000000T")
    b = _stranger(n)
    mark = len(n.lines)
    with pytest.raises(RemoteError, match="node storage nearly full") as e:
        _put_pack(b, 10)
    assert e.value.transient
    n.wait_for_log("refused put .*node storage nearly full", since=mark)
    assert b.node_info()["used"] == 0
    b.close()


def test_min_free_and_max_spaces_on_the_command_line(tmp_path: Path) -> None:
    from fog.cli.serving import node_options
    from fog.errors import UsageError

    o = node_options(max_spaces="0", min_free="0")
    assert o.max_spaces is None and o.min_free == 0
    assert node_options().min_free == 1 << 30
    for bad in ({"max_spaces": "-1"}, {"max_spaces": "x"}, {"min_free": "lots"}):
        with pytest.raises(UsageError):
            node_options(**bad)  # type: ignore[arg-type]
