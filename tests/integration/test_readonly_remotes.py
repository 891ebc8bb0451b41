"""A read-only remote serves every read; only a write says it is read-only (issue 14, item A).

Device A writes the remote normally; device B sees it read-only, made three
real ways: a read-only bind mount (in a mount namespace of B's fog process
alone, so nothing outlives the test), an unprivileged user without write
permission (the tests run as root, and root ignores file modes), and S3
credentials that may only read and list.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fogcli import FOG, Result, run_fog

Runner = Callable[..., Result]

NOBODY = 65534
_RO_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'


def _ro_mount_prefix(remote: Path) -> list[str]:
    """Run a command in its own mount namespace, where `remote` is a read-only bind mount."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _RO_MOUNT, str(remote)]


def _require_ro_mount(tmp: Path) -> None:
    probe = tmp / "probe"
    probe.mkdir()
    if shutil.which("unshare") is None:
        pytest.skip("read-only bind mount: unshare(1) is not installed")
    r = subprocess.run([*_ro_mount_prefix(probe), "touch", str(probe / "x")], capture_output=True, text=True)
    if "Read-only file system" not in r.stderr:
        pytest.skip(f"read-only bind mount not permitted here (needs CAP_SYS_ADMIN): {r.stderr.strip()[:200]}")


def _device(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("FOG_HOME", str(home))


def _exercise(
    monkeypatch: pytest.MonkeyPatch, url: str, key: Path, home_a: Path, home_b: Path, clone_to: Path, b: Runner
) -> Path:
    """A writes (its share at clone_to's sibling `a`); B clones, pulls and reads through a read-only view.

    Returns B's share root.
    """
    a_root = clone_to.parent / "a"
    _device(monkeypatch, home_a)
    run_fog(["init", a_root, "--remote", url, "--master-key-file", key], clone_to.parent)
    (a_root / "sub").mkdir()
    (a_root / "a.txt").write_text("one\n")
    (a_root / "sub" / "b.txt").write_text("bee\n")
    run_fog(["push"], a_root)

    _device(monkeypatch, home_b)
    r = b(["clone", url, clone_to, "--master-key-file", key], clone_to.parent)
    assert (clone_to / "a.txt").read_text() == "one\n" and (clone_to / "sub" / "b.txt").read_text() == "bee\n"
    assert "read-only" in r.err  # says that the device entry waits for a writable remote

    _device(monkeypatch, home_a)
    (a_root / "a.txt").write_text("two\n")
    run_fog(["push"], a_root)

    _device(monkeypatch, home_b)
    b(["pull"], clone_to)
    assert (clone_to / "a.txt").read_text() == "two\n"
    assert "a.txt" in b(["log", "a.txt"], clone_to).out
    assert b(["cat", "a.txt@~1"], clone_to).out == "one\n"
    assert "+two" in b(["diff", "a.txt@~1", "a.txt"], clone_to).out
    b(["restore", "a.txt@~1", "-o", clone_to.parent / "old.txt"], clone_to)
    assert (clone_to.parent / "old.txt").read_text() == "one\n"
    (clone_to.parent / "old.txt").unlink()
    b(["check", "--read-data"], clone_to)
    assert "remote origin" in b(["stats"], clone_to).out  # read-only too
    b(["status"], clone_to)

    (clone_to / "c.txt").write_text("from B\n")
    r = b(["push"], clone_to, expect=1)
    line = r.one_line_error()
    assert "read-only" in line and url.split("?")[0] in line, line
    r = b(["push", "--json"], clone_to, expect=1)
    assert '"kind": "read-only"' in r.one_line_error()
    return clone_to


# -- a read-only bind mount -----------------------------------------------------------------


def test_read_only_bind_mount_serves_every_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _require_ro_mount(tmp_path)
    remote = tmp_path / "remote"
    prefix = [*_ro_mount_prefix(remote), *FOG]

    def b(args: list, cwd: Path, expect: int = 0) -> Result:
        return run_fog(args, cwd, expect=expect, prefix=prefix)

    root = _exercise(
        monkeypatch, str(remote), tmp_path / "master.key", tmp_path / "home-a", tmp_path / "home-b", tmp_path / "b", b
    )
    # init and remote add must write to the remote: refused in one line
    r = b(["init", tmp_path / "c", "--remote", remote], tmp_path, expect=1)
    assert "read-only" in r.one_line_error()
    r = b(["remote", "add", "backup", remote / "nested"], root, expect=1)
    assert "read-only" in r.one_line_error()


def test_device_entry_is_published_by_the_first_push_that_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone from a read-only remote cannot publish its device; its first push there does."""
    _require_ro_mount(tmp_path)
    remote = tmp_path / "remote"
    prefix = [*_ro_mount_prefix(remote), *FOG]
    key, home_a, home_b = tmp_path / "master.key", tmp_path / "home-a", tmp_path / "home-b"
    _device(monkeypatch, home_a)
    run_fog(["init", tmp_path / "a", "--remote", remote, "--master-key-file", key], tmp_path)
    (tmp_path / "a" / "a.txt").write_text("one\n")
    run_fog(["push"], tmp_path / "a")
    _device(monkeypatch, home_b)
    run_fog(["clone", remote, tmp_path / "b", "--master-key-file", key], tmp_path, prefix=prefix)
    (tmp_path / "b" / "b.txt").write_text("from B\n")
    run_fog(["push"], tmp_path / "b")  # the disk is writable again
    _device(monkeypatch, home_a)
    r = run_fog(["pull"], tmp_path / "a")
    assert (tmp_path / "a" / "b.txt").read_text() == "from B\n", str(r)


# -- an unprivileged user without write permission ----------------------------------------


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory every user can traverse (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="fog-ro-", dir="/tmp"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_unprivileged_reader_serves_every_read(public_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to run fog as an unprivileged user")
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *FOG]
    probe = subprocess.run([*prefix[:-2], "-c", "import fog"], capture_output=True, cwd="/")
    if probe.returncode != 0:  # e.g. a checkout under a private directory (mktemp -d is 0700)
        pytest.skip(f"an unprivileged user cannot import fog from this checkout: {probe.stderr.decode()[-200:]}")
    home_b, b_dir = public_dir / "home-b", public_dir / "b-device"
    for d in (home_b, b_dir):
        d.mkdir()
        os.chown(d, NOBODY, NOBODY)
    key = public_dir / "master.key"

    def b(args: list, cwd: Path, expect: int = 0) -> Result:
        if key.exists():
            os.chown(key, NOBODY, NOBODY)
        return run_fog(args, cwd, expect=expect, prefix=prefix)

    # the remote (public_dir/remote) is root's, mode 755/644: nobody reads it and cannot write it
    _exercise(monkeypatch, str(public_dir / "remote"), key, public_dir / "home-a", home_b, b_dir / "share", b)


# -- S3 credentials that may only read --------------------------------------------------------


def test_read_only_s3_credentials_serve_every_read(
    s3_server, s3_env: str, s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{s3_url}?endpoint={s3_env}&path_style=1"
    rw = (s3_server.access_key, s3_server.secret_key)
    ro = (s3_server.ro_access_key, s3_server.ro_secret_key)

    def creds(pair: tuple[str, str]) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", pair[0])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", pair[1])

    def b(args: list, cwd: Path, expect: int = 0) -> Result:
        creds(ro)
        try:
            return run_fog(args, cwd, expect=expect)
        finally:
            creds(rw)

    _exercise(monkeypatch, url, tmp_path / "master.key", tmp_path / "home-a", tmp_path / "home-b", tmp_path / "b", b)
