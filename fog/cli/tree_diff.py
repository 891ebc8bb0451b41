"""How `fog diff` shows a tree diff: name-status lines, a diffstat, patches, or JSON."""

from __future__ import annotations

from typing import Any

from fog.cli.common import emit_json
from fog.cli.inspect_cmds import show_file_diff
from fog.cli.text import echo, moment_json, paint, use_color
from fog.cli.trees_text import version_json
from fog.format.names import shown

_COLOR = {"A": "green", "D": "red", "M": "yellow", "T": "cyan"}


def _counts(patch: Any) -> tuple[int, int] | None:
    """(lines added, lines removed) of a text patch; None for a binary file or a link."""
    if patch is None or not patch.text:
        return None
    added = sum(1 for line in patch.lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in patch.lines if line.startswith("-") and not line.startswith("---"))
    return added, removed


def show_tree_diff(r: Any, *, as_json: bool, stat: bool, name_status: bool, patch: bool) -> None:
    if as_json:
        emit_json(
            {
                "path": r.scope or ".",
                "old": r.old,
                "new": r.new,
                "old_time": moment_json(r.old_ns),
                "new_time": moment_json(r.new_ns),
                "identical": r.identical,
                "changes": [_change_json(c, patch or stat, r.names) for c in r.changes],
                "forgotten": r.forgotten,
            }
        )
        return
    color = use_color()
    if r.forgotten:  # (said first: the lines below leave them out)
        echo(
            f"{len(r.forgotten)} path(s) left out: their versions of then were forgotten (retention policy), "
            "so whether they changed is unknown",
            err=True,
        )
    if r.identical:
        echo(f"{r.scope or '.'}: {r.old} and {r.new} are identical", err=True)
        return
    echo(f"{r.scope or '.'}: {r.old} -> {r.new}", err=True)
    if stat:
        _stat([(c.path, c.status, c.patch) for c in r.changes], color)
        return
    if name_status or not patch:
        for c in r.changes:
            echo(f"{paint(c.status, _COLOR[c.status], color)}\t{shown(c.path)}")
        return
    for c in r.changes:
        if c.patch is None:
            echo(f"{paint(c.status, _COLOR[c.status], color)}\t{shown(c.path)}/")
            continue
        echo(paint(f"diff {shown(c.path)} ({c.status})", "cyan", color))
        show_file_diff(c.patch, False)


def _stat(changes: list[tuple[str, str, Any]], color: bool) -> None:
    """A diffstat: one line per (path, status, patch), then the totals."""
    width = max(len(shown(path)) for path, _, _ in changes)
    total_add = total_del = 0
    for path, status, patch in changes:
        counts = _counts(patch)
        if counts is None:
            echo(f" {shown(path).ljust(width)} | {status} " + ("(dir)" if patch is None else "Bin"))
            continue
        total_add += counts[0]
        total_del += counts[1]
        bar = paint("+" * min(counts[0], 40), "green", color) + paint("-" * min(counts[1], 40), "red", color)
        echo(f" {shown(path).ljust(width)} | {counts[0] + counts[1]:>5} {bar}")
    echo(f" {len(changes)} path(s) changed, {total_add} insertion(s)(+), {total_del} deletion(s)(-)")


def show_file_summary(result: Any, *, stat: bool) -> None:
    """`fog diff --stat|--name-status` of one file: the tree's forms, for that one path."""
    if result.identical:
        echo(f"{shown(result.old.label)} and {shown(result.new.label)} are identical", err=True)
        return
    old, new = result.old.kind, result.new.kind
    status = "A" if old == "deleted" else "D" if new == "deleted" else "T" if old != new else "M"
    color = use_color()
    echo(f"{shown(result.old.label)} -> {shown(result.new.label)}", err=True)
    if stat:
        _stat([(result.path, status, result)], color)
    else:
        echo(f"{paint(status, _COLOR[status], color)}\t{shown(result.path)}")


def _change_json(c: Any, with_patch: bool, names: dict[str, str]) -> dict[str, object]:
    doc: dict[str, object] = {
        "path": c.path,
        "status": c.status,
        "old": version_json(c.old, names) if c.old is not None else None,
        "new": version_json(c.new, names) if c.new is not None else None,
    }
    if with_patch:
        doc["diff"] = "".join(c.patch.lines) if c.patch is not None and c.patch.text else None
    return doc
