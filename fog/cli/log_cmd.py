"""fog log: the version history of a file, a directory, or the whole share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as dtime

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, api, emit_json, fog_home, run
from fog.cli.complete import complete_path
from fog.cli.text import log_json, log_table
from fog.errors import RevisionError, UsageError
from fog.repo.revs import parse_when

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _span_start(text: str) -> int:
    """The first instant WHEN names, for --since.

    `parse_when` gives a span's last instant (right for REVs and --until), so
    `--since 2026-11-28` would start at that day's end and hide the whole day.
    Here a date is its midnight, a minute its :00, `yesterday` and `today`
    their midnights (local time); an age is a point either way.
    """
    if text in ("yesterday", "today"):
        day = datetime.now().astimezone().date() - timedelta(days=1 if text == "yesterday" else 0)
        start = datetime.combine(day, dtime()).astimezone()
    else:
        try:
            start = datetime.fromisoformat(text)
        except ValueError:
            return parse_when(text)  # an age, or the error
        if start.tzinfo is None:
            start = start.astimezone()
    return (start - _EPOCH) // timedelta(microseconds=1) * 1000


def _when(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return _span_start(text) if flag == "--since" else parse_when(text)
    except RevisionError as exc:
        raise UsageError(f"{flag} {text!r}: use an age like 2h or 3d, 'yesterday', or an ISO date/time") from exc


def _count(text: str | None) -> int | None:
    """-n N: a whole number, 0 or more (fog's one-line usage error otherwise, not the parser's)."""
    if text is None:
        return None
    if not text.isdigit():
        raise UsageError(f"-n {text!r}: give a whole number of versions, 0 or more")
    return int(text)


@app.command()
def log(
    path: str = typer.Argument(
        None,
        help="A file or directory in the share (default: all).",
        metavar="PATH",
        autocompletion=complete_path,
    ),
    max_count: str = typer.Option(None, "-n", "--max-count", help="Show at most N versions.", metavar="N"),
    since: str = typer.Option(
        None, "--since", help="Only versions at or after WHEN (2h, 3d, yesterday, ISO).", metavar="WHEN"
    ),
    until: str = typer.Option(None, "--until", help="Only versions at or before WHEN.", metavar="WHEN"),
    device: str = typer.Option(
        None, "--device", help="Only versions made by this device (name or id).", metavar="NAME"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """List versions, newest first, with the device that made each."""
    limit = run(lambda: _count(max_count), as_json)
    if path is None and limit is None and not as_json:
        limit = 50
    filt = run(lambda: api.LogFilter(limit, _when(since, "--since"), _when(until, "--until"), device), as_json)
    entries = run(lambda: api.log(fog_home(), STATE.cwd, path, filt=filt), as_json)
    if as_json:
        emit_json([log_json(e) for e in entries])
        return
    log_table(entries)
