"""A list of paths held as bytes, front-coded: what a pull reports of every file it wrote.

A list of str costs ~85 B a path of 30 characters (the str object and its
pointer); a clone of 200,000 files held its `updated` list that way to the
end, and merging it into the whole pull's report built a set of them as
well. Here each path costs the bytes it does not share with the one before it
and two length bytes (a pull writes in path order: ~10 B a path of such a
tree), with a restart point every 16 paths for indexing.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

_RESTART = 16  # every 16th path is stored whole; its offset is kept


def _encode(path: str) -> bytes:
    return path.encode("utf-8", "surrogatepass")  # (every str round-trips, lone surrogates too)


def _put_varint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)


def _varint(data: bytearray, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7


class PathList(Sequence[str]):
    """A list of str, appended to and read in order; compares equal to a list of the same items.

    Paths (any str) are stored as UTF-8, each as (bytes shared with the path
    before, the rest): see the module docstring. Not thread-safe.
    """

    __slots__ = ("_data", "_restarts", "_n", "_last")

    def __init__(self, items: Iterable[str] = ()) -> None:
        self._data = bytearray()
        self._restarts = array("Q")
        self._n = 0
        self._last = b""
        self.extend(items)

    def append(self, path: str) -> None:
        raw = _encode(path)
        data = self._data
        if self._n % _RESTART == 0:
            self._restarts.append(len(data))
            shared = 0
        else:
            last, shared, most = self._last, 0, min(len(raw), len(self._last))
            while shared < most and raw[shared] == last[shared]:
                shared += 1
        _put_varint(data, shared)
        _put_varint(data, len(raw) - shared)
        data += raw[shared:]
        self._last = raw
        self._n += 1

    def extend(self, items: Iterable[str]) -> None:
        for item in list(items) if items is self else items:
            self.append(item)

    def __iadd__(self, items: Iterable[str]) -> PathList:
        self.extend(items)
        return self

    def __len__(self) -> int:
        return self._n

    def _walk(self, start: int, count: int) -> Iterator[str]:
        """`count` paths from the restart point `start` on."""
        data, prev = self._data, b""
        pos = self._restarts[start] if count else 0
        for _ in range(count):
            shared, pos = _varint(data, pos)
            length, pos = _varint(data, pos)
            prev = prev[:shared] + data[pos : pos + length]
            pos += length
            yield prev.decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        return self._walk(0, self._n)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("PathList index out of range")
        *_, found = self._walk(i // _RESTART, i % _RESTART + 1)
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PathList | list | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  (mutable, as a list)

    def __repr__(self) -> str:
        return repr(list(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (PathList, (list(self),))

    def add_new(self, items: Iterable[str]) -> None:
        """Append each item that is neither in the list yet nor earlier in `items`, in order.

        Exact (a path is compared when its hash matches), and without a set of
        str: an open-addressing table of (hash, position), 16 B a slot, lives
        while it runs.
        """
        table = _Positions(self, len(items) if isinstance(items, Sequence) else 0)
        for item in items:
            if not table.has(item):
                self.append(item)
                table.add(item, self._n - 1)


class _Positions:
    """The positions of a PathList's items by hash (linear probing, 8 B a slot: 32 bits of the hash and the
    position); an item whose hash bits match is compared."""

    def __init__(self, paths: PathList, more: int = 0) -> None:
        self._paths = paths
        self._size = 8
        while (len(paths) + more) * 3 > self._size * 2:
            self._size *= 2
        self._hashes = array("I", bytes(4 * self._size))
        self._where = array("I", bytes(4 * self._size))  # position + 1 (0: empty)
        self._count = 0
        for pos, item in enumerate(paths):
            self.add(item, pos)

    def has(self, item: str) -> bool:
        h = hash(item) & 0xFFFFFFFF
        mask, where, hashes = self._size - 1, self._where, self._hashes
        i = h & mask
        while w := where[i]:
            if hashes[i] == h and self._paths[w - 1] == item:
                return True
            i = (i + 1) & mask
        return False

    def add(self, item: str, pos: int) -> None:
        if (self._count + 1) * 3 > self._size * 2:
            self._grow()
        self._place(hash(item) & 0xFFFFFFFF, pos + 1)
        self._count += 1

    def _place(self, h: int, w: int) -> None:
        mask, where = self._size - 1, self._where
        i = h & mask
        while where[i]:
            i = (i + 1) & mask
        where[i], self._hashes[i] = w, h

    def _grow(self) -> None:
        hashes, where = self._hashes, self._where
        self._size *= 2
        self._hashes = array("I", bytes(4 * self._size))
        self._where = array("I", bytes(4 * self._size))
        for h, w in zip(hashes, where, strict=True):
            if w:
                self._place(h, w)
