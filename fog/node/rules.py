"""What a node lets each key do with each name (docs/FORMAT.md, section 17, "What the node enforces").

Pure: `classify` says which part of the store layout a name is in, `write_rule`
and `delete_refusal` say what a put or a delete of it may do for a role.
The node (fog.node.server) carries the rules out against its store.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from fog.crypto.keys import device_log_name

OUTSIDE = "name outside the store layout"
JOIN_READ_ONLY = "join key: read-only (enrol this device, then connect with its own key)"
OVERWRITE = "append-only node: overwrite refused"
DELETE = "append-only node: delete refused"
NOT_DELETABLE = "delete refused: only packs, objects, prune records and logs may be deleted"
OTHER_LOG = "not this device's log: a device writes only its own log"
PACK_HASH = "pack name is not the SHA256 of its bytes"
MARKER = "fog-store marker: only a newer format may replace it"

NAME_TOO_LONG = "name too long or too deep (at most 1024 bytes and 8 segments)"
MEMBER_HASH = "member statement name is not the SHA256 of its bytes"
MAX_NAME_BYTES = 1024
MAX_SEGMENTS = 8

_H32 = "[0-9a-f]{32}"
_H64 = "[0-9a-f]{64}"
_SHARE = rf"shares/(?P<share>{_H32})"
# Exactly the names fog writes (FORMAT.md section 3), nothing deeper or looser.
_LAYOUT = [
    ("marker", re.compile(r"fog-store")),
    ("config", re.compile(rf"config/{_H32}/(rotation\.)?{_H64}")),
    ("pack", re.compile(rf"{_SHARE}/packs/(?P<fan>[0-9a-f]{{2}})/(?P<pack>{_H64})")),
    ("object", re.compile(rf"{_SHARE}/objects/(?P<fan>[0-9a-f]{{2}})/(?P<id>{_H64})")),
    ("log", re.compile(rf"{_SHARE}/log/(?P<log>{_H32})/[0-9]{{10,20}}")),
    ("prune", re.compile(rf"{_SHARE}/prune/(?P<log>{_H32})\.{_H32}(\.done)?")),
    ("member", re.compile(rf"{_SHARE}/members/(?P<hash>{_H64})")),
    ("plain", re.compile(rf"{_SHARE}/keys/{_H32}\.[0-9]{{1,19}}(\.{_H32})?")),
    ("plain", re.compile(rf"invites/{_H32}/{_H32}")),
]
_DELETABLE = re.compile(rf"shares/{_H32}/(packs|objects|prune|log)/.+")
_MARKER = re.compile(rb"fog-store ([0-9]{1,6})\n")


@dataclass(frozen=True)
class Rule:
    """How a put of one name proceeds: refused (`refusal`), create-only, or a marker upgrade."""

    refusal: str = ""
    marker: bool = False


def classify(name: str) -> tuple[str, dict[str, str]] | None:
    """(kind, named groups) of a (checked) object name in the store layout, or None outside it."""
    for kind, pattern in _LAYOUT:
        m = pattern.fullmatch(name)
        if m:
            return kind, m.groupdict()
    return None


def write_rule(role: str, name: str, data: bytes | memoryview, client_public: bytes) -> Rule:
    """What a `put`/`put_new` of `data` under `name` may do for a client of `role` ("device" | "join")."""
    found = classify(name)
    if found is None:
        return Rule(OUTSIDE)
    kind, groups = found
    if role != "device":
        return Rule(JOIN_READ_ONLY) if kind != "config" else Rule()
    if kind == "marker":
        return Rule(marker=True) if marker_version(data) is not None else Rule(MARKER)
    if kind == "pack":
        if groups["fan"] != groups["pack"][:2] or hashlib.sha256(data).hexdigest() != groups["pack"]:
            return Rule(PACK_HASH)
    if kind == "object" and groups["fan"] != groups["id"][:2]:
        return Rule(OUTSIDE)
    if kind == "member" and hashlib.sha256(data).hexdigest() != groups["hash"]:
        return Rule(MEMBER_HASH)
    if kind in ("log", "prune") and groups["log"] != device_log_name(bytes.fromhex(groups["share"]), client_public):
        return Rule(OTHER_LOG)
    return Rule()


def name_rule(role: str, name: str, client_public: bytes) -> str:
    """Why a put of `name` by a client of `role` is refused whatever its bytes ('' when it may go on):
    checked on a put's first message, before the node takes the rest."""
    found = classify(name)
    if found is None:
        return OUTSIDE
    kind, groups = found
    if role != "device":
        return JOIN_READ_ONLY if kind != "config" else ""
    if kind in ("log", "prune") and groups["log"] != device_log_name(bytes.fromhex(groups["share"]), client_public):
        return OTHER_LOG
    return ""


NEWEST_MARKER = 4  # the newest fog-store format this fog knows (fog.store.MARKER_SIGNED)


def marker_version(data: bytes | memoryview) -> int | None:
    """The format a fog-store marker names, when this node knows it (a device that put `fog-store
    999999` would lock every device out of an append-only space for good: nothing may replace it)."""
    if len(data) > 32:
        return None
    m = _MARKER.fullmatch(bytes(data))
    return int(m.group(1)) if m and 1 <= int(m.group(1)) <= NEWEST_MARKER else None


def delete_refusal(role: str, name: str, allow_prune: bool) -> str:
    """Why a delete is refused ('' when allowed)."""
    if role != "device":
        return JOIN_READ_ONLY
    if not allow_prune:
        return DELETE
    return "" if _DELETABLE.fullmatch(name) else NOT_DELETABLE


def name_refusal(name: str) -> str:
    """Why the node takes no name like this in any mode ('' when it may): too long or too deep, which
    would cost the node directories, path length and recursion whatever the rules."""
    if len(name.encode()) > MAX_NAME_BYTES or name.count("/") >= MAX_SEGMENTS:
        return NAME_TOO_LONG
    return ""
