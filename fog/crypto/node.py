"""Signatures an untrusted node checks: the roster a user hands it, and a handover to a new user key.

Both are Ed25519 under a user signing key (fog.crypto.keys.user_signing_seed),
each over its own domain string (docs/FORMAT.md, section 17), so neither can
be taken for the other or for anything else a user signs.
"""

from __future__ import annotations

from fog.crypto import seal as S
from fog.errors import IntegrityError

ROSTER_CONTEXT = b"fog/v1/node-roster\0"
HANDOVER_CONTEXT = b"fog/v1/node-handover\0"


def sign_roster(user_sign_seed: bytes, canonical_json: bytes) -> bytes:
    """The 64-byte signature of a roster's canonical JSON."""
    return S.sign(user_sign_seed, ROSTER_CONTEXT + canonical_json)


def verify_roster(signer: bytes, canonical_json: bytes, signature: bytes) -> None:
    """IntegrityError unless `signature` is `signer`'s over the roster JSON."""
    S.verify(signer, ROSTER_CONTEXT + canonical_json, signature, "node roster")


def handover_message(old_public: bytes, new_public: bytes) -> bytes:
    if len(old_public) != 32 or len(new_public) != 32:
        raise ValueError("user signing keys are 32 bytes")
    return HANDOVER_CONTEXT + old_public + new_public


def sign_handover(old_seed: bytes, new_public: bytes) -> bytes:
    """What an earlier user signing key signs to hand a node's space over to `new_public`."""
    return S.sign(old_seed, handover_message(S.signing_public_of(old_seed), new_public))


def handover_valid(old_public: bytes, new_public: bytes, signature: bytes) -> bool:
    """Whether `signature` is a handover from `old_public` to `new_public`."""
    try:
        S.verify(old_public, handover_message(old_public, new_public), signature, "node handover")
    except (IntegrityError, ValueError):
        return False
    return True
