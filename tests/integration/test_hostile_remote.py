"""A remote directory that holds a FIFO, a symlink or a device under an object name (issue 15, item 10).

Reading such a name must never block: every command ends within seconds with
exit 4 and one line naming the object. Each fog process here runs under an
alarm, so a hang fails the test (exit -14) instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from test_multidevice import Device, Run, World, fog_env, make_pair, run_fog

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


def test_a_batch_numbered_in_the_billions(pair: tuple[Device, Device]) -> None:
    """A remote that adds a batch named 9999999999 to a log: every command says batches are missing, in
    one line and exit 4, without making a list as long as that number (it was a MemoryError)."""
    a, b = pair
    b.write("doc.txt", "from the desktop\n")
    batch = b.push()
    assert batch is not None
    (batch.parent / "9999999999").write_bytes(batch.read_bytes())
    for dev, args in ((a, "pull"), (a, "check"), (b, "push")):  # b's push reads its own log
        if dev is b:
            b.write("doc.txt", "edited\n")
        r = dev.fog(args, expect=4, patch=ALARM)
        assert "is missing batches 2, 3, 4, 5, 6 and 9999999992 more" in r.err, str(r)
        assert "Traceback" not in r.err and "internal error" not in r.err, str(r)


def test_names_fog_never_writes_in_a_log_are_not_batches(pair: tuple[Device, Device]) -> None:
    """`0000000000` or `00000000001` beside a log's batches: not batches (fog writes neither name), so
    nothing is missing and nothing is repeated (it said "missing batches []")."""
    a, b = pair
    b.write("doc.txt", "from the desktop\n")
    batch = b.push()
    assert batch is not None
    for name in ("0000000000", "0" + batch.name, "x" + batch.name):
        (batch.parent / name).write_bytes(batch.read_bytes())
    a.fog("pull")
    assert (a.root / "doc.txt").read_text() == "from the desktop\n"
    clone_bounded(a.world, "third", expect=0)


def test_a_virtual_memory_limit_too_small_for_the_map_is_named(pair: tuple[Device, Device]) -> None:
    """Under `ulimit -v` LMDB cannot map the database: say so, and never advise moving .fog/ aside as damaged."""
    a, _ = pair
    cap = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
    line = a.fog("status", expect=1, patch=cap).error_line()
    assert "not enough address space" in line and "ulimit -v" in line, line
    assert "clone" not in line and "damaged" not in line, line


def _moved_out(path: Path, outside: Path) -> Path:
    """Move a remote directory outside the remote and leave a symlink to it in its place."""
    outside.parent.mkdir(parents=True, exist_ok=True)
    path.rename(outside)
    path.symlink_to(outside, target_is_directory=True)
    return outside


def _files(top: Path) -> set[Path]:
    return {p for p in top.rglob("*") if p.is_file()}


def test_a_symlinked_directory_in_the_remote_is_never_written_or_deleted_through(
    pair: tuple[Device, Device],
) -> None:
    """Review 7, F1: the store replaces `log/<log>` and `packs` by symlinks to directories elsewhere (a NAS or
    a USB disk: the link is resolved on this machine). push, pull, clone, check and prune refuse it (exit 4,
    one line) and create or delete no file outside the remote (it was: the push wrote its batch and pack
    there, and prune deleted a pack there)."""
    a, b = pair
    b.write("doc.txt", "from the desktop\n")
    batch = b.push()
    assert batch is not None
    a.pull()
    world, elsewhere = a.world, a.world.tmp / "elsewhere"
    share = batch.parent.parent.parent
    _moved_out(batch.parent, elsewhere / "log")
    _moved_out(share / "packs", elsewhere / "packs")
    before = {p: p.read_bytes() for p in _files(elsewhere)}
    b.write("doc.txt", "edited\n")
    line = b.fog("push", expect=4).error_line()
    assert "is a symbolic link, not a directory: refused" in line, line
    steps = [(a, ["pull"]), (a, ["check"]), (b, ["forget", "--keep-last", "1"]), (b, ["prune", "--grace", "0"])]
    for dev, args in steps:
        r = dev.fog(*args, expect=4)
        assert "is a symbolic link, not a directory: refused" in r.err, str(r)
    clone_bounded(world, "third", expect=4)
    assert {p: p.read_bytes() for p in _files(elsewhere)} == before  # nothing made, changed or deleted there


def fog_maxrss_mib(dev: Device, *args: str) -> tuple[int, str, float]:
    """Run fog in a fresh process (not forked from this one): its exit code, stderr and peak RSS in MiB."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fog", "-C", str(dev.root), *args],
            env=fog_env(dev.home),
            cwd=dev.world.tmp,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return proc.returncode, err.read().decode(errors="replace"), usage.ru_maxrss / 1024


@pytest.mark.parametrize("index, count", [(64 << 20, 6), (8 << 20, 30)], ids=["64MiB-index", "8MiB-index"])
def test_fake_pack_headers_cost_one_header_of_memory_at_most(
    pair: tuple[Device, Device], index: int, count: int
) -> None:
    """Review 7, F3: sparse fake packs whose header announces a huge index (a few KiB of the store's disk
    each). An index past what a writer makes (8 MiB) is refused before it is fetched; one within it is read
    and refused, and its buffers freed before the next (they were kept by reference cycles through the
    exceptions' tracebacks until a full collection: 30 fake packs took check to 3.5 GB)."""
    a, _ = pair
    share = next((a.world.remote / "shares").iterdir())
    s = 40 + 36 * ((index - 40) // 36)
    for i in range(count):
        name = f"{i:02x}" + os.urandom(31).hex()
        path = share / "packs" / name[:2] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(b"FOGP\x01" + s.to_bytes(4, "big"))
            f.truncate(s + 9 + (1 << 20))
    for args in (["check"], ["prune", "--dry-run"]):
        rc, err, peak = fog_maxrss_mib(a, *args)
        assert rc in (0, 1, 4) and "Traceback" not in err, (rc, err)
        assert peak < 400, (args, peak, err)  # (one 8 MiB header and its copies at a time; it took GBs)


@pytest.mark.parametrize(
    "first, size", [(b"\x07", 1 << 30), (b"\x02\x00\x00\x00\x01", 256 << 20)], ids=["unknown", "signed"]
)
def test_a_large_sparse_file_under_a_batch_name_is_read_with_bounded_memory(
    pair: tuple[Device, Device], first: bytes, size: int
) -> None:
    """Review 7, F2: a few bytes under the next batch name, made a sparse file of `size` (4 KiB of the store's
    disk). A first byte that names no batch format is refused after a 64 KiB read (the whole 1 GiB was read);
    a signed one is verified with fewer copies (it took five times its size: 5 GiB for 1 GiB)."""
    a, b = pair
    b.write("doc.txt", "from the desktop\n")
    batch = b.push()
    assert batch is not None
    a.pull()
    planted = batch.parent / f"{int(batch.name) + 1:010d}"
    with open(planted, "wb") as f:
        f.write(first)
        f.truncate(size)
    rc, err, peak = fog_maxrss_mib(a, "pull")
    assert rc == 4 and "Traceback" not in err, (rc, err)
    print(f"{peak:.0f} MiB")
    assert peak < (500 if first == b"\x07" else 70 + 3.5 * (size >> 20)), (peak, err)
