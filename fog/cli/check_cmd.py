"""fog check: verify the remote."""

from __future__ import annotations

import typer

from fog.cli.app import app
from fog.cli.common import (
    JSON_OPTION,
    NO_PROGRESS_OPTION,
    STATE,
    WAIT_OPTION,
    api,
    emit_json,
    fog_home,
    progress_bar,
    run,
)
from fog.cli.text import as_doc
from fog.errors import EXIT_INTEGRITY


@app.command()
def check(
    remote: str = typer.Argument(None, help="Remote name (default: origin).", metavar="[REMOTE]"),
    read_data: bool = typer.Option(False, "--read-data", help="Download and verify every pack and every object."),
    no_progress: bool = NO_PROGRESS_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Verify that the remote holds every object history needs, intact."""
    with progress_bar("check", not (as_json or no_progress)) as progress:
        result = run(
            lambda: api.check(fog_home(), STATE.cwd, read_data=read_data, remote=remote, wait=wait, progress=progress),
            as_json,
        )
    if as_json:
        emit_json({**as_doc(result), "ok": result.ok})
    else:
        for p in result.problems:
            typer.echo(f"fog: {p}", err=True)
        read = f", {result.objects_read} read and verified" if read_data else ""
        typer.echo(
            f"checked {result.versions} versions, {result.batches} batches, "
            f"{result.objects_referenced} referenced objects ({result.objects_on_remote} on the remote"
            f"{read}): {'no problems' if result.ok else f'{len(result.problems)} problem(s)'}"
        )
    if not result.ok:
        raise typer.Exit(EXIT_INTEGRITY)
