"""fog status: what changed since the last push."""

from __future__ import annotations

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, run
from fog.cli.text import status_doc, status_summary


@app.command()
def status(
    ignored: bool = typer.Option(
        False, "--ignored", help="Also list the paths that ignore rules leave out (.fogignore, built-in defaults)."
    ),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Show files added, modified and deleted since the last push."""
    result = run(lambda: api.status(fog_home(), STATE.cwd, wait=wait), as_json)
    if as_json:
        emit_json(status_doc(result, ignored))
        return
    status_summary(result, ignored)
