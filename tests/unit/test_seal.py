"""Sealing and opening (fog.crypto.seal): round trips, tampering, misuse."""

from __future__ import annotations

import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor

import nacl.secret
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fog.crypto import seal as S
from fog.errors import IntegrityError

KEY = bytes(range(32))
MESSAGE = b"a small sealed message"


def flips(data: bytes):
    """Every copy of `data` with one byte changed (all bits of that byte flipped)."""
    for i in range(len(data)):
        yield i, data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), data=st.binary(max_size=5000))
def test_keyed_mac_is_hmac_sha256(key: bytes, data: bytes) -> None:
    m = S.Mac(key)
    assert m(data) == hmac.new(key, data, hashlib.sha256).digest() == S.mac(key, data)
    assert m(memoryview(data)) == m(data)  # the keyed state is copied, never consumed
    assert m(data + b"!") != m(data)


def test_keyed_mac_from_threads() -> None:
    m = S.Mac(KEY)
    blocks = [bytes([i]) * (i * 997 % 70000) for i in range(64)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(m, blocks * 4))
    assert got == [hmac.new(KEY, b, hashlib.sha256).digest() for b in blocks * 4]
    with pytest.raises(ValueError):
        S.Mac(b"short")


def test_mac_is_hmac_sha256() -> None:
    assert S.mac(KEY, b"x") == hmac.new(KEY, b"x", hashlib.sha256).digest()
    assert S.mac(KEY, memoryview(b"x")) == S.mac(KEY, b"x")
    assert S.mac_equal(S.mac(KEY, b"x"), S.mac(KEY, b"x")) and not S.mac_equal(S.mac(KEY, b"x"), S.mac(KEY, b"y"))
    with pytest.raises(ValueError):
        S.mac(b"short", b"x")


def test_secret_round_trip_and_layout() -> None:
    sealed = S.seal_secret(KEY, MESSAGE)
    assert len(sealed) == S.NONCE_BYTES + S.TAG_BYTES + len(MESSAGE)
    assert S.open_secret(KEY, sealed, "msg") == MESSAGE
    assert nacl.secret.SecretBox(KEY).decrypt(sealed[24:], sealed[:24]) == MESSAGE  # nonce || tag || ct
    assert S.seal_secret(KEY, MESSAGE) != sealed  # random nonce


def test_secret_tampering_is_detected() -> None:
    sealed = S.seal_secret(KEY, MESSAGE)
    for _, bad in flips(sealed):
        with pytest.raises(IntegrityError, match="msg"):
            S.open_secret(KEY, bad, "msg")
    for bad in (sealed[:-1], sealed[:39], b"", sealed + b"\x00"):
        with pytest.raises(IntegrityError):
            S.open_secret(KEY, bad, "msg")
    with pytest.raises(IntegrityError):
        S.open_secret(bytes(32), sealed, "msg")


def test_block_seal_is_deterministic_with_id_nonce() -> None:
    block_id = S.mac(KEY, MESSAGE)
    sealed = S.seal_block(KEY, block_id, MESSAGE)
    assert sealed == S.seal_block(KEY, block_id, MESSAGE)
    assert len(sealed) == S.TAG_BYTES + len(MESSAGE)  # no nonce stored: it is the id
    assert nacl.secret.SecretBox(KEY).decrypt(sealed, block_id[:24]) == MESSAGE
    assert S.open_block(KEY, block_id, sealed, "blk") == MESSAGE
    with pytest.raises(ValueError):
        S.seal_block(KEY, block_id[:24], MESSAGE)


def test_block_tampering_and_wrong_id_are_detected() -> None:
    block_id = S.mac(KEY, MESSAGE)
    sealed = S.seal_block(KEY, block_id, MESSAGE)
    for _, bad in flips(sealed):
        with pytest.raises(IntegrityError, match="blk"):
            S.open_block(KEY, block_id, bad, "blk")
    other = S.mac(KEY, b"other")
    with pytest.raises(IntegrityError):
        S.open_block(KEY, other, sealed, "blk")
    with pytest.raises(IntegrityError):
        S.open_block(bytes(32), block_id, sealed, "blk")
    # Only the first 24 bytes of the id are the nonce; the rest is checked by the HMAC on read.
    assert S.open_block(KEY, block_id[:24] + bytes(8), sealed, "blk") == MESSAGE


def test_box_round_trip_and_sender_authentication() -> None:
    dev_sk, dev_pk = S.new_keypair()
    user_sk, user_pk = S.new_keypair()
    other_sk, other_pk = S.new_keypair()
    assert S.public_of(dev_sk) == dev_pk
    sealed = S.seal_box(dev_sk, user_pk, MESSAGE)
    assert len(sealed) == S.NONCE_BYTES + S.TAG_BYTES + len(MESSAGE)
    assert S.open_box(user_sk, dev_pk, sealed, "batch") == MESSAGE
    assert S.seal_box(dev_sk, user_pk, MESSAGE) != sealed
    with pytest.raises(IntegrityError, match="batch"):
        S.open_box(user_sk, other_pk, sealed, "batch")
    with pytest.raises(IntegrityError):
        S.open_box(other_sk, dev_pk, sealed, "batch")
    for _, bad in flips(sealed):
        with pytest.raises(IntegrityError):
            S.open_box(user_sk, dev_pk, bad, "batch")


def test_box_authentication_is_symmetric() -> None:
    """Documented limitation (docs/FORMAT.md): whoever holds the user secret key
    can seal a message that opens as coming from any device."""
    dev_sk, dev_pk = S.new_keypair()
    user_sk, user_pk = S.new_keypair()
    forged = S.seal_box(user_sk, dev_pk, b"forged")
    assert S.open_box(user_sk, dev_pk, forged, "batch") == b"forged"


def test_random_bytes() -> None:
    assert len(S.random_bytes(24)) == 24 and S.random_bytes(24) != S.random_bytes(24)
