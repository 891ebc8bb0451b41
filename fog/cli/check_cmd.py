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
from fog.cli.text import as_doc, human_size
from fog.errors import EXIT_INTEGRITY
from fog.format.names import shown


@app.command()
def check(
    remote: str = typer.Argument(None, help="Remote name (default: origin).", metavar="REMOTE"),
    read_data: bool = typer.Option(False, "--read-data", help="Download and verify every pack and every object."),
    subset: str = typer.Option(
        None,
        "--read-data-subset",
        help="Download and verify part of the packs: P% at random, or slice n of t (n/t; t runs cover all).",
        metavar="P%|n/t",
    ),
    repair: bool = typer.Option(
        False,
        "--repair",
        help="Put back missing or corrupt objects from the other remotes or the working tree (reads every pack, "
        "as --read-data, unless --read-data-subset names part of them).",
    ),
    no_progress: bool = NO_PROGRESS_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Verify that the remote holds every object history needs, intact."""
    with progress_bar("check", not (as_json or no_progress)) as progress:
        result = run(
            lambda: api.check(
                fog_home(),
                STATE.cwd,
                read_data=read_data,
                subset=subset,
                repair=repair,
                remote=remote,
                wait=wait,
                progress=progress,
            ),
            as_json,
        )
    if as_json:
        emit_json({**as_doc(result), "ok": result.ok})
    else:
        for p in result.problems:
            typer.echo(f"fog: {shown(p)}", err=True)
        for note in result.notes:
            typer.echo(f"note: {shown(note)}", err=True)
        for source, n in sorted(result.repaired_from.items()):
            typer.echo(f"repaired {n} object(s) from {source}", err=True)
        for lost in result.unrepaired:
            typer.echo(f"fog: could not repair {lost}: no remote and no working file holds it", err=True)
        if result.unreferenced_objects or result.unreferenced_packs:
            typer.echo(
                f"note: {human_size(result.unreferenced_bytes)} ({result.unreferenced_bytes} bytes: "
                f"{result.unreferenced_objects} object(s), {result.unreferenced_packs} whole pack(s)) "
                "referenced by no version (forgotten versions' data, or left by interrupted pushes: `fog prune` "
                "deletes it; see fog stats)",
                err=True,
            )
        read = f", {result.objects_read} read and verified" if result.read_data else ""
        if subset is not None:
            read += f" in {result.packs_read} of {result.packs_total} packs"
        typer.echo(
            f"checked {result.versions} versions, {result.batches} batches, "
            f"{result.objects_referenced} referenced objects ({result.objects_on_remote} on the remote"
            f"{read}): {'no problems' if result.ok else f'{len(result.problems)} problem(s)'}"
        )
    if not result.ok:
        raise typer.Exit(EXIT_INTEGRITY)
