"""fog log: the version history of a file, a directory, or the whole share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as dtime

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, api, emit_json, fog_home, run
from fog.cli.complete import complete_path
from fog.cli.text import echo, log_json, log_table, names_the_share
from fog.cli.trees_text import push_header, push_json
from fog.errors import RevisionError, UsageError
from fog.repo.revs import parse_time, parse_when, parse_whole

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
        try:
            start = start.astimezone() if start.tzinfo is None else start
        except (ValueError, OverflowError):
            return parse_time(text)  # (its error: outside the years fog can use)
    return max(0, (start - _EPOCH) // timedelta(microseconds=1) * 1000)


def _when(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return _span_start(text) if flag == "--since" else parse_when(text)
    except RevisionError as exc:
        raise UsageError(f"{flag} {text!r}: use an age like 2h or 3d, 'yesterday', or an ISO date/time") from exc


def _named(value: str | None, flag: str, what: str) -> None:
    """An option given an empty value (`--device "$DEV"` with DEV unset) is refused, not taken as not given."""
    if value is not None and not value.strip():
        raise UsageError(f"{flag} {value!r}: give {what}")


def _count(text: str | None) -> int | None:
    """-n N: a whole number, 0 or more (fog's one-line usage error otherwise, not the parser's)."""
    if text is None:
        return None
    n = parse_whole(text)
    if n is None:
        raise UsageError(f"-n {text!r}: give a whole number of versions, 0 or more")
    return n


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
    pushes: bool = typer.Option(
        False, "--pushes", help="List pushes (one line each: id, time, device, batches, files, size)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """List versions, newest first, with the device that made each (the share or a directory: by push)."""
    from fog import api_trees

    limit = run(lambda: _count(max_count), as_json)
    run(lambda: _named(device, "--device", "a device's name or id"), as_json)  # ('' matched every device)
    if path and names_the_share(STATE.cwd, path):
        path = None  # `fog log .` at the top, `fog log ..` below it: the whole share, as `fog log`
    if pushes:
        span = run(lambda: (_when(since, "--since"), _when(until, "--until")), as_json)
        _pushes(path, limit, *span, device, as_json)
        return
    if path is None and limit is None and not as_json:
        limit = 50
    filt = run(lambda: api.LogFilter(limit, _when(since, "--since"), _when(until, "--until"), device), as_json)
    entries = run(lambda: api.log(fog_home(), STATE.cwd, path, filt=filt), as_json)
    if as_json:
        emit_json([log_json(e) for e in entries])
        return
    if path is not None and not run(lambda: api_trees.spec_is_tree(fog_home(), STATE.cwd, path)):
        log_table(entries)
        return
    by_push = run(lambda: api_trees.pushes(fog_home(), STATE.cwd, path))
    push_of = {v.id: p for p in by_push.pushes for v in p.versions}
    order = {id(p): n for n, p in enumerate(by_push.pushes)}
    groups: dict[int, list] = {}
    for e in entries:
        p = push_of.get(e.version.id)
        groups.setdefault(order[id(p)] if p is not None else len(order), []).append(e)
    for n in sorted(groups):
        if n < len(by_push.pushes):
            echo(push_header(by_push.pushes[n], by_push.names))
        log_table(sorted(groups[n], key=lambda e: e.version.path), indent="    ")
    if not entries:
        log_table([])


def _pushes(
    path: str | None, limit: int | None, since: int | None, until: int | None, device: str | None, as_json: bool
) -> None:
    from fog import api_trees

    r = run(lambda: api_trees.pushes(fog_home(), STATE.cwd, path), as_json)
    shown = [
        p
        for p in r.pushes
        if (since is None or p.after_ns >= since)
        and (until is None or p.after_ns <= until)
        and (device is None or device in (r.names.get(p.device), p.device) or p.device.startswith(device))
    ][:limit]
    if as_json:
        emit_json([push_json(p, r.names) for p in shown])
        return
    for p in shown:
        echo(push_header(p, r.names))
    if not shown:
        echo("No pushes match.", err=True)
