"""A real OpenSSH server for tests, and a client HOME that trusts it.

`sshd_server` (session) runs Debian's `/usr/sbin/sshd -D -e` on 127.0.0.1 and a
free port with a temporary host key, accepting one temporary client key for
the current user. `ssh_home` (per test) points HOME at a fresh directory whose
`.ssh/` holds that client key as `id_ed25519`, a `known_hosts` pinning the
server's host key as `[127.0.0.1]:PORT`, and a `config` with the alias
`fog-test-sshd`, so fog connects exactly as it would for a user. The agent is
hidden (SSH_AUTH_SOCK unset) so only those files count.

A missing sshd fails the tests that need it; it never skips them. Other test
modules get these fixtures through `tests/conftest.py`; `SSHServer` can also be
started directly for a test that needs a server of its own (to kill it, say).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

SSHD = "/usr/sbin/sshd"
ALIAS = "fog-test-sshd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fog-test", "-f", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


class SSHServer:
    """One sshd process tree in `workdir`, restartable on the same port with the same keys."""

    def __init__(self, workdir: Path, *, port: int | None = None, preexec_fn: Callable[[], None] | None = None) -> None:
        if not os.path.exists(SSHD):
            pytest.fail(f"{SSHD} is missing: install Debian's openssh-server (apt-get install openssh-server)")
        if shutil.which("ssh-keygen") is None:
            pytest.fail("ssh-keygen is missing: install openssh-client")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or _free_port()
        self.user = getpass.getuser()
        self.host_key = workdir / "ssh_host_ed25519_key"
        self.client_key = workdir / "client_ed25519"
        self.data = workdir / "data"  # a directory for remotes; the server sees the same filesystem
        self.data.mkdir(exist_ok=True)
        self.log = workdir / "sshd.log"
        _keygen(self.host_key)
        _keygen(self.client_key)
        (workdir / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
        self.config = workdir / "sshd_config"
        self.config.write_text(
            f"""\
ListenAddress {self.host}
Port {self.port}
HostKey {self.host_key}
PidFile {workdir / "sshd.pid"}
AuthorizedKeysFile {workdir / "authorized_keys"}
AllowUsers {self.user}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
LogLevel ERROR
Subsystem sftp internal-sftp
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.preexec_fn = preexec_fn  # run in the sshd process before exec (resource limits, say)

    @property
    def host_key_line(self) -> str:
        """This server's known_hosts line."""
        kind, blob = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"[{self.host}]:{self.port} {kind} {blob}\n"

    def url(self, path: str | Path, *, user: str | None = None) -> str:
        return f"sftp://{user or self.user}@{self.host}:{self.port}{path}"

    def start(self, timeout: float = 10.0) -> None:
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        except PermissionError:
            pytest.fail("/run/sshd is missing and cannot be made: create it as root (mkdir -m 755 /run/sshd)")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log, preexec_fn=self.preexec_fn
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"sshd exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            if self._handshake():
                return
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"sshd did not answer on port {self.port} within {timeout}s: {self.log.read_text()}")
            time.sleep(0.05)

    def _handshake(self) -> bool:
        """Whether a real SSH key exchange with the server completes."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=2)
        except OSError:
            return False
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=5)
            return transport.get_remote_server_key() is not None
        except (paramiko.SSHException, OSError, EOFError):
            return False
        finally:
            transport.close()

    def stop(self) -> None:
        """Kill the server and every connection it serves (like a crash or reboot of the host)."""
        if self.proc is None:
            return
        # Stop the listener first: a connection it accepts while we list its
        # children would otherwise fork a child we never see, which survives.
        try:
            os.kill(self.proc.pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
        victims = [*descendants(self.proc.pid), self.proc.pid]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (sshd's per-connection children outlive a killed listener)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class SSHHome:
    """A client HOME whose ~/.ssh trusts `server` and holds the key it accepts."""

    home: Path
    server: SSHServer

    @property
    def ssh_dir(self) -> Path:
        return self.home / ".ssh"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    def url(self, path: str | Path) -> str:
        """A full `sftp://user@127.0.0.1:PORT/path` URL for `path` on the server."""
        return self.server.url(path)

    def alias_url(self, path: str | Path) -> str:
        """An `sftp://fog-test-sshd/path` URL that works only through ~/.ssh/config."""
        return f"sftp://{ALIAS}{path}"

    def remote_dir(self, name: str) -> Path:
        """A fresh, not yet existing directory on the server for one remote."""
        return self.server.data / f"{name}-{os.urandom(4).hex()}"


def make_ssh_home(home: Path, server: SSHServer) -> SSHHome:
    """Fill `home/.ssh` for `server` (see the module docstring)."""
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ssh_dir / "id_ed25519"
    shutil.copyfile(server.client_key, key)
    key.chmod(0o600)
    shutil.copyfile(f"{server.client_key}.pub", f"{key}.pub")
    (ssh_dir / "known_hosts").write_text(server.host_key_line)
    (ssh_dir / "config").write_text(
        f"Host {ALIAS}\n    HostName {server.host}\n    Port {server.port}\n    User {server.user}\n"
    )
    return SSHHome(home, server)


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """An OpenSSH server for the whole session (fails, never skips, without sshd)."""
    server = SSHServer(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ssh_home(sshd_server: SSHServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SSHHome:
    """HOME pointed at a fresh directory whose ~/.ssh trusts `sshd_server`."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return make_ssh_home(tmp_path / "home", sshd_server)
