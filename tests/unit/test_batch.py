"""Event batches (fog.format.batch) and their sealing (fog.store.seal_batch/open_batch)."""

from __future__ import annotations

import hashlib
import json

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from fog.crypto import seal as S
from fog.errors import IntegrityError
from fog.format.batch import BATCH_VERSION, MAGIC, PLAIN_VERSION, EventBatch, chain_hash, seq_name
from fog.format.version import Version
from fog.store import open_batch, seal_batch

T = 1_700_000_000_000_000_000


def versions() -> tuple[Version, ...]:
    a = Version("a.txt", "file", 3, 0o644, T, T, "d" * 32, content=b"\x01" * 32, id=b"\x0a" * 32)
    b = Version("gone.txt", "deleted", 0, 0, 0, T, "d" * 32, parent=b"\x0b" * 32, id=b"\x0c" * 32)
    return a, b


def batch(seq: int = 1, prev: bytes | None = None) -> EventBatch:
    return EventBatch("ab" * 16, "cd" * 16, "d" * 32, seq, prev, T + seq, versions())


def packed(doc: object) -> bytes:
    body = json.dumps(doc).encode()
    return MAGIC + bytes([PLAIN_VERSION]) + zstandard.ZstdCompressor().compress(body)


@pytest.mark.parametrize("b", [batch(), batch(2, b"\x07" * 32), EventBatch("s", "l", "d", 9, None, 0)])
def test_round_trip(b: EventBatch) -> None:
    data = b.to_bytes()
    assert data[:5] == b"FOGE\x01"
    assert EventBatch.from_bytes(data) == b


def test_forgets_and_acks_round_trip_and_stay_canonical() -> None:
    b = EventBatch("ab" * 16, "cd" * 16, "d" * 32, 3, b"\x07" * 32, T, (), forgets=(b"\x01" * 32,), acks=("ef" * 16,))
    data = b.to_bytes()
    assert EventBatch.from_bytes(data) == b
    body = zstandard.ZstdDecompressor().decompress(data[5:])
    doc = json.loads(body)
    assert body == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert doc["forget"] == ["01" * 32] and doc["acks"] == ["ef" * 16]


@pytest.mark.parametrize(
    "extra", [{"forget": "01"}, {"forget": ["zz" * 32]}, {"forget": ["01" * 31]}, {"acks": [1]}, {"acks": ["ef" * 8]}]
)
def test_malformed_forgets_and_acks_are_value_errors(extra: dict) -> None:
    doc = json.loads(zstandard.ZstdDecompressor().decompress(batch().to_bytes()[5:]))
    with pytest.raises(ValueError):
        EventBatch.from_bytes(packed({**doc, **extra}))


def test_plaintext_is_canonical_json() -> None:
    data = batch(2, b"\x07" * 32).to_bytes()
    body = zstandard.ZstdDecompressor().decompress(data[5:])
    doc = json.loads(body)
    assert body == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert set(doc) == {"share", "log", "device", "seq", "prev", "time_ns", "versions"}
    assert doc["prev"] == "07" * 32 and doc["seq"] == 2
    assert json.loads(zstandard.ZstdDecompressor().decompress(batch().to_bytes()[5:]))["prev"] is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"FOGE",
        b"FOGE\x02" + batch().to_bytes()[5:],
        b"XOGE\x01" + batch().to_bytes()[5:],
        b"FOGE\x01",
        b"FOGE\x01garbage that is not zstd",
        batch().to_bytes()[:-4],
        MAGIC + bytes([PLAIN_VERSION]) + zstandard.ZstdCompressor().compress(b"not json"),
        MAGIC + bytes([PLAIN_VERSION]) + zstandard.ZstdCompressor().compress(b"\xff\xfe"),
        packed([1, 2, 3]),
        packed("a string"),
        packed({"share": "s"}),
        packed({**json.loads(zstandard.ZstdDecompressor().decompress(batch().to_bytes()[5:])), "seq": 0}),
        packed({**json.loads(zstandard.ZstdDecompressor().decompress(batch().to_bytes()[5:])), "versions": 5}),
        packed({**json.loads(zstandard.ZstdDecompressor().decompress(batch().to_bytes()[5:])), "versions": [{}]}),
        packed({**json.loads(zstandard.ZstdDecompressor().decompress(batch().to_bytes()[5:])), "prev": "zz"}),
    ],
    ids=[
        "empty",
        "magic-only",
        "version",
        "magic",
        "no-body",
        "not-zstd",
        "truncated",
        "not-json",
        "not-utf8",
        "list",
        "string",
        "missing",
        "seq0",
        "versions-int",
        "bad-version",
        "bad-prev",
    ],
)
def test_garbage_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        EventBatch.from_bytes(data)


@given(st.binary(max_size=300))
def test_random_bodies_only_raise_value_error(body: bytes) -> None:
    try:
        EventBatch.from_bytes(MAGIC + bytes([PLAIN_VERSION]) + body)
    except ValueError:
        pass


def test_chain_hash_and_seq_names() -> None:
    assert chain_hash(b"stored") == hashlib.sha256(b"stored").digest()
    assert seq_name(1) == "0000000001" and seq_name(1234567890) == "1234567890"
    assert sorted(seq_name(n) for n in (10, 9, 100, 1)) == [seq_name(n) for n in (1, 9, 10, 100)]


def test_seal_and_open() -> None:
    dev_sk, dev_pk = S.new_keypair()
    user_sk, user_pk = S.new_keypair()
    stored = seal_batch(dev_sk, user_pk, batch())
    assert stored[0] == BATCH_VERSION
    assert open_batch(user_sk, dev_pk, stored, "batch 1") == batch()


def test_wrong_device_key_is_an_integrity_error() -> None:
    dev_sk, _ = S.new_keypair()
    _, other_pk = S.new_keypair()
    user_sk, user_pk = S.new_keypair()
    stored = seal_batch(dev_sk, user_pk, batch())
    with pytest.raises(IntegrityError, match="batch 1"):
        open_batch(user_sk, other_pk, stored, "batch 1")
    wrong_user_sk, _ = S.new_keypair()
    with pytest.raises(IntegrityError):
        open_batch(wrong_user_sk, S.public_of(dev_sk), stored, "batch 1")


def test_stored_batch_tampering_is_an_integrity_error() -> None:
    dev_sk, dev_pk = S.new_keypair()
    user_sk, user_pk = S.new_keypair()
    stored = seal_batch(dev_sk, user_pk, batch())
    for i in range(len(stored)):
        bad = stored[:i] + bytes([stored[i] ^ 0x01]) + stored[i + 1 :]
        with pytest.raises(IntegrityError):
            open_batch(user_sk, dev_pk, bad, "batch 1")
    for bad in (b"", stored[:1], stored[:-1]):
        with pytest.raises(IntegrityError):
            open_batch(user_sk, dev_pk, bad, "batch 1")


def test_authenticated_but_undecodable_is_an_integrity_error() -> None:
    dev_sk, dev_pk = S.new_keypair()
    user_sk, user_pk = S.new_keypair()
    for plain in (b"FOGE\x01garbage", packed([1]), b"something else"):
        stored = bytes([BATCH_VERSION]) + S.seal_box(dev_sk, user_pk, plain)
        with pytest.raises(IntegrityError, match="undecodable"):
            open_batch(user_sk, dev_pk, stored, "batch 1")
