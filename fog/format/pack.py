"""Pack files: many stored objects in one remote file, with an encrypted index.

A pack is ``header || object_1 || ... || object_n``; each object is stored
exactly as a loose object would be (``OBJECT_VERSION || SecretBox``), so it is
verified the same way when read out of the pack by a ranged read. The header:

    b"FOGP" || PACK_VERSION (1) || u32be len(sealed) || sealed
    sealed = SecretBox(pack key, random nonce) of n x (id 32 || offset u32be || length u32be)

Offsets count from the first byte of the pack. A pack's name is the SHA256 of
all its bytes, so anyone (an untrusted device too) can verify a copied pack.
The index is a hint: every object read from a pack is still checked against
its HMAC id, so a wrong index can only make a read fail, never lie.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from fog.crypto import seal as S
from fog.errors import IntegrityError

MAGIC = b"FOGP"
PACK_VERSION = 0x01
TARGET_BYTES = 8 << 20  # a pack is closed once it holds this much
_HEAD = struct.Struct(">4sBI")
_ENTRY = struct.Struct(">32sII")
ENTRY_BYTES = _ENTRY.size  # 40
HEAD_BYTES = _HEAD.size  # 9
SEAL_OVERHEAD = S.NONCE_BYTES + S.TAG_BYTES
MAX_INDEX = 64 << 20  # a header past this is refused before it is fetched


@dataclass(frozen=True, slots=True)
class PackIndex:
    """Which objects a pack holds, where: `entries` is n x 40 bytes, in pack order."""

    pack: bytes  # SHA256 of the pack's bytes: its name
    entries: bytes

    def __iter__(self) -> Iterator[tuple[bytes, int, int]]:
        return iter(_ENTRY.iter_unpack(self.entries))

    def __len__(self) -> int:
        return len(self.entries) // ENTRY_BYTES

    def ids(self) -> Iterator[bytes]:
        return (self.entries[i : i + 32] for i in range(0, len(self.entries), ENTRY_BYTES))


def header_size(count: int) -> int:
    return HEAD_BYTES + SEAL_OVERHEAD + count * ENTRY_BYTES


def build(pack_key: bytes, objects: list[tuple[bytes, bytes]]) -> tuple[bytes, PackIndex]:
    """Lay out (id, stored bytes) pairs as one pack; return (pack bytes, its index)."""
    offset = header_size(len(objects))
    entries = bytearray()
    for object_id, stored in objects:
        entries += _ENTRY.pack(object_id, offset, len(stored))
        offset += len(stored)
    sealed = S.seal_secret(pack_key, bytes(entries))
    data = b"".join([_HEAD.pack(MAGIC, PACK_VERSION, len(sealed)), sealed, *(s for _, s in objects)])
    return data, PackIndex(hashlib.sha256(data).digest(), bytes(entries))


def sealed_length(prefix: bytes) -> int:
    """From a pack's first bytes (at least HEAD_BYTES), the length of its sealed index."""
    if len(prefix) < HEAD_BYTES:
        raise ValueError("pack shorter than its header")
    magic, version, n = _HEAD.unpack_from(prefix)
    if magic != MAGIC:
        raise ValueError("not a fog pack")
    if version != PACK_VERSION:
        raise ValueError(f"unknown pack format version {version}")
    if n > MAX_INDEX or n < SEAL_OVERHEAD or (n - SEAL_OVERHEAD) % ENTRY_BYTES:
        raise ValueError("pack index length is impossible")
    return n


def open_index(pack_key: bytes, pack_id: bytes, head: bytes, what: str) -> PackIndex:
    """Decrypt and check a pack's header (`head` holds at least the whole header)."""
    try:
        n = sealed_length(head)
    except ValueError as exc:
        raise IntegrityError(f"{what}: {exc}") from exc
    if len(head) < HEAD_BYTES + n:
        raise IntegrityError(f"{what}: pack ends inside its header")
    entries = S.open_secret(pack_key, head[HEAD_BYTES : HEAD_BYTES + n], what)
    index = PackIndex(pack_id, entries)
    expected = HEAD_BYTES + n
    for _, offset, length in index:
        if offset != expected or length == 0:
            raise IntegrityError(f"{what}: pack index does not describe a packed layout")
        expected += length
    return index
