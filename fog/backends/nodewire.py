"""Requests and replies inside a node connection's secret streams (docs/FORMAT.md, section 17).

A message is `code (1) || u32be header length || header JSON || data`; data
beyond one stream message continues in messages of bare data, `total` in the
header saying how much. Shared by the client (fog.backends.node) and the
node (fog.node), which both speak it over a `fog.crypto.channel.Session`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

from fog.crypto.channel import MAX_PLAIN, ChannelError, Session

OP_PUT, OP_PUT_NEW, OP_GET, OP_GET_RANGE, OP_EXISTS, OP_LIST, OP_DELETE, OP_SYNC, OP_INFO, OP_ROSTER = range(1, 11)
OPS = {
    OP_PUT: "put",
    OP_PUT_NEW: "put_new",
    OP_GET: "get",
    OP_GET_RANGE: "get_range",
    OP_EXISTS: "exists",
    OP_LIST: "list",
    OP_DELETE: "delete",
    OP_SYNC: "sync",
    OP_INFO: "info",
    OP_ROSTER: "roster",
}
OK, NOT_FOUND, EXISTS, REFUSED, TRANSIENT = range(5)

CHUNK = 4 << 20  # data bytes per stream message
MAX_HEADER = 60 << 10
LIST_BATCH = 2000  # names per list reply
MAX_ROSTER_REPLY = 1 << 20  # a roster reply's data, at most
_HEAD = struct.Struct(">BI")
_ZEROS = memoryview(bytes(CHUNK))


class TooLarge(ChannelError):
    """A message announced more data than the receiver takes (its `total` is kept)."""

    def __init__(self, code: int, header: dict[str, Any], total: int) -> None:
        super().__init__(f"{total} bytes of data refused")
        self.code, self.header, self.total = code, header, total


def send(session: Session, code: int, header: dict[str, Any], data: bytes | bytearray | memoryview = b"") -> None:
    """One request or reply: the first message with its header and up to CHUNK bytes, then the rest."""
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
    if view or "total" in header:
        header = {**header, "total": len(view)}
    raw = json.dumps(header, separators=(",", ":")).encode()
    if len(raw) > MAX_HEADER:
        raise ValueError("message header too long")
    first = bytearray(_HEAD.size + len(raw) + min(len(view), CHUNK))
    _HEAD.pack_into(first, 0, code, len(raw))
    first[_HEAD.size : _HEAD.size + len(raw)] = raw
    first[_HEAD.size + len(raw) :] = view[:CHUNK]
    session.send(first)
    for at in range(CHUNK, len(view), CHUNK):
        session.send(view[at : at + CHUNK])


def recv(session: Session, max_total: int) -> tuple[int, dict[str, Any], memoryview]:
    """The next message: (code, header, data). TooLarge when it announces more than `max_total` bytes
    (nothing beyond its first message read); ChannelError when it is malformed."""
    code, header, first, total = recv_head(session)
    if total > max_total:
        raise TooLarge(code, header, total)
    return code, header, recv_rest(session, first, total)


def recv_head(session: Session) -> tuple[int, dict[str, Any], memoryview, int]:
    """The first message of the next request or reply: (code, header, its data, total announced).
    Nothing is allocated for the rest: the receiver decides first (recv_rest, or skip_rest)."""
    plain = session.recv()
    if len(plain) < _HEAD.size:
        raise ChannelError("message too short")
    code, hlen = _HEAD.unpack_from(plain)
    if hlen > MAX_HEADER or _HEAD.size + hlen > len(plain):
        raise ChannelError("message header length out of range")
    try:
        header = json.loads(bytes(plain[_HEAD.size : _HEAD.size + hlen]))
    except ValueError:
        header = None
    if not isinstance(header, dict):
        raise ChannelError("message header is not a JSON object")
    first = memoryview(plain)[_HEAD.size + hlen :]
    total = header.get("total", len(first))
    if not isinstance(total, int) or isinstance(total, bool):
        raise ChannelError("message total is not a number")
    if total < len(first):
        raise ChannelError("message total out of range")
    return code, header, first, total


def recv_rest(session: Session, first: memoryview, total: int, before: Callable[[], None] | None = None) -> memoryview:
    """All `total` bytes of a message whose first part is `first` (the continuation messages read).

    The buffer grows by one stream message as each arrives (each decrypted in place, no copy), so an
    announced total costs the receiver only what the sender really sends. `before` runs before each
    continuation is read (the node sets its put deadline there)."""
    if total == len(first):
        return first
    _continued(first)
    data = bytearray(first)
    at = len(first)
    while at < total:
        step = min(CHUNK, total - at)
        data += _ZEROS[:step]  # no view of `data` is held here: it may move as it grows
        if before is not None:
            before()
        with memoryview(data) as view, view[at:] as into:
            n = session.recv_into(into)
        if n != step:
            raise ChannelError("message data continues out of step with its total")
        at += n
    return memoryview(data)


def skip_rest(session: Session, first: memoryview, total: int) -> None:
    """Read and drop the continuation of a message (one stream message at a time: no buffer of `total`)."""
    at = len(first)
    if at < total:
        _continued(first)
    while at < total:
        at += len(_more(session, at, total))


def _continued(first: memoryview) -> None:
    if len(first) != CHUNK:
        raise ChannelError("message total out of range")


def _more(session: Session, at: int, total: int) -> bytearray:
    more = session.recv()
    if not more or len(more) > total - at or (len(more) != CHUNK and at + len(more) != total):
        raise ChannelError("message data continues out of step with its total")
    return more


def plain_json(header: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    """header[key] when it is of `kind`; ChannelError otherwise (or `default` when absent and one is given)."""
    value = header.get(key, default)
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise ChannelError(f"message header {key!r} missing or of the wrong type")
    return value


assert _HEAD.size + MAX_HEADER + CHUNK <= MAX_PLAIN
