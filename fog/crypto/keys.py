"""Key material: the master key, its typeable text form, and derivations.

Every derived key has exactly one purpose, named by its label. Labels are
ASCII, start with ``fog/v1/`` and are listed in docs/FORMAT.md.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass

from fog.crypto.seal import Mac, mac, public_of

MASTER_KEY_BYTES = 16

# Purpose labels: SHA256(label || master key). Never reuse one for two purposes.
LABEL_CONFIG_LOCATOR = b"fog/v1/syncconfig-locator"
LABEL_CONFIG_SECRETBOX = b"fog/v1/syncconfig-secretbox"
LABEL_CONFIG_HMAC = b"fog/v1/syncconfig-hmac"
LABEL_CONFIG_HELD = b"fog/v1/syncconfig-held"
LABEL_DEVICE_LOG = b"fog/v1/device-log"
LABEL_MASTER_CHECK = b"fog/v1/master-key-check"
LABEL_PACK_INDEX = b"fog/v1/pack-index"
LABEL_BATCH_KEY = b"fog/v1/batch-key"
LABEL_PRUNE_KEY = b"fog/v1/prune-key"
LABEL_USER_CHECK = b"fog/v1/user-key-check"
LABEL_USER_SIGN = b"fog/v1/user-signing-seed"
LABEL_ROSTER_KEY = b"fog/v1/roster-key"
LABEL_INVITE_LOCATOR = b"fog/v1/invite-locator"
LABEL_NODE_CHECK = b"fog/v1/node-key-check"
LABEL_NODE_JOIN = b"fog/v1/node-join"
LABEL_NODE_SPACE = b"fog/v1/node-space"
LABEL_EPOCH_KEY_TAG = b"fog/v1/epoch-key-tag"

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


def config_fingerprint(master_key: bytes, plaintext: bytes) -> str:
    """A keyed digest (hex) of a SyncConfig's plaintext: what a share's database records of what a remote's
    SyncConfig holds (never written to a remote; the key keeps the secrets in it from being guessed)."""
    if len(master_key) != MASTER_KEY_BYTES:
        raise ValueError("a master key is 16 bytes")
    return mac(derive(LABEL_CONFIG_HELD, master_key), plaintext).hex()


def device_log_name(share_id: bytes, device_public: bytes) -> str:
    """Name of a device's event log within one share (unlinkable across shares)."""
    return derive(LABEL_DEVICE_LOG, share_id + device_public)[:16].hex()


def device_id(device_public: bytes, sign_public: bytes | None = None) -> str:
    """Stable short id of a device: first 16 bytes of SHA256(public key [|| signing key]), hex.

    A device made by this fog has a signing key, and its id covers both keys,
    so no other device can publish an entry under its id with another
    signing key. Devices made before signing keys existed keep the id of
    their Box key alone (docs/FORMAT.md, section 2).
    """
    return hashlib.sha256(device_public + (sign_public or b"")).digest()[:16].hex()


def user_signing_seed(user_secret: bytes) -> bytes:
    """The user's Ed25519 signing seed: derived from the user secret key, so every trusted device holds
    the same one without storing it, and a key rotation (a new user keypair) rotates it too."""
    return derive(LABEL_USER_SIGN, user_secret)


def user_id(box_public: bytes, sign_public: bytes) -> str:
    """A user's id among the members of a share: SHA256(Box public || signing public)[:16], hex."""
    return hashlib.sha256(box_public + sign_public).digest()[:16].hex()


_USER_KEY_DIGITS = 109  # (32 + 32 + 4) bytes = 544 bits, one pad bit: 109 base-32 digits


def _to_text(prefix: str, raw: bytes, label: bytes, digits: int) -> str:
    """`prefix` and `raw || SHA256(label || raw)[:4]` in Crockford base32 (zero pad bits at the end), in
    groups of 8 joined by dashes: the pasteable form of public keys."""
    raw += derive(label, raw)[:_CHECK_BYTES]
    pad = digits * 5 - len(raw) * 8
    number = int.from_bytes(raw, "big") << pad
    chars = "".join(_ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(digits)))
    return prefix + "-".join(chars[i : i + 8] for i in range(0, digits, 8))


def _from_text(text: str, prefix: str, size: int, label: bytes, digits: int, what: str) -> bytes:
    """Decode and verify `_to_text`: the `size` raw bytes; ValueError says what is wrong."""
    cleaned = "".join(ch for ch in text.strip().upper() if ch not in "- \t\r\n")
    bare = prefix.rstrip("-").upper()
    if cleaned.startswith(bare):
        cleaned = cleaned[len(bare) :]
    if len(cleaned) != digits:
        raise ValueError(f"a {what} has {digits} characters after {prefix!r} (without dashes), got {len(cleaned)}")
    number = 0
    for ch in cleaned:
        if ch not in _DECODE:
            raise ValueError(f"character {ch!r} cannot appear in a {what}")
        number = (number << 5) | _DECODE[ch]
    pad = digits * 5 - (size + _CHECK_BYTES) * 8
    if number & ((1 << pad) - 1):
        raise ValueError(f"{what} checksum does not match: a character is mistyped")
    raw = (number >> pad).to_bytes(size + _CHECK_BYTES, "big")
    if derive(label, raw[:size])[:_CHECK_BYTES] != raw[size:]:
        raise ValueError(f"{what} checksum does not match: a character is mistyped")
    return raw[:size]


def public_key_to_text(box_public: bytes, sign_public: bytes) -> str:
    """A user's public keys as people paste them: ``fogpub-`` and 109 Crockford base32 characters.

    The Box key (invitations are sealed to it), the signing key (what the
    user signs is checked with it) and a 4-byte checksum (SHA256 with its own
    label), in groups of 8 joined by dashes.
    """
    if len(box_public) != 32 or len(sign_public) != 32:
        raise ValueError("public keys are 32 bytes")
    return _to_text("fogpub-", box_public + sign_public, LABEL_USER_CHECK, _USER_KEY_DIGITS)


def public_key_from_text(text: str) -> tuple[bytes, bytes]:
    """Decode and verify `public_key_to_text`: (Box public, signing public); ValueError says what is wrong."""
    raw = _from_text(text, "fogpub-", 64, LABEL_USER_CHECK, _USER_KEY_DIGITS, "user key")
    return raw[:32], raw[32:]


_NODE_KEY_DIGITS = 58  # (32 + 4) bytes = 288 bits, two pad bits: 58 base-32 digits


def node_key_to_text(public: bytes) -> str:
    """An untrusted node's public key as people paste it: ``fognode-`` and 58 Crockford base32 characters.

    The node's Box key and a 4-byte checksum (SHA256 with its own label), in
    groups of 8 joined by dashes (docs/FORMAT.md, section 17).
    """
    if len(public) != 32:
        raise ValueError("a node key is 32 bytes")
    return _to_text("fognode-", public, LABEL_NODE_CHECK, _NODE_KEY_DIGITS)


def node_key_from_text(text: str) -> bytes:
    """Decode and verify `node_key_to_text`: the node's Box public key; ValueError says what is wrong."""
    return _from_text(text, "fognode-", 32, LABEL_NODE_CHECK, _NODE_KEY_DIGITS, "node key")


def node_join_keypair(master_key: bytes, node_public: bytes) -> tuple[bytes, bytes]:
    """The join key pair (Box secret, public) of a master key for one node: what a device that holds only
    the master key connects to that node with (docs/FORMAT.md, section 17). Bound to the node, so the join
    key one node sees is of no use on another (nobody can list it in a space of their own elsewhere).
    A new master key retires it."""
    if len(master_key) != MASTER_KEY_BYTES:
        raise ValueError("a master key is 16 bytes")
    if len(node_public) != 32:
        raise ValueError("a node key is 32 bytes")
    secret = derive(LABEL_NODE_JOIN, master_key + node_public)
    return secret, public_of(secret)


def node_space(first_pinned_sign_public: bytes) -> str:
    """A user's namespace on a node: fixed by the user signing key that created it, 32 hex."""
    if len(first_pinned_sign_public) != 32:
        raise ValueError("a user signing key is 32 bytes")
    return derive(LABEL_NODE_SPACE, first_pinned_sign_public)[:16].hex()


@dataclass(frozen=True)
class ShareKeys:
    """A share's random secrets (from SyncConfig) and its public id."""

    share_id: bytes  # 16 random bytes; its hex is the share's locator on remotes
    data_key: bytes  # 32 bytes, XSalsa20-Poly1305 (SecretBox) for objects
    mac_key: bytes  # 32 bytes, HMAC-SHA256 naming blocks, manifests, versions
    chunk_seed: int  # 62-bit FastCDC gear seed: chunk boundaries are secret too
    # Data keys of earlier key epochs, oldest first (epoch 0 .. epoch - 1). A key
    # rotation (docs/FORMAT.md, section 15) adds an epoch: data written from then
    # on is sealed with `data_key` (the newest); older data stays readable.
    older: tuple[bytes, ...] = ()
    # Other data keys of an epoch, (epoch, key) sorted: two devices of the owner that started the same
    # epoch at once each drew a key and sealed data with it. Both stay readable (docs/FORMAT.md,
    # section 15, "Two keys for one epoch"); new data is sealed with the epoch's key in `older`/`data_key`.
    alternates: tuple[tuple[int, bytes], ...] = ()

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
    def epoch(self) -> int:
        """The current key epoch (0 until the first rotation)."""
        return len(self.older)

    @functools.cached_property
    def data_keys(self) -> tuple[bytes, ...]:
        """Every epoch's data key, newest first (the order readers try them in), the other keys of an epoch
        right after its own."""
        return tuple(key for _, key in self.epoch_keys)

    @functools.cached_property
    def epoch_keys(self) -> tuple[tuple[int, bytes], ...]:
        """(epoch, data key) of every key a reader tries, newest epoch first; an epoch's key before its others."""
        alternates: dict[int, list[bytes]] = {}
        for epoch, key in self.alternates:
            alternates.setdefault(epoch, []).append(key)
        top = max([self.epoch, *alternates])
        out: list[tuple[int, bytes]] = []
        for epoch in range(top, -1, -1):
            if epoch <= self.epoch:
                out.append((epoch, self.data_key_of(epoch)))
            out.extend((epoch, key) for key in alternates.get(epoch, ()))
        return tuple(out)

    def data_keys_of(self, epoch: int) -> tuple[bytes, ...]:
        """Every data key of one epoch (its own first); ValueError for an epoch this share does not have."""
        keys = tuple(key for e, key in self.epoch_keys if e == epoch)
        if not keys:
            raise ValueError(f"key epoch {epoch} is unknown (this device knows epochs 0..{len(self.older)})")
        return keys

    def data_key_of(self, epoch: int) -> bytes:
        """The data key of one epoch; ValueError for an epoch this share does not have."""
        if not 0 <= epoch <= len(self.older):
            raise ValueError(f"key epoch {epoch} is unknown (this device knows epochs 0..{len(self.older)})")
        return self.data_key if epoch == len(self.older) else self.older[epoch]

    @property
    def pack_key(self) -> bytes:
        """SecretBox key of pack headers (the object index inside each pack)."""
        return derive(LABEL_PACK_INDEX, self.data_key)

    @functools.cached_property
    def pack_keys(self) -> tuple[bytes, ...]:
        """Every epoch's pack key, newest first (in the order of `epoch_keys`)."""
        return tuple(derive(LABEL_PACK_INDEX, k) for k in self.data_keys)

    def batch_key(self, epoch: int) -> bytes:
        """SecretBox key of event batches written in `epoch` (signed batches, section 9)."""
        return derive(LABEL_BATCH_KEY, self.data_key_of(epoch))

    def batch_keys(self, epoch: int) -> tuple[bytes, ...]:
        """Every key an event batch of `epoch` may be sealed with (the epoch's own first)."""
        return tuple(derive(LABEL_BATCH_KEY, k) for k in self.data_keys_of(epoch))

    def prune_key(self, epoch: int) -> bytes:
        """SecretBox key of prune records written in `epoch` (section 14)."""
        return derive(LABEL_PRUNE_KEY, self.data_key_of(epoch))

    def prune_keys(self, epoch: int) -> tuple[bytes, ...]:
        """Every key a prune record of `epoch` may be sealed with (the epoch's own first)."""
        return tuple(derive(LABEL_PRUNE_KEY, k) for k in self.data_keys_of(epoch))

    def rotated(self) -> ShareKeys:
        """The same share with a fresh data key: the next key epoch.

        The MAC key and chunk seed are kept, so object names and chunk
        boundaries do not change and new data deduplicates against old
        (the trade-off is in docs/FORMAT.md, section 15).
        """
        return ShareKeys(
            self.share_id,
            secrets.token_bytes(32),
            self.mac_key,
            self.chunk_seed,
            (*self.older, self.data_key),
            self.alternates,
        )

    def with_epoch(self, data_key: bytes) -> ShareKeys:
        """The same share with `data_key` as the next epoch's key (one the owner sealed to a member)."""
        return ShareKeys(
            self.share_id, data_key, self.mac_key, self.chunk_seed, (*self.older, self.data_key), self.alternates
        )

    def to_json(self) -> dict[str, object]:
        keys = [*self.older, self.data_key]
        out: dict[str, object] = {
            "data_key": keys[0].hex(),
            "mac_key": self.mac_key.hex(),
            "chunk_seed": self.chunk_seed,
        }
        if len(keys) > 1:
            out["epochs"] = [k.hex() for k in keys[1:]]
        if self.alternates:
            out["epochs_alt"] = alternates_json(self.alternates)
        return out

    @classmethod
    def from_json(cls, share_id_hex: str, d: dict[str, object]) -> ShareKeys:
        epochs = d.get("epochs", [])
        if not isinstance(epochs, list):
            raise ValueError("share key epochs are not a list")
        data = [bytes.fromhex(str(d["data_key"])), *(bytes.fromhex(str(k)) for k in epochs)]
        alt = d.get("epochs_alt", {})
        if not isinstance(alt, dict) or not all(isinstance(v, list) for v in alt.values()):
            raise ValueError("share key epochs_alt is not an object of lists")
        alternates = tuple(sorted({(int(str(e)), bytes.fromhex(str(k))) for e, ks in alt.items() for k in ks}))
        keys = cls(
            bytes.fromhex(share_id_hex),
            data[-1],
            bytes.fromhex(str(d["mac_key"])),
            int(str(d["chunk_seed"])),
            tuple(data[:-1]),
            tuple((e, k) for e, k in alternates if e < 1 or e > len(epochs) or k != data[e]),
        )
        if (
            len(keys.share_id) != 16
            or any(len(k) != 32 for k in data)
            or len(keys.mac_key) != 32
            or any(len(k) != 32 or e < 1 for e, k in alternates)
        ):
            raise ValueError("share keys have the wrong length")
        if not 0 < keys.chunk_seed < (1 << 62):
            raise ValueError("share chunk seed out of range")
        return keys


def alternates_json(alternates: tuple[tuple[int, bytes], ...] | list[tuple[int, bytes]]) -> dict[str, list[str]]:
    """A share entry's `epochs_alt`: epoch (decimal) -> the other data keys of that epoch, sorted hex."""
    out: dict[str, list[str]] = {}
    for epoch, key in sorted(set(alternates)):
        out.setdefault(str(epoch), []).append(key.hex())
    return out


def epoch_key_tag(data_key: bytes) -> str:
    """A name for one data key of a key epoch, 32 hex (where the owner seals it to a member when an epoch
    holds several keys: docs/FORMAT.md, section 16). Reveals nothing of the key."""
    if len(data_key) != 32:
        raise ValueError("a data key is 32 bytes")
    return derive(LABEL_EPOCH_KEY_TAG, data_key)[:16].hex()
