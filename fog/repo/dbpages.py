"""The B-tree of one named database of `data.mdb`, checked page by page before a cursor walks all of it.

LMDB checks the page a lookup descends to (a damaged one is MDB_CORRUPTED, an
error fog words), but a cursor stepping to the next leaf (`mdb_cursor_sibling`)
takes the page its parent names without a look: a zeroed or overwritten leaf
there is `Assertion 'IS_LEAF(mp)' failed`, an abort no Python code can catch
(`fog check`, `fog log --pushes` over one zeroed page of `timeline`). So a walk
over a whole named database (`RepoDB.walkable`) first reads its branch pages
and the header of every page they point to, from the file, in the snapshot of
the walking transaction: each must carry its own page number and the kind its
depth calls for. Costs one small read per leaf, next to the leaf's own read by
the walk that follows. The layout (mdb.c, 64-bit build, native byte order) is
in docs/FORMAT.md section 12.
"""

from __future__ import annotations

import os
import struct

from fog.repo.history import _META_END, _PAGE_HEADER, DATA_FILE, _meta

_P_BRANCH, _P_LEAF, _F_SUBDATA, _DB_SIZE = 0x01, 0x02, 0x02, 48
_HEADER = struct.Struct("=QHHHH")  # mp_pgno, mp_pad, mp_flags, mp_lower, mp_upper
_NODE = struct.Struct("=HHHH")  # mn_lo, mn_hi, mn_flags, mn_ksize (a branch node's child: lo | hi << 16 | flags << 32)
_NO_PAGE = (1 << 64) - 1


def tree_damage(path: str, txnid: int, name: bytes) -> str | None:
    """What is wrong with named database `name` of the data file in directory `path`, as transaction
    `txnid` sees it, or None (sound, or not checkable: that transaction's meta page was overwritten since,
    or the main database is not one leaf page). The caller holds transaction `txnid` open, so none of its
    pages is reused meanwhile."""
    with open(os.path.join(path, DATA_FILE), "rb", buffering=0) as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        head = os.pread(fd, 8192, 0)
        first = _meta(head, 0)
        if isinstance(first, str):
            return None
        at = first[0]
        second = _meta(head[at : at + _META_END], 1)
        metas = [m for m in (first, second) if not isinstance(m, str) and m[2] == txnid]
        if not metas:
            return None
        psize, roots, _ = metas[0]
        pages = size // psize
        if roots[1] >= pages:
            return None
        found = _named(os.pread(fd, psize, roots[1] * psize), name)
        if found is None or found[0] == _NO_PAGE:
            return None
        root, depth = found
        return _walk(fd, psize, pages, root, depth)


def _named(page: bytes, name: bytes) -> tuple[int, int] | None:
    """(root, depth) of named database `name` in the main database's root page, when that is a leaf."""
    if len(page) < _PAGE_HEADER:
        return None
    _pgno, _pad, flags, lower, _upper = _HEADER.unpack_from(page)
    if not flags & _P_LEAF:
        return None
    for i in range(max(0, (lower - _PAGE_HEADER) // 2)):
        (off,) = struct.unpack_from("=H", page, _PAGE_HEADER + 2 * i)
        if off + 8 > len(page):
            return None
        lo, hi, nflags, ksize = _NODE.unpack_from(page, off)
        data = off + 8 + ksize
        if page[off + 8 : data] == name and nflags & _F_SUBDATA and lo | hi << 16 == _DB_SIZE:
            if data + _DB_SIZE > len(page):
                return None
            (depth,) = struct.unpack_from("=H", page, data + 6)
            (root,) = struct.unpack_from("=Q", page, data + 40)
            return root, depth
    return None


def _walk(fd: int, psize: int, pages: int, root: int, depth: int) -> str | None:
    """Check the tree under `root` (`depth` levels: 1 is a lone leaf) down to its leaves' headers."""
    level = [root]
    for d in range(depth, 0, -1):
        kind, want = ("branch", _P_BRANCH) if d > 1 else ("leaf", _P_LEAF)
        below: list[int] = []
        for pgno in level:
            if pgno >= pages:
                return f"page {pgno}, a {kind} of the tree, lies past the end of the file"
            page = os.pread(fd, psize if d > 1 else _PAGE_HEADER, pgno * psize)
            number, _pad, flags, lower, _upper = _HEADER.unpack_from(page)
            if number != pgno or not flags & want:
                return f"page {pgno} is not the {kind} page the tree points to (a zeroed or overwritten page)"
            if d > 1:
                for i in range(max(0, (lower - _PAGE_HEADER) // 2)):
                    (off,) = struct.unpack_from("=H", page, _PAGE_HEADER + 2 * i)
                    if off + 8 > psize:
                        return f"branch page {pgno} is garbled"
                    lo, hi, high, _ksize = _NODE.unpack_from(page, off)
                    below.append(lo | hi << 16 | high << 32)
        level = below
    return None


class Snapshot:
    """The data file in directory `path` as transaction `txnid` sees it, for `span_damage` checks of the
    pages a short cursor walk reads (a lookup by prefix: `set_range`, then steps to the next key). A
    whole-tree check (`tree_damage`) reads every leaf: 0.3 s for `timeline` with a million versions, too
    much for `fog log FILE`. Branch pages read are kept; leaves found sound are remembered. The caller
    holds the transaction open, so none of its pages is reused meanwhile."""

    def __init__(self, path: str, txnid: int) -> None:
        self.txnid = txnid
        self.fd: int | None = None
        self.roots: dict[bytes, tuple[int, int] | None] = {}
        self._branches: dict[int, bytes | str] = {}
        self._leaves: set[int] = set()
        try:
            fd = os.open(os.path.join(path, DATA_FILE), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return  # LMDB reads the same file and says what is wrong
        try:
            size = os.fstat(fd).st_size
            head = os.pread(fd, 8192, 0)
            first = _meta(head, 0)
            if isinstance(first, str):
                return
            second = _meta(head[first[0] : first[0] + _META_END], 1)
            metas = [m for m in (first, second) if not isinstance(m, str) and m[2] == txnid]
            if not metas:
                return  # overwritten since (or a write transaction's): not checkable
            self.psize, roots, _ = metas[0]
            self.pages = size // self.psize
            if roots[1] >= self.pages:
                return
            self._main = os.pread(fd, self.psize, roots[1] * self.psize)
            self.fd, fd = fd, -1
        finally:
            if fd >= 0:
                os.close(fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def span_damage(self, name: bytes, lo: bytes, hi: bytes | None) -> str | None:
        """What is wrong with a page that a cursor of named database `name` reads when it is placed at the first
        key >= `lo` (`set_range`) and steps on while the keys are below `hi` (None: to the end), one past them
        included; None when they are sound or cannot be checked."""
        if self.fd is None:
            return None
        if name not in self.roots:
            found = _named(self._main, name)
            self.roots[name] = None if found is None or found[0] == _NO_PAGE else found
        found = self.roots[name]
        if found is None:
            return None
        try:
            return self._span(found[0], found[1], lo, hi, False)
        except OSError:
            return None

    def _span(self, pgno: int, depth: int, lo: bytes, hi: bytes | None, first_only: bool) -> str | None:
        if depth <= 1:
            return self._leaf(pgno)
        page = self._branch(pgno)
        if isinstance(page, str):
            return page
        try:
            if first_only:
                return self._span(_child(page, 0), depth - 1, lo, hi, True)
            n = (_HEADER.unpack_from(page)[3] - _PAGE_HEADER) // 2
            a, b = 1, n  # where a search for `lo` descends: the last node whose key is <= lo (node 0's key: none)
            while a < b:
                m = (a + b) // 2
                if _key(page, m) <= lo:
                    a = m + 1
                else:
                    b = m
            damage = self._span(_child(page, a - 1), depth - 1, lo, hi, False)
            for i in range(a, n):
                if damage:
                    return damage
                past = hi is not None and _key(page, i) >= hi  # the walk steps into it to find its end: its first leaf
                damage = self._span(_child(page, i), depth - 1, lo, hi, past)
                if past:
                    break
            return damage
        except struct.error:
            return f"branch page {pgno} is garbled"

    def _leaf(self, pgno: int) -> str | None:
        if pgno in self._leaves:
            return None
        if pgno >= self.pages:
            return f"page {pgno}, a leaf of the tree, lies past the end of the file"
        assert self.fd is not None
        number, _pad, flags, _lower, _upper = _HEADER.unpack(os.pread(self.fd, _PAGE_HEADER, pgno * self.psize))
        if number != pgno or not flags & _P_LEAF:
            return f"page {pgno} is not the leaf page the tree points to (a zeroed or overwritten page)"
        self._leaves.add(pgno)
        return None

    def _branch(self, pgno: int) -> bytes | str:
        """Branch page `pgno`, or what is wrong with it."""
        got = self._branches.get(pgno)
        if got is not None:
            return got
        psize = self.psize
        if pgno >= self.pages:
            got = f"page {pgno}, a branch of the tree, lies past the end of the file"
        else:
            assert self.fd is not None
            got = os.pread(self.fd, psize, pgno * psize)
            number, _pad, flags, lower, _upper = _HEADER.unpack_from(got)
            if number != pgno or not flags & _P_BRANCH:
                got = f"page {pgno} is not the branch page the tree points to (a zeroed or overwritten page)"
            elif lower < _PAGE_HEADER + 2 or lower > psize:
                got = f"branch page {pgno} is garbled"
        self._branches[pgno] = got
        return got


def _node(page: bytes, i: int) -> tuple[int, int]:
    """(offset, child page) of node `i` of a branch page (struct.error past the page's end)."""
    (off,) = struct.unpack_from("=H", page, _PAGE_HEADER + 2 * i)
    lo, hi, high, _ksize = _NODE.unpack_from(page, off)
    return off, lo | hi << 16 | high << 32


def _child(page: bytes, i: int) -> int:
    return _node(page, i)[1]


def _key(page: bytes, i: int) -> bytes:
    (off,) = struct.unpack_from("=H", page, _PAGE_HEADER + 2 * i)
    ksize = _NODE.unpack_from(page, off)[3]
    if off + 8 + ksize > len(page):
        raise struct.error("a key past the page's end")
    return page[off + 8 : off + 8 + ksize]
