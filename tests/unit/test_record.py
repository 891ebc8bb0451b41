"""The binary version record of the share database (fog.format.record, `.fog/` format 2)."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fog.format import record
from fog.format.version import KINDS, Version

T = 1_700_000_000_000_000_000
VID = bytes(range(32))


def sample(**changes: Any) -> Version:
    v = Version("dir/file.txt", "file", 10, 0o644, T, T + 1, "d" * 32, content=b"\x01" * 32, id=VID)
    return replace(v, **changes)


@pytest.mark.parametrize(
    "v",
    [
        sample(),
        sample(depth=3, parent=b"\x02" * 32),
        sample(kind="dir", size=0, content=None),
        sample(kind="link", target="../elsewhere", mode=0o777, content=None),
        sample(kind="deleted", size=0, mode=0, mtime_ns=0, content=None, parent=b"\x03" * 32),
        sample(conflict=True),
        sample(path="Ünïcode/☃.txt"),
        sample(path=os.fsdecode(b"raw/\xff\xfe-not-utf8"), kind="link", target=os.fsdecode(b"\xc3("), content=None),
        sample(mtime_ns=-1, size=(1 << 64) - 1),
    ],
    ids=["file", "tree", "dir", "link", "deleted", "conflict", "unicode", "not-utf8", "extremes"],
)
def test_round_trip_in_binary(v: Version) -> None:
    raw = v.to_record()
    assert raw[0] == record.TAG
    assert Version.from_record(VID, raw) == v


def test_a_typical_record_is_a_third_of_its_json() -> None:
    v = sample(path="src/project/module-042.py", parent=b"\x02" * 32)
    assert len(v.to_record()) * 3 < len(v.to_bytes())


@pytest.mark.parametrize(
    "v",
    [
        sample(device="not-a-hex-device-id"),
        sample(device="D" * 32),  # upper case would not come back the same
        sample(path="x/" + "y" * 70_000),
        sample(mtime_ns=1 << 63),
    ],
    ids=["device", "upper-hex", "long-path", "mtime-range"],
)
def test_what_does_not_fit_is_kept_as_json(v: Version) -> None:
    raw = v.to_record()
    assert raw.startswith(b"{") and raw == v.to_bytes()
    assert Version.from_record(VID, raw) == v


@given(
    path=st.lists(
        st.text(
            st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=8
        ).filter(lambda p: p not in (".", "..")),
        min_size=1,
        max_size=4,
    ),
    kind=st.sampled_from(KINDS),
    size=st.integers(0, (1 << 64) - 1),
    mode=st.integers(0, 0o7777),
    mtime=st.integers(-(1 << 63), (1 << 63) - 1),
    when=st.integers(0, (1 << 63) - 1),
    device=st.binary(min_size=16, max_size=16),
    parent=st.none() | st.binary(min_size=32, max_size=32),
    content=st.none() | st.binary(min_size=32, max_size=32),
    depth=st.integers(0, 15),
    target=st.none() | st.text(max_size=20),
    conflict=st.booleans(),
)
def test_any_version_round_trips(
    path, kind, size, mode, mtime, when, device, parent, content, depth, target, conflict
) -> None:  # type: ignore[no-untyped-def]
    v = Version(
        "/".join(path), kind, size, mode, mtime, when, device.hex(), parent, content, depth, target, conflict, VID
    )
    back = Version.from_record(VID, v.to_record())
    assert back == v
    assert back.to_bytes() == v.to_bytes()  # and so the same JSON in batches


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-1],  # truncated path
        lambda raw: raw + b"x",  # trailing bytes
        lambda raw: raw[:20],  # truncated header
        lambda raw: b"\x03" + raw[1:],  # unknown tag
        lambda raw: raw[:1] + b"\x09" + raw[2:],  # unknown kind
        lambda raw: raw[:2] + b"\x40" + raw[3:],  # unknown flag
        lambda raw: raw[:2] + b"\x06" + raw[3:],  # says a parent is there: lengths no longer add up
    ],
)
def test_damaged_records_are_refused(damage) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        Version.from_record(VID, damage(sample().to_record()))


def test_unsafe_paths_are_refused_from_binary_too() -> None:
    raw = record.encode("../escape", "file", 1, 0o644, T, T, "d" * 32, None, b"\x01" * 32, 0, None, False)
    assert raw is not None
    with pytest.raises(ValueError, match="unsafe path"):
        Version.from_record(VID, raw)


def test_known_answer() -> None:
    """The layout of FORMAT.md section 12, byte for byte (a change here needs a new `.fog/` format)."""
    v = sample(kind="link", parent=b"\x02" * 32, depth=1, target="t", conflict=True)
    expected = (
        "02"
        "02"
        "0f"
        "01"  # tag, kind link, flags conflict|parent|content|target, depth
        "000001a4"
        "000000000000000a"  # mode 0o644, size 10
        "17979cfe362a0000"
        "17979cfe362a0001"  # mtime_ns, time_ns
        + "dd" * 16  # device
        + "02" * 32  # parent
        + "01" * 32  # content
        + "000c"
        + b"dir/file.txt".hex()  # path
        + "0001"
        + b"t".hex()  # target
    )
    assert v.to_record().hex() == expected
