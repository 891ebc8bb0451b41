"""Two devices syncing through real SFTP and S3 servers, and servers dying mid-push.

The servers are real: OpenSSH's sshd (tests/sshd.py) and SeaweedFS (tests/s3server.py),
started on 127.0.0.1 by session fixtures. Each fog command runs in its own process
with the device's FOG_HOME; HOME (for ~/.ssh) and AWS_* come from the fixtures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from test_multidevice import OLD_MTIME_NS, World, fog_env, run_fog

FILES = {
    "doc.txt": b"first line\n",
    "notes/deep/n\xc3\xafce.md": "caf\u00e9 \u2713\n".encode(),
    "data.bin": os.urandom(300_000),
}


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, ns=(OLD_MTIME_NS, OLD_MTIME_NS))


def _two_devices_round_trip(world: World) -> None:
    """init on A, clone on B, edits both ways, then a conflict."""
    a = world.device("laptop")
    _write(a.root, FILES)
    run_fog(
        ["init", a.root, "--remote", world.remote, "--master-key-file", world.key, "--device-name", "laptop"],
        home=a.home,
        cwd=world.tmp,
    )
    a.fog("push")
    b = world.device("desktop")
    run_fog(
        ["clone", world.remote, b.root, "--master-key-file", world.key, "--device-name", "desktop"],
        home=b.home,
        cwd=world.tmp,
    )
    for rel, data in FILES.items():
        assert (b.root / rel).read_bytes() == data
    assert len(b.fog("device", "list", "--json").json()) == 2

    b.write("doc.txt", "from B\n")
    b.fog("push")
    a.pull()
    assert a.read("doc.txt") == "from B\n"
    a.write("new.txt", "from A\n")
    a.fog("push")
    b.pull()
    assert b.read("new.txt") == "from A\n"

    a.write("doc.txt", "A's edit\n")
    b.write("doc.txt", "B's edit\n")
    b.fog("push")
    r = a.fog("sync", expect=3)
    assert "conflict" in r.err
    assert a.read("doc.txt") == "A's edit\n"
    (copy,) = a.conflicts()
    assert copy.read_text() == "B's edit\n"
    b.pull(expect=3)  # (B's edit is in the copy now: said)
    assert b.read("doc.txt") == "A's edit\n"
    assert (b.root / copy.name).read_text() == "B's edit\n"
    a.fog("check", "--read-data")


def test_two_devices_through_sftp(ssh_home, tmp_path: Path) -> None:
    world = World(tmp_path, ssh_home.url(ssh_home.remote_dir("share")), tmp_path / "master.key")  # type: ignore[arg-type]
    _two_devices_round_trip(world)


def test_two_devices_through_s3(s3_env: str, s3_url: str, tmp_path: Path) -> None:
    world = World(tmp_path, f"{s3_url}?endpoint={s3_env}&path_style=1", tmp_path / "master.key")  # type: ignore[arg-type]
    _two_devices_round_trip(world)


def test_unknown_ssh_host_key_refused(ssh_home, tmp_path: Path) -> None:
    ssh_home.known_hosts.write_text("")
    home = tmp_path / "fog-home"
    r = run_fog(
        [
            "init",
            tmp_path / "share",
            "--remote",
            ssh_home.url(ssh_home.remote_dir("x")),
            "--master-key-file",
            tmp_path / "mk",
        ],
        home=home,
        cwd=tmp_path,
        expect=1,
    )
    line = r.error_line()
    assert "host key" in line.lower(), line
    assert ssh_home.known_hosts.read_text() == ""  # nothing was accepted silently


def test_wrong_s3_credentials_fail_in_one_line(s3_env: str, s3_url: str, tmp_path: Path) -> None:
    r = run_fog(
        [
            "init",
            tmp_path / "share",
            "--remote",
            f"{s3_url}?endpoint={s3_env}&path_style=1",
            "--master-key-file",
            tmp_path / "mk",
        ],
        home=tmp_path / "h",
        cwd=tmp_path,
        expect=1,
        env={"AWS_SECRET_ACCESS_KEY": "wrong-secret"},
    )
    assert "s3://" in r.error_line()


def test_an_s3_prefix_that_holds_something_else_is_refused(s3_env: str, s3_url: str, tmp_path: Path) -> None:
    from fog.backends.s3 import S3Backend

    url = f"{s3_url}?endpoint={s3_env}&path_style=1"
    S3Backend.from_url(url).put("db.sql", b"someone's backup")
    argv = ["init", tmp_path / "share", "--remote", url, "--master-key-file", tmp_path / "mk"]
    r = run_fog(argv, home=tmp_path / "h", cwd=tmp_path, expect=1)
    assert "not empty and holds no fog store" in r.error_line()


# -- a server killed in the middle of a push ---------------------------------------------------


def _wait_until_read(pid: int, amount: int, timeout: float = 30.0) -> None:
    """Wait until the process has read `amount` bytes (/proc/PID/io rchar), or has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/io") as f:
                fields = dict(line.split(": ") for line in f.read().splitlines())
        except OSError:
            return
        if int(fields.get("rchar", "0")) >= amount:
            return
        time.sleep(0.005)


def _wait_readable(url: str, name: str, timeout: float = 60.0) -> None:
    """Until the restarted server serves an object it held before (a server's warm-up is not fog's business)."""
    from fog.backends.base import open_backend
    from fog.errors import RemoteError

    deadline = time.monotonic() + timeout
    while True:
        try:
            backend = open_backend(url)
            try:
                backend.get(name)
                return
            finally:
                backend.close()
        except RemoteError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _push_until_killed(world: World, device, kill, restart) -> None:  # type: ignore[no-untyped-def]
    """Start a big push, kill the server while it runs, then restart and push again."""
    # 80 MB: with packs, a push of 24 MB to the loopback S3 server finished within the second
    big = {f"big/f{i:03d}.bin": os.urandom(250_000) for i in range(320)}
    _write(device.root, big)
    env = fog_env(device.home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fog", "-C", str(device.root), "push"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=world.tmp,
    )
    _wait_until_read(proc.pid, 32 << 20)  # well into the push, whatever the machine's speed
    kill()
    out, err = proc.communicate(timeout=300)
    text = err.decode(errors="replace")
    assert "Traceback" not in text, text
    killed_mid_push = proc.returncode != 0
    if killed_mid_push:
        assert text.strip().count("\n") == 0, text  # one line
    restart()
    _wait_readable(world.remote, "fog-store")  # a restarted server may answer 500 while it loads its volumes
    device.fog("push")
    device.fog("check", "--read-data")
    other = world.device("other")
    run_fog(["clone", world.remote, other.root, "--master-key-file", world.key], home=other.home, cwd=world.tmp)
    for rel, data in big.items():
        assert (other.root / rel).read_bytes() == data
    assert killed_mid_push, "the server was killed after the push had finished; make the push bigger"


def test_sftp_server_killed_mid_push(ssh_home, sshd_server, tmp_path: Path) -> None:
    world = World(tmp_path, ssh_home.url(ssh_home.remote_dir("kill")), tmp_path / "master.key")  # type: ignore[arg-type]
    a = world.device("laptop")
    run_fog(["init", a.root, "--remote", world.remote, "--master-key-file", world.key], home=a.home, cwd=world.tmp)
    _push_until_killed(world, a, sshd_server.stop, sshd_server.start)


def test_s3_server_killed_mid_push(s3_env: str, s3_server, s3_url: str, tmp_path: Path) -> None:
    world = World(tmp_path, f"{s3_url}?endpoint={s3_env}&path_style=1", tmp_path / "master.key")  # type: ignore[arg-type]
    a = world.device("laptop")
    run_fog(["init", a.root, "--remote", world.remote, "--master-key-file", world.key], home=a.home, cwd=world.tmp)
    _push_until_killed(world, a, s3_server.stop, s3_server.start)
