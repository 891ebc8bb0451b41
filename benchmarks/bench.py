"""fog against restic and borg on the same corpus, in the same run (issue 5).

Usage:
    python benchmarks/bench.py [--scale 1.0] [--rounds 3] [--tools fog,restic,borg]
    python benchmarks/bench.py --files100k [--rounds 3]
    python benchmarks/bench.py --realtree [--scale 1.0] [--rounds 3]
    python benchmarks/bench.py --tree DIR [--rounds 3]

The corpus comes from benchmarks/corpus.py. Each round runs every tool once,
in a rotated order (round 1: fog, restic, borg; round 2: restic, borg, fog;
...), each on a fresh repository with a fresh cache. A tool that is not
installed is left out. Steps, for each tool:

    initial     first push / backup of the whole corpus
    nochange    the same again, nothing changed
    small       one small text file changed (a line appended), then push / backup
    insert      100 bytes inserted in the middle of the big random file, then
                push / backup; also the bytes this added to the repository
    restore     the whole latest version into an empty directory: `fog clone`
                with a second FOG_HOME (a second device), `restic restore
                latest`, `borg extract`; the result's file count and size, and
                the two changed files' contents, are checked. Also timed: the
                restore followed by `sync`, until the restored data is on disk
                (fog waits for that before renaming files into place; restic
                and borg leave it to the kernel)
    size        the repository's apparent size (sum of file sizes) at the end

With --files100k (the 100,000-file corpus), --realtree (the real-tree-like
corpus: 102,000 files of real sizes, deep directories, symlinks) or --tree DIR
(a copy of DIR), the steps are initial, nochange, restore and size, with no
edits; the restore is checked entry by entry (every file's content and
permission bits, every directory, every symlink's target). These modes also
record the local database or cache after the no-change push: fog's
`.fog/db/data.mdb`, restic's cache directory, borg's base directory (its
cache, keys and security records), in bytes and per path (files, directories
and symlinks). Separately, `fog log FILE` is timed on a share whose files each have
--log-versions versions (built by edit + push loops before the rounds); the
restic analogue is `restic find FILE` over as many snapshots. borg has no
per-file history across archives, so it has no figure there.

Every command runs as a child process; its wall time, CPU time and peak RSS
are recorded (with `/usr/bin/time -f "%M %U %S"`, or without GNU time a small
Python wrapper that reads the same wait4 figures). A command that exits
non-zero aborts the benchmark with its output. Before each tool's run the
corpus is read once, so it is warm in the page cache for every tool (dropping
the page cache is not reliably possible, so the figures are for a warm
corpus), and os.sync() runs before each timed command, so that one command's
dirty pages are not written back during the next one's time. The edits are
undone after each tool's run and every mtime set back to corpus.FIXED_MTIME,
so every tool sees the same tree.

The bytes added by the 100-byte insert vary from round to round for every
tool: chunk boundaries depend on a per-repository secret (fog's gear seed,
restic's chunker polynomial, borg's chunker seed), so the chunk that takes the
insert has a different size each time.

The medians over rounds are printed as a Markdown table with fog/restic and
fog/borg ratios, and all measurements are written as JSON (--output).
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import importlib.util
import json
import os
import platform
import shlex
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus as corpus_mod  # noqa: E402

PASSWORD = "fog-benchmark-password"
TOOLS = ("fog", "restic", "borg")
INSERT = bytes(range(100))  # inserted in the middle of the big random file
APPENDED = b"\nThis line was added by the benchmark.\n"


class BenchError(Exception):
    pass


@dataclass
class Measure:
    tool: str
    step: str
    round: int
    seconds: float
    cpu_seconds: float = 0.0
    rss_kb: int = 0
    extra: dict = field(default_factory=dict)


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
# Without GNU time, this wrapper reports its child's usage the same way (wait4). It is not done from this
# process directly: a child forked from a big parent inherits the parent's peak RSS, which exec keeps.
_WRAPPER = """import os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, status, ru = os.wait4(p.pid, 0)
open(sys.argv[1], "w").write(f"{ru.ru_maxrss} {ru.ru_utime} {ru.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, int, str]:
    """Run `cmd`, return (wall s, user+sys CPU s, peak RSS KiB, stdout). Non-zero exit raises BenchError."""
    os.sync()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as usage:
        if GNU_TIME:
            wrapped = [GNU_TIME, "-f", "%M %U %S", "-o", usage.name, *cmd]
        else:
            wrapped = [sys.executable, "-c", _WRAPPER, usage.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.run(wrapped, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        report = Path(usage.name).read_text().split("\n")
    if proc.returncode != 0:
        raise BenchError(
            f"command failed with exit code {proc.returncode}: {' '.join(cmd)}\n"
            f"--- stdout (end) ---\n{stdout[-3000:]}\n--- stderr ---\n{stderr[-5000:]}"
        )
    rss, user, system = [line for line in report if line.strip()][-1].split()
    return seconds, float(user) + float(system), int(rss), stdout


def apparent_size(path: Path) -> int:
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 << 20):
            h.update(chunk)
    return h.hexdigest()


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOG_", "RESTIC_", "BORG_"))}
    env["LC_ALL"] = "C.UTF-8"
    return env


# --- the tools --------------------------------------------------------------------------------------------------


class Tool:
    """One backup tool in one round: a fresh repository, caches and identity under `work`."""

    name = ""

    def __init__(self, exe: str, corpus: Path, work: Path) -> None:
        self.exe, self.corpus, self.work = exe, corpus, work
        self.repo = work / "repo"
        self.env = base_env()

    def version(self) -> str:
        raise NotImplementedError

    def init(self) -> tuple[float, float, int, str]:
        raise NotImplementedError

    def backup(self, label: str) -> tuple[float, float, int, str]:
        raise NotImplementedError

    def restore(self, target: Path) -> tuple[tuple[float, float, int, str], Path]:
        """Restore the latest backup under `target`; also return where the corpus root landed."""
        raise NotImplementedError

    def local_db(self) -> int:
        """The apparent size of the tool's local database or cache, in bytes."""
        raise NotImplementedError

    def cleanup(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


class Fog(Tool):
    name = "fog"

    def __init__(self, exe: str, corpus: Path, work: Path) -> None:
        super().__init__(exe, corpus, work)
        self.key = work / "master-key"
        self.env["FOG_HOME"] = str(work / "home-a")

    def version(self) -> str:
        return run([self.exe, "--version"], self.env)[3].strip()

    def init(self) -> tuple[float, float, int, str]:
        self.work.mkdir(parents=True, exist_ok=True)
        cmd = [self.exe, "init", str(self.corpus), "--remote", str(self.repo), "--master-key-file", str(self.key)]
        return run([*cmd, "--json"], self.env)

    def backup(self, label: str) -> tuple[float, float, int, str]:
        return run([self.exe, "-C", str(self.corpus), "push", "--json"], self.env)

    def restore(self, target: Path) -> tuple[tuple[float, float, int, str], Path]:
        env = dict(self.env, FOG_HOME=str(self.work / "home-b"))
        cmd = [self.exe, "clone", str(self.repo), str(target), "--master-key-file", str(self.key), "--json"]
        return run(cmd, env), target

    def local_db(self) -> int:
        return (self.corpus / ".fog" / "db" / "data.mdb").stat().st_size

    def cleanup(self) -> None:
        shutil.rmtree(self.corpus / ".fog", ignore_errors=True)
        super().cleanup()


class Restic(Tool):
    name = "restic"

    def __init__(self, exe: str, corpus: Path, work: Path) -> None:
        super().__init__(exe, corpus, work)
        self.env.update(
            RESTIC_PASSWORD=PASSWORD, RESTIC_CACHE_DIR=str(work / "cache"), RESTIC_REPOSITORY=str(self.repo)
        )

    def version(self) -> str:
        return run([self.exe, "version"], self.env)[3].strip()

    def init(self) -> tuple[float, float, int, str]:
        self.work.mkdir(parents=True, exist_ok=True)
        return run([self.exe, "init"], self.env)

    def backup(self, label: str) -> tuple[float, float, int, str]:
        cmd = [self.exe, "backup", "--quiet", "--exclude", str(self.corpus / ".fog"), str(self.corpus)]
        return run(cmd, self.env)

    def restore(self, target: Path) -> tuple[tuple[float, float, int, str], Path]:
        result = run([self.exe, "restore", "latest", "--target", str(target)], self.env)
        return result, target / self.corpus.relative_to("/")

    def local_db(self) -> int:
        return apparent_size(self.work / "cache")


class Borg(Tool):
    name = "borg"

    def __init__(self, exe: str, corpus: Path, work: Path, compression: str = "lz4") -> None:
        super().__init__(exe, corpus, work)
        self.compression = compression
        self.last = ""
        self.env.update(BORG_PASSPHRASE=PASSWORD, BORG_BASE_DIR=str(work / "base"))

    def version(self) -> str:
        return run([self.exe, "--version"], self.env)[3].strip()

    def init(self) -> tuple[float, float, int, str]:
        self.work.mkdir(parents=True, exist_ok=True)
        return run([self.exe, "init", "--encryption", "repokey-blake2", str(self.repo)], self.env)

    def backup(self, label: str) -> tuple[float, float, int, str]:
        self.last = label
        cmd = [self.exe, "create", "--compression", self.compression, "--exclude", "./.fog", f"{self.repo}::{label}"]
        return run([*cmd, "."], self.env, cwd=self.corpus)

    def restore(self, target: Path) -> tuple[tuple[float, float, int, str], Path]:
        target.mkdir(parents=True)
        return run([self.exe, "extract", f"{self.repo}::{self.last}"], self.env, cwd=target), target

    def local_db(self) -> int:
        return apparent_size(self.work / "base")


def find_tools(wanted: list[str], fog_exe: str | None) -> dict[str, str]:
    found = {}
    for name in wanted:
        if name == "fog":
            exe = fog_exe or shutil.which("fog", path=str(Path(sys.executable).parent)) or shutil.which("fog")
        else:
            exe = shutil.which(name)
        if exe:
            found[name] = exe
        else:
            print(f"bench: {name} is not installed; leaving it out", file=sys.stderr)
    if "fog" not in found:
        raise BenchError("fog not found: pass --fog PATH")
    return found


def snapshot_fog(work: Path) -> tuple[str, str]:
    """Copy the fog package this Python imports into `work`; return a launcher for the copy and its digest.

    A long run then measures one version of fog throughout, even if the
    checkout is edited meanwhile (an editable install would pick edits up).
    """
    spec = importlib.util.find_spec("fog")
    if spec is None or spec.origin is None:
        raise BenchError("--snapshot-fog: this Python cannot import fog")
    source = Path(spec.origin).parent
    dest = work / "fog-snapshot"
    shutil.copytree(source, dest / "fog", ignore=shutil.ignore_patterns("__pycache__"))
    # Byte-compile the copy, as `pip install` does: under PYTHONDONTWRITEBYTECODE (or a read-only
    # copy) every fog command would otherwise compile each module it imports (~0.1 s CPU each time).
    compileall.compile_dir(dest / "fog", quiet=1)
    digest = hashlib.sha256()
    for path in sorted((dest / "fog").rglob("*.py")):
        digest.update(path.relative_to(dest).as_posix().encode() + b"\0" + path.read_bytes())
    launcher = dest / "bin" / "fog"
    launcher.parent.mkdir()
    python, path = shlex.quote(sys.executable), shlex.quote(str(dest))
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH={path} exec {python} -P -m fog "$@"\n')
    launcher.chmod(0o755)
    return str(launcher), f"{source} sha256:{digest.hexdigest()[:16]}"


def git_state() -> str:
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "fog"], capture_output=True, text=True)
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + (" + uncommitted changes in fog/" if dirty.stdout.strip() else "")


def make_tool(name: str, exe: str, corpus: Path, work: Path) -> Tool:
    return {"fog": Fog, "restic": Restic, "borg": Borg}[name](exe, corpus, work)


# --- the corpus changes -----------------------------------------------------------------------------------------


class Changes:
    """The edits the steps make to the corpus, and their undoing."""

    def __init__(self, c: corpus_mod.Corpus) -> None:
        self.c = c
        self.small = c.root / c.small_file
        self.small_original = self.small.read_bytes()
        self.big = c.root / c.big_random if c.big_random else None
        self.big_size = self.big.stat().st_size if self.big else 0

    def change_small(self) -> None:
        with open(self.small, "ab") as f:
            f.write(APPENDED)

    def insert(self) -> None:
        assert self.big is not None
        with open(self.big, "r+b") as f:
            mid = os.fstat(f.fileno()).st_size // 2
            f.seek(mid)
            rest = f.read()
            f.seek(mid)
            f.write(INSERT + rest)

    def undo(self) -> None:
        if self.small.read_bytes() != self.small_original:
            self.small.write_bytes(self.small_original)
        if self.big is not None and self.big.stat().st_size != self.big_size:
            with open(self.big, "r+b") as f:
                mid = (os.fstat(f.fileno()).st_size - len(INSERT)) // 2
                f.seek(mid)
                head = f.read(len(INSERT))
                assert head == INSERT, "the inserted bytes are not where they were put"
                rest = f.read()
                f.seek(mid)
                f.write(rest)
                f.truncate()
        corpus_mod.set_tree_mtime(self.c.root)


# --- one tool, one round ----------------------------------------------------------------------------------------


def fog_json(stdout: str) -> dict:
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        return {}


def check_restore(c: corpus_mod.Corpus, restored: Path, expect: dict[str, str], files: int, size: int) -> None:
    got_files, got_size = corpus_mod.tree_stats(restored, exclude=".fog")
    if (got_files, got_size) != (files, size):
        raise BenchError(f"restore in {restored}: {got_files} files, {got_size} bytes; expected {files}, {size}")
    for rel, digest in expect.items():
        if sha256(restored / rel) != digest:
            raise BenchError(f"restore in {restored}: {rel} differs from the corpus")


def manifest(root: Path, exclude: str = ".fog") -> dict[str, tuple]:
    """Every entry under `root` but the top-level `exclude`: a directory, a symlink and its target, or a
    regular file with its size, permission bits and BLAKE2b digest."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root) and exclude in dirnames:
            dirnames.remove(exclude)
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.blake2b()
                with open(path, "rb", buffering=0) as f:
                    while chunk := f.read(4 << 20):
                        h.update(chunk)
                out[rel] = ("file", st.st_size, oct(st.st_mode & 0o7777), h.hexdigest())
            else:
                out[rel] = ("special", stat.S_IFMT(st.st_mode))
    return out


def check_manifest(expected: dict[str, tuple], restored: Path) -> None:
    got = manifest(restored)
    if got == expected:
        return
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    differ = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    lines = [f"restore in {restored}: {len(missing)} missing, {len(extra)} extra, {len(differ)} differ"]
    lines += [f"  missing {k} {expected[k][:3]}" for k in missing[:10]]
    lines += [f"  extra {k} {got[k][:3]}" for k in extra[:10]]
    lines += [f"  differs {k}: {expected[k][:3]} -> {got[k][:3]}" for k in differ[:10]]
    raise BenchError("\n".join(lines))


FOG_STATS = ("files_read", "bytes_read", "objects_uploaded", "bytes_uploaded")


def keep_restored(tool_work: Path) -> Path:
    """Where restored trees wait for the end of the run (beside the tools' work directories)."""
    path = tool_work.parent / "restored"
    path.mkdir(exist_ok=True)
    return path


def run_tool(
    tool: Tool, c: corpus_mod.Corpus, changes: Changes, rnd: int, full: bool, expected: dict[str, tuple] | None = None
) -> list[Measure]:
    """Measure one tool in one round. `full`: the standard corpus's edits and restore; `expected`: the
    manifest of a corpus without edits, whose restore is checked against it entry by entry."""
    out: list[Measure] = []

    def step(name: str, result: tuple[float, float, int, str]) -> None:
        seconds, cpu, rss, stdout = result
        m = Measure(tool.name, name, rnd, seconds, cpu, rss)
        if tool.name == "fog" and name in ("initial", "nochange", "small", "insert"):
            doc = fog_json(stdout)
            m.extra = {k: doc.get(k) for k in FOG_STATS}
        out.append(m)
        print(
            f"  round {rnd} {tool.name:7} {name:9} {seconds:8.2f} s  {rss / 1024:7.0f} MB  {m.extra or ''}", flush=True
        )

    def size(name: str) -> None:
        out.append(Measure(tool.name, name, rnd, float(apparent_size(tool.repo))))
        print(f"  round {rnd} {tool.name:7} {name:9} {out[-1].seconds / 1e6:8.3f} MB", flush=True)

    def restore() -> Path:
        """Restore into the tool's work directory, timed alone and then with `sync` (until the restored
        data is on disk: fog renames a file into place only after its data is durable, one syncfs;
        restic and borg never sync); the restored tree."""
        result, restored = tool.restore(tool.work / "restored")
        step("restore", result)
        synced = time.perf_counter()
        os.sync()
        durable = result[0] + time.perf_counter() - synced
        out.append(Measure(tool.name, "restore_durable", rnd, durable))
        print(f"  round {rnd} {tool.name:7} +sync     {durable:8.2f} s", flush=True)
        return restored

    corpus_mod.warm(c.root)
    step("init", tool.init())
    step("initial", tool.backup("initial"))
    step("nochange", tool.backup("nochange"))
    if expected is not None:
        db = tool.local_db()
        out.append(Measure(tool.name, "localdb", rnd, float(db)))
        out.append(Measure(tool.name, "localdb_per_path", rnd, db / max(1, len(expected))))
        print(f"  round {rnd} {tool.name:7} local db  {db / 1e6:8.1f} MB  {db / max(1, len(expected)):.0f} B/path")
        restored = restore()
        check_manifest(expected, restored)
        os.replace(restored, keep_restored(tool.work) / f"{tool.name}-{rnd}")
    if full:
        changes.change_small()
        step("small", tool.backup("small"))
        before = apparent_size(tool.repo)
        changes.insert()
        step("insert", tool.backup("insert"))
        out.append(Measure(tool.name, "insert_bytes", rnd, float(apparent_size(tool.repo) - before)))
        print(f"  round {rnd} {tool.name:7} added     {out[-1].seconds / 1e3:8.1f} kB", flush=True)
        files, total = corpus_mod.tree_stats(c.root, exclude=".fog")
        assert changes.big is not None
        expect = {c.small_file: sha256(changes.small), str(c.big_random): sha256(changes.big)}
        restored = restore()
        check_restore(c, restored, expect, files, total)
        # Kept until the end of the run, not deleted: on this machine's ext4 (no journal), creating
        # files soon after thousands were deleted costs far more system time (perf: the inode
        # allocator skips recently deleted inodes), and the next tool's restore would pay for it.
        os.replace(restored, keep_restored(tool.work) / f"{tool.name}-{rnd}")
    size("size")
    return out


def run_borg_zstd(exe: str, c: corpus_mod.Corpus, work: Path, rnd: int) -> list[Measure]:
    borg = Borg(exe, c.root, work, compression="zstd,3")
    try:
        corpus_mod.warm(c.root)
        borg.init()
        seconds, cpu, rss, _ = borg.backup("initial")
        size = float(apparent_size(borg.repo))
        print(f"  round {rnd} borg    zstd,3    {seconds:8.2f} s  {size / 1e6:7.1f} MB repository", flush=True)
        return [
            Measure("borg", "initial_zstd", rnd, seconds, cpu, rss),
            Measure("borg", "size_zstd", rnd, size),
        ]
    finally:
        borg.cleanup()


# --- long histories ---------------------------------------------------------------------------------------------


def history(tools: dict[str, str], work: Path, versions: int, nfiles: int, rounds: int) -> list[Measure]:
    """Time `fog log FILE` (and `restic find FILE`) where every file has `versions` versions."""
    out: list[Measure] = []
    share = work / "history-share"
    share.mkdir(parents=True)
    names = [f"notes-{i:03d}.txt" for i in range(nfiles)]
    for name in names:
        (share / name).write_text(f"{name}\n")
    players: list[Tool] = [Fog(tools["fog"], share, work / "history-fog")]
    if "restic" in tools:
        players.append(Restic(tools["restic"], share, work / "history-restic"))
    for tool in players:
        tool.init()
    start = {t.name: 0.0 for t in players}
    print(f"building a history of {versions} versions of {nfiles} files ...", flush=True)
    for v in range(versions):
        if v:
            for name in names:
                with open(share / name, "a") as f:
                    f.write(f"version {v} of {name}\n")
        for tool in players:
            start[tool.name] += tool.backup(f"v{v}")[0]
    for tool in players:
        out.append(Measure(tool.name, "history_build", 0, start[tool.name], extra={"versions": versions}))
    target = names[0]
    for rnd in range(1, rounds + 1):
        for tool in players:
            if tool.name == "fog":
                cmd = [tool.exe, "-C", str(share), "log", target]
            else:
                cmd = [tool.exe, "find", target]
            seconds, cpu, rss, stdout = run(cmd, tool.env)
            # `fog log PATH` prints one line per version; `restic find` one per snapshot holding a match
            lines = sum(1 for line in stdout.splitlines() if line.strip() and (tool.name == "fog" or target in line))
            out.append(Measure(tool.name, "log", rnd, seconds, cpu, rss, {"versions": versions, "lines": lines}))
            note = "" if lines == versions else f"  (expected {versions} lines)"
            print(f"  round {rnd} {tool.name:7} log       {seconds:8.2f} s  {rss / 1024:7.0f} MB  {lines} lines{note}")
    for tool in players:
        tool.cleanup()
    shutil.rmtree(share)
    return out


# --- the table ----------------------------------------------------------------------------------------------------

ROWS = [  # (label, step, what)
    ("initial push / backup", "initial", "s"),
    ("initial: peak RSS", "initial", "rss"),
    ("again, nothing changed", "nochange", "s"),
    ("nothing changed: peak RSS", "nochange", "rss"),
    ("one small file changed", "small", "s"),
    ("100 B inserted mid big file", "insert", "s"),
    ("100 B inserted: bytes added to repository", "insert_bytes", "bytes"),
    ("full restore to an empty directory", "restore", "s"),
    ("full restore, then `sync` (on disk)", "restore_durable", "s"),
    ("full restore: peak RSS", "restore", "rss"),
    ("repository size", "size", "bytes"),
    ("local database / cache (fog .fog/db/data.mdb)", "localdb", "bytes"),
    ("… per path (files, directories, symlinks)", "localdb_per_path", "bytes"),
    ("borg zstd,3: initial backup", "initial_zstd", "s"),
    ("borg zstd,3: repository size", "size_zstd", "bytes"),
    ("`fog log FILE` / `restic find FILE`", "log", "s"),
]


def medians(measures: list[Measure]) -> dict[tuple[str, str], dict[str, float]]:
    groups: dict[tuple[str, str], list[Measure]] = {}
    for m in measures:
        groups.setdefault((m.tool, m.step), []).append(m)
    return {
        key: {
            "s": statistics.median(m.seconds for m in ms),
            "rss": statistics.median(m.rss_kb for m in ms) * 1024,
            "bytes": statistics.median(m.seconds for m in ms),
            "min": min(m.seconds for m in ms),
            "max": max(m.seconds for m in ms),
        }
        for key, ms in groups.items()
    }


def fmt(value: float, what: str) -> str:
    if what == "s":
        return f"{value:.2f} s"
    if value >= 1e6:
        return f"{value / 1e6:.1f} MB"
    if value < 1e3:
        return f"{value:.0f} B"
    return f"{value / 1e3:.1f} kB"


def table(measures: list[Measure], tools: list[str], label_log: str) -> str:
    med = medians(measures)
    others = [t for t in tools if t != "fog"]
    head = ["work", *tools, *(f"fog/{t}" for t in others)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, step, what in ROWS:
        if not any((t, step) in med for t in tools):
            continue
        if step == "log":
            label = label_log
        cells = [fmt(med[(t, step)][what], what) if (t, step) in med else "n/a" for t in tools]
        ratios = []
        for t in others:
            a, b = med.get(("fog", step)), med.get((t, step))
            ratios.append(f"{a[what] / b[what]:.2f}" if a and b and b[what] else "")
        lines.append("| " + " | ".join([label, *cells, *ratios]) + " |")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="corpus scale; 1.0 = 1.14 GB (default)")
    corpus_kind = parser.add_mutually_exclusive_group()
    corpus_kind.add_argument(
        "--files100k", action="store_true", help="the 100,000-file corpus: initial, no-change push and restore"
    )
    corpus_kind.add_argument(
        "--realtree", action="store_true", help="the real-tree-like corpus (102,000 files, 1.7 GB at scale 1.0)"
    )
    corpus_kind.add_argument("--tree", type=Path, metavar="DIR", help="a copy of DIR as the corpus")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of fog,restic,borg")
    parser.add_argument("--fog", help="the fog executable (default: next to this Python, else on PATH)")
    parser.add_argument(
        "--snapshot-fog", action="store_true", help="run a copy of the fog package this Python imports (see README)"
    )
    parser.add_argument("--log-versions", type=int, default=200, help="versions per file for `fog log` (0: skip)")
    parser.add_argument("--log-files", type=int, default=20, help="files in the long-history share")
    parser.add_argument("--no-borg-zstd", action="store_true", help="skip the extra borg zstd,3 backup")
    parser.add_argument("--workdir", type=Path, help="where to put corpus and repositories (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--output", type=Path, help="raw results as JSON (default: bench-<corpus>-<scale>.json)")
    args = parser.parse_args(argv)

    wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
    if unknown := set(wanted) - set(TOOLS):
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    kind = "files100k" if args.files100k else "realtree" if args.realtree else "tree" if args.tree else "standard"
    if args.tree and not args.tree.is_dir():
        parser.error(f"--tree {args.tree}: not a directory")
    output = args.output or Path(f"bench-{kind}-{args.scale:g}.json")
    work = Path(tempfile.mkdtemp(prefix="fog-bench-", dir=args.workdir)).resolve()
    ok = False
    try:
        fog_source, checkout = "fog executable", git_state()
        if args.snapshot_fog:
            args.fog, fog_source = snapshot_fog(work)
        tools = find_tools(wanted, args.fog)
        names = [t for t in TOOLS if t in tools]
        versions = {n: make_tool(n, exe, work, work / "v").version() for n, exe in tools.items()}
        print(f"generating the {kind} corpus at scale {args.scale:g} in {work / 'corpus'} ...", flush=True)
        if args.tree:
            c = corpus_mod.copy_tree(args.tree, work / "corpus")
        elif args.realtree:
            c = corpus_mod.generate_realtree(work / "corpus", args.scale, args.seed)
        else:
            c = corpus_mod.generate(work / "corpus", args.scale, args.seed, args.files100k)
        if kind != "standard":
            c.dirs, c.symlinks = corpus_mod.tree_counts(c.root)
        print(
            f"  {c.files} files, {c.dirs} directories, {c.symlinks} symlinks, {c.bytes / 1e6:.1f} MB "
            f"in {c.seconds:.1f} s",
            flush=True,
        )
        changes = Changes(c)
        expected = None if kind == "standard" else manifest(c.root)
        load_before = os.getloadavg()
        measures: list[Measure] = []
        for rnd in range(1, args.rounds + 1):
            order = names[(rnd - 1) % len(names) :] + names[: (rnd - 1) % len(names)]
            for name in order:
                tool = make_tool(name, tools[name], c.root, work / f"{name}-{rnd}")
                measures += run_tool(tool, c, changes, rnd, full=kind == "standard", expected=expected)
                tool.cleanup()  # after a failure, everything stays in the kept work directory
                changes.undo()
            if "borg" in tools and kind != "files100k" and not args.no_borg_zstd:
                measures += run_borg_zstd(tools["borg"], c, work / f"borg-zstd-{rnd}", rnd)
        label_log = "`fog log FILE` / `restic find FILE`"
        if args.log_versions > 0:
            measures += history(tools, work, args.log_versions, args.log_files, args.rounds)
            label_log = f"`fog log FILE`, {args.log_versions} versions / `restic find FILE`"
        load_after = os.getloadavg()
        text = table(measures, names, label_log)
        print()
        shape = f"{c.files} files"
        if kind != "standard":
            shape += f", {c.dirs} directories, {c.symlinks} symlinks"
        print(
            f"{kind} corpus, scale {args.scale:g}: {shape}, {c.bytes / 1e6:.1f} MB; "
            f"medians of {args.rounds} rounds; {time.strftime('%Y-%m-%d')}"
        )
        print(text)
        meta = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": sys.argv,
            "corpus": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(c).items()},
            "versions": versions,
            "fog": {"executable": tools["fog"], "source": fog_source, "checkout": checkout},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        }
        output.write_text(json.dumps({"meta": meta, "measures": [asdict(m) for m in measures]}, indent=1) + "\n")
        print(f"\nraw results: {output}")
        ok = True
        return 0
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    finally:
        if args.keep or not ok:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
