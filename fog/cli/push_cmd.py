"""fog push: publish local changes to the share's remotes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


import typer

from fog.cli.app import app
from fog.cli.common import (
    JSON_OPTION,
    MAX_DELETE_OPTION,
    NO_PROGRESS_OPTION,
    STATE,
    WAIT_OPTION,
    api,
    emit_json,
    fog_home,
    progress_bar,
    run,
)
from fog.cli.text import as_doc, push_exit, push_summary


@app.command()
def push(
    remote: str = typer.Argument(None, help="Push to this remote only (default: every remote).", metavar="REMOTE"),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show what would be pushed; change nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    max_delete: str = MAX_DELETE_OPTION,
    no_progress: bool = NO_PROGRESS_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Record changed files as new versions and publish them."""
    with progress_bar("push", not (quiet or as_json or no_progress)) as progress:
        result = run(
            lambda: api.push(
                fog_home(),
                STATE.cwd,
                remote=remote,
                dry_run=dry_run,
                wait=wait,
                progress=progress,
                max_delete=max_delete,
            ),
            as_json,
        )
    if as_json:
        emit_json(as_doc(result))
    else:
        push_summary(result, quiet)
    raise typer.Exit(push_exit(result, as_json))
