"""The stored form of a FOG_HOME file sealed under a passphrase (fog.format.sealed): parsing refuses damage."""

from __future__ import annotations

import json

import nacl.pwhash.argon2id
import pytest

from fog.format import sealed as F
from fog.repo import history

SALT = bytes(range(16))
BOX = bytes(range(64))


def _stored(**changes: object) -> bytes:
    doc: dict[str, object] = {"box": BOX.hex(), "kdf": "argon2id", "memlimit": 8192, "opslimit": 1, "salt": SALT.hex()}
    doc.update(changes)
    return F.MAGIC + json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def test_round_trip_and_canonical_form() -> None:
    sealed = F.SealedFile(2, 64 << 20, SALT, BOX)
    stored = sealed.to_bytes()
    assert stored.startswith(b'fog-sealed 1\n{"box":"') and stored.endswith(b"}\n")
    assert F.is_sealed(stored) and not F.is_sealed(b'{"format": 1}') and not F.is_sealed(b"YAJX-7VFC\n")
    assert F.SealedFile.from_bytes(stored) == sealed
    assert F.SealedFile.from_bytes(_stored()).params == (SALT, 1, 8192)  # any JSON white space is read


def test_the_defaults_are_libsodiums_interactive_limits() -> None:
    assert (F.OPSLIMIT, F.MEMLIMIT) == (
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    )
    assert F.SALT_BYTES == nacl.pwhash.argon2id.SALTBYTES
    assert history.SEALED_PREFIX == F.PREFIX  # the fast `fog log` keeps its own copy (no dataclasses)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (b"fog-sealed 2\n{}", "format this fog does not know"),
        (b"fog-sealed 1 \n{}", "format this fog does not know"),
        (F.MAGIC + b"{not json", "does not parse"),
        (F.MAGIC + b"\xff\xfe", "does not parse"),
        (F.MAGIC + b"[]", "exactly"),
        (_stored(extra=1), "exactly"),
        (_stored(box=None), "exactly"),
        (_stored(kdf="scrypt"), "unknown kdf"),
        (_stored(opslimit=0), "opslimit"),
        (_stored(opslimit=1 << 31), "opslimit"),  # a flipped bit must not mean hours of work
        (_stored(opslimit=True), "opslimit"),
        (_stored(opslimit="2"), "opslimit"),
        (_stored(memlimit=1 << 40), "memlimit"),  # nor a terabyte of memory
        (_stored(memlimit=1024), "memlimit"),
        (_stored(salt=SALT[:15].hex()), "salt is not 16 bytes"),
        (_stored(salt="zz" * 16), "salt is not lowercase hex"),
        (_stored(salt=SALT.hex().upper()), "salt is not lowercase hex"),
        (_stored(box=BOX[:39].hex()), "shorter than a nonce and a tag"),
        (_stored(box=7), "box is not a hex string"),
    ],
)
def test_damage_is_a_value_error_that_says_what(stored: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        F.SealedFile.from_bytes(stored)
