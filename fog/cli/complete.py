"""Shell completion: turning typer's on, and completing paths and PATH@REV.

The scripts in completions/ (made by scripts/gen_docs.py) call back into fog
with _FOG_COMPLETE=complete_bash (zsh, fish) on every TAB. The app is built
with add_completion=False (no --install-completion: the scripts are shipped
instead), and that also leaves typer's shell classes unregistered, so `main()`
calls `enable_completion()` when it sees the variable.

The callbacks read the share's history (`.fog/db`) without the share's lock
and without FOG_HOME, so they are quick and work while a push runs. A path
argument is offered the paths the share has history for (deleted ones too:
restoring them is what `@~1` is for), relative to the current directory or
`-C DIR`; after `PATH@` the version ids of that path (12 hex digits, newest
first) or, after `PATH@~`, the `~N` forms. Any problem (not in a share, a
database being created) means no candidates: the shell then offers files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

COMPLETE_VAR = "_FOG_COMPLETE"


def enable_completion() -> None:
    """Register typer's bash, zsh and fish completion classes."""
    from typer.completion import completion_init

    completion_init()


@contextmanager
def _history(ctx: typer.Context) -> Iterator[tuple[Any, str]]:
    """The share's open database and the current directory relative to its root ('' at the root)."""
    from fog.repo.share import Share, find_root

    directory = ctx.find_root().params.get("directory")  # -C DIR: the callback that reads it has not run
    cwd = Path(os.fspath(directory)).expanduser().absolute() if directory else Path.cwd()
    root = find_root(cwd)
    share = Share(root, lock=False)
    try:
        rel = Path(os.path.normpath(cwd)).relative_to(root).as_posix()
        yield share.db, "" if rel == "." else rel
    finally:
        share.close()


def _local(path: str, here: str) -> str | None:
    """A share path as typed from `here` (None when it is not below it)."""
    if not here:
        return path
    return path[len(here) + 1 :] if path.startswith(here + "/") else None


def _describe(v: Any) -> str:
    from fog.cli.common import human_size, local_time

    what = "deleted" if v.deleted else (v.kind if v.kind in ("dir", "link") else human_size(v.size))
    return f"{local_time(v.time_ns)}, {what}"


def _paths(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    dot = "./" if incomplete.startswith("./") else ""
    typed = incomplete[len(dot) :]
    with _history(ctx) as (db, here):
        heads = db.heads()
    out = []
    for path, v in heads.items():
        local = _local(path, here)
        if local is not None and local.startswith(typed):
            out.append((dot + local, "deleted" if v.deleted else v.kind))
    return sorted(out)


def _revisions(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    typed_path, rev = incomplete.rsplit("@", 1)
    local = typed_path[2:] if typed_path.startswith("./") else typed_path
    with _history(ctx) as (db, here):
        history = db.path_history(f"{here}/{local}" if here else local)
    if rev.startswith("~"):
        return [(f"{typed_path}@~{n}", _describe(v)) for n, v in enumerate(history)]
    return [(f"{typed_path}@{v.id.hex()[:12]}", _describe(v)) for v in history]


def complete_path(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Paths with history in the share (for `fog log PATH`)."""
    try:
        return _paths(ctx, incomplete)
    except Exception:  # a traceback in the middle of the user's prompt helps no one
        return []


def complete_spec(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """PATH, then after `PATH@` that path's versions (for `fog restore PATH@REV`)."""
    try:
        if "@" in incomplete:
            found = _revisions(ctx, incomplete)
            if found:
                return found
        return _paths(ctx, incomplete)  # a name that contains '@'
    except Exception:  # see complete_path
        return []
