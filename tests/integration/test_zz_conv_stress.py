"""Property: devices making random changes (kind changes too) and syncing in any order converge.

Two or three devices (separate FOG_HOMEs, one local remote) apply random
creates, edits, deletes, renames and kind changes (file, directory,
symlink), interleaved with push, pull and sync; then every device syncs
until nothing moves. Then: all trees are equal, every version any device
pushed is in every device's `fog log`, and no final sync failed (0 or 3).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_multidevice import Device, World

NAMES = ["a", "b", "a/x", "a/y", "b/z"]
OPS = ["write", "edit", "delete", "rename", "mkdir", "link", "push", "pull", "sync"]

step = st.tuples(st.integers(0, 2), st.sampled_from(OPS), st.sampled_from(NAMES), st.sampled_from(NAMES))


def _clear(p: Path) -> None:
    if p.is_symlink() or p.is_file():
        p.unlink()
    elif p.is_dir():
        shutil.rmtree(p)


def _place(d: Device, rel: str) -> Path | None:
    """The path ready to be created: parents made directories (replacing files or links)."""
    p = d.root / rel
    parent = p.parent
    if parent != d.root and (parent.is_symlink() or (parent.exists() and not parent.is_dir())):
        parent.unlink()
    parent.mkdir(parents=True, exist_ok=True)
    _clear(p)
    return p


def _apply(d: Device, op: str, rel: str, other: str, n: int) -> None:
    p = d.root / rel
    if op == "write":
        q = _place(d, rel)
        assert q is not None
        q.write_text(f"{d.name} {n}\n")
    elif op == "edit" and p.is_file() and not p.is_symlink():
        p.write_text(p.read_text() + f"{d.name} edit {n}\n")
    elif op == "delete":
        _clear(p)
    elif op == "rename" and (p.exists() or p.is_symlink()) and rel != other and not other.startswith(rel + "/"):
        if rel.startswith(other + "/"):
            return
        q = _place(d, other)
        assert q is not None
        if p.exists() or p.is_symlink():
            os.rename(p, q)
    elif op == "mkdir":
        q = _place(d, rel)
        assert q is not None
        q.mkdir()
    elif op == "link":
        q = _place(d, rel)
        assert q is not None
        q.symlink_to(f"target-{n}")
    elif op == "push":
        d.fog("push", expect=(0, 3))
    elif op == "pull":
        d.fog("pull", expect=(0, 1, 3))
    elif op == "sync":
        d.fog("sync", expect=(0, 1, 3))


def _pushed_ids(d: Device) -> set[str]:
    return {v["version"] for v in d.fog("log", "--json").json()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(devices=st.integers(2, 3), steps=st.lists(step, min_size=4, max_size=14))
def test_random_changes_converge(devices: int, steps: list[tuple[int, str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        world = World(tmp, tmp / "remote", tmp / "master.key")
        devs = [world.init("d0")]
        devs[0].fog("push", expect=(0,))
        devs += [world.clone(f"d{i}") for i in range(1, devices)]
        for n, (i, op, rel, other) in enumerate(steps):
            _apply(devs[i % devices], op, rel, other, n)
        for _ in range(3):  # one round publishes, the next delivers, a third settles conflict copies
            for d in devs:
                d.fog("sync", expect=(0, 3))
        for d in devs:
            assert d.fog("pull", expect=(0, 3)).rc in (0, 3)
        trees = [d.tree() for d in devs]
        assert all(t == trees[0] for t in trees), [sorted(t) for t in trees]
        logs = [_pushed_ids(d) for d in devs]
        assert all(ids == logs[0] for ids in logs)
        for d in devs:
            assert d.fog("status", "--json").json()["clean"] is True
