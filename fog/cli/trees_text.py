"""Human and JSON renderings shared by the tree commands (ls, diff, find, restore of a tree, log by push)."""

from __future__ import annotations

import stat as st
from typing import Any

from fog.cli.text import echo, human_age, human_size, iso_utc, local_time, paint, shown, use_color


def version_json(v: Any, names: dict[str, str], current: bool | None = None) -> dict[str, object]:
    """A version as the tree commands show it (the fields of `fog log --json`, less the parent)."""
    doc: dict[str, object] = {
        "path": v.path,
        "version": v.id.hex() if v.id else None,
        "kind": v.kind,
        "size": v.size,
        "mode": f"{v.mode:04o}",
        "mtime": iso_utc(v.mtime_ns) if v.mtime_ns else None,
        "time": iso_utc(v.time_ns),
        "device": names.get(v.device, v.device[:8]),
        "target": v.target,
    }
    if current is not None:
        doc["current"] = current
    return doc


def mode_string(v: Any) -> str:
    """`drwxr-xr-x` style, from a version's kind and permission bits."""
    kind = {"dir": st.S_IFDIR, "link": st.S_IFLNK}.get(v.kind, st.S_IFREG)
    return st.filemode(kind | (v.mode & 0o7777))


def push_json(p: Any, names: dict[str, str]) -> dict[str, object]:
    return {
        "push": p.id.hex() if p.id else None,
        "device": names.get(p.device, p.device[:8]),
        "device_id": p.device,
        "time": iso_utc(p.after_ns),
        "time_ns": p.after_ns,
        "batches": dict(sorted(p.remotes.items())),
        "files": sum(1 for v in p.versions if v.kind in ("file", "link")),
        "deleted": sum(1 for v in p.versions if v.kind == "deleted"),
        "versions": len(p.versions),
        "bytes": sum(v.size for v in p.versions if v.kind == "file"),
    }


def push_header(p: Any, names: dict[str, str]) -> str:
    """One line naming a push: its id, when, which device, which batches, what it held."""
    color = use_color()
    where = ", ".join(f"{r}#{n}" for r, n in sorted(p.remotes.items())) or "no batch record"
    n = len(p.versions)
    size = human_size(sum(v.size for v in p.versions if v.kind == "file"))
    head = paint(f"push {p.name}", "yellow", color)
    device = shown(names.get(p.device, p.device[:8]))
    return f"{head}  {local_time(p.after_ns)} ({human_age(p.after_ns)})  {device}  {where}  {n} version(s), {size}"


def echo_lines(lines: list[str]) -> None:
    for line in lines:
        echo(line)
