"""fog cat and fog diff: look at old versions without restoring them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import typer

from fog.cli.app import app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, human_size, paint, run, use_color
from fog.cli.complete import complete_spec
from fog.errors import EXIT_ERROR
from fog.format.names import shown

T = TypeVar("T")


@app.command()
def cat(
    spec: str = typer.Argument(
        ..., help="PATH@REV (no REV: the newest version).", metavar="PATH@REV", autocompletion=complete_spec
    ),
    wait: bool = WAIT_OPTION,
) -> None:
    """Write one version of a file to stdout."""
    out = sys.stdout.buffer
    run(lambda: api.cat(fog_home(), STATE.cwd, spec, out.write, wait=wait))
    out.flush()


@app.command()
def diff(
    old: str = typer.Argument(
        None,
        help="PATH@REV or DIR@REV to compare from (default: the share at the last push).",
        metavar="PATH@REV1",
        autocompletion=complete_spec,
    ),
    new: str = typer.Argument(
        None,
        help="PATH@REV, a PATH, or a REV of the same path (default: the working file or tree).",
        metavar="PATH@REV2",
        autocompletion=complete_spec,
    ),
    stat: bool = typer.Option(False, "--stat", help="Lines added and removed per file (a tree's, or the one file's)."),
    name_status: bool = typer.Option(
        False, "--name-status", help="One 'A|M|D|T PATH' line per change (a tree's, or the one file's)."
    ),
    patch: bool = typer.Option(False, "-p", "--patch", help="A tree: the content diff of each changed text file."),
    exit_code: bool = typer.Option(
        False,
        "--exit-code",
        help="Exit 1 when they differ, 0 when they do not; an error is then 128, not 1 (as git's fatal).",
    ),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Show how two versions, or a directory at two moments, differ (unified diff for text, sizes otherwise)."""
    from fog import api_trees

    forms = [name for name, on in (("--stat", stat), ("--name-status", name_status), ("-p", patch)) if on]
    if len(forms) > 1:  # (the last one checked silently won)
        run(lambda: _refuse(f"{' and '.join(forms)}: choose one form of the diff"), as_json)
    # with --exit-code, 1 says "they differ": an error must not say it too (a script's `if` would take it)
    call = _fatal_not_1 if exit_code else run
    if old is None or call(lambda: api_trees.spec_is_tree(fog_home(), STATE.cwd, old), as_json):
        from fog.cli.tree_diff import show_tree_diff

        tree = call(
            lambda: api_trees.tree_diff(fog_home(), STATE.cwd, old, new, patch=patch or stat, wait=wait), as_json
        )
        show_tree_diff(tree, as_json=as_json, stat=stat, name_status=name_status, patch=patch)
        if exit_code and not tree.identical:
            raise typer.Exit(1)
        return
    result = call(lambda: api.diff(fog_home(), STATE.cwd, old, new, wait=wait), as_json)
    if (stat or name_status) and not as_json:
        from fog.cli.tree_diff import show_file_summary

        show_file_summary(result, stat=stat)  # one file in the tree's forms (--stat was ignored)
    else:
        show_file_diff(result, as_json)
    if exit_code and not result.identical:
        raise typer.Exit(1)


EXIT_FATAL = 128  # `diff --exit-code`'s error (git's fatal), where 1 means "they differ"


def _fatal_not_1(fn: Callable[[], T], as_json: bool = False) -> T:
    """`run`, with an error that exits 1 elsewhere exiting EXIT_FATAL (its --json line says so too)."""
    from fog.errors import FogError

    def call() -> T:
        try:
            return fn()
        except FogError as exc:
            if exc.exit_code == EXIT_ERROR:
                exc.exit_code = EXIT_FATAL
            raise

    try:
        return run(call, as_json)
    except typer.Exit as exc:
        if exc.exit_code == EXIT_ERROR:  # (an OSError turned into one line)
            raise typer.Exit(EXIT_FATAL) from None
        raise


def _refuse(message: str) -> None:
    from fog.errors import UsageError

    raise UsageError(message)


def show_file_diff(result, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        emit_json(
            {
                "path": result.path,
                "identical": result.identical,
                "text": result.text,
                "old": {
                    "label": result.old.label,
                    "kind": result.old.kind,
                    "size": result.old.size,
                    "sha256": result.old.sha256,
                    "mode": None if result.old.mode is None else f"{result.old.mode:04o}",
                },
                "new": {
                    "label": result.new.label,
                    "kind": result.new.kind,
                    "size": result.new.size,
                    "sha256": result.new.sha256,
                    "mode": None if result.new.mode is None else f"{result.new.mode:04o}",
                },
                "diff": "".join(result.lines),
            }
        )
        return
    if result.identical:
        typer.echo(f"{shown(result.old.label)} and {shown(result.new.label)} are identical", err=True)
        return
    old_mode, new_mode = result.old.mode, result.new.mode
    if old_mode is not None and new_mode is not None and old_mode != new_mode:  # as git says a chmod
        typer.echo(f"old mode {old_mode:04o}\nnew mode {new_mode:04o}")
        if result.old.sha256 == result.new.sha256:
            return  # the mode alone
    if result.text:
        color = use_color()
        for i, line in enumerate(result.lines):
            line = line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            if i < 2 and line[:4] in ("--- ", "+++ "):  # the headers name the paths: one line each
                line = shown(line[:-1]) + "\n"
            fg = (
                "green"
                if line.startswith("+")
                else "red"
                if line.startswith("-")
                else "cyan"
                if line.startswith("@@")
                else None
            )
            # colour each line's text, never its newline: an escape left open across a
            # line end bleeds into the next line (and into the prompt after the last one)
            for body in line[:-1].split("\n"):
                typer.echo(paint(body, fg, color) if fg and body else body)
        return
    for side, sign in ((result.old, "-"), (result.new, "+")):
        digest = f" sha256 {side.sha256}" if side.sha256 else ""
        typer.echo(f"{sign} {shown(side.label)}: {side.kind}, {human_size(side.size)}{digest}")
    typer.echo("binary contents differ" if result.old.kind == result.new.kind else "kinds differ")
