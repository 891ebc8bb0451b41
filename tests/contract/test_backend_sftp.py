"""Run the backend contract against SFTPBackend on a real OpenSSH server, plus SFTP specifics.

The server and the client's ~/.ssh come from `tests/sshd.py`; backends are
opened with `open_backend`, so they carry the retry wrapper as in production.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
import sshd
from contract import BackendContract
from paramiko.sftp import CMD_EXTENDED, CMD_RENAME
from sshd import SSHHome, SSHServer, descendants, make_ssh_home

from fog.backends.base import Backend, open_backend
from fog.backends.retry import RetryingBackend
from fog.backends.sftp import SFTPBackend, parse_url
from fog.backends.sftp.channel import Channel
from fog.errors import AlreadyExists, ObjectNotFound, RemoteError, UsageError


@pytest.fixture
def backend(ssh_home: SSHHome) -> Iterator[Backend]:
    b = open_backend(ssh_home.url(ssh_home.remote_dir("contract")), create=True)
    yield b
    b.close()


def _inner(b: Backend) -> SFTPBackend:
    assert isinstance(b, RetryingBackend)
    assert isinstance(b.inner, SFTPBackend)
    return b.inner


class TestSFTPBackend(BackendContract):
    def test_put_leaves_no_temp_files(self, backend: Backend) -> None:
        root = Path(_inner(backend).root)
        for i in range(5):
            backend.put(f"d/{i}", b"v" * i)
            backend.put(f"d/{i}", b"w" * 100_000)
            backend.put_new(f"n/{i}", b"x")
        with pytest.raises(AlreadyExists):
            backend.put_new("n/0", b"y")
        backend.sync()
        assert [p for p in root.rglob("*") if p.name.startswith(".tmp-")] == []
        assert (root / "d" / "3").read_bytes() == b"w" * 100_000

    def test_stray_temp_and_foreign_files_not_listed(self, backend: Backend) -> None:
        root = Path(_inner(backend).root)
        backend.put("data/aa", b"x")
        (root / ".tmp-xyz").write_bytes(b"partial")
        (root / "data" / ".tmp-abc").write_bytes(b"partial")
        (root / "lost+found").mkdir()
        (root / "lost+found" / "x").write_bytes(b"")
        (root / "data" / "link").symlink_to(root / "data" / "aa")
        assert sorted(backend.list("")) == ["data/aa"]

    def test_put_under_existing_object_is_remote_error(self, backend: Backend) -> None:
        backend.put("leaf", b"x")
        for call in (lambda: backend.put("leaf/child", b"y"), lambda: backend.put_new("leaf/child", b"y")):
            with pytest.raises(RemoteError) as e:
                call()
            assert type(e.value) is RemoteError and not e.value.transient
        assert backend.get("leaf") == b"x"

    def test_large_object_and_many_directories(self, backend: Backend) -> None:
        big = bytes(range(256)) * 10_001  # 2.5 MB, not a multiple of the request size
        backend.put("big", big)
        assert backend.get("big") == big
        names = {f"data/{i:02x}/x" for i in range(70)}  # more directories than one listing batch
        for n in names:
            backend.put(n, b"")
        assert set(backend.list("data/")) == names

    def test_fsync_used(self, backend: Backend) -> None:
        backend.put("x", b"1")
        backend.sync()
        assert _inner(backend).fsync_supported  # OpenSSH has fsync@openssh.com

    def test_concurrent_puts_from_8_threads(self, backend: Backend) -> None:
        errors: list[BaseException] = []

        def work(t: int) -> None:
            try:
                for i in range(25):
                    backend.put(f"t{t}/{i:03d}", f"{t}-{i}".encode() * 500)
                    assert backend.get(f"t{t}/{i:03d}") == f"{t}-{i}".encode() * 500
            except BaseException as e:  # reported by the assertion below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert len(list(backend.list(""))) == 8 * 25
        assert _inner(backend)._open <= _inner(backend).connections


def test_home_relative_path(ssh_home: SSHHome) -> None:
    # root's login directory comes from the passwd entry, not $HOME: put the remote under it
    b = open_backend(ssh_home.url("/~"), create=False)
    try:
        home = _inner(b).root
        assert home.startswith("/")
        name = f"fog-test-{time.time_ns()}"
        sub = open_backend(ssh_home.url(f"/~/{name}"), create=True)
        try:
            assert _inner(sub).root == f"{home.rstrip('/')}/{name}"
            sub.put("x", b"1")
            assert (Path(home) / name / "x").read_bytes() == b"1"
        finally:
            sub.close()
            (Path(home) / name / "x").unlink()
            (Path(home) / name).rmdir()
    finally:
        b.close()


def test_missing_dir_and_create(ssh_home: SSHHome) -> None:
    d = ssh_home.remote_dir("new")
    with pytest.raises(RemoteError, match="does not exist") as e:
        open_backend(ssh_home.url(d))
    assert not e.value.transient and ssh_home.url(d) in str(e.value)
    with pytest.raises(RemoteError, match="parent missing"):
        open_backend(ssh_home.url(d / "sub"), create=True)
    assert not d.exists()
    b = open_backend(ssh_home.url(d), create=True)
    b.close()
    assert d.is_dir()


def test_file_as_remote(ssh_home: SSHHome) -> None:
    f = ssh_home.remote_dir("file")
    f.write_bytes(b"")
    with pytest.raises(RemoteError, match="not a directory"):
        open_backend(ssh_home.url(f), create=True)


def test_unknown_host_key_refused(ssh_home: SSHHome) -> None:
    ssh_home.known_hosts.write_text("")
    files_before = sorted(p.name for p in ssh_home.ssh_dir.iterdir())
    d = ssh_home.remote_dir("unknown")
    d.mkdir()
    with pytest.raises(RemoteError) as e:
        open_backend(ssh_home.url(d))
    message = str(e.value)
    assert "\n" not in message and not e.value.transient
    assert "host key" in message and "unknown" in message
    port = ssh_home.server.port
    assert f"ssh-keyscan -p {port} 127.0.0.1 >> ~/.ssh/known_hosts" in message
    fingerprint = paramiko.Ed25519Key.from_private_key_file(str(ssh_home.server.host_key)).fingerprint
    assert fingerprint in message  # "SHA256:...", as ssh-keygen -l shows it
    assert ssh_home.known_hosts.read_text() == ""  # nothing was added
    assert sorted(p.name for p in ssh_home.ssh_dir.iterdir()) == files_before


def test_changed_host_key_refused(ssh_home: SSHHome, tmp_path: Path) -> None:
    other = tmp_path / "other_host_key"

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, blob = other.with_suffix(".pub").read_text().split()[:2]
    ssh_home.known_hosts.write_text(f"[127.0.0.1]:{ssh_home.server.port} {kind} {blob}\n")
    d = ssh_home.remote_dir("changed")
    d.mkdir()
    with pytest.raises(RemoteError) as e:
        open_backend(ssh_home.url(d))
    message = str(e.value)
    assert "\n" not in message and not e.value.transient
    assert "CHANGED" in message and f"ssh-keygen -R '[127.0.0.1]:{ssh_home.server.port}'" in message


def test_unknown_key_with_hashed_known_hosts_of_other_hosts(ssh_home: SSHHome) -> None:
    # a known_hosts that knows other hosts (hashed, as HashKnownHosts writes) still refuses this one
    other = paramiko.HostKeys()
    other.add(paramiko.HostKeys.hash_host("example.org"), "ssh-rsa", paramiko.RSAKey.generate(1024))
    other.save(str(ssh_home.known_hosts))
    d = ssh_home.remote_dir("hashed")
    d.mkdir()
    with pytest.raises(RemoteError, match="is unknown"):
        open_backend(ssh_home.url(d))


@pytest.mark.parametrize("case", ["wrong-user", "wrong-key"])
def test_auth_failure_is_permanent_and_quick(ssh_home: SSHHome, case: str) -> None:
    d = ssh_home.remote_dir("auth")
    d.mkdir()
    url = ssh_home.server.url(d, user="nosuchuser") if case == "wrong-user" else ssh_home.url(d)
    if case == "wrong-key":
        key = paramiko.RSAKey.generate(2048)
        (ssh_home.ssh_dir / "id_ed25519").unlink()
        (ssh_home.ssh_dir / "id_ed25519.pub").unlink()
        key.write_private_key_file(str(ssh_home.ssh_dir / "id_rsa"))
    start = time.monotonic()
    with pytest.raises(RemoteError) as e:
        open_backend(url)
    assert time.monotonic() - start < 5
    assert not e.value.transient
    assert "authentication" in str(e.value) and url in str(e.value) and "\n" not in str(e.value)


def test_auth_failure_on_reconnect_is_not_retried(ssh_home: SSHHome) -> None:
    d = ssh_home.remote_dir("reauth")
    b = open_backend(ssh_home.url(d), create=True)
    sleeps: list[float] = []
    assert isinstance(b, RetryingBackend)
    b._sleep = sleeps.append
    b.inner.close()
    (ssh_home.ssh_dir / "id_ed25519").unlink()
    with pytest.raises(RemoteError, match="authentication") as e:
        b.put("x", b"1")
    assert not e.value.transient and sleeps == []
    b.close()


def test_host_alias_from_ssh_config(ssh_home: SSHHome) -> None:
    d = ssh_home.remote_dir("alias")
    b = open_backend(ssh_home.alias_url(d), create=True)
    try:
        b.put("a/b", b"via alias")
        assert (d / "a" / "b").read_bytes() == b"via alias"
        target = _inner(b).target
        assert (target.alias, target.hostname, target.port) == ("fog-test-sshd", "127.0.0.1", ssh_home.server.port)
    finally:
        b.close()


def test_identity_file_and_known_hosts_file_from_ssh_config(ssh_home: SSHHome) -> None:
    ssh = ssh_home.ssh_dir
    (ssh / "id_ed25519").rename(ssh / "fog_key")
    (ssh / "known_hosts").rename(ssh / "pinned_hosts")
    server = ssh_home.server
    (ssh / "config").write_text(
        f"Host box\n  HostName {server.host}\n  Port {server.port}\n  User {server.user}\n"
        f"  IdentityFile ~/.ssh/fog_key\n  IdentitiesOnly yes\n  UserKnownHostsFile ~/.ssh/pinned_hosts\n"
    )
    d = ssh_home.remote_dir("idfile")
    b = open_backend(f"sftp://box{d}", create=True)
    b.put("x", b"1")
    b.close()
    assert (d / "x").read_bytes() == b"1"


def test_connection_refused_is_transient(ssh_home: SSHHome) -> None:

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RemoteError, match="refused") as e:
        SFTPBackend.from_url(f"sftp://127.0.0.1:{port}/x")
    assert e.value.transient


def test_a_server_that_never_speaks_ssh_is_named_as_such(ssh_home: SSHHome) -> None:
    """A port that accepts and stays silent said "failed: No existing session" (paramiko's words)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        config = ssh_home.ssh_dir / "config"
        old = config.read_text() if config.exists() else ""
        config.write_text(f"Host silent\n  HostName 127.0.0.1\n  ConnectTimeout 1\n{old}")
        with pytest.raises(RemoteError, match="did not answer the SSH handshake within 1 s") as e:
            SFTPBackend.from_url(f"sftp://silent:{port}/x")
        assert e.value.transient


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SSHServer, SSHHome]]:
    """A server of this test's own, so killing it does not disturb the others."""
    server = SSHServer(tmp_path / "sshd")
    server.start()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    yield server, make_ssh_home(tmp_path / "home", server)
    server.stop()


def test_server_killed_mid_puts_then_reconnect(own_server: tuple[SSHServer, SSHHome]) -> None:
    server, home = own_server
    d = home.remote_dir("kill")
    b = open_backend(home.url(d), create=True)
    inner = _inner(b)
    for i in range(20):
        inner.put(f"data/{i}", b"x" * 10_000)
    server.stop()
    with pytest.raises(RemoteError) as e:
        for i in range(20, 40):
            inner.put(f"data/{i}", b"x" * 10_000)
    assert e.value.transient and type(e.value) is RemoteError
    with pytest.raises(RemoteError) as e:  # reconnecting fails while the server is down
        inner.put("data/x", b"x")
    assert e.value.transient and "refused" in str(e.value)
    server.start()
    inner.put("data/20", b"after restart")  # the same object reconnects
    assert b.get("data/20") == b"after restart"
    assert sorted(b.list("data/")) == sorted([f"data/{i}" for i in range(21)])
    b.close()


def test_retry_wrapper_rides_out_a_restart(own_server: tuple[SSHServer, SSHHome]) -> None:
    server, home = own_server
    d = home.remote_dir("restart")
    b = open_backend(home.url(d), create=True)
    b.put("a", b"1")
    server.stop()
    restarter = threading.Timer(0.5, server.start)
    restarter.start()
    try:
        b.put("b", b"2")  # fails while the server is down, then succeeds on a retry
    finally:
        restarter.join()
    assert isinstance(b, RetryingBackend) and b.retries >= 1
    assert b.get("b") == b"2" and sorted(b.list("")) == ["a", "b"]
    b.close()


def test_put_new_after_dropped_connection_reports_the_truth(ssh_home: SSHHome) -> None:
    d = ssh_home.remote_dir("dropped")
    b = open_backend(ssh_home.url(d), create=True)
    b.put_new("once", b"1")
    _inner(b).close()  # as if the connection dropped after the put landed
    with pytest.raises(AlreadyExists):
        b.put_new("once", b"2")
    with pytest.raises(ObjectNotFound):
        b.get("twice")
    b.close()


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("sftp://host/srv/fog", (None, "host", None, "/srv/fog")),
        ("sftp://me@host:2222/srv/fog/", ("me", "host", 2222, "/srv/fog")),
        ("sftp://[::1]:22/x", (None, "::1", 22, "/x")),
        ("sftp://Host.Alias/~/fog", (None, "Host.Alias", None, "~/fog")),
        ("sftp://host/~", (None, "host", None, "~")),
        ("sftp://host/my%20dir", (None, "host", None, "/my dir")),
    ],
)
def test_parse_url(url: str, parsed: tuple[object, ...]) -> None:
    assert parse_url(url) == parsed


@pytest.mark.parametrize(
    "url", ["sftp://host", "sftp://host/", "sftp:///x", "sftp://me:pw@host/x", "sftp://host:0/x", "sftp://host:ab/x"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(UsageError):
        parse_url(url)


def test_every_put_fsyncs_before_its_rename(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:

    sent: list[str] = []
    real = Channel.pipeline

    def recording(self: Channel, requests):  # type: ignore[no-untyped-def]
        for t, *args in requests:
            sent.append(args[0] if t == CMD_EXTENDED else str(t))
        return real(self, requests)

    monkeypatch.setattr(Channel, "pipeline", recording)
    backend.put("a/x", b"1")
    backend.put("a/x", b"2")
    backend.put_new("a/y", b"3")
    backend.sync()
    fsyncs = [i for i, r in enumerate(sent) if r == "fsync@openssh.com"]
    renames = [i for i, r in enumerate(sent) if r in ("posix-rename@openssh.com", str(CMD_RENAME))]
    assert len(renames) == 3 and len(fsyncs) == 4  # one per put, one for sync()
    assert all(f < r for f, r in zip(fsyncs, renames, strict=False))


def _limit_file_size() -> None:

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited: write(2) then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


def test_failed_write_is_never_renamed_into_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = SSHServer(tmp_path / "sshd", preexec_fn=_limit_file_size)  # as if the disk were full
    server.start()
    try:
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        home = make_ssh_home(tmp_path / "home", server)
        d = home.remote_dir("full")
        b = open_backend(home.url(d), create=True)
        b.put("small", b"s" * 1000)
        for call in (lambda: b.put("big", b"b" * (1 << 20)), lambda: b.put_new("big", b"b" * (1 << 20))):
            with pytest.raises(RemoteError) as e:
                call()
            assert not e.value.transient and type(e.value) is RemoteError
        assert not b.exists("big")
        assert sorted(p.name for p in d.iterdir()) == ["small"]  # no temporary left either
        b.put("small", b"still works")
        assert b.get("small") == b"still works"
        b.close()
    finally:
        server.stop()


def test_hung_server_times_out_as_transient(own_server: tuple[SSHServer, SSHHome]) -> None:

    server, home = own_server
    d = home.remote_dir("hung")
    b = SFTPBackend.from_url(home.url(d), create=True, options={"timeout": "1"})
    b.put("a", b"1")
    assert server.proc is not None
    frozen = [server.proc.pid, *descendants(server.proc.pid)]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)  # like a network that silently drops everything
    try:
        start = time.monotonic()
        with pytest.raises(RemoteError) as e:
            b.put("b", b"2")
        assert e.value.transient and "timed out" in str(e.value)
        assert time.monotonic() - start < 5
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    b.put("b", b"2")  # a fresh connection
    assert sorted(b.list("")) == ["a", "b"]
    b.close()


def test_fixture_fails_without_sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setattr(sshd, "SSHD", str(tmp_path / "no-sshd"))
    with pytest.raises(pytest.fail.Exception, match="openssh-server"):
        SSHServer(tmp_path / "s")


def test_proxyjump_refused_with_a_hint(ssh_home: SSHHome) -> None:
    (ssh_home.ssh_dir / "config").write_text("Host behind\n  ProxyJump gateway\n")
    with pytest.raises(RemoteError, match="ProxyCommand ssh -W") as e:
        open_backend("sftp://behind/srv/fog")
    assert not e.value.transient
