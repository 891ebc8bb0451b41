"""fog restore: bring back one version of a file, or a whole tree as it was at a moment."""

from __future__ import annotations

import sys

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
from fog.cli.complete import complete_spec
from fog.cli.text import echo, human_duration, human_size, moment_json
from fog.errors import EXIT_PARTIAL
from fog.format.names import shown


@app.command()
def restore(
    spec: str = typer.Argument(
        ...,
        help="PATH@REV or DIR@REV (.@REV: the whole share): REV is ~N, a version id prefix, an ISO date/time, "
        "an age, yesterday, or push:ID[^].",
        metavar="PATH@REV",
        autocompletion=complete_spec,
    ),
    output: str = typer.Option(
        None,
        "--output",
        "-o",
        help="Write to FILE or DIR (or '-' for a file to stdout) instead of its place.",
        metavar="FILE",
    ),
    force: bool = typer.Option(
        False, "--force", "-f", help="Overwrite local changes that were never pushed (or an existing FILE)."
    ),
    delete: bool = typer.Option(
        False, "--delete", help="A tree: also remove what was not in it then (paths created since)."
    ),
    max_delete: str = typer.Option(
        None,
        "--max-delete",
        help="A tree with --delete: refuse to remove more than N files or P% of them (default 50%, at least 10).",
        metavar="N|P%",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="A tree: show what would change, change nothing."),
    no_progress: bool = NO_PROGRESS_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Restore a version of a file, or a whole directory (or the share) as it was at a moment."""
    from fog import api_trees

    if run(lambda: api_trees.spec_is_tree(fog_home(), STATE.cwd, spec), as_json):
        if output == "-":
            raise typer.BadParameter("a tree cannot go to stdout", param_hint="--output")
        with progress_bar("restore", not (as_json or no_progress)) as progress:
            tree = run(
                lambda: api_trees.restore_tree(
                    fog_home(),
                    STATE.cwd,
                    spec,
                    output=output,
                    force=force,
                    delete=delete,
                    max_delete=max_delete,
                    dry_run=dry_run,
                    wait=wait,
                    progress=progress,
                ),
                as_json,
            )
        _tree_report(tree, as_json)
        if tree.partial:  # (a dry run: what the plan already knows would be left, as the real run exits)
            raise typer.Exit(EXIT_PARTIAL)  # (each path left as it is was named on stderr)
        return
    if delete or dry_run or max_delete is not None:
        raise typer.BadParameter("--delete, --max-delete and --dry-run restore trees (DIR@REV)", param_hint=spec)
    if output == "-" and as_json:
        raise typer.BadParameter("--json cannot be combined with --output -", param_hint="--json")
    out = sys.stdout.buffer
    with progress_bar("restore", not (as_json or no_progress)) as progress:  # (on stderr: also with -o -)
        result = run(
            lambda: api.restore(
                fog_home(), STATE.cwd, spec, output=output, force=force, wait=wait, stdout=out.write, progress=progress
            ),
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
    typer.echo(f"restored {shown(result.path)} version {result.version[:12]} to {shown(result.output)}", err=True)


def _tree_report(r, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        emit_json(
            {
                "path": r.scope or ".",
                "moment": r.moment,
                "moment_time": moment_json(r.moment_ns),
                "output": r.output,
                "dry_run": r.dry_run,
                "written": r.written,
                "dirs": r.dirs,
                "unchanged": r.unchanged,
                "deleted": r.deleted,
                "extra": r.extra,
                "forgotten": r.forgotten,
                "skipped": r.skipped,
                "bytes_written": r.bytes_written,
                "seconds": round(r.seconds, 3),
            }
        )
        return
    prefix = "would " if r.dry_run else ""
    for path in r.written if r.dry_run else ():  # (a real run only counts them: a share may hold 100,000)
        echo(f"{prefix}restore  {shown(path)}")
    for path in r.deleted:
        echo(f"{prefix}delete   {shown(path)}")
    for path in r.forgotten if r.dry_run else ():
        echo(f"{prefix}leave    {shown(path)}  (its history then is forgotten)")
    for line in r.skipped:
        echo(f"skipped: {shown(line)}", err=True)
    what = r.scope or "the share"
    rate = f" at {human_size(r.rate)}/s" if r.bytes_written and not r.dry_run else ""
    size = human_size(r.bytes_planned if r.dry_run else r.bytes_written)
    echo(
        f"{prefix}restore {what} as of {r.moment} to {r.output}: {len(r.written)} file(s) "
        f"({size}){rate}, {len(r.dirs)} dir(s), {r.unchanged} unchanged, "
        f"{len(r.deleted)} deleted in {human_duration(r.seconds)}",
        err=True,
    )
    if r.extra:
        hint = " (--delete removes them)" if r.in_place else ""
        echo(f"{len(r.extra)} path(s) not in that tree left alone{hint}", err=True)
    if r.forgotten:
        where = "left as they are" if r.in_place else "not written"
        echo(
            f"{len(r.forgotten)} path(s) existed then but their versions of then were forgotten (retention "
            f"policy): {where} (`fog log PATH` lists what remains)",
            err=True,
        )
