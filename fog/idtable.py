"""Object ids found by id without a Python object per id (issue 20: a clone's memory flat in its files).

A Python set of 32-byte ids costs ~140 B an id (the bytes object, ~65 B, and
its slots), a dict of places more; a clone of 200,000 small files held both.
Here the ids stay where they already are, end to end in byte strings (a
pack's index entries, a run of ids the share database stored, or a bytearray
of ids added one at a time), and an open-addressing table (linear probing,
in an `array` of 64-bit words) holds a reference to each: 12-24 B an id.
Object ids are HMACs, so their first 8 bytes are a uniform hash already.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator

ID_BYTES = 32
_HASH = struct.Struct("<Q")  # an id's first 8 bytes: its slot
_GONE = (1 << 64) - 1  # a removed reference's slot (probing goes on past it)
_OFFSET = 0xFFFFFFFF


class IdTable:
    """References to 32-byte ids held in byte strings, found by id.

    A reference is `buffer number << 32 | byte offset` of an id in a buffer
    added with `add_buffer` (a buffer may be a bytearray that only grows).
    The same id may be referenced more than once (an object in two packs):
    `refs` returns every live one. Not thread-safe: callers lock.
    """

    __slots__ = ("_bufs", "_slots", "_used", "_live")

    def __init__(self) -> None:
        self._bufs: list[bytes | bytearray] = []
        self._slots = array("Q", bytes(8 * 8))
        self._used = 0  # slots holding a reference or a removed one
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def add_buffer(self, buf: bytes | bytearray) -> int:
        """Make `buf` referable; returns its number (a reference's high 32 bits)."""
        self._bufs.append(buf)
        return len(self._bufs) - 1

    def buffer(self, number: int) -> bytes | bytearray:
        return self._bufs[number]

    def id_at(self, ref: int) -> bytes:
        off = ref & _OFFSET
        return bytes(self._bufs[ref >> 32][off : off + ID_BYTES])

    def reserve(self, more: int) -> None:
        """Grow once for `more` references to come (instead of doubling on the way)."""
        self._fit(self._live + more)

    def insert(self, ref: int) -> None:
        """Add a reference (whether its id is referenced already is the caller's business)."""
        if (self._used + 1) * 3 > len(self._slots) * 2:
            self._fit(self._live + 1)
        off = ref & _OFFSET
        slots = self._slots
        mask = len(slots) - 1
        i = _HASH.unpack_from(self._bufs[ref >> 32], off)[0] & mask
        while (v := slots[i]) and v != _GONE:
            i = (i + 1) & mask
        if not v:
            self._used += 1
        slots[i] = ref + 1
        self._live += 1

    def insert_run(self, number: int, stride: int, start: int = 0, end: int | None = None) -> None:
        """Reference every id of buffer `number` from byte `start` to `end`, one each `stride` bytes."""
        buf = self._bufs[number]
        stop = len(buf) if end is None else end
        count = (stop - start) // stride
        if (self._used + count) * 3 > len(self._slots) * 2:
            self._fit(self._live + count)
        slots, unpack, base = self._slots, _HASH.unpack_from, number << 32
        mask = len(slots) - 1
        used = 0
        for off in range(start, start + count * stride, stride):
            i = unpack(buf, off)[0] & mask
            while (v := slots[i]) and v != _GONE:
                i = (i + 1) & mask
            used += not v
            slots[i] = base + off + 1
        self._used += used
        self._live += count

    def first(self, object_id: bytes) -> int:
        """A live reference to the id, or -1."""
        slots, bufs = self._slots, self._bufs
        mask = len(slots) - 1  # (from the array read: a reader without the writers' lock may see it replaced)
        i = _HASH.unpack_from(object_id)[0] & mask
        while v := slots[i]:
            if v != _GONE:
                off = (v - 1) & _OFFSET
                if bufs[(v - 1) >> 32][off : off + ID_BYTES] == object_id:
                    return v - 1
            i = (i + 1) & mask
        return -1

    def refs(self, object_id: bytes) -> list[int]:
        """Every live reference to the id."""
        return self._matching(object_id, drop=False)

    def remove(self, object_id: bytes) -> list[int]:
        """Drop every reference to the id; returns them."""
        out = self._matching(object_id, drop=True)
        self._live -= len(out)
        return out

    def _matching(self, object_id: bytes, *, drop: bool) -> list[int]:
        slots, bufs = self._slots, self._bufs
        mask = len(slots) - 1
        out: list[int] = []
        i = _HASH.unpack_from(object_id)[0] & mask
        while v := slots[i]:
            if v != _GONE:
                off = (v - 1) & _OFFSET
                if bufs[(v - 1) >> 32][off : off + ID_BYTES] == object_id:
                    out.append(v - 1)
                    if drop:
                        slots[i] = _GONE
            i = (i + 1) & mask
        return out

    def live(self) -> Iterator[int]:
        """Every live reference, in no particular order."""
        return (v - 1 for v in self._slots if v and v != _GONE)

    def _fit(self, n: int) -> None:
        """Rebuild the table with room for n references at most two thirds full (removed ones dropped)."""
        size = 8
        while n * 3 >= size * 2:
            size *= 2
        old = self._slots
        slots, mask, bufs, unpack = array("Q", bytes(8 * size)), size - 1, self._bufs, _HASH.unpack_from
        live = 0
        for v in old:
            if v and v != _GONE:
                ref = v - 1
                i = unpack(bufs[ref >> 32], ref & _OFFSET)[0] & mask
                while slots[i]:
                    i = (i + 1) & mask
                slots[i] = v
                live += 1
        self._slots, self._used, self._live = slots, live, live
