"""fog status: what changed since the last push."""

from __future__ import annotations

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, run
from fog.cli.text import status_doc, status_summary


@app.command()
def status(as_json: bool = JSON_OPTION, wait: bool = WAIT_OPTION) -> None:
    """Show files added, modified and deleted since the last push."""
    result = run(lambda: api.status(fog_home(), STATE.cwd, wait=wait), as_json)
    if as_json:
        emit_json(status_doc(result))
        return
    status_summary(result)
