"""Names the node takes (FORMAT.md sections 3 and 17): exactly the store layout, short and shallow; a space
the node cannot load (a tree too deep, a damaged roster) never keeps it from serving the others."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fognode import NodeProcess, User

from fog.backends.base import open_backend
from fog.crypto import seal as S
from fog.crypto.keys import device_log_name
from fog.errors import RemoteError
from fog.format.batch import seq_name
from fog.format.intent import record_name
from fog.format.syncconfig import ROTATION_PREFIX
from fog.node import rules
from fog.node.nodedir import usage

Start = Callable[..., NodeProcess]
H32, H64 = "ab" * 16, "cd" * 32
SHARE = bytes(range(16))


def _deep(root: Path, depth: int) -> Path:
    """`depth` nested directories under `root`, made one by one (os.makedirs recurses)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            new = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "wb") as f:
            f.write(b"12345")
    finally:
        os.close(fd)
    return root


def _remove(root: Path) -> None:
    """Remove a tree however deep (shutil.rmtree, and so pytest's clean-up, recurses; rm does not)."""
    subprocess.run(["rm", "-rf", "--", str(root)], check=True)


def test_every_name_fog_writes_is_in_the_layout() -> None:
    me = S.new_keypair()[1]
    log = device_log_name(SHARE, me)
    pack = hashlib.sha256(b"p").hexdigest()
    share = f"shares/{SHARE.hex()}"
    names = {
        "fog-store": "marker",
        f"config/{H32}/{H64}": "config",
        f"config/{H32}/{ROTATION_PREFIX}{H64}": "config",
        f"{share}/packs/{pack[:2]}/{pack}": "pack",
        f"{share}/objects/{H64[:2]}/{H64}": "object",
        f"{share}/log/{log}/{seq_name(1)}": "log",
        f"{share}/log/{log}/{seq_name(10**12)}": "log",
        f"{share}/prune/{record_name(log, H32)}": "prune",
        f"{share}/prune/{record_name(log, H32, done=True)}": "prune",
        f"{share}/members/{H64}": "member",
        f"{share}/keys/{H32}.3.{H32}": "plain",
        f"{share}/keys/{H32}.0": "plain",
        f"invites/{H32}/{H32}": "plain",
    }
    for name, kind in names.items():
        found = rules.classify(name)
        assert found is not None and found[0] == kind, name
        assert rules.name_refusal(name) == ""
    for bad in (
        f"config/{H32}/{H64}/x",
        f"config/{H32}/" + "/".join("d" * 3 for _ in range(20)),
        "config/x",
        f"config/{H32}/{H64}\n",
        "fog-store\n",
        f"{share}/log/{log}/abc",
        f"{share}/prune/{log}.x",
        f"invites/{H32}/deeper/{H32}",
    ):
        assert rules.classify(bad) is None, bad
    assert rules.write_rule("device", f"{share}/objects/00/{H64}", b"x", me).refusal == rules.OUTSIDE
    assert rules.name_refusal("a/" * 8 + "b") == rules.NAME_TOO_LONG
    assert rules.name_refusal("a" * 1025) == rules.NAME_TOO_LONG
    assert rules.name_refusal("a/" * 7 + "b") == ""


def test_member_statement_name_is_its_hash() -> None:
    data = b"statement"
    good = f"shares/{SHARE.hex()}/members/{hashlib.sha256(data).hexdigest()}"
    assert rules.write_rule("device", good, data, bytes(32)).refusal == ""
    assert rules.write_rule("device", good, b"other", bytes(32)).refusal == rules.MEMBER_HASH


def test_usage_of_a_very_deep_tree(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    try:
        _deep(root, 1100)
        (root / "top").write_bytes(b"abc")
        assert usage(root) == (2 * 4096, 2)  # each object charged at least 4 KiB
    finally:
        _remove(root)


def test_deep_names_refused_in_every_mode(fog_node: Start) -> None:
    for args in ((), ("--raw",)):
        node = fog_node(*args)
        user = User()
        b = open_backend(node.url, options={"node_auth": user.auth(node.public)}).inner  # type: ignore[attr-defined]
        deep = "config/" + "/".join("d" for _ in range(50))
        with pytest.raises(RemoteError, match="too long or too deep"):
            b.put_new(deep, b"")
        with pytest.raises(RemoteError, match="too long or too deep"):
            b.get("config/" + "x" * 1100)
        b.close()


def test_a_space_that_cannot_load_does_not_stop_the_node(fog_node: Start, request: pytest.FixtureRequest) -> None:
    node = fog_node()
    victim, stranger = User(), User()
    v = open_backend(node.url, options={"node_auth": victim.auth(node.public)})
    v.put_new(f"config/{H32}/{H64}", b"victim data")
    v.close()
    open_backend(node.url, options={"node_auth": stranger.auth(node.public)}).close()
    node.stop()
    # what an earlier node let a stranger make: a tree deeper than Python's recursion limit
    deep = node.root / "spaces" / stranger.space / "store" / "config"
    deep.mkdir()
    request.addfinalizer(lambda: _remove(deep))
    _deep(deep, 1100)
    node.start()
    v = open_backend(node.url, options={"node_auth": victim.auth(node.public, roster=False, space=True)})
    assert v.get(f"config/{H32}/{H64}") == b"victim data"
    v.close()
    # a damaged roster: the space is refused with one line, the others go on
    (node.root / "spaces" / stranger.space / "roster.json").write_text("{not json")
    node.stop()
    node.start()
    with pytest.raises(RemoteError, match="cannot be loaded"):
        open_backend(node.url, options={"node_auth": stranger.auth(node.public, roster=False, space=True)})
    v = open_backend(node.url, options={"node_auth": victim.auth(node.public, roster=False, space=True)})
    assert v.get(f"config/{H32}/{H64}") == b"victim data"
    v.close()


def test_no_pattern_takes_a_trailing_newline() -> None:
    """`$` matches before a final newline: every check is a full match."""
    from fog.backends.base import check_name
    from fog.format import noderoster as R
    from fog.node.nodedir import is_space

    for bad in ("fog-store\n", f"config/{H32}/{H64}\n"):
        with pytest.raises(ValueError):
            check_name(bad)
        assert rules.classify(bad) is None
    assert rules.marker_version(b"fog-store 4\n") == 4
    assert rules.marker_version(b"fog-store 4\n\n") is None
    assert not is_space(H32 + "\n") and is_space(H32)
    with pytest.raises(ValueError):
        R.RosterDevice.from_json({"id": H32 + "\n", "name": "x", "sign": "", "trusted": True})
