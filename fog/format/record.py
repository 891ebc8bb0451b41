"""The compact binary form of a version in the share database (`.fog/` formats 2 to 5).

The version JSON of FORMAT.md section 8 is what devices exchange and what a
version id authenticates; the database only needs the same fields back. As
JSON a version takes ~390 bytes, most of them hex and key names; in this form
a typical one takes ~100, which is what a share of 100,000 files keeps in
memory-mapped pages. The id is the LMDB key, so it is not repeated.

Layout, integers big-endian (FORMAT.md section 12):

    0x02 · kind u8 · flags u8 · depth u8 · mode u32 · size u64 · mtime_ns i64 ·
    time_ns i64 · device (16) · [parent (32)] · [content (32)] ·
    path length u16 · path bytes · [target length u16 · target bytes]

flags: 1 conflict, 2 parent present, 4 content present, 8 target present.
Paths are their os.fsencode bytes. A JSON record starts with "{", so readers
tell the two apart by the first byte; a version that does not fit this layout
(a device id that is not 32 lowercase hex digits, a path longer than 65,535
bytes, a field out of range) is kept as JSON.

Imports only struct, os and fog.format.paths: `fog log` (fog.repo.history) decodes records on
its start-up-critical path.
"""

from __future__ import annotations

import os
import struct

from fog.format.paths import FS_ENCODING

TAG = 0x02
KINDS = ("file", "dir", "link", "deleted")
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}
_HEAD = struct.Struct(">BBBBIQqq16s")
_LEN = struct.Struct(">H")
CONFLICT, PARENT, CONTENT, TARGET = 1, 2, 4, 8
_HEX = frozenset("0123456789abcdef")


def encode(
    path: str,
    kind: str,
    size: int,
    mode: int,
    mtime_ns: int,
    time_ns: int,
    device: str,
    parent: bytes | None,
    content: bytes | None,
    depth: int,
    target: str | None,
    conflict: bool,
) -> bytes | None:
    """The binary record of these version fields, or None when they do not fit it (keep JSON)."""
    if len(device) != 32 or not _HEX.issuperset(device) or kind not in _KIND_CODE:
        return None
    if not (0 <= depth < 256 and 0 <= mode < 1 << 32 and 0 <= size < 1 << 64):
        return None
    if not (-(1 << 63) <= mtime_ns < 1 << 63 and -(1 << 63) <= time_ns < 1 << 63):
        return None
    if (parent is not None and len(parent) != 32) or (content is not None and len(content) != 32):
        return None
    raw_path = path.encode(FS_ENCODING, "surrogateescape")
    raw_target = target.encode(FS_ENCODING, "surrogateescape") if target is not None else b""
    if len(raw_path) > 0xFFFF or len(raw_target) > 0xFFFF:
        return None
    flags = (
        (CONFLICT if conflict else 0)
        | (PARENT if parent else 0)
        | (CONTENT if content else 0)
        | (TARGET if target is not None else 0)
    )
    parts = [_HEAD.pack(TAG, _KIND_CODE[kind], flags, depth, mode, size, mtime_ns, time_ns, bytes.fromhex(device))]
    if parent:
        parts.append(parent)
    if content:
        parts.append(content)
    parts += [_LEN.pack(len(raw_path)), raw_path]
    if target is not None:
        parts += [_LEN.pack(len(raw_target)), raw_target]
    return b"".join(parts)


def decode(
    raw: bytes,
) -> tuple[str, str, int, int, int, int, str, bytes | None, bytes | None, int, str | None, bool]:
    """Fields of a binary record, in encode's argument order; ValueError if it is malformed."""
    try:
        tag, code, flags, depth, mode, size, mtime_ns, time_ns, device = _HEAD.unpack_from(raw)
        if tag != TAG or code >= len(KINDS) or flags & ~0x0F:
            raise ValueError("not a binary version record")
        at = _HEAD.size
        parent = content = target = None
        if flags & PARENT:
            parent = raw[at : at + 32]
            at += 32
        if flags & CONTENT:
            content = raw[at : at + 32]
            at += 32
        (n,) = _LEN.unpack_from(raw, at)
        at += 2
        path = os.fsdecode(raw[at : at + n])
        at += n
        if flags & TARGET:
            (m,) = _LEN.unpack_from(raw, at)
            at += 2
            target = os.fsdecode(raw[at : at + m])
            at += m
    except struct.error as exc:
        raise ValueError(f"truncated version record: {exc}") from None
    if at != len(raw):  # past the end when truncated: then some slice above came up short
        raise ValueError("version record has the wrong length")
    return (
        path,
        KINDS[code],
        size,
        mode,
        mtime_ns,
        time_ns,
        device.hex(),
        parent,
        content,
        depth,
        target,
        bool(flags & CONFLICT),
    )
