"""cat and diff: reading versions back for a person to look at."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from fog.errors import FogError
from fog.format.version import Version
from fog.sync.content import stream_version
from fog.sync.context import Context

TEXT_DIFF_LIMIT = 16 << 20  # larger files get a summary, not a line diff


@dataclass
class Side:
    """One side of a diff: a version, or the working file."""

    label: str
    kind: str
    data: bytes | None  # None: absent (deleted) or too large to hold
    size: int
    sha256: str | None
    mode: int | None = None  # a file's permission bits (a change of mode alone is a change)


@dataclass
class DiffResult:
    path: str
    old: Side
    new: Side
    text: bool  # a unified line diff (else: a summary)
    identical: bool
    lines: list[str] = field(default_factory=list)


def version_side(ctx: Context, v: Version) -> Side:
    label = f"{v.path}@{v.id.hex()[:12]}"
    if v.kind != "file":
        return Side(label, v.kind, None if v.kind == "deleted" else (v.target or "").encode(), v.size, None)
    if v.size > TEXT_DIFF_LIMIT:
        h = hashlib.sha256()
        stream_version(ctx.store, v, h.update)
        return Side(label, "file", None, v.size, h.hexdigest(), v.mode & 0o7777)
    parts: list[bytes] = []
    stream_version(ctx.store, v, parts.append)
    data = b"".join(parts)
    return Side(label, "file", data, len(data), hashlib.sha256(data).hexdigest(), v.mode & 0o7777)


def working_side(path: Path, rel: str) -> Side:
    label = f"{rel} (working copy)"
    if path.is_symlink():
        target = str(path.readlink()).encode()
        return Side(label, "link", target, len(target), None)
    if not path.exists():
        return Side(label, "deleted", None, 0, None)
    if path.is_dir():
        return Side(label, "dir", None, 0, None)
    if not path.is_file():  # a FIFO would block the read for ever; push skips these
        raise FogError(f"{rel} is not a regular file, directory or symlink (here: a FIFO, socket or device)")
    now = path.stat()
    size = now.st_size
    h = hashlib.sha256()
    data = bytearray()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            if size <= TEXT_DIFF_LIMIT:
                data += chunk
    data_or_none = bytes(data) if size <= TEXT_DIFF_LIMIT else None
    return Side(label, "file", data_or_none, size, h.hexdigest(), now.st_mode & 0o7777)


def _as_text(data: bytes | None) -> str | None:
    if data is None or b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


_KINDS = {"dir": "a directory", "link": "a symlink"}


def diff(path: str, old: Side, new: Side) -> DiffResult:
    """Unified diff when both sides are text files, else a size/hash summary."""
    if old.kind == "dir" and new.kind == "dir":
        raise FogError(f"{path} is a directory; diff compares files")
    if "dir" in (old.kind, new.kind):  # each side as it is: `diff ln@~0 d@~0` called the symlink a directory
        said = [f"{s.label} is {_KINDS[s.kind]}" for s in (old, new) if s.kind in ("dir", "link")]
        raise FogError(f"{' and '.join(said)}; diff compares files, not directories")
    identical = (old.kind, old.data, old.sha256, old.mode) == (new.kind, new.data, new.sha256, new.mode)
    a, b = _as_text(old.data), _as_text(new.data)
    text = (
        old.kind in ("file", "deleted")
        and new.kind in ("file", "deleted")
        and None
        not in (
            a if old.kind == "file" else "",
            b if new.kind == "file" else "",
        )
    )
    result = DiffResult(path, old, new, text, identical)
    if text and not identical and (old.kind, old.data) != (new.kind, new.data):
        result.lines = list(
            difflib.unified_diff(
                (a or "").splitlines(keepends=True),
                (b or "").splitlines(keepends=True),
                fromfile=old.label if old.kind != "deleted" else "/dev/null",
                tofile=new.label if new.kind != "deleted" else "/dev/null",
            )
        )
    return result
