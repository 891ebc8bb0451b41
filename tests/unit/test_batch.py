"""Event batches (fog.format.batch) and their signing and sealing (fog.store.seal_batch/open_batch)."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import IntegrityError
from fog.format.batch import (
    BATCH_VERSION,
    BATCH_VERSION_BOX,
    MAGIC,
    PLAIN_VERSION,
    BatchHead,
    EventBatch,
    chain_hash,
    read_head,
    seq_name,
    signed_message,
)
from fog.format.signed import Envelope
from fog.format.version import Version
from fog.store import is_signed_batch, open_batch, open_batch_head, open_box_batch, seal_batch, verify_batch

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


def head_of(b: EventBatch) -> BatchHead:
    return BatchHead(b.share, b.log, b.device, b.seq, b.prev, b.time_ns)


def test_the_head_is_read_without_the_versions() -> None:
    many = tuple(
        Version(f"d/{i:06d}", "file", i, 0o644, T, T + i, "d" * 32, content=hashlib.sha256(b"%d" % i).digest())
        for i in range(20_000)
    )
    forgets = tuple(hashlib.sha256(b"f%d" % i).digest() for i in range(3_000))  # a head longer than one read
    for b in (
        batch(),
        batch(2, b"\x07" * 32),
        EventBatch("ab" * 16, "cd" * 16, "d" * 32, 5, b"\x01" * 32, T, many, forgets),
    ):
        assert read_head(b.to_bytes()) == head_of(b) == head_of(EventBatch.from_bytes(b.to_bytes()))
    # what follows the head is neither decompressed nor decoded: a cut frame, versions that are no versions
    data = batch(3, b"\x07" * 32).to_bytes()
    big = EventBatch("ab" * 16, "cd" * 16, "d" * 32, 5, b"\x01" * 32, T, many).to_bytes()
    assert read_head(big[: len(big) // 2]).seq == 5
    doc = json.loads(zstandard.ZstdDecompressor().decompress(data[5:]))
    odd = {**doc, "versions": [{}]}
    assert read_head(canonical(odd)).prev == b"\x07" * 32
    with pytest.raises(ValueError):
        EventBatch.from_bytes(canonical(odd))


def canonical(doc: object) -> bytes:
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return MAGIC + bytes([PLAIN_VERSION]) + zstandard.ZstdCompressor().compress(body)


def plain(body: bytes) -> bytes:
    return MAGIC + bytes([PLAIN_VERSION]) + zstandard.ZstdCompressor().compress(body)


def test_a_batch_whose_head_and_whole_disagree_is_refused() -> None:
    """JSON takes a repeated member's last value: a `prev` after the versions would fool a head-only reader."""
    data = batch(2, b"\x07" * 32).to_bytes()
    body = zstandard.ZstdDecompressor().decompress(data[5:])
    assert EventBatch.from_bytes(plain(body)).prev == b"\x07" * 32
    for tail in (b',"prev":"' + b"08" * 32 + b'"}', b',"p\\u0072ev":"' + b"08" * 32 + b'"}', b',"seq":3}'):
        forged = plain(body[:-1] + tail)
        assert json.loads(zstandard.ZstdDecompressor().decompress(forged[5:]))["versions"]  # valid JSON
        with pytest.raises(ValueError, match="disagree"):
            EventBatch.from_bytes(forged)
        assert read_head(forged) == head_of(batch(2, b"\x07" * 32))
    # versions first (not canonical): no head to read, refused by both
    doc = json.loads(body)
    first = json.dumps({"versions": doc.pop("versions"), **doc}, separators=(",", ":")).encode()
    for read in (EventBatch.from_bytes, read_head):
        with pytest.raises(ValueError, match="no `versions` member after its head"):
            read(plain(first))
    # `,"` never occurs inside a JSON string: a path naming the marker does not cut the head short
    tricky = EventBatch("ab" * 16, "cd" * 16, 'x,"versions":[', 4, b"\x09" * 32, T, versions())
    assert EventBatch.from_bytes(tricky.to_bytes()) == tricky
    assert read_head(tricky.to_bytes()) == head_of(tricky)


# -- stored batches: signed (0x02) and Box-sealed (0x01, read only) -----------------------------


def share_keys(epochs: int = 0) -> K.ShareKeys:
    keys = K.ShareKeys(bytes.fromhex("ab" * 16), b"\x01" * 32, b"\x02" * 32, 7)
    for _ in range(epochs):
        keys = keys.rotated()
    return keys


SIGN_SEED, SIGN_PUBLIC = S.new_signing_key()


def opened(stored: bytes, *, keys: K.ShareKeys | None = None, log: str = "cd" * 16, seq: int = 1) -> EventBatch:
    """Open as a reader would the batch found at (log, seq) of a device signing with SIGN_SEED."""
    return open_batch(
        stored,
        f"batch {seq}",
        keys=keys or share_keys(),
        log=log,
        seq=seq,
        sign_public=SIGN_PUBLIC,
        device_public=b"\x00" * 32,
        user_secrets=[b"\x00" * 32],
    )


def test_seal_and_open_signed() -> None:
    keys = share_keys()
    stored = seal_batch(SIGN_SEED, keys, batch())
    assert stored[0] == BATCH_VERSION == 0x02
    assert stored[1:5] == bytes(4)  # key epoch 0
    assert opened(stored) == batch()
    assert verify_batch(keys, "cd" * 16, 1, SIGN_PUBLIC, stored, "batch 1") == 0
    assert is_signed_batch(stored)
    # the signature covers the domain, the place, the epoch and the sealed bytes, as FORMAT.md says
    message = b"fog/v1/batch\0" + keys.share_id + b"\xcd" * 16 + (1).to_bytes(8, "big") + bytes(4) + stored[69:]
    S.verify(SIGN_PUBLIC, message, stored[5:69], "spec")
    assert S.open_secret(keys.batch_key(0), stored[69:], "spec") == batch().to_bytes()
    # the head alone (the chain walk below a cursor): verified and opened the same way
    where = {"keys": keys, "log": "cd" * 16, "seq": 1, "device_public": b"", "user_secrets": []}
    assert open_batch_head(stored, "batch 1", sign_public=SIGN_PUBLIC, **where) == head_of(batch())  # type: ignore[arg-type]
    other_seed, other_public = S.new_signing_key()
    for bad, key in ((seal_batch(other_seed, keys, batch()), SIGN_PUBLIC), (stored, other_public)):
        with pytest.raises(IntegrityError, match="signature does not verify"):
            open_batch_head(bad, "batch 1", sign_public=key, **where)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "region,span",
    [("version", (0, 1)), ("epoch", (1, 5)), ("signature", (5, 69)), ("nonce", (69, 93)), ("tag", (93, 109))]
    + [("ciphertext", (109, None))],
)
def test_tampering_with_any_byte_of_a_signed_batch_is_refused(region: str, span: tuple[int, int | None]) -> None:
    stored = seal_batch(SIGN_SEED, share_keys(), batch())
    lo, hi = span
    for i in range(lo, hi if hi is not None else len(stored)):
        for flip in (0x01, 0x80):
            bad = stored[:i] + bytes([stored[i] ^ flip]) + stored[i + 1 :]
            with pytest.raises(IntegrityError):
                opened(bad)
    for bad in (b"", stored[:1], stored[:69], stored[:-1], stored + b"\x00"):
        with pytest.raises(IntegrityError):
            opened(bad)


def test_a_signed_batch_moved_to_another_place_is_refused() -> None:
    stored = seal_batch(SIGN_SEED, share_keys(), batch())
    with pytest.raises(IntegrityError, match="signature does not verify"):
        opened(stored, seq=2)
    with pytest.raises(IntegrityError, match="signature does not verify"):
        opened(stored, log="ce" * 16)
    other_share = K.ShareKeys(bytes.fromhex("ac" * 16), b"\x01" * 32, b"\x02" * 32, 7)
    with pytest.raises(IntegrityError, match="signature does not verify"):
        opened(stored, keys=other_share)


def test_a_batch_signed_by_another_device_is_refused() -> None:
    other_seed, _ = S.new_signing_key()
    stored = seal_batch(other_seed, share_keys(), batch())
    with pytest.raises(IntegrityError, match="batch 1: signature does not verify"):
        opened(stored)
    with pytest.raises(IntegrityError, match="lists no signing key"):
        open_batch(
            stored,
            "batch 1",
            keys=share_keys(),
            log="cd" * 16,
            seq=1,
            sign_public=None,
            device_public=b"",
            user_secrets=[],
        )


def test_key_epochs() -> None:
    old, new = share_keys(0), share_keys(2)
    assert opened(seal_batch(SIGN_SEED, old, batch()), keys=new) == batch()  # sealed before a rotation
    later = seal_batch(SIGN_SEED, new, batch())
    assert later[1:5] == (2).to_bytes(4, "big")
    assert opened(later, keys=new) == batch()
    # a reader that has not seen the rotation: the signature checks out, the epoch is not there yet
    assert verify_batch(old, "cd" * 16, 1, SIGN_PUBLIC, later, "batch 1") == 2
    with pytest.raises(IntegrityError, match="key epoch 2, which this device does not hold"):
        opened(later, keys=old)
    # a writer that names the wrong epoch (signed as such) does not open: the key is another
    env = Envelope.from_bytes(later)
    message = signed_message(new.share_id, "cd" * 16, 1, 1, env.sealed)
    wrong = Envelope(BATCH_VERSION, 1, S.sign(SIGN_SEED, message), env.sealed).to_bytes()
    with pytest.raises(IntegrityError, match="sealed with a key of epoch 1 this device does not hold .*at once"):
        opened(wrong, keys=new)
    # two devices that started one epoch at once: each key of the epoch opens what was sealed with it
    other = dataclasses.replace(new, data_key=bytes(32))
    theirs = seal_batch(SIGN_SEED, other, batch())
    with pytest.raises(IntegrityError, match="does not hold"):
        opened(theirs, keys=new)
    both = dataclasses.replace(new, alternates=((2, bytes(32)),))
    assert opened(theirs, keys=both) == batch() and opened(later, keys=both) == batch()


def test_authenticated_but_undecodable_is_an_integrity_error() -> None:
    keys = share_keys()
    for plain in (b"FOGE\x01garbage", packed([1]), b"something else"):
        sealed = S.seal_secret(keys.batch_key(0), plain)
        signature = S.sign(SIGN_SEED, signed_message(keys.share_id, "cd" * 16, 1, 0, sealed))
        with pytest.raises(IntegrityError, match="undecodable"):
            opened(Envelope(BATCH_VERSION, 0, signature, sealed).to_bytes())
    with pytest.raises(IntegrityError, match="unknown batch format"):
        opened(b"\x03" + seal_batch(SIGN_SEED, keys, batch())[1:])


def box_sealed(device_secret: bytes, user_public: bytes, b: EventBatch) -> bytes:
    """A batch as fog wrote it before store format 4."""
    return bytes([BATCH_VERSION_BOX]) + S.seal_box(device_secret, user_public, b.to_bytes())


def test_box_sealed_batches_stay_readable_with_any_user_secret() -> None:
    dev_sk, dev_pk = S.new_keypair()
    user_sk, user_pk = S.new_keypair()
    old_sk, old_pk = S.new_keypair()
    assert open_box_batch([user_sk], dev_pk, box_sealed(dev_sk, user_pk, batch()), "batch 1") == batch()
    # sealed to the user key of before a user key change: opens with the old secret, tried after the current one
    assert open_box_batch([user_sk, old_sk], dev_pk, box_sealed(dev_sk, old_pk, batch()), "batch 1") == batch()
    with pytest.raises(IntegrityError, match="batch 1"):
        open_box_batch([user_sk], dev_pk, box_sealed(dev_sk, old_pk, batch()), "batch 1")
    _, other_pk = S.new_keypair()
    with pytest.raises(IntegrityError, match="batch 1"):
        open_box_batch([user_sk], other_pk, box_sealed(dev_sk, user_pk, batch()), "batch 1")
    stored = box_sealed(dev_sk, user_pk, batch())
    for i in range(len(stored)):
        bad = stored[:i] + bytes([stored[i] ^ 0x01]) + stored[i + 1 :]
        with pytest.raises(IntegrityError):
            open_box_batch([user_sk], dev_pk, bad, "batch 1")
    for bad in (b"", stored[:1], stored[:-1]):
        with pytest.raises(IntegrityError):
            open_box_batch([user_sk], dev_pk, bad, "batch 1")
    # open_batch takes both: an unsigned batch opens with the Box keys (read_log decides if it counts)
    unsigned = open_batch(
        stored,
        "batch 1",
        keys=share_keys(),
        log="cd" * 16,
        seq=1,
        sign_public=SIGN_PUBLIC,
        device_public=dev_pk,
        user_secrets=[old_sk, user_sk],
    )
    assert unsigned == batch()
