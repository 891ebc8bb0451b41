"""Run the backend contract against a real `fog serve`, over TCP and over stdin/stdout (the fog+ssh path).

The contract writes arbitrary names ("obj", "data/ab/object") and replaces
them with other bytes, which an append-only node refuses by design (section
17: create-only, names in the store layout). So the contract runs against a
node started with `--raw --allow-prune`, a plain authenticated byte store:
the transport, the handshake, the framing, the pool and the status mapping
are all the same code; only the layout rules are off. Those rules have their
own tests (tests/node/test_abuse.py), and `test_fog_layout_names` below runs
the names fog itself writes through an enforcing node.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator

import pytest
from contract import BackendContract
from fognode import NodeProcess, User, serve_argv

from fog.backends.base import Backend, kind_of, open_backend, store_key
from fog.backends.node import NodeBackend, parse_url
from fog.backends.retry import RetryingBackend
from fog.crypto.keys import device_log_name
from fog.errors import AlreadyExists, ObjectNotFound, RemoteError, UsageError


@pytest.fixture(scope="module")
def raw_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One `--raw --allow-prune` node for the module; each test gets a fresh user, so a fresh empty space."""
    node = NodeProcess(tmp_path_factory.mktemp("raw-node"), ("--raw", "--allow-prune")).start()
    yield node
    node.stop()


@pytest.fixture(params=["tcp", "stdio"])
def backend(request: pytest.FixtureRequest, raw_node: NodeProcess) -> Iterator[Backend]:
    user = User()
    if request.param == "tcp":
        b = open_backend(raw_node.url, options={"node_auth": user.auth(raw_node.public)})
    else:
        options = {
            "node_auth": user.auth(raw_node.public),
            "ssh_command": serve_argv("--stdio", "--raw", "--allow-prune"),
        }
        b = open_backend(f"fog+ssh://localhost/{raw_node.root}", options=options)
    yield b
    b.close()


class TestNodeBackend(BackendContract):
    def test_wrapped_and_connected(self, backend: Backend) -> None:
        assert isinstance(backend, RetryingBackend) and isinstance(backend.inner, NodeBackend)
        assert backend.role == "device" and backend.space and len(backend.node_public) == 32  # type: ignore[attr-defined]
        assert backend.read_concurrency == 4  # type: ignore[attr-defined]


def test_fog_layout_names(fog_node: Callable[..., NodeProcess]) -> None:
    """What fog writes, through an append-only node: marker upward, config, packs, own log, objects."""
    node = fog_node()
    user = User()
    b = open_backend(node.url, options={"node_auth": user.auth(node.public)})
    me = bytes.fromhex(next(iter(user.devices)))
    share = os.urandom(16)
    pack = os.urandom(5000)
    pack_name = f"shares/{share.hex()}/packs/{hashlib.sha256(pack).hexdigest()[:2]}/{hashlib.sha256(pack).hexdigest()}"
    log = f"shares/{share.hex()}/log/{device_log_name(share, me)}/0000000001"
    b.put("fog-store", b"fog-store 2\n")
    b.put("fog-store", b"fog-store 4\n")
    b.put("fog-store", b"fog-store 4\n")
    b.put_new("config/" + "ab" * 16 + "/" + "cd" * 32, b"sealed config")
    b.put(pack_name, pack)
    b.put(pack_name, pack)  # a re-put of the same bytes: a no-op
    b.put_new(log, b"batch")
    with pytest.raises(AlreadyExists):
        b.put_new(log, b"batch")
    b.sync()
    assert b.get(pack_name) == pack and b.get_range(pack_name, 10, 20) == pack[10:30]
    assert sorted(b.list(f"shares/{share.hex()}/")) == sorted([pack_name, log])
    assert b.exists(log) and not b.exists(log + "x")
    with pytest.raises(ObjectNotFound):
        b.get(f"shares/{share.hex()}/objects/00/" + "0" * 64)
    assert b.info["append_only"] is True  # type: ignore[attr-defined]
    # The node's store is a plain remote: readable as a local directory without the node.
    store = node.root / "spaces" / user.space / "store"
    assert (store / pack_name).read_bytes() == pack and (store / "fog-store").read_bytes() == b"fog-store 4\n"
    b.close()


def test_url_parsing_and_kind() -> None:
    assert parse_url("fog://host:7000") == ("fog", None, "host", 7000, "")
    assert parse_url("fog://host") == ("fog", None, "host", None, "")
    assert parse_url("fog+ssh://me@host:22/srv/fog") == ("fog+ssh", "me", "host", 22, "/srv/fog")
    assert parse_url("fog+ssh://host/~/fog") == ("fog+ssh", None, "host", None, "fog")
    for bad in ("fog://host:0", "fog://host/dir", "fog+ssh://host", "fog://me@host:1", "fog://:1"):
        with pytest.raises(UsageError):
            parse_url(bad)
    assert kind_of("fog://h:1") == "fog" and kind_of("fog+ssh://h/d") == "fog"
    assert store_key("fog://H:1") == "fog://h:1" and store_key("fog+ssh://h/d/") == "fog+ssh://h/d"


def test_no_credentials_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="add-untrusted"):
        open_backend("fog://127.0.0.1:1")


def test_node_down_is_transient(fog_node: Callable[..., NodeProcess]) -> None:
    node = fog_node()
    user = User()
    b = open_backend(node.url, options={"node_auth": user.auth(node.public)})
    inner = b.inner  # type: ignore[attr-defined]
    b.put("fog-store", b"fog-store 4\n")
    node.stop()
    with pytest.raises(RemoteError) as e:
        inner.get("fog-store")
    assert e.value.transient
    node.start()  # the same directory, a new port
    inner.address = ("127.0.0.1", node.port)
    assert inner.get("fog-store") == b"fog-store 4\n"  # the dropped connection was replaced
    b.close()
