"""SyncConfig: the user's record of devices and shares, and how copies merge.

Plaintext: gzip of canonical JSON {format, user, devices, shares, supersedes}.
Stored as ``CONFIG_VERSION (1) || SecretBox(random nonce)`` under the name
``config/<locator>/<HMAC(hmac key, stored bytes) hex>``. Writers never
overwrite: each update is a new version; readers merge every version they find.
Merge is a union: per device and per share the entry with the newest
`updated` wins field by field, except that `revoked` and `removed` are sticky
(tombstones), so a removal can never be undone by a stale concurrent copy, and
a device's `revoked_seq` (per share: the last batch still accepted from a
revoked device) keeps the lowest value any copy set, a share's `remotes` keep
the newest entry per remote name, and a share's retention `policy` is the
newest one whole (fog.format.policy). Equal `updated` values
are ordered by the canonical JSON of the entry without those merged fields, so
raising a tombstone never reorders two entries (merge stays associative).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

from fog.format.policy import Policy

FORMAT = 1
CONFIG_VERSION = 0x01  # unsigned (read only: accepted at a place no key rotation made)
CONFIG_SIGNED = 0x02  # 0x02 || signer device id (16) || Ed25519 signature (64) || SecretBox
ROTATION_VERSION = 0x01  # a rotation record: the same layout as a signed version
SIGNATURE_CONTEXT = b"fog/v1/syncconfig\0"
ROTATION_CONTEXT = b"fog/v1/rotation\0"
ROTATION_PREFIX = "rotation."  # config/<locator>/rotation.<hmac>: a rotation record beside the versions
MAX_PLAINTEXT = 64 << 20
MAX_STORED = MAX_PLAINTEXT + (1 << 20)  # gzip and SecretBox overhead on top: a larger version is refused unread
_STICKY = ("revoked", "removed")
# fields the merge computes itself (not taken from the newer copy): left out of the tie-break
_COMPUTED = ("revoked_seq", "remotes", "policy", "epochs", "epochs_alt", "removed_members", "members")


@dataclass(frozen=True)
class SyncConfig:
    """Devices (by id) and shares (by id hex) as plain JSON-able dicts."""

    user: dict[str, str]
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    shares: dict[str, dict[str, Any]] = field(default_factory=dict)
    supersedes: tuple[str, ...] = ()
    # user keypairs of earlier key epochs, oldest first: they open batches sealed before signing existed
    user_old: tuple[dict[str, str], ...] = ()
    # the key rotation that made this SyncConfig place (docs/FORMAT.md, section 15): identical in every
    # version at the place; None at a place made by `fog init` (epoch 0)
    rotation: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        doc = {
            "format": FORMAT,
            "user": self.user,
            "devices": self.devices,
            "shares": self.shares,
            "supersedes": sorted(self.supersedes),
        }
        if self.user_old:  # absent until the first rotation: versions before it keep their bytes
            doc["user_old"] = list(self.user_old)
        if self.rotation is not None:
            doc["rotation"] = self.rotation
        return doc

    @property
    def epoch(self) -> int:
        """The key epoch of this SyncConfig place (0 until the first rotation)."""
        return int(self.rotation["epoch"]) if self.rotation else 0

    @property
    def revoked_by_rotation(self) -> frozenset[str]:
        """Devices the rotations up to this place revoked: the only revocations this place honours."""
        return frozenset(self.rotation.get("revoked", ())) if self.rotation else frozenset()

    def with_(self, **changes: Any) -> SyncConfig:
        """A new version of this SyncConfig with some fields changed (a fresh version: no supersedes)."""
        return replace(self, **{"supersedes": (), **changes})

    def to_bytes(self) -> bytes:
        body = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return gzip.compress(body, mtime=0)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SyncConfig:
        """Check the shape of a decoded SyncConfig; every failure is a ValueError."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise ValueError(f"unsupported SyncConfig format {found!r}")
        user = doc.get("user")
        if not isinstance(user, dict) or not {"public", "secret"} <= user.keys():
            raise ValueError("SyncConfig has no user keypair")
        devices, shares = doc.get("devices"), doc.get("shares")
        if not isinstance(devices, dict) or not isinstance(shares, dict):
            raise ValueError("SyncConfig devices and shares must be JSON objects")
        if not all(isinstance(e, dict) for e in (*devices.values(), *shares.values())):
            raise ValueError("SyncConfig device and share entries must be JSON objects")
        for did, device in devices.items():
            _check_device(did, device)
        for share in shares.values():
            _check_share(share)
            if "remotes" in share:
                _check_remotes(share["remotes"])
            if "policy" in share:  # rules of a newer fog are kept; fog.format.policy.share_policy refuses them
                Policy.from_json(share["policy"], lenient=True)
        user_old = doc.get("user_old", [])
        if not isinstance(user_old, list) or not all(
            isinstance(u, dict) and _is_hex_key(u.get("public")) and _is_hex_key(u.get("secret")) for u in user_old
        ):
            raise ValueError("SyncConfig user_old is not a list of keypairs")
        supersedes = doc.get("supersedes", [])
        if not isinstance(supersedes, list) or not all(isinstance(n, str) for n in supersedes):
            raise ValueError("SyncConfig supersedes is not a list of names")
        rotation = doc.get("rotation")
        if rotation is not None and not (
            isinstance(rotation, dict)
            and isinstance(rotation.get("epoch"), int)
            and rotation["epoch"] >= 1
            and isinstance(rotation.get("revoked", []), list)
            and all(isinstance(d, str) for d in rotation.get("revoked", []))
            and type(rotation.get("time_ns", 0)) is int
        ):
            raise ValueError("SyncConfig rotation is malformed")
        return cls(user, dict(devices), dict(shares), tuple(doc.get("supersedes", ())), tuple(user_old), rotation)

    @classmethod
    def from_bytes(cls, data: bytes) -> SyncConfig:
        """Decode gzip(canonical JSON), never inflating past MAX_PLAINTEXT."""
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
                body = f.read(MAX_PLAINTEXT + 1)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError, not a ValueError
            raise ValueError(f"SyncConfig is not valid gzip: {exc}") from exc
        if len(body) > MAX_PLAINTEXT:
            raise ValueError("SyncConfig too large")
        return cls.from_json(json.loads(body))

    def merge(self, other: SyncConfig) -> SyncConfig:
        """Union of two copies; commutative, associative and idempotent."""
        if self.user != other.user:
            raise ValueError("two SyncConfig versions disagree on the user keypair")
        if self.rotation != other.rotation:
            raise ValueError("two SyncConfig versions disagree on the key rotation that made their place")
        old = {u["public"]: u for u in (*self.user_old, *other.user_old)}
        return SyncConfig(
            self.user,
            _merge_entries(self.devices, other.devices),
            _merge_entries(self.shares, other.shares),
            tuple(sorted(set(self.supersedes) | set(other.supersedes))),
            tuple(sorted(old.values(), key=lambda u: u["public"])),
            self.rotation,
        )


def _merge_entries(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(a.keys() | b.keys()):
        x, y = a.get(key), b.get(key)
        if x is None or y is None or x == y:  # (most entries are the same in every version)
            out[key] = dict(x or y or {})
            continue
        ux, uy = x.get("updated", 0), y.get("updated", 0)
        # _rank's first key decides unless the times tie: its JSON only then
        order = [x, y] if ux < uy else [y, x] if uy < ux else sorted([x, y], key=_rank)
        merged = {**order[0], **order[1]}
        for sticky in _STICKY:
            if x.get(sticky) or y.get(sticky):
                merged[sticky] = max(x.get(sticky) or 0, y.get(sticky) or 0)
        if "remotes" in x or "remotes" in y:  # a share's remotes: per name, the newest entry
            merged["remotes"] = _merge_remotes(x.get("remotes") or {}, y.get("remotes") or {})
        if "policy" in x or "policy" in y:  # a share's retention policy: the newest one, whole
            merged["policy"] = _newest(x.get("policy"), y.get("policy"))
        if "members" in x or "members" in y:  # a shared share's members (its owner's copy): per user the
            mx, my = x.get("members") or {}, y.get("members") or {}  # later-added entry, a removal kept
            merged["members"] = {
                uid: max(
                    (e for e in (mx.get(uid), my.get(uid)) if isinstance(e, dict)),
                    key=lambda e: (int(e.get("removed") or 0), int(e.get("added") or 0), json.dumps(e, sort_keys=True)),
                )
                for uid in sorted(mx.keys() | my.keys())
                if isinstance(mx.get(uid), dict) or isinstance(my.get(uid), dict)
            }
        if "removed_members" in x or "removed_members" in y:  # a removal seen anywhere stays: the union
            rx, ry = x.get("removed_members") or {}, y.get("removed_members") or {}
            merged["removed_members"] = {
                uid: min(
                    (e for e in (rx.get(uid), ry.get(uid)) if e is not None),
                    key=lambda e: json.dumps(e, sort_keys=True),
                )
                for uid in sorted(rx.keys() | ry.keys())
            }
        if "epochs" in x or "epochs" in y or "epochs_alt" in x or "epochs_alt" in y:
            epochs, alt = _merge_epochs(x, y)
            if "epochs" in x or "epochs" in y:
                merged["epochs"] = epochs
            merged.pop("epochs_alt", None)
            if alt:
                merged["epochs_alt"] = alt
        if "revoked_seq" in x or "revoked_seq" in y:  # per share, the lowest limit anyone set
            rx, ry = x.get("revoked_seq") or {}, y.get("revoked_seq") or {}
            merged["revoked_seq"] = {
                k: min(rx.get(k, ry.get(k)), ry.get(k, rx.get(k))) for k in sorted(rx.keys() | ry.keys())
            }
        out[key] = merged
    return out


def _merge_epochs(x: dict[str, Any], y: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """A share's key epochs: the longer list (then the larger) gives each epoch's key for new data, and no key
    is ever dropped: every other key seen for an epoch goes to `epochs_alt` (two devices of the owner that
    started the same epoch at once each sealed data with their own key; docs/FORMAT.md, section 15)."""
    lists = (x.get("epochs") or [], y.get("epochs") or [])
    epochs = max(lists, key=lambda e: (len(e), e))
    seen: dict[int, set[str]] = {}
    for keys in lists:
        for i, key in enumerate(keys):
            seen.setdefault(i + 1, set()).add(key)
    for entry in (x, y):
        for epoch, keys in (entry.get("epochs_alt") or {}).items():
            seen.setdefault(int(epoch), set()).update(keys)
    alt = {
        str(epoch): others
        for epoch in sorted(seen)
        if (others := sorted(seen[epoch] - ({epochs[epoch - 1]} if epoch <= len(epochs) else set())))
    }
    return epochs, alt


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _is_hex_key(value: Any) -> bool:
    return isinstance(value, str) and bool(_HEX64.match(value))


def _check_times(what: str, entry: dict[str, Any]) -> None:
    for name in ("updated", "added", "created", "revoked", "removed"):
        if name in entry and type(entry[name]) is not int:
            raise ValueError(f"{what}: {name} is not an integer")


def _check_device(did: str, device: dict[str, Any]) -> None:
    """The fields of a device entry that sections 15, 16 and 17 added; ValueError when malformed."""
    _check_times(f"device {did[:8]}", device)
    seqs = device.get("revoked_seq")
    if seqs is not None and not (isinstance(seqs, dict) and all(type(v) is int for v in seqs.values())):
        raise ValueError(f"device {did[:8]}: revoked_seq is malformed")
    if "sign" in device and not _is_hex_key(device["sign"]):
        raise ValueError(f"device {did[:8]}: sign is not a 32-byte key in hex")
    if "trusted" in device and not isinstance(device["trusted"], bool):
        raise ValueError(f"device {did[:8]}: trusted is not true or false")
    # an untrusted node's entry (section 17): where it listens, and its space there once known
    if "address" in device and not (isinstance(device["address"], str) and device["address"]):
        raise ValueError(f"device {did[:8]}: address is not a non-empty string")
    if "space" in device and not (isinstance(device["space"], str) and re.fullmatch(r"[0-9a-f]{32}", device["space"])):
        raise ValueError(f"device {did[:8]}: space is not 32 hex digits")
    logs = device.get("revoked_logs")
    if logs is not None and not (
        isinstance(logs, dict)
        and all(
            isinstance(per, dict) and all(isinstance(n, str) and type(v) is int for n, v in per.items())
            for per in logs.values()
        )
    ):
        raise ValueError(f"device {did[:8]}: revoked_logs is malformed")
    pins = device.get("revoked_chains")
    if pins is not None and not (isinstance(pins, dict) and all(is_pins(per) for per in pins.values())):
        raise ValueError(f"device {did[:8]}: revoked_chains is malformed")


def is_pins(per: Any) -> bool:
    """Whether `per` is remote name -> {"seq": n >= 1, "chain": 64 hex}: a revocation's (or a removal's)
    pinned last batches of one device's log in one share (docs/FORMAT.md, section 9)."""
    return isinstance(per, dict) and all(
        isinstance(n, str)
        and isinstance(p, dict)
        and set(p) == {"seq", "chain"}
        and type(p["seq"]) is int
        and p["seq"] > 0
        and _is_hex_key(p["chain"])
        for n, p in per.items()
    )


def _check_share(share: dict[str, Any]) -> None:
    """The fields of a share entry that sections 15 and 16 added; ValueError when malformed."""
    _check_times("a share", share)
    for name in ("data_key", "mac_key"):
        if name in share and not _is_hex_key(share[name]):
            raise ValueError(f"a share's {name} is not a 32-byte key in hex")
    epochs = share.get("epochs", [])
    if not isinstance(epochs, list) or not all(_is_hex_key(k) for k in epochs):
        raise ValueError("a share's key epochs are not a list of 32-byte keys in hex")
    alt = share.get("epochs_alt", {})
    if not isinstance(alt, dict) or not all(
        isinstance(e, str)
        and e.isdigit()
        and e == str(int(e))
        and int(e) >= 1
        and isinstance(keys, list)
        and all(_is_hex_key(k) for k in keys)
        for e, keys in alt.items()
    ):
        raise ValueError("a share's epochs_alt is not an object of epoch -> list of 32-byte keys in hex")
    owner = share.get("owner")
    if owner is not None and not (
        isinstance(owner, dict) and _is_hex_key(owner.get("box")) and _is_hex_key(owner.get("sign"))
    ):
        raise ValueError("a share's owner is malformed")
    for name in ("members", "removed_members"):
        value = share.get(name, {})
        if not isinstance(value, dict) or not all(isinstance(e, dict) for e in value.values()):
            raise ValueError(f"a share's {name} is not an object of objects")


REMOTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _check_remotes(remotes: Any) -> None:
    """A share's `remotes`: name -> {url: str, updated: int, removed: int, ...}; else ValueError."""
    if not isinstance(remotes, dict):
        raise ValueError("a share's remotes must be a JSON object")
    for name, entry in remotes.items():
        if not isinstance(name, str) or not REMOTE_NAME.match(name):
            raise ValueError(f"remote name {name!r} is not allowed")
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str) or not entry["url"]:
            raise ValueError(f"remote {name!r}: its entry needs a URL")
        for key in ("updated", "removed", "added"):
            value = entry.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"remote {name!r}: {key} must be a non-negative integer")
        if not isinstance(entry.get("instance", ""), str):
            raise ValueError(f"remote {name!r}: instance must be a string")


def _merge_remotes(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Per remote name, the entry with the newest `updated` (ties: canonical JSON). A removal
    is an entry with `removed` set; adding the name again later is a newer entry."""
    out: dict[str, Any] = {}
    for name in sorted(a.keys() | b.keys()):
        x, y = a.get(name), b.get(name)
        if x is None or y is None:
            out[name] = x if y is None else y
        else:
            out[name] = _newest(x, y)
    return out


def _newest(x: dict[str, Any] | None, y: dict[str, Any] | None) -> dict[str, Any] | None:
    """The copy with the larger (updated, canonical JSON); a missing copy loses."""
    if x is None or y is None:
        return x if y is None else y
    return max(x, y, key=lambda e: (e.get("updated", 0), json.dumps(e, sort_keys=True)))


def _rank(entry: dict[str, Any]) -> tuple[Any, str, str]:
    """Newest `updated` wins; equal times go by canonical JSON so every device agrees.

    The tie-break first ignores the fields merge computes itself (sticky
    tombstones, `revoked_seq`, a share's `remotes` and `policy`): merging changes them, and that must not change
    how the merged entry orders against a third copy.
    """
    plain = {k: v for k, v in entry.items() if k not in _STICKY and k not in _COMPUTED}
    return entry.get("updated", 0), json.dumps(plain, sort_keys=True), json.dumps(entry, sort_keys=True)
