"""A remote directory that holds a FIFO, a symlink or a device under an object name (issue 15, item 10).

Reading such a name must never block: every command ends within seconds with
exit 4 and one line naming the object. Each fog process here runs under an
alarm, so a hang fails the test (exit -14) instead of hanging the suite.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_multidevice import Device, Run, World, make_pair, run_fog

ALARM = "import signal; signal.alarm(20)\n"  # a hung fog process dies with SIGALRM (exit -14)


def bounded(dev: Device, *args: str, expect: int) -> Run:
    start = time.monotonic()
    r = dev.fog(*args, expect=expect, patch=ALARM)
    assert time.monotonic() - start < 15, str(r)
    return r


def clone_bounded(world: World, name: str, *, expect: int) -> Run:
    home = world.tmp / f"home-{name}"
    home.mkdir()
    args = ["clone", world.remote, world.tmp / name, "--master-key-file", world.key, "--device-name", name]
    start = time.monotonic()
    r = run_fog(args, home=home, cwd=world.tmp, expect=expect, patch=ALARM)
    assert time.monotonic() - start < 15, str(r)
    return r


def replace_with(path: Path, kind: str) -> None:
    """Put a FIFO, a symlink to /dev/zero or a dangling-free symlink to a regular file where `path` was."""
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    else:
        raise ValueError(kind)


def _packs(world: World) -> list[Path]:
    return sorted(p for p in world.remote.glob("shares/*/packs/*/*") if p.is_file() or p.is_fifo())


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Device, Device]:
    return make_pair(World(tmp_path, tmp_path / "remote", tmp_path / "master.key"))


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_bad_entry_under_a_batch_name(pair: tuple[Device, Device], kind: str) -> None:
    a, b = pair
    b.write("doc.txt", "from the desktop\n")
    batch = b.push()
    assert batch is not None
    replace_with(batch, kind)
    line = bounded(a, "pull", expect=4).error_line()
    assert batch.name in line or "not a regular file" in line, line
    clone_bounded(a.world, "third", expect=4).error_line()
    r = bounded(a, "check", expect=4)
    assert "not a regular file" in r.out + r.err, str(r)


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_bad_entry_under_a_pack_name(pair: tuple[Device, Device], kind: str) -> None:
    a, b = pair
    before = set(_packs(a.world))
    b.write("new.bin", os.urandom(4000))
    b.push()
    (pack,) = set(_packs(a.world)) - before
    replace_with(pack, kind)
    line = bounded(a, "pull", expect=4).error_line()
    assert "not a regular file" in line or "new.bin is missing" in line, line  # a pack whose header cannot be read
    clone_bounded(a.world, "third", expect=4).error_line()
    r = bounded(a, "check", "--read-data", expect=4)
    assert pack.name[:16] in r.out + r.err, str(r)


def test_fifo_under_a_syncconfig_name(pair: tuple[Device, Device]) -> None:
    a, _ = pair
    (locator,) = (a.world.remote / "config").iterdir()
    os.mkfifo(locator / ("ab" * 32))  # a version nobody wrote: a hostile remote's addition
    line = bounded(a, "pull", expect=4).error_line()
    assert "not a regular file" in line, line
    clone_bounded(a.world, "third", expect=4).error_line()
    r = bounded(a, "check", expect=4)
    assert "not a regular file" in r.out + r.err, str(r)
