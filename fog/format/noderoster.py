"""The roster: which keys may connect to an untrusted node, signed by the user (docs/FORMAT.md, section 17).

    stored roster = "fog-roster 1\\n" || Ed25519 signature (64) || canonical JSON

A trusted device builds one with `build_roster` and carries it in its hello;
the node checks it with `decode_roster` and folds it into the space's device
list with `merge` (pure: the node stores the result). Nothing here holds a
share key; the signing key is the user's (fog.crypto.keys.user_signing_seed).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fog.crypto import keys as K
from fog.crypto import node as N
from fog.crypto import seal as S
from fog.errors import IntegrityError

MAGIC = b"fog-roster 1\n"
MAX_STORED = 256 << 10
MAX_DEVICES = 1000
MAX_JOIN = 16
MAX_HANDOVER = 64
MAX_NAME = 256

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
NOT_THIS_USER = "roster not signed by this user's key"


def canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class RosterDevice:
    """One device the user lists: its id, name, signing key, whether it is trusted, when it was revoked."""

    id: str
    name: str
    sign: str
    trusted: bool
    revoked: int = 0  # 0, or the time (ns) it was revoked: a sticky tombstone

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "sign": self.sign, "trusted": self.trusted, "revoked": self.revoked}

    @classmethod
    def from_json(cls, d: object) -> RosterDevice:
        if not isinstance(d, dict):
            raise ValueError("a roster device is not an object")
        dev = cls(d.get("id"), d.get("name"), d.get("sign"), d.get("trusted"), d.get("revoked", 0))  # type: ignore[arg-type]
        if not (isinstance(dev.id, str) and _HEX32.fullmatch(dev.id)):
            raise ValueError("a roster device id is not 32 hex digits")
        if not (isinstance(dev.name, str) and len(dev.name) <= MAX_NAME):
            raise ValueError("a roster device name is not a short string")
        if not (isinstance(dev.sign, str) and (dev.sign == "" or _HEX64.fullmatch(dev.sign))):
            raise ValueError("a roster device signing key is not 64 hex digits")
        if not isinstance(dev.trusted, bool):
            raise ValueError("a roster device's trusted is not true or false")
        if not (isinstance(dev.revoked, int) and not isinstance(dev.revoked, bool) and dev.revoked >= 0):
            raise ValueError("a roster device's revoked is not 0 or a time")
        return dev


@dataclass(frozen=True)
class Roster:
    """A verified roster (decode_roster checked its signature and limits)."""

    devices: dict[str, RosterDevice]  # device Box public (64 hex) -> entry
    handover: tuple[tuple[str, str], ...]  # (old user signing public hex, signature hex)
    join: tuple[str, ...]  # join keys (Box public, 64 hex)
    node: str  # the node's public key (64 hex)
    signed: int  # ns
    signer: str  # user signing public (64 hex)
    stored: bytes = field(default=b"", compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "devices": {k: v.to_json() for k, v in sorted(self.devices.items())},
            "handover": [{"from": f, "sig": s} for f, s in self.handover],
            "join": list(self.join),
            "node": self.node,
            "signed": self.signed,
            "signer": self.signer,
        }

    def handed_over_from(self, old_public_hex: str) -> bool:
        """Whether this roster carries a valid handover from that earlier user signing key to its signer."""
        return any(
            f == old_public_hex and N.handover_valid(bytes.fromhex(f), bytes.fromhex(self.signer), bytes.fromhex(s))
            for f, s in self.handover
        )


def build_roster(
    user_sign_seed: bytes,
    node_public: bytes,
    devices: Mapping[str, Mapping[str, Any]],
    join: Iterable[str],
    old_user_sign_seeds: Iterable[bytes] = (),
    signed_ns: int | None = None,
) -> bytes:
    """The stored roster a trusted device hands a node: `devices` maps a device's Box public key (hex) to
    `{"id", "name", "sign", "trusted", "revoked"}`; `join` holds join keys (hex, node_join_keypair);
    `old_user_sign_seeds` are earlier user signing seeds this device kept (one handover each)."""
    signer = S.signing_public_of(user_sign_seed)
    doc = Roster(
        devices={str(k).lower(): RosterDevice.from_json(dict(v)) for k, v in devices.items()},
        handover=tuple(
            (S.signing_public_of(old).hex(), N.sign_handover(old, signer).hex())
            for old in old_user_sign_seeds
            if S.signing_public_of(old) != signer
        ),
        join=tuple(sorted({str(j).lower() for j in join})),
        node=node_public.hex(),
        signed=time.time_ns() if signed_ns is None else signed_ns,
        signer=signer.hex(),
    ).to_json()
    _check(doc)
    body = canonical(doc)
    stored = MAGIC + N.sign_roster(user_sign_seed, body) + body
    if len(stored) > MAX_STORED:
        raise ValueError(f"a roster is at most {MAX_STORED} bytes stored")
    return stored


def decode_roster(stored: bytes) -> Roster:
    """Check a stored roster's form, limits and signature (under its own `signer`); IntegrityError otherwise.

    Whether that signer may speak for a space is the node's question (`merge`)."""
    if len(stored) > MAX_STORED:
        raise IntegrityError(f"node roster: larger than {MAX_STORED} bytes")
    if not stored.startswith(MAGIC) or len(stored) < len(MAGIC) + S.SIGNATURE_BYTES:
        raise IntegrityError("node roster: not a fog roster (bad magic)")
    sig, body = stored[len(MAGIC) : len(MAGIC) + 64], stored[len(MAGIC) + 64 :]
    try:
        doc = json.loads(body)
        _check(doc)
    except ValueError as exc:
        raise IntegrityError(f"node roster: malformed: {exc}") from None
    N.verify_roster(bytes.fromhex(doc["signer"]), body, sig)
    return Roster(
        devices={k: RosterDevice.from_json(v) for k, v in doc["devices"].items()},
        handover=tuple((h["from"], h["sig"]) for h in doc["handover"]),
        join=tuple(doc["join"]),
        node=doc["node"],
        signed=doc["signed"],
        signer=doc["signer"],
        stored=stored,
    )


def _check(doc: object) -> None:
    """ValueError unless `doc` has the roster's shape and stays within its limits."""
    if not isinstance(doc, dict) or set(doc) != {"devices", "handover", "join", "node", "signed", "signer"}:
        raise ValueError("a roster has exactly devices, handover, join, node, signed, signer")
    devices, handover, join = doc["devices"], doc["handover"], doc["join"]
    if not isinstance(devices, dict) or len(devices) > MAX_DEVICES:
        raise ValueError(f"a roster lists at most {MAX_DEVICES} devices")
    for k, v in devices.items():
        if not _HEX64.fullmatch(k):
            raise ValueError("a roster device key is not 64 hex digits")
        RosterDevice.from_json(v)
    if (
        not isinstance(join, list)
        or len(join) > MAX_JOIN
        or not all(isinstance(j, str) and _HEX64.fullmatch(j) for j in join)
    ):
        raise ValueError(f"a roster holds at most {MAX_JOIN} join keys of 64 hex digits")
    if not isinstance(handover, list) or len(handover) > MAX_HANDOVER:
        raise ValueError(f"a roster holds at most {MAX_HANDOVER} handovers")
    for h in handover:
        if not (
            isinstance(h, dict)
            and set(h) == {"from", "sig"}
            and _HEX64.fullmatch(str(h["from"]))
            and _HEX128.fullmatch(str(h["sig"]))
        ):
            raise ValueError("a roster handover is not {from: 64 hex, sig: 128 hex}")
    for key in ("node", "signer"):
        if not (isinstance(doc[key], str) and _HEX64.fullmatch(doc[key])):
            raise ValueError(f"a roster's {key} is not 64 hex digits")
    signed = doc["signed"]
    if not (isinstance(signed, int) and not isinstance(signed, bool) and signed >= 0):
        raise ValueError("a roster's signed is not a time")


@dataclass(frozen=True)
class SpaceRoster:
    """What a node keeps for one space: the pinned user signing key and the merged device list."""

    pinned: str  # user signing public (64 hex) that may sign rosters for this space
    devices: dict[str, dict[str, Any]]  # Box public hex -> RosterDevice JSON plus "signed" (of the copy it came from)
    join: tuple[str, ...]
    signed: int  # newest roster merged
    first: str  # the key that created the space (its name derives from it)

    @property
    def space(self) -> str:
        return K.node_space(bytes.fromhex(self.first))

    def role_of(self, client_public_hex: str) -> tuple[str | None, str]:
        """("device" | "join" | None, why): what a connecting key may be in this space."""
        dev = self.devices.get(client_public_hex)
        if dev is not None:
            if dev.get("revoked"):
                return None, "device revoked"
            if dev.get("trusted"):
                return "device", ""
            return None, "device not trusted"
        if client_public_hex in self.join:
            return "join", ""
        return None, "unknown key"

    def lists(self, client_public_hex: str) -> bool:
        """Whether the key is on the list at all (a device, revoked or not, or a join key)."""
        return client_public_hex in self.devices or client_public_hex in self.join

    def label_of(self, client_public_hex: str) -> str:
        """How a log line names a key: the device's name and id, or `join key`, or a short key."""
        dev = self.devices.get(client_public_hex)
        if dev is not None:
            return f"{dev.get('name') or '?'}/{str(dev.get('id', ''))[:8]}"
        if client_public_hex in self.join:
            return "join-key"
        return f"key {client_public_hex[:16]}"

    def listing(self) -> dict[str, Any]:
        """What a client may read of the space (the `roster` request): pinned key, devices, join keys, signed."""
        return {"pinned": self.pinned, "devices": self.devices, "join": list(self.join), "signed": self.signed}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "pinned": self.pinned,
            "first": self.first,
            "devices": self.devices,
            "join": list(self.join),
            "signed": self.signed,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SpaceRoster:
        if d.get("format") != 1:
            raise ValueError("unknown space roster format")
        return cls(str(d["pinned"]), dict(d["devices"]), tuple(d["join"]), int(d["signed"]), str(d["first"]))


MAX_AHEAD_NS = 86400 * 10**9  # a roster signed more than a day ahead of the node's clock is refused


def merge(state: SpaceRoster | None, roster: Roster, now_ns: int | None = None) -> SpaceRoster:
    """Fold an accepted roster into a space (None: the roster creates it). IntegrityError(NOT_THIS_USER)
    when its signer is neither the pinned key nor handed over to by it; IntegrityError when it is signed
    more than a day after `now_ns` (its `signed` would outrank every later roster). Idempotent.

    A handover (the pinned key changes) replaces the device list by the roster's, keeping only the
    revocation tombstones of devices it leaves out: a key planted by a since-revoked device holding the
    old user key does not survive the user's rotation."""
    now = time.time_ns() if now_ns is None else now_ns
    if roster.signed > now + MAX_AHEAD_NS:
        raise IntegrityError("node roster: signed in the future (more than a day ahead of the node's clock)")
    if state is None:
        devices = {k: {**v.to_json(), "signed": roster.signed} for k, v in roster.devices.items()}
        return SpaceRoster(roster.signer, devices, tuple(sorted(roster.join)), roster.signed, roster.signer)
    if roster.signer == state.pinned:
        rotated = False
    elif roster.handed_over_from(state.pinned):
        rotated = True
    else:
        raise IntegrityError(NOT_THIS_USER)
    if rotated:
        devices = {k: dict(v) for k, v in state.devices.items() if int(v.get("revoked", 0)) and k not in roster.devices}
    else:
        devices = {k: dict(v) for k, v in state.devices.items()}
    for key, dev in roster.devices.items():
        mine = state.devices.get(key)
        new = {**dev.to_json(), "signed": roster.signed}
        if mine is None:
            devices[key] = new
            continue
        revoked = max(int(mine.get("revoked", 0)), dev.revoked)
        if rotated or roster.signed > int(mine.get("signed", 0)):
            mine = new
        devices[key] = {**mine, "revoked": revoked}
    join = tuple(sorted(roster.join)) if rotated else tuple(sorted(set(state.join) | set(roster.join)))
    if len(devices) > MAX_DEVICES or len(join) > MAX_JOIN:
        raise IntegrityError("node roster: the merged device list exceeds the node's limits")
    return SpaceRoster(roster.signer, devices, join, max(state.signed, roster.signed), state.first)
