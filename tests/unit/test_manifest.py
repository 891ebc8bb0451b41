"""Manifest nodes and the content-defined block tree (fog.format.manifest)."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fog.format.manifest import MAX_ENTRIES, ManifestNode, build_tree, closes_node
from fog.format.objects import MAX_BLOCK


class FakeStore(dict[bytes, bytes]):
    """Nodes by id; ids are SHA256 so identical nodes share one entry, like the real store."""

    def put(self, data: bytes) -> bytes:
        node_id = hashlib.sha256(data).digest()
        self[node_id] = data
        return node_id


def read_leaves(store: FakeStore, root: bytes | None, depth: int) -> list[tuple[bytes, int]]:
    """The level-0 entries of a tree, in order (what ShareStore.read_blocks walks)."""
    if root is None:
        return []
    if depth == 0:
        raise AssertionError("a depth-0 root is the block itself; callers know its size")
    node = ManifestNode.from_bytes(store[root])
    assert node.level == depth - 1
    if node.level == 0:
        return list(node.entries)
    out: list[tuple[bytes, int]] = []
    for child, size in node.entries:
        leaves = read_leaves(store, child, depth - 1)
        assert sum(n for _, n in leaves) == size  # a parent entry carries the bytes below it
        out += leaves
    return out


def block_id(i: int, closing: bool | None = None) -> bytes:
    """A deterministic id; `closing` forces whether it ends a node."""
    raw = hashlib.sha256(b"block %d" % i).digest()
    if closing is None:
        return raw
    return raw[:31] + bytes([0x40 if closing else 0x41])


def test_node_layout() -> None:
    entries = ((b"\x01" * 32, 5), (b"\x02" * 32, 1 << 40))
    data = ManifestNode(3, entries).to_bytes()
    assert data[:8] == b"FM\x01\x03" + struct.pack(">I", 2)
    assert data[8:48] == b"\x01" * 32 + (5).to_bytes(8, "big")
    assert len(data) == 8 + 2 * 40
    node = ManifestNode.from_bytes(data)
    assert node == ManifestNode(3, entries) and node.size == 5 + (1 << 40)


def test_largest_node_fits_one_object() -> None:
    node = ManifestNode(0, tuple((block_id(i), 1) for i in range(MAX_ENTRIES)))
    assert len(node.to_bytes()) == 8 + 40 * MAX_ENTRIES <= MAX_BLOCK
    with pytest.raises(ValueError):
        ManifestNode(0, node.entries + ((b"\x00" * 32, 1),)).to_bytes()
    with pytest.raises(ValueError):
        ManifestNode(0, ()).to_bytes()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"FM\x01",
        b"XM\x01\x00" + struct.pack(">I", 1) + bytes(40),
        b"FM\x02\x00" + struct.pack(">I", 1) + bytes(40),
        b"FM\x01\x00" + struct.pack(">I", 0),
        b"FM\x01\x00" + struct.pack(">I", 2) + bytes(40),
        b"FM\x01\x00" + struct.pack(">I", 1) + bytes(41),
        b"FM\x01\x00" + struct.pack(">I", MAX_ENTRIES + 1) + bytes(40 * (MAX_ENTRIES + 1)),
    ],
    ids=["empty", "truncated", "magic", "version", "zero", "short", "long", "too-many"],
)
def test_malformed_nodes_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        ManifestNode.from_bytes(data)


def test_closing_rule() -> None:
    assert closes_node(b"\x00" * 31 + b"\x00") and closes_node(b"\xff" * 31 + b"\xc0")
    assert not closes_node(b"\x00" * 31 + b"\x01") and not closes_node(b"\x00" * 31 + b"\x20")
    assert sum(closes_node(block_id(i)) for i in range(6400)) in range(60, 150)  # about 1 in 64


def test_empty_file_has_no_root() -> None:
    store = FakeStore()
    assert build_tree([], store.put) == (None, 0) and not store


def test_single_block_is_its_own_root() -> None:
    store = FakeStore()
    assert build_tree([(block_id(1), 100)], store.put) == (block_id(1), 0) and not store


@pytest.mark.parametrize("count", [2, 3, 63, 64, 65, 500, 5000])
def test_many_blocks_make_a_tree(count: int) -> None:
    entries = [(block_id(i), 1000 + i) for i in range(count)]
    store = FakeStore()
    root, depth = build_tree(entries, store.put)
    assert root in store and depth >= 1
    assert ManifestNode.from_bytes(store[root]).level == depth - 1
    assert ManifestNode.from_bytes(store[root]).size == sum(n for _, n in entries)
    assert read_leaves(store, root, depth) == entries


def test_nodes_respect_max_entries_and_halve_each_level() -> None:
    count = 2 * MAX_ENTRIES + 100
    entries = [(block_id(i, closing=False), 1) for i in range(count)]  # nothing closes: only the cap cuts
    store = FakeStore()
    root, depth = build_tree(entries, store.put)
    nodes = [ManifestNode.from_bytes(d) for d in store.values()]
    assert all(0 < len(n.entries) <= MAX_ENTRIES for n in nodes)
    leaves = sorted((len(n.entries) for n in nodes if n.level == 0), reverse=True)
    assert leaves == [MAX_ENTRIES, MAX_ENTRIES, 100]
    assert depth == 2 and read_leaves(store, root, depth) == entries


def test_closing_entries_end_nodes_once_they_hold_two() -> None:
    entries = [(block_id(0, closing=True), 1), (block_id(1, closing=True), 1), (block_id(2, closing=False), 1)]
    entries += [(block_id(3, closing=True), 1), (block_id(4, closing=False), 1)]
    store = FakeStore()
    root, depth = build_tree(entries, store.put)
    leaf_sizes = [len(ManifestNode.from_bytes(d).entries) for d in store.values() if d[3] == 0]
    assert sorted(leaf_sizes) == [1, 2, 2]  # [0,1] closes at 1; [2,3] closes at 3; [4] is the tail
    assert depth == 2 and read_leaves(store, root, depth) == entries


def test_an_edit_rewrites_only_one_path_to_the_root() -> None:
    entries = [(block_id(i), 65536) for i in range(20_000)]
    store = FakeStore()
    _, depth = build_tree(entries, store.put)
    before = set(store)
    entries[10_000] = (entries[10_000][0], 1234)  # same id (same node cut), new length
    store2 = FakeStore()
    build_tree(entries, store2.put)
    assert len(set(store2) - before) == depth


entry = st.tuples(
    st.builds(
        lambda head, tail: head + bytes([tail]), st.binary(min_size=31, max_size=31), st.sampled_from([0, 64, 1, 7])
    ),
    st.integers(0, 1 << 40),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(entry, max_size=300))
def test_build_tree_then_read_back_is_identity(entries: list[tuple[bytes, int]]) -> None:
    store = FakeStore()
    root, depth = build_tree(entries, store.put)
    if not entries:
        assert (root, depth) == (None, 0)
    elif len(entries) == 1:
        assert (root, depth) == (entries[0][0], 0)
    else:
        assert read_leaves(store, root, depth) == entries
        assert all(0 < len(ManifestNode.from_bytes(d).entries) <= MAX_ENTRIES for d in store.values())
