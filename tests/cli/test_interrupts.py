"""SIGINT and SIGTERM stop push, pull, clone and check within a second, in the middle of a large file.

Each command runs as a real `fog` process on a local-directory remote and is
signalled once it is well into the work (it has read or written tens of MiB,
seen in /proc/PID/io or in the files it writes), not after a fixed sleep. The
process must exit within 1.0 s of the signal with 130 (SIGINT) or 143
(SIGTERM) and the one line `fog: interrupted`, leave the lock free and the
share consistent: the next run completes, `fog check --read-data` passes and
a clone of the result is byte-identical.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fogcli import FOG, env, leftovers, sha256_file, wrapper_script

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="watches /proc/PID/io (Linux)")

BIG_MIB = 384  # large enough that no command gets through it before the signal lands
WELL_INTO = 48 << 20  # bytes a command has read (or written) before it is signalled
BOUND = 1.0  # seconds from the signal to the process's exit (issue 14)
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass
class Device:
    """One FOG_HOME, and the fog processes it runs."""

    home: Path

    def env(self) -> dict[str, str]:
        e = {k: v for k, v in env().items() if not k.startswith("FOG_")}
        e["FOG_HOME"] = str(self.home)
        return e

    def run(self, *args: str | os.PathLike[str], cwd: Path, expect: int | None = 0) -> subprocess.CompletedProcess:
        p = subprocess.run(
            [*FOG, *map(os.fspath, args)], cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=300
        )
        assert "Traceback" not in p.stderr, p.stderr
        if expect is not None:
            assert p.returncode == expect, f"fog {args} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def start(self, *args: str | os.PathLike[str], cwd: Path, out: Path) -> subprocess.Popen:
        with open(out, "wb") as f:  # stderr to a file: nothing to drain while waiting
            return subprocess.Popen(
                [*FOG, *map(os.fspath, args)], cwd=cwd, env=self.env(), stdout=f, stderr=subprocess.STDOUT
            )


@dataclass
class Stopped:
    rc: int
    output: str
    seconds: float  # from the signal to the exit


def read_bytes(pid: int) -> int:
    """Bytes the process has read so far (read(2) and friends, page cache included)."""
    try:
        with open(f"/proc/{pid}/io") as f:
            fields = dict(line.split(": ") for line in f.read().splitlines())
        return int(fields["rchar"])
    except (FileNotFoundError, ProcessLookupError):
        return 0


def interrupt(proc: subprocess.Popen, out: Path, sig: int, ready: Callable[[], bool]) -> Stopped:
    """Signal `proc` once `ready()` holds (it must still be running then); time its exit."""
    deadline = time.monotonic() + 60
    while not ready():
        assert proc.poll() is None, f"fog finished before it was signalled:\n{out.read_text()}"
        assert time.monotonic() < deadline, "fog never got far enough to be signalled"
        time.sleep(0.005)
    assert proc.poll() is None, f"fog finished before it was signalled:\n{out.read_text()}"
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    finally:
        proc.kill()  # (a no-op once it exited)
    return Stopped(proc.returncode, out.read_text(), time.monotonic() - sent)


def assert_interrupted(stopped: Stopped, sig: int) -> None:
    assert "Traceback" not in stopped.output, stopped
    assert stopped.output.splitlines() == ["fog: interrupted"], stopped
    assert stopped.rc == CODES[sig], stopped
    assert stopped.seconds < BOUND, f"{signal.Signals(sig).name} took {stopped.seconds:.2f} s to stop fog"


def size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def remote_temp_files(remote: Path) -> list[str]:
    return sorted(p.relative_to(remote).as_posix() for p in remote.rglob(".tmp-*"))


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BIG_MIB of random bytes (incompressible, no repeated blocks), written once."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    with open(path, "wb") as f:
        for _ in range(BIG_MIB // 8):
            f.write(os.urandom(8 << 20))
    return path


def new_share(tmp: Path, big: Path) -> tuple[Device, Path, Path, Path]:
    """(device, share root, remote, master key file): a new share holding a link to `big`."""
    dev = Device(tmp / "home")
    dev.home.mkdir()
    root, remote, key = tmp / "share", tmp / "remote", tmp / "master.key"
    dev.run("init", root, "--remote", remote, "--master-key-file", key, cwd=tmp)
    os.link(big, root / "big.bin")  # same bytes, no copy
    return dev, root, remote, key


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory, big_file: Path) -> tuple[Device, Path, Path, Path]:
    """A share whose big file is pushed completely."""
    dev, root, remote, key = new_share(tmp_path_factory.mktemp("pushed"), big_file)
    dev.run("push", "-q", cwd=root)
    return dev, root, remote, key


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_push_of_a_large_file_stops_within_a_second(tmp_path: Path, big_file: Path, sig: int) -> None:
    dev, root, remote, key = new_share(tmp_path, big_file)
    out = tmp_path / "push.out"
    proc = dev.start("push", "-q", cwd=root, out=out)

    def ready() -> bool:  # reading the file, and a pack already uploaded
        return read_bytes(proc.pid) > WELL_INTO and next(remote.glob("shares/*/packs/*/*"), None) is not None

    assert_interrupted(interrupt(proc, out, sig, ready), sig)
    assert not list(remote.glob("shares/*/log/*/*")), "an interrupted push published a batch"
    assert remote_temp_files(remote) == []
    dev.run("push", "-q", cwd=root)  # the lock is free (75 otherwise), and everything is published now
    assert dev.run("status", "--json", cwd=root).stdout.count("big.bin") == 0
    dev.run("check", "--read-data", "--no-progress", cwd=root)
    assert leftovers(root) == [] and remote_temp_files(remote) == []
    Device(tmp_path / "home2").run("clone", remote, tmp_path / "clone", "--master-key-file", key, cwd=tmp_path)
    assert sha256_file(tmp_path / "clone" / "big.bin") == sha256_file(big_file)


def test_clone_and_pull_of_a_large_file_stop_within_a_second(
    tmp_path: Path, big_file: Path, pushed: tuple[Device, Path, Path, Path]
) -> None:
    _, _, remote, key = pushed
    dev = Device(tmp_path / "home")
    clone = tmp_path / "clone"
    staged = clone / ".fog" / "tmp"
    old: set[Path] = set()  # temp files the pull must not take for its own (it sweeps them)

    def downloading() -> bool:  # a new temp file already holds tens of MiB of the big file
        return any(size(p) > WELL_INTO for p in set(staged.glob(".fog-tmp-*")) - old)

    out = tmp_path / "clone.out"
    proc = dev.start("clone", remote, clone, "--master-key-file", key, cwd=tmp_path, out=out)
    assert_interrupted(interrupt(proc, out, signal.SIGTERM, downloading), signal.SIGTERM)
    assert not (clone / "big.bin").exists(), "a partial file under its final name"
    again = dev.run("push", cwd=clone, expect=1)  # (its partial tree must not be pushed back)
    assert "unfinished clone" in again.stderr

    old.update(staged.glob(".fog-tmp-*"))  # only if the watchdog had to end the clone
    out = tmp_path / "pull.out"
    proc = dev.start("pull", "-q", cwd=clone, out=out)
    assert_interrupted(interrupt(proc, out, signal.SIGINT, downloading), signal.SIGINT)
    assert not (clone / "big.bin").exists(), "a partial file under its final name"

    # the lock is free; the same clone, run again, completes and sweeps the temp files
    dev.run("clone", remote, clone, "--master-key-file", key, cwd=tmp_path)
    assert sha256_file(clone / "big.bin") == sha256_file(big_file)
    assert leftovers(clone) == []
    assert dev.run("status", "--json", cwd=clone).stdout.count("big.bin") == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_check_read_data_stops_within_a_second(
    pushed: tuple[Device, Path, Path, Path], tmp_path: Path, sig: int
) -> None:
    dev, root, _, _ = pushed
    out = tmp_path / "check.out"
    proc = dev.start("check", "--read-data", "--no-progress", cwd=root, out=out)
    assert_interrupted(interrupt(proc, out, sig, lambda: read_bytes(proc.pid) > WELL_INTO), sig)
    dev.run("check", "--read-data", "--no-progress", cwd=root)  # the lock is free, nothing was harmed


def test_a_second_signal_does_not_break_the_cleanup(tmp_path: Path, big_file: Path) -> None:
    """SIGINT, then SIGTERM right after (an impatient user, a service manager): one clean stop, the first decides."""
    dev, root, remote, _ = new_share(tmp_path, big_file)
    out = tmp_path / "push.out"
    proc = dev.start("push", "-q", cwd=root, out=out)
    deadline = time.monotonic() + 60
    while read_bytes(proc.pid) <= WELL_INTO:
        assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
        time.sleep(0.005)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    seconds = time.monotonic() - sent
    output = out.read_text()
    assert "Traceback" not in output and output.splitlines() == ["fog: interrupted"], output
    assert rc == 130 and seconds < BOUND, (rc, seconds)
    assert remote_temp_files(remote) == []
    dev.run("push", "-q", cwd=root)


def test_a_stuck_remote_cannot_hold_the_exit_back(tmp_path: Path) -> None:
    """The watchdog: a sync() that never returns (a remote that does not answer) still ends fog in time."""
    dev = Device(tmp_path / "home")
    dev.home.mkdir()
    root, remote, key = tmp_path / "share", tmp_path / "remote", tmp_path / "master.key"
    dev.run("init", root, "--remote", remote, "--master-key-file", key, cwd=tmp_path)
    (root / "a.txt").write_text("hello")
    marker = tmp_path / "syncing"
    code = f"""
import time
from fog.backends import local
def stuck(self):
    open({str(marker)!r}, "w").close()
    time.sleep(60)
local.LocalBackend.sync = stuck
"""
    out = tmp_path / "push.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-c", wrapper_script(code), "push", "-q"], cwd=root, env=dev.env(), stdout=f, stderr=f
        )
    stopped = interrupt(proc, out, signal.SIGTERM, marker.exists)
    assert_interrupted(stopped, signal.SIGTERM)
    assert stopped.seconds > 0.5  # (it was the watchdog)
    assert not list(remote.glob("shares/*/log/*/*")), "a batch was published without a sync"
