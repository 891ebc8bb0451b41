"""fog stats: what each remote stores, and how much of it the history still needs."""

from __future__ import annotations

import sys
from typing import Any

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, run, stdout_console
from fog.cli.redact import redact
from fog.cli.text import as_doc, human_size, report_remote_errors
from fog.format.names import shown


@app.command()
def stats(
    remote: str = typer.Argument(None, help="Remote name (default: every remote of the share).", metavar="REMOTE"),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Show what each remote stores: current, old and unreferenced bytes, ratios, largest histories."""
    result = run(lambda: api.stats(fog_home(), STATE.cwd, remote=remote, wait=wait), as_json)
    for s in result.remotes:
        s.url = redact(s.url)  # a password in it shows as *** (fog.cli.redact)
    if as_json:
        emit_json(as_doc(result))
    else:
        _render(result)
    for problem in result.unreadable:
        typer.echo(f"fog: {problem} (its subtree is not counted)", err=True)
    code = report_remote_errors(result.failed, as_json)
    if code:
        raise typer.Exit(code)


def _size(n: int) -> str:
    return f"{human_size(n)} ({n:,} bytes)" if n >= 1024 else f"{n} B"


def _ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def _render(r: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = stdout_console()
    console.print(f"history: {r.versions} versions of {r.paths} paths ({r.live_paths} live, {r.deleted_paths} deleted)")
    console.print(
        f"current files: {_size(r.current_logical_bytes)}; every version: {_size(r.logical_bytes)}, "
        f"{_size(r.unique_bytes)} after dedupe (dedupe {_ratio(r.dedupe_ratio)})"
    )
    for s in r.remotes:
        console.print()
        console.print(f"[bold]remote {escape(s.remote)}[/bold]  {escape(s.url)}")
        rows = [
            ("stored", _size(s.stored_bytes)),
            ("  in packs", f"{_size(s.pack_bytes)} in {s.packs} pack(s)"),
        ]
        if s.loose_objects:
            rows.append(("  loose objects", f"{_size(s.loose_bytes)} in {s.loose_objects} object(s)"))
        rows += [
            ("current versions", _size(s.current_bytes)),
            ("old versions only", _size(s.old_bytes)),
            (
                "unreferenced",
                f"{_size(s.unreferenced_bytes)}: {s.unreferenced_objects} object(s), "
                f"{s.unreferenced_packs} whole pack(s)",
            ),
            ("pack headers", _size(s.overhead_bytes)),
            ("compression", _ratio(s.compression_ratio)),
        ]
        if s.unreadable_packs:
            rows.append(("unreadable packs", f"{s.unreadable_packs} (see fog check)"))
        if s.waiting_versions:
            rows.append(("to publish", f"{s.waiting_versions} version(s) queued here: the next push sends them"))
        if s.missing_objects:
            why = "queued versions' objects count until then" if s.waiting_versions else "see fog check"
            rows.append(("missing objects", f"{s.missing_objects} ({why})"))
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column()
        table.add_column()
        for label, value in rows:
            table.add_row(label, value)
        console.print(table)
        if s.largest and not sys.stdout.isatty():  # paths whole: a name's trailing spaces are not padding
            console.print("largest histories")
            cells = [(human_size(p.bytes), str(p.versions), shown(p.path)) for p in s.largest]
            w1, w2 = (max(len(head), *(len(c[i]) for c in cells)) for i, head in enumerate(("bytes", "versions")))
            console.file.flush()
            lines = [f"{'bytes':>{w1}}  {'versions':>{w2}}  path"]
            lines += [f"{size:>{w1}}  {versions:>{w2}}  {path}" for size, versions, path in cells]
            sys.stdout.write("".join(line + "\n" for line in lines))
        elif s.largest:
            top = Table(title="largest histories", title_justify="left", box=None, pad_edge=False)
            top.add_column("bytes", justify="right")
            top.add_column("versions", justify="right")
            top.add_column("path")
            for p in s.largest:
                top.add_row(human_size(p.bytes), str(p.versions), escape(shown(p.path)))
            console.print(top)
