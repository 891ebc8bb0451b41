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
