"""Random access to a file version's bytes: the blocks under an offset, verified, with a bounded cache.

What the mount reads through. A restore streams a file whole; a reader of a
mounted file asks for a few KiB at an offset, many times over. Each version's
block list (the leaves of its manifest tree, with their lengths, so an offset
maps to a block without fetching any data) is kept for the versions read
last, and decrypted blocks in an LRU bounded in bytes, so `cat` of a large
file fetches each block once. Blocks come from `ShareStore.get_run` (one
ranged read for a run of neighbours in a pack), which decrypts and checks
each against its id exactly as restore does; a block whose length differs
from what its manifest says is refused too. Nothing unverified is returned.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass

from fog.errors import FogError, IntegrityError
from fog.format.version import Version
from fog.store import ShareStore

CACHE_BYTES = 64 << 20  # decrypted blocks kept (a block is 1 MiB on average, 8 MiB at most)
AHEAD = 8  # blocks fetched together on a miss: the one asked for and those after it (a reader goes on)
LAYOUTS = 256  # versions whose block lists are kept


@dataclass(frozen=True)
class Layout:
    """A version's blocks in order, and where each starts in the file."""

    ids: tuple[bytes, ...]
    starts: tuple[int, ...]
    lengths: tuple[int, ...]


class BlockReader:
    """Reads byte ranges of file versions from one store (thread-safe)."""

    def __init__(self, store: ShareStore, cache_bytes: int = CACHE_BYTES, ahead: int = AHEAD) -> None:
        self.store = store
        self.cache_bytes = cache_bytes
        self.ahead = max(1, ahead)
        self._blocks: OrderedDict[bytes, bytes] = OrderedDict()
        self._held = 0
        self._layouts: OrderedDict[bytes, Layout] = OrderedDict()
        self._lock = threading.Lock()
        self.fetched = 0  # blocks fetched from the store (tests, and a sense of the cache's worth)

    def layout(self, v: Version) -> Layout:
        """The version's block list (manifest nodes fetched and verified once, then kept)."""
        key = v.id or (v.content or b"")
        with self._lock:
            if key in self._layouts:
                self._layouts.move_to_end(key)
                return self._layouts[key]
        if v.content is None or v.size == 0:
            out = Layout((), (), ())
        elif v.depth == 0:
            out = Layout((v.content,), (0,), (v.size,))
        else:
            leaves: list[tuple[bytes, int]] = []
            self._collect(v.content, v.depth, v.path, leaves)
            starts, at = [], 0
            for _, n in leaves:
                starts.append(at)
                at += n
            if at != v.size:
                raise IntegrityError(f"{v.path}: its manifest says {at} bytes, the version {v.size}")
            out = Layout(tuple(i for i, _ in leaves), tuple(starts), tuple(n for _, n in leaves))
        with self._lock:
            self._layouts[key] = out
            while len(self._layouts) > LAYOUTS:
                self._layouts.popitem(last=False)
        return out

    def _collect(self, node_id: bytes, depth: int, what: str, out: list[tuple[bytes, int]]) -> None:
        for child, length in self.store.node(node_id, depth - 1, what).entries:
            if depth == 1:
                out.append((child, length))
            else:
                self._collect(child, depth - 1, what, out)

    def read(self, v: Version, offset: int, size: int) -> bytes:
        """Up to `size` bytes of version `v` from `offset` (fewer at its end, none past it)."""
        if offset < 0 or size <= 0 or offset >= v.size:
            return b""
        lay = self.layout(v)
        end = min(v.size, offset + size)
        i = bisect.bisect_right(lay.starts, offset) - 1
        parts: list[bytes] = []
        pos = offset
        while pos < end:
            block = self._block(lay, i, v.path)
            lo = pos - lay.starts[i]
            take = block[lo : lo + (end - pos)]
            parts.append(take)
            pos += len(take)
            i += 1
        return b"".join(parts)

    def _block(self, lay: Layout, i: int, what: str) -> bytes:
        with self._lock:
            data = self._blocks.get(lay.ids[i])
            if data is not None:
                self._blocks.move_to_end(lay.ids[i])
                return data
        want = [j for j in range(i, min(len(lay.ids), i + self.ahead)) if j == i or not self._cached(lay.ids[j])]
        run = self.store.runs([lay.ids[j] for j in want])[0]  # the block asked for, and neighbours in its pack
        try:
            got = dict(zip(run, self.store.get_run(run, what), strict=True))
        except FogError:
            if len(run) == 1:
                raise
            got = {lay.ids[i]: self.store.get(lay.ids[i], what)}  # a bad neighbour must not fail this read
        for j in want:
            block = got.get(lay.ids[j])
            if block is not None and len(block) != lay.lengths[j]:
                raise IntegrityError(f"{what}: block {j} holds {len(block)} bytes, its manifest says {lay.lengths[j]}")
        with self._lock:
            for object_id, block in got.items():
                self.fetched += 1
                if object_id not in self._blocks:
                    self._blocks[object_id] = block
                    self._held += len(block)
            while self._held > self.cache_bytes and len(self._blocks) > 1:
                _, old = self._blocks.popitem(last=False)
                self._held -= len(old)
        return got[lay.ids[i]]

    def _cached(self, object_id: bytes) -> bool:
        with self._lock:
            return object_id in self._blocks
