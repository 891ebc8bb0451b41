"""Untrusted nodes, the rough edges, end to end against real processes: a node killed with SIGKILL in
the middle of a push, prune through a node (allowed, and refused by an append-only node), a node
behind a real OpenSSH server with a forced command, and the systemd unit in contrib/.

Devices are separate FOG_HOMEs running fog in their own processes (test_multidevice helpers); nodes
are real `fog serve` processes (tests/fognode.py).
"""

from __future__ import annotations

import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from fognode import NodeProcess, node_env
from sshd import SSHServer, make_ssh_home
from test_multidevice import OLD_MTIME_NS, Device, World, fog_env, fork_fog, run_fog
from test_node_e2e import _add_node, _clone_from_node, _node_store

import fog

REPO = Path(fog.__file__).resolve().parent.parent


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _files(n: int, size: int, seed: int) -> dict[str, bytes]:
    rnd = random.Random(seed)
    return {f"big/f{i:02d}.bin": rnd.randbytes(size) for i in range(n)}


def _write_all(dev: Device, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        dev.write(rel, data, mtime_ns=OLD_MTIME_NS)


def _node_only(world: World, fog_node, *args: str) -> tuple[Device, NodeProcess]:  # type: ignore[no-untyped-def]
    """A share made on a local remote, then a node added and the local remote removed: the node is its
    only remote."""
    a = world.init("laptop")
    a.write("hello.txt", "hello\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    node = fog_node(*args)
    _add_node(a, node)
    a.fog("push")
    a.fog("remote", "remove", "origin")
    assert [r["name"] for r in a.fog("remote", "list", "--json").json()] == ["vps"]
    return a, node


def _packs(node: NodeProcess) -> set[str]:
    return {p.name for p in _node_store(node).glob("shares/*/packs/*/*") if p.is_file()}


def test_packs_fit_a_node_with_a_small_max_object(world: World, fog_node) -> None:
    """`fog serve --max-object 1M` (below the 8 MiB packs): pushes make packs the node takes."""
    a, node = _node_only(world, fog_node, "--max-object", "1M")
    files = _files(5, 1_000_000, seed=12)
    _write_all(a, files)
    a.fog("push")
    sizes = [p.stat().st_size for p in _node_store(node).glob("shares/*/packs/*/*")]
    assert len(sizes) >= 5 and max(sizes) <= 1 << 20, sizes
    a.fog("check", "vps", "--read-data")
    c = _clone_from_node(world, "phone", node)
    for rel, data in files.items():
        assert (c.root / rel).read_bytes() == data


# -- 1. the node killed with SIGKILL in the middle of a push ----------------------------------------

# Small packs (a few MB make several), each pack upload a little slower than loopback would make it
# (so the kill lands mid-push on any machine), and fast retries (the node stays down: the push gives
# up in well under a second instead of fog's ~8 s of backoff). The node itself is unpatched.
SMALL_SLOW_PACKS = """
import time as _t
import fog.store as _s
import fog.backends.node as _n
import fog.backends.retry as _r
_d = list(_s.Packer.__init__.__defaults__)
_d[0] = 256 << 10
_s.Packer.__init__.__defaults__ = tuple(_d)
_r.RetryingBackend.__init__.__kwdefaults__["base_delay"] = 0.01
for _op in ("put", "put_new"):
    def _slow(self, name, data, _real=getattr(_n.NodeBackend, _op)):
        if "/packs/" in name:
            _t.sleep(0.1)
        return _real(self, name, data)
    setattr(_n.NodeBackend, _op, _slow)
"""


def test_node_killed_mid_push_then_restarted(world: World, fog_node) -> None:
    a, node = _node_only(world, fog_node)
    port = node.port
    big = _files(16, 200_000, seed=1)  # 3.2 MB of incompressible data: ~13 packs of 256 KiB
    _write_all(a, big)
    before = _packs(node)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        argv, env = ["-C", str(a.root), "push"], fog_env(a.home)
        pid = fork_fog(argv, env, world.tmp, SMALL_SLOW_PACKS, out.fileno(), err.fileno())
        deadline = time.monotonic() + 20
        while len(_packs(node) - before) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        landed = len(_packs(node) - before)
        node.kill()
        _, status = os.waitpid(pid, 0)
        err.seek(0)
        text = err.read().decode(errors="replace")
    assert landed >= 2, "no pack reached the node"
    rc = os.waitstatus_to_exitcode(status)
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert rc == 1 and len(lines) == 1, (rc, text)
    assert re.fullmatch(rf"fog: remote {re.escape(node.url)}: (cannot connect to|.*connection to) the node.*", lines[0])
    assert len(_packs(node) - before) < 13  # killed mid-push indeed

    node.args = (*node.args, "--listen", f"127.0.0.1:{port}")  # the same port (its later --listen wins)
    node.start()
    assert node.port == port
    a.fog("push")
    c = _clone_from_node(world, "phone", node)
    for rel, data in big.items():
        assert (c.root / rel).read_bytes() == data, rel
    assert c.tree() == a.tree()
    a.fog("check", "vps", "--read-data")


# -- 2. prune through a node -------------------------------------------------------------------------


def _store_bytes(node: NodeProcess) -> int:
    return sum(p.stat().st_size for p in _node_store(node).rglob("*") if p.is_file())


def _old_versions(a: Device) -> dict[str, bytes]:
    """Two versions of a few files pushed, the first ones then forgotten (their packs unreferenced)."""
    old = _files(4, 300_000, seed=2)
    _write_all(a, old)
    a.fog("push")
    new = _files(4, 300_000, seed=3)
    _write_all(a, new)
    a.fog("push")
    doc = a.fog("forget", "--keep-last", "1", "--json").json()
    assert doc["versions"] == 4, doc
    return new


def test_prune_through_a_node_that_allows_it(world: World, fog_node) -> None:
    a, node = _node_only(world, fog_node, "--allow-prune")
    new = _old_versions(a)
    packs, size = _packs(node), _store_bytes(node)
    doc = a.fog("prune", "--grace", "0", "--json").json()
    (r,) = doc["remotes"]
    assert r["deleted"], doc
    assert set(r["deleted"]) <= packs and _packs(node) == packs - set(r["deleted"])
    assert _store_bytes(node) < size - 1_000_000  # the four old versions' 1.2 MB are gone
    a.fog("check", "vps", "--read-data")
    c = _clone_from_node(world, "phone", node)
    assert c.tree() == a.tree()
    for rel, data in new.items():
        assert (c.root / rel).read_bytes() == data


NOT_ASKING_THE_WELCOME = """
import fog.sync.prune as _p
_p.append_only = lambda ctx: False
"""


def test_prune_refused_by_an_append_only_node(world: World, fog_node) -> None:
    a, node = _node_only(world, fog_node)
    new = _old_versions(a)
    packs = _packs(node)
    want = (
        "fog: remote vps: prune refused: the node is append-only (it refuses every delete); to prune there, "
        "run it with `fog serve --allow-prune`. Nothing was deleted"
    )
    r = a.fog("prune", "--grace", "0", expect=1)
    assert r.error_line() == want
    r = a.fog("prune", "vps", "-n", expect=1)  # the dry run says the same: it would be refused
    assert r.error_line() == want and "would delete" not in r.out
    assert _packs(node) == packs  # nothing deleted, nothing written
    assert not list(_node_store(node).glob("shares/*/prune/*"))
    # a node that refuses the delete itself (one restarted without --allow-prune since this device
    # connected; here: fog not asking the welcome first) says the same, and nothing is lost either
    r = a.fog("prune", "--grace", "0", expect=1, patch=NOT_ASKING_THE_WELCOME)
    assert r.error_line() == want
    assert _packs(node) >= packs
    a.fog("check", "vps", "--read-data")
    a.write("after.txt", "after the refused prune\n", mtime_ns=OLD_MTIME_NS)
    r = a.fog("sync", "--prune")  # a daily cron job: the append-only node is not an error every day
    assert "remote vps: not pruned: an append-only node" in r.out, r.out
    assert _packs(node) >= packs
    c = _clone_from_node(world, "phone", node)
    assert c.tree() == a.tree()
    for rel, data in new.items():
        assert (c.root / rel).read_bytes() == data


# -- 3. a node behind ssh, with a forced command -----------------------------------------------------


def _ssh_node(tmp: Path, node_dir: Path) -> tuple[SSHServer, dict[str, str]]:
    """A real sshd whose only key runs `fog serve --stdio NODE_DIR` as a forced command (restrict), and
    the environment for fog's `ssh` to use the key and trust the server.

    OpenSSH's client reads ~/.ssh from the passwd entry, not $HOME: the files make_ssh_home writes (as
    for the SFTP tests) are handed to it by an `ssh` first on PATH that adds -F, -i and known_hosts."""
    server = SSHServer(tmp / "sshd")
    wrapper = tmp / "fog-serve-stdio"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={shlex.quote(node_env()['PYTHONPATH'])}; export PYTHONPATH\n"
        f"exec {shlex.quote(sys.executable)} -m fog serve --stdio {shlex.quote(str(node_dir))}\n"
    )
    wrapper.chmod(0o755)
    client_key = Path(f"{server.client_key}.pub").read_text().strip()
    (server.workdir / "authorized_keys").write_text(f'command="{wrapper}",restrict {client_key}\n')
    server.start()
    home = make_ssh_home(tmp / "ssh-home", server)
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(
        "#!/bin/sh\n"
        f"exec {shutil.which('ssh')} -F {home.ssh_dir / 'config'} -i {home.ssh_dir / 'id_ed25519'} "
        f"-o UserKnownHostsFile={home.known_hosts} -o IdentitiesOnly=yes -o BatchMode=yes "
        '-o StrictHostKeyChecking=yes "$@"\n'
    )
    ssh.chmod(0o755)
    return server, {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_a_node_behind_ssh_with_a_forced_command(world: World, tmp_path: Path) -> None:
    node_dir = tmp_path / "node"
    shown = subprocess.run(
        [sys.executable, "-m", "fog", "serve", str(node_dir), "--show-key"],
        env=node_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    key = shown.stdout.strip()
    assert key.startswith("fognode-") and not shown.stderr
    server, env = _ssh_node(tmp_path, node_dir)
    try:
        # the DIR of the URL is ignored: the forced command names the node's directory
        url = f"fog+ssh://{server.user}@127.0.0.1:{server.port}/not/the/node/dir"
        a = world.init("laptop")
        _write_all(a, files := _files(3, 100_000, seed=4))
        a.fog("push")
        doc = run_fog(
            ["-C", a.root, "device", "add-untrusted", "nas", "--address", url, "--key", key, "--json"],
            home=a.home,
            cwd=world.tmp,
            env=env,
        ).json()
        assert doc["device"]["address"] == url and doc["device"]["node"] is True
        run_fog(["-C", a.root, "push"], home=a.home, cwd=world.tmp, env=env)
        assert not Path("/not/the/node/dir").exists()
        (space,) = (node_dir / "spaces").iterdir()
        assert list((space / "store").glob("shares/*/packs/*/*"))

        c = world.device("phone")
        argv = ["clone", url, c.root, "--master-key-file", world.key, "--device-name", "phone"]
        run_fog(argv, home=c.home, cwd=world.tmp, env=env)
        assert c.tree() == a.tree()
        for rel, data in files.items():
            assert (c.root / rel).read_bytes() == data
        run_fog(["-C", c.root, "check", "nas", "--read-data"], home=c.home, cwd=world.tmp, env=env)
        # without the key's forced command nothing else runs: an ordinary command is the node too
        plain = subprocess.run(
            ["ssh", "-p", str(server.port), f"{server.user}@127.0.0.1", "echo", "shell"],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )
        assert b"shell" not in plain.stdout
    finally:
        server.stop()
