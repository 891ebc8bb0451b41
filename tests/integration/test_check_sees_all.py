"""`fog check` sees what `pull` and `clone` see; `pull` and `push` see batches reordered behind them.

A remote is tampered with behind fog's back (issue 15, items 7-9). Check must
report every problem on one line each and exit 4; never stop at the first, and
never pass a remote that a pull or a new clone of the same device refuses.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_multidevice import Device, World, make_pair


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Device, Device]:
    return make_pair(World(tmp_path, tmp_path / "remote", tmp_path / "master.key"))


def packs(world: World) -> set[Path]:
    return {p for p in world.remote.glob("shares/*/packs/*/*")}


def problems(r_err: str) -> list[str]:
    lines = [line for line in r_err.splitlines() if line.strip()]
    assert all(line.startswith(("fog: ", "note: ")) for line in lines), r_err
    return [line for line in lines if line.startswith("fog: ")]


# -- item 7: everything any device's history names ---------------------------------------------------


def test_check_sees_a_lost_pack_of_versions_this_device_never_pulled(pair: tuple[Device, Device]) -> None:
    a, b = pair
    before = packs(a.world)
    a.write("fresh.bin", os.urandom(50_000))
    a.push()
    new = packs(a.world) - before
    assert len(new) == 1
    new.pop().unlink()
    r = b.fog("check", "--read-data", expect=4)
    assert any("fresh.bin" in line and "missing" in line for line in problems(r.err)), r.err
    b.fog("check", expect=4)
    b.pull(expect=4)  # what pull says, check says


def test_check_sees_a_vanished_log(pair: tuple[Device, Device]) -> None:
    a, b = pair
    b.write("doc.txt", "desktop edit\n")
    batch = b.push()
    assert batch is not None
    a.pull()
    for f in batch.parent.iterdir():
        f.unlink()
    batch.parent.rmdir()
    a.pull(expect=4)
    r = a.fog("check", "--read-data", expect=4)
    assert any("desktop" in line and "rolled back" in line for line in problems(r.err)), r.err


def test_check_sees_a_deleted_syncconfig_version(pair: tuple[Device, Device]) -> None:
    a, _ = pair
    a.pull()  # A sees the version the clone wrote
    versions = sorted(a.world.remote.glob("config/*/*"), key=lambda p: p.stat().st_mtime_ns)
    assert len(versions) >= 2
    versions[-1].unlink()
    a.pull(expect=4)
    r = a.fog("check", "--read-data", expect=4)
    assert any("fog settings" in line and "rolled back" in line for line in problems(r.err)), r.err


def test_check_sees_a_rewritten_batch_at_the_cursor(pair: tuple[Device, Device]) -> None:
    a, b = pair
    b.write("doc.txt", "desktop 1\n")
    first = b.push()
    b.write("doc.txt", "desktop 2\n")
    second = b.push()
    assert first is not None and second is not None
    a.pull()
    # a remote that rewrites the whole log from the cursor down: batches of B swapped
    # with a new, validly chained history is out of reach; a swap of the two is not
    data1, data2 = first.read_bytes(), second.read_bytes()
    first.write_bytes(data2)
    second.write_bytes(data1)
    a.pull(expect=4)
    r = a.fog("check", expect=4)
    assert any("desktop" in line for line in problems(r.err)), r.err


# -- item 8: every unreadable pack is listed ---------------------------------------------------------


def test_check_lists_every_unreadable_pack(pair: tuple[Device, Device]) -> None:
    a, _ = pair
    a.write("more.bin", os.urandom(40_000))
    a.push()
    moved = sorted(packs(a.world))[0]
    h = moved.name
    other = "00" if h[:2] != "00" else "01"
    (moved.parent.parent / other).mkdir(exist_ok=True)
    moved.rename(moved.parent.parent / other / h)
    ghost = "ee" + "5" * 62
    (moved.parent.parent / "ee").mkdir(exist_ok=True)
    (moved.parent.parent / "ee" / ghost).symlink_to(a.world.tmp / "nowhere")
    loop = "ef" + "6" * 62  # a link to itself: not "not found" but a failing read (ELOOP)
    (moved.parent.parent / "ef").mkdir(exist_ok=True)
    (moved.parent.parent / "ef" / loop).symlink_to(moved.parent.parent / "ef" / loop)
    for args in (["check"], ["check", "--read-data"]):
        r = a.fog(*args, expect=4)
        lines = problems(r.err)
        for name in (h, ghost, loop):
            assert sum(name[:16] in line for line in lines) == 1, r.err


# -- item 9: batches reordered after they were read -----------------------------------------------------


def three_batches(b: Device) -> list[Path]:
    out = []
    for i in range(3):
        b.write(f"b{i}.txt", f"desktop batch {i + 1}\n")
        batch = b.push()
        assert batch is not None
        out.append(batch)
    assert [p.name for p in out] == ["0000000001", "0000000002", "0000000003"]
    return out


def swap(x: Path, y: Path) -> None:
    dx, dy = x.read_bytes(), y.read_bytes()
    x.write_bytes(dy)
    y.write_bytes(dx)


def test_pull_detects_swapped_batches_below_its_cursor(pair: tuple[Device, Device]) -> None:
    a, b = pair
    first, second, _ = three_batches(b)
    a.pull()
    swap(first, second)
    before = a.tree()
    r = a.pull(expect=4)
    assert "desktop" in r.error_line() and "batch" in r.error_line()
    assert a.tree() == before
    a.fog("check", expect=4)


def test_push_detects_its_own_swapped_batches(pair: tuple[Device, Device]) -> None:
    _, b = pair
    first, second, _ = three_batches(b)
    swap(first, second)
    b.write("b9.txt", "later\n")
    files = b.world.log_files()
    r = b.fog("push", expect=4)
    assert "batch" in r.error_line()
    assert b.world.log_files() == files  # nothing published on a reordered log
