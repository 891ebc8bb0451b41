"""What users state to each other about a shared share: member statements, invitations, key stanzas.

Every one is signed with its author's *user* signing key (Ed25519, derived
from the user secret: fog.crypto.keys.user_signing_seed), so that every
device of every member can check which user wrote it. docs/FORMAT.md,
section 16.

  shares/<share id>/members/<SHA256(stored) hex>     member statement
      0x01 || author user signing key (32) || signature (64) || SecretBox(roster key, canonical JSON)
  invites/<invite locator>/<random 32 hex>           invitation, at the top of a store
      0x01 || author user signing key (32) || signature (64) || SealedBox(invitee Box key, canonical JSON)
  shares/<share id>/keys/<member user id>.<epoch>    a share key epoch for one member
      0x01 || author user signing key (32) || signature (64) || SealedBox(member Box key, canonical JSON)

The signature covers a context string, the place (share id, or the
invitee's Box key) and the sealed bytes.
"""

from __future__ import annotations

import json
from typing import Any

from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import IntegrityError
from fog.format.syncconfig import is_pins

VERSION = 0x01
MAX_STORED = 16 << 20
STATEMENT_CONTEXT = b"fog/v1/member-statement\0"
INVITE_CONTEXT = b"fog/v1/invitation\0"
KEYS_CONTEXT = b"fog/v1/share-key-stanza\0"
CLAIM_CONTEXT = b"fog/v1/device-claim\0"


def claim_message(share_id: bytes, user_sign_public: bytes) -> bytes:
    """What a device signs to say it belongs to that user in that share (a member statement's `claim`)."""
    return CLAIM_CONTEXT + share_id + user_sign_public


_HEAD = 1 + 32 + S.SIGNATURE_BYTES


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def roster_key(keys: K.ShareKeys) -> bytes:
    """SecretBox key of member statements: from the share's MAC key, which no key epoch changes."""
    return K.derive(K.LABEL_ROSTER_KEY, keys.mac_key)


def invite_locator(box_public: bytes) -> str:
    """Where a user's invitations wait on a store: opaque unless one knows the user's public key."""
    return K.derive(K.LABEL_INVITE_LOCATOR, box_public)[:16].hex()


def _sign(seed: bytes, context: bytes, place: bytes, sealed: bytes) -> bytes:
    public = S.signing_public_of(seed)
    return bytes([VERSION]) + public + S.sign(seed, context + place + sealed) + sealed


def _verified(stored: bytes, context: bytes, place: bytes, what: str) -> tuple[bytes, bytes]:
    """(author signing key, sealed bytes) of a signed record; IntegrityError when it does not verify."""
    if len(stored) < _HEAD or stored[0] != VERSION:
        raise IntegrityError(f"{what}: unknown format version")
    author, sig, sealed = stored[1:33], stored[33:_HEAD], stored[_HEAD:]
    S.verify(author, context + place + sealed, sig, what)
    return author, sealed


def _decode(plain: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(plain)
    except ValueError as exc:
        raise IntegrityError(f"{what}: undecodable after authentication: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != 1:
        raise IntegrityError(f"{what}: unsupported format")
    return doc


# -- member statements -------------------------------------------------------------


def seal_statement(seed: bytes, keys: K.ShareKeys, doc: dict[str, Any]) -> bytes:
    return _sign(seed, STATEMENT_CONTEXT, keys.share_id, S.seal_secret(roster_key(keys), canonical(doc)))


def open_statement(keys: K.ShareKeys, stored: bytes, what: str) -> tuple[str, dict[str, Any]]:
    """(author's signing key hex, statement) of a member statement; IntegrityError if forged or damaged."""
    author, sealed = _verified(stored, STATEMENT_CONTEXT, keys.share_id, what)
    doc = _decode(S.open_secret(roster_key(keys), sealed, what), what)
    user = doc.get("user")
    if not isinstance(user, dict) or user.get("sign") != author.hex() or doc.get("share") != keys.share_id.hex():
        raise IntegrityError(f"{what}: not a statement of its signer about this share")
    if type(doc.get("time_ns")) is not int or not isinstance(user.get("name", ""), str):
        raise IntegrityError(f"{what}: malformed")
    for field in ("devices", "members"):
        value = doc.get(field, {})
        if not isinstance(value, dict) or not all(isinstance(e, dict) for e in value.values()):
            raise IntegrityError(f"{what}: {field} is not an object of objects")
    for m in doc.get("members", {}).values():
        if not all(type(m.get(k, 0)) is int for k in ("added", "removed")) or not isinstance(m.get("cut", {}), dict):
            raise IntegrityError(f"{what}: a member entry is malformed")
        if not all(isinstance(c, dict) for c in m.get("cut", {}).values()):
            raise IntegrityError(f"{what}: a member's cut is malformed")
        pins = m.get("cut_chains", {})
        if not isinstance(pins, dict) or not all(is_pins(per) for per in pins.values()):
            raise IntegrityError(f"{what}: a member's cut_chains is malformed")
    for d in doc.get("devices", {}).values():
        logs = d.get("revoked_logs", {})
        if not isinstance(logs, dict) or not all(
            isinstance(per, dict) and all(type(v) is int for v in per.values()) for per in logs.values()
        ):
            raise IntegrityError(f"{what}: a device's revoked_logs is malformed")
        pins = d.get("revoked_chains", {})
        if not isinstance(pins, dict) or not all(is_pins(per) for per in pins.values()):
            raise IntegrityError(f"{what}: a device's revoked_chains is malformed")
    return author.hex(), doc


# -- invitations and key stanzas (sealed to one user's Box key) -------------------------


def seal_to_user(seed: bytes, context: bytes, box_public: bytes, doc: dict[str, Any]) -> bytes:
    sealed = S.seal_anonymous(box_public, canonical(doc))
    return _sign(seed, context, box_public, sealed)


def open_for_user(context: bytes, box_secret: bytes, stored: bytes, what: str) -> tuple[str, dict[str, Any]]:
    """(author's signing key hex, document) of an invitation or key stanza sealed to this user."""
    author, sealed = _verified(stored, context, S.public_of(box_secret), what)
    return author.hex(), _decode(S.open_anonymous(box_secret, sealed, what), what)
