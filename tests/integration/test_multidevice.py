"""Several devices of one user, each with its own FOG_HOME, sharing a local remote.

Every fog command runs in its own process with its own environment (FOG_HOME
per device), stdin not a terminal, and the exit code and output checked. The
helpers here are also used by test_multidevice_integrity.py.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import fog.cli

# What fog imports lazily, imported once here rather than in every forked run (the commands and
# fog.api, with what they import, take longer to import than most commands take to run).
_LAZY = ("rich.console", "typer._adapters", "typer._coercion", "platformdirs", "getpass", "fog.cli.commands", "fog.api")
for _lazy in _LAZY:
    try:
        importlib.import_module(_lazy)
    except ImportError:
        pass

FOG = [sys.executable, "-m", "fog"]
OLD_MTIME_NS = 1_600_000_000_123_456_789  # 2020-09-13: far from any racy window
# `fog policy set` keeps the rules it is not given, and fog's defaults keep the newest version of
# every hour and day: a test of `--keep-last N` alone drops them, or its pushes straddling an hour
# (CI at 15:00) keep one version more.
ONLY_KEEP_LAST = [
    arg for rule in ("hourly", "daily", "weekly", "monthly", "yearly") for arg in ("--unset", f"keep-{rule}")
]


# -- running fog ----------------------------------------------------------------------------


@dataclass
class Run:
    """What one fog process did."""

    args: list[str]
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error_line(self) -> str:
        """The single line a failing command printed on stderr."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one line on stderr:\n{self}"
        return lines[0]

    def __str__(self) -> str:
        return f"fog {' '.join(self.args)} -> {self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def fog_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOG_") and k != "COLUMNS"}
    env["FOG_HOME"] = str(home)
    env["PYTHONUTF8"] = "1"
    env.update(extra or {})
    return env


EXEC = os.environ.get("FOG_TESTS_EXEC") == "1"  # read at import, before the autouse fixture clears FOG_*
_MAIN = """
import sys as _sys
_sys.argv = ["fog", *_sys.argv[1:]]
from fog.cli import main as _main
_main()
"""


def run_fog(
    args: Sequence[str | os.PathLike[str]],
    *,
    home: Path,
    cwd: Path,
    expect: int | tuple[int, ...] | None = 0,
    env: dict[str, str] | None = None,
    patch: str = "",
) -> Run:
    """Run fog as one device; assert the exit code (unless expect is None) and no traceback.

    `patch` is Python code run in the fog process before the CLI starts (to
    monkeypatch fog). Every run is its own process: by default forked from
    this interpreter, which has imported fog already (saves ~0.4 s a run);
    with FOG_TESTS_EXEC=1, a fresh `python -m fog`.
    """
    argv = [os.fspath(a) for a in args]
    full_env = fog_env(home, env)
    if EXEC:
        prefix = [sys.executable, "-c", textwrap.dedent(patch) + _MAIN] if patch else FOG
        proc = subprocess.run(
            [*prefix, *argv], cwd=cwd, env=full_env, capture_output=True, stdin=subprocess.DEVNULL, timeout=120
        )
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        rc, out, err = _forked(argv, full_env, cwd, textwrap.dedent(patch))
    r = Run(argv, rc, out.decode(errors="replace"), err.decode(errors="replace"))
    assert "Traceback" not in r.err and "Traceback" not in r.out, str(r)
    if expect is not None:
        allowed = expect if isinstance(expect, tuple) else (expect,)
        assert r.rc in allowed, str(r)
    return r


def _forked(argv: list[str], env: dict[str, str], cwd: Path, patch: str) -> tuple[int, bytes, bytes]:
    """`python -m fog ARGV` in a forked child: its own environment, cwd, stdio and exit code."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = fork_fog(argv, env, cwd, patch, out.fileno(), err.fileno())
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), out.read(), err.read()


def fork_fog(argv: list[str], env: dict[str, str], cwd: Path, patch: str, out: int, err: int) -> int:
    """Start `python -m fog ARGV` in a forked child writing to the file descriptors out and err; its pid.

    The caller waits for it (os.waitpid), and may kill it first."""
    pid = os.fork()
    if pid:
        return pid
    code = 70  # the child never returns
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8", line_buffering=True
        )
        sys.argv = ["fog", *argv]
        try:
            if patch:
                exec(patch, {"__name__": "__fog_patch__"})
            fog.cli.main()
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                sys.stderr.write(f"{exc.code}\n")
                code = 1
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)


# -- devices and their trees --------------------------------------------------------------------


@dataclass
class Device:
    """One simulated machine: its FOG_HOME and its copy of the share."""

    name: str
    home: Path
    root: Path
    world: World

    def fog(
        self,
        *args: str | os.PathLike[str],
        expect: int | tuple[int, ...] | None = 0,
        patch: str = "",
    ) -> Run:
        return run_fog(["-C", self.root, *args], home=self.home, cwd=self.world.tmp, expect=expect, patch=patch)

    def push(self) -> Path | None:
        """Push; return the batch file the push published on the remote (None: nothing)."""
        before = set(self.world.log_files())
        doc = self.fog("push", "--json").json()
        new = sorted(set(self.world.log_files()) - before)
        assert len(new) == (1 if doc["batch"] else 0), (doc, new)
        return new[0] if new else None

    def pull(self, expect: int | tuple[int, ...] | None = 0) -> Run:
        return self.fog("pull", expect=expect)

    def write(self, rel: str, data: bytes | str, *, mode: int | None = None, mtime_ns: int | None = None) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        if mode is not None:
            os.chmod(p, mode)
        if mtime_ns is not None:
            os.utime(p, ns=(mtime_ns, mtime_ns))
        return p

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def tree(self) -> dict[str, Any]:
        return tree(self.root)

    def conflicts(self, stem: str = "doc", ext: str = ".txt") -> list[Path]:
        return sorted(self.root.glob(f"{stem}.fog-conflict-*{ext}"))


def tree(root: Path) -> dict[str, Any]:
    """Everything under root but .fog/: path -> (kind, permission bits, bytes or target)."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d != ".fog"]
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            s = p.lstat()
            if p.is_symlink():
                out[rel] = ("link", 0, os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", s.st_mode & 0o7777, None)
            else:
                out[rel] = ("file", s.st_mode & 0o7777, p.read_bytes())
    return out


@dataclass
class World:
    """One user: a local-directory remote, the master key file, and devices."""

    tmp: Path
    remote: Path
    key: Path
    devices: dict[str, Device] = field(default_factory=dict)

    def device(self, name: str) -> Device:
        d = Device(name, self.tmp / f"home-{name}", self.tmp / name, self)
        d.home.mkdir()
        self.devices[name] = d
        return d

    def init(self, name: str = "laptop") -> Device:
        d = self.device(name)
        run_fog(
            ["init", d.root, "--remote", self.remote, "--master-key-file", self.key, "--device-name", name],
            home=d.home,
            cwd=self.tmp,
        )
        return d

    def clone(self, name: str, *, expect: int | tuple[int, ...] = 0) -> Device:
        d = self.device(name)
        run_fog(
            ["clone", self.remote, d.root, "--master-key-file", self.key, "--device-name", name],
            home=d.home,
            cwd=self.tmp,
            expect=expect,
        )
        return d

    def log_files(self) -> list[Path]:
        return sorted(p for p in self.remote.glob("shares/*/log/*/*") if p.is_file())


BIG = random.Random(7).randbytes(300_000)  # several FastCDC blocks

INITIAL = {
    "doc.txt": "base version\n",
    "notes.txt": "some notes\n",
    "sub/readme.md": "# nested\n",
    "sub/deep/data.bin": BIG,
}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


@pytest.fixture
def pair(world: World) -> tuple[Device, Device]:
    return make_pair(world)


def shifted(seconds: int, tz: str | None = None) -> str:
    """A `patch=` for Device.fog: the fog process's clock `seconds` ahead (behind, if negative), and its
    time zone."""
    code = f"""
import os, time
_tn, _t = time.time_ns, time.time
time.time_ns = lambda: _tn() + {seconds} * 1_000_000_000
time.time = lambda: _t() + {seconds}
"""
    if tz is not None:
        code += f"os.environ['TZ'] = {tz!r}\ntime.tzset()\n"
    return code


def make_pair(world: World) -> tuple[Device, Device]:
    """Device A ("laptop") made the share and pushed INITIAL; device B ("desktop") cloned it."""
    a = world.init("laptop")
    for rel, data in INITIAL.items():
        a.write(rel, data, mtime_ns=OLD_MTIME_NS)
    (a.root / "empty").mkdir()
    a.push()
    b = world.clone("desktop")
    return a, b


def versions(dev: Device, path: str) -> list[dict[str, Any]]:
    return dev.fog("log", path, "--json").json()


# -- joining -----------------------------------------------------------------------------------


def test_clone_with_master_key_file_gets_everything(pair: tuple[Device, Device]) -> None:
    a, b = pair
    assert b.tree() == a.tree()
    assert (b.root / "sub/deep/data.bin").read_bytes() == BIG
    assert (b.root / "empty").is_dir()
    devs = b.fog("device", "list", "--json").json()
    assert sorted(d["name"] for d in devs) == ["desktop", "laptop"]
    assert [d["name"] for d in devs if d["this_device"]] == ["desktop"]
    assert all(d["trusted"] and not d["revoked"] for d in devs)
    assert len(a.fog("device", "list", "--json").json()) == 2  # A sees the join too


def test_clone_with_master_key_env(pair: tuple[Device, Device]) -> None:
    a, _ = pair
    c = a.world.device("phone")
    run_fog(
        ["clone", a.world.remote, c.root], home=c.home, cwd=a.world.tmp, env={"FOG_MASTER_KEY_FILE": str(a.world.key)}
    )
    assert c.tree() == a.tree()
    assert len(c.fog("device", "list", "--json").json()) == 3


def test_clone_refuses_bad_keys_and_targets(pair: tuple[Device, Device], tmp_path: Path) -> None:
    a, _ = pair
    world = a.world
    home = tmp_path / "home-x"
    home.mkdir()
    target = tmp_path / "x"

    def clone(*extra: str, expect: int | tuple[int, ...], env: dict[str, str] | None = None) -> Run:
        return run_fog(["clone", world.remote, target, *extra], home=home, cwd=tmp_path, expect=expect, env=env)

    # one character changed: the checksum catches it before any remote access
    text = world.key.read_text().strip()
    i = next(i for i, ch in enumerate(text) if ch.isalnum())
    typo = text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]
    (tmp_path / "typo.key").write_text(typo + "\n")
    r = clone("--master-key-file", str(tmp_path / "typo.key"), expect=(1, 4))
    assert "master key" in r.error_line()
    assert not (target / ".fog").exists()

    # a valid key of another user (own remote) does not open this user's SyncConfig
    other_home = tmp_path / "home-other"
    other_home.mkdir()
    run_fog(
        ["init", tmp_path / "other", "--remote", tmp_path / "other-remote", "--master-key-file", tmp_path / "o.key"],
        home=other_home,
        cwd=tmp_path,
    )
    r = clone("--master-key-file", str(tmp_path / "o.key"), expect=None)
    assert r.rc != 0
    assert "master key" in r.error_line()
    assert not (target / ".fog").exists()

    # no key at all and stdin is not a terminal: a usage error, not a hang
    r = clone(expect=2)
    assert "master key" in r.err.lower()

    # a non-empty target directory is refused and left alone
    target.mkdir(exist_ok=True)
    (target / "mine.txt").write_text("keep me")
    r = clone("--master-key-file", str(world.key), expect=None)
    assert r.rc not in (0, 3)
    assert r.error_line()
    assert sorted(p.name for p in target.iterdir()) == ["mine.txt"]
    assert (target / "mine.txt").read_text() == "keep me"


# -- pull and sync -------------------------------------------------------------------------------


def test_fast_forward_keeps_content_mode_and_mtime(pair: tuple[Device, Device]) -> None:
    a, b = pair
    b.write("doc.txt", "edited on the desktop\n", mode=0o640, mtime_ns=OLD_MTIME_NS + 5_000_000_000)
    b.write("sub/deep/new.txt", "new nested file\n")
    b.push()
    r = a.fog("pull", "--json")
    doc = r.json()
    assert sorted(doc["updated"]) == ["doc.txt", "sub/deep/new.txt"]
    assert doc["conflicts"] == [] and doc["problems"] == []
    assert a.read("doc.txt") == "edited on the desktop\n"
    s = (a.root / "doc.txt").stat()
    assert s.st_mode & 0o7777 == 0o640
    assert s.st_mtime_ns == OLD_MTIME_NS + 5_000_000_000
    assert a.tree() == b.tree()
    assert a.conflicts() == []
    assert a.fog("status", "--json").json()["clean"] is True
    assert a.fog("pull", "--json").json()["versions"] == 0  # idempotent


def test_sync_conflict_keeps_local_edit(pair: tuple[Device, Device]) -> None:
    a, b = pair
    a.write("doc.txt", "laptop edit\n")
    b.write("doc.txt", "desktop edit\n")
    b.push()
    r = a.fog("sync", expect=3)
    assert a.read("doc.txt") == "laptop edit\n"
    copies = a.conflicts()
    assert len(copies) == 1, a.tree().keys()
    assert copies[0].read_text() == "desktop edit\n"
    assert "desktop" in copies[0].name
    assert copies[0].name in r.err
    # sync pushed A's edit (on top of B's) and the conflict copy: B fast-forwards, told that its edit
    # is in the copy now (exit 3)
    b.pull(expect=3)
    assert b.read("doc.txt") == "laptop edit\n"
    assert [p.name for p in b.conflicts()] == [copies[0].name]
    assert b.conflicts()[0].read_text() == "desktop edit\n"
    assert b.tree() == a.tree()
    log = versions(a, "doc.txt")
    assert {v["device"] for v in log} == {"laptop", "desktop"}


def test_concurrent_published_versions_converge(pair: tuple[Device, Device]) -> None:
    a, b = pair
    a.write("doc.txt", "laptop edit\n")
    a.push()
    b.write("doc.txt", "desktop edit\n")
    b.push()
    ra = a.pull(expect=3)
    rb = b.pull(expect=3)
    assert a.pull().rc == 0 and b.pull().rc == 0  # nothing new: no second conflict
    assert a.read("doc.txt") == b.read("doc.txt")
    ca, cb = a.conflicts(), b.conflicts()
    assert len(ca) == 1 and [p.name for p in cb] == [ca[0].name]
    assert ca[0].read_bytes() == cb[0].read_bytes()
    assert {a.read("doc.txt"), ca[0].read_text()} == {"laptop edit\n", "desktop edit\n"}
    assert ca[0].name in ra.err and ca[0].name in rb.err
    # both publish their (identical) conflict copy: still one copy, no new conflict
    a.push()
    b.push()
    a.pull()
    b.pull()
    assert a.tree() == b.tree()
    assert len(a.conflicts()) == 1


_DIE_BEFORE_THE_PULL_RECORDS = """
import os as _os
import fog.repo.db as _db
_db.RepoDB.set_heads = lambda *a, **k: _os._exit(9)  # files placed, the transaction recording them not committed
"""


def test_a_sync_after_a_pull_killed_before_recording_sees_no_local_edit(pair: tuple[Device, Device]) -> None:
    """The file holds exactly a version the pull was applying (its mtime too); the next sync must
    fast-forward it, not keep it as a local edit: that was a conflict (exit 3) and the old content
    published again as the head, with the newer version as the conflict copy. The pull says which
    paths it is placing (`placing` in `meta`) before it places any."""
    a, b = pair
    b.write("doc.txt", "desktop v1\n", mtime_ns=OLD_MTIME_NS + 10**9)
    b.push()
    a.fog("sync", expect=9, patch=_DIE_BEFORE_THE_PULL_RECORDS)
    assert a.read("doc.txt") == "desktop v1\n"  # placed, never recorded
    b.write("doc.txt", "desktop v2\n", mtime_ns=OLD_MTIME_NS + 2 * 10**9)
    b.push()
    a.fog("sync")
    assert a.read("doc.txt") == "desktop v2\n" and not a.conflicts()


def test_a_push_after_a_pull_killed_before_recording_leaves_the_placed_file_to_the_next_pull(
    pair: tuple[Device, Device],
) -> None:
    """Published by a push, the file a killed pull placed would be a local edit of the old version: a
    conflict with every later edit elsewhere. The push leaves it (said on stderr); the next pull settles it."""
    a, b = pair
    b.write("doc.txt", "desktop v1\n", mtime_ns=OLD_MTIME_NS + 10**9)
    b.push()
    a.fog("pull", expect=9, patch=_DIE_BEFORE_THE_PULL_RECORDS)
    a.write("mine.txt", "a new file\n")
    r = a.fog("push")
    assert "doc.txt: a pull was placing it" in r.err
    assert [e["path"] for e in a.fog("log", "--json").json() if e["device"] == "laptop"].count("doc.txt") <= 1
    b.write("doc.txt", "desktop v2\n", mtime_ns=OLD_MTIME_NS + 2 * 10**9)
    b.push()
    a.fog("sync")
    b.fog("pull")
    assert a.read("doc.txt") == b.read("doc.txt") == "desktop v2\n"
    assert not a.conflicts() and not b.conflicts()
    assert a.read("mine.txt") == b.read("mine.txt")
    assert "placing" not in a.fog("push").err


def test_an_edit_of_a_file_a_killed_pull_placed_is_kept(pair: tuple[Device, Device]) -> None:
    a, b = pair
    b.write("doc.txt", "desktop v1\n", mtime_ns=OLD_MTIME_NS + 10**9)
    b.push()
    a.fog("pull", expect=9, patch=_DIE_BEFORE_THE_PULL_RECORDS)
    a.write("doc.txt", "laptop edit after the crash\n")
    a.fog("sync")
    b.fog("pull")
    assert a.read("doc.txt") == b.read("doc.txt") == "laptop edit after the crash\n"
    assert not a.conflicts()


def test_a_clone_killed_before_recording_resumes_without_conflicts(world: World) -> None:
    a = world.init("laptop")
    for i in range(5):
        a.write(f"docs/f{i}.txt", f"{i}\n")
    a.push()
    c = world.device("phone")
    argv = ["clone", world.remote, c.root, "--master-key-file", world.key, "--device-name", "phone"]
    run_fog(argv, home=c.home, cwd=world.tmp, expect=9, patch=_DIE_BEFORE_THE_PULL_RECORDS)
    assert (c.root / "docs" / "f0.txt").read_text() == "0\n"  # placed, never recorded
    a.write("docs/f0.txt", "changed\n")
    a.push()
    run_fog(argv, home=c.home, cwd=world.tmp)
    assert c.tree() == a.tree()
    assert c.fog("status", "--json").json()["clean"]


def _moved_and_linked_back(world: World, a: Device, b: Device, files: dict[str, str]) -> Path:
    """A pushes `files` under d/, B pulls them, then moves d/ to another disk and links it back: d's new home."""
    for path, text in files.items():
        a.write(path, text)
    a.push()
    b.pull()
    outside = world.tmp / "outside"
    outside.mkdir()
    (b.root / "d").rename(outside / "d")
    (b.root / "d").symlink_to(outside / "d")
    return outside


def test_a_pull_never_deletes_or_reads_through_a_symlinked_directory(world: World, pair: tuple[Device, Device]) -> None:
    """B moved a synced directory to another disk and linked it back: what the link leads to is not in the
    share. A deletion from A must not unlink the file out there (it matched the old content)."""
    a, b = pair
    outside = _moved_and_linked_back(world, a, b, {"d/x": "same content\n", "d/k": "keep\n"})
    (a.root / "d" / "x").unlink()
    a.write("d/k", "edited on A\n")
    a.push()
    b.fog("pull", expect=None)
    assert (outside / "d" / "x").read_text() == "same content\n"
    assert (outside / "d" / "k").read_text() == "keep\n"  # not written through the link either
    links = [p for p in b.root.iterdir() if p.is_symlink()]  # kept (moved aside if A's d/k needed the name)
    assert [os.readlink(p) for p in links] == [str(outside / "d")]


def test_a_path_a_pull_could_not_apply_is_not_published_as_deleted(world: World, pair: tuple[Device, Device]) -> None:
    """The same link in the way, and A's new directory d/x under it: whatever B's pull could not apply is
    retried by the next pull, never pushed as a deletion nobody made (A's edit of d/z stays)."""
    a, b = pair
    outside = _moved_and_linked_back(world, a, b, {"d/x": "x\n", "d/z": "same\n"})
    (a.root / "d" / "x").unlink()
    a.write("d/x/inner", "in\n")
    a.write("d/z", "z2\n")
    a.push()
    b.fog("pull", expect=None)
    b.fog("push", expect=None)
    a.fog("pull", expect=None)
    assert a.read("d/z") == "z2\n" and a.read("d/x/inner") == "in\n"
    b.fog("pull", expect=None)
    assert b.read("d/z") == "z2\n" and b.read("d/x/inner") == "in\n"
    assert (outside / "d" / "x").read_text() == "x\n" and (outside / "d" / "z").read_text() == "same\n"


def test_identical_changes_do_not_conflict(pair: tuple[Device, Device]) -> None:
    a, b = pair
    for d in (a, b):
        d.write("doc.txt", "same words\n")
        d.write("both/new.txt", "made twice\n")
    a.push()
    b.push()
    ra = a.fog("pull", "--json").json()
    rb = b.fog("pull", "--json").json()
    assert ra["conflicts"] == [] == rb["conflicts"]
    assert a.tree() == b.tree()
    assert not list(a.root.rglob("*.fog-conflict-*")) and not list(b.root.rglob("*.fog-conflict-*"))
    assert a.read("both/new.txt") == "made twice\n"


# -- deletions, history, archive -----------------------------------------------------------------


def test_deletion_travels_and_restores(pair: tuple[Device, Device]) -> None:
    a, b = pair
    (a.root / "notes.txt").unlink()
    a.push()
    doc = b.fog("pull", "--json").json()
    assert doc["deleted"] == ["notes.txt"]
    assert not (b.root / "notes.txt").exists()
    b.fog("restore", "notes.txt@~1")
    assert b.read("notes.txt") == INITIAL["notes.txt"]


def test_deletion_elsewhere_keeps_local_edit(pair: tuple[Device, Device]) -> None:
    a, b = pair
    (a.root / "sub/readme.md").unlink()
    a.push()
    b.write("sub/readme.md", "desktop kept working on this\n")
    r = b.pull(expect=(0, 3))
    assert b.read("sub/readme.md") == "desktop kept working on this\n"
    assert "kept local changes to sub/readme.md (changed here, deleted elsewhere" in r.err
    assert "changed here and elsewhere" not in r.err  # (it was deleted there, not changed)
    # the edit is pushed on top of the deletion and comes back to A: nothing lost
    b.push()
    a.pull()
    assert a.read("sub/readme.md") == "desktop kept working on this\n"


def test_history_across_devices(pair: tuple[Device, Device], tmp_path: Path) -> None:
    a, b = pair
    b.write("doc.txt", "desktop wrote this\n")
    b.push()
    a.pull()
    a.write("doc.txt", "laptop wrote this\n")
    a.push()
    b.pull()
    log_a = versions(a, "doc.txt")
    assert [v["device"] for v in log_a] == ["laptop", "desktop", "laptop"]
    assert [v["version"] for v in log_a] == [v["version"] for v in versions(b, "doc.txt")]
    from_b = log_a[1]["version"]
    a.fog("restore", f"doc.txt@{from_b[:12]}", "-o", tmp_path / "from-b.txt")
    assert (tmp_path / "from-b.txt").read_text() == "desktop wrote this\n"
    a.fog("restore", f"doc.txt@{from_b[:12]}")
    assert a.read("doc.txt") == "desktop wrote this\n"


def test_archive_restores_without_remote(pair: tuple[Device, Device], tmp_path: Path) -> None:
    a, b = pair
    a.write("sub/deep/data.bin", BIG[:100_000] + b"changed" + BIG[100_000:])
    a.push()
    b.pull()
    a.world.remote.rename(tmp_path / "remote-away")  # unmounted disk
    r = b.pull(expect=None)
    assert r.rc not in (0, 3) and r.error_line()
    out = tmp_path / "old.bin"
    b.fog("restore", "sub/deep/data.bin@~1", "-o", out)
    assert out.read_bytes() == BIG


# -- devices ----------------------------------------------------------------------------------------


def test_rename_and_revoke(pair: tuple[Device, Device]) -> None:
    a, b = pair
    b.write("early.txt", "before the revocation\n")
    b.push()
    a.pull()
    a.fog("device", "rename", "desktop", "old-desktop")
    b.pull()
    for d in (a, b):
        names = {x["name"] for x in d.fog("device", "list", "--json").json()}
        assert names == {"laptop", "old-desktop"}, d.name
    r = a.fog("device", "revoke", "laptop", expect=2)
    assert "itself" in r.error_line()
    a.fog("device", "revoke", "old-desktop", "--master-key-file", a.world.key)  # (the new key replaces the old)
    listed = {x["name"]: x for x in a.fog("device", "list", "--json").json()}
    assert listed["old-desktop"]["revoked"] and not listed["laptop"]["revoked"]
    before = a.tree()
    b.write("late.txt", "after the revocation\n")
    b.write("doc.txt", "revoked device edit\n")
    r = b.fog("push", expect=6)  # the revoked device is told, and publishes nothing
    assert "was revoked by 'laptop'" in r.error_line()
    a.pull()
    assert a.tree() == before
    # a device joining later (with the new master key) still accepts B's earlier batches, and only those
    c = a.world.clone("phone")
    assert c.read("early.txt") == "before the revocation\n"
    assert not (c.root / "late.txt").exists()
    assert c.read("doc.txt") == INITIAL["doc.txt"]


def test_revocation_covers_every_share(pair: tuple[Device, Device]) -> None:
    a, b = pair
    world = a.world
    a2 = Device("laptop", a.home, world.tmp / "photos", world)
    run_fog(["init", a2.root, "--remote", world.remote, "--name", "photos"], home=a.home, cwd=world.tmp)
    a2.write("cat.jpg", b"meow")
    a2.push()
    b2 = Device("desktop", b.home, world.tmp / "desktop-photos", world)
    run_fog(
        ["clone", world.remote, b2.root, "--share", "photos", "--master-key-file", world.key],
        home=b.home,
        cwd=world.tmp,
    )
    assert b2.read("cat.jpg") == "meow"
    a.fog("device", "revoke", "desktop", "--master-key-file", world.tmp / "new.key")  # run in the first share
    b2.write("cat.jpg", b"woof")
    r = b2.fog("push", expect=6)  # in every share: the keys of all of them were rotated
    assert "was revoked" in r.error_line()
    a2.pull()
    assert a2.read("cat.jpg") == "meow"
    a2.write("dog.jpg", b"new in the second share")
    a2.push()
    b2.fog("pull", expect=6)
    assert not (b2.root / "dog.jpg").exists()


def test_content_another_device_packed_is_not_uploaded_again(pair: tuple[Device, Device]) -> None:
    """B learned A's packs from their headers when it cloned: the same bytes under new names cost nothing."""
    a, b = pair
    packs = sorted(a.world.remote.glob("shares/*/packs/*/*"))
    b.write("copy-of-data.bin", BIG)
    b.write("copy-of-notes.txt", "some notes\n")
    doc = b.fog("push", "--json").json()
    assert doc["bytes_uploaded"] == 0 and doc["bytes_deduped"] >= len(BIG)
    assert sorted(a.world.remote.glob("shares/*/packs/*/*")) == packs  # no new pack at all
    a.pull()
    assert (a.root / "copy-of-data.bin").read_bytes() == BIG


_COUNT_CONFIG_GETS = """
import fog.backends.local as _local
_real_get = _local.LocalBackend.get_range  # a whole version is one bounded ranged read
def _get(self, name, offset, length):
    if name.startswith("config/"):
        print("CONFIG-GET", name)
    return _real_get(self, name, offset, length)
_local.LocalBackend.get_range = _get
"""


def test_a_pull_fetches_only_config_versions_it_has_not_merged(pair: tuple[Device, Device]) -> None:
    a, b = pair
    b.pull()  # merges every version once (the clone left the cache without their names)
    again = b.fog("pull", patch=_COUNT_CONFIG_GETS)
    assert "CONFIG-GET" not in again.out  # one LIST, no GET: nothing new
    a.fog("device", "rename", "desktop", "pc")  # a new SyncConfig version
    after = b.fog("pull", patch=_COUNT_CONFIG_GETS)
    assert after.out.count("CONFIG-GET") == 1
    assert {x["name"] for x in b.fog("device", "list", "--json").json()} == {"laptop", "pc"}
    b.fog("device", "rename", "pc", "desk")
    a.pull()
    for d in (a, b):
        assert {x["name"] for x in d.fog("device", "list", "--json").json()} == {"laptop", "desk"}, d.name


# -- this device's own log: a push killed after publishing, and a copied identity --------------------------

KILLED_AFTER_PUBLISHING = """
import os as _os
import fog.store as _s
_put = _s.ShareStore.publish_batch
def _killed(self, *a, **k):
    _put(self, *a, **k)
    _os._exit(9)
_s.ShareStore.publish_batch = _killed
"""


@pytest.mark.parametrize("first", [True, False])
def test_a_push_killed_after_publishing_is_adopted_by_the_next(world: World, first: bool) -> None:
    """The case `catch_up_own_log` is for: the batch landed, the database never recorded it. The next push
    takes it as this checkout's (its versions known here, its objects there): nothing is refused, nothing
    is published again, and the remote is complete. `first`: the batch was this device's first there."""
    if first:
        a = world.init("laptop")
        a.write("doc.txt", "v1\n", mtime_ns=OLD_MTIME_NS)
    else:
        a, _ = make_pair(world)
        a.write("doc.txt", "v2\n", mtime_ns=OLD_MTIME_NS + 1)
    assert a.fog("push", patch=KILLED_AFTER_PUBLISHING, expect=None).rc == 9
    logs = world.log_files()
    assert a.fog("push").out.startswith("Nothing to push")
    assert world.log_files() == logs
    assert a.fog("remote", "list", "--json").json()[0]["pending"] == 0
    a.fog("check")
    c = world.clone("phone")
    assert c.tree() == a.tree()


def _copied_machine(world: World, a: Device) -> Device:
    """A home directory copied to a new machine (rsync, a restored backup): FOG_HOME and the checkout
    together, the checkout at the same path there (here: another path, and checkouts.json says so)."""
    twin = Device(a.name, world.tmp / "home-twin", world.tmp / "twin", world)
    shutil.copytree(a.home, twin.home, symlinks=True)
    shutil.copytree(a.root, twin.root, symlinks=True)
    path = twin.home / "checkouts.json"
    path.write_text(path.read_text().replace(str(a.root), str(twin.root)))
    return twin


def test_a_copied_fog_home_pushing_as_this_device_is_refused_not_adopted(world: World) -> None:
    """Review 7, new user 2: with FOG_HOME and the checkout copied to a new machine and both used, each
    adopted the other's batches of "its own" log into its history as current without writing the files,
    and every command said in sync (`fog check` too). The second one to push now stops, in one line naming
    the way out, `check` says it too, and that way out works: both trees converge."""
    a = world.init("laptop")
    a.write("notes.txt", "hi\n")
    a.fog("push")
    twin = _copied_machine(world, a)
    twin.write("a.txt", "written on the new machine\n")
    twin.fog("sync")
    a.write("b.txt", "written on the old one\n")
    logs = world.log_files()
    for args in (["sync"], ["push"], ["pull"]):
        line = a.fog(*args, expect=4).error_line()
        assert "batch 2 of this device's log on origin was not written by this checkout" in line, line
        assert "(a.txt)" in line and "copied FOG_HOME" in line and "--into-existing" in line, line
    assert world.log_files() == logs  # nothing published over it
    assert "batch 2 of this device's log on origin was not written by this checkout" in a.fog("check", expect=4).err
    assert a.fog("log", "a.txt", expect=None).rc != 0  # nothing of the twin's adopted into this history
    # the way out: this machine gets its own identity, its files kept
    os.rename(a.root / ".fog", world.tmp / "fog-aside")
    fresh = world.tmp / "home-fresh"
    run_fog(
        ["clone", world.remote, a.root, "--into-existing", "--master-key-file", world.key], home=fresh, cwd=world.tmp
    )
    a = Device("laptop-2", fresh, a.root, world)
    a.fog("sync")
    twin.fog("sync")
    assert a.tree() == twin.tree() and a.read("b.txt") == "written on the old one\n"
    assert twin.read("a.txt") == "written on the new machine\n"
