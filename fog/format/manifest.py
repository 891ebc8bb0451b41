"""Manifest nodes: the HMAC tree that lists a multi-block file's blocks.

A node is ``b"FM" || version (1) || level (1) || count (4, BE) || entries``;
each entry is ``id (32) || length (8, BE)``. Level-0 entries name data blocks
and their sizes; level-n entries name level-(n-1) nodes and the file bytes they
cover. Nodes are cut content-defined (an entry whose id ends in a byte with
its low six bits zero closes a node once it holds two entries, so every level
at least halves), so an edit in a large file rewrites one
small leaf and the path to the root, not a whole list.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MAGIC = b"FM"
VERSION = 0x01
MAX_ENTRIES = 6000  # 8 + 6000 * 40 bytes stays under the 256 KiB object bound
_HEADER = struct.Struct(">2sBBI")
_ENTRY = struct.Struct(">32sQ")


def closes_node(entry_id: bytes) -> bool:
    """Whether an entry ends its node (about one entry in 64)."""
    return entry_id[-1] & 0x3F == 0


@dataclass(frozen=True)
class ManifestNode:
    """One node of a file's block tree."""

    level: int
    entries: tuple[tuple[bytes, int], ...]

    def to_bytes(self) -> bytes:
        if not 0 < len(self.entries) <= MAX_ENTRIES:
            raise ValueError("a manifest node holds 1 to 6000 entries")
        parts = [_HEADER.pack(MAGIC, VERSION, self.level, len(self.entries))]
        parts += [_ENTRY.pack(i, n) for i, n in self.entries]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> ManifestNode:
        if len(data) < _HEADER.size:
            raise ValueError("manifest node truncated")
        magic, version, level, count = _HEADER.unpack_from(data)
        if magic != MAGIC or version != VERSION:
            raise ValueError("not a version-1 manifest node")
        if not 0 < count <= MAX_ENTRIES or len(data) != _HEADER.size + count * _ENTRY.size:
            raise ValueError("manifest node length does not match its count")
        entries = tuple(_ENTRY.unpack_from(data, _HEADER.size + k * _ENTRY.size) for k in range(count))
        return cls(level, entries)

    @property
    def size(self) -> int:
        """File bytes covered by this node."""
        return sum(n for _, n in self.entries)


def build_tree(blocks: Iterable[tuple[bytes, int]], store_node: Callable[[bytes], bytes]) -> tuple[bytes | None, int]:
    """Fold (block id, length) entries into a tree; return (root id, depth).

    depth 0: root is the only data block (or None for an empty file);
    depth d > 0: root is a manifest node of level d - 1. `store_node` stores
    an encoded node and returns its id.
    """
    level_entries = list(blocks)
    if not level_entries:
        return None, 0
    depth = 0
    while len(level_entries) > 1 or depth == 0:
        if len(level_entries) == 1:
            return level_entries[0][0], depth
        parents: list[tuple[bytes, int]] = []
        node: list[tuple[bytes, int]] = []
        for entry in level_entries:
            node.append(entry)
            if (len(node) >= 2 and closes_node(entry[0])) or len(node) == MAX_ENTRIES:
                parents.append(_emit(depth, node, store_node))
                node = []
        if node:
            parents.append(_emit(depth, node, store_node))
        level_entries = parents
        depth += 1
    return level_entries[0][0], depth


def _emit(level: int, entries: list[tuple[bytes, int]], store_node: Callable[[bytes], bytes]) -> tuple[bytes, int]:
    node = ManifestNode(level, tuple(entries))
    return store_node(node.to_bytes()), node.size
