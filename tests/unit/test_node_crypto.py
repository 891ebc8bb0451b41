"""Node key text form, join key, space, roster signatures and merge, and the handshake (FORMAT.md section 17)."""

from __future__ import annotations

import hashlib
import socket
import threading
from typing import Any

import nacl.bindings as B
import pytest

from fog.crypto import channel as C
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import IntegrityError
from fog.format import noderoster as R

MK = bytes(range(16))


def test_node_key_text_known_answer_and_round_trip() -> None:
    public = bytes(range(32))
    text = K.node_key_to_text(public)
    raw = public + hashlib.sha256(b"fog/v1/node-key-check" + public).digest()[:4]
    number = int.from_bytes(raw, "big") << 2
    digits = "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(number >> (5 * i)) & 31] for i in reversed(range(58)))
    assert text == "fognode-" + "-".join(digits[i : i + 8] for i in range(0, 58, 8))
    assert K.node_key_from_text(text) == public
    assert K.node_key_from_text(text.lower().replace("-", " ")) == public
    wrong = text[:-1] + ("0" if text[-1] != "0" else "1")
    with pytest.raises(ValueError, match="checksum"):
        K.node_key_from_text(wrong)
    with pytest.raises(ValueError, match="58 characters"):
        K.node_key_from_text(text[:-2])


def test_join_keypair_and_space_derivations() -> None:
    node = bytes(range(32))
    secret, public = K.node_join_keypair(MK, node)
    assert secret == hashlib.sha256(b"fog/v1/node-join" + MK + node).digest()
    assert public == S.public_of(secret)
    assert K.node_join_keypair(bytes(16), node)[1] != public
    assert K.node_join_keypair(MK, bytes(32))[1] != public  # bound to the node
    with pytest.raises(ValueError):
        K.node_join_keypair(MK, b"")
    sign = bytes(range(32))
    assert K.node_space(sign) == hashlib.sha256(b"fog/v1/node-space" + sign).digest()[:16].hex()


def _devices(n: int = 1) -> dict[str, dict[str, Any]]:
    out = {}
    for i in range(n):
        _, pub = S.new_keypair()
        out[pub.hex()] = {"id": f"{i:032x}", "name": f"d{i}", "sign": "ab" * 32, "trusted": True, "revoked": 0}
    return out


def test_roster_round_trip_and_tamper() -> None:
    seed = S.random_bytes(32)
    node = S.random_bytes(32)
    devs = _devices(2)
    stored = R.build_roster(seed, node, devs, ["cd" * 32], signed_ns=5)
    assert stored.startswith(b"fog-roster 1\n")
    roster = R.decode_roster(stored)
    assert roster.signer == S.signing_public_of(seed).hex() and roster.node == node.hex() and roster.signed == 5
    assert set(roster.devices) == set(devs) and roster.join == ("cd" * 32,)
    body = stored[13 + 64 :]
    assert R.N.ROSTER_CONTEXT == b"fog/v1/node-roster\x00"
    S.verify(bytes.fromhex(roster.signer), b"fog/v1/node-roster\x00" + body, stored[13:77], "x")
    tampered = stored.replace(b'"signed":5', b'"signed":6')
    with pytest.raises(IntegrityError):
        R.decode_roster(tampered)
    with pytest.raises(IntegrityError, match="magic"):
        R.decode_roster(b"fog-roster 2\n" + stored[13:])


def test_roster_limits() -> None:
    seed, node = S.random_bytes(32), S.random_bytes(32)
    with pytest.raises(ValueError, match="join keys"):
        R.build_roster(seed, node, {}, [f"{i:064x}" for i in range(17)])
    with pytest.raises(ValueError, match="devices"):
        R.build_roster(seed, node, _devices(1001), [])


def test_merge_rules() -> None:
    old_seed, new_seed, other = S.random_bytes(32), S.random_bytes(32), S.random_bytes(32)
    node = S.random_bytes(32)
    devs = _devices(2)
    a, b = list(devs)
    first = R.decode_roster(R.build_roster(old_seed, node, devs, ["11" * 32], signed_ns=10))
    state = R.merge(None, first)
    assert state.space == K.node_space(S.signing_public_of(old_seed)) and state.role_of(a)[0] == "device"
    assert R.merge(state, first) == state  # idempotent
    # a newer roster renames and revokes; an older one cannot undo the revocation (sticky)
    newer = {**devs, a: {**devs[a], "name": "renamed", "revoked": 99}}
    state2 = R.merge(state, R.decode_roster(R.build_roster(old_seed, node, newer, ["22" * 32], signed_ns=20)))
    assert state2.devices[a]["name"] == "renamed" and state2.role_of(a) == (None, "device revoked")
    assert set(state2.join) == {"11" * 32, "22" * 32}  # union while the key stays
    state3 = R.merge(state2, first)
    assert state3.devices[a]["revoked"] == 99 and state3.devices[a]["name"] == "renamed"
    # another user's roster is refused whole
    with pytest.raises(IntegrityError, match="not signed by this user's key"):
        R.merge(state3, R.decode_roster(R.build_roster(other, node, devs, [], signed_ns=30)))
    # a rotation with a handover moves the pin and replaces the join keys; the space stays
    rotated = R.decode_roster(R.build_roster(new_seed, node, devs, ["33" * 32], [old_seed], signed_ns=40))
    state4 = R.merge(state3, rotated)
    assert state4.pinned == S.signing_public_of(new_seed).hex() and state4.join == ("33" * 32,)
    assert state4.space == state.space and state4.devices[a]["revoked"] == 99 and state4.role_of(b)[0] == "device"
    # the old key no longer speaks for the space
    with pytest.raises(IntegrityError):
        R.merge(state4, first)
    # a forged handover (signed by the wrong key) does not move the pin
    forged = R.decode_roster(R.build_roster(other, node, devs, [], [S.random_bytes(32)], signed_ns=50))
    with pytest.raises(IntegrityError):
        R.merge(state4, forged)


def test_handover_replaces_the_devices_keeping_tombstones() -> None:
    old_seed, new_seed, node = S.random_bytes(32), S.random_bytes(32), S.random_bytes(32)
    devs = _devices(3)
    keep, gone, planted = list(devs)
    revoked = {**devs, gone: {**devs[gone], "revoked": 7}}
    state = R.merge(None, R.decode_roster(R.build_roster(old_seed, node, revoked, [], signed_ns=10)))
    assert state.role_of(planted)[0] == "device"
    after = {keep: devs[keep]}  # the new roster lists only what the user knows
    rotated = R.merge(state, R.decode_roster(R.build_roster(new_seed, node, after, [], [old_seed], signed_ns=20)))
    assert set(rotated.devices) == {keep, gone} and rotated.role_of(planted) == (None, "unknown key")
    assert rotated.role_of(gone) == (None, "device revoked") and rotated.role_of(keep)[0] == "device"


def test_roster_signed_in_the_future_refused() -> None:
    seed, node = S.random_bytes(32), S.random_bytes(32)
    now = 10**18
    ahead = R.decode_roster(R.build_roster(seed, node, _devices(1), [], signed_ns=now + R.MAX_AHEAD_NS + 1))
    with pytest.raises(IntegrityError, match="in the future"):
        R.merge(None, ahead, now_ns=now)
    R.merge(None, R.decode_roster(R.build_roster(seed, node, _devices(1), [], signed_ns=now + 1)), now_ns=now)


# -- the handshake ----------------------------------------------------------------------


class Tap:
    """A Pipe that records what one side sends, and can rewrite it."""

    def __init__(self, pipe: C.Pipe, edit: Any = None) -> None:
        self.pipe, self.sent, self.edit = pipe, bytearray(), edit

    def send(self, data: Any) -> None:
        data = bytes(data)
        if self.edit:
            data = self.edit(len(self.sent), data)
        self.sent += data
        self.pipe.send(data)

    def recv_into(self, buf: memoryview) -> None:
        self.pipe.recv_into(buf)

    def settimeout(self, s: float | None) -> None:
        self.pipe.settimeout(s)

    def close(self) -> None:
        self.pipe.close()


def _serve(node_secret: bytes, sock: socket.socket, out: dict[str, Any], welcome: Any = None, edit: Any = None) -> None:
    pipe = Tap(C.SocketPipe(sock), edit)
    pipe.settimeout(5)
    try:
        hs = C.ServerHandshake(pipe, node_secret)
        got = hs.read_msg1()
        out["msg1"] = got
        session = hs.prove()
        out["session"] = session
        if hs.admit(session, welcome or {"proto": 1}):
            out["got"] = bytes(session.recv())
            session.send(b"pong")
    except Exception as e:  # noqa: BLE001  -- recorded for the test
        out["error"] = e
    finally:
        pipe.close()


def _pair(node_secret: bytes | None = None, **kw: Any) -> tuple[socket.socket, dict[str, Any], threading.Thread, bytes]:
    node_secret = node_secret or S.new_keypair()[0]
    node_public = S.public_of(node_secret)
    _LAST[0] = node_secret
    a, b = socket.socketpair()
    out: dict[str, Any] = {}
    t = threading.Thread(target=_serve, args=(node_secret, b, out), kwargs=kw)
    t.start()
    return a, out, t, node_public


def test_handshake_round_trip() -> None:
    a, out, t, node_public = _pair()
    secret, public = S.new_keypair()
    session = C.client_handshake(C.SocketPipe(a), secret, node_public, {"proto": 1, "x": "y"})
    session.send(b"ping")
    assert bytes(session.recv()) == b"pong"
    t.join()
    assert out["msg1"] == (public, {"proto": 1, "x": "y"}) and out["got"] == b"ping"
    assert out["session"].peer == public


def test_probe_answers_the_node_key() -> None:
    a, out, t, node_public = _pair()
    assert C.probe_node_key(C.SocketPipe(a)) == node_public
    t.join()
    assert out["msg1"] is None


def test_wrong_node_key_is_refused_by_the_client() -> None:
    a, out, t, _ = _pair()
    with pytest.raises(C.ChannelError):
        C.client_handshake(C.SocketPipe(a), S.new_keypair()[0], S.new_keypair()[1], {"proto": 1})
    a.close()
    t.join()


def test_refusal_is_boxed_and_carried() -> None:
    a, out, t, node_public = _pair(welcome={"error": "unknown key", "transient": True})
    with pytest.raises(C.Refused) as e:
        C.client_handshake(C.SocketPipe(a), S.new_keypair()[0], node_public, {"proto": 1})
    assert e.value.message == "unknown key" and e.value.transient
    t.join()


def test_msg2_says_nothing_before_msg3() -> None:
    """msg2 is the transcript proof alone (no welcome, no refusal): a client that cannot make msg3
    learns nothing about its key (admitted or not, which space)."""
    a, out, t, node_public = _pair(welcome={"error": "device revoked"})
    e_public, e_secret = B.crypto_kx_keypair()
    box1 = S.seal_box(e_secret, node_public, S.new_keypair()[1] + b'{"proto":1}')
    a.sendall(C.MAGIC + e_public + len(box1).to_bytes(4, "big") + box1)
    pipe = C.SocketPipe(a)
    pipe.settimeout(5)
    C._recv(pipe, 32)
    _, box2 = C._recv_box(pipe, 32)
    assert len(S.open_box(e_secret, node_public, box2, "msg2")) == 32  # H(T1), nothing else
    a.close()
    t.join()
    assert "got" not in out


def _flip(at: int):  # type: ignore[no-untyped-def]
    def edit(offset: int, data: bytes) -> bytes:
        if offset <= at < offset + len(data):
            i = at - offset
            return data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
        return data

    return edit


def test_tampered_msg2_is_refused() -> None:
    a, out, t, node_public = _pair(edit=_flip(60))  # inside msg2's box
    with pytest.raises(C.ChannelError):
        C.client_handshake(C.SocketPipe(a), S.new_keypair()[0], node_public, {"proto": 1})
    a.close()
    t.join()
    assert "got" not in out


def test_tampered_msg3_is_refused() -> None:
    a, out, t, node_public = _pair()
    client = Tap(C.SocketPipe(a))
    sent_before: list[int] = []

    def edit(offset: int, data: bytes) -> bytes:
        sent_before.append(offset)
        return _flip(10)(0, data) if len(sent_before) == 2 else data  # the second write is msg3

    client.edit = edit
    with pytest.raises((C.ChannelError, OSError)):  # the node closes without a welcome
        C.client_handshake(client, S.new_keypair()[0], node_public, {"proto": 1})
    t.join()
    assert isinstance(out.get("error"), C.ChannelError) and "got" not in out
    client.close()


def test_replayed_msg1_gets_no_session() -> None:
    a, out, t, node_public = _pair()
    node_secret = _LAST[0]
    client = Tap(C.SocketPipe(a))
    C.client_handshake(client, S.new_keypair()[0], node_public, {"proto": 1}).send(b"ping")
    t.join()
    msg1 = bytes(client.sent[: 8 + 32 + 4 + int.from_bytes(client.sent[40:44], "big")])
    # A replayer resends the captured msg1 to the same node: a fresh E_s, and no msg3 it could make.
    a2, out2, t2, _ = _pair(node_secret)
    a2.sendall(msg1)
    a2.settimeout(5)
    reply = a2.recv(65536)
    assert reply and reply[:32] != out["session"].__dict__.get("e", b"") and len(reply) > 32
    a2.sendall(b"\x00\x00\x00\x30" + bytes(0x30) + bytes(24))  # a msg3 it cannot make
    t2.join()
    assert isinstance(out2.get("error"), C.ChannelError) and "got" not in out2
    assert out2["msg1"] == out["msg1"]  # the node read the same hello, and still gave nothing


_LAST: list[bytes] = [b""]
