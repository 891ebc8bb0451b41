"""fog status: what changed since the last push."""

from __future__ import annotations

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, run


@app.command()
def status(as_json: bool = JSON_OPTION, wait: bool = WAIT_OPTION) -> None:
    """Show files added, modified and deleted since the last push."""
    result = run(lambda: api.status(fog_home(), STATE.cwd, wait=wait), as_json)
    if as_json:
        emit_json(
            {
                "root": result.root,
                "clean": result.clean,
                "added": result.added,
                "modified": result.modified,
                "deleted": result.deleted,
                "skipped": result.skipped,
                "conflicts": result.conflicts,
            }
        )
        return
    if result.clean:
        typer.echo("Nothing to push: the share matches its last push.")
    for title, paths, mark in (
        ("Added", result.added, "A"),
        ("Modified", result.modified, "M"),
        ("Deleted", result.deleted, "D"),
    ):
        if paths:
            typer.echo(f"{title}:")
            for p in paths:
                typer.echo(f"  {mark} {p}")
    if result.conflicts:
        typer.echo("Unresolved conflict copies (compare, keep what you want, delete the copy):")
        for p in result.conflicts:
            typer.echo(f"  C {p}")
    for s in result.skipped:
        typer.echo(f"fog: skipped {s}", err=True)
