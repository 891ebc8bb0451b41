"""Versions: one state of one path, as recorded in history and event batches.

A version is encoded as canonical JSON (sorted keys, no spaces, UTF-8). Its id
is HMAC-SHA256(share MAC key, b"fog/v1/version\\0" || canonical JSON), so ids
are unique per recorded state and reveal nothing to a store.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from fog.format import record
from fog.format.paths import FS_ENCODING, path_from_json, path_to_json
from fog.frozen import quick_init

KINDS = record.KINDS
_KIND_NAMES = {k: k for k in KINDS}
VERSION_ID_PREFIX = b"fog/v1/version\x00"


def in_fog_dir(path: str) -> bool:
    """Whether a share path has a `.fog` component: a share's repository, never synced.

    Readers still accept such a record (an older fog pushed nested shares'
    `.fog/`, and refusing it would refuse that device's whole log), but pull
    never writes it into the tree.
    """
    return path == ".fog" or path.startswith(".fog/") or path.endswith("/.fog") or "/.fog/" in path


def check_relpath(path: str) -> str:
    """Refuse paths that could escape the share (absolute, '..', empty parts)."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in path:
        raise ValueError(f"unsafe path in version record: {path!r}")
    return path


_string = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept (ensure_ascii=False)


def _hex_or_null(value: bytes | None) -> str:
    return f'"{value.hex()}"' if value else "null"


@quick_init
@dataclass(frozen=True, slots=True)
class Version:
    """One recorded state of a path. `id` is filled in by `with_id`."""

    path: str
    kind: str
    size: int
    mode: int
    mtime_ns: int
    time_ns: int
    device: str
    parent: bytes | None = None
    content: bytes | None = None
    depth: int = 0
    target: str | None = None
    conflict: bool = False
    id: bytes = b""
    # to_bytes(), computed once (a push encodes each version for its id, the
    # database and the batch); never part of equality.
    # init=False: dataclasses.replace() never carries a stale encoding over.
    encoded: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def body(self) -> dict[str, Any]:
        """The JSON object without the id (what the id authenticates)."""
        d: dict[str, Any] = {
            "kind": self.kind,
            "size": self.size,
            "mode": self.mode,
            "mtime_ns": self.mtime_ns,
            "time_ns": self.time_ns,
            "device": self.device,
            "parent": self.parent.hex() if self.parent else None,
            "content": self.content.hex() if self.content else None,
            "depth": self.depth,
            "target": path_to_json(self.target) if self.target is not None else None,
            "conflict": self.conflict,
        }
        d.update(path_to_json(self.path))
        return d

    def canonical(self) -> bytes:
        """json.dumps(body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False), UTF-8.

        Written out by hand, keys in sorted order (3x faster: a push of
        100,000 files spends seconds here); tests/unit/test_version.py checks it
        against json.dumps on arbitrary versions.
        """
        raw = self.path.encode(FS_ENCODING, "surrogateescape")
        try:
            path = '"path":' + _string(raw.decode("utf-8"))
        except UnicodeDecodeError:
            path = '"path_b64":"' + base64.b64encode(raw).decode("ascii") + '"'
        if self.target is None:
            target = "null"
        else:
            traw = os.fsencode(self.target)
            try:
                target = '{"path":' + _string(traw.decode("utf-8")) + "}"
            except UnicodeDecodeError:
                target = '{"path_b64":"' + base64.b64encode(traw).decode("ascii") + '"}'
        return (
            f'{{"conflict":{"true" if self.conflict else "false"},'
            f'"content":{_hex_or_null(self.content)},"depth":{int(self.depth)},'
            f'"device":{_string(self.device)},"kind":{_string(self.kind)},"mode":{int(self.mode)},'
            f'"mtime_ns":{int(self.mtime_ns)},"parent":{_hex_or_null(self.parent)},{path},'
            f'"size":{int(self.size)},"target":{target},"time_ns":{int(self.time_ns)}}}'
        ).encode()

    def to_json(self) -> dict[str, Any]:
        d = self.body()
        d["id"] = self.id.hex()
        return d

    def to_bytes(self) -> bytes:
        if self.encoded is None:
            raw = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            object.__setattr__(self, "encoded", raw)
            return raw
        return self.encoded

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Version:
        try:
            kind = d["kind"]
            if kind not in KINDS:
                raise ValueError(f"unknown version kind {kind!r}")
            kind = _KIND_NAMES[kind]  # one string object for every version (a pull holds many)
            target = d.get("target")
            v = cls(
                path=check_relpath(path_from_json(d)),
                kind=kind,
                size=int(d["size"]),
                mode=int(d["mode"]),
                mtime_ns=int(d["mtime_ns"]),
                time_ns=int(d["time_ns"]),
                device=sys.intern(str(d["device"])),
                parent=bytes.fromhex(d["parent"]) if d.get("parent") else None,
                content=bytes.fromhex(d["content"]) if d.get("content") else None,
                depth=int(d.get("depth", 0)),
                target=path_from_json(target) if target is not None else None,
                conflict=bool(d.get("conflict", False)),
                id=bytes.fromhex(d.get("id", "")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed version record: {exc}") from exc
        return v.checked()

    def checked(self) -> Version:
        """This version, if its fields are in range (ValueError otherwise)."""
        if self.size < 0 or not 0 <= self.depth < 16 or (self.content is not None and len(self.content) != 32):
            raise ValueError("version record out of range")
        return self

    @classmethod
    def from_bytes(cls, data: bytes) -> Version:
        return cls.from_json(json.loads(data))

    def to_record(self) -> bytes:
        """How the share database stores this version: the binary record, else the JSON (fog.repo.record)."""
        return (
            record.encode(
                self.path,
                self.kind,
                self.size,
                self.mode,
                self.mtime_ns,
                self.time_ns,
                self.device,
                self.parent,
                self.content,
                self.depth,
                self.target,
                self.conflict,
            )
            or self.to_bytes()
        )

    @classmethod
    def from_record(cls, version_id: bytes, raw: bytes) -> Version:
        """Invert to_record (either form) for the version stored under `version_id`."""
        if raw[:1] == b"{":  # JSON: a version that did not fit, or one a format-1 share stored
            return cls.from_bytes(raw)
        path, kind, size, mode, mtime_ns, time_ns, device, parent, content, depth, target, conflict = record.decode(raw)
        check_relpath(path)
        return cls(
            path, kind, size, mode, mtime_ns, time_ns, device, parent, content, depth, target, conflict, version_id
        ).checked()

    def with_id(self, version_id: bytes, canonical: bytes | None = None) -> Version:
        """This version named `version_id`; pass its `canonical()` bytes to save encoding it again.

        to_bytes() is canonical() with `"id":"<hex>",` before `"kind":`: keys
        sort as conflict, content, depth, device, id, kind, ..., and the keys
        before "kind" hold no user text, so the first `,"kind":` is the key.
        """
        named = Version(  # not dataclasses.replace: a push names 100,000 versions at 4 us less each
            self.path,
            self.kind,
            self.size,
            self.mode,
            self.mtime_ns,
            self.time_ns,
            self.device,
            self.parent,
            self.content,
            self.depth,
            self.target,
            self.conflict,
            version_id,
        )
        if canonical is not None:
            cut = canonical.index(b',"kind":') + 1
            encoded = b"".join([canonical[:cut], b'"id":"', version_id.hex().encode(), b'",', canonical[cut:]])
            object.__setattr__(named, "encoded", encoded)
        return named

    @property
    def deleted(self) -> bool:
        return self.kind == "deleted"
