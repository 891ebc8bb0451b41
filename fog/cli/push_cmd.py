"""fog push: publish local changes to a remote."""

from __future__ import annotations

import dataclasses

import typer

from fog import api
from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, emit_json, fog_home, human_size, progress_bar, run


@app.command()
def push(
    remote: str = typer.Argument(None, help="Remote name (default: origin).", metavar="[REMOTE]"),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show what would be pushed; change nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Upload changed files and publish them as new versions."""
    with progress_bar("push", not (quiet or as_json)) as progress:
        result = run(
            lambda: api.push(fog_home(), STATE.cwd, remote=remote, dry_run=dry_run, wait=wait, progress=progress),
            as_json,
        )
    if as_json:
        emit_json(dataclasses.asdict(result))
        return
    for s in result.skipped:
        typer.echo(f"fog: skipped {s}", err=True)
    if quiet:
        return
    verb = "would push" if dry_run else "pushed"
    if dry_run:
        for paths, mark in ((result.added, "A"), (result.modified, "M"), (result.deleted, "D")):
            for p in paths:
                typer.echo(f"{mark} {p}")
    n = len(result.added) + len(result.modified) + len(result.deleted)
    if n == 0:
        typer.echo("Nothing to push.")
        return
    rate = result.bytes_read / result.seconds if result.seconds else 0
    typer.echo(
        f"{verb} {n} change(s) ({len(result.added)} added, {len(result.modified)} modified, "
        f"{len(result.deleted)} deleted): read {result.files_read} files, {human_size(result.bytes_read)}, "
        f"uploaded {human_size(result.bytes_uploaded)} in {result.seconds:.1f}s ({human_size(rate)}/s)"
        + (f", batch {result.batch}" if result.batch else "")
    )
