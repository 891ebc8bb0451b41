"""A pull applies and records its paths chunk by chunk (issue 20: a clone's memory flat in the number of files).

Each fog run here is patched to chunks of 3 paths, and every call of
apply_plans writes how many plans it got: no call may hold more than a chunk
(plus the directories that wait for their subtree), whatever the tree's size.
Directories deleted or replaced by a file across chunk boundaries still go.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, World, make_pair, run_fog

CHUNK = 3


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _patch(record: Path, *, stop_after: int = 0) -> str:
    return f"""
import json, fog.sync.pull as P
P.PULL_CHUNK = {CHUNK}
_real = P.apply_plans
_calls = []
def _counted(ctx, plans, *a, **k):
    _calls.append(len(plans))
    with open({str(record)!r}, "a") as f:
        f.write(json.dumps(len(plans)) + "\\n")
    if {stop_after} and len(_calls) > {stop_after}:
        raise KeyboardInterrupt  # chunks before this one are applied and recorded
    return _real(ctx, plans, *a, **k)
P.apply_plans = _counted
"""


def _sizes(record: Path) -> list[int]:
    sizes = [json.loads(line) for line in record.read_text().splitlines()]
    record.unlink()
    return sizes


def test_a_clone_and_pulls_apply_a_chunk_at_a_time(world: World, tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    a, b = make_pair(world)
    for i in range(30):
        if i < 5:
            a.write(f"gone/sub/f{i:02}.txt", f"{i}\n")
            a.write(f"swap/f{i:02}.txt", f"{i}\n")
        a.write(f"keep/f{i:02}.txt", f"{i}\n")
    a.push()
    b.fog("pull", patch=_patch(record))
    sizes = _sizes(record)
    assert len(sizes) >= 40 // CHUNK and max(sizes) <= CHUNK, sizes
    assert b.tree() == a.tree()

    # a directory deleted, and one replaced by a file, each with children over several chunks
    shutil.rmtree(a.root / "gone")
    shutil.rmtree(a.root / "swap")
    a.write("swap", "now a file\n")
    a.write("keep/f00.txt", "edited\n")
    a.push()
    b.fog("pull", patch=_patch(record))
    assert max(_sizes(record)) <= CHUNK + 2  # (+ the two directories that waited for their subtree)
    assert b.tree() == a.tree()
    assert b.fog("status", "--json").json()["clean"]

    c = world.device("phone")
    argv = ["clone", world.remote, c.root, "--master-key-file", world.key, "--device-name", "phone"]
    run_fog(argv, home=c.home, cwd=tmp_path, patch=_patch(record))
    assert max(_sizes(record)) <= CHUNK
    assert c.tree() == a.tree()


def test_a_clone_stopped_after_some_chunks_finishes_and_records_everything(world: World, tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    a = world.init("laptop")
    for i in range(10):
        a.write(f"docs/f{i:02}.txt", f"{i}\n")
    a.push()
    b = world.device("desktop")
    argv = ["clone", world.remote, b.root, "--master-key-file", world.key, "--device-name", "desktop"]
    run_fog(argv, home=b.home, cwd=tmp_path, expect=130, patch=_patch(record, stop_after=2))
    assert b.fog("push", expect=1).error_line()  # still an unfinished clone
    run_fog(argv, home=b.home, cwd=tmp_path, patch=_patch(record))
    assert b.tree() == a.tree()
    assert b.fog("status", "--json").json()["clean"]
    assert b.fog("push", "--json").json()["batch"] is None
    assert len(b.fog("log", "--json").json()) == len(a.fog("log", "--json").json())


@pytest.mark.parametrize("replaced_by_file", [True, False], ids=["dir-becomes-file", "dir-deleted"])
def test_a_pull_stopped_while_a_directory_waits_for_its_children_applies_it_on_the_rerun(
    world: World, tmp_path: Path, replaced_by_file: bool
) -> None:
    """A directory cleared elsewhere waits for the chunk of its last child; its versions are recorded
    with the chunk that applies it. Recorded with its own (earlier) chunk, a pull stopped in between left
    them known but never applied: the re-run took them as carried, and the devices disagreed for good."""
    record = tmp_path / "calls.jsonl"
    a, b = make_pair(world)
    for i in range(5):
        a.write(f"swap/f{i:02}.txt", f"{i}\n")
    a.push()
    b.fog("pull")
    shutil.rmtree(a.root / "swap")
    if replaced_by_file:
        a.write("swap", "now a file\n")
    a.push()
    b.fog("pull", expect=130, patch=_patch(record, stop_after=1))  # chunk 1 ("swap" waits) recorded, then stopped
    b.fog("pull")
    assert b.tree() == a.tree()
    assert b.fog("status", "--json").json()["clean"]


def test_versions_a_pull_forgets_are_not_relayed_by_a_push_before_its_rerun(world: World, tmp_path: Path) -> None:
    """Versions that arrive with the batch that forgets them are recorded with their chunk, but queued for
    the other remotes by nobody: the pull's last transaction forgets them. Queued with the chunk, a push
    between a stopped pull and its re-run published them on those remotes."""
    record = tmp_path / "calls.jsonl"
    a, b = make_pair(world)
    usb = world.tmp / "usb"
    b.fog("remote", "add", "usb", usb)
    b.fog("push")
    a.fog("pull")
    a.fog("remote", "skip", "usb")  # B relays to usb
    for i in range(3):
        a.write("a.txt", f"edit {i}\n", mtime_ns=OLD_MTIME_NS + i * 1_000_000_000)
        a.push()
    for i in range(6):
        a.write(f"z/f{i:02}.txt", f"{i}\n")
    a.push()
    doc = [e["version"] for e in a.fog("log", "a.txt", "--json").json()]  # newest first
    a.fog("forget", "a.txt", "--keep-last", "1")
    b.fog("pull", "origin", expect=130, patch=_patch(record, stop_after=1))  # a.txt's chunk recorded, then stopped
    b.fog("push")
    c = world.device("phone")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    seen = {e["version"] for e in c.fog("log", "a.txt", "--json").json()}
    assert doc[0] in seen and not seen & set(doc[1:])  # the newest relayed; the forgotten ones never were
    b.fog("pull")
    assert b.tree() == a.tree()
    assert {e["version"] for e in b.fog("log", "a.txt", "--json").json()} == {doc[0]}


def test_the_same_clone_run_again_after_it_finished_pulls_once_more(world: World, tmp_path: Path) -> None:
    """Stopped as it printed its summary, a clone had recorded everything: the same command, run again as
    the README says, pulls instead of refusing the directory as 'already a fog share'."""
    a = world.init("laptop")
    a.write("doc.txt", "v1\n")
    a.push()
    b = world.device("desktop")
    argv = ["clone", world.remote, b.root, "--master-key-file", world.key, "--device-name", "desktop"]
    run_fog(argv, home=b.home, cwd=tmp_path)
    a.write("doc.txt", "v2\n")
    a.push()
    run_fog(argv, home=b.home, cwd=tmp_path)
    assert b.tree() == a.tree()
    other = tmp_path / "elsewhere"
    r = run_fog(["clone", other, b.root, "--master-key-file", world.key], home=b.home, cwd=tmp_path, expect=1)
    assert "already a fog share" in r.err


def _live_versions_patch(record: Path) -> str:
    """Each apply_plans call writes how many decoded versions are alive in the process (beyond those
    alive before the command: the process may be forked from the test's, which holds some)."""
    return f"""
import gc, json, fog.sync.pull as P
from fog.format.version import Version
P.PULL_CHUNK = {CHUNK}
_real = P.apply_plans
def _live():
    return sum(1 for o in gc.get_objects() if type(o) is Version)
_before = _live()
def _counted(*a, **k):
    live = _live() - _before
    with open({str(record)!r}, "a") as f:
        f.write(json.dumps(live) + "\\n")
    return _real(*a, **k)
P.apply_plans = _counted
"""


def test_a_clone_decodes_one_chunk_of_incoming_versions_at_a_time(world: World, tmp_path: Path) -> None:
    """The incoming versions wait on disk (fog.sync.incoming), not decoded in memory: at every chunk
    the process holds about one chunk's versions, not the 60 the clone brings."""
    record = tmp_path / "live.jsonl"
    a = world.init("laptop")
    for i in range(30):
        a.write(f"d{i % 3}/f{i:02}.txt", f"{i}\n")
        a.write(f"e/{i:02}.txt", f"{i}\n")
    a.push()
    b = world.device("desktop")
    argv = ["clone", world.remote, b.root, "--master-key-file", world.key, "--device-name", "desktop"]
    run_fog(argv, home=b.home, cwd=tmp_path, patch=_live_versions_patch(record))
    live = _sizes(record)
    assert len(live) >= 60 // CHUNK and max(live) <= 3 * CHUNK, live
    assert b.tree() == a.tree()
