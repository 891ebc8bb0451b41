"""fog forget: drop old versions from every device's history, as a retention policy says."""

from __future__ import annotations

from typing import Any

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, run
from fog.cli.complete import complete_path
from fog.cli.policy_opts import (
    KeepDaily,
    KeepDeleted,
    KeepHourly,
    KeepLast,
    KeepMonthly,
    KeepWeekly,
    KeepWithin,
    KeepYearly,
    MaxOldSize,
    policy_from_options,
    rule_options,
)
from fog.cli.text import as_doc, echo, human_size, iso_utc, local_time, report_remote_errors
from fog.format.names import shown

_SOURCES = {"options": "the options given", "share": "the share's policy", "default": "fog's default policy"}


@app.command()
def forget(
    paths: list[str] = typer.Argument(
        None,
        help="Only these paths (a directory: everything below it). Default: the whole share.",
        metavar="PATH",
        autocompletion=complete_path,
    ),
    keep_last: KeepLast = None,
    keep_within: KeepWithin = None,
    keep_hourly: KeepHourly = None,
    keep_daily: KeepDaily = None,
    keep_weekly: KeepWeekly = None,
    keep_monthly: KeepMonthly = None,
    keep_yearly: KeepYearly = None,
    keep_deleted: KeepDeleted = None,
    max_old_size: MaxOldSize = None,
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="List what would be forgotten; change nothing."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every version forgotten."),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Forget old versions on every device, as the share's retention policy (or the options given) says."""
    options = rule_options(locals())
    policy = run(lambda: policy_from_options(**options), as_json)
    result = run(
        lambda: api.forget(
            fog_home(),
            STATE.cwd,
            paths or None,
            policy=policy,
            dry_run=dry_run,
            wait=wait,
            listing=dry_run or verbose or as_json,
        ),
        as_json,
    )
    if as_json:
        emit_json(forget_doc(result))
    else:
        if dry_run or verbose:
            _list(result)
        forget_summary(result)
    code = report_remote_errors(result.remote_errors, as_json)
    if code:
        raise typer.Exit(code)


def forget_doc(result: Any) -> dict[str, Any]:
    doc = as_doc(result)
    for item in doc["forgotten"]:
        item["time"] = iso_utc(item["time_ns"])
    return doc


def _list(result: Any) -> None:
    """One line per version: id, time, device, size, path, and why the policy lets it go."""
    rows = [
        (
            f.version[:12],
            local_time(f.time_ns),
            shown(f.device),
            "-" if f.kind in ("deleted", "dir") else human_size(f.size),
            f.kind,
            shown(f.path),
            "; ".join(f.reasons),
        )
        for f in result.forgotten
    ]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(5)]
    for row in rows:
        cells = [c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row[:5], widths, strict=True))]
        echo("  ".join([*cells, row[5]]) + f"  ({row[6]})")


def forget_summary(result: Any) -> None:
    source = _SOURCES.get(result.policy, result.policy)
    where = ", ".join(f"{r} batch {b}" for r, b in sorted(result.batches.items()))
    if not result.versions:
        echo(f"Nothing to forget (policy: {source})" + (f"; earlier forgets published on {where}." if where else "."))
        return
    verb = "would forget" if result.dry_run else "forgot"
    echo(
        f"{verb} {result.versions} version(s) of {result.paths} path(s) (policy: {source}): "
        f"{human_size(result.bytes)} in file sizes (not what prune frees: blocks a kept version shares stay"
        + (")" if result.dry_run else "; `fog prune` deletes what no version needs any more, `fog stats` shows it)")
        + (f"; published on {where}" if where else "")
    )
