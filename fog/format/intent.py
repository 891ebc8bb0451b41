"""Prune intents and their completion records (docs/FORMAT.md, section 14).

An intent names the packs a pruner means to delete from one remote; every
device that reads it stops counting their objects as present there, and
acknowledges it in its next batch. A completion record says which of those
packs the collection kept (referenced again) and which it deleted.

Plaintext: ``b"FOGI" || version (1) || canonical JSON``; stored, like a
batch, as a signed envelope (fog.format.signed): ``0x02 || key epoch ||
Ed25519 signature || SecretBox(the epoch's prune key)``, the signature by the
author's signing key over `signed_message`. Records written before store
format 4 are ``0x01 || NaCl Box(author device secret -> user public)``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fog.format.signed import epoch_bytes, raw_id

MAGIC = b"FOGI"
PLAIN_VERSION = 0x01
STORED_VERSION = 0x02  # signed (fog.format.signed): what writers write
STORED_VERSION_BOX = 0x01  # Box-sealed, unsigned: written before store format 4, still read
SIGN_DOMAIN = b"fog/v1/prune\0"
MAX_STORED = 64 << 20  # 64 MiB: about a million pack ids
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Intent:
    """A pruner's announcement: these packs of this remote are condemned."""

    id: str  # 32 hex, random: the record's name on the remote
    share: str  # share id (32 hex)
    device: str  # the author's device id (32 hex)
    time_ns: int  # the author's clock when written (informative only: no reader trusts it)
    packs: tuple[bytes, ...]  # condemned pack ids
    heads: dict[str, int]  # log name -> the last batch the plan read in it (informative)
    done: bool = False  # a completion record: `packs` are those the collection deleted
    kept: tuple[bytes, ...] = ()  # completion: condemned packs kept because history references them again

    def to_bytes(self) -> bytes:
        doc = {
            "id": self.id,
            "share": self.share,
            "device": self.device,
            "time_ns": self.time_ns,
            "packs": sorted(p.hex() for p in self.packs),
            "heads": self.heads,
            "done": self.done,
            "kept": sorted(p.hex() for p in self.kept),
        }
        return MAGIC + bytes([PLAIN_VERSION]) + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Intent:
        if data[:4] != MAGIC or len(data) < 5 or data[4] != PLAIN_VERSION:
            raise ValueError("not a version-1 prune intent")
        doc = json.loads(data[5:])
        if not isinstance(doc, dict):
            raise ValueError("malformed prune intent: not a JSON object")
        try:
            ident, share, device = doc["id"], doc["share"], doc["device"]
            for value in (ident, share, device):
                if not isinstance(value, str) or not _ID.match(value):
                    raise ValueError(f"malformed prune intent: bad id {value!r:.40}")
            heads = doc["heads"]
            if not isinstance(heads, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in heads.items()
            ):
                raise ValueError("malformed prune intent: heads")
            if not isinstance(doc["time_ns"], int) or not isinstance(doc["done"], bool):
                raise ValueError("malformed prune intent: time_ns or done")
            return cls(
                id=ident,
                share=share,
                device=device,
                time_ns=doc["time_ns"],
                packs=_pack_ids(doc["packs"]),
                heads=heads,
                done=doc["done"],
                kept=_pack_ids(doc["kept"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed prune intent: {exc}") from exc


def _pack_ids(items: object) -> tuple[bytes, ...]:
    if not isinstance(items, list) or not all(isinstance(i, str) and len(i) == 64 for i in items):
        raise ValueError("malformed prune intent: pack ids")
    return tuple(bytes.fromhex(i) for i in items)


def signed_message(share_id: bytes, log: str, intent_id: str, done: bool, epoch: int, sealed: bytes) -> bytes:
    """What a record's signature covers: its place (share, author's log, intent id, completion or
    not), its key epoch and its sealed bytes; a record moved or renamed no longer verifies."""
    if len(share_id) != 16:
        raise ValueError("a share id is 16 bytes")
    return (
        SIGN_DOMAIN
        + share_id
        + raw_id(log, 16, "a log name")
        + raw_id(intent_id, 16, "an intent id")
        + bytes([1 if done else 0])
        + epoch_bytes(epoch)
        + sealed
    )


def record_name(log: str, intent_id: str, *, done: bool = False) -> str:
    """`<author's log name>.<intent id>` (the log name says whose key opens it), `.done` for a completion."""
    return f"{log}.{intent_id}" + (".done" if done else "")


def parse_name(tail: str) -> tuple[str, str, bool] | None:
    """(log name, intent id, done) of a record's file name, or None for anything else."""
    parts = tail.split(".")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "done"):
        return None
    log, ident = parts[0], parts[1]
    if not _ID.match(log) or not _ID.match(ident):
        return None
    return log, ident, len(parts) == 3
