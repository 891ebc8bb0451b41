"""fog mount (issue 19, part 2): the share's history as a read-only file system.

The file system itself (fog.mount.vfs) is tested without FUSE, against the
same history `fog ls` and `fog restore` read. The mount is then tested for
real where this machine can mount FUSE (/dev/fuse, fusermount, libfuse): a
`fog mount` process in the background, read through and compared with
`fog restore .@WHEN -o DIR` of the same moment, writes refused, unmounted by
SIGINT, SIGTERM and `fusermount -u`. Every mount is unmounted in teardown
(`fusermount -u -z`) and every wait has a timeout, so nothing can hang.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fogcli import FOG, Share, env, flip_bit

from fog.errors import FogError

BIG = 3_000_000  # several blocks


def _history(share: Share) -> dict[str, object]:
    """Three pushes: adds (a multi-block file, a link, modes), edits and a deletion, then one more file."""
    big = os.urandom(BIG)
    share.write("docs/a.txt", "first\n")
    share.write("docs/old.txt", "deleted later\n")
    share.write("bin/run.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    share.write("big.bin", big)
    os.symlink("docs/a.txt", share.root / "latest")
    share.push()
    time.sleep(1.1)  # at/ names are to the second: one push per second
    share.write("docs/a.txt", "second\n")
    (share.root / "docs/old.txt").unlink()
    os.chmod(share.root / "bin/run.sh", 0o700)
    share.push()
    time.sleep(1.1)
    share.write("later.txt", "later\n")
    share.push()
    pushes = share.fog("log", "--pushes", "--json").json()
    return {"big": big, "pushes": [p["push"] for p in reversed(pushes)]}  # oldest first


def _walk(top: Path) -> dict[str, tuple[str, int, object, int]]:
    """Every entry below `top`: kind, mode, content or target, mtime (files) in seconds."""
    out: dict[str, tuple[str, int, object, int]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d != ".fog"]
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            s = full.lstat()
            rel = full.relative_to(top).as_posix()
            if stat.S_ISLNK(s.st_mode):
                out[rel] = ("link", 0, os.readlink(full), 0)
            elif stat.S_ISDIR(s.st_mode):
                out[rel] = ("dir", s.st_mode & 0o7777, None, 0)
            else:
                out[rel] = ("file", s.st_mode & 0o7777, full.read_bytes(), int(s.st_mtime))
    return out


# -- the file system without FUSE -------------------------------------------------------------


@pytest.fixture
def history(share: Share) -> dict[str, object]:
    return _history(share)


def _fs(share: Share, at: str | None = None):  # type: ignore[no-untyped-def]
    from fog.mount import open_fs

    return open_fs(Path(os.environ["FOG_HOME"]), share.root, at)


def test_views_and_names(share: Share, history: dict[str, object]) -> None:
    with _fs(share) as fs:
        assert fs.listdir("") == ["current", "at", "by-push", "versions"]
        assert fs.listdir("current") == ["big.bin", "bin", "docs", "later.txt", "latest"]
        at = fs.listdir("at")
        assert len(at) == 3 and at == sorted(at)  # one per push, oldest first, named by local ISO time
        assert fs.listdir(f"at/{at[0]}/docs") == ["a.txt", "old.txt"]
        assert fs.listdir(f"at/{at[1]}/docs") == ["a.txt"]
        assert fs.listdir("by-push") == [p[:12] for p in history["pushes"]]  # type: ignore[union-attr]
        first = history["pushes"][0][:8]  # type: ignore[index]
        assert fs.listdir(f"by-push/{first}") == ["big.bin", "bin", "docs", "latest"]
        assert fs.listdir(f"by-push/{first}^") == []  # right before the first push: nothing yet
        assert "later.txt" in fs.listdir("at/2099-01-01") and fs.listdir("at/1999-01-01") == []
        with pytest.raises(FogError):
            fs.lookup("at/not-a-moment")
        fs._trees.clear()
        for name in at:  # `ls -l at/` and `ls -l by-push/`: a stat of each moment builds no tree
            assert fs.lookup(f"at/{name}").kind == "dir"
        for name in fs.listdir("by-push"):
            assert fs.lookup(f"by-push/{name}").kind == "dir"
        assert not fs._trees
        with pytest.raises(FogError):
            fs.listdir("current/later.txt")

        link = fs.lookup("current/latest")
        assert link.kind == "link" and fs.readlink("current/latest") == "docs/a.txt"
        run = fs.lookup(f"at/{at[0]}/bin/run.sh")
        assert run.kind == "file" and run.mode == 0o755 and fs.lookup("current/bin/run.sh").mode == 0o700
        assert fs.lookup("current/docs").kind == "dir"

        # versions/: every path, deleted ones too, each a directory of its versions
        assert fs.listdir("versions") == ["big.bin", "bin", "docs", "later.txt", "latest"]
        assert fs.listdir("versions/docs") == ["a.txt", "old.txt"]
        names = fs.listdir("versions/docs/a.txt")
        assert len(names) == 2 and all(n.endswith(".txt") for n in names)
        old = fs.lookup(f"versions/docs/a.txt/{sorted(names)[0]}")
        assert fs.read(old, 0, 100) == b"first\n"
        (gone,) = fs.listdir("versions/docs/old.txt")
        assert fs.read(fs.lookup(f"versions/docs/old.txt/{gone}"), 0, 100) == b"deleted later\n"
        assert fs.lookup(f"versions/latest/{fs.listdir('versions/latest')[0]}").kind == "link"


def test_current_follows_pushes_across_a_repack(share: Share, history: dict[str, object]) -> None:
    """Another process's push that repacks the database replaces data.mdb and restarts its transaction
    ids: the mount reopens it (it kept showing the old state, and served a stale sub-database handle)."""
    repack = (
        "import sys; from pathlib import Path; from fog.repo.db import RepoDB; "
        "db = RepoDB(Path(sys.argv[1])); db.repack(); db.close()"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with _fs(share) as fs:
        assert "one.txt" not in fs.listdir("current")
        for name in ("one.txt", "two.txt", "three.txt"):
            share.write(name, f"{name}\n")
            share.fog("push", sub=True)
            subprocess.run([sys.executable, "-c", repack, str(share.root / ".fog" / "db")], env=env, check=True)
            assert name in fs.listdir("current")
            assert fs.read(fs.lookup(f"current/{name}"), 0, 100) == f"{name}\n".encode()
        assert len(fs.listdir("by-push")) == len(history["pushes"]) + 3  # type: ignore[arg-type]


def test_reads_at_any_offset_fetch_each_block_once(share: Share, history: dict[str, object]) -> None:
    big: bytes = history["big"]  # type: ignore[assignment]
    with _fs(share) as fs:
        e = fs.lookup("current/big.bin")
        assert e.size == BIG
        got = b"".join(fs.read(e, off, 128 << 10) for off in range(0, BIG, 128 << 10))
        assert got == big
        blocks = len(fs.reader.layout(e.version).ids)
        assert blocks > 1 and fs.reader.fetched == blocks  # a sequential read: no block fetched twice
        for off, n in [(0, 1), (BIG - 1, 10), (1_234_567, 2_000_000), (BIG, 5)]:
            assert fs.read(e, off, n) == big[off : off + n]


def test_block_cache_is_bounded(share: Share, history: dict[str, object]) -> None:
    from fog.sync.blockread import BlockReader

    with _fs(share) as fs:
        e = fs.lookup("current/big.bin")
        reader = BlockReader(fs.reader.store, cache_bytes=1 << 20, ahead=2)
        assert reader.read(e.version, 0, BIG) == history["big"]
        assert reader._held <= (1 << 20) or len(reader._blocks) == 1


def test_a_damaged_block_is_never_served(share: Share, history: dict[str, object]) -> None:
    big: bytes = history["big"]  # type: ignore[assignment]
    with _fs(share) as fs:
        e = fs.lookup("current/big.bin")
        ids = fs.reader.layout(e.version).ids
    target = ids[1].hex()
    obj = next(o for o in share.objects() if o.name == target)
    flip_bit(obj)
    with _fs(share) as fs:
        e = fs.lookup("current/big.bin")
        assert fs.read(e, 0, 100) == big[:100]  # block 0 is intact
        with pytest.raises(FogError):
            fs.read(e, fs.reader.layout(e.version).starts[1], 100)


def test_at_mounts_one_moment(share: Share, history: dict[str, object]) -> None:
    first = history["pushes"][0]  # type: ignore[index]
    with _fs(share, f"push:{first}") as fs:
        assert fs.listdir("") == ["big.bin", "bin", "docs", "latest"]
        assert fs.read(fs.lookup("docs/a.txt"), 0, 100) == b"first\n"


def test_mount_point_errors(share: Share, tmp_path: Path) -> None:
    r = share.fog("mount", tmp_path / "missing", expect=1)
    assert "does not exist" in r.one_line_error()
    (tmp_path / "file").write_text("x")
    assert "not a directory" in share.fog("mount", tmp_path / "file", expect=1).one_line_error()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert "not empty" in share.fog("mount", tmp_path / "full", expect=1).one_line_error()
    (share.root / "inside").mkdir()
    assert "inside the share" in share.fog("mount", "inside", expect=1).one_line_error()
    (tmp_path / "mp").mkdir()
    r = share.fog("mount", tmp_path / "mp", "--at", "nonsense", expect=1)
    assert "nonsense" in r.one_line_error()


def test_fuse_missing_says_what_to_install(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fog.mount.fusefs as fusefs

    real = os.path.exists
    monkeypatch.setattr(fusefs.os.path, "exists", lambda p: False if p == "/dev/fuse" else real(p))
    (tmp_path / "mp").mkdir()
    r = share.fog("mount", tmp_path / "mp", expect=1)
    assert "/dev/fuse" in r.one_line_error()


# -- a real mount ------------------------------------------------------------------------------


def _fuse_missing() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing"
    if not (shutil.which("fusermount") or shutil.which("fusermount3")):
        return "fusermount is not installed (apt install fuse or fuse3)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError, AttributeError) as exc:
        return f"mfusepy cannot load libfuse: {exc}"
    try:
        with open("/dev/fuse", "rb"):
            pass
    except OSError as exc:
        return f"/dev/fuse cannot be opened: {exc}"
    return None


needs_fuse = pytest.mark.skipif(_fuse_missing() is not None, reason=f"no FUSE here: {_fuse_missing()}")


class Mount:
    """A `fog mount` process in the background."""

    def __init__(self, share: Share, mp: Path, *args: str) -> None:
        self.mp = mp
        mp.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [*FOG, "mount", str(mp), *args],
            cwd=share.root,
            env=env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not os.path.ismount(mp):
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"fog mount exited {self.proc.returncode}: {err.decode()}")
            assert time.monotonic() < deadline, "fog mount did not mount within 30 s"
            time.sleep(0.05)

    def stop(self, how: str) -> tuple[int, str]:
        if how == "fusermount":
            subprocess.run(["fusermount", "-u", str(self.mp)], check=True, timeout=10)
        else:
            self.proc.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGTERM)
        _, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, err.decode()

    def cleanup(self) -> None:
        if os.path.ismount(self.mp):
            subprocess.run(["fusermount", "-u", "-z", str(self.mp)], timeout=10, capture_output=True)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def mounts() -> Iterator[list[Mount]]:
    made: list[Mount] = []
    yield made
    for m in made:
        m.cleanup()


@needs_fuse
def test_mounted_history_matches_restore(
    share: Share, history: dict[str, object], tmp_path: Path, mounts: list[Mount]
) -> None:
    m = Mount(share, tmp_path / "mnt")
    mounts.append(m)
    mp = m.mp
    names = sorted(os.listdir(mp / "at"))
    assert sorted(os.listdir(mp)) == ["at", "by-push", "current", "versions"] and len(names) == 3
    flags = os.statvfs(mp).f_flag
    assert flags & os.ST_RDONLY and flags & os.ST_NOSUID and flags & os.ST_NODEV
    for i, name in enumerate([*names, "yesterday"]):
        out = tmp_path / f"restored{i}"
        share.fog("restore", f".@{name}", "-o", out)
        view = mp / "at" / name
        r = subprocess.run(["diff", "-r", "--no-dereference", str(out), str(view)], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
        assert _walk(view) == _walk(out) if out.exists() else _walk(view) == {}
    out = tmp_path / "now"
    share.fog("restore", ".", "-o", out)
    assert _walk(mp / "current") == _walk(out) == _walk(share.root)
    assert (mp / "current/big.bin").read_bytes() == history["big"]

    first = history["pushes"][0][:12]  # type: ignore[index]
    assert (mp / "by-push" / first / "docs/a.txt").read_text() == "first\n"
    old = mp / "versions/docs/old.txt"
    (only,) = os.listdir(old)
    assert (old / only).read_text() == "deleted later\n"  # a deleted path's version
    assert os.readlink(mp / "current/latest") == "docs/a.txt"
    s = os.lstat(mp / "current/docs/a.txt")
    assert stat.S_ISREG(s.st_mode) and s.st_size == 7 and s.st_ino == os.lstat(mp / "current/docs/a.txt").st_ino

    for attempt in (
        lambda: open(mp / "current/docs/a.txt", "w"),
        lambda: open(mp / "current/new.txt", "w"),
        lambda: os.mkdir(mp / "current/newdir"),
        lambda: os.unlink(mp / "current/later.txt"),
        lambda: os.chmod(mp / "current/later.txt", 0o600),
    ):
        with pytest.raises(OSError) as exc:
            attempt()
        assert exc.value.errno == errno.EROFS

    rc, err = m.stop("SIGINT")
    assert rc == 130 and "interrupted" in err and not os.path.ismount(mp), err


@needs_fuse
def test_mount_at_unmounted_from_outside(
    share: Share, history: dict[str, object], tmp_path: Path, mounts: list[Mount]
) -> None:
    first = history["pushes"][0]  # type: ignore[index]
    m = Mount(share, tmp_path / "mnt", "--at", f"push:{first}")
    mounts.append(m)
    assert sorted(os.listdir(m.mp)) == ["big.bin", "bin", "docs", "latest"]
    assert (m.mp / "docs/a.txt").read_text() == "first\n"
    rc, err = m.stop("fusermount")
    assert rc == 0 and "unmounted" in err and "Traceback" not in err, err

    m = Mount(share, tmp_path / "mnt")
    mounts.append(m)
    rc, err = m.stop("SIGTERM")
    assert rc == 143 and not os.path.ismount(m.mp), err


@needs_fuse
def test_a_file_read_across_a_push_is_one_version(share: Share, tmp_path: Path, mounts: list[Mount]) -> None:
    """An open file of current/ reads the version its open found to the end, whatever is pushed meanwhile; a file
    opened after the push reads the new one whole, never cut to the old size (review 6 trees T3: a read across a
    push spliced the new version onto the old, and a fresh cat gave the new bytes cut to the old size)."""
    import mmap

    v1, v2, v3 = b"A" * 200_000 + b"-v1-end\n", b"z" * 300_000 + b"-v2-end\n", b"q" * 50_000 + b"-v3-end\n"
    share.write("f", v1)
    share.push()
    m = Mount(share, tmp_path / "mnt")
    mounts.append(m)
    f = m.mp / "current/f"
    with open(f, "rb", buffering=0) as old:
        head = old.read(10)
        share.write("f", v2)
        share.push()
        assert os.stat(f).st_size == len(v2)
        with open(f, "rb", buffering=0) as new:  # (opened while the old version is open)
            assert new.read() == v2
        assert head + old.read() == v1
        with open(f, "rb") as again:  # held open while v3 comes: still v2 to the end
            assert again.read(5) == b"zzzzz"
            share.write("f", v3)
            share.push()
            assert f.read_bytes() == v3
            assert again.read() == v2[5:]
    assert f.read_bytes() == v3 and os.stat(f).st_size == len(v3)
    with open(f, "rb") as again, mmap.mmap(again.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert mapped[:] == v3  # (a shared mapping: no direct I/O while one version is open)
    assert (m.mp / "versions/f").is_dir() and sorted(
        (m.mp / "versions/f" / n).stat().st_size for n in os.listdir(m.mp / "versions/f")
    ) == sorted(len(v) for v in (v1, v2, v3))
