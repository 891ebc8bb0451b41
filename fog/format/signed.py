"""Signed envelopes: how event batches and prune records are stored since store format 4.

``version (1) || key epoch (u32be) || Ed25519 signature (64) || sealed``,
where `sealed` is a SecretBox message (nonce 24 || tag 16 || ciphertext)
under a key of that epoch, and the signature covers a domain string, the
record's place and the epoch before `sealed` (fog.format.batch.signed_message,
fog.format.intent.signed_message; docs/FORMAT.md, sections 9 and 14). Pure
bytes: signing and opening are fog.store's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SIGNATURE_BYTES = 64
_HEAD = struct.Struct(">BI")
HEADER_BYTES = _HEAD.size + SIGNATURE_BYTES  # 69
MIN_SEALED = 24 + 16  # nonce and tag of an empty SecretBox message


@dataclass(frozen=True)
class Envelope:
    """One signed, sealed record as stored."""

    version: int
    epoch: int
    signature: bytes
    sealed: bytes

    def to_bytes(self) -> bytes:
        if len(self.signature) != SIGNATURE_BYTES or not 0 <= self.epoch < 1 << 32:
            raise ValueError("a signed envelope has a 64-byte signature and a 32-bit key epoch")
        return _HEAD.pack(self.version, self.epoch) + self.signature + self.sealed

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Split stored bytes; ValueError when too short to hold a header and a sealed message."""
        if len(data) < HEADER_BYTES + MIN_SEALED:
            raise ValueError("too short for a signed record")
        version, epoch = _HEAD.unpack_from(data)
        return cls(version, epoch, bytes(data[_HEAD.size : HEADER_BYTES]), bytes(data[HEADER_BYTES:]))


def epoch_bytes(epoch: int) -> bytes:
    return epoch.to_bytes(4, "big")


def raw_id(hex_id: str, size: int, what: str) -> bytes:
    """A hex name (a log name, an intent id) as its raw bytes; ValueError unless exactly `size` bytes."""
    raw = bytes.fromhex(hex_id)
    if len(raw) != size:
        raise ValueError(f"{what} is not {size} bytes")
    return raw
