"""Pack files: many stored objects in one remote file, with an encrypted index.

A pack is ``header || object_1 || ... || object_n``; each object is stored
exactly as a loose object would be (``OBJECT_VERSION || SecretBox``), so it is
verified the same way when read out of the pack by a ranged read. The header:

    b"FOGP" || PACK_VERSION (1) || u32be len(sealed) || sealed
    sealed = SecretBox(pack key, random nonce) of n x (id 32 || length u32be)

Objects follow the header back to back in index order, so each one's offset
is the header's length plus the lengths before it. A pack's name is the SHA256 of
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
_ENTRY = struct.Struct(">32sII")  # in memory and in the share database: id, offset, length
ENTRY_BYTES = _ENTRY.size  # 40
_WIRE = struct.Struct(">32sI")  # in the sealed header: id, length
WIRE_BYTES = _WIRE.size  # 36
HEAD_BYTES = _HEAD.size  # 9
SEAL_OVERHEAD = S.NONCE_BYTES + S.TAG_BYTES
# A writer closes a pack once its objects reach TARGET_BYTES, and a stored object is at least
# MIN_OBJECT bytes (version, nonce, tag and codec byte around an empty payload): no pack it writes
# holds more than TARGET_BYTES // MIN_OBJECT + 1 objects, an index of at most 7,190,284 bytes.
MIN_OBJECT = 1 + 24 + 16 + 1
MAX_INDEX = 8 << 20  # a header past this is refused before it is fetched (it was 64 MiB: review 7, F3)
# A writer closes a pack once it holds TARGET_BYTES, so no pack exceeds a header, that much
# and one object; a reader that fetches a whole pack (check --read-data) refuses more.
MAX_PACK_BYTES = HEAD_BYTES + MAX_INDEX + TARGET_BYTES + (1 << 20)


@dataclass(frozen=True, slots=True)
class PackIndex:
    """Which objects a pack holds, where: `entries` is n x (id, offset, length) = 40 bytes, in pack order."""

    pack: bytes  # SHA256 of the pack's bytes: its name
    entries: bytes

    def __iter__(self) -> Iterator[tuple[bytes, int, int]]:
        return iter(_ENTRY.iter_unpack(self.entries))

    def __len__(self) -> int:
        return len(self.entries) // ENTRY_BYTES

    def ids(self) -> Iterator[bytes]:
        return (self.entries[i : i + 32] for i in range(0, len(self.entries), ENTRY_BYTES))

    def entry(self, i: int) -> tuple[bytes, int, int]:
        """The i-th (id, offset, length)."""
        return _ENTRY.unpack_from(self.entries, i * ENTRY_BYTES)  # type: ignore[return-value]


def header_size(count: int) -> int:
    return HEAD_BYTES + SEAL_OVERHEAD + count * WIRE_BYTES


def wire_entries(index: PackIndex) -> bytes:
    """The plaintext a pack's header seals: n x (id 32 || length u32be)."""
    return b"".join(_WIRE.pack(object_id, length) for object_id, _, length in index)


def build(pack_key: bytes, objects: list[tuple[bytes, bytes]]) -> tuple[bytes, PackIndex]:
    """Lay out (id, stored bytes) pairs as one pack; return (pack bytes, its index)."""
    offset = header_size(len(objects))
    entries = bytearray()
    wire = bytearray()
    for object_id, stored in objects:
        entries += _ENTRY.pack(object_id, offset, len(stored))
        wire += _WIRE.pack(object_id, len(stored))
        offset += len(stored)
    sealed = S.seal_secret(pack_key, bytes(wire))
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
    if n > MAX_INDEX or n < SEAL_OVERHEAD or (n - SEAL_OVERHEAD) % WIRE_BYTES:
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
    return open_sealed_index(pack_key, pack_id, head[HEAD_BYTES : HEAD_BYTES + n], what)


def open_sealed_index(pack_key: bytes, pack_id: bytes, sealed: bytes, what: str) -> PackIndex:
    """Decrypt and check a pack's sealed index alone (the `s` bytes after the first HEAD_BYTES: a reader
    that fetched them as one range hands them over without a copy)."""
    n = len(sealed)
    if n > MAX_INDEX or n < SEAL_OVERHEAD or (n - SEAL_OVERHEAD) % WIRE_BYTES:
        raise IntegrityError(f"{what}: pack index length is impossible")
    wire = S.open_secret(pack_key, sealed, what)
    entries = bytearray()
    offset = HEAD_BYTES + n
    for object_id, length in _WIRE.iter_unpack(wire):
        if length == 0:
            raise IntegrityError(f"{what}: pack index lists an empty object")
        entries += _ENTRY.pack(object_id, offset, length)
        offset += length
    return PackIndex(pack_id, bytes(entries))
