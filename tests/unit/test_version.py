"""Version records (fog.format.version): encoding, ids, and refusing bad input."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fog.crypto.seal import mac
from fog.format.version import KINDS, VERSION_ID_PREFIX, Version, check_relpath, path_from_json, path_to_json

MAC_KEY = bytes(range(32))
T = 1_700_000_000_000_000_000


def sample(**changes: Any) -> Version:
    v = Version("dir/file.txt", "file", 10, 0o644, T, T + 1, "d" * 32, content=b"\x01" * 32)
    return replace(v, **changes)


def with_id(v: Version) -> Version:
    return v.with_id(mac(MAC_KEY, VERSION_ID_PREFIX + v.canonical()))


@pytest.mark.parametrize(
    "v",
    [
        sample(),
        sample(depth=3, parent=b"\x02" * 32),
        sample(kind="dir", size=0, content=None),
        sample(kind="link", target="../elsewhere", mode=0o777, content=None),
        sample(kind="deleted", size=0, mode=0, mtime_ns=0, content=None, parent=b"\x03" * 32),
        sample(conflict=True),
    ],
    ids=["file", "tree", "dir", "link", "deleted", "conflict"],
)
def test_round_trip(v: Version) -> None:
    v = with_id(v)
    assert Version.from_bytes(v.to_bytes()) == v
    assert Version.from_json(json.loads(v.to_bytes())) == v


def test_canonical_json_is_sorted_compact_and_excludes_the_id() -> None:
    v = with_id(sample(path="Ünïcode/☃.txt"))
    canonical = v.canonical()
    doc = json.loads(canonical)
    assert "id" not in doc and doc["path"] == "Ünïcode/☃.txt"
    assert canonical == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert "☃".encode() in canonical  # UTF-8, not \\u escapes
    assert set(doc) == {
        "path",
        "kind",
        "size",
        "mode",
        "mtime_ns",
        "time_ns",
        "device",
        "parent",
        "content",
        "depth",
        "target",
        "conflict",
    }
    assert json.loads(v.to_bytes())["id"] == v.id.hex()


@pytest.mark.parametrize(
    "change",
    [
        {"path": "dir/other.txt"},
        {"size": 11},
        {"mode": 0o600},
        {"mtime_ns": T + 5},
        {"time_ns": T + 5},
        {"device": "e" * 32},
        {"parent": b"\x09" * 32},
        {"content": b"\x02" * 32},
        {"depth": 1},
        {"conflict": True},
        {"kind": "link", "target": "x"},
    ],
)
def test_every_field_is_covered_by_the_id(change: dict[str, Any]) -> None:
    assert with_id(sample(**change)).id != with_id(sample()).id


@pytest.mark.parametrize(
    "path", ["../x", "/abs", "a//b", "", "a/../b", "a/..", "..", ".", "./a", "a/./b", "a/", "a\x00b"]
)
def test_unsafe_paths_are_refused(path: str) -> None:
    doc = with_id(sample()).to_json()
    doc["path"] = path
    with pytest.raises(ValueError, match="unsafe path"):
        Version.from_json(doc)
    with pytest.raises(ValueError):
        check_relpath(path)


def test_unsafe_paths_are_refused_in_base64_too() -> None:
    doc = with_id(sample()).to_json()
    del doc["path"]
    doc["path_b64"] = "Li4vZXRj"  # "../etc"
    with pytest.raises(ValueError, match="unsafe path"):
        Version.from_json(doc)


@pytest.mark.parametrize("kind", ["symlink", "FILE", "", None, 1, "deleted "])
def test_unknown_kinds_are_refused(kind: object) -> None:
    doc = with_id(sample()).to_json()
    doc["kind"] = kind
    with pytest.raises(ValueError):
        Version.from_json(doc)


@pytest.mark.parametrize(
    "change",
    [
        {"size": -1},
        {"depth": 16},
        {"depth": -1},
        {"content": "00" * 31},
        {"size": "many"},
        {"parent": 5},
        {"path": 5},
        {"target": "not-an-object"},
    ],
)
def test_out_of_range_or_mistyped_fields_are_refused(change: dict[str, Any]) -> None:
    doc = {**with_id(sample()).to_json(), **change}
    with pytest.raises(ValueError):
        Version.from_json(doc)


@pytest.mark.parametrize("field", ["kind", "size", "mode", "mtime_ns", "time_ns", "device", "path"])
def test_missing_fields_are_refused(field: str) -> None:
    doc = with_id(sample()).to_json()
    del doc[field]
    with pytest.raises(ValueError):
        Version.from_json(doc)


def test_non_utf8_names_round_trip_as_path_b64() -> None:
    raw = b"caf\xe9/\xff\xfe name.bin"
    path = os.fsdecode(raw)
    assert path_to_json(path) == {"path_b64": "Y2Fm6S///iBuYW1lLmJpbg=="}
    v = with_id(sample(path=path, kind="link", target=os.fsdecode(b"\x80target"), content=None))
    doc = json.loads(v.to_bytes())
    assert "path" not in doc and "path_b64" in doc and "path_b64" in doc["target"]
    back = Version.from_bytes(v.to_bytes())
    assert back == v and os.fsencode(back.path) == raw
    assert os.fsencode(back.target or "") == b"\x80target"
    assert mac(MAC_KEY, VERSION_ID_PREFIX + back.canonical()) == v.id


def test_utf8_names_use_plain_path() -> None:
    assert path_to_json("naïve.txt") == {"path": "naïve.txt"}
    assert path_from_json({"path": "naïve.txt"}) == "naïve.txt"


def test_kinds() -> None:
    assert KINDS == ("file", "dir", "link", "deleted")
    assert sample(kind="deleted").deleted and not sample().deleted


name = st.binary(min_size=1, max_size=20).filter(
    lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b"..")
)


@given(st.lists(name, min_size=1, max_size=4))
def test_any_safe_byte_path_round_trips(parts: list[bytes]) -> None:
    raw = b"/".join(parts)
    v = with_id(sample(path=os.fsdecode(raw)))
    back = Version.from_bytes(v.to_bytes())
    assert back == v and os.fsencode(back.path) == raw


@pytest.mark.parametrize(
    "path",
    ["a.txt", 'we"ird","kind":"x', "dir/ünïcödé ☃.md", os.fsdecode(b"bad-\xff-utf8"), "x\\y"],
)
def test_with_id_from_canonical_bytes_equals_a_fresh_encoding(path: str) -> None:
    """The spliced encoding a push uses is byte for byte what json.dumps makes."""
    for v in (
        Version(path, "file", 5, 0o644, 1, 2, "dev", parent=b"\x01" * 32, content=b"\x02" * 32, depth=1),
        Version(path, "link", 3, 0o777, 1, 2, "dev", target='t"a,"kind":'),
        Version(path, "deleted", 0, 0, 0, 2, "dev"),
    ):
        vid = bytes(range(32))
        fast = v.with_id(vid, v.canonical())
        slow = v.with_id(vid)
        assert fast == slow
        assert (
            fast.to_bytes()
            == slow.to_bytes()
            == json.dumps(slow.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        )
        assert Version.from_bytes(fast.to_bytes()) == fast


def test_replace_never_keeps_a_stale_encoding() -> None:
    v = Version("a", "file", 1, 0o644, 1, 2, "dev").with_id(b"\x01" * 32)
    v = v.with_id(v.id, v.canonical())
    assert v.encoded is not None
    bigger = replace(v, size=2)
    assert json.loads(bigger.to_bytes())["size"] == 2


_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_raw_path = st.lists(
    st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")),
    min_size=1,
    max_size=3,
)


@given(
    raw=_raw_path,
    kind=st.sampled_from(KINDS),
    numbers=st.tuples(*[st.integers(0, 2**63 - 1)] * 4),
    mode=st.integers(0, 0o7777),
    device=_text,
    parent=st.none() | st.binary(min_size=32, max_size=32),
    content=st.none() | st.binary(min_size=32, max_size=32),
    depth=st.integers(0, 15),
    target=st.none() | _text | st.binary(min_size=1, max_size=8).map(os.fsdecode),
    conflict=st.booleans(),
)
def test_canonical_is_sorted_compact_json(
    raw: list[bytes],
    kind: str,
    numbers: tuple[int, int, int, int],
    mode: int,
    device: str,
    parent: bytes | None,
    content: bytes | None,
    depth: int,
    target: str | None,
    conflict: bool,
) -> None:
    """The hand-written encoder is exactly json.dumps of body() (what ids authenticate)."""
    size, mtime, when, _ = numbers
    path = os.fsdecode(b"/".join(raw))
    v = Version(path, kind, size, mode, mtime, when, device, parent, content, depth, target, conflict)
    expected = json.dumps(v.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert v.canonical() == expected
    named = v.with_id(bytes(32), v.canonical())
    assert (
        named.to_bytes()
        == json.dumps(named.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
