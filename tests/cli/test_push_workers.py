"""Small files read, named and sealed in forked worker processes (fog.sync.sealers).

Each push runs as a fresh `fog` process (the test process has threads of its
own, and a push forks only while none runs) with the thresholds lowered by a
wrapper script, which writes down what the workers did.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fogcli import Share, env, run_fog, run_wrapped, wrapper_script

from fog import forking
from fog.sync import sealers

OLD = 1_600_000_000 * 10**9

SPY = """
import atexit, json, os, signal
from fog.sync import push, sealers
sealers.SMALL_FILES = {small}
sealers.BATCH_FILES = 7
sealers.STALL_SECONDS = {stall}
push.CHUNK_FILES = 50
seen = {{"started": [], "pids": []}}
real_start = sealers.Sealers.start.__func__
def start(cls, keys, count=sealers.WORKERS):
    got = real_start(cls, keys, count)
    seen["started"].append(got is not None)
    if got is not None:
        seen["pids"] += [w.pid for w in got.workers]
        seen["obj"] = got
    return got
sealers.Sealers.start = classmethod(start)
real_receive = sealers.Sealers._receive
calls = [0]
def receive(self, w):
    calls[0] += 1
    if calls[0] == 3 and {hurt!r}:
        os.kill(self.workers[1].pid, getattr(signal, {hurt!r}))
    return real_receive(self, w)
sealers.Sealers._receive = receive
def report():
    got = seen.pop("obj", None)
    seen["sealed"] = got.sealed if got else 0
    seen["failed"] = got.failed if got else None
    with open({out!r}, "w") as f:
        json.dump(seen, f)
atexit.register(report)
"""


def push(
    share: Share, tmp: Path, *, small: int = 1, hurt: str = "", stall: float = 60, command: str = "push"
) -> tuple[dict, dict]:
    """`fog push --json` (or another command) in a fresh process; its JSON document and what the workers did."""
    out = tmp / "workers.json"
    code = SPY.format(small=small, hurt=hurt, stall=stall, out=str(out))
    doc = run_wrapped(code, [command, "--json"], share.root).json()
    return doc, json.loads(out.read_text())


def tree(share: Share) -> dict[str, bytes]:
    """Small files of every kind the workers meet: empty, compressible, random, identical, one past a block."""
    files: dict[str, bytes] = {}
    rand = random.Random(20).randbytes  # (the same tree on every call)
    for i in range(120):
        files[f"d{i % 4}/text{i}.txt"] = (f"line {i}\n" * (i * 7)).encode()
        files[f"d{i % 4}/rand{i}.bin"] = rand(i * 130)
    files["same/a"] = files["same/b"] = b"twice\n" * 50
    files["edge/block"] = rand(16 * 1024)  # MIN_BLOCK: still one block
    files["edge/past"] = rand(16 * 1024 + 1)  # cut by the chunker: read in-process
    files["edge/large"] = rand(300_000)
    files["edge/empty"] = b""
    for rel, data in files.items():
        share.write(rel, data)
    os.symlink("d0/text0.txt", share.root / "link")
    for p in share.root.rglob("*"):
        if ".fog" not in p.parts:
            os.utime(p, ns=(OLD, OLD), follow_symlinks=False)
    return files


def small_count(files: dict[str, bytes]) -> int:
    return sum(1 for data in files.values() if len(data) <= sealers.SMALL_BYTES)


def clone_matches(share: Share, tmp: Path, name: str, files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOG_HOME", str(tmp / f"home-{name}"))
    run_fog(["clone", share.remote, tmp / name, "--master-key-file", share.key_file], tmp)
    for rel, data in files.items():
        assert (tmp / name / rel).read_bytes() == data, rel
    assert os.readlink(tmp / name / "link") == "d0/text0.txt"


def stored(share: Share, packs: set[Path]) -> dict[str, bytes]:
    """Object id -> stored bytes, of the objects in these pack files."""
    return {o.name: o.read_bytes() for o in share.objects() if o.file in packs}


def test_workers_store_the_same_bytes_as_the_push_itself(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home1 = os.environ["FOG_HOME"]
    # a second device with the same keys, cloned while the share is empty: it pushes the same tree without workers
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))
    run_fog(["clone", share.remote, tmp_path / "two", "--master-key-file", share.key_file], tmp_path)
    two = Share(tmp_path / "two", share.remote, share.key_file, tmp_path)
    monkeypatch.setenv("FOG_HOME", home1)
    files = tree(share)
    doc, seen = push(share, tmp_path)
    assert seen["started"] == [True] and seen["failed"] is None
    assert seen["sealed"] == small_count(files)  # every one-block file went through the workers
    assert len(doc["added"]) == len(files) + 1 + 6  # the files, the link, the directories
    first = set(share.packs())
    with_workers = stored(share, first)
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))
    assert tree(two) == files
    doc2, seen2 = push(two, tmp_path, small=10**9)
    assert seen2["started"] == [True] and seen2["sealed"] == 0  # forked, then stopped: too few files
    assert sorted(doc2["added"]) == sorted(doc["added"])
    without = stored(share, set(share.packs()) - first)
    assert with_workers == without  # the same ids, and the same sealed bytes for each
    monkeypatch.setenv("FOG_HOME", home1)
    clone_matches(share, tmp_path, "three", files, monkeypatch)


@pytest.mark.parametrize("hurt", ["SIGKILL", "SIGSTOP"])
def test_a_worker_killed_or_hung_mid_push_leaves_the_rest_to_the_push(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hurt: str
) -> None:
    files = tree(share)
    t0 = time.monotonic()
    doc, seen = push(share, tmp_path, hurt=hurt, stall=0.5)
    assert time.monotonic() - t0 < 30
    assert seen["started"] == [True]
    assert seen["failed"] and ("returned nothing" in seen["failed"] if hurt == "SIGSTOP" else "ended" in seen["failed"])
    assert 0 < seen["sealed"] < small_count(files)  # some by the workers, the rest in-process
    assert len(doc["added"]) == len(files) + 1 + 6 and not doc["unread"]
    for pid in seen["pids"]:
        assert not os.path.exists(f"/proc/{pid}"), pid  # killed and reaped, the stopped one too
    assert share.push()["added"] == []  # nothing left over, nothing recorded twice
    share.fog("check", "--read-data")
    clone_matches(share, tmp_path, "again", files, monkeypatch)


def test_no_fork_while_another_thread_runs(share: Share, tmp_path: Path) -> None:
    files = tree(share)
    code = """
    import os, threading
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()  # (an embedding program's thread)
    def refuse():
        raise AssertionError("forked with another thread running")
    os.fork = refuse
    """
    out = tmp_path / "workers.json"
    spy = SPY.format(small=1, hurt="", stall=60, out=str(out))
    doc = run_wrapped(spy + "\n" + textwrap.dedent(code), ["push", "--json"], share.root).json()
    seen = json.loads(out.read_text())
    assert seen["started"] == [False] and seen["sealed"] == 0
    assert len(doc["added"]) == len(files) + 1 + 6


def test_safe_to_fork_only_with_no_other_thread() -> None:
    started, stop = threading.Event(), threading.Event()

    def wait() -> None:
        started.set()
        stop.wait()

    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    for t in others:  # (threads of earlier tests: vouch for them here, as the signal watchdog is vouched for)
        forking.mark_safe(t)
    assert forking.safe_to_fork()
    t = threading.Thread(target=wait, daemon=True)
    t.start()
    started.wait()
    try:
        assert not forking.safe_to_fork()
        forking.mark_safe(t)
        assert forking.safe_to_fork()
    finally:
        stop.set()
        t.join()


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def read_chars(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="watches /proc/PID/io (Linux)")
def test_ctrl_c_stops_the_push_and_its_workers(share: Share, tmp_path: Path) -> None:
    n = 6_000
    for i in range(n):
        share.write(f"d{i % 16}/f{i}", os.urandom(300) + b"x" * 700)
    code = "from fog.sync import sealers\nsealers.SMALL_FILES = 1000\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", wrapper_script(code), "push"],
        cwd=share.root,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if len(workers) < 2:
            workers = children_of(proc.pid)
        if len(workers) == 2 and sum(read_chars(w) for w in workers) > 1 << 20:
            break  # well into it: the workers have read over a MiB of files
        time.sleep(0.005)
    assert proc.poll() is None and len(workers) == 2, "the push ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 1.0
    assert proc.returncode == 130 and err.decode().strip() == "fog: interrupted", err
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}"), pid  # no orphan worker
    doc = run_fog(["push", "--json"], share.root, subprocess_=True).json()
    assert len(doc["added"]) > 0
    share.fog("check", "--read-data")


def test_a_push_of_few_files_stops_the_workers_at_once(share: Share, tmp_path: Path) -> None:
    tree(share)
    t0 = time.monotonic()
    doc, seen = push(share, tmp_path, small=10**9)
    assert seen["started"] == [True] and seen["sealed"] == 0 and seen["failed"] is None
    for pid in seen["pids"]:
        assert not os.path.exists(f"/proc/{pid}"), pid
    assert time.monotonic() - t0 < 30
    assert doc["added"]


def test_a_worker_reads_what_the_push_would(tmp_path: Path) -> None:
    """A file that changed since the scan, or is not a regular file any more, comes back for the push to read."""
    from fog.crypto.keys import ShareKeys

    keys = ShareKeys.generate()
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    s = p.stat()
    name = keys.mac
    seal: Any = lambda data, oid: sealers.encode_object(keys.data_key, oid, data)  # noqa: E731
    ino = s.st_ino
    got = sealers._seal_file(str(p), 3, s.st_mtime_ns, ino, name, seal)
    assert got is not None and got[0] == name(b"abc") and got[1] == 3
    assert sealers._seal_file(str(p), 2, s.st_mtime_ns, ino, name, seal) is None  # size changed since the scan
    assert sealers._seal_file(str(p), 3, s.st_mtime_ns + 1, ino, name, seal) is None  # mtime changed
    assert sealers._seal_file(str(p), 3, s.st_mtime_ns, ino + 1, name, seal) is None  # another file (review 6 C3)
    assert sealers._seal_file(str(tmp_path), 0, s.st_mtime_ns, ino, name, seal) is None  # a directory now
    assert sealers._seal_file(str(tmp_path / "gone"), 3, 0, ino, name, seal) is None


def test_sync_forks_the_workers_before_its_pull(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = tree(share)
    doc, seen = push(share, tmp_path, command="sync")
    assert seen["started"] == [True] and seen["failed"] is None
    assert seen["sealed"] == small_count(files)
    assert len(doc["push"]["added"]) == len(files) + 1 + 6
    clone_matches(share, tmp_path, "again", files, monkeypatch)
