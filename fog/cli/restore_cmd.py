"""fog restore: bring back one version of a file."""

from __future__ import annotations

import sys

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, run
from fog.cli.complete import complete_spec


@app.command()
def restore(
    spec: str = typer.Argument(
        ...,
        help="PATH@REV: REV is ~N, a version id prefix, or an ISO date/time.",
        metavar="PATH@REV",
        autocompletion=complete_spec,
    ),
    output: str = typer.Option(
        None, "--output", "-o", help="Write to FILE (or '-' for stdout) instead of the file's place.", metavar="FILE"
    ),
    force: bool = typer.Option(
        False, "--force", "-f", help="Overwrite local changes that were never pushed (or an existing FILE)."
    ),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Restore a version of a file in place, to a file, or to stdout."""
    if output == "-" and as_json:
        raise typer.BadParameter("--json cannot be combined with --output -", param_hint="--json")
    out = sys.stdout.buffer
    result = run(
        lambda: api.restore(fog_home(), STATE.cwd, spec, output=output, force=force, wait=wait, stdout=out.write),
        as_json,
    )
    if output == "-":
        out.flush()
        return
    if as_json:
        emit_json(
            {
                "path": result.path,
                "version": result.version,
                "kind": result.kind,
                "size": result.size,
                "output": result.output,
            }
        )
        return
    typer.echo(f"restored {result.path} version {result.version[:12]} to {result.output}", err=True)
