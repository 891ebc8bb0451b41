"""Progress by bytes, also inside one large file (issue 19): push, pull, clone, restore, prune."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from fogcli import Share, env, init_share, run_fog, wrapper_script

from fog import api, api_trees
from fog.sync import content


def test_push_progress_moves_inside_a_large_file(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    size = 12 << 20
    share.write("big.bin", os.urandom(size))
    real = content.FileReader._put

    def slow(self, stats):  # type: ignore[no-untyped-def]
        put = real(self, stats)

        def paced(data):  # type: ignore[no-untyped-def]
            time.sleep(0.01)  # (blocks go in parallel) ~0.5 s or more for the file: the bar must move while it is read
            return put(data)

        return paced

    monkeypatch.setattr(content.FileReader, "_put", slow)
    calls: list[tuple[int, int]] = []
    api.push(Path(os.environ["FOG_HOME"]), share.root, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, size)  # the total is known from the start (never "0/? bytes")
    inside = [done for done, total in calls if 0 < done < size]
    assert inside, calls  # it moved while the one file was being read
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)  # never backwards
    assert calls[-1] == (size, size)


# -- fetching and rewriting: pull, clone, restore (a file, a tree), prune --------------------------------------
#
# Each command is run twice: through fog.api with a callback (the exact (done, total) calls), and as the real
# `fog` on a terminal (a pty as its stderr: the bar that is drawn). Blocks are slowed so that one large file
# takes about a second: the bar must move while that one file is written, not only between files.

SIZE = 6 << 20  # one large file: ~100 blocks

SLOW = """
import time as _time
from fog.sync import content as _content, prune as _prune

_fetch = _content._fetch_blocks


def _slow_fetch(store, v):
    for block in _fetch(store, v):
        _time.sleep(0.01)
        yield block


class _SlowPacker(_prune.Packer):
    def add(self, *a, **k):
        _time.sleep(0.01)
        return super().add(*a, **k)


_content._fetch_blocks = _slow_fetch
_prune.Packer = _SlowPacker
"""

BAR = re.compile(r"(\d+\.\d)/(\d+\.\d) MiB")  # rich's DownloadColumn in powers of 1024, as the summary lines


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """SLOW, in this process (undone after the test)."""
    from fog.sync import prune

    # Recorded before SLOW runs: it assigns the patches itself, and monkeypatch restores what it recorded.
    monkeypatch.setattr(content, "_fetch_blocks", content._fetch_blocks)
    monkeypatch.setattr(prune, "Packer", prune.Packer)
    exec(SLOW, {})  # noqa: S102  -- the same patch the terminal runs get


def on_terminal(args: list[str | os.PathLike[str]], cwd: Path) -> tuple[int, str, str]:
    """Run fog (slowed by SLOW) with a pty as its stderr: (exit code, stdout, what the terminal received)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    e = env()
    e.update(TERM="xterm", COLUMNS="160")
    proc = subprocess.Popen(
        [sys.executable, "-c", wrapper_script(SLOW), *map(os.fspath, args)],
        cwd=cwd,
        env=e,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(proc.stdout.read() if proc.stdout else b""))
    reader.start()  # (a restore to stdout writes more than a pipe holds)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: every end of the pty's other side is closed (the process ended)
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    rc = proc.wait(timeout=120)
    reader.join()
    out = got[0].decode(errors="replace")
    err = seen.decode(errors="replace")
    assert "Traceback" not in err, err
    return rc, out, err


def drawn(err: str, label: str, total_mib: float | None) -> list[float]:
    """The bar's positions (MiB) as the terminal got them; asserts its label, total, rate and time left."""
    assert label in err, err
    points = [(float(d), float(t)) for d, t in BAR.findall(err)]
    assert points, err
    totals = {t for _, t in points}
    assert len(totals) == 1, points  # the total from the first frame on (never 0/?)
    assert total_mib is None or totals == {total_mib}, points
    assert re.search(r"\d+\.\d (KiB|MiB)/s", err), err  # the rate, in the summary's units
    assert re.search(r"\d:\d\d:\d\d", err), err  # the time left
    return [d for d, _ in points]


def moved_inside(calls: list[tuple[int, int]], size: int) -> None:
    """The callback's calls: the total from the start, moving inside the one file, never back, ending full."""
    assert calls[0] == (0, size), calls
    assert [d for d, _ in calls] == sorted(d for d, _ in calls), calls
    assert {t for _, t in calls} == {size}, calls
    assert any(0 < d < size for d, _ in calls), calls
    assert calls[-1] == (size, size), calls


def second_device(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clone of `share` on another device (FOG_HOME home2 from now on); its root."""
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))
    other = tmp_path / "other"
    run_fog(["clone", share.remote, other, "--master-key-file", share.key_file, "--no-progress"], tmp_path)
    return other


def with_home(home: str, fn):  # type: ignore[no-untyped-def]
    """Run fn with FOG_HOME set to `home` (the device that pushes)."""
    saved = os.environ["FOG_HOME"]
    os.environ["FOG_HOME"] = home
    try:
        return fn()
    finally:
        os.environ["FOG_HOME"] = saved


def test_pull_progress(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow: None) -> None:
    home1 = os.environ["FOG_HOME"]
    other = second_device(share, tmp_path, monkeypatch)
    with_home(home1, lambda: (share.write("big.bin", os.urandom(SIZE)), share.push()))
    calls: list[tuple[int, int]] = []
    api.pull(Path(os.environ["FOG_HOME"]), other, progress=lambda d, t: calls.append((d, t)))
    moved_inside(calls, SIZE)
    assert (other / "big.bin").read_bytes() == (share.root / "big.bin").read_bytes()
    # the real command on a terminal
    with_home(home1, lambda: (share.write("big.bin", os.urandom(SIZE)), share.push()))
    rc, out, err = on_terminal(["pull"], other)
    assert rc == 0
    points = drawn(err, "pull", 6.0)
    assert any(0 < p < 6.0 for p in points), err
    assert "1 updated (6.0 MiB)" in out  # the summary (on stdout) as before
    # nothing new: no bar at all
    rc, out, err = on_terminal(["pull"], other)
    assert rc == 0 and not BAR.search(err), err


def test_sync_draws_a_bar_for_its_pull_and_one_for_its_push(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home1 = os.environ["FOG_HOME"]
    other = second_device(share, tmp_path, monkeypatch)
    with_home(home1, lambda: (share.write("big.bin", os.urandom(SIZE)), share.push()))
    (other / "mine.bin").write_bytes(os.urandom(SIZE // 2))
    rc, out, err = on_terminal(["sync"], other)
    assert rc == 0, err
    assert "pull" in err and "push" in err, err
    pulled = [float(d) for d, t in BAR.findall(err) if t == "6.0"]
    assert any(0 < p < 6.0 for p in pulled), err  # the pull's bar moved inside the big file
    assert len({t for _, t in BAR.findall(err)}) == 2, err  # and the push's, with its own total
    assert (other / "big.bin").read_bytes() == (share.root / "big.bin").read_bytes()


def test_clone_progress(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow: None) -> None:
    share.write("big.bin", os.urandom(SIZE))
    share.write("small.txt", "x\n")
    share.push()
    from fog.cli.sources import read_master_key

    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))
    key = read_master_key(share.key_file, os.environ["FOG_HOME"])
    calls: list[tuple[int, int]] = []
    api.clone(
        Path(os.environ["FOG_HOME"]),
        str(share.remote),
        tmp_path / "c1",
        key,
        progress=lambda d, t: calls.append((d, t)),
    )
    moved_inside(calls, SIZE + 2)
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home3"))
    rc, _, err = on_terminal(["clone", share.remote, tmp_path / "c2", "--master-key-file", share.key_file], tmp_path)
    assert rc == 0
    points = drawn(err, "clone", 6.0)
    assert any(0 < p < 6.0 for p in points), err
    assert (tmp_path / "c2" / "big.bin").stat().st_size == SIZE


def test_restore_file_progress(share: Share, slow: None) -> None:
    first = os.urandom(SIZE)
    share.write("big.bin", first)
    share.push()
    share.write("big.bin", b"changed\n")
    share.push()
    calls: list[tuple[int, int]] = []
    home = Path(os.environ["FOG_HOME"])
    api.restore(home, share.root, "big.bin@~1", output="copy.bin", progress=lambda d, t: calls.append((d, t)))
    moved_inside(calls, SIZE)
    assert (share.root / "copy.bin").read_bytes() == first
    (share.root / "copy.bin").unlink()
    rc, _, err = on_terminal(["restore", "big.bin@~1"], share.root)
    assert rc == 0
    points = drawn(err, "restore", 6.0)
    assert any(0 < p < 6.0 for p in points), err
    assert (share.root / "big.bin").read_bytes() == first
    # to stdout: the bar is on the terminal (stderr), the bytes on stdout
    rc, out, err = on_terminal(["restore", "big.bin@~1", "-o", "-"], share.root)
    assert rc == 0 and "restore" in err and "6.0/6.0 MiB" in err, err


def test_restore_tree_progress(share: Share, slow: None) -> None:
    share.write("d/big.bin", os.urandom(SIZE))
    share.write("d/small.txt", "0123456789\n")
    share.push()
    calls: list[tuple[int, int]] = []
    home = Path(os.environ["FOG_HOME"])
    api_trees.restore_tree(home, share.root, "d@~0", output="../out1", progress=lambda d, t: calls.append((d, t)))
    moved_inside(calls, SIZE + 11)
    rc, _, err = on_terminal(["restore", "d@~0", "-o", share.tmp / "out2"], share.root)
    assert rc == 0
    points = drawn(err, "restore", 6.0)
    assert any(0 < p < 6.0 for p in points), err
    assert (share.tmp / "out2" / "big.bin").stat().st_size == SIZE
    # a dry run moves no byte: no bar
    rc, _, err = on_terminal(["restore", "d@~0", "-o", share.tmp / "out3", "--dry-run"], share.root)
    assert rc == 0 and not BAR.search(err), err


def repackable(share: Share) -> int:
    """A pack holding a large file still referenced beside a forgotten one: a prune repacks the large file."""
    share.write("big.bin", os.urandom(SIZE))
    share.write("old.bin", os.urandom(1 << 20))
    share.push()
    share.write("old.bin", b"new\n")
    share.push()
    share.fog("forget", "--keep-last", "1", "old.bin")
    return SIZE


def test_prune_progress(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow: None) -> None:
    repackable(share)
    calls: list[tuple[int, int]] = []
    home = Path(os.environ["FOG_HOME"])
    report = api.prune(home, share.root, grace_s=0, max_unused=0.0, progress=lambda d, t: calls.append((d, t)))
    (r,) = report.remotes
    assert r.planned_repack and r.repacked_objects
    total = calls[0][1]
    assert total >= SIZE  # the stored bytes of what is copied (the large file's blocks, sealed)
    moved_inside(calls, total)
    share.fog("check", "--read-data")
    # the real command, on a share of its own
    (tmp_path / "again").mkdir()
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))
    again = init_share(tmp_path / "again")
    repackable(again)
    rc, out, err = on_terminal(["prune", "--grace", "0", "--max-unused", "0%"], again.root)
    assert rc == 0, out + err
    points = drawn(err, "prune", None)
    shown = float(BAR.findall(err)[0][1])
    assert 6.0 <= shown <= 6.1, err  # the large file's blocks as stored
    assert any(0 < p < shown for p in points), err
    assert "repacked" in out


def test_no_bar_when_stderr_is_not_a_terminal_or_under_json_or_quiet(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home1 = os.environ["FOG_HOME"]
    other = second_device(share, tmp_path, monkeypatch)
    for args in (["pull"], ["pull", "-q"], ["pull", "--json"], ["pull", "--no-progress"]):
        with_home(home1, lambda: (share.write("big.bin", os.urandom(1 << 20)), share.push()))
        if args == ["pull"]:  # stderr a pipe (a cron job, a log file)
            r = run_fog(args, other, subprocess_=True)
            assert not BAR.search(r.err) and "━" not in r.err and "\x1b" not in r.err, r.err
        else:  # stderr a terminal, but the user asked for quiet, JSON, or no bar
            rc, _, err = on_terminal(args, other)
            assert rc == 0 and not BAR.search(err) and "━" not in err, (args, err)
    r = run_fog(["restore", "big.bin@~1", "-o", tmp_path / "x.bin"], other, subprocess_=True)
    assert not BAR.search(r.err) and "━" not in r.err, r.err
    rc, _, err = on_terminal(["restore", "big.bin@~1", "-o", tmp_path / "y.bin", "--json"], other)
    assert rc == 0 and not BAR.search(err), err
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home3"))
    r = run_fog(
        ["clone", share.remote, tmp_path / "c", "--master-key-file", share.key_file], tmp_path, subprocess_=True
    )
    assert not BAR.search(r.err) and "━" not in r.err, r.err
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home4"))
    rc, _, err = on_terminal(
        ["clone", share.remote, tmp_path / "c2", "--master-key-file", share.key_file, "--json"], tmp_path
    )
    assert rc == 0 and not BAR.search(err), err


def test_pull_progress_counts_what_it_does_not_write(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path ignored here is planned but not written: its bytes count as dealt with when its chunk is done,
    not only at the very end (the bar stood short of its total for the rest of the pull)."""
    import importlib

    meter, pull = (importlib.import_module(f"fog.sync.{name}") for name in ("meter", "pull"))
    home1 = os.environ["FOG_HOME"]
    other = second_device(share, tmp_path, monkeypatch)
    (other / ".fogignore").write_text("a-big.bin\n")
    with_home(home1, lambda: (share.write("a-big.bin", os.urandom(SIZE)), share.write("b.txt", "b\n"), share.push()))
    monkeypatch.setattr(pull, "PULL_CHUNK", 1)
    monkeypatch.setattr(meter, "INTERVAL", 0.0)
    calls: list[tuple[int, int]] = []
    api.pull(Path(os.environ["FOG_HOME"]), other, progress=lambda d, t: calls.append((d, t)))
    assert not (other / "a-big.bin").exists() and (other / "b.txt").read_text() == "b\n"
    assert calls[0] == (0, SIZE + 2) and calls[-1] == (SIZE + 2, SIZE + 2)
    before_end = [d for d, _ in calls[1:-1]]
    assert SIZE in before_end, calls  # the ignored file's chunk ended: its bytes are dealt with
