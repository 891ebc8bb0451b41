"""After a repack, the blocks of the repacked copy are deduplicated against (review 5, retention R7).

A prune that rewrites a pack copies its referenced blocks into a new pack that stays (FORMAT section 14,
step 4), then condemns the old one. Observing the intent dropped from the presence cache, by object id,
every block the condemned pack holds: also those the repack had just stored again. The next push (the
pruner's own, and other devices') then uploaded all of them a third time: a 1-byte edit of a 3 MB file
sent 3 MB, and the next prune had another copy to condemn.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_multidevice import Device, World, make_pair

MB = 1 << 20


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _edit_one_byte(path: Path, at: int, byte: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(byte)


def _repacked(world: World) -> tuple[Device, Device]:
    a, b = make_pair(world)
    rng = random.Random(5)
    a.write("big.bin", rng.randbytes(3 * MB))
    a.write("small.bin", rng.randbytes(400_000))
    a.push()
    a.write("small.bin", rng.randbytes(400_000))
    a.push()
    b.pull()
    a.fog("forget", "--keep-last", "1", "small.bin")
    done = a.fog("prune", "--json").json()["remotes"][0]
    assert done["planned_repack"] and done["repacked_objects"] > 10, done  # big.bin's pack: repacked
    return a, b


def test_the_pruners_next_push_dedupes_against_the_repacked_blocks(world: World) -> None:
    a, _ = _repacked(world)
    _edit_one_byte(a.root / "big.bin", 1_500_000, b"X")
    pushed = a.fog("push", "--json").json()
    assert pushed["bytes_uploaded"] < MB // 2, pushed  # the edited block(s), not the whole file again


def test_another_devices_push_dedupes_against_the_repacked_blocks(world: World) -> None:
    """(A guard: this one passed before the fix too, as another device learns of the repacked pack and
    the intent together.)"""
    _, b = _repacked(world)
    b.fog("sync", "-q")  # it learns of the intent (and of the repacked pack)
    _edit_one_byte(b.root / "big.bin", 500_000, b"Y")
    pushed = b.fog("push", "--json").json()
    assert pushed["bytes_uploaded"] < MB // 2, pushed
