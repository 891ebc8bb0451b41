"""Key material: the master key, its typeable text form, and derivations.

Every derived key has exactly one purpose, named by its label. Labels are
ASCII, start with ``fog/v1/`` and are listed in docs/FORMAT.md.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass

from fog.crypto.seal import Mac

MASTER_KEY_BYTES = 16

# Purpose labels: SHA256(label || master key). Never reuse one for two purposes.
LABEL_CONFIG_LOCATOR = b"fog/v1/syncconfig-locator"
LABEL_CONFIG_SECRETBOX = b"fog/v1/syncconfig-secretbox"
LABEL_CONFIG_HMAC = b"fog/v1/syncconfig-hmac"
LABEL_DEVICE_LOG = b"fog/v1/device-log"
LABEL_MASTER_CHECK = b"fog/v1/master-key-check"
LABEL_PACK_INDEX = b"fog/v1/pack-index"

# Crockford base32: no I, L, O, U; case-insensitive; I/L read as 1, O as 0.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
_DECODE.update({"I": 1, "L": 1, "O": 0})
_CHECK_BYTES = 4  # 16 key bytes + 4 check bytes = 160 bits = 32 characters


def new_master_key() -> bytes:
    """Return 16 fresh random bytes from the OS CSPRNG."""
    return secrets.token_bytes(MASTER_KEY_BYTES)


def derive(label: bytes, secret: bytes) -> bytes:
    """Return SHA256(label || secret): a 32-byte value for one named purpose."""
    if not label.startswith(b"fog/v1/"):
        raise ValueError("derivation labels start with fog/v1/")
    return hashlib.sha256(label + secret).digest()


def master_key_to_text(key: bytes) -> str:
    """Encode a master key as 8 groups of 4 Crockford base32 characters.

    The last 32 bits are a checksum (SHA256 with its own label), so a mistyped
    or swapped character is caught with probability 1 - 2**-32.
    """
    if len(key) != MASTER_KEY_BYTES:
        raise ValueError("a master key is 16 bytes")
    raw = key + derive(LABEL_MASTER_CHECK, key)[:_CHECK_BYTES]
    number = int.from_bytes(raw, "big")
    chars = [_ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(32))]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, 32, 4))


def master_key_from_text(text: str) -> bytes:
    """Decode and verify the text form; ValueError says what is wrong."""
    cleaned = "".join(ch for ch in text.upper() if ch not in "- \t\r\n")
    if len(cleaned) != 32:
        raise ValueError(f"a master key has 32 characters (without dashes), got {len(cleaned)}")
    number = 0
    for ch in cleaned:
        if ch not in _DECODE:
            raise ValueError(f"character {ch!r} cannot appear in a master key")
        number = (number << 5) | _DECODE[ch]
    raw = number.to_bytes(20, "big")
    key, check = raw[:MASTER_KEY_BYTES], raw[MASTER_KEY_BYTES:]
    if derive(LABEL_MASTER_CHECK, key)[:_CHECK_BYTES] != check:
        raise ValueError("master key checksum does not match: a character is mistyped")
    return key


def config_keys(master_key: bytes) -> tuple[str, bytes, bytes]:
    """Return (SyncConfig locator hex, SecretBox key, HMAC key) for a master key."""
    if len(master_key) != MASTER_KEY_BYTES:
        raise ValueError("a master key is 16 bytes")
    locator = derive(LABEL_CONFIG_LOCATOR, master_key)[:16].hex()
    return locator, derive(LABEL_CONFIG_SECRETBOX, master_key), derive(LABEL_CONFIG_HMAC, master_key)


def device_log_name(share_id: bytes, device_public: bytes) -> str:
    """Name of a device's event log within one share (unlinkable across shares)."""
    return derive(LABEL_DEVICE_LOG, share_id + device_public)[:16].hex()


def device_id(device_public: bytes) -> str:
    """Stable short id of a device: first 16 bytes of SHA256(public key), hex."""
    return hashlib.sha256(device_public).digest()[:16].hex()


@dataclass(frozen=True)
class ShareKeys:
    """A share's random secrets (from SyncConfig) and its public id."""

    share_id: bytes  # 16 random bytes; its hex is the share's locator on remotes
    data_key: bytes  # 32 bytes, XSalsa20-Poly1305 (SecretBox) for objects
    mac_key: bytes  # 32 bytes, HMAC-SHA256 naming blocks, manifests, versions
    chunk_seed: int  # 62-bit FastCDC gear seed: chunk boundaries are secret too

    @classmethod
    def generate(cls) -> ShareKeys:
        seed = int.from_bytes(secrets.token_bytes(8), "big") & ((1 << 62) - 1)
        return cls(secrets.token_bytes(16), secrets.token_bytes(32), secrets.token_bytes(32), seed or 1)

    @property
    def locator(self) -> str:
        return self.share_id.hex()

    @functools.cached_property
    def mac(self) -> Mac:
        """HMAC-SHA256 under mac_key (names objects and versions)."""
        return Mac(self.mac_key)

    @property
    def pack_key(self) -> bytes:
        """SecretBox key of pack headers (the object index inside each pack)."""
        return derive(LABEL_PACK_INDEX, self.data_key)

    def to_json(self) -> dict[str, object]:
        return {
            "data_key": self.data_key.hex(),
            "mac_key": self.mac_key.hex(),
            "chunk_seed": self.chunk_seed,
        }

    @classmethod
    def from_json(cls, share_id_hex: str, d: dict[str, object]) -> ShareKeys:
        keys = cls(
            bytes.fromhex(share_id_hex),
            bytes.fromhex(str(d["data_key"])),
            bytes.fromhex(str(d["mac_key"])),
            int(str(d["chunk_seed"])),
        )
        if len(keys.share_id) != 16 or len(keys.data_key) != 32 or len(keys.mac_key) != 32:
            raise ValueError("share keys have the wrong length")
        if not 0 < keys.chunk_seed < (1 << 62):
            raise ValueError("share chunk seed out of range")
        return keys
