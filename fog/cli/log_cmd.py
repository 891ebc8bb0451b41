"""fog log: the version history of a file, or of the whole share."""

from __future__ import annotations

import typer

from fog import api
from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, emit_json, fog_home, human_size, iso_utc, local_time, run


@app.command()
def log(
    path: str = typer.Argument(None, help="A file or directory in the share (default: all).", metavar="[PATH]"),
    limit: int = typer.Option(None, "-n", "--max-count", help="Show at most N versions.", metavar="N"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List versions, newest first."""
    if limit is not None and limit < 0:
        raise typer.BadParameter("must be >= 0", param_hint="-n")
    if path is None and limit is None and not as_json:
        limit = 50
    entries = run(lambda: api.log(fog_home(), STATE.cwd, path, limit=limit), as_json)
    if as_json:
        emit_json(
            [
                {
                    "version": e.version.id.hex(),
                    "path": e.version.path,
                    "time": iso_utc(e.version.time_ns),
                    "device": e.device_name,
                    "device_id": e.version.device,
                    "kind": e.version.kind,
                    "size": e.version.size,
                    "mode": f"{e.version.mode:04o}",
                    "mtime": iso_utc(e.version.mtime_ns),
                    "deleted": e.version.deleted,
                    "conflict": e.version.conflict,
                    "parent": e.version.parent.hex() if e.version.parent else None,
                }
                for e in entries
            ]
        )
        return
    for n, e in enumerate(entries):
        v = e.version
        marks = []
        if path is not None and n == 0:
            marks.append("current")
        if v.deleted:
            marks.append("deleted")
        if v.conflict:
            marks.append("conflict")
        size = "-" if v.kind in ("deleted", "dir") else human_size(v.size)
        what = "" if path is not None else f"  {v.path}"
        flag = f"  ({', '.join(marks)})" if marks else ""
        typer.echo(
            f"{v.id.hex()[:12]}  {local_time(v.time_ns)}  {e.device_name:<12}  {size:>10}  {v.kind:<7}{what}{flag}"
        )
