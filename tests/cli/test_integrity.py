"""A remote that alters data is caught, and nothing local is harmed (issue 2, "Must hold" 3 and 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fogcli import Share, flip_bit, leftovers


@pytest.fixture
def populated(share: Share) -> Share:
    """A share holding a one-block file, a multi-block file (with a manifest) and an empty file."""
    share.write("notes/small.txt", b"a small text file\n" * 20)
    share.write("data/big.bin", os.urandom(600 * 1024))
    share.write("empty", b"")
    share.push()
    return share


def _object_names_in(err: str, share: Share) -> set[str]:
    return {p.name[:16] for p in share.objects() if p.name[:16] in err}


def test_every_flipped_object_fails_check(populated: Share) -> None:
    share = populated
    objects = share.objects()
    assert len(objects) >= 5  # small.txt, several blocks of big.bin, its manifest
    share.fog("check", "--read-data")
    for obj in objects:
        flip_bit(obj)
        r = share.fog("check", "--read-data", expect=4, sub=obj == objects[0])
        assert obj.name[:16] in r.err, (obj.name, r.err)
        assert _object_names_in(r.err, share) == {obj.name[:16]}  # only the altered one is blamed
        assert "small.txt" in r.err or "big.bin" in r.err, r.err  # and the file it belongs to
        flip_bit(obj)
        share.fog("check", "--read-data")  # back to intact
    # as JSON, the problem is listed and the exit code is the same
    flip_bit(objects[0])
    r = share.fog("check", "--read-data", "--json", expect=4)
    doc = r.json()
    assert doc["ok"] is False and any(objects[0].name[:16] in p for p in doc["problems"])


@pytest.mark.parametrize("damage", ["garbage-same-size", "garbage-short", "empty", "swapped"])
def test_garbage_object_fails_check(populated: Share, damage: str) -> None:
    share = populated
    objects = share.objects()
    victim = max(objects, key=lambda p: p.length)  # a block of big.bin
    size = victim.length
    if damage == "garbage-same-size":
        victim.write_bytes(os.urandom(size))
    elif damage == "garbage-short":
        victim.write_bytes(b"\x01" + os.urandom(40))
    elif damage == "empty":
        victim.write_bytes(b"")
    else:  # another valid object's bytes in its place
        other = next(p for p in objects if p != victim)
        victim.write_bytes(other.read_bytes())
    # A length change moves every later object of the pack: those are damaged too.
    damaged = {o.name[:16] for o in objects if o.file == victim.file and o.offset >= victim.offset}
    if damage == "garbage-same-size":
        damaged = {victim.name[:16]}
    r = share.fog("check", "--read-data", expect=4)
    assert victim.name[:16] in r.err
    assert _object_names_in(r.err, share) <= damaged | {victim.name[:16]}
    r = share.fog("restore", "data/big.bin", "-o", share.tmp / "out", expect=4)
    line = r.one_line_error()
    assert any(name in line for name in damaged) and "data/big.bin" in line, line
    assert not (share.tmp / "out").exists()


def test_missing_pack_fails_check_without_read_data(populated: Share) -> None:
    share = populated
    victim = share.objects()[0]
    lost = {o.name[:16] for o in share.objects() if o.file == victim.file}
    victim.file.unlink()  # the whole pack holding it
    r = share.fog("check", expect=4)
    assert "missing" in r.err and any(name in r.err for name in lost)
    assert "data/big.bin" in r.err and "notes/small.txt" in r.err  # every file that lost content is named


def test_restore_needing_a_corrupt_object_writes_nothing(share: Share) -> None:
    old = os.urandom(600 * 1024)
    share.write("data/big.bin", old)
    share.push()
    old_objects = share.objects()
    assert len(old_objects) >= 4
    new = os.urandom(600 * 1024)
    target = share.write("data/big.bin", new)
    share.push()
    before = target.stat()
    for obj in old_objects:
        flip_bit(obj)
        r = share.fog("restore", "data/big.bin@~1", expect=4, sub=obj == old_objects[0])
        line = r.one_line_error()
        assert obj.name[:16] in line and "data/big.bin" in line, line
        assert target.read_bytes() == new
        after = target.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        assert leftovers(share.root) == []
        out = share.tmp / "out.bin"
        share.fog("restore", "data/big.bin@~1", "-o", out, expect=4).one_line_error()
        assert not out.exists() and leftovers(share.tmp) == []
        flip_bit(obj)
    # unsaved local changes survive a failed --force restore too
    flip_bit(old_objects[-1])
    unsaved = share.write("data/big.bin", b"local edit, never pushed\n")
    share.fog("restore", "data/big.bin@~1", expect=1).one_line_error()  # refuses: unsaved changes
    share.fog("restore", "data/big.bin@~1", "--force", expect=4).one_line_error()
    assert unsaved.read_bytes() == b"local edit, never pushed\n"
    assert leftovers(share.root) == []
    flip_bit(old_objects[-1])
    share.fog("restore", "data/big.bin@~1", "--force")
    assert target.read_bytes() == old


def test_restore_of_deleted_file_with_corrupt_object_creates_nothing(share: Share) -> None:
    share.write("dir/gone.txt", b"will be deleted " * 100)
    share.push()
    obj = share.objects()[0]
    (share.root / "dir/gone.txt").unlink()
    share.push()
    flip_bit(obj)
    share.fog("restore", "dir/gone.txt@~1", expect=4).one_line_error()
    assert not (share.root / "dir/gone.txt").exists()
    assert leftovers(share.root) == []
    flip_bit(obj)
    share.fog("restore", "dir/gone.txt@~1")
    assert (share.root / "dir/gone.txt").read_bytes() == b"will be deleted " * 100


def test_truncated_last_batch_fails_push_and_check(populated: Share) -> None:
    share = populated
    share.write("more.txt", b"more\n")
    share.push()
    last = share.log_files()[-1]
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    share.write("another.txt", b"another\n")
    r = share.fog("push", expect=4, sub=True)
    assert "batch" in r.one_line_error()
    share.fog("check", expect=4)
    assert "another.txt" not in {e["path"] for e in share.fog("log", "--json").json()}
    last.write_bytes(data)  # repaired: everything works again
    share.fog("check", "--read-data")
    share.push()


@pytest.mark.parametrize("damage", ["truncate-first", "flip-first", "delete-first"])
def test_damaged_older_batch_fails_check(populated: Share, damage: str) -> None:
    share = populated
    share.write("more.txt", b"more\n")
    share.push()
    first = share.log_files()[0]
    if damage == "truncate-first":
        first.write_bytes(first.read_bytes()[:10])
    elif damage == "flip-first":
        flip_bit(first)
    else:
        first.unlink()
    r = share.fog("check", expect=4)
    assert "batch" in r.err
    r = share.fog("check", "--json", expect=4)
    assert r.json()["ok"] is False


def test_flipped_syncconfig_fails_check(populated: Share) -> None:
    share = populated
    configs = [p for p in (share.remote / "config").rglob("*") if p.is_file()]
    assert configs
    flip_bit(configs[0])
    r = share.fog("check", expect=4)
    assert "fog settings" in r.err


def test_check_reports_clean_remote(populated: Share) -> None:
    doc = populated.fog("check", "--read-data", "--json").json()
    assert doc["ok"] is True and doc["problems"] == []
    assert doc["objects_read"] == len(populated.objects())
    assert isinstance(Path(populated.remote), Path)


def test_damaged_pack_header_fails_check_and_reads(populated: Share) -> None:
    """A pack whose encrypted index was altered is reported by name; the objects it hid are missing."""
    share = populated
    (pack,) = share.packs()
    lost = {o.name[:16] for o in share.objects()}
    flip_bit(pack, offset=20)  # inside the sealed index (after the 9-byte clear header)
    r = share.fog("check", expect=4)
    assert pack.name[:16] in r.err and "authentication failed" in r.err
    assert "missing" in r.err and any(name in r.err for name in lost)
    # the objects themselves are intact, and this device knows where they are: still readable
    share.fog("restore", "notes/small.txt", "-o", share.tmp / "out")
    assert (share.tmp / "out").read_bytes() == (share.root / "notes/small.txt").read_bytes()
    flip_bit(pack, offset=20)
    share.fog("check", "--read-data")


def test_a_truncated_pack_is_named_as_truncated(populated: Share) -> None:
    (pack,) = populated.packs()
    os.truncate(pack, 1000)
    out = populated.tmp / "out.bin"
    line = populated.fog("restore", "data/big.bin", "-o", out, expect=4).one_line_error()
    assert "truncated" in line and "unknown object format" not in line, line
    assert not out.exists()
