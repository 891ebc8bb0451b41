"""Untrusted nodes end to end: real `fog serve` processes on 127.0.0.1, devices as separate FOG_HOMEs.

A inits a share on a local remote and adds a node; B (cloned from the local remote) learns it at its
next pull and pushes to it; C clones from the node with the master key alone; all converge and the
node's copy checks clean. Then revocation, a node that moves, a node removed, and ten devices
pushing to one node at once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from fognode import NodeProcess
from test_multidevice import OLD_MTIME_NS, Device, World, fog_env, fork_fog, make_pair, run_fog

from fog.crypto import keys as K
from fog.crypto.keys import node_key_to_text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import man_text  # noqa: E402


def _address(node: NodeProcess) -> str:
    return f"127.0.0.1:{node.port}"


def _key(node: NodeProcess) -> str:
    return node_key_to_text(node.public)


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _add_node(dev: Device, node: NodeProcess, name: str = "vps") -> dict:
    doc = dev.fog("device", "add-untrusted", name, "--address", _address(node), "--key", _key(node), "--json").json()
    assert set(doc) == set(man_text.JSON_FIELDS["device add-untrusted"])  # (fog(1) lists exactly these)
    assert doc["device"]["name"] == name and doc["device"]["node"] is True
    assert doc["device"]["trusted"] is False and doc["device"]["address"] == _address(node)
    assert len(doc["device"]["space"]) == 32
    return doc


def _clone_from_node(world: World, name: str, node: NodeProcess, expect: int = 0) -> Device:
    d = world.device(name)
    run_fog(
        ["clone", node.url, d.root, "--master-key-file", world.key, "--device-name", name],
        home=d.home,
        cwd=world.tmp,
        expect=expect,
    )
    return d


def _node_store(node: NodeProcess) -> Path:
    (space,) = (node.root / "spaces").iterdir()
    return space / "store"


def test_a_node_joins_every_device_and_a_clone_from_it(world: World, fog_node) -> None:
    a, b = make_pair(world)
    node = fog_node()
    doc = _add_node(a, node)
    assert "origin" in doc["published"] and "vps" in doc["published"]

    devs = {d["name"]: d for d in a.fog("device", "list", "--json").json()}
    assert devs["vps"]["trusted"] is False and devs["vps"]["address"] == _address(node)
    assert devs["vps"]["url"] == node.url and not devs["vps"]["revoked"]
    text = a.fog("device", "list").out
    assert any(line.startswith("vps") and "untrusted" in line and _address(node) in line for line in text.splitlines())
    remotes = {r["name"]: r for r in a.fog("remote", "list", "--json").json()}
    assert remotes["vps"]["kind"] == "fog" and remotes["vps"]["node"] is True and remotes["vps"]["reachable"]
    assert remotes["vps"]["url"] == node.url and remotes["vps"]["pending"] > 0
    assert "(untrusted node)" in a.fog("remote", "list").out
    a.fog("push")  # the history goes to the node

    r = b.fog("pull")
    assert "this device now also uses remote vps" in r.err
    b.write("from-b.txt", "B wrote this\n", mtime_ns=OLD_MTIME_NS)
    doc = b.fog("push", "--json").json()
    assert set(doc["batches"]) == {"origin", "vps"}

    c = _clone_from_node(world, "phone", node)
    assert c.tree() == b.tree()
    assert (c.root / "from-b.txt").read_text() == "B wrote this\n"
    assert {r["name"] for r in c.fog("remote", "list", "--json").json()} == {"origin", "vps"}
    c.write("from-c.txt", "C wrote this\n", mtime_ns=OLD_MTIME_NS)
    c.fog("push")
    for dev in (a, b, c, a):
        dev.fog("sync")
    assert a.tree() == b.tree() == c.tree()
    a.fog("check", "vps", "--read-data")
    c.fog("check", "vps", "--read-data")
    # the node holds a plain fog store: nothing in clear
    store = _node_store(node)
    assert (store / "fog-store").is_file()
    for p in store.rglob("*"):
        if p.is_file():
            assert b"B wrote this" not in p.read_bytes() and b"from-b" not in p.read_bytes()


def test_a_node_not_in_the_syncconfig_is_refused_at_clone(world: World, fog_node) -> None:
    """The user's SyncConfig reached through a node it does not list (the node stands between): refused."""
    a, _ = make_pair(world)
    mine = fog_node()
    _add_node(a, mine)
    a.fog("push")
    # an impostor node serving a copy of the same space (the same bytes, its own key)
    impostor = fog_node()
    impostor.stop()
    (impostor.root / "spaces").mkdir(exist_ok=True)
    master_key = K.master_key_from_text(Path(world.key).read_text())
    join = K.node_join_keypair(master_key, impostor.public)[1].hex()  # a join key is bound to its node:
    for space in (mine.root / "spaces").iterdir():  # the impostor, lying, lists the one for its own key
        shutil.copytree(space, impostor.root / "spaces" / space.name)
        doc = json.loads((impostor.root / "spaces" / space.name / "roster.json").read_text())
        doc["join"] = [join]
        (impostor.root / "spaces" / space.name / "roster.json").write_text(json.dumps(doc))
    impostor.start()
    d = world.device("victim")
    r = run_fog(["clone", impostor.url, d.root, "--master-key-file", world.key], home=d.home, cwd=world.tmp, expect=4)
    assert "is not one of your devices" in r.error_line()
    assert not (d.root / ".fog").exists()


def test_revoked_device_is_refused_by_the_node(world: World, fog_node) -> None:
    a, b = make_pair(world)
    node = fog_node()
    _add_node(a, node)
    a.fog("push")
    b.pull()
    c = _clone_from_node(world, "phone", node)
    new_key, old = world.tmp / "new.key", world.tmp / "old.key"
    shutil.copy(world.key, old)
    r = a.fog("device", "revoke", "desktop", "--master-key-file", new_key)
    assert "warning" not in r.err
    r = b.fog("push", "vps", expect=6)
    assert "node vps refuses this device" in r.error_line()
    # the old master key no longer opens the node (its join key was retired)
    d = world.device("late")
    r = run_fog(["clone", node.url, d.root, "--master-key-file", old], home=d.home, cwd=world.tmp, expect=1)
    assert "unknown key" in r.error_line()
    # A and C keep working through the node: C follows the rotation there
    c.write("after.txt", "after the revocation\n", mtime_ns=OLD_MTIME_NS)
    c.fog("push", "vps")
    a.fog("pull", "vps")
    assert a.read("after.txt") == "after the revocation\n"
    a.fog("check", "vps", "--read-data")


def test_set_address_after_the_node_moves_and_remove(world: World, fog_node) -> None:
    a, b = make_pair(world)
    node = fog_node()
    _add_node(a, node)
    a.fog("push")
    b.pull()
    node.stop()
    node.start()  # another port (0 picks one), the same key
    doc = a.fog("device", "set-address", "vps", _address(node), "--json").json()
    assert set(doc) == set(man_text.JSON_FIELDS["device set-address"])
    assert doc["device"]["address"] == _address(node)
    assert a.fog("remote", "list", "--json").json()[1]["pending"] == 0  # the same store: nothing to send again
    b.write("moved.txt", "after the move\n", mtime_ns=OLD_MTIME_NS)
    b.fog("sync")  # learns the new address at the pull, pushes there
    assert {r["name"]: r["url"] for r in b.fog("remote", "list", "--json").json()}["vps"] == node.url
    c = _clone_from_node(world, "phone", node)
    assert c.read("moved.txt") == "after the move\n"

    a.fog("device", "remove", "vps")
    assert [r["name"] for r in a.fog("remote", "list", "--json").json()] == ["origin"]
    devs = {d["name"]: d for d in a.fog("device", "list", "--json").json()}
    assert devs["vps"]["removed"] is True
    b.pull()
    logs = sorted(p for p in _node_store(node).glob("shares/*/log/*/*"))
    b.write("late.txt", "not for the node\n", mtime_ns=OLD_MTIME_NS)
    doc = b.fog("push", "--json").json()
    assert set(doc["batches"]) == {"origin"}
    assert sorted(p for p in _node_store(node).glob("shares/*/log/*/*")) == logs
    r = a.fog("remote", "remove", "origin", expect=1)  # (the node is gone: origin is the only one)
    assert r.error_line()


def test_node_names_and_keys_are_checked(world: World, fog_node) -> None:
    a, _ = make_pair(world)
    node = fog_node()
    r = a.fog("device", "add-untrusted", "vps", "--address", _address(node), "--key", "fognode-XXXX", expect=2)
    assert "--key" in r.error_line()
    r = a.fog("device", "add-untrusted", "origin", "--address", _address(node), "--key", _key(node), expect=1)
    assert "exists already" in r.error_line()
    r = a.fog("device", "add-untrusted", "vps", "--address", "nowhere", "--key", _key(node), expect=2)
    assert "HOST:PORT" in r.error_line()
    r = a.fog("device", "add-untrusted", "vps", "--address", "127.0.0.1:1", "--key", _key(node), expect=1)
    assert r.error_line()
    _add_node(a, node)
    r = a.fog("device", "add-untrusted", "vps2", "--address", _address(node), "--key", _key(node), expect=1)
    assert "already" in r.error_line()
    assert "untrusted node" in a.fog("device", "revoke", "vps", expect=2).error_line()
    assert "untrusted node" in a.fog("device", "rename", "vps", "x", expect=2).error_line()
    assert "untrusted node" in a.fog("remote", "remove", "vps", expect=2).error_line()
    assert "set-address" in a.fog("remote", "set-url", "vps", "/tmp/x", expect=2).error_line()
    assert "not an untrusted node" in a.fog("device", "remove", "laptop", expect=2).error_line()


@pytest.mark.parametrize("n", [10])
def test_ten_devices_push_to_one_node_at_once(world: World, fog_node, n: int) -> None:
    a = world.init("d0")
    a.write("base.txt", "base\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    node = fog_node()
    _add_node(a, node)
    a.fog("push")
    devs = [a] + [_clone_from_node(world, f"d{i}", node) for i in range(1, n)]
    for i, d in enumerate(devs):
        d.write(f"f{i}.txt", f"from device {i}\n", mtime_ns=OLD_MTIME_NS)
    pids = []
    with tempfile.TemporaryDirectory() as logs:
        for i, d in enumerate(devs):
            out = os.open(os.path.join(logs, f"{i}.out"), os.O_RDWR | os.O_CREAT)
            err = os.open(os.path.join(logs, f"{i}.err"), os.O_RDWR | os.O_CREAT)
            argv = ["-C", str(d.root), "push", "vps"]
            pids.append((pid := fork_fog(argv, fog_env(d.home), world.tmp, "", out, err), i))
            assert pid
        for pid, i in pids:
            _, status = os.waitpid(pid, 0)
            err = Path(logs, f"{i}.err").read_text()
            assert os.waitstatus_to_exitcode(status) == 0, err
    for d in devs:
        d.fog("sync", "vps")
    for d in devs:
        d.fog("pull", "vps")
    want = devs[0].tree()
    assert all(d.tree() == want for d in devs)
    assert sorted(p for p in want if p.startswith("f")) == [f"f{i}.txt" for i in range(n)]
    devs[-1].fog("check", "vps", "--read-data")
