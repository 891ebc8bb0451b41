"""A malicious node (it holds its own key, so the handshake succeeds) against the client: whatever it
answers, NodeBackend raises only the Backend contract's errors and takes no more memory than the request
bounds (FORMAT.md section 17, "Requests")."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fog.backends import nodewire as W
from fog.backends.node import NodeAuth, NodeBackend
from fog.crypto import channel as C
from fog.crypto import seal as S
from fog.errors import RemoteError

NODE_SECRET, NODE_PUBLIC = S.new_keypair()
WELCOME = {"proto": 1, "space": "00" * 16, "role": "device", "append_only": True, "quota": None, "used": 0,
           "max_object": 1 << 20, "node": "fog evil"}  # fmt: skip


def _raw_reply(session: C.Session, total: int, data: bytes = b"") -> None:
    """A reply announcing `total` bytes, sending only `data` (a whole chunk, so the client reads on)."""
    header = b'{"total":%d}' % total
    first = bytearray(5 + len(header)) + data
    struct.pack_into(">BI", first, 0, W.OK, len(header))
    first[5 : 5 + len(header)] = header
    session.send(first)


def _handshake(pipe: C.Pipe) -> C.Session | None:
    hs = C.ServerHandshake(pipe, NODE_SECRET)
    if hs.read_msg1() is None:
        return None
    session = hs.prove()
    hs.admit(session, WELCOME)
    return session


@pytest.fixture
def evil() -> Iterator[Callable[[Callable[[C.Session, dict[str, Any]], None]], NodeBackend]]:
    servers: list[socket.socket] = []

    def start(answer: Callable[[C.Session, dict[str, Any]], None]) -> NodeBackend:
        srv = socket.create_server(("127.0.0.1", 0))
        servers.append(srv)

        def run() -> None:
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                try:
                    session = _handshake(C.SocketPipe(conn))
                    while session is not None:
                        _, header, _ = W.recv(session, 1 << 20)
                        answer(session, header)
                except (OSError, ConnectionError):
                    conn.close()

        threading.Thread(target=run, daemon=True).start()
        auth = NodeAuth(S.new_keypair()[0], NODE_PUBLIC)
        options = {"node_auth": auth, "connections": 1, "timeout": 5}
        return NodeBackend.from_url(f"fog://127.0.0.1:{srv.getsockname()[1]}", options=options)

    yield start
    for srv in servers:
        srv.close()


def test_huge_total_is_a_remote_error(evil: Any) -> None:
    b = evil(lambda s, h: _raw_reply(s, 1 << 50, bytes(W.CHUNK)))
    with pytest.raises(RemoteError, match="reply is refused"):
        b.get("fog-store")
    b = evil(lambda s, h: _raw_reply(s, 3 << 30, bytes(W.CHUNK)))
    with pytest.raises(RemoteError, match="reply is refused"):
        b.get("fog-store")  # more than the welcome's max_object: refused before any allocation


def test_get_range_takes_at_most_its_length(evil: Any) -> None:
    b = evil(lambda s, h: W.send(s, W.OK, {}, b"x" * 100))
    with pytest.raises(RemoteError, match="reply is refused"):
        b.get_range("fog-store", 0, 10)


def test_list_not_utf8_or_invalid_is_a_remote_error(evil: Any) -> None:
    b = evil(lambda s, h: W.send(s, W.OK, {}, b"config/\xff\xfe"))
    with pytest.raises(RemoteError, match="not UTF-8"):
        list(b.list("config/"))
    b = evil(lambda s, h: W.send(s, W.OK, {}, b"config/../../etc"))
    with pytest.raises(RemoteError, match="invalid name"):
        list(b.list("config/"))
    b = evil(lambda s, h: W.send(s, W.OK, {}, b"shares/x"))
    with pytest.raises(RemoteError, match="outside"):
        list(b.list("config/"))


def test_endless_list_ends(evil: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import fog.backends.node as N

    monkeypatch.setattr(N, "MAX_LIST_NAMES", 10_000)

    def forever(s: C.Session, h: dict[str, Any]) -> None:
        batch = b"\n".join(b"config/%08d" % i for i in range(W.LIST_BATCH))
        while True:
            W.send(s, W.OK, {"more": True}, batch)

    b = evil(forever)
    with pytest.raises(RemoteError, match="more than"):
        list(b.list("config/"))


def test_endless_empty_list_replies_end(evil: Any) -> None:
    """`more` replies with no names never reached the bound on names: the client spun for ever (review 5,
    serve 1). A reply that says more follow carries a full batch."""

    def empty_forever(s: C.Session, h: dict[str, Any]) -> None:
        while True:
            W.send(s, W.OK, {"more": True}, b"")

    b = evil(empty_forever)
    with pytest.raises(RemoteError, match="said more follow"):
        list(b.list("config/"))


def test_a_reply_that_breaks_the_framing_is_refused_not_retried(evil: Any) -> None:
    """A header that is not JSON is the node misbehaving: a permanent RemoteError (a retry would ask again
    for the same thing), not 'connection lost'."""

    def garbage(s: C.Session, h: dict[str, Any]) -> None:
        first = bytearray(5) + b"not json"
        struct.pack_into(">BI", first, 0, W.OK, 8)
        s.send(first)

    b = evil(garbage)
    with pytest.raises(RemoteError, match="reply is refused") as e:
        b.get("fog-store")
    assert e.value.transient is False


@pytest.mark.parametrize(
    "change",
    [{"space": "\x1b[2J" + "x" * 30_000}, {"space": "AB" * 16}, {"role": "owner"}, {"used": "lots"}, {"quota": -1}],
)
def test_a_malformed_welcome_is_refused_before_anything_uses_it(
    evil: Any, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]
) -> None:
    """The welcome's space went unchecked into the node's device entry of the signed SyncConfig, which
    every reader then refused: `device add-untrusted` of a malicious node locked every device out, the
    way out (`device remove`) included (review 5, serve 0)."""
    monkeypatch.setitem(globals(), "WELCOME", {**WELCOME, **change})
    with pytest.raises(RemoteError, match="welcome is refused"):
        evil(lambda s, h: W.send(s, W.OK, {}, b""))
