"""fog prune: delete from the remotes what no remaining version references (two phases, no lock)."""

from __future__ import annotations

from typing import Any

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
    stdout_console,
)
from fog.cli.text import as_doc, human_size, report_remote_errors
from fog.errors import UsageError


@app.command()
def prune(
    remote: str = typer.Argument(None, help="Remote name (default: every remote of the share).", metavar="REMOTE"),
    dry_run: bool = typer.Option(
        False, "--dry-run", "-n", help="Show what would be deleted and repacked; write nothing."
    ),
    grace: str = typer.Option(
        "24h",
        "--grace",
        metavar="DURATION",
        help="Wait this long after an intent is first seen here before deleting (24h, 30min; 0: now, when no other "
        "device pushes).",
    ),
    max_unused: str = typer.Option(
        "5%", "--max-unused", metavar="PERCENT", help="Repack packs until at most this share of bytes is unreferenced."
    ),
    no_progress: bool = NO_PROGRESS_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Delete packs no remaining version references, and repack mostly-unused ones, safely while others push."""

    def go(progress: Any) -> Any:
        return api.prune(
            fog_home(),
            STATE.cwd,
            remote=remote,
            dry_run=dry_run,
            grace_s=parse_grace(grace),
            max_unused=parse_percent(max_unused),
            wait=wait,
            progress=progress,
        )

    with progress_bar("prune", not (as_json or no_progress)) as progress:  # (the repack: bytes copied)
        report = run(lambda: go(progress), as_json)
    if as_json:
        emit_json(as_doc(report))
    else:
        prune_summary(report)
    for name, why in sorted(report.refused.items()):
        typer.echo(f"fog: remote {name}: prune refused: {why}", err=True)
    code = report_remote_errors(report.failed, as_json) or (1 if report.refused else 0)
    if code:
        raise typer.Exit(code)


def parse_grace(text: str) -> int:
    from fog.cli.policy_opts import parse_duration

    return 0 if text.strip() == "0" else parse_duration(text, "--grace")


def parse_percent(text: str) -> float:
    value = text.strip().removesuffix("%")
    try:
        pct = float(value)
    except ValueError:
        raise UsageError(f"--max-unused: {text!r} is not a percentage (like 5%)") from None
    if not 0 <= pct <= 100:
        raise UsageError(f"--max-unused: {text!r} is not between 0% and 100%")
    return pct / 100


def prune_summary(report: Any) -> None:
    console = stdout_console()
    for name, why in sorted(report.skipped.items()):
        console.print(f"remote {name}: not pruned: {why}", markup=False)
    for r in report.remotes:
        console.print(
            f"remote {r.remote}: {r.packs} pack(s), {human_size(r.pack_bytes)}; "
            f"{human_size(r.unused_bytes)} not referenced by any remaining version",
            markup=False,
        )
        if r.deleted or r.kept:
            verb = "would delete" if r.dry_run else "deleted"
            line = f"  {verb} {len(r.deleted)} pack(s), {human_size(r.deleted_bytes)}"
            if r.dry_run and r.collectable:
                line += f" (collecting intent {', '.join(i[:8] for i in r.collectable)})"
            if r.kept:
                line += f"; {'would keep' if r.dry_run else 'kept'} {len(r.kept)} condemned pack(s): referenced again"
            console.print(line, markup=False)
        verb = "would condemn" if r.dry_run else "condemned"
        if r.planned_delete or r.planned_repack:
            line = (
                f"  {verb} {len(r.planned_delete)} pack(s) and {len(r.planned_repack)} to repack "
                f"({human_size(r.planned_bytes)})"
            )
            if r.repacked_objects:
                line += f"; repacked {r.repacked_objects} object(s) into {human_size(r.repacked_bytes)}"
            if r.intent:
                line += f"; intent {r.intent[:8]} written"
            console.print(line, markup=False)
        elif not r.deleted:
            console.print("  nothing to prune", markup=False)
        for why in r.waiting:
            console.print(f"  {why}", markup=False)
        for note in r.clock:
            typer.echo(f"fog: warning: remote {r.remote}: {note}", err=True)
        for bad in r.unreadable:
            console.print(f"  left alone (header does not open): {bad}", markup=False)
