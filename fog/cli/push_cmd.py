"""fog push: publish local changes to the share's remotes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fog.sync.push import PushResult

import dataclasses

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
    human_duration,
    human_size,
    progress_bar,
    report_remote_errors,
    run,
)


def push_summary(result: PushResult, quiet: bool) -> None:
    for s in result.skipped:
        typer.echo(f"fog: skipped {s}", err=True)
    if quiet:
        return
    if result.dry_run:
        for paths, mark in ((result.added, "A"), (result.modified, "M"), (result.deleted, "D")):
            for p in paths:
                typer.echo(f"{mark} {p}")
    n = len(result.added) + len(result.modified) + len(result.deleted)
    if n == 0 and not result.batches:
        typer.echo("Nothing to push.")
        return
    rate = result.bytes_read / result.seconds if result.seconds else 0
    where = ", ".join(f"{r} batch {b}" for r, b in sorted(result.batches.items()))
    typer.echo(
        f"{'would push' if result.dry_run else 'pushed'} {n} change(s) ({len(result.added)} added, "
        f"{len(result.modified)} modified, {len(result.deleted)} deleted): read {result.files_read} files "
        f"({human_size(result.bytes_read)}), uploaded {human_size(result.bytes_uploaded)}, "
        f"dedupe saved {human_size(result.bytes_deduped)}, {human_duration(result.seconds)} "
        f"({human_size(rate)}/s)" + (f"; {where}" if where else "")
    )


@app.command()
def push(
    remote: str = typer.Argument(None, help="Push to this remote only (default: every remote).", metavar="[REMOTE]"),
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
        emit_json(dataclasses.asdict(result))
    else:
        push_summary(result, quiet)
    raise typer.Exit(report_remote_errors(result.remote_errors, as_json))
