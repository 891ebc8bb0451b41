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
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import RemoteError
from fog.format.noderoster import build_roster

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


def test_planted_device_key_does_not_survive_a_rotation(fog_node: Start) -> None:
    """A stolen device signs (with the user key it holds) a roster adding a key the user never sees;
    the user's rotation (handover) replaces the device list, so the planted key is gone."""
    node = fog_node("--allow-prune")
    user = User()
    user.add_device("phone")
    laptop = connect(node, user.auth(node.public))
    hidden_secret, hidden_public = S.new_keypair()
    _, hidden_sign = S.new_signing_key()
    planted = dict(user.devices)
    planted[hidden_public.hex()] = {
        "id": K.device_id(hidden_public, hidden_sign),
        "name": "laptop",
        "sign": hidden_sign.hex(),
        "trusted": True,
        "revoked": 0,
    }
    stolen = build_roster(user.seed, node.public, planted, [user.join(node.public)[1].hex()])
    connect(node, NodeAuth(user.secrets["phone"], node.public, user.space, stolen)).close()
    hidden = connect(node, NodeAuth(hidden_secret, node.public, user.space))
    assert hidden.role == "device"
    # the user sees the key on the node's device list (a trusted device can compare it with its own)
    assert hidden_public.hex() in laptop.node_roster()["devices"]
    user.revoke("phone")
    user.rotate()
    laptop = connect(node, user.auth(node.public, space=True))
    assert laptop.space == user.space
    listed = laptop.node_roster()
    assert hidden_public.hex() not in listed["devices"]
    assert listed["devices"][S.public_of(user.secrets["phone"]).hex()]["revoked"]  # the tombstone stays
    with pytest.raises(RemoteError, match="unknown key"):
        hidden.list("")
    with pytest.raises(RemoteError, match="unknown key"):
        connect(node, NodeAuth(hidden_secret, node.public, user.space))
    with pytest.raises(RemoteError, match="device revoked"):
        connect(node, NodeAuth(user.secrets["phone"], node.public, user.space))
    assert [p.name for p in (node.root / "spaces").iterdir()] == [user.space]  # no second space made


def test_roster_signed_far_in_the_future_refused(fog_node: Start) -> None:
    import time

    node = fog_node()
    user = User()
    ahead = build_roster(user.seed, node.public, user.devices, [], signed_ns=time.time_ns() + 2 * 86400 * 10**9)
    with pytest.raises(RemoteError, match="signed in the future"):
        connect(node, NodeAuth(user.secrets["laptop"], node.public, None, ahead))


@pytest.mark.parametrize("stdio", [False, True], ids=["tcp", "stdio"])
def test_a_stale_roster_is_ignored_not_refused(fog_node: Start, stdio: bool) -> None:
    """A device that has not followed a rotation yet carries a roster signed by the user key the node no
    longer pins: the node ignores it (merges nothing), admits the device by the list it holds, and logs
    one line saying so; the client needs no second connection."""
    node = fog_node()
    user = User()
    user.add_device("phone")
    user.add_device("old")
    connect(node, user.auth(node.public)).close()  # creates the space; every device listed
    stale = user.roster(node.public)  # the phone's roster: the user key as it was
    user.revoke("old")
    user.rotate()
    connect(node, user.auth(node.public, space=True)).close()  # the rotation: a handover to the new key
    roster_file = node.root / "spaces" / user.space / "roster.json"
    before = roster_file.read_bytes()

    mark = len(node.lines)
    phone = connect(node, NodeAuth(user.secrets["phone"], node.public, user.space, stale), stdio=stdio)
    assert phone.role == "device" and phone.space == user.space
    assert phone.exists("fog-store") is False
    phone.close()
    if not stdio:  # (a --stdio process's log goes to the client's stderr, not this node's)
        line = node.wait_for_log(r"phone/[0-9a-f]{8} roster ignored", since=mark)
        assert "stale" in line and "no longer pins" in line
        node.wait_for_log(r"phone/[0-9a-f]{8} connected as device", since=mark)
        assert not [x for x in node.lines[mark:] if "refused" in x]
    assert roster_file.read_bytes() == before  # merged nothing
    assert user.sign_public.hex() in before.decode()

    # the stale roster does not undo a revocation: a revoked device carrying one is refused as revoked
    with pytest.raises(RemoteError, match="device revoked"):
        connect(node, NodeAuth(user.secrets["old"], node.public, user.space, stale), stdio=stdio)
    # a key the space does not list gets the refusal as before (its roster is not this user's)
    stranger, _ = S.new_keypair()
    with pytest.raises(RemoteError, match="roster not signed by this user's key"):
        connect(node, NodeAuth(stranger, node.public, user.space, stale), stdio=stdio)
    # without naming the space the roster still decides where the hello goes: refused as before (fog's
    # client then connects again without it)
    with pytest.raises(RemoteError, match="roster not signed by this user's key"):
        connect(node, NodeAuth(user.secrets["phone"], node.public, None, stale), stdio=stdio)
    assert roster_file.read_bytes() == before
