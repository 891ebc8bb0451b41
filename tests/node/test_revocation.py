"""Revocation and key rotation against a real `fog serve`: open sessions end, planted keys do not survive.

FORMAT.md section 17, "Roster" and "Connection": the node re-checks a
connected key before each request once the space's roster changed (in this
process or, for `fog serve --stdio`, in roster.json), and a handover to a
new user key replaces the device list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fognode import NodeProcess, User, serve_argv

from fog.backends.base import open_backend
from fog.backends.node import NodeAuth, NodeBackend
from fog.errors import RemoteError

Start = Callable[..., NodeProcess]


def connect(node: NodeProcess, auth: NodeAuth, *, stdio: bool = False) -> NodeBackend:
    """A node backend without the retry wrapper, over TCP or over a `fog serve --stdio` process."""
    if stdio:
        options: dict[str, Any] = {"node_auth": auth, "ssh_command": serve_argv("--stdio"), "connections": 1}
        b = open_backend(f"fog+ssh://localhost/{node.root}", options=options)
    else:
        b = open_backend(node.url, options={"node_auth": auth, "connections": 1})
    return b.inner  # type: ignore[attr-defined]


@pytest.mark.parametrize("stdio", [False, True], ids=["tcp", "stdio"])
def test_open_session_of_a_revoked_device_ends(fog_node: Start, stdio: bool) -> None:
    node = fog_node()
    user = User()
    user.add_device("phone")
    connect(node, user.auth(node.public)).close()  # creates the space
    phone = connect(node, NodeAuth(user.secrets["phone"], node.public, user.space), stdio=stdio)
    phone.put_new("config/" + "ab" * 16 + "/" + "01" * 32, b"before")
    user.revoke("phone")
    user.rotate()
    connect(node, user.auth(node.public, space=True)).close()  # the revocation, with a handover
    with pytest.raises(RemoteError) as e:
        phone.put_new("config/" + "ab" * 16 + "/" + "02" * 32, b"after the revocation")
    assert "device revoked" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(RemoteError):
        phone.get("config/" + "ab" * 16 + "/" + "01" * 32)
    store = node.root / "spaces" / user.space / "store" / "config" / ("ab" * 16)
    assert sorted(p.name for p in store.iterdir()) == ["01" * 32]


def test_retired_join_key_session_ends(fog_node: Start) -> None:
    node = fog_node()
    user = User()
    connect(node, user.auth(node.public)).close()
    join = connect(node, user.auth(node.public, "join", roster=False, space=True))
    assert join.role == "join" and join.exists("fog-store") is False
    user.rotate()  # a new master key: a new join key, the old one retired
    connect(node, user.auth(node.public, space=True)).close()
    with pytest.raises(RemoteError, match="unknown key"):
        join.exists("fog-store")
