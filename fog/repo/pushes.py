"""Pushes: which versions each event batch carried, so a tree can be named by a push.

A batch (FORMAT.md section 9) is what one push publishes on one remote. The
versions themselves are recorded without it (`versions`, `history`), so the
`batches` sub-database keeps, per batch this device wrote or read, its place
and the ids it carried (FORMAT.md section 12). A push is named by its batch's
id: the SHA256 of the stored batch (the hash the next batch chains to), shown
as 12 hex digits by `fog log --pushes`.

Versions recorded before this record existed (or adopted some other way)
belong to no batch: readers group them by device and recording time instead,
as `Push` entries without an id.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import lmdb

from fog.format.version import Version

_HEAD = struct.Struct(">QQ16sH")  # batch time_ns, seq, device id (16), remote name length


def encode(remote: str, seq: int, device: str, time_ns: int, ids: Iterable[bytes]) -> bytes:
    name = remote.encode()
    return _HEAD.pack(time_ns, seq, bytes.fromhex(device), len(name)) + name + b"".join(ids)


@dataclass
class Push:
    """One batch (or a group of versions no recorded batch carried), with its versions once loaded."""

    id: bytes | None  # the batch's chain hash; None: versions recorded without a batch record
    device: str
    time_ns: int  # the batch's own time (a group without a batch: its versions' time)
    remotes: dict[str, int] = field(default_factory=dict)  # remote name -> seq there
    ids: tuple[bytes, ...] = ()
    versions: list[Version] = field(default_factory=list)  # once loaded: those it brought (trees.pushes)
    aliases: list[bytes] = field(default_factory=list)  # the ids of the same push's batches on other remotes
    span: tuple[int, int] | None = None  # (before_ns, after_ns) once fixed: they stay when `versions` is narrowed

    @property
    def name(self) -> str:
        """How a REV names it: `push:` and this (12 hex digits of the batch id, or '-' for none)."""
        return self.id.hex()[:12] if self.id else "-"

    def own(self) -> list[Version]:
        """The versions its device made in it (not relayed ones, not conflict copies): they date it."""
        own = [v for v in self.versions if v.device == self.device and not v.conflict]
        return own or self.versions

    @property
    def after_ns(self) -> int:
        """The moment it was done: its last own version's time (the version clock); without versions, its own time."""
        if self.span is not None:
            return self.span[1]
        own = self.own()
        return max(v.time_ns for v in own) if own else self.time_ns

    @property
    def before_ns(self) -> int:
        """The moment right before it: one ns before its first own version."""
        if self.span is not None:
            return self.span[0]
        own = self.own()
        return (min(v.time_ns for v in own) if own else self.time_ns) - 1

    def fix_span(self) -> None:
        """Keep the moments its versions give now (a caller may narrow `versions` to a directory's)."""
        self.span = (self.before_ns, self.after_ns)


def decode(chain: bytes, raw: bytes) -> Push:
    time_ns, seq, device, n = _HEAD.unpack_from(raw)
    at = _HEAD.size + n
    remote = raw[_HEAD.size : at].decode()
    body = raw[at:]
    ids = tuple(body[i : i + 32] for i in range(0, len(body) - len(body) % 32, 32))
    return Push(chain, device.hex(), time_ns, {remote: seq}, ids)


def record(
    txn: lmdb.Transaction, db: object, chain: bytes, remote: str, seq: int, device: str, time_ns: int, ids: list[bytes]
) -> None:
    """Keep one batch's record (`db`: the `batches` sub-database); writing it twice changes nothing."""
    try:
        value = encode(remote, seq, device, time_ns, ids)
    except ValueError:
        return  # a device id that is not hex (never written by fog): no record, the versions still are
    txn.put(chain, value, db=db)


def read_all(txn: lmdb.Transaction, db: object) -> Iterator[Push]:
    for chain, raw in txn.cursor(db):
        yield decode(bytes(chain), bytes(raw))


def merged(batches: Iterable[Push]) -> list[Push]:
    """One entry per push: the batches of one push on several remotes (same device, same ids) merge."""
    out: dict[tuple[str, tuple[bytes, ...]], Push] = {}
    for b in batches:
        key = (b.device, tuple(sorted(b.ids)) if b.ids else (b.id or b"",))
        have = out.get(key)
        if have is None:
            out[key] = b
            continue
        have.remotes.update(b.remotes)
        have.aliases.append(b.id or b"")
        if b.time_ns < have.time_ns:  # the first publication names it
            have.id, have.time_ns = b.id, b.time_ns
    return list(out.values())
