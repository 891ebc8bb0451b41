"""SyncConfig: the user's record of devices and shares, and how copies merge.

Plaintext: gzip of canonical JSON {format, user, devices, shares, supersedes}.
Stored as ``CONFIG_VERSION (1) || SecretBox(random nonce)`` under the name
``config/<locator>/<HMAC(hmac key, stored bytes) hex>``. Writers never
overwrite: each update is a new version; readers merge every version they find.
Merge is a union: per device and per share the entry with the newest
`updated` wins field by field, except that `revoked` and `removed` are sticky
(tombstones), so a removal can never be undone by a stale concurrent copy, and
a device's `revoked_seq` (per share: the last batch still accepted from a
revoked device) keeps the lowest value any copy set.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

FORMAT = 1
CONFIG_VERSION = 0x01
_STICKY = ("revoked", "removed")


@dataclass(frozen=True)
class SyncConfig:
    """Devices (by id) and shares (by id hex) as plain JSON-able dicts."""

    user: dict[str, str]
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    shares: dict[str, dict[str, Any]] = field(default_factory=dict)
    supersedes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "user": self.user,
            "devices": self.devices,
            "shares": self.shares,
            "supersedes": sorted(self.supersedes),
        }

    def to_bytes(self) -> bytes:
        body = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return gzip.compress(body, mtime=0)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SyncConfig:
        if doc.get("format") != FORMAT:
            raise ValueError(f"unsupported SyncConfig format {doc.get('format')!r}")
        user = doc["user"]
        if not isinstance(user, dict) or not {"public", "secret"} <= user.keys():
            raise ValueError("SyncConfig has no user keypair")
        return cls(user, dict(doc["devices"]), dict(doc["shares"]), tuple(doc.get("supersedes", ())))

    @classmethod
    def from_bytes(cls, data: bytes) -> SyncConfig:
        body = gzip.decompress(data)
        if len(body) > 64 << 20:
            raise ValueError("SyncConfig too large")
        return cls.from_json(json.loads(body))

    def merge(self, other: SyncConfig) -> SyncConfig:
        """Union of two copies; commutative, associative and idempotent."""
        if self.user != other.user:
            raise ValueError("two SyncConfig versions disagree on the user keypair")
        return SyncConfig(
            self.user,
            _merge_entries(self.devices, other.devices),
            _merge_entries(self.shares, other.shares),
            tuple(sorted(set(self.supersedes) | set(other.supersedes))),
        )


def _merge_entries(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(a.keys() | b.keys()):
        x, y = a.get(key), b.get(key)
        if x is None or y is None:
            out[key] = dict(x or y or {})
            continue
        # Newest wins; equal times break ties by canonical JSON so all devices agree.
        order = sorted([x, y], key=lambda e: (e.get("updated", 0), json.dumps(e, sort_keys=True)))
        merged = {**order[0], **order[1]}
        for sticky in _STICKY:
            if x.get(sticky) or y.get(sticky):
                merged[sticky] = max(x.get(sticky) or 0, y.get(sticky) or 0)
        if "revoked_seq" in x or "revoked_seq" in y:  # per share, the lowest limit anyone set
            a, b = x.get("revoked_seq") or {}, y.get("revoked_seq") or {}
            merged["revoked_seq"] = {
                k: min(a.get(k, b.get(k)), b.get(k, a.get(k))) for k in sorted(a.keys() | b.keys())
            }
        out[key] = merged
    return out
