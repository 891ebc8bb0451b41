"""fog ls: what a directory (or the share) held at a moment."""

from __future__ import annotations

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, emit_json, fog_home, run
from fog.cli.complete import complete_spec
from fog.cli.text import echo, human_size, local_time, moment_json
from fog.cli.trees_text import mode_string, version_json
from fog.format.names import shown


@app.command()
def ls(
    spec: str = typer.Argument(
        None,
        help="DIR@REV (default: the current directory, now); REV as for restore, e.g. yesterday, 2h, push:ID^.",
        metavar="[DIR@REV]",
        autocompletion=complete_spec,
    ),
    long: bool = typer.Option(False, "-l", "--long", help="Show mode, size, time, device and version."),
    recursive: bool = typer.Option(False, "-R", "--recursive", help="List everything below, not only the entries."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a directory as it was at a moment (the newest version of each path at or before it)."""
    from fog import api_trees

    r = run(lambda: api_trees.ls(fog_home(), STATE.cwd, spec, recursive=recursive), as_json)
    if as_json:
        emit_json(
            {
                "path": r.scope or ".",
                "moment": r.moment,
                "moment_time": moment_json(r.moment_ns),
                "entries": [version_json(v, r.names) for v in r.entries],
                "forgotten": [version_json(v, r.names) for v in r.forgotten],
            }
        )
        return
    strip = len(r.scope) + 1 if r.scope else 0
    for v in r.entries:
        name = shown(v.path[strip:] if v.path != r.scope else v.path.rsplit("/", 1)[-1])
        name += "/" if v.kind == "dir" else f" -> {shown(v.target or '')}" if v.kind == "link" else ""
        if long:
            size = "-" if v.kind == "dir" else human_size(v.size)
            device = shown(r.names.get(v.device, v.device[:8]))
            echo(f"{mode_string(v)}  {size:>10}  {local_time(v.time_ns)}  {device}  {v.id.hex()[:12]}  {name}")
        else:
            echo(name)
    for v in r.forgotten:  # existed then, its versions of then forgotten: shown apart, never as absent
        name = shown(v.path[strip:] if v.path != r.scope else v.path.rsplit("/", 1)[-1])
        name += "/" if v.kind == "dir" else ""
        if long:
            echo(f"{'?':10}  {'?':>10}  {'?':19}  {'?'}  {'?':12}  {name}  (history then forgotten)")
        else:
            echo(f"{name}  (history then forgotten)")
    if r.absent:
        echo(f"{r.scope} did not exist then ({r.moment})", err=True)
    elif not r.entries and not r.forgotten:
        echo(f"{r.scope or '.'} was empty then ({r.moment})", err=True)
