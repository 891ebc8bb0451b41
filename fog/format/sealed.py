"""A secret file of FOG_HOME sealed under a passphrase (docs/FORMAT.md, section 12).

    b"fog-sealed 1\\n" || canonical JSON {"box", "kdf", "memlimit", "opslimit", "salt"} || b"\\n"

`box` is SecretBox(key, the file's previous bytes) as nonce || tag ||
ciphertext, in hex; the key is Argon2id(passphrase, salt, opslimit,
memlimit). The limits are stored so that a later fog can raise them; a
reader refuses limits outside a bound that a damaged file could otherwise
turn into hours of work or gigabytes of memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

PREFIX = b"fog-sealed "  # a file that starts with it is sealed (in some version)
MAGIC = PREFIX + b"1\n"
KDF = "argon2id"
SALT_BYTES = 16
OPSLIMIT = 2  # libsodium's OPSLIMIT_INTERACTIVE: ~0.1 s on a small machine
MEMLIMIT = 64 << 20  # libsodium's MEMLIMIT_INTERACTIVE (64 MiB)
OPSLIMIT_RANGE = (1, 32)  # what a reader accepts
MEMLIMIT_RANGE = (8 << 10, 4 << 30)
BOX_MIN = 24 + 16  # nonce and tag
_FIELDS = {"box", "kdf", "memlimit", "opslimit", "salt"}


def is_sealed(data: bytes) -> bool:
    """Whether a secret file's bytes are sealed (a plain one is JSON or a master key's text)."""
    return data.startswith(PREFIX)


@dataclass(frozen=True)
class SealedFile:
    """The stored form of one sealed file; `params` names the key that opens it."""

    opslimit: int
    memlimit: int
    salt: bytes
    box: bytes  # nonce || tag || ciphertext

    @property
    def params(self) -> tuple[bytes, int, int]:
        return self.salt, self.opslimit, self.memlimit

    def to_bytes(self) -> bytes:
        doc = {"box": self.box.hex(), "kdf": KDF, "memlimit": self.memlimit, "opslimit": self.opslimit}
        doc["salt"] = self.salt.hex()
        return MAGIC + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedFile:
        """Parse and check a sealed file; ValueError says what is wrong."""
        if not is_sealed(data):
            raise ValueError("it does not start with `fog-sealed`")
        line, _, rest = data.partition(b"\n")
        if line + b"\n" != MAGIC:
            raise ValueError(f"it is sealed in a format this fog does not know ({line[:40]!r}; a newer fog?)")
        try:
            doc = json.loads(rest)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"its JSON does not parse: {exc}") from None
        if not isinstance(doc, dict) or set(doc) != _FIELDS:
            raise ValueError(f"its JSON is not an object of exactly {', '.join(sorted(_FIELDS))}")
        if doc["kdf"] != KDF:
            raise ValueError(f"unknown kdf {doc['kdf']!r}")
        for name, (low, high) in (("opslimit", OPSLIMIT_RANGE), ("memlimit", MEMLIMIT_RANGE)):
            value = doc[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} is not an integer from {low} to {high}")
        salt, box = _hex(doc, "salt"), _hex(doc, "box")
        if len(salt) != SALT_BYTES:
            raise ValueError(f"the salt is not {SALT_BYTES} bytes")
        if len(box) < BOX_MIN:
            raise ValueError("the box is shorter than a nonce and a tag")
        return cls(doc["opslimit"], doc["memlimit"], salt, box)


def _hex(doc: dict[str, object], name: str) -> bytes:
    value = doc[name]
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = None
    if raw is None or raw.hex() != value:
        raise ValueError(f"{name} is not lowercase hex")
    return raw
