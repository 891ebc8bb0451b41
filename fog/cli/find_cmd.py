"""fog find: every path in history matching a pattern, deleted ones too, with its versions."""

from __future__ import annotations

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, emit_json, fog_home, run
from fog.cli.complete import complete_path
from fog.cli.text import echo, human_size, local_time, paint, use_color
from fog.cli.trees_text import version_json
from fog.format.names import shown


@app.command()
def find(
    pattern: str = typer.Argument(
        ...,
        help="A glob: without '/' it matches names (*.txt), with '/' whole paths (docs/*/draft*).",
        metavar="PATTERN",
    ),
    path: str = typer.Argument(None, help="Only below this directory.", metavar="[DIR]", autocompletion=complete_path),
    as_json: bool = JSON_OPTION,
) -> None:
    """Find paths in the whole history (deleted ones too) and the versions of each."""
    from fog import api_trees

    r = run(lambda: api_trees.find(fog_home(), STATE.cwd, pattern, path), as_json)
    if as_json:
        emit_json(
            [
                {
                    "path": p,
                    "deleted": vs[0].deleted,
                    "versions": [version_json(v, r.names, v.id in r.heads) for v in vs],
                }
                for p, vs in r.matches.items()
            ]
        )
        return
    color = use_color()
    for p, vs in r.matches.items():
        mark = paint(" (deleted)", "red", color) if vs[0].deleted else ""
        echo(f"{shown(p)}{mark}")
        for v in vs:
            size = "-" if v.kind in ("deleted", "dir") else human_size(v.size)
            device = shown(r.names.get(v.device, v.device[:8]))
            echo(
                f"  {paint(v.id.hex()[:12], 'yellow', color)}  {local_time(v.time_ns)}  {device}  {size:>10}  {v.kind}"
            )
    if not r.matches:
        echo(f"no path in history matches {pattern!r}", err=True)
